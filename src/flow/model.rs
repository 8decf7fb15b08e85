//! The flow model: what a tenant designs and the engine runs.
//!
//! A flow is a set of nodes with tenant-unique keys. Every node but a rule
//! node produces one Voicenter action; a node's key is what Voicenter sees as
//! `MENU` (followed by the per-call state, see `state`). Rule nodes are
//! resolved on our side, with no round trip to Voicenter.
//!
//! The same types are (de)serialised as the node definitions stored in
//! Postgres and shown by the API, so they carry serde attributes.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use super::rec::Rec;
use crate::voicenter::types::Language;

/// A node's key: `[A-Za-z0-9_.-]{1,64}` (validated by `validate`); `~` is reserved
/// for the per-call state appended to it on the wire.
pub type NodeKey = String;

/// One tenant's whole flow, as the engine sees it: immutable, shared behind an `Arc`.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// The published version this is (written into every menu identifier
    /// answered); `None`: not a published version (a draft being tried).
    pub version: Option<u32>,
    /// The tenant's time zone, for schedules.
    pub time_zone: Tz,
    /// The tenant's default language (a DID's or a node's language wins over it).
    pub language: Language,
    pub nodes: HashMap<NodeKey, Node>,
    pub schedules: HashMap<String, Schedule>,
    /// Played by every hang-up the flow did not design itself (retries used
    /// up with no `on_exhausted`, a node deleted mid-call, a broken flow);
    /// `None`: the platform's (`IVRHUB_FALLBACK_REC`), else silence.
    pub goodbye: Option<Rec>,
}

/// Where calls to one of the tenant's DIDs enter its flow: part of the flow,
/// versioned with it (the DID itself belongs to the tenant through the
/// platform's directory, which is not versioned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryPoint {
    /// The number, as Voicenter sends it in `DID`.
    #[schema(example = "0733000000")]
    pub did: String,
    /// The node calls to the number start at; absent: none (callers get the
    /// safe answer, a polite hang-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "main")]
    pub entry_node: Option<NodeKey>,
    /// `LANGUAGE` of its calls; absent: the tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
}

impl EntryPoint {
    /// Calls to `did` enter at node `key`, in the tenant's language.
    pub fn at(did: &str, key: &str) -> EntryPoint {
        EntryPoint {
            did: did.to_owned(),
            entry_node: Some(key.to_owned()),
            language: None,
        }
    }
}

/// Where a DID enters its tenant's flow, as the engine needs it.
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
//
// Its OpenAPI schema is written by hand (below): derived, it would be an
// `allOf` of the kind's struct, whose `additionalProperties: false` (from
// `deny_unknown_fields`) would refuse `key` and `kind` themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub key: NodeKey,
    /// Language of this node's prompts; `None`: inherited (caller's choice, DID, tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    #[serde(flatten)]
    pub kind: NodeKind,
}

/// Documentation only: the fields every node has besides its kind's.
#[derive(ToSchema)]
#[allow(dead_code)]
struct NodeFields {
    /// What Voicenter sees as `MENU`: 1 to 64 of `A-Z a-z 0-9 _ . -`, unique in the tenant.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$", example = "main")]
    key: String,
    /// Language of this node's prompts; absent: inherited (the caller's
    /// choice, the DID's, the tenant's).
    language: Option<Language>,
}

