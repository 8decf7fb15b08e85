//! The flow model: what a tenant designs and the engine runs.
//!
//! A flow is a set of nodes with tenant-unique keys. Every node but a rule
//! node produces one Voicenter action; a node's key is what Voicenter sees as
//! `MENU` (followed by the per-call state, see `state`). Rule nodes are
//! resolved on our side, with no round trip to Voicenter.
//!
//! The same types are (de)serialised as the node definitions stored in
//! Postgres and shown by the API, so they carry serde attributes.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::voicenter::types::Language;

/// A node's key: `[A-Za-z0-9_.-]{1,64}` (validated by `validate`); `~` is reserved
/// for the per-call state appended to it on the wire.
pub type NodeKey = String;

/// One tenant's whole flow, as the engine sees it: immutable, shared behind an `Arc`.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// The tenant's time zone, for schedules.
    pub time_zone: Tz,
    /// The tenant's default language (a DID's or a node's language wins over it).
    pub language: Language,
    pub nodes: HashMap<NodeKey, Node>,
    pub schedules: HashMap<String, Schedule>,
}

/// Where a DID enters its tenant's flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DidEntry {
    pub tenant_id: i64,
    pub entry_node: NodeKey,
    /// The DID's language; `None`: the tenant's.
    pub language: Option<Language>,
}

// No `deny_unknown_fields` here: serde does not support it together with
// `flatten` (every node was rejected with "unknown field `kind`"). Unknown
// fields are still rejected, by each kind's own struct.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub key: NodeKey,
    /// Language of this node's prompts; `None`: inherited (caller's choice, DID, tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    #[serde(flatten)]
    pub kind: NodeKind,
}

/// The node kinds: one per Voicenter action, plus server-side rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeKind {
    /// Play a recording, collect digits, route by them.
    Menu(Menu),
    /// Say a digit string, then behave as a menu.
    SayDigits(SayDigits),
    /// Dial a destination; on failure go to `failover`.
    Call(Call),
    /// Say good-bye and hang up.
    Hangup(Hangup),
    /// Hand the call to a Voicenter IVR layer.
    Vo(Vo),
    /// Answer and record (voicemail).
    SilentRecord(SilentRecord),
    /// Server-side routing: the first rule whose condition holds wins, else `default`.
    Rules(Rules),
}

/// The recording a menu plays and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prompt {
    /// `REC`: a recording's file name.
    pub rec: String,
    /// `LOOP`: how many times to play it (1..=10).
    #[serde(default = "one")]
    pub loops: i64,
    /// `DELAY`: seconds between loops (0..=30).
    #[serde(default)]
    pub delay: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Menu {
    pub prompt: Prompt,
    /// `SIZE`: the most digits collected (1..=20).
    #[serde(default = "one")]
    pub max_digits: i64,
    /// `VALIDATION`: ask Voicenter to validate the DTMF input.
    #[serde(default)]
    pub validation: bool,
    /// Tried in order; the first whose pattern matches the digits wins.
    #[serde(default)]
    pub routes: Vec<DtmfRoute>,
    /// Nothing pressed: go there. `None`: play the menu again (counts as a retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_timeout: Option<NodeKey>,
    /// Digits matching no route: go there. `None`: play the menu again (counts as a retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_invalid: Option<NodeKey>,
    /// Played instead of `prompt.rec` when the menu is replayed after invalid input or silence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_rec: Option<String>,
    /// How many replays before `on_exhausted` (0..=10).
    #[serde(default = "three")]
    pub max_retries: u32,
    /// Where to go when the retries are used up. `None`: a polite hang-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_exhausted: Option<NodeKey>,
}

/// A DTMF route of a menu.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DtmfRoute {
    /// Exact digits (`"1"`, `"12"`), or an Asterisk-style pattern starting with `_`:
    /// `X` any digit, `Z` 1-9, `N` 2-9, `[1-5]` / `[147]` a set, `.` one or more of anything,
    /// `!` zero or more (e.g. `_05XXXXXXXX`, `_[1-3]`). See `flow::pattern`.
    pub digits: String,
    pub target: NodeKey,
    /// The caller chose a language: it sticks for the rest of the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_language: Option<Language>,
}

