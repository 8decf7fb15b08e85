//! An alert rule as tenants write it: the figure watched, the filters, the
//! window, the condition with its fire and clear thresholds, the guards
//! against noise, the webhook URLs. The JSON the API takes is the JSON
//! stored (`alert_rules.definition`); [`RuleSpec::check`] is the one place
//! its rules are checked, every problem answered with its path.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::url_guard;
use crate::error::ErrorDetail;
use crate::metrics::FallbackReason;

/// The most rules one tenant (or the platform) may have.
pub const MAX_RULES: i64 = 50;
/// The most webhook URLs of one rule.
pub const MAX_URLS: usize = 5;
/// Window bounds, minutes: 5 minutes to 24 hours.
pub const WINDOW_MINUTES: std::ops::RangeInclusive<u32> = 5..=1440;
/// The longest "M of the last N" history.
pub const MAX_OF_LAST: u8 = 10;
/// The shortest re-notification interval, minutes.
pub const MIN_RENOTIFY_MINUTES: u32 = 5;

/// The figure a rule watches, over the calls (CDRs) that started in the
/// window and match the rule's filters, or over the call steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Number of calls (a count).
    Calls,
    /// Answer-seizure ratio, answered / calls (a fraction, 0 to 1).
    Asr,
    /// Mean duration of the answered calls, seconds.
    AcdSecs,
    /// Share of the calls whose CALL_STATUS is `of_status` (a fraction).
    StatusShare,
    /// Share of the calls whose Q.850 cause is `of_cause` (a fraction).
    CauseShare,
    /// 95th percentile of dial time, seconds.
    P95DialSecs,
    /// Steps answered with the safe answer instead of the flow's (a
    /// count), of one `reason` or all. Needs no DID/target/status filter.
    SafeAnswers,
    /// Silences at menu `node` per caller reaching it (the funnel's
    /// `timeouts.total / reached`): 0 when nobody stays silent, 1 when each
    /// caller is silent once on average; a menu replayed after a silence may
    /// count one caller twice, so it can exceed 1. The sample is the callers.
    NodeTimeoutShare,
    /// Wrong keys at menu `node` per caller reaching it (`invalid.total /
    /// reached`; can exceed 1, like timeouts).
    NodeInvalidShare,
    /// Share of the callers reaching `node` who hung up there (`ended /
    /// reached`: the IVR's own hang-ups are not counted; a fraction).
    NodeHangupShare,
}

/// What kind of number a metric is: it decides the thresholds allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Count,
    Fraction,
    /// A non-negative rate that may exceed 1 (events per caller).
    Rate,
    Seconds,
}

impl Metric {
    pub fn kind(self) -> Kind {
        match self {
            Metric::Calls | Metric::SafeAnswers => Kind::Count,
            Metric::Asr | Metric::StatusShare | Metric::CauseShare | Metric::NodeHangupShare => {
                Kind::Fraction
            }
            Metric::NodeTimeoutShare | Metric::NodeInvalidShare => Kind::Rate,
            Metric::AcdSecs | Metric::P95DialSecs => Kind::Seconds,
        }
    }

    /// A funnel figure of one node (a tenant's flow: not for platform rules).
    pub fn is_node(self) -> bool {
        matches!(
            self,
            Metric::NodeTimeoutShare | Metric::NodeInvalidShare | Metric::NodeHangupShare
        )
    }

    /// Counts fire on any number of calls: `min_calls` guards the others.
    pub fn needs_sample(self) -> bool {
        self.kind() != Kind::Count
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Calls => "calls",
            Metric::Asr => "asr",
            Metric::AcdSecs => "acd_secs",
            Metric::StatusShare => "status_share",
            Metric::CauseShare => "cause_share",
            Metric::P95DialSecs => "p95_dial_secs",
            Metric::SafeAnswers => "safe_answers",
            Metric::NodeTimeoutShare => "node_timeout_share",
            Metric::NodeInvalidShare => "node_invalid_share",
            Metric::NodeHangupShare => "node_hangup_share",
        }
    }
}

/// When the rule is breached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The figure is above `threshold`; clears at or below `clear_threshold`.
    Above,
    /// The figure is below `threshold`; clears at or above `clear_threshold`.
    Below,
    /// The figure rose by more than `threshold` percent against the same
    /// window a week earlier; clears at or below `clear_threshold` percent.
    RisesByPct,
    /// The figure fell by more than `threshold` percent against the same
    /// window a week earlier; clears at or below `clear_threshold` percent.
    FallsByPct,
}

impl Condition {
    pub fn is_change(self) -> bool {
        matches!(self, Condition::RisesByPct | Condition::FallsByPct)
    }
}

