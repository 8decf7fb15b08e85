//! Flow validation: everything the engine would otherwise discover mid-call.
//!
//! A flow with no [`Severity::Error`] issue never makes the engine report a
//! `FlowProblem` for identifiers it produced itself. Warnings point at
//! things that are legal but probably unintended (unreachable nodes).
//!
//! Paths follow the JSON shape of the nodes (`nodes.sales.routes[2].target`,
//! `nodes.confirm.menu.prompt.rec`, `schedules.office.hours[0]`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Display;
use std::ops::RangeInclusive;

use serde::Serialize;
use utoipa::ToSchema;

use super::engine::RULE_HOP_LIMIT;
use super::model::{
    Call, Condition, DayRule, DigitsSource, EntryPoint, Flow, Hangup, Menu, Node, NodeKind, Prompt,
    Rec, SayDigits, Schedule, limits,
};
use super::pattern;
use super::schedule::{is_empty_interval, open_some_time};
use super::state;
use crate::voicenter::types::Language;

/// `error`: calls would fail there, the flow is not valid (it cannot be
/// published). `warning`: legal but probably unintended (e.g. a node no
/// DID's entry leads to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The flow must not be saved: some call would hit a `FlowProblem`.
    Error,
    /// Legal but probably unintended.
    Warning,
}

/// A problem of the flow: the one issue type of the engine and the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"severity": "error", "path": "nodes.main.routes[0].target", "message": "no node \"salse\""}))]
pub struct FlowIssue {
    pub severity: Severity,
    /// Where, in the JSON shape of the flow: `nodes.<key>.<field>`,
    /// `schedules.<key>.<field>`, `dids.<number>.entry_node`.
    pub path: String,
    pub message: String,
}

impl FlowIssue {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The longest text of any field of a node or a schedule.
pub const MAX_TEXT: usize = 200;
/// The most items of any list of a node or a schedule.
pub const MAX_ITEMS: usize = 1000;

/// What validation needs besides the flow itself.
#[derive(Debug, Default, Clone, Copy)]
pub struct Context<'a> {
    /// The flow's entry points. Nodes none of them leads to get a warning
    /// (none when no entry is set yet: a flow designed before its DID is
    /// assigned); an entry naming no node is an error.
    pub entries: &'a [EntryPoint],
    /// The tenant's catalogue of recordings: a REC naming none is an error,
    /// one whose language differs from the one it plays in, a warning.
    /// `None`: recordings are not checked.
    pub recordings: Option<&'a Catalogue>,
    /// Today, in the tenant's time zone: a schedule without a calendar that
    /// is open on a rest day of the coming year gets a warning. `None`: not
    /// checked.
    pub today: Option<chrono::NaiveDate>,
}

/// The tenant's recordings: name → the language it is in, if known.
pub type Catalogue = HashMap<String, Option<Language>>;

/// Checks a whole flow: every node, schedule and entry point, the rule
/// graph, reachability, the recordings named, sizes.
///
/// Issues come nodes first, then schedules, then entries, then rule-graph
/// issues, then unreachable nodes, then recordings and sizes; nodes and
/// schedules in key order.
pub fn validate(flow: &Flow, context: &Context<'_>) -> Vec<FlowIssue> {
    let mut checker = Checker {
        flow,
        issues: Vec::new(),
        today: context.today,
    };
    for (key, node) in sorted(&flow.nodes) {
        checker.node(key, node);
    }
    for (key, schedule) in sorted(&flow.schedules) {
        checker.schedule(key, schedule);
    }
    let mut entry_nodes = Vec::new();
    for entry in context.entries {
        let Some(key) = entry.entry_node.as_deref() else {
            continue;
        };
        if flow.nodes.contains_key(key) {
            entry_nodes.push(key);
        } else {
            checker.error(
                format!("dids.{}.entry_node", entry.did),
                format!("no node {key:?}"),
            );
        }
    }
    if let Some(goodbye) = &flow.goodbye {
        checker.rec("goodbye".to_owned(), goodbye);
    }
    checker.rule_graph();
    checker.reachability(&entry_nodes);
    checker.announcement_loops();
    let languages = Languages::of(flow, context.entries);
    checker.languages(&languages);
    if let Some(recordings) = context.recordings {
        checker.catalogue(recordings, &languages);
    }
    for (key, node) in sorted(&flow.nodes) {
        if let Ok(value) = serde_json::to_value(node) {
            sizes(&format!("nodes.{key}"), &value, &mut checker.issues);
        }
    }
    for (key, schedule) in sorted(&flow.schedules) {
        if let Ok(value) = serde_json::to_value(schedule) {
            sizes(&format!("schedules.{key}"), &value, &mut checker.issues);
        }
    }
    checker.issues
}

/// Strings longer than [`MAX_TEXT`] or holding NUL (which PostgreSQL
/// cannot store), and lists longer than [`MAX_ITEMS`].
fn sizes(at: &str, value: &serde_json::Value, issues: &mut Vec<FlowIssue>) {
    let mut error = |path: String, message: String| {
        issues.push(FlowIssue {
            severity: Severity::Error,
            path,
            message,
        })
    };
    let mut todo = vec![(at.to_owned(), value)];
    while let Some((path, value)) = todo.pop() {
        match value {
            serde_json::Value::String(text) if text.chars().count() > MAX_TEXT => {
                error(path, format!("longer than {MAX_TEXT} characters"))
            }
            serde_json::Value::String(text) if text.contains('\0') => {
                error(path, "must not contain NUL characters".into())
            }
            serde_json::Value::Array(items) => {
                if items.len() > MAX_ITEMS {
                    error(path.clone(), format!("more than {MAX_ITEMS} items"));
                }
                for (index, item) in items.iter().enumerate().rev() {
                    todo.push((format!("{path}[{index}]"), item));
                }
            }
            serde_json::Value::Object(fields) => {
                for (field, item) in fields.iter().rev() {
                    todo.push((format!("{path}.{field}"), item));
                }
            }
            _ => {}
        }
    }
}

/// Every prompt `node` plays, with its path relative to the node.
pub fn prompts(node: &Node) -> Vec<(String, &Rec)> {
    fn menu<'a>(prefix: &str, menu: &'a Menu, refs: &mut Vec<(String, &'a Rec)>) {
        refs.push((format!("{prefix}prompt.rec"), &menu.prompt.rec));
        if let Some(rec) = &menu.retry_rec {
            refs.push((format!("{prefix}retry_rec"), rec));
        }
    }
    fn optional<'a>(field: &str, rec: &'a Option<Rec>) -> Option<(String, &'a Rec)> {
        Some((field.to_owned(), rec.as_ref()?))
    }
    let mut refs = Vec::new();
    match &node.kind {
        NodeKind::Menu(m) => menu("", m, &mut refs),
        NodeKind::Announcement(announcement) => {
            refs.push(("prompt.rec".to_owned(), &announcement.prompt.rec));
        }
        NodeKind::SayDigits(say) => {
            refs.push(("intro_rec".to_owned(), &say.intro_rec));
            menu("menu.", &say.menu, &mut refs);
        }
        NodeKind::Call(call) => refs.extend(
            [
                optional("caller_rec", &call.caller_rec),
                optional("target_rec", &call.target_rec),
            ]
            .into_iter()
            .flatten(),
        ),
        NodeKind::Hangup(hangup) => refs.extend(optional("rec", &hangup.rec)),
        NodeKind::Vo(vo) => refs.push(("prompt.rec".to_owned(), &vo.prompt.rec)),
        NodeKind::SilentRecord(record) => refs.extend(optional("rec", &record.rec)),
        NodeKind::Rules(_) => {}
    }
    refs
}

