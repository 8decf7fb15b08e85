//! Flow tests: a tenant's named scenarios — a scripted call (`did`,
//! `caller_id`, `at`, `inputs`, as the simulator takes them) — with what
//! must happen: the path of nodes, the final action and some of its DATA
//! fields, how the call ends. Run against the draft, the live flow or a
//! version, and by every publish against the draft (a failing test refuses
//! the publish unless it is forced).
//!
//! Checking a test's definition and judging a transcript are pure; running
//! is the simulator's.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorDetail};
use crate::flow::model::Node;
use crate::flow_service::Runnable;
use crate::simulate::{AT_FORMAT, Ending, Script, Transcript, parse_at, parse_inputs, simulate};
use crate::voicenter::types::Encoding;
use crate::webhook::fallback::SafeAnswer;

/// A flow test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "weekday_sales", "description": "Pressing 1 on a weekday reaches sales",
    "did": "0730000000", "caller_id": "0541234567", "at": "2026-12-01T10:00:00+02:00",
    "inputs": ["1"],
    "expect": {"path": ["main", "sales"], "action": "CALL", "fields": {"TARGET": "0501234567"}}
}))]
pub struct FlowTest {
    /// 1 to 64 of `A-Z a-z 0-9 _ . -`, unique in the tenant.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// One of the tenant's numbers.
    pub did: String,
    #[serde(default)]
    pub caller_id: String,
    /// The clock of the call, with its offset (schedules are tried at it).
    #[schema(value_type = String, example = "2026-12-01T10:00:00+02:00")]
    pub at: String,
    /// As the simulator takes them: digits, `silence`, `no_answer`.
    #[serde(default)]
    pub inputs: Vec<String>,
    pub expect: Expectation,
}

/// What must happen (at least one of these).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The nodes answered, in order, from the first step to the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Vec<String>>,
    /// The last step's action: MENU, CALL, SAYDIGITS, HANGUP, VO, SILENTRECORD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Fields of the last answer's DATA, as the webhook sends them
    /// (`{"TARGET": "0501234567"}`, `{"HANGUP_CAUSE": 16}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// How the call ends: `hung_up`, `connected`, `not_answered`,
    /// `handed_over`, `recording`, `waiting_for_input`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
}

const ACTIONS: [&str; 6] = ["MENU", "CALL", "SAYDIGITS", "HANGUP", "VO", "SILENTRECORD"];
const ENDINGS: [&str; 8] = [
    "hung_up",
    "connected",
    "not_answered",
    "handed_over",
    "recording",
    "waiting_for_input",
    "input_does_not_fit",
    "step_limit",
];

impl FlowTest {
    /// The test's script; every problem of the definition, with its path,
    /// against a flow's `nodes` (`expect.path` must name them) and the
    /// tenant's `numbers`.
    pub fn check(
        &self,
        nodes: &BTreeMap<String, Node>,
        numbers: &BTreeSet<String>,
    ) -> Result<Script, ApiError> {
        let mut problems = crate::admin::checks::Problems::default();
        if !crate::flow::state::is_valid_key(&self.name) {
            problems.add("name", "1 to 64 of A-Z a-z 0-9 _ . -");
        }
        problems.length("description", &self.description, 0, 500);
        if !numbers.contains(&self.did) {
            problems.add(
                "did",
                format!("{:?} is not one of the tenant's numbers", self.did),
            );
        }
        problems.length("caller_id", &self.caller_id, 0, 64);
        let at = parse_at(&self.at);
        if at.is_none() {
            problems.add("at", AT_FORMAT);
        }
        let inputs = parse_inputs(&self.inputs).unwrap_or_else(|details| {
            problems.extend(details);
            Vec::new()
        });
        let expect = &self.expect;
        if expect.path.is_none()
            && expect.action.is_none()
            && expect.fields.is_empty()
            && expect.ended.is_none()
        {
            problems.add(
                "expect",
                "say what must happen: path, action, fields or ended",
            );
        }
        for (index, key) in expect.path.iter().flatten().enumerate() {
            if !nodes.contains_key(key) {
                problems.add(
                    format!("expect.path[{index}]"),
                    format!("no node {key:?} in the flow"),
                );
            }
        }
        if let Some(action) = &expect.action
            && !ACTIONS.contains(&action.as_str())
        {
            problems.add("expect.action", format!("one of {}", ACTIONS.join(", ")));
        }
        if let Some(ended) = &expect.ended
            && !ENDINGS.contains(&ended.as_str())
        {
            problems.add("expect.ended", format!("one of {}", ENDINGS.join(", ")));
        }
        if let Ok(text) = serde_json::to_string(self)
            && text.contains('\0')
        {
            problems.add("", "must not contain NUL characters");
        }
        problems.finish("the flow test")?;
        Ok(Script {
            did: self.did.clone(),
            caller_id: self.caller_id.clone(),
            caller_name: String::new(),
            at: at.unwrap_or_default(),
            inputs,
        })
    }
}

/// A test's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TestResult {
    pub name: String,
    pub passed: bool,
    /// What did not happen as expected.
    pub failures: Vec<String>,
    /// The simulated call, when the test failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript: Option<Transcript>,
}