impl utoipa::PartialSchema for Node {
    /// `oneOf` one flat object per kind: `key`, `language`, `kind` and the
    /// kind's own fields, nothing else.
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{Object, ObjectBuilder, OneOf, Schema, Type};
        let object = |schema: RefOr<Schema>| match schema {
            RefOr::T(Schema::Object(object)) => object,
            _ => Object::new(),
        };
        let common = object(<NodeFields as utoipa::PartialSchema>::schema());
        let kinds = [
            (
                "menu",
                "Play a recording (REC, LOOP, DELAY), collect up to SIZE digits, route by them.",
                <Menu as utoipa::PartialSchema>::schema(),
            ),
            (
                "announcement",
                "Play a recording, then go on to `next` without waiting for digits (a MENU of one digit whose answer, pressed or not, continues to `next`).",
                <Announcement as utoipa::PartialSchema>::schema(),
            ),
            (
                "say_digits",
                "SAYDIGITS: say a digit string after a recording, then behave as a menu.",
                <SayDigits as utoipa::PartialSchema>::schema(),
            ),
            (
                "call",
                "CALL: dial a destination; when the dial fails, go to `failover`.",
                <Call as utoipa::PartialSchema>::schema(),
            ),
            (
                "hangup",
                "HANGUP: say good-bye and hang up.",
                <Hangup as utoipa::PartialSchema>::schema(),
            ),
            (
                "vo",
                "VO: hand the call to a Voicenter IVR layer.",
                <Vo as utoipa::PartialSchema>::schema(),
            ),
            (
                "silent_record",
                "SILENTRECORD: answer and record (voicemail).",
                <SilentRecord as utoipa::PartialSchema>::schema(),
            ),
            (
                "rules",
                "Routing rules, resolved on our side: the first rule whose condition holds wins, else `default`.",
                <Rules as utoipa::PartialSchema>::schema(),
            ),
        ];
        let mut one_of = OneOf::new();
        for (kind, description, schema) in kinds {
            let mut object = object(schema);
            let tag = ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([kind]))
                .build();
            object.properties.insert("kind".into(), tag.into());
            for (name, property) in &common.properties {
                object.properties.insert(name.clone(), property.clone());
            }
            object
                .required
                .splice(0..0, ["key".to_owned(), "kind".to_owned()]);
            object.title = Some(kind.into());
            object.description = Some(description.into());
            one_of.items.push(object.into());
        }
        one_of.description = Some(
            "A node of the flow: `key`, `kind`, and the fields of that kind (no others).".into(),
        );
        one_of.example = Some(serde_json::json!({
            "key": "main", "kind": "menu",
            "prompt": {"rec": "main_menu", "loops": 2, "delay": 1},
            "max_digits": 1,
            "routes": [
                {"digits": "1", "target": "sales"},
                {"digits": "2", "target": "support"},
                {"digits": "3", "target": "main_en", "set_language": "en"}
            ],
            "on_timeout": "main", "retry_rec": "invalid_choice", "max_retries": 2,
            "on_exhausted": "goodbye"
        }));
        RefOr::T(Schema::OneOf(one_of))
    }
}

impl ToSchema for Node {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <NodeFields as ToSchema>::schemas(schemas);
        <Menu as ToSchema>::schemas(schemas);
        <Announcement as ToSchema>::schemas(schemas);
        <SayDigits as ToSchema>::schemas(schemas);
        <Call as ToSchema>::schemas(schemas);
        <Hangup as ToSchema>::schemas(schemas);
        <Vo as ToSchema>::schemas(schemas);
        <SilentRecord as ToSchema>::schemas(schemas);
        <Rules as ToSchema>::schemas(schemas);
    }
}

/// The `kind` of every node kind, as the API and storage write it (the
/// `flow_nodes.kind` CHECK of the migrations lists the same).
pub const NODE_KINDS: [&str; 8] = [
    "menu",
    "announcement",
    "say_digits",
    "call",
    "hangup",
    "vo",
    "silent_record",
    "rules",
];

/// The node kinds: one per Voicenter action, plus server-side rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeKind {
    /// Play a recording, collect digits, route by them.
    Menu(Menu),
    /// Play a recording and go on to the next node.
    Announcement(Announcement),
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Prompt {
    /// `REC`: the recording played, one for every language or one per
    /// language (`{"he": "main_he", "en": "main_en"}`).
    pub rec: Rec,
    /// `LOOP`: how many times to play it (1..=10).
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 10, default = 1)]
    pub loops: i64,
    /// `DELAY`: seconds waited between plays (0..=30); digits are taken
    /// all along.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 30, default = 0)]
    pub delay: i64,
}