/// Every recording `node` plays, with its path relative to the node
/// (`prompt.rec`; `prompt.rec.en` for a prompt given per language).
pub fn recording_refs(node: &Node) -> Vec<(String, &str)> {
    prompts(node)
        .into_iter()
        .flat_map(|(field, rec)| names_at(field, rec))
        .collect()
}

/// The recordings of `rec`, each with its path under `field`.
fn names_at(field: String, rec: &Rec) -> Vec<(String, &str)> {
    rec.names()
        .map(|(key, name)| match key {
            None => (field.clone(), name),
            Some(key) => (format!("{field}.{key}"), name),
        })
        .collect()
}

/// The languages each node can play in, found by following calls from the
/// entry points: a call enters in its DID's language (else the tenant's),
/// a route's `set_language` makes it the caller's choice, and a node's own
/// `language` wins over everything but the caller's choice (the engine's
/// order). Without entry points (a flow designed before its numbers are
/// given) every node is a start, in the tenant's language.
struct Languages<'a> {
    /// Node → the languages it plays in; nodes no call reaches are absent.
    at: HashMap<&'a str, BTreeSet<Language>>,
    /// The languages the flow's goodbye is said in: its own hang-ups speak
    /// the call's language (before any node's own), a hangup node without
    /// a recording its node's.
    goodbye: BTreeSet<Language>,
}

impl<'a> Languages<'a> {
    fn of(flow: &'a Flow, entries: &'a [EntryPoint]) -> Languages<'a> {
        // A call's language so far: (language, chosen by the caller).
        type Call = (Language, bool);
        let mut seen: HashSet<(&str, Call)> = HashSet::new();
        let mut todo: Vec<(&str, Call)> = Vec::new();
        let starts = entries
            .iter()
            .filter_map(|entry| Some((entry.entry_node.as_deref()?, entry.language)));
        let mut any_start = false;
        for (key, language) in starts {
            any_start = true;
            todo.push((key, (language.unwrap_or(flow.language), false)));
        }
        if !any_start {
            todo.extend(
                flow.nodes
                    .keys()
                    .map(|key| (key.as_str(), (flow.language, false))),
            );
        }
        let mut languages = Languages {
            at: HashMap::new(),
            goodbye: BTreeSet::new(),
        };
        while let Some((key, call)) = todo.pop() {
            let Some((key, node)) = flow.nodes.get_key_value(key) else {
                continue;
            };
            if !seen.insert((key.as_str(), call)) {
                continue;
            }
            let (language, chosen) = call;
            let plays = if chosen {
                language
            } else {
                node.language.unwrap_or(language)
            };
            languages.at.entry(key.as_str()).or_default().insert(plays);
            languages.goodbye.insert(language);
            if let NodeKind::Hangup(Hangup { rec: None, .. }) = &node.kind {
                languages.goodbye.insert(plays);
            }
            for (target, set) in edges(node) {
                let next = set.map_or(call, |set| (set, true));
                todo.push((target, next));
            }
        }
        languages
    }
}

/// Where `node` can lead, and the language a route sets on the way.
fn edges(node: &Node) -> Vec<(&str, Option<Language>)> {
    let menu = match &node.kind {
        NodeKind::Menu(menu) | NodeKind::SayDigits(SayDigits { menu, .. }) => menu,
        _ => {
            return referenced_nodes(node)
                .into_iter()
                .map(|key| (key, None))
                .collect();
        }
    };
    let routes = menu
        .routes
        .iter()
        .map(|route| (route.target.as_str(), route.set_language));
    let fallbacks = [&menu.on_timeout, &menu.on_invalid, &menu.on_exhausted]
        .into_iter()
        .filter_map(|key| Some((key.as_deref()?, None)));
    routes.chain(fallbacks).collect()
}

/// Every prompt of the flow with its path (nodes in key order, then the
/// goodbye) and the languages it plays in (`None`: a node no call reaches).
fn flow_prompts<'f>(
    flow: &'f Flow,
    languages: &'f Languages<'_>,
) -> Vec<(String, &'f Rec, Option<&'f BTreeSet<Language>>)> {
    let mut all = Vec::new();
    for (key, node) in sorted(&flow.nodes) {
        for (field, rec) in prompts(node) {
            all.push((format!("nodes.{key}.{field}"), rec, languages.at.get(key)));
        }
    }
    if let Some(goodbye) = &flow.goodbye {
        all.push(("goodbye".to_owned(), goodbye, Some(&languages.goodbye)));
    }
    all
}

/// `he, en` as prose.
fn listed(languages: impl IntoIterator<Item = Language>) -> String {
    languages
        .into_iter()
        .map(|language| format!("`{}`", language.as_str()))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// The nodes `node` can lead to (routes, fallbacks, failover, rule targets),
/// sorted, without duplicates: what storage keeps in its reference table.
pub fn referenced_nodes(node: &Node) -> Vec<&str> {
    keys_only(node_refs(node))
}

/// The schedules `node` uses in its rule conditions, sorted, without duplicates.
pub fn referenced_schedules(node: &Node) -> Vec<&str> {
    keys_only(schedule_refs(node))
}

fn keys_only(refs: Vec<(String, &str)>) -> Vec<&str> {
    let mut keys: Vec<&str> = refs.into_iter().map(|(_, key)| key).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Every node reference of `node`, with its path relative to the node.
fn node_refs(node: &Node) -> Vec<(String, &str)> {
    match &node.kind {
        NodeKind::Menu(menu) => menu_refs("", menu),
        NodeKind::SayDigits(say) => menu_refs("menu.", &say.menu),
        NodeKind::Call(call) => call
            .failover
            .iter()
            .map(|key| ("failover".to_owned(), key.as_str()))
            .collect(),
        NodeKind::Rules(rules) => rules
            .rules
            .iter()
            .enumerate()
            .map(|(index, rule)| (format!("rules[{index}].target"), rule.target.as_str()))
            .chain([("default".to_owned(), rules.default.as_str())])
            .collect(),
        NodeKind::Announcement(announcement) => {
            vec![("next".to_owned(), announcement.next.as_str())]
        }
        NodeKind::Hangup(_) | NodeKind::Vo(_) | NodeKind::SilentRecord(_) => Vec::new(),
    }
}

fn menu_refs<'a>(prefix: &str, menu: &'a Menu) -> Vec<(String, &'a str)> {
    let routes = menu.routes.iter().enumerate().map(|(index, route)| {
        (
            format!("{prefix}routes[{index}].target"),
            route.target.as_str(),
        )
    });
    let fallbacks = [
        ("on_timeout", &menu.on_timeout),
        ("on_invalid", &menu.on_invalid),
        ("on_exhausted", &menu.on_exhausted),
    ]
    .into_iter()
    .filter_map(|(field, key)| Some((format!("{prefix}{field}"), key.as_deref()?)));
    routes.chain(fallbacks).collect()
}

/// Every schedule reference of `node`, with its path relative to the node.
fn schedule_refs(node: &Node) -> Vec<(String, &str)> {
    let NodeKind::Rules(rules) = &node.kind else {
        return Vec::new();
    };
    rules
        .rules
        .iter()
        .enumerate()
        .filter_map(|(index, rule)| match &rule.when {
            Condition::Open { schedule } | Condition::Holiday { schedule } => {
                Some((format!("rules[{index}].when.schedule"), schedule.as_str()))
            }
            _ => None,
        })
        .collect()
}

fn sorted<V>(map: &HashMap<String, V>) -> Vec<(&str, &V)> {
    let mut entries: Vec<(&str, &V)> = map
        .iter()
        .map(|(key, value)| (key.as_str(), value))
        .collect();
    entries.sort_unstable_by_key(|(key, _)| *key);
    entries
}

struct Checker<'a> {
    flow: &'a Flow,
    issues: Vec<FlowIssue>,
    today: Option<chrono::NaiveDate>,
}