/// Where the digits of a SAYDIGITS action come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", content = "value", rename_all = "snake_case")]
pub enum DigitsSource {
    Literal(String),
    CallerId,
    Did,
    /// The digits the caller pressed in the step that led here.
    Pressed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SayDigits {
    pub digits: DigitsSource,
    /// `SAYDIGITSRECORD`: played before the digits.
    pub intro_rec: String,
    /// What is played and collected after the digits, and where the digits lead.
    pub menu: Menu,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    /// `TARGET`: the number to dial (a string: leading zeros matter).
    pub target: String,
    /// `CALLERID` shown to the destination; `None`: the caller's own number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<String>,
    /// `CALLERNAME`; `None`: the caller's own name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_rec: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moh_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_rec: Option<String>,
    /// `CALL_MAX_DIAL` seconds (1..=300).
    #[serde(default = "default_max_dial")]
    pub max_dial_secs: i64,
    /// `CALL_MAX` seconds (1..=86400).
    #[serde(default = "default_max_call")]
    pub max_call_secs: i64,
    /// `REC_STATUS`.
    #[serde(default)]
    pub record: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtmf_play: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dialstrings: Vec<String>,
    /// Where the call goes when the dial fails (`NEXT_MENU…`). `None`: disconnect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<NodeKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Hangup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rec: Option<String>,
    /// A Q.850 cause code (1..=127).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vo {
    pub layer: i64,
    pub prompt: Prompt,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SilentRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rec: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration_secs: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub rules: Vec<Rule>,
    pub default: NodeKey,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub when: Condition,
    pub target: NodeKey,
}

/// A condition of a routing rule, evaluated against the request and the clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Now is inside the schedule's weekly hours and today is not one of its holidays.
    Open { schedule: String },
    /// Today (in the tenant's time zone) is one of the schedule's holidays.
    Holiday { schedule: String },
    /// The caller ID is one of these numbers.
    CallerIn { numbers: Vec<String> },
    /// The caller ID starts with one of these prefixes.
    CallerPrefix { prefixes: Vec<String> },
    /// The number called is one of these.
    DidIn { numbers: Vec<String> },
    /// The caller ID is empty, hidden or `anonymous`.
    CallerHidden,
}

/// Weekly opening hours plus holiday dates, in the tenant's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub hours: Vec<OpeningHours>,
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

/// Open on `day` from `opens` (inclusive) to `closes` (exclusive); `closes`
/// 00:00 means midnight at the end of the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    pub day: Weekday,
    pub opens: NaiveTime,
    pub closes: NaiveTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    pub date: NaiveDate,
    #[serde(default)]
    pub name: String,
}

fn one() -> i64 {
    1
}

fn three() -> u32 {
    3
}

fn default_max_dial() -> i64 {
    30
}

fn default_max_call() -> i64 {
    3600
}

/// The valid ranges of the numeric fields above. `validate` enforces them;
/// the engine also clamps to them, so that even a flow that never went
/// through validation yields answers Voicenter accepts. Every bound fits an
/// XML-RPC `<int>` (32 bits).
pub mod limits {
    use std::ops::RangeInclusive;

    /// `LOOP`, `NEXT_MENU_LOOP`.
    pub const LOOPS: RangeInclusive<i64> = 1..=10;
    /// `DELAY`, `NEXT_MENU_WAIT`.
    pub const DELAY_SECS: RangeInclusive<i64> = 0..=30;
    /// `SIZE`, `NEXT_MENU_SIZE` of a menu.
    pub const MAX_DIGITS: RangeInclusive<i64> = 1..=20;
    /// A menu's `max_retries`.
    pub const MAX_RETRIES: RangeInclusive<u32> = 0..=10;
    /// `CALL_MAX_DIAL`.
    pub const MAX_DIAL_SECS: RangeInclusive<i64> = 1..=300;
    /// `CALL_MAX`, and `MAXDURATION` of a silent record.
    pub const MAX_CALL_SECS: RangeInclusive<i64> = 1..=86_400;
    /// `HANGUP_CAUSE`: a Q.850 cause.
    pub const HANGUP_CAUSE: RangeInclusive<i64> = 1..=127;
    /// `LAYER` of a VO action.
    pub const LAYER: RangeInclusive<i64> = 0..=i32::MAX as i64;
}
