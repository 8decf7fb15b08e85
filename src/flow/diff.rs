//! What changed between two flow contents: nodes, schedules and entry
//! points added, removed or changed, each change with its JSON path and the
//! values before and after. Pure.
//!
//! An object added or removed is one change at its own path
//! (`nodes.sales`), with the whole object after or before. A changed object
//! gives one change per differing leaf (`nodes.main.routes[0].target`); a
//! list that grew or shrank gives one change per item added or removed
//! (`nodes.main.routes[3]`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::content::FlowContent;

/// Which part of the flow a change is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Node,
    Schedule,
    Entry,
    /// The flow's goodbye (key and path `goodbye`).
    Goodbye,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Change {
    pub object: ObjectKind,
    /// The node's or schedule's key, or the entry's DID.
    pub key: String,
    pub change: ChangeKind,
    /// `nodes.<key>…`, `schedules.<key>…`, `dids.<number>…`.
    #[schema(example = "nodes.main.routes[0].target")]
    pub path: String,
    /// Absent for an addition.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub before: Option<Value>,
    /// Absent for a removal.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub after: Option<Value>,
}

/// Every difference from `from` to `to`: nodes, then schedules, then
/// entries, each in key order.
pub fn diff(from: &FlowContent, to: &FlowContent) -> Vec<Change> {
    let mut changes = Vec::new();
    objects(
        ObjectKind::Node,
        "nodes",
        &from.nodes,
        &to.nodes,
        &mut changes,
    );
    objects(
        ObjectKind::Schedule,
        "schedules",
        &from.schedules,
        &to.schedules,
        &mut changes,
    );
    objects(
        ObjectKind::Entry,
        "dids",
        &from.entries,
        &to.entries,
        &mut changes,
    );
    let json = |rec: &crate::flow::model::Rec| serde_json::to_value(rec).unwrap_or_default();
    let goodbye = |change, path: String, before, after| Change {
        object: ObjectKind::Goodbye,
        key: "goodbye".to_owned(),
        change,
        path,
        before,
        after,
    };
    match (&from.goodbye, &to.goodbye) {
        (None, Some(added)) => changes.push(goodbye(
            ChangeKind::Added,
            "goodbye".into(),
            None,
            Some(json(added)),
        )),
        (Some(removed), None) => changes.push(goodbye(
            ChangeKind::Removed,
            "goodbye".into(),
            Some(json(removed)),
            None,
        )),
        (Some(before), Some(after)) => {
            let mut leaves = Vec::new();
            values("goodbye", &json(before), &json(after), &mut leaves);
            for (path, before, after) in leaves {
                changes.push(goodbye(ChangeKind::Changed, path, before, after));
            }
        }
        (None, None) => {}
    }
    changes
}

fn objects<T: Serialize>(
    object: ObjectKind,
    prefix: &str,
    from: &BTreeMap<String, T>,
    to: &BTreeMap<String, T>,
    changes: &mut Vec<Change>,
) {
    let json = |value: &T| serde_json::to_value(value).unwrap_or_default();
    let mut keys: Vec<&String> = from.keys().chain(to.keys()).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let path = format!("{prefix}.{key}");
        let mut push = |change, path, before, after| {
            changes.push(Change {
                object,
                key: key.clone(),
                change,
                path,
                before,
                after,
            })
        };
        match (from.get(key), to.get(key)) {
            (None, Some(added)) => push(ChangeKind::Added, path, None, Some(json(added))),
            (Some(removed), None) => push(ChangeKind::Removed, path, Some(json(removed)), None),
            (Some(before), Some(after)) => {
                let mut leaves = Vec::new();
                values(&path, &json(before), &json(after), &mut leaves);
                for (path, before, after) in leaves {
                    push(ChangeKind::Changed, path, before, after);
                }
            }
            (None, None) => {}
        }
    }
}

type Leaf = (String, Option<Value>, Option<Value>);