impl<'a> Checker<'a> {
    fn issue(&mut self, severity: Severity, path: String, message: impl Into<String>) {
        self.issues.push(FlowIssue {
            severity,
            path,
            message: message.into(),
        });
    }

    fn error(&mut self, path: String, message: impl Into<String>) {
        self.issue(Severity::Error, path, message);
    }

    fn node(&mut self, key: &str, node: &Node) {
        let at = format!("nodes.{key}");
        self.key(&at, key, &node.key);
        for (field, target) in node_refs(node) {
            if !self.flow.nodes.contains_key(target) {
                self.error(format!("{at}.{field}"), format!("no node {target:?}"));
            }
        }
        for (field, schedule) in schedule_refs(node) {
            if !self.flow.schedules.contains_key(schedule) {
                self.error(format!("{at}.{field}"), format!("no schedule {schedule:?}"));
            }
        }
        match &node.kind {
            NodeKind::Menu(menu) => self.menu(&at, menu),
            NodeKind::Announcement(announcement) => {
                self.prompt(&format!("{at}.prompt"), &announcement.prompt);
            }
            NodeKind::SayDigits(say) => {
                if let DigitsSource::Literal(digits) = &say.digits
                    && (digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()))
                {
                    self.error(format!("{at}.digits.value"), "must be digits 0-9");
                }
                self.rec(format!("{at}.intro_rec"), &say.intro_rec);
                self.menu(&format!("{at}.menu"), &say.menu);
            }
            NodeKind::Call(call) => self.call(&at, call),
            NodeKind::Hangup(hangup) => {
                self.optional_rec(format!("{at}.rec"), &hangup.rec);
                if let Some(cause) = hangup.cause {
                    self.range(format!("{at}.cause"), cause, &limits::HANGUP_CAUSE);
                }
            }
            NodeKind::Vo(vo) => {
                self.range(format!("{at}.layer"), vo.layer, &limits::LAYER);
                self.prompt(&format!("{at}.prompt"), &vo.prompt);
            }
            NodeKind::SilentRecord(record) => {
                self.optional_rec(format!("{at}.rec"), &record.rec);
                if let Some(secs) = record.max_duration_secs {
                    self.range(
                        format!("{at}.max_duration_secs"),
                        secs,
                        &limits::MAX_CALL_SECS,
                    );
                }
            }
            NodeKind::Rules(rules) => {
                for (index, rule) in rules.rules.iter().enumerate() {
                    self.condition(&format!("{at}.rules[{index}].when"), &rule.when);
                }
            }
        }
    }

    /// A node's or a schedule's key, as stored (`key`) and as written in it (`own`).
    fn key(&mut self, at: &str, key: &str, own: &str) {
        if !state::is_valid_key(key) {
            self.error(
                format!("{at}.key"),
                format!(
                    "{key:?} is not a valid key: 1 to {} of A-Z a-z 0-9 _ . - (and not -1)",
                    state::MAX_KEY_LEN
                ),
            );
        }
        if own != key {
            self.error(
                format!("{at}.key"),
                format!("{own:?} differs from the key {key:?} it is stored under"),
            );
        }
    }

    fn menu(&mut self, at: &str, menu: &Menu) {
        self.prompt(&format!("{at}.prompt"), &menu.prompt);
        self.range(
            format!("{at}.max_digits"),
            menu.max_digits,
            &limits::MAX_DIGITS,
        );
        self.range(
            format!("{at}.max_retries"),
            i64::from(menu.max_retries),
            &widen(&limits::MAX_RETRIES),
        );
        self.optional_rec(format!("{at}.retry_rec"), &menu.retry_rec);
        for (index, route) in menu.routes.iter().enumerate() {
            let path = format!("{at}.routes[{index}].digits");
            match pattern::parse(&route.digits) {
                Err(error) => self.error(path, error.to_string()),
                Ok(parsed)
                    if i64::try_from(parsed.min_len).unwrap_or(i64::MAX) > menu.max_digits =>
                {
                    self.error(
                        path,
                        format!(
                            "needs at least {} digits but the menu collects at most {} (max_digits): it can never match",
                            parsed.min_len, menu.max_digits
                        ),
                    );
                }
                Ok(_) => {}
            }
        }
    }

    fn prompt(&mut self, at: &str, prompt: &Prompt) {
        self.rec(format!("{at}.rec"), &prompt.rec);
        self.range(format!("{at}.loops"), prompt.loops, &limits::LOOPS);
        self.range(format!("{at}.delay"), prompt.delay, &limits::DELAY_SECS);
    }

    fn call(&mut self, at: &str, call: &Call) {
        self.dialable(format!("{at}.target"), &call.target);
        if let Some(caller_id) = &call.caller_id {
            self.dialable(format!("{at}.caller_id"), caller_id);
        }
        self.optional_rec(format!("{at}.caller_rec"), &call.caller_rec);
        self.optional(format!("{at}.moh_class"), &call.moh_class);
        self.optional_rec(format!("{at}.target_rec"), &call.target_rec);
        if let Some(dtmf) = &call.dtmf_play {
            // What Asterisk's SendDTMF plays: DTMF keys, and `w` for a half-second pause.
            if dtmf.is_empty() || !dtmf.chars().all(|c| "0123456789*#ABCDabcdwW".contains(c)) {
                self.error(
                    format!("{at}.dtmf_play"),
                    "must be DTMF keys (0-9 * # A-D) and w (pause)",
                );
            }
        }
        self.range(
            format!("{at}.max_dial_secs"),
            call.max_dial_secs,
            &limits::MAX_DIAL_SECS,
        );
        self.range(
            format!("{at}.max_call_secs"),
            call.max_call_secs,
            &limits::MAX_CALL_SECS,
        );
        for (index, dialstring) in call.dialstrings.iter().enumerate() {
            self.required(format!("{at}.dialstrings[{index}]"), dialstring);
        }
    }

    fn condition(&mut self, at: &str, condition: &Condition) {
        let (field, numbers) = match condition {
            Condition::CallerIn { numbers } | Condition::DidIn { numbers } => ("numbers", numbers),
            Condition::CallerPrefix { prefixes } => ("prefixes", prefixes),
            Condition::Open { .. } | Condition::Holiday { .. } | Condition::CallerHidden => return,
        };
        if numbers.is_empty() {
            self.error(
                format!("{at}.{field}"),
                "empty: the condition would never hold",
            );
        }
        for (index, number) in numbers.iter().enumerate() {
            let has_digit = number.bytes().any(|b| b.is_ascii_digit());
            let only_number = number
                .chars()
                .all(|c| c.is_ascii_digit() || "+-() .".contains(c));
            if !has_digit || !only_number {
                self.error(
                    format!("{at}.{field}[{index}]"),
                    format!("{number:?} is not a phone number (digits, with + - ( ) . and spaces)"),
                );
            }
        }
    }

    fn schedule(&mut self, key: &str, schedule: &Schedule) {
        let at = format!("schedules.{key}");
        self.key(&at, key, &schedule.key);
        for (index, hours) in schedule.hours.iter().enumerate() {
            if is_empty_interval(hours) {
                self.error(
                    format!("{at}.hours[{index}]"),
                    "opens and closes at the same time: never open (00:00-00:00 is the whole day)",
                );
            }
            for (field, time) in [("opens", hours.opens), ("closes", hours.closes)] {
                if chrono::Timelike::nanosecond(&time) != 0 {
                    self.error(
                        format!("{at}.hours[{index}].{field}"),
                        "whole seconds only: HH:MM or HH:MM:SS",
                    );
                }
            }
        }
        for (a, b) in super::schedule::overlapping(&schedule.hours) {
            self.issue(
                Severity::Warning,
                format!("{at}.hours[{b}]"),
                format!("overlaps hours[{a}]: the two ranges are open at the same time"),
            );
        }
        let mut seen = HashSet::new();
        for (index, holiday) in schedule.holidays.iter().enumerate() {
            if !seen.insert(holiday.date) {
                self.error(
                    format!("{at}.holidays[{index}].date"),
                    format!("{} is listed twice", holiday.date),
                );
            }
        }
        match &schedule.calendar {
            Some(calendar) => {
                let at = format!("{at}.calendar");
                self.day_rule(&format!("{at}.rest_days"), &calendar.rest_days);
                self.day_rule(&format!("{at}.eves"), &calendar.eves);
                self.day_rule(&format!("{at}.other_days"), &calendar.other_days);
                for (occasion, rule) in &calendar.exceptions {
                    self.day_rule(&format!("{at}.exceptions.{}", occasion.key()), rule);
                }
            }
            None => self.rest_days_open(&at, schedule),
        }
    }

    /// Announcements whose `next` leads back to them through announcements
    /// only: the caller hears them for ever, with no key to press (a
    /// warning: legal, but surely unintended). Reported once per loop, at
    /// its first node in key order.
    fn announcement_loops(&mut self) {
        let next_announcement = |key: &str| match self.flow.nodes.get(key).map(|n| &n.kind) {
            Some(NodeKind::Announcement(announcement)) => Some(announcement.next.as_str()),
            _ => None,
        };
        let mut reported: HashSet<&str> = HashSet::new();
        let mut loops = Vec::new();
        for (key, _) in sorted(&self.flow.nodes) {
            if reported.contains(key) || next_announcement(key).is_none() {
                continue;
            }
            let mut path = vec![key];
            let mut at = key;
            while let Some(next) = next_announcement(at) {
                if next == key {
                    reported.extend(path.iter().copied());
                    path.push(key);
                    loops.push((key, path.join(" → ")));
                    break;
                }
                if path.contains(&next) || path.len() > self.flow.nodes.len() {
                    break;
                }
                path.push(next);
                at = next;
            }
        }
        for (key, shown) in loops {
            self.issue(
                Severity::Warning,
                format!("nodes.{key}.next"),
                format!(
                    "announcements play in a loop with no menu ({shown}): callers can only hang up"
                ),
            );
        }
    }

    /// A calendar day's own hours: at least one range, each opening before
    /// it closes, within the day.
    fn day_rule(&mut self, at: &str, rule: &DayRule) {
        let DayRule::Hours(ranges) = rule else {
            return;
        };
        if ranges.is_empty() {
            self.error(
                format!("{at}.hours"),
                "no range: give at least one, or write \"closed\"",
            );
        }
        for (index, range) in ranges.iter().enumerate() {
            if range.closes != chrono::NaiveTime::MIN && range.closes <= range.opens {
                self.error(
                    format!("{at}.hours[{index}]"),
                    format!(
                        "closes ({}) before it opens ({}): a calendar day's range stays within the day (24:00 is its end)",
                        range.closes.format("%H:%M"),
                        range.opens.format("%H:%M")
                    ),
                );
            }
        }
    }

    /// A schedule that names no calendar but is open on Israeli rest days
    /// of the coming year: probably meant to close on them.
    fn rest_days_open(&mut self, at: &str, schedule: &Schedule) {
        use super::calendar::{CalendarName, DayKind};
        let Some(today) = self.today else {
            return;
        };
        let calendar = CalendarName::Israel;
        let open_on: Vec<String> = calendar
            .days(today, today + chrono::Days::new(366))
            .into_iter()
            .filter(|(date, occasion)| {
                occasion.kind() == DayKind::Rest
                    && !schedule.holidays.iter().any(|h| h.date == *date)
                    && open_some_time(schedule, *date)
            })
            .map(|(date, occasion)| format!("{} {date}", occasion.name_en()))
            .collect();
        if let Some(first) = open_on.first() {
            self.issue(
                Severity::Warning,
                format!("{at}.hours"),
                format!(
                    "open on {} Israeli rest day{} of the coming year ({first}{}): to close on them, add \"calendar\": {{\"name\": \"{}\"}}",
                    open_on.len(),
                    if open_on.len() == 1 { "" } else { "s" },
                    if open_on.len() > 1 { ", …" } else { "" },
                    calendar.as_str()
                ),
            );
        }
    }

    /// Rule nodes must end at a node that answers: no loop among them, and no
    /// chain longer than the engine follows.
    fn rule_graph(&mut self) {
        // Rule node → the rule nodes it leads to.
        let graph: BTreeMap<&str, Vec<&str>> = sorted(&self.flow.nodes)
            .into_iter()
            .filter(|(_, node)| matches!(node.kind, NodeKind::Rules(_)))
            .map(|(key, node)| {
                let next = referenced_nodes(node)
                    .into_iter()
                    .filter(|target| {
                        self.flow
                            .nodes
                            .get(*target)
                            .is_some_and(|node| matches!(node.kind, NodeKind::Rules(_)))
                    })
                    .collect();
                (key, next)
            })
            .collect();
        let chains = longest_chains(&graph);
        if let Some((start, length)) = chains
            .iter()
            .filter(|(_, length)| **length > RULE_HOP_LIMIT)
            .max_by_key(|(key, length)| (**length, std::cmp::Reverse(**key)))
        {
            self.error(
                format!("nodes.{start}"),
                format!(
                    "{length} rule nodes in a row start here: at most {RULE_HOP_LIMIT} are followed"
                ),
            );
        }
        for cycle in cycles(&graph, &chains) {
            let mut shown = cycle.join(" → ");
            shown.push_str(" → ");
            shown.push_str(cycle[0]);
            self.error(
                format!("nodes.{}", cycle[0]),
                format!("rule loop: {shown}; rules must end at a node that answers"),
            );
        }
    }

    fn reachability(&mut self, entry_nodes: &[&str]) {
        if entry_nodes.is_empty() {
            return;
        }
        let mut reached: HashSet<&str> = HashSet::new();
        let mut todo: Vec<&str> = entry_nodes.to_vec();
        while let Some(key) = todo.pop() {
            let Some(node) = self.flow.nodes.get(key) else {
                continue;
            };
            if reached.insert(key) {
                todo.extend(referenced_nodes(node));
            }
        }
        for (key, _) in sorted(&self.flow.nodes) {
            if !reached.contains(key) {
                self.issue(
                    Severity::Warning,
                    format!("nodes.{key}"),
                    "no DID's entry node leads here",
                );
            }
        }
    }

    fn required(&mut self, path: String, text: &str) {
        if text.trim().is_empty() {
            self.error(path, "must not be empty");
        }
    }

    fn optional(&mut self, path: String, text: &Option<String>) {
        if let Some(text) = text {
            self.required(path, text);
        }
    }

    /// Every recording of a prompt must be named.
    fn rec(&mut self, path: String, rec: &Rec) {
        for (path, name) in names_at(path, rec) {
            self.required(path, name);
        }
    }

    fn optional_rec(&mut self, path: String, rec: &Option<Rec>) {
        if let Some(rec) = rec {
            self.rec(path, rec);
        }
    }

    /// Every prompt has a recording for every language its node plays in
    /// (and the goodbye, for every language a call can be in).
    fn languages(&mut self, languages: &Languages<'_>) {
        let prompts = flow_prompts(self.flow, languages)
            .into_iter()
            .filter_map(|(path, rec, plays)| Some((path, rec, plays?)));
        for (path, rec, plays) in prompts {
            let missing: Vec<Language> = plays
                .iter()
                .copied()
                .filter(|language| rec.pick(*language).is_none())
                .collect();
            if !missing.is_empty() {
                self.error(
                    path,
                    format!(
                        "no recording for {}: calls can be here in {} (a number's or the tenant's language, or a route's set_language); add {} or a \"default\"",
                        listed(missing.iter().copied()),
                        listed(plays.iter().copied()),
                        missing
                            .iter()
                            .map(|language| format!("\"{}\"", language.as_str()))
                            .collect::<Vec<_>>()
                            .join(" and "),
                    ),
                );
            }
        }
    }

    /// Every recording named is in the catalogue; one in another language
    /// than the calls that hear it is a warning.
    fn catalogue(&mut self, recordings: &Catalogue, languages: &Languages<'_>) {
        for (field, rec, plays) in flow_prompts(self.flow, languages) {
            for (key, name) in rec.names() {
                let path = match key {
                    None => field.clone(),
                    Some(key) => format!("{field}.{key}"),
                };
                if name.trim().is_empty() {
                    continue;
                }
                let Some(catalogued) = recordings.get(name) else {
                    self.error(
                        path,
                        format!(
                            "no recording {name:?} in the tenant's catalogue (see /recordings)"
                        ),
                    );
                    continue;
                };
                let Some(recorded_in) = catalogued else {
                    continue;
                };
                // The languages this recording is played in.
                let heard_in: Vec<Language> = match key.and_then(Language::parse) {
                    Some(language) => vec![language],
                    None => plays
                        .into_iter()
                        .flatten()
                        .copied()
                        .filter(|language| match rec {
                            Rec::One(_) => true,
                            // `default`: the languages the map does not list.
                            Rec::PerLanguage { by_language, .. } => {
                                !by_language.contains_key(language)
                            }
                        })
                        .collect(),
                };
                let other: Vec<Language> = heard_in
                    .into_iter()
                    .filter(|language| language != recorded_in)
                    .collect();
                if !other.is_empty() {
                    self.issue(
                        Severity::Warning,
                        path,
                        format!(
                            "recording {name:?} is in `{}` (the catalogue says) but is played to calls in {}",
                            recorded_in.as_str(),
                            listed(other)
                        ),
                    );
                }
            }
        }
    }

    fn dialable(&mut self, path: String, number: &str) {
        if number.is_empty()
            || !number
                .chars()
                .all(|c| c.is_ascii_digit() || "+*#".contains(c))
        {
            self.error(path, "must be a number to dial: digits, +, * and #");
        }
    }

    fn range(&mut self, path: String, value: i64, range: &RangeInclusive<i64>) {
        if !range.contains(&value) {
            self.error(path, out_of_range(value, range));
        }
    }
}