/// An alert rule, as written and as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Sales line answer rate",
    "metric": "asr",
    "did": "0733000001",
    "window_minutes": 15,
    "condition": "below",
    "threshold": 0.5,
    "clear_threshold": 0.6,
    "min_calls": 20,
    "fire_after": 2,
    "of_last": 3,
    "renotify_minutes": 60,
    "webhook_urls": ["https://ops.example.com/hooks/ivrhub"]
}))]
pub struct RuleSpec {
    /// For people: 1 to 100 characters.
    pub name: String,
    /// The figure watched: `calls`, `asr`, `acd_secs`, `status_share`
    /// (with `of_status`), `cause_share` (with `of_cause`), `p95_dial_secs`,
    /// `safe_answers` (optionally of one `reason`), or a funnel figure of a
    /// menu `node` per visit: `node_timeout_share`, `node_invalid_share`,
    /// `node_hangup_share`.
    pub metric: Metric,
    /// Only calls to this DID (not with `safe_answers` or node metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did: Option<String>,
    /// Only calls dialled to this target number (not with `safe_answers` or node metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Only calls of this CALL_STATUS (not with `safe_answers` or node metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `status_share`: the CALL_STATUS whose share is watched, e.g. `BUSY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of_status: Option<String>,
    /// `cause_share`: the Q.850 cause whose share is watched, e.g. 34.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of_cause: Option<i16>,
    /// `safe_answers`: only this reason (default: every reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<FallbackReason>,
    /// Node metrics: the node (a menu's key) watched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Node metrics: only calls on this flow version (default: every version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_version: Option<i32>,
    /// The sliding window, minutes: 5 to 1440 (24 hours). Each evaluation
    /// reads the calls that started in the window ending at its minute.
    pub window_minutes: u32,
    /// `above` or `below` the threshold; `rises_by_pct` / `falls_by_pct`:
    /// a change of more than `threshold` percent against the same window a
    /// week earlier.
    pub condition: Condition,
    /// Fires past this. Fractions (`asr`, shares) are 0 to 1, counts are
    /// whole numbers, seconds are seconds; with `rises_by_pct` /
    /// `falls_by_pct` it is a percentage above 0.
    pub threshold: f64,
    /// Resolves once back past this (hysteresis): at or below `threshold`
    /// for `above` and the changes, at or above it for `below`. Default:
    /// `threshold`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_threshold: Option<f64>,
    /// The fewest calls (callers reaching the node, for node metrics) in
    /// the window for the rule to judge it (default 20); counts ignore it.
    #[serde(default = "default_min_calls")]
    pub min_calls: u32,
    /// Fires when at least `fire_after` of the last `of_last` evaluations
    /// were breached (default 1 of 1). 1 ≤ fire_after ≤ of_last ≤ 10.
    #[serde(default = "one")]
    pub fire_after: u8,
    /// How many of the latest evaluations `fire_after` counts in (default 1).
    #[serde(default = "one")]
    pub of_last: u8,
    /// While firing, notify again every so many minutes (at least 5;
    /// absent: once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renotify_minutes: Option<u32>,
    /// Where events are sent (at most 5), signed per Standard Webhooks.
    #[serde(default)]
    pub webhook_urls: Vec<String>,
    /// A disabled rule is not evaluated (default: enabled).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn default_min_calls() -> u32 {
    20
}
fn one() -> u8 {
    1
}
fn yes() -> bool {
    true
}

impl RuleSpec {
    /// The clear threshold, defaulted.
    pub fn clear(&self) -> f64 {
        self.clear_threshold.unwrap_or(self.threshold)
    }

    pub fn window(&self) -> chrono::Duration {
        chrono::Duration::minutes(i64::from(self.window_minutes))
    }