/// A recording played on the way to the next node: "our opening hours
/// are…, returning to the menu". Voicenter gets a MENU of one digit playing
/// `prompt`; whatever comes back (a key pressed during it, or nothing once
/// it has played), the call goes on to `next` in the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"key": "hours", "kind": "announcement", "prompt": {"rec": {"he": "hours_he", "en": "hours_en"}}, "next": "main"}))]
pub struct Announcement {
    /// What is played (`loops` times; `delay`: seconds waited after each).
    pub prompt: Prompt,
    /// The node the call goes on to (a menu, another announcement, rules…).
    #[schema(value_type = String, example = "main")]
    pub next: NodeKey,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Menu {
    /// What is played while digits are collected.
    pub prompt: Prompt,
    /// `SIZE`: the most digits collected (1..=20).
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 20, default = 1)]
    pub max_digits: i64,
    /// `VALIDATION`: Voicenter's own check of the keys pressed (its "DTMF
    /// input validation"); routing does not depend on it.
    #[serde(default)]
    pub validation: bool,
    /// Tried in order; the first whose pattern matches the digits wins.
    #[serde(default)]
    pub routes: Vec<DtmfRoute>,
    /// Nothing pressed: go there. `None`: play the menu again (counts as a retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub on_timeout: Option<NodeKey>,
    /// Digits matching no route: go there. `None`: play the menu again (counts as a retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub on_invalid: Option<NodeKey>,
    /// Played instead of `prompt.rec` when the menu is replayed after
    /// invalid input or silence ("sorry, that is not an option"), per
    /// language like `prompt.rec`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_rec: Option<Rec>,
    /// How many times the menu is played *again* after silence or a wrong
    /// key (with no `on_timeout` / `on_invalid` of its own) before
    /// `on_exhausted` (0..=10): the caller hears it at most `max_retries + 1`
    /// times in all. 0: played once.
    #[serde(default = "three")]
    #[schema(minimum = 0, maximum = 10, default = 3)]
    pub max_retries: u32,
    /// Where to go when the retries are used up. `None`: a polite hang-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub on_exhausted: Option<NodeKey>,
}

/// A DTMF route of a menu.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DtmfRoute {
    /// Exact digits (`"1"`, `"12"`), or a pattern starting with `_`
    /// (as in Asterisk dial plans): `X` any digit, `Z` 1-9, `N` 2-9,
    /// `[1-5]` or `[147]` one of a set, `.` one or more of anything, `!`
    /// zero or more. `_05XXXXXXXX`: ten digits starting with 05; `_[1-3]`:
    /// 1, 2 or 3. Routes are tried in order: put exact digits first.
    pub digits: String,
    /// The node entered when the digits match.
    #[schema(value_type = String)]
    pub target: NodeKey,
    /// The caller chose a language: it sticks for the rest of the call, and
    /// every prompt given per language is played in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_language: Option<Language>,
}