fn widen(range: &RangeInclusive<u32>) -> RangeInclusive<i64> {
    i64::from(*range.start())..=i64::from(*range.end())
}

fn out_of_range(value: i64, range: &RangeInclusive<impl Display>) -> String {
    format!(
        "{value} is out of range {}..={}",
        range.start(),
        range.end()
    )
}

/// For each rule node not on or leading into a loop: how many rule nodes
/// in a row the longest chain from it passes (itself included). Kahn's
/// algorithm on the reversed graph: iterative, so that no flow can overflow
/// the stack.
fn longest_chains<'a>(graph: &BTreeMap<&'a str, Vec<&'a str>>) -> BTreeMap<&'a str, usize> {
    let mut pending: HashMap<&str, usize> =
        graph.iter().map(|(key, next)| (*key, next.len())).collect();
    let mut before: HashMap<&str, Vec<&str>> = HashMap::new();
    for (key, next) in graph {
        for target in next {
            before.entry(*target).or_default().push(*key);
        }
    }
    let mut ready: Vec<&str> = graph
        .iter()
        .filter(|(_, next)| next.is_empty())
        .map(|(key, _)| *key)
        .collect();
    let mut chains = BTreeMap::new();
    while let Some(key) = ready.pop() {
        let longest_next = graph
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|target| chains.get(target))
            .max()
            .copied()
            .unwrap_or(0);
        chains.insert(key, longest_next + 1);
        for previous in before.get(key).into_iter().flatten() {
            if let Some(count) = pending.get_mut(previous) {
                *count -= 1;
                if *count == 0 {
                    ready.push(previous);
                }
            }
        }
    }
    chains
}