    /// Every problem of the rule, with its path. `platform`: a platform-wide
    /// rule. `allow_private_urls`: the platform lets webhooks reach private
    /// addresses (tests, a receiver inside the cluster).
    pub fn check(&self, platform: bool, allow_private_urls: bool) -> Vec<ErrorDetail> {
        let mut problems = Vec::new();
        let mut problem = |path: &str, message: String| {
            problems.push(ErrorDetail {
                path: path.to_owned(),
                message,
            })
        };
        let name = self.name.trim();
        if name.is_empty() || self.name.chars().count() > 100 {
            problem("name", "must be 1 to 100 characters".into());
        }
        if !WINDOW_MINUTES.contains(&self.window_minutes) {
            problem(
                "window_minutes",
                format!(
                    "must be {} to {} minutes (5 minutes to 24 hours)",
                    WINDOW_MINUTES.start(),
                    WINDOW_MINUTES.end()
                ),
            );
        }
        let metric = self.metric.as_str();
        let needs = |field: &str, present: bool, wanted: bool| -> Option<String> {
            match (present, wanted) {
                (false, true) => Some(format!("{metric} needs `{field}`")),
                (true, false) => Some(format!("only for a metric that uses it, not {metric}")),
                _ => None,
            }
        };
        let checks: [(&str, bool, bool); 5] = [
            (
                "of_status",
                self.of_status.is_some(),
                self.metric == Metric::StatusShare,
            ),
            (
                "of_cause",
                self.of_cause.is_some(),
                self.metric == Metric::CauseShare,
            ),
            (
                "reason",
                self.reason.is_some(),
                self.reason.is_some() && self.metric == Metric::SafeAnswers,
            ),
            ("node", self.node.is_some(), self.metric.is_node()),
            (
                "flow_version",
                self.flow_version.is_some(),
                self.flow_version.is_some() && self.metric.is_node(),
            ),
        ];
        for (field, present, wanted) in checks {
            if let Some(message) = needs(field, present, wanted) {
                problem(field, message);
            }
        }
        if let Some(reason @ (FallbackReason::UnknownDid | FallbackReason::Unavailable)) =
            self.reason
        {
            problem(
                "reason",
                format!(
                    "{} answers have no tenant (or no database) to log them in: watch `ivrhub_fallbacks_total{{reason=\"{}\"}}` in /metrics",
                    reason.as_str(),
                    reason.as_str()
                ),
            );
        }
        if let Some(cause) = self.of_cause
            && !(1..=127).contains(&cause)
        {
            problem("of_cause", "a Q.850 cause is 1 to 127".into());
        }
        if let Some(version) = self.flow_version
            && version < 1
        {
            problem("flow_version", "versions are numbered from 1".into());
        }
        if self.metric.is_node() && platform {
            problem(
                "metric",
                "node figures are one tenant's flow: not for a platform-wide rule".into(),
            );
        }
        if self.metric == Metric::SafeAnswers || self.metric.is_node() {
            for (field, value) in [
                ("did", &self.did),
                ("target", &self.target),
                ("status", &self.status),
            ] {
                if value.is_some() {
                    problem(
                        field,
                        format!("{metric} reads call steps, which have no {field} filter"),
                    );
                }
            }
        }
        for (field, value) in [
            ("did", &self.did),
            ("target", &self.target),
            ("status", &self.status),
            ("of_status", &self.of_status),
            ("node", &self.node),
        ] {
            if let Some(value) = value
                && (value.trim().is_empty() || value.len() > 100)
            {
                problem(field, "must be 1 to 100 characters".into());
            }
        }
        self.check_thresholds(&mut problem);
        if self.fire_after < 1 || self.of_last < 1 || self.of_last > MAX_OF_LAST {
            problem(
                "of_last",
                format!("fire_after and of_last are 1 to {MAX_OF_LAST}"),
            );
        } else if self.fire_after > self.of_last {
            problem(
                "fire_after",
                format!(
                    "cannot exceed of_last ({}): {} of the last {} can never happen",
                    self.of_last, self.fire_after, self.of_last
                ),
            );
        }
        if self.min_calls < 1 || self.min_calls > 1_000_000 {
            problem("min_calls", "must be 1 to 1000000".into());
        }
        if let Some(minutes) = self.renotify_minutes
            && !(MIN_RENOTIFY_MINUTES..=10_080).contains(&minutes)
        {
            problem(
                "renotify_minutes",
                format!("must be {MIN_RENOTIFY_MINUTES} to 10080 minutes (a week)"),
            );
        }
        if self.webhook_urls.len() > MAX_URLS {
            problem("webhook_urls", format!("at most {MAX_URLS} URLs per rule"));
        }
        for (n, url) in self.webhook_urls.iter().enumerate() {
            if let Err(refusal) = url_guard::check_url(url, allow_private_urls) {
                problem(&format!("webhook_urls[{n}]"), refusal.to_string());
            }
        }
        problems
    }