/// Runs `test` on `flow`. A test that no longer fits the flow (its number
/// is gone) fails with the reason.
pub fn run(test: &FlowTest, flow: &Runnable, safe: &SafeAnswer) -> TestResult {
    let failed = |failures: Vec<String>, transcript| TestResult {
        name: test.name.clone(),
        passed: false,
        failures,
        transcript,
    };
    let script = match test.check(flow.nodes(), flow.numbers()) {
        Ok(script) => script,
        Err(error) => {
            let reasons = error
                .details()
                .iter()
                .map(|d| format!("{}: {}", d.path, d.message))
                .collect();
            return failed(reasons, None);
        }
    };
    let entry = match flow.entry(&script.did) {
        Ok(entry) => entry,
        Err(_) => return failed(vec![format!("{} is not the tenant's", script.did)], None),
    };
    let transcript = simulate(&flow.flow, &entry, &script, Encoding::Json, safe);
    let failures = judge(&test.expect, &transcript);
    if failures.is_empty() {
        TestResult {
            name: test.name.clone(),
            passed: true,
            failures,
            transcript: None,
        }
    } else {
        failed(failures, Some(transcript))
    }
}

/// Every way `transcript` differs from `expect`.
pub fn judge(expect: &Expectation, transcript: &Transcript) -> Vec<String> {
    let mut failures = Vec::new();
    if let Some(path) = &expect.path {
        let actual = transcript.path();
        if actual != path.iter().map(String::as_str).collect::<Vec<_>>() {
            failures.push(format!(
                "path: expected {}, got {}",
                path.join(" → "),
                actual.join(" → ")
            ));
        }
    }
    let last = transcript.steps.last();
    if let Some(action) = &expect.action {
        let actual = last.map(|s| s.action.as_str()).unwrap_or_default();
        if actual != action {
            failures.push(format!("action: expected {action}, got {actual}"));
        }
    }
    if !expect.fields.is_empty() {
        let data: serde_json::Value = last
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s.answer).ok())
            .map(|answer| answer["DATA"].clone())
            .unwrap_or_default();
        for (field, expected) in &expect.fields {
            let actual = &data[field];
            if !same(actual, expected) {
                failures.push(format!("DATA.{field}: expected {expected}, got {actual}"));
            }
        }
    }
    if let Some(ended) = &expect.ended {
        let actual = ending_name(&transcript.ended);
        if actual != *ended {
            failures.push(format!("ended: expected {ended}, got {actual}"));
        }
    }
    failures
}

/// Equal, or the same text (`"16"` and `16`).
fn same(actual: &serde_json::Value, expected: &serde_json::Value) -> bool {
    let text = |value: &serde_json::Value| match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    actual == expected || (!actual.is_null() && text(actual) == text(expected))
}

fn ending_name(ending: &Ending) -> String {
    serde_json::to_value(ending)
        .ok()
        .and_then(|v| v["how"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The details of a publish refused by failing tests.
pub fn failure_details(results: &[TestResult]) -> Vec<ErrorDetail> {
    results
        .iter()
        .filter(|result| !result.passed)
        .map(|result| ErrorDetail {
            path: format!("tests.{}", result.name),
            message: result.failures.join("; "),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn test(expect: serde_json::Value) -> FlowTest {
        serde_json::from_value(json!({
            "name": "t", "did": "0730000000", "at": "2026-12-01T10:00:00+02:00",
            "inputs": ["1"], "expect": expect
        }))
        .unwrap()
    }

    fn draft() -> (BTreeMap<String, Node>, BTreeSet<String>) {
        let main: Node = serde_json::from_value(json!({"key": "main", "kind": "hangup"})).unwrap();
        (
            [("main".to_owned(), main)].into(),
            ["0730000000".to_owned()].into(),
        )
    }

    #[test]
    fn a_definition_is_checked_field_by_field() {
        let mut bad =
            test(json!({"path": ["main", "nowhere"], "action": "DANCE", "ended": "later"}));
        bad.did = "0739999999".into();
        bad.at = "2026-12-01T10:00:00".into();
        bad.inputs = vec!["1".into(), "star".into()];
        let (nodes, numbers) = draft();
        let error = bad.check(&nodes, &numbers).unwrap_err();
        let paths: Vec<&str> = error.details().iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "did",
                "at",
                "inputs[1]",
                "expect.path[1]",
                "expect.action",
                "expect.ended"
            ]
        );
        let error = test(json!({})).check(&nodes, &numbers).unwrap_err();
        assert_eq!(error.details()[0].path, "expect");
        assert!(
            test(json!({"path": ["main"]}))
                .check(&nodes, &numbers)
                .is_ok()
        );
    }

    #[test]
    fn same_text_matches_numbers_and_strings() {
        assert!(same(&json!(16), &json!("16")));
        assert!(same(&json!("0501"), &json!("0501")));
        assert!(!same(&json!(null), &json!("null")));
        assert!(!same(&json!(17), &json!(16)));
    }
}