/// Where the digits of a SAYDIGITS action come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "from", content = "value", rename_all = "snake_case")]
pub enum DigitsSource {
    /// These digits (`{"from": "literal", "value": "0733000000"}`).
    Literal(String),
    /// The caller's number, in national form (`0541234567`).
    CallerId,
    /// The number called, in national form.
    Did,
    /// The digits the caller pressed in the step that led here.
    Pressed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SayDigits {
    /// `DIGITS`: what is said, digit by digit; none (e.g. a hidden caller
    /// ID): the node plays as a plain menu.
    pub digits: DigitsSource,
    /// `SAYDIGITSRECORD`: played before the digits ("your number is").
    pub intro_rec: Rec,
    /// What is played and collected after the digits, and where the digits lead.
    pub menu: Menu,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Call {
    /// `TARGET`: the number to dial, as a string (leading zeros matter):
    /// digits, `+`, `*` and `#`.
    pub target: String,
    /// `CALLERID` shown to the destination; `None`: the caller's own number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<String>,
    /// `CALLERNAME`; `None`: the caller's own name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_name: Option<String>,
    /// `CALLER_REC`: played to the caller before dialling ("connecting
    /// you"); absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_rec: Option<Rec>,
    /// `MOH_CLASS`: the music-on-hold class (as set up in Voicenter) the
    /// caller hears while the destination rings; absent: Voicenter's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moh_class: Option<String>,
    /// `TARGET_REC`: played to the person who answers, before the caller
    /// is connected ("a call from the website line"); absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_rec: Option<Rec>,
    /// `CALL_MAX_DIAL` seconds (1..=300).
    #[serde(default = "default_max_dial")]
    #[schema(minimum = 1, maximum = 300, default = 30)]
    pub max_dial_secs: i64,
    /// `CALL_MAX` seconds (1..=86400).
    #[serde(default = "default_max_call")]
    #[schema(minimum = 1, maximum = 86400, default = 3600)]
    pub max_call_secs: i64,
    /// `REC_STATUS`: record the conversation (in Voicenter's call recordings).
    #[serde(default)]
    pub record: bool,
    /// `DTMF_PLAY`: keys sent to the destination once it answers (an
    /// extension behind a switchboard: `"w123"`): `0-9 * # A-D`, and `w`
    /// for a half-second pause; absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtmf_play: Option<String>,
    /// `DIALSTRINGS`: ready-made dial strings (as Voicenter provides them,
    /// e.g. for a SIP trunk), passed to the dial as they are; absent: only
    /// `target` is dialled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dialstrings: Vec<String>,
    /// Where the call goes when the dial fails (`NEXT_MENU…`). `None`: disconnect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub failover: Option<NodeKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Hangup {
    /// `HANGUP_REC`: played before hanging up ("thank you, goodbye");
    /// absent: the flow's goodbye (`goodbye` of `/flow`), else none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rec: Option<Rec>,
    /// `HANGUP_CAUSE`: the Q.850 cause the caller's network is given
    /// (1..=127; 16 is normal call clearing); absent: none is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 127)]
    pub cause: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Vo {
    /// `LAYER`: the Voicenter IVR layer (0..=2147483647).
    #[schema(minimum = 0, maximum = 2147483647)]
    pub layer: i64,
    /// `RECORD`, `LOOP`, `DELAY`: played before the hand-over.
    pub prompt: Prompt,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SilentRecord {
    /// `REC`: played before recording starts ("leave a message after the
    /// tone"); absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rec: Option<Rec>,
    /// `MAXDURATION` seconds (1..=86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 86400)]
    pub max_duration_secs: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Tried in order: the first whose condition holds is taken.
    pub rules: Vec<Rule>,
    /// Taken when no rule's condition holds.
    #[schema(value_type = String)]
    pub default: NodeKey,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// What must hold for `target` to be taken.
    pub when: Condition,
    /// The node entered when `when` holds.
    #[schema(value_type = String)]
    pub target: NodeKey,
}

/// A condition of a routing rule, evaluated against the request and the clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "key": "office", "name": "Office hours",
    "hours": [
        {"day": "Sun", "opens": "09:00:00", "closes": "17:00:00"},
        {"day": "Mon", "opens": "09:00:00", "closes": "17:00:00"},
        {"day": "Fri", "opens": "09:00:00", "closes": "13:00:00"}
    ],
    "holidays": [{"date": "2026-09-21", "name": "Yom Kippur"}]
}))]
pub struct Schedule {
    /// 1 to 64 of `A-Z a-z 0-9 _ . -`, unique in the tenant.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$", example = "office")]
    pub key: String,
    /// What people call it ("Office hours"), up to 200 characters.
    pub name: String,
    /// When it is open, week by week: one range per day and span (several
    /// per day are fine: a lunch break is two ranges).
    #[serde(default)]
    pub hours: Vec<OpeningHours>,
    /// Days it is closed all day, whatever `hours` and `calendar` say.
    #[serde(default)]
    pub holidays: Vec<Holiday>,
    /// A built-in holiday calendar (`israel`) and what its days do: rest
    /// days closed, eves with short hours, … computed for every year, not
    /// typed in. Absent: none (only `holidays`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<ScheduleCalendar>,
}

/// The calendar a schedule follows, and what each kind of day does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "israel", "rest_days": "closed",
    "eves": {"hours": [{"opens": "08:00", "closes": "13:00"}]},
    "other_days": "usual", "exceptions": {"yom_hazikaron": {"hours": [{"opens": "08:00", "closes": "16:00"}]}}
}))]
pub struct ScheduleCalendar {
    /// The calendar: `israel` (`GET /calendars/israel` lists its days).
    pub name: super::calendar::CalendarName,
    /// Rest days (Rosh Hashana, Yom Kippur, Pesach, Yom HaAtzmaut…); default `closed`.
    #[serde(default = "closed")]
    pub rest_days: DayRule,
    /// Eves of rest days (erev Pesach, erev Yom Kippur…); default `usual`.
    #[serde(default)]
    pub eves: DayRule,
    /// Other days (Chol HaMoed, Purim, Yom HaZikaron, fasts…); default `usual`.
    #[serde(default)]
    pub other_days: DayRule,
    /// Days that differ from their kind's rule, by key (`"purim": "closed"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = BTreeMap<String, DayRule>)]
    pub exceptions: BTreeMap<super::calendar::Occasion, DayRule>,
}