    fn check_thresholds(&self, problem: &mut impl FnMut(&str, String)) {
        let clear = self.clear();
        for (field, value) in [("threshold", self.threshold), ("clear_threshold", clear)] {
            if !value.is_finite() {
                problem(field, "must be a number".into());
                return;
            }
            let wrong = if self.condition.is_change() {
                (value <= 0.0 && field == "threshold")
                    .then(|| "a change is a percentage above 0, e.g. 50 for 50 %".to_owned())
                    .or_else(|| (value < 0.0).then(|| "cannot be negative".to_owned()))
            } else {
                match self.metric.kind() {
                    Kind::Fraction if !(0.0..=1.0).contains(&value) => Some(format!(
                        "{} is a fraction from 0 to 1 (0.5 for 50 %), not {value}",
                        self.metric.as_str()
                    )),
                    Kind::Count if value < 0.0 || value.fract() != 0.0 => Some(format!(
                        "{} is a count: a whole number, 0 or more",
                        self.metric.as_str()
                    )),
                    Kind::Seconds if value < 0.0 => Some("seconds cannot be negative".to_owned()),
                    _ => None,
                }
            };
            if let Some(message) = wrong {
                problem(field, message);
                return;
            }
        }
        if self.condition == Condition::FallsByPct && self.threshold >= 100.0 {
            problem(
                "threshold",
                "a figure cannot fall by 100 % or more: it would be below 0".into(),
            );
            return;
        }
        let (wrong_side, side) = match self.condition {
            Condition::Below => (clear < self.threshold, "at or above"),
            Condition::Above | Condition::RisesByPct | Condition::FallsByPct => {
                (clear > self.threshold, "at or below")
            }
        };
        if wrong_side {
            problem(
                "clear_threshold",
                format!(
                    "must be {side} threshold ({}) so that the rule does not flap: it is {clear}",
                    self.threshold
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asr_rule() -> RuleSpec {
        serde_json::from_value(serde_json::json!({
            "name": "asr", "metric": "asr", "window_minutes": 15,
            "condition": "below", "threshold": 0.5, "clear_threshold": 0.6
        }))
        .unwrap()
    }

    fn paths(rule: &RuleSpec) -> Vec<String> {
        rule.check(false, false)
            .into_iter()
            .map(|problem| problem.path)
            .collect()
    }

    #[test]
    fn a_plain_rule_has_no_problem_and_its_defaults() {
        let rule = asr_rule();
        assert!(paths(&rule).is_empty());
        assert_eq!(
            (rule.min_calls, rule.fire_after, rule.of_last, rule.enabled),
            (20, 1, 1, true)
        );
    }

    #[test]
    fn each_problem_is_named_by_its_path() {
        let cases: Vec<(&str, serde_json::Value)> = vec![
            ("window_minutes", serde_json::json!({"window_minutes": 0})),
            (
                "window_minutes",
                serde_json::json!({"window_minutes": 1441}),
            ),
            ("threshold", serde_json::json!({"threshold": 50.0})),
            (
                "clear_threshold",
                serde_json::json!({"clear_threshold": 0.4}),
            ),
            (
                "fire_after",
                serde_json::json!({"fire_after": 3, "of_last": 2}),
            ),
            ("of_last", serde_json::json!({"of_last": 11})),
            ("of_status", serde_json::json!({"of_status": "BUSY"})),
            (
                "renotify_minutes",
                serde_json::json!({"renotify_minutes": 1}),
            ),
            (
                "webhook_urls[0]",
                serde_json::json!({"webhook_urls": ["http://127.0.0.1/x"]}),
            ),
            (
                "webhook_urls[1]",
                serde_json::json!({"webhook_urls": ["https://ops.example.com/", "ftp://x"]}),
            ),
            ("name", serde_json::json!({"name": " "})),
        ];
        for (path, change) in cases {
            let mut value = serde_json::to_value(asr_rule()).unwrap();
            for (key, field) in change.as_object().unwrap() {
                value[key] = field.clone();
            }
            let rule: RuleSpec = serde_json::from_value(value).unwrap();
            assert_eq!(paths(&rule), vec![path.to_owned()], "{change}");
        }
    }

    #[test]
    fn thresholds_follow_the_metric_and_the_condition() {
        let mut rule = asr_rule();
        rule.metric = Metric::Calls;
        rule.condition = Condition::Above;
        rule.threshold = 10.5;
        rule.clear_threshold = None;
        assert_eq!(paths(&rule), vec!["threshold"], "counts are whole");
        rule.threshold = 100.0;
        rule.clear_threshold = Some(120.0);
        assert_eq!(paths(&rule), vec!["clear_threshold"], "above clears below");
        rule.clear_threshold = Some(80.0);
        assert!(paths(&rule).is_empty());
        rule.condition = Condition::FallsByPct;
        rule.threshold = 0.0;
        rule.clear_threshold = None;
        assert_eq!(paths(&rule), vec!["threshold"], "a change is above 0 %");
        rule.threshold = 150.0;
        assert_eq!(
            paths(&rule),
            vec!["threshold"],
            "a fall cannot exceed 100 %"
        );
        rule.condition = Condition::RisesByPct;
        assert!(paths(&rule).is_empty(), "a rise may exceed 100 %");
    }

    #[test]
    fn node_metrics_need_a_node_and_are_not_platform_wide() {
        let mut rule = asr_rule();
        rule.metric = Metric::NodeTimeoutShare;
        assert_eq!(paths(&rule), vec!["node"]);
        rule.node = Some("main".into());
        assert!(paths(&rule).is_empty());
        let platform: Vec<String> = rule
            .check(true, false)
            .into_iter()
            .map(|p| p.path)
            .collect();
        assert_eq!(platform, vec!["metric"]);
        rule.did = Some("0733".into());
        assert_eq!(paths(&rule), vec!["did"]);
    }
}