/// The loops among rule nodes, each once, each starting at the first of its
/// nodes met in key order. `chains` holds the nodes that lead to no loop:
/// every other node has a successor that is not in it either, so walking
/// such successors must come back to a node already walked.
fn cycles<'a>(
    graph: &BTreeMap<&'a str, Vec<&'a str>>,
    chains: &BTreeMap<&'a str, usize>,
) -> Vec<Vec<&'a str>> {
    let mut walked: HashSet<&str> = HashSet::new();
    let mut found = Vec::new();
    for &start in graph.keys() {
        if chains.contains_key(start) || walked.contains(start) {
            continue;
        }
        let mut path: Vec<&str> = Vec::new();
        let mut current = Some(start);
        while let Some(key) = current {
            if let Some(at) = path.iter().position(|walked| *walked == key) {
                found.push(path.split_off(at));
                break;
            }
            if !walked.insert(key) {
                // Leads into a loop found from an earlier start.
                break;
            }
            path.push(key);
            current = graph
                .get(key)
                .into_iter()
                .flatten()
                .copied()
                .find(|next| !chains.contains_key(next));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::voicenter::types::Language;

    fn flow(nodes: serde_json::Value) -> Flow {
        let nodes: Vec<Node> = serde_json::from_value(nodes).expect("test nodes");
        Flow {
            version: None,
            time_zone: chrono_tz::Asia::Jerusalem,
            language: Language::He,
            nodes: nodes
                .into_iter()
                .map(|node| (node.key.clone(), node))
                .collect(),
            schedules: HashMap::new(),
            goodbye: None,
        }
    }

    fn node(value: serde_json::Value) -> Node {
        serde_json::from_value(value).expect("test node")
    }

    /// Validates with entry points at `entry_nodes` (DIDs `d0`, `d1`, …).
    fn check(flow: &Flow, entry_nodes: &[&str]) -> Vec<FlowIssue> {
        let entries: Vec<EntryPoint> = entry_nodes
            .iter()
            .enumerate()
            .map(|(index, key)| EntryPoint::at(&format!("d{index}"), key))
            .collect();
        validate(
            flow,
            &Context {
                entries: &entries,
                recordings: None,
                today: None,
            },
        )
    }

    /// The (path, first words of the message) of every error.
    fn errors(flow: &Flow, entries: &[&str]) -> Vec<(String, String)> {
        check(flow, entries)
            .into_iter()
            .filter(FlowIssue::is_error)
            .map(|issue| (issue.path, issue.message))
            .collect()
    }

    #[track_caller]
    fn assert_error(flow: &Flow, path: &str, message_part: &str) {
        let errors = errors(flow, &[]);
        assert!(
            errors
                .iter()
                .any(|(p, m)| p == path && m.contains(message_part)),
            "no error at {path} containing {message_part:?} in {errors:#?}"
        );
    }

    fn sound() -> Flow {
        flow(json!([
            {"key": "main", "kind": "menu", "prompt": {"rec": "welcome"}, "max_digits": 2,
             "routes": [
                {"digits": "1", "target": "hours"},
                {"digits": "_[2-3]", "target": "confirm", "set_language": "en"},
                {"digits": "_X.", "target": "bye"}
             ],
             "on_timeout": "bye", "on_invalid": "main", "on_exhausted": "bye"},
            {"key": "hours", "kind": "rules", "rules": [
                {"when": {"type": "caller_prefix", "prefixes": ["+972 50"]}, "target": "sales"}
             ], "default": "bye"},
            {"key": "sales", "kind": "call", "target": "0501111111", "failover": "vm"},
            {"key": "confirm", "kind": "say_digits", "digits": {"from": "literal", "value": "123"},
             "intro_rec": "you_said", "menu": {"prompt": {"rec": "p"}, "routes": []}},
            {"key": "vm", "kind": "silent_record", "max_duration_secs": 120},
            {"key": "bye", "kind": "hangup", "rec": "bye", "cause": 16},
            {"key": "layer", "kind": "vo", "layer": 2, "prompt": {"rec": "x"}}
        ]))
    }

    #[test]
    fn every_language_a_node_is_reached_in_needs_a_recording() {
        let mut bilingual = flow(json!([
            {"key": "main", "kind": "menu", "prompt": {"rec": {"he": "main_he"}},
             "retry_rec": {"he": "again_he", "default": "again"},
             "routes": [{"digits": "3", "target": "english", "set_language": "en"},
                        {"digits": "4", "target": "info"}]},
            {"key": "english", "kind": "menu", "prompt": {"rec": {"en": "menu_en"}},
             "routes": [{"digits": "0", "target": "main", "set_language": "he"},
                        {"digits": "9", "target": "info"}]},
            {"key": "info", "kind": "announcement", "prompt": {"rec": "info"}, "next": "main"},
            {"key": "fr", "kind": "hangup", "rec": {"he": "x"}}
        ]));
        bilingual.goodbye = Some(serde_json::from_value(json!({"he": "bye_he"})).unwrap());
        let found = errors(&bilingual, &["main"]);
        assert_eq!(
            found
                .iter()
                .map(|(path, _)| path.as_str())
                .collect::<Vec<_>>(),
            ["nodes.main.prompt.rec", "goodbye"],
            "{found:#?}"
        );
        assert!(
            found[0]
                .1
                .starts_with("no recording for `en`: calls can be here in `he` and `en`"),
            "{found:#?}"
        );
        assert!(
            found[0].1.contains("add \"en\" or a \"default\""),
            "{found:#?}"
        );
        // `english` is only reached in English; `fr` not at all (a warning
        // says so); a default or a single name covers every language.
        // A DID in English makes `main` English from the start too.
        let entries = [EntryPoint {
            language: Some(Language::En),
            ..EntryPoint::at("d0", "english")
        }];
        let context = Context {
            entries: &entries,
            recordings: None,
            today: None,
        };
        let paths: Vec<String> = validate(&bilingual, &context)
            .into_iter()
            .filter(FlowIssue::is_error)
            .map(|issue| issue.path)
            .collect();
        assert_eq!(paths, ["nodes.main.prompt.rec", "goodbye"]);
        // A node's own language wins over the DID's, not over the caller's choice.
        let own = flow(json!([
            {"key": "main", "kind": "menu", "language": "en", "prompt": {"rec": {"en": "m"}},
             "routes": [{"digits": "1", "target": "next", "set_language": "he"}]},
            {"key": "next", "kind": "menu", "language": "en", "prompt": {"rec": {"en": "n"}}}
        ]));
        assert_eq!(
            errors(&own, &["main"]),
            [(
                "nodes.next.prompt.rec".to_owned(),
                "no recording for `he`: calls can be here in `he` (a number's or the tenant's language, or a route's set_language); add \"he\" or a \"default\"".to_owned()
            )]
        );
    }

    #[test]
    fn recordings_in_another_language_than_their_calls_are_warned_about() {
        let bilingual = flow(json!([
            {"key": "main", "kind": "menu", "prompt": {"rec": {"he": "main_en", "en": "main_en"}},
             "retry_rec": "again",
             "routes": [{"digits": "3", "target": "main", "set_language": "en"}]}
        ]));
        let recordings: Catalogue = [
            ("main_en".to_owned(), Some(Language::En)),
            ("again".to_owned(), Some(Language::He)),
        ]
        .into();
        let entries = [EntryPoint::at("d0", "main")];
        let issues = validate(
            &bilingual,
            &Context {
                entries: &entries,
                recordings: Some(&recordings),
                today: None,
            },
        );
        let found: Vec<(&str, Severity, &str)> = issues
            .iter()
            .map(|i| (i.path.as_str(), i.severity, i.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "nodes.main.prompt.rec.he",
                    Severity::Warning,
                    "recording \"main_en\" is in `en` (the catalogue says) but is played to calls in `he`"
                ),
                (
                    "nodes.main.retry_rec",
                    Severity::Warning,
                    "recording \"again\" is in `he` (the catalogue says) but is played to calls in `en`"
                ),
            ]
        );
    }

    #[test]
    fn announcements_in_a_loop_without_a_menu_are_warned_about() {
        let flow = flow(json!([
            {"key": "a", "kind": "announcement", "prompt": {"rec": "x"}, "next": "b"},
            {"key": "b", "kind": "announcement", "prompt": {"rec": "x"}, "next": "a"},
            {"key": "self", "kind": "announcement", "prompt": {"rec": "x"}, "next": "self"},
            {"key": "hours", "kind": "announcement", "prompt": {"rec": "x"}, "next": "main"},
            {"key": "main", "kind": "menu", "prompt": {"rec": "x"},
             "routes": [{"digits": "1", "target": "hours"}, {"digits": "2", "target": "a"}]}
        ]));
        let warnings: Vec<(String, String)> = check(&flow, &[])
            .into_iter()
            .filter(|issue| issue.message.contains("loop with no menu"))
            .map(|issue| (issue.path, issue.message))
            .collect();
        assert_eq!(
            warnings,
            [
                (
                    "nodes.a.next".to_owned(),
                    "announcements play in a loop with no menu (a → b → a): callers can only hang up".to_owned()
                ),
                (
                    "nodes.self.next".to_owned(),
                    "announcements play in a loop with no menu (self → self): callers can only hang up".to_owned()
                ),
            ],
            "hours → main is no loop: main is a menu"
        );
    }

    #[test]
    fn announcements_need_a_next_node_and_a_recording() {
        let flow = flow(json!([
            {"key": "a", "kind": "announcement", "prompt": {"rec": {"he": " "}}, "next": "nowhere"}
        ]));
        assert_error(&flow, "nodes.a.next", "no node \"nowhere\"");
        assert_error(&flow, "nodes.a.prompt.rec.he", "must not be empty");
        let missing = serde_json::from_value::<Node>(
            json!({"key": "a", "kind": "announcement", "prompt": {"rec": "x"}}),
        )
        .unwrap_err();
        assert!(
            missing.to_string().contains("missing field `next`"),
            "{missing}"
        );
    }

    #[test]
    fn missing_recordings_are_errors_at_their_fields() {
        let flow = flow(json!([
            {"key": "m", "kind": "menu", "prompt": {"rec": "welcome"}, "retry_rec": "again",
             "routes": [{"digits": "1", "target": "s"}]},
            {"key": "s", "kind": "say_digits", "digits": {"from": "caller_id"}, "intro_rec": "your_number",
             "menu": {"prompt": {"rec": "welcome"}}},
            {"key": "c", "kind": "call", "target": "1", "caller_rec": "wait", "target_rec": "whisper"},
            {"key": "h", "kind": "hangup", "rec": "bye"},
            {"key": "v", "kind": "vo", "layer": 1, "prompt": {"rec": "transfer"}},
            {"key": "r", "kind": "silent_record", "rec": "beep"}
        ]));
        let recordings: Catalogue = [("welcome".to_owned(), None)].into();
        let context = Context {
            entries: &[],
            recordings: Some(&recordings),
            today: None,
        };
        let issues: Vec<FlowIssue> = validate(&flow, &context)
            .into_iter()
            .filter(|issue| issue.message.contains("recording"))
            .collect();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "nodes.c.caller_rec",
                "nodes.c.target_rec",
                "nodes.h.rec",
                "nodes.m.retry_rec",
                "nodes.r.rec",
                "nodes.s.intro_rec",
                "nodes.v.prompt.rec",
            ]
        );
        assert!(issues.iter().all(FlowIssue::is_error));
        assert!(
            issues[2].message.contains("no recording \"bye\""),
            "{issues:?}"
        );
        // Without a catalogue, recordings are not checked.
        assert!(
            check(&flow, &[])
                .iter()
                .all(|issue| !issue.message.contains("recording"))
        );
    }

    #[test]
    fn entries_pointing_nowhere_and_oversized_fields() {
        let long = "x".repeat(MAX_TEXT + 1);
        let flow = flow(json!([{"key": "c", "kind": "call", "target": "1", "caller_name": long}]));
        let entries = [EntryPoint::at("0731", "gone")];
        let context = Context {
            entries: &entries,
            recordings: None,
            today: None,
        };
        let paths: Vec<String> = validate(&flow, &context)
            .into_iter()
            .filter(FlowIssue::is_error)
            .map(|issue| issue.path)
            .collect();
        assert_eq!(paths, ["dids.0731.entry_node", "nodes.c.caller_name"]);
    }

    #[test]
    fn a_sound_flow_has_no_issue_but_unreachable_nodes() {
        assert_eq!(check(&sound(), &[]), vec![]);
        assert_eq!(
            check(&sound(), &["main"]),
            vec![FlowIssue {
                severity: Severity::Warning,
                path: "nodes.layer".into(),
                message: "no DID's entry node leads here".into(),
            }]
        );
        assert_eq!(check(&sound(), &["main", "layer"]), vec![]);
    }

    #[test]
    fn missing_entry_node() {
        assert_eq!(
            errors(&sound(), &["main", "gone"]),
            vec![(
                "dids.d1.entry_node".to_owned(),
                "no node \"gone\"".to_owned()
            )]
        );
    }

    #[test]
    fn key_syntax() {
        let mut flow = sound();
        for bad in ["a b", "-1", "a~b", ""] {
            let mut node = flow.nodes["bye"].clone();
            node.key = bad.into();
            flow.nodes.insert(bad.into(), node);
        }
        for bad in ["a b", "-1", "a~b", ""] {
            assert_error(&flow, &format!("nodes.{bad}.key"), "is not a valid key");
        }
    }

    #[test]
    fn key_must_match_the_map_key() {
        let mut flow = sound();
        if let Some(node) = flow.nodes.get_mut("bye") {
            node.key = "ciao".into();
        }
        assert_error(&flow, "nodes.bye.key", "differs from the key");
    }

    #[test]
    fn dangling_references() {
        let flow = flow(json!([
            {"key": "main", "kind": "menu", "prompt": {"rec": "x"},
             "routes": [{"digits": "1", "target": "nope"}],
             "on_timeout": "t", "on_invalid": "i", "on_exhausted": "e"},
            {"key": "sd", "kind": "say_digits", "digits": {"from": "did"}, "intro_rec": "x",
             "menu": {"prompt": {"rec": "x"}, "routes": [{"digits": "1", "target": "nope"}]}},
            {"key": "dial", "kind": "call", "target": "1", "failover": "f"},
            {"key": "r", "kind": "rules", "rules": [
                {"when": {"type": "open", "schedule": "office"}, "target": "x"},
                {"when": {"type": "holiday", "schedule": "hol"}, "target": "main"}
             ], "default": "d"}
        ]));
        let errors = errors(&flow, &[]);
        let paths: Vec<&str> = errors.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "nodes.dial.failover",
                "nodes.main.routes[0].target",
                "nodes.main.on_timeout",
                "nodes.main.on_invalid",
                "nodes.main.on_exhausted",
                "nodes.r.rules[0].target",
                "nodes.r.default",
                "nodes.r.rules[0].when.schedule",
                "nodes.r.rules[1].when.schedule",
                "nodes.sd.menu.routes[0].target",
            ]
        );
        assert!(errors[0].1.contains("no node \"f\""));
        assert!(errors[7].1.contains("no schedule \"office\""));
    }

    #[test]
    fn route_patterns_must_parse() {
        let flow = flow(json!([
            {"key": "main", "kind": "menu", "prompt": {"rec": "x"}, "max_digits": 5,
             "routes": [{"digits": "_1[", "target": "main"}, {"digits": "1a", "target": "main"}]}
        ]));
        assert_error(&flow, "nodes.main.routes[0].digits", "never closed");
        assert_error(&flow, "nodes.main.routes[1].digits", "'a' (character 2)");
    }

    #[test]
    fn routes_that_can_never_match() {
        let flow = flow(json!([
            {"key": "main", "kind": "menu", "prompt": {"rec": "x"}, "max_digits": 2,
             "routes": [
                {"digits": "123", "target": "main"},
                {"digits": "_XX.", "target": "main"},
                {"digits": "_XX!", "target": "main"},
                {"digits": "12", "target": "main"}
             ]}
        ]));
        assert_eq!(
            errors(&flow, &[])
                .into_iter()
                .map(|(path, _)| path)
                .collect::<Vec<_>>(),
            ["nodes.main.routes[0].digits", "nodes.main.routes[1].digits"]
        );
        assert_error(
            &flow,
            "nodes.main.routes[0].digits",
            "needs at least 3 digits",
        );
    }

    #[test]
    fn out_of_range_fields() {
        let flow = flow(json!([
            {"key": "m", "kind": "menu", "prompt": {"rec": "x", "loops": 0, "delay": 31},
             "max_digits": 21, "max_retries": 11, "routes": []},
            {"key": "c", "kind": "call", "target": "1", "max_dial_secs": 0, "max_call_secs": 86401},
            {"key": "h", "kind": "hangup", "cause": 128},
            {"key": "v", "kind": "vo", "layer": -1, "prompt": {"rec": "x", "loops": 11}},
            {"key": "s", "kind": "silent_record", "max_duration_secs": 0}
        ]));
        for path in [
            "nodes.m.prompt.loops",
            "nodes.m.prompt.delay",
            "nodes.m.max_digits",
            "nodes.m.max_retries",
            "nodes.c.max_dial_secs",
            "nodes.c.max_call_secs",
            "nodes.h.cause",
            "nodes.v.layer",
            "nodes.v.prompt.loops",
            "nodes.s.max_duration_secs",
        ] {
            assert_error(&flow, path, "out of range");
        }
        assert_error(&flow, "nodes.h.cause", "128 is out of range 1..=127");
    }

    #[test]
    fn empty_and_malformed_strings() {
        let flow = flow(json!([
            {"key": "m", "kind": "menu", "prompt": {"rec": " "}, "retry_rec": "", "routes": []},
            {"key": "c", "kind": "call", "target": "050-1234567", "caller_id": "",
             "caller_rec": "", "dtmf_play": "12x", "dialstrings": [" "]},
            {"key": "c2", "kind": "call", "target": ""},
            {"key": "h", "kind": "hangup", "rec": ""},
            {"key": "sd", "kind": "say_digits", "digits": {"from": "literal", "value": "12a"},
             "intro_rec": "", "menu": {"prompt": {"rec": "x"}}},
            {"key": "sr", "kind": "silent_record", "rec": ""},
            {"key": "v", "kind": "vo", "layer": 1, "prompt": {"rec": ""}}
        ]));
        for (path, message) in [
            ("nodes.m.prompt.rec", "must not be empty"),
            ("nodes.m.retry_rec", "must not be empty"),
            ("nodes.c.target", "number to dial"),
            ("nodes.c.caller_id", "number to dial"),
            ("nodes.c.caller_rec", "must not be empty"),
            ("nodes.c.dtmf_play", "DTMF keys"),
            ("nodes.c.dialstrings[0]", "must not be empty"),
            ("nodes.c2.target", "number to dial"),
            ("nodes.h.rec", "must not be empty"),
            ("nodes.sd.digits.value", "digits"),
            ("nodes.sd.intro_rec", "must not be empty"),
            ("nodes.sr.rec", "must not be empty"),
            ("nodes.v.prompt.rec", "must not be empty"),
        ] {
            assert_error(&flow, path, message);
        }
        let fine =
            flow_with_call(json!({"target": "+972*50#", "caller_id": "0733", "dtmf_play": "1w2#"}));
        assert_eq!(errors(&fine, &[]), vec![]);
    }

    fn flow_with_call(fields: serde_json::Value) -> Flow {
        let mut call = json!({"key": "c", "kind": "call"});
        if let (Some(call), Some(fields)) = (call.as_object_mut(), fields.as_object()) {
            call.extend(fields.clone());
        }
        flow(json!([call]))
    }

    #[test]
    fn conditions_need_phone_numbers() {
        let flow = flow(json!([
            {"key": "r", "kind": "rules", "default": "r2", "rules": [
                {"when": {"type": "caller_in", "numbers": []}, "target": "r2"},
                {"when": {"type": "did_in", "numbers": ["073-300 0000", "abc"]}, "target": "r2"},
                {"when": {"type": "caller_prefix", "prefixes": ["+"]}, "target": "r2"}
            ]},
            {"key": "r2", "kind": "hangup"}
        ]));
        assert_error(&flow, "nodes.r.rules[0].when.numbers", "never hold");
        assert_error(
            &flow,
            "nodes.r.rules[1].when.numbers[1]",
            "not a phone number",
        );
        assert_error(
            &flow,
            "nodes.r.rules[2].when.prefixes[0]",
            "not a phone number",
        );
        assert_eq!(errors(&flow, &[]).len(), 3);
    }

    fn rules(key: &str, targets: &[&str], default: &str) -> serde_json::Value {
        let rules: Vec<_> = targets
            .iter()
            .map(|target| json!({"when": {"type": "caller_hidden"}, "target": target}))
            .collect();
        json!({"key": key, "kind": "rules", "rules": rules, "default": default})
    }

    #[test]
    fn rule_loops() {
        let flow = flow(json!([
            rules("a", &["b"], "end"),
            rules("b", &["end"], "c"),
            rules("c", &[], "a"),
            rules("into", &[], "b"),
            rules("me", &[], "me"),
            {"key": "end", "kind": "hangup"}
        ]));
        assert_eq!(
            errors(&flow, &[]),
            vec![
                (
                    "nodes.a".to_owned(),
                    "rule loop: a → b → c → a; rules must end at a node that answers".to_owned()
                ),
                (
                    "nodes.me".to_owned(),
                    "rule loop: me → me; rules must end at a node that answers".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_loop_through_a_menu_is_fine() {
        let flow = flow(json!([
            rules("a", &[], "m"),
            {"key": "m", "kind": "menu", "prompt": {"rec": "x"},
             "routes": [{"digits": "1", "target": "a"}]}
        ]));
        assert_eq!(check(&flow, &["a"]), vec![]);
    }

    #[test]
    fn rule_chains_longer_than_the_engine_follows() {
        let chain = |count: usize| {
            let mut nodes: Vec<_> = (0..count)
                .map(|i| {
                    let next = if i + 1 == count {
                        "end".to_owned()
                    } else {
                        format!("r{}", i + 1)
                    };
                    rules(&format!("r{i}"), &[], &next)
                })
                .collect();
            nodes.push(json!({"key": "end", "kind": "hangup"}));
            flow(serde_json::Value::Array(nodes))
        };
        assert_eq!(errors(&chain(RULE_HOP_LIMIT), &[]), vec![]);
        assert_eq!(
            errors(&chain(RULE_HOP_LIMIT + 2), &[]),
            vec![(
                "nodes.r0".to_owned(),
                format!("34 rule nodes in a row start here: at most {RULE_HOP_LIMIT} are followed")
            )]
        );
    }

    #[test]
    fn empty_opening_hours() {
        let mut flow = sound();
        let schedule: Schedule = serde_json::from_value(json!({
            "key": "office", "name": "Office",
            "hours": [
                {"day": "Mon", "opens": "09:00:00", "closes": "09:00:00"},
                {"day": "Tue", "opens": "00:00:00", "closes": "00:00:00"},
                {"day": "Wed", "opens": "22:00:00", "closes": "02:00:00"}
            ]
        }))
        .expect("test schedule");
        flow.schedules.insert("office".into(), schedule);
        assert_eq!(
            errors(&flow, &[]),
            vec![(
                "schedules.office.hours[0]".to_owned(),
                "opens and closes at the same time: never open (00:00-00:00 is the whole day)"
                    .to_owned()
            )]
        );
    }

    #[test]
    fn references_for_storage() {
        let flow = sound();
        assert_eq!(
            referenced_nodes(&flow.nodes["main"]),
            ["bye", "confirm", "hours", "main"]
        );
        assert_eq!(referenced_nodes(&flow.nodes["hours"]), ["bye", "sales"]);
        assert_eq!(referenced_nodes(&flow.nodes["sales"]), ["vm"]);
        assert!(referenced_nodes(&flow.nodes["bye"]).is_empty());
        let rules = node(
            json!({"key": "r", "kind": "rules", "default": "d", "rules": [
                {"when": {"type": "open", "schedule": "office"}, "target": "a"},
                {"when": {"type": "holiday", "schedule": "office"}, "target": "a"},
                {"when": {"type": "holiday", "schedule": "hol"}, "target": "b"},
                {"when": {"type": "caller_hidden"}, "target": "c"}
            ]}),
        );
        assert_eq!(referenced_nodes(&rules), ["a", "b", "c", "d"]);
        assert_eq!(referenced_schedules(&rules), ["hol", "office"]);
        assert!(referenced_schedules(&flow.nodes["main"]).is_empty());
    }

    #[test]
    fn issues_serialise_for_the_api() {
        let issue = FlowIssue {
            severity: Severity::Warning,
            path: "nodes.x".into(),
            message: "m".into(),
        };
        assert_eq!(
            serde_json::to_value(&issue).expect("serialisable"),
            json!({"severity": "warning", "path": "nodes.x", "message": "m"})
        );
    }
}
