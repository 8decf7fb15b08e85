//! A tenant's flow as one value: its nodes, its schedules and its DIDs'
//! entry points. The draft is one (read from the flow tables), and each
//! published version freezes one (stored whole, as JSON).
//!
//! Invariants:
//! * the maps are keyed by the object's own key (node key, schedule key, DID),
//!   so the wire form (three lists sorted by key) has each key once;
//! * the JSON form is canonical: [`FlowContent::sha256`] of two equal
//!   contents is equal, whatever order they were built in (object fields
//!   are written in key order, lists in key order).

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::model::{DidEntry, EntryPoint, Flow, Node, Rec, Schedule};
use crate::voicenter::types::Language;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(into = "ContentJson", from = "ContentJson")]
pub struct FlowContent {
    pub nodes: BTreeMap<String, Node>,
    pub schedules: BTreeMap<String, Schedule>,
    pub entries: BTreeMap<String, EntryPoint>,
    /// Played by the hang-ups the flow did not design (see `Flow::goodbye`).
    pub goodbye: Option<Rec>,
}

/// A flow's whole content, as versions are stored and shown: the same node
/// and schedule objects as `/nodes` and `/schedules`, and where each DID
/// enters the flow; every list in key order.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FlowContent)]
pub struct ContentJson {
    pub nodes: Vec<Node>,
    pub schedules: Vec<Schedule>,
    pub entries: Vec<EntryPoint>,
    /// The recording every hang-up the flow did not design itself plays
    /// (retries used up with no `on_exhausted`, a node deleted while a
    /// call was in it, a broken flow), and hangup nodes with no `rec`;
    /// absent: the platform's for the former, if it has one, else silence
    /// (and hangup nodes with no `rec` say nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodbye: Option<Rec>,
}

impl From<FlowContent> for ContentJson {
    fn from(content: FlowContent) -> ContentJson {
        ContentJson {
            nodes: content.nodes.into_values().collect(),
            schedules: content.schedules.into_values().collect(),
            entries: content.entries.into_values().collect(),
            goodbye: content.goodbye,
        }
    }
}

impl From<ContentJson> for FlowContent {
    fn from(json: ContentJson) -> FlowContent {
        FlowContent {
            nodes: json.nodes.into_iter().map(|n| (n.key.clone(), n)).collect(),
            schedules: json
                .schedules
                .into_iter()
                .map(|s| (s.key.clone(), s))
                .collect(),
            entries: json
                .entries
                .into_iter()
                .map(|e| (e.did.clone(), e))
                .collect(),
            goodbye: json.goodbye,
        }
    }
}

impl FlowContent {
    /// The canonical JSON: object fields sorted (serde_json's map), lists in key order.
    pub fn canonical_json(&self) -> serde_json::Value {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_value(self).unwrap_or_default()
    }

    /// SHA-256 of the canonical JSON, in lowercase hex.
    pub fn sha256(&self) -> String {
        let bytes = serde_json::to_vec(&self.canonical_json()).unwrap_or_default();
        Sha256::digest(&bytes)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// The engine's view: `version` is written into every identifier.
    pub fn to_flow(&self, version: Option<u32>, time_zone: Tz, language: Language) -> Flow {
        Flow {
            version,
            time_zone,
            language,
            nodes: self
                .nodes
                .iter()
                .map(|(k, n)| (k.clone(), n.clone()))
                .collect(),
            schedules: self
                .schedules
                .iter()
                .map(|(k, s)| (k.clone(), s.clone()))
                .collect(),
            goodbye: self.goodbye.clone(),
        }
    }

    /// Where a call to `did` enters, as the engine needs it (`""`: nowhere).
    pub fn did_entry(&self, tenant_id: i64, did: &str) -> DidEntry {
        let entry = self.entries.get(did);
        DidEntry {
            tenant_id,
            entry_node: entry.and_then(|e| e.entry_node.clone()).unwrap_or_default(),
            language: entry.and_then(|e| e.language),
        }
    }

    pub fn entry_list(&self) -> Vec<EntryPoint> {
        self.entries.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn content(value: serde_json::Value) -> FlowContent {
        serde_json::from_value(value).expect("test content")
    }

    #[test]
    fn the_hash_does_not_depend_on_the_order_things_were_written_in() {
        let a = content(json!({
            "nodes": [
                {"key": "b", "kind": "hangup"},
                {"key": "a", "kind": "menu", "prompt": {"rec": "x", "loops": 2}, "routes": [{"digits": "1", "target": "b"}]}
            ],
            "schedules": [],
            "entries": [{"did": "2", "entry_node": "a"}, {"did": "1", "entry_node": "b", "language": "en"}]
        }));
        let b = content(json!({
            "entries": [{"language": "en", "entry_node": "b", "did": "1"}, {"did": "2", "entry_node": "a"}],
            "schedules": [],
            "nodes": [
                {"routes": [{"target": "b", "digits": "1"}], "prompt": {"loops": 2, "rec": "x"}, "kind": "menu", "key": "a"},
                {"kind": "hangup", "key": "b"}
            ]
        }));
        assert_eq!(a, b);
        assert_eq!(a.sha256(), b.sha256());
        assert_eq!(a.sha256().len(), 64);
        let mut c = a.clone();
        c.entries.get_mut("2").unwrap().language = Some(Language::He);
        assert_ne!(a.sha256(), c.sha256());
    }

    #[test]
    fn round_trips_through_its_json_in_key_order() {
        let a = content(json!({
            "nodes": [{"key": "z", "kind": "hangup"}, {"key": "a", "kind": "hangup", "cause": 16}],
            "schedules": [{"key": "office", "name": "Office", "hours": [{"day": "Sun", "opens": "09:00", "closes": "17:00"}]}],
            "entries": [{"did": "0733", "entry_node": "a"}]
        }));
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["nodes"][0]["key"], "a");
        assert_eq!(json["nodes"][1]["key"], "z");
        assert_eq!(serde_json::from_value::<FlowContent>(json).unwrap(), a);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error = serde_json::from_value::<FlowContent>(json!({
            "nodes": [], "schedules": [], "entries": [], "extra": 1
        }))
        .unwrap_err();
        assert!(
            error.to_string().contains("unknown field `extra`"),
            "{error}"
        );
    }

    #[test]
    fn a_did_without_an_entry_enters_nowhere() {
        let a = content(json!({"nodes": [], "schedules": [], "entries": [{"did": "1"}]}));
        assert_eq!(a.did_entry(5, "1").entry_node, "");
        assert_eq!(a.did_entry(5, "2").entry_node, "");
        assert_eq!(a.did_entry(5, "1").tenant_id, 5);
    }
}