fn closed() -> DayRule {
    DayRule::Closed
}

impl ScheduleCalendar {
    /// What `occasion` does: its exception, else its kind's rule.
    pub fn rule(&self, occasion: super::calendar::Occasion) -> &DayRule {
        use super::calendar::DayKind;
        self.exceptions
            .get(&occasion)
            .unwrap_or(match occasion.kind() {
                DayKind::Rest => &self.rest_days,
                DayKind::Eve => &self.eves,
                DayKind::Other => &self.other_days,
            })
    }
}

/// What a calendar day does to a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DayRule {
    /// Closed all day.
    Closed,
    /// The usual weekly `hours`, as if it were not a calendar day.
    #[default]
    Usual,
    /// Open only in these ranges (`{"hours": [{"opens": "08:00", "closes": "13:00"}]}`),
    /// on a day the weekly hours open; a day they keep closed (an eve on
    /// Saturday) stays closed.
    Hours(Vec<DayHours>),
}

/// A range of a calendar day's own hours: `opens` before `closes` (which
/// may be `24:00`), within the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DayHours {
    /// `HH:MM` or `HH:MM:SS`.
    #[serde(deserialize_with = "opens_at")]
    #[schema(value_type = String, example = "08:00:00")]
    pub opens: NaiveTime,
    /// `HH:MM` or `HH:MM:SS`, after `opens`; `24:00` is the end of the day.
    #[serde(deserialize_with = "closes_at")]
    #[schema(value_type = String, example = "13:00:00")]
    pub closes: NaiveTime,
}

/// Open on `day` from `opens` (inclusive) to `closes` (exclusive); `closes`
/// 00:00 means midnight at the end of the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    /// The day the range opens on.
    #[schema(value_type = WeekdayName)]
    pub day: Weekday,
    /// `HH:MM` or `HH:MM:SS`, `00:00` to `23:59`.
    #[serde(deserialize_with = "opens_at")]
    #[schema(value_type = String, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$", example = "09:00:00")]
    pub opens: NaiveTime,
    /// `HH:MM` or `HH:MM:SS`; `24:00` (or `00:00`) is midnight at the end of
    /// the day (kept as `00:00:00`). A time before `opens` runs past
    /// midnight into the next day (`23:00`–`02:00`: open Friday 23:00 to
    /// Saturday 02:00, listed under Friday).
    #[serde(deserialize_with = "closes_at")]
    #[schema(value_type = String, pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?|24:00(:00)?)$", example = "17:00:00")]
    pub closes: NaiveTime,
}

fn opens_at<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<NaiveTime, D::Error> {
    time_of_day(deserializer, false)
}

fn closes_at<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<NaiveTime, D::Error> {
    time_of_day(deserializer, true)
}

/// `HH:MM` or `HH:MM:SS`; with `end_of_day`, `24:00` too (as 00:00, the
/// end of the day). Anything else is refused saying what is accepted.
fn time_of_day<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
    end_of_day: bool,
) -> Result<NaiveTime, D::Error> {
    let text = String::deserialize(deserializer)?;
    if end_of_day && (text == "24:00" || text == "24:00:00") {
        return Ok(NaiveTime::MIN);
    }
    let well_formed = matches!(text.len(), 5 | 8)
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 2 || i == 5 {
                b == b':'
            } else {
                b.is_ascii_digit()
            }
        });
    let parsed = well_formed
        .then(|| {
            NaiveTime::parse_from_str(&text, "%H:%M:%S")
                .or_else(|_| NaiveTime::parse_from_str(&text, "%H:%M"))
                .ok()
        })
        .flatten();
    parsed.ok_or_else(|| {
        let range = if end_of_day {
            "00:00 to 24:00"
        } else {
            "00:00 to 23:59"
        };
        serde::de::Error::custom(format!(
            "{text:?} is not a time of day: write HH:MM or HH:MM:SS, {range}"
        ))
    })
}

/// A day of the week, as schedules write it (`Mon`; full names such as
/// `Monday` are accepted too).
#[derive(ToSchema)]
#[allow(dead_code)]
pub enum WeekdayName {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// The day, in the tenant's time zone.
    #[schema(example = "2026-09-21")]
    pub date: NaiveDate,
    /// What it is, for people ("Yom Kippur").
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