fn values(path: &str, before: &Value, after: &Value, out: &mut Vec<Leaf>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let mut fields: Vec<&String> = a.keys().chain(b.keys()).collect();
            fields.sort_unstable();
            fields.dedup();
            for field in fields {
                let at = format!("{path}.{field}");
                match (a.get(field), b.get(field)) {
                    (Some(x), Some(y)) => values(&at, x, y, out),
                    (x, y) => out.push((at, x.cloned(), y.cloned())),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for index in 0..a.len().max(b.len()) {
                let at = format!("{path}[{index}]");
                match (a.get(index), b.get(index)) {
                    (Some(x), Some(y)) => values(&at, x, y, out),
                    (x, y) => out.push((at, x.cloned(), y.cloned())),
                }
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push((path.to_owned(), Some(a.clone()), Some(b.clone()))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn content(value: Value) -> FlowContent {
        serde_json::from_value(value).expect("test content")
    }

    #[test]
    fn identical_contents_have_no_change() {
        let a = content(
            json!({"nodes": [{"key": "h", "kind": "hangup"}], "schedules": [], "entries": []}),
        );
        assert_eq!(diff(&a, &a.clone()), vec![]);
    }

    #[test]
    fn additions_removals_and_leaf_changes_with_paths() {
        let from = content(json!({
            "nodes": [
                {"key": "main", "kind": "menu", "prompt": {"rec": "welcome"},
                 "routes": [{"digits": "1", "target": "sales"}]},
                {"key": "old", "kind": "hangup"},
                {"key": "sales", "kind": "call", "target": "0501"}
            ],
            "schedules": [],
            "entries": [{"did": "0733", "entry_node": "main"}]
        }));
        let to = content(json!({
            "nodes": [
                {"key": "main", "kind": "menu", "prompt": {"rec": "welcome2"},
                 "routes": [{"digits": "1", "target": "sales"}, {"digits": "2", "target": "bye"}]},
                {"key": "bye", "kind": "hangup"},
                {"key": "sales", "kind": "call", "target": "0501"}
            ],
            "schedules": [{"key": "office", "name": "Office"}],
            "entries": [{"did": "0733", "entry_node": "main", "language": "en"}]
        }));
        let changes = diff(&from, &to);
        let short: Vec<(ObjectKind, &str, ChangeKind, &str)> = changes
            .iter()
            .map(|c| (c.object, c.key.as_str(), c.change, c.path.as_str()))
            .collect();
        assert_eq!(
            short,
            [
                (ObjectKind::Node, "bye", ChangeKind::Added, "nodes.bye"),
                (
                    ObjectKind::Node,
                    "main",
                    ChangeKind::Changed,
                    "nodes.main.prompt.rec"
                ),
                (
                    ObjectKind::Node,
                    "main",
                    ChangeKind::Changed,
                    "nodes.main.routes[1]"
                ),
                (ObjectKind::Node, "old", ChangeKind::Removed, "nodes.old"),
                (
                    ObjectKind::Schedule,
                    "office",
                    ChangeKind::Added,
                    "schedules.office"
                ),
                (
                    ObjectKind::Entry,
                    "0733",
                    ChangeKind::Changed,
                    "dids.0733.language"
                ),
            ]
        );
        assert_eq!(changes[1].before, Some(json!("welcome")));
        assert_eq!(changes[1].after, Some(json!("welcome2")));
        assert_eq!(changes[2].before, None);
        assert_eq!(
            changes[2].after,
            Some(json!({"digits": "2", "target": "bye"}))
        );
        assert_eq!(changes[3].after, None);
        assert_eq!(changes[3].before.as_ref().unwrap()["kind"], "hangup");
        assert_eq!(changes[5].before, None);
        assert_eq!(changes[5].after, Some(json!("en")));
    }

    #[test]
    fn a_changed_kind_shows_every_field_that_differs() {
        let from = content(
            json!({"nodes": [{"key": "x", "kind": "hangup", "cause": 16}], "schedules": [], "entries": []}),
        );
        let to = content(
            json!({"nodes": [{"key": "x", "kind": "call", "target": "1"}], "schedules": [], "entries": []}),
        );
        let paths: Vec<String> = diff(&from, &to).into_iter().map(|c| c.path).collect();
        assert!(paths.contains(&"nodes.x.kind".to_owned()), "{paths:?}");
        assert!(paths.contains(&"nodes.x.cause".to_owned()), "{paths:?}");
        assert!(paths.contains(&"nodes.x.target".to_owned()), "{paths:?}");
    }
}
