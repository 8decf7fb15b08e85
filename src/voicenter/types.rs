//! Typed requests and answers of Voicenter's External IVR protocol.
//!
//! These are the codec's output (requests) and input (answers). Field names
//! follow the spec's tables; the spec's wire names are in each field's doc.
//! Nothing here knows about encodings: see `xmlrpc` and `json`.

use serde::{Deserialize, Serialize};

/// The two encodings Voicenter may use; an answer always uses the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    XmlRpc,
    Json,
}

/// `LANGUAGE` of an answer. Accepted case-insensitively, always sent lower-case.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Default,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    He,
    En,
}

impl Language {
    /// Every language, in the order maps list them.
    pub const ALL: [Language; 2] = [Language::He, Language::En];

    pub fn as_str(self) -> &'static str {
        match self {
            Language::He => "he",
            Language::En => "en",
        }
    }

    /// Case-insensitive, surrounding spaces ignored (`HE`, ` en `).
    pub fn parse(text: &str) -> Option<Language> {
        match text.trim().to_ascii_lowercase().as_str() {
            "he" => Some(Language::He),
            "en" => Some(Language::En),
            _ => None,
        }
    }
}

/// The menu identifier Voicenter sends at the start of a call (`MENU` and `PREVIOUS_MENU`).
pub const START_OF_CALL_MENU: &str = "-1";

/// `GET_IVR_ACTION`: Voicenter asks what happens next in a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrActionRequest {
    /// `DID`: the number called. Mandatory.
    pub did: String,
    /// `CALLER_ID`. Empty when absent.
    pub caller_id: String,
    /// `CALLER_NAME`. Empty when absent.
    pub caller_name: String,
    /// `IVR_UNIQUE_ID`: the call's id (32 chars in the spec). Mandatory.
    pub call_id: String,
    /// `MENU`: the menu identifier of our previous answer; `"-1"` at the start (also when absent).
    pub menu: String,
    /// `PREVIOUS_MENU`; `"-1"` when absent.
    pub previous_menu: String,
    /// `DTMF`: the digits the caller pressed in `menu`; empty when nothing was pressed.
    pub dtmf: String,
}

impl IvrActionRequest {
    pub fn is_start_of_call(&self) -> bool {
        self.menu == START_OF_CALL_MENU || self.menu.is_empty()
    }
}

/// `HANGUP_CALL`: the end-of-call report that becomes a CDR.
#[derive(Debug, Clone, PartialEq)]
pub struct HangupReport {
    /// `DID`. Mandatory.
    pub did: String,
    /// `CALLER_ID`. Empty when absent.
    pub caller_id: String,
    /// `IVR_UNIQUE_ID`. Mandatory.
    pub call_id: String,
    /// `TARGET`: the destination of the call, empty when absent.
    pub target: String,
    /// `CALL_TIME_EPOCH` (seconds; may exceed 32 bits, as in the spec's example).
    pub call_time_epoch: Option<i64>,
    /// `CALL_START_EPOCH`.
    pub call_start_epoch: Option<i64>,
    /// `CALL_DURATION` in seconds.
    pub duration_secs: Option<i64>,
    /// `CALL_DAILTIME` (sic): seconds of dialling until the destination answered.
    pub dial_secs: Option<i64>,
    /// `CALL_STATUS`, trimmed and upper-cased; `ANSWERED` is normalised to `ANSWER`.
    /// Unknown statuses are kept as sent (never dropped); empty when absent.
    pub status: String,
    /// Every field Voicenter sent, as JSON (XML-RPC values converted), for the CDR's raw payload.
    pub raw: serde_json::Value,
    /// The numeric fields above that were sent but are no numbers: left out
    /// (`None`) rather than losing the whole report; `raw` keeps them. (A
    /// number with a fraction is kept with the fraction dropped.)
    pub unreadable: Vec<&'static str>,
}

/// A decoded webhook request.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    IvrAction(IvrActionRequest),
    Hangup(HangupReport),
}

/// Everything we can answer to `GET_IVR_ACTION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrAnswer {
    pub language: Language,
    pub action: Action,
}

/// The six actions of the spec, each with its DATA fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Menu(MenuData),
    Call(CallData),
    Hangup(HangupData),
    SayDigits(SayDigitsData),
    Vo(VoData),
    SilentRecord(SilentRecordData),
}

impl Action {
    /// The `ACTION` value on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Menu(_) => "MENU",
            Action::Call(_) => "CALL",
            Action::Hangup(_) => "HANGUP",
            Action::SayDigits(_) => "SAYDIGITS",
            Action::Vo(_) => "VO",
            Action::SilentRecord(_) => "SILENTRECORD",
        }
    }
}

/// `MENU` DATA: play a recording and collect digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuData {
    /// `REC`
    pub rec: String,
    /// `LOOP`
    pub loops: i64,
    /// `DELAY` (seconds between loops)
    pub delay: i64,
    /// `SIZE`: maximum digits to collect
    pub size: i64,
    /// `MENU`: the identifier Voicenter echoes back with the digits
    pub menu: String,
    /// `VALIDATION`: 1 / 0 on the wire
    pub validation: bool,
}

/// `CALL` DATA: dial a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallData {
    /// `TARGET` (a digit string: keeps leading zeros)
    pub target: String,
    /// `CALLERID` shown to the destination
    pub caller_id: String,
    /// `CALLERNAME` shown to the destination
    pub caller_name: String,
    /// `CALLER_REC`
    pub caller_rec: Option<String>,
    /// `MOH_CLASS`
    pub moh_class: Option<String>,
    /// `TARGET_REC`
    pub target_rec: Option<String>,
    /// `CALL_MAX_DIAL` seconds
    pub max_dial_secs: i64,
    /// `CALL_MAX` seconds
    pub max_call_secs: i64,
    /// `NEXT_MENU…`: where the call goes when the dial fails; `None`: disconnect.
    pub next_menu: Option<NextMenu>,
    /// `REC_STATUS`: 1 / 0 on the wire
    pub record: bool,
    /// `DTMF_PLAY`
    pub dtmf_play: Option<String>,
    /// `DIALSTRINGS`; omitted when empty
    pub dialstrings: Vec<String>,
}

/// The `NEXT_MENU*` fields of a CALL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextMenu {
    /// `NEXT_MENU`
    pub menu: String,
    /// `NEXT_MENU_RECORD`
    pub record: Option<String>,
    /// `NEXT_MENU_LOOP`
    pub loops: Option<i64>,
    /// `NEXT_MENU_SIZE`
    pub size: Option<i64>,
    /// `NEXT_MENU_WAIT`
    pub wait: Option<i64>,
}

/// `HANGUP` DATA.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HangupData {
    /// `HANGUP_REC`: the good-bye message
    pub rec: Option<String>,
    /// `HANGUP_CAUSE`: a Q.850 cause code
    pub cause: Option<i64>,
}

/// `SAYDIGITS` DATA: a menu that first says a digit string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SayDigitsData {
    /// `REC`, `LOOP`, `DELAY`, `SIZE`, `MENU`, `VALIDATION`
    pub menu: MenuData,
    /// `SAYDIGITSRECORD`: played before the digits
    pub intro_rec: String,
    /// `DIGITS`: always sent as a string (leading zeros matter)
    pub digits: String,
}

/// `VO` DATA: hand the call to a Voicenter IVR layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoData {
    /// `LAYER`
    pub layer: i64,
    /// `RECORD`
    pub record: String,
    /// `LOOP`
    pub loops: i64,
    /// `DELAY`
    pub delay: i64,
}

/// `SILENTRECORD` DATA: answer and record (voicemail).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SilentRecordData {
    /// `REC`
    pub rec: Option<String>,
    /// `MAXDURATION` seconds
    pub max_duration_secs: Option<i64>,
}

/// Why a request could not be understood. `code` is stable and machine-readable;
/// the message is for people. Sent back as `STATUS 1` in the request's encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DecodeError {
    pub code: DecodeErrorCode,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeErrorCode {
    /// Not well-formed XML / JSON, or not the XML-RPC / JSON envelope.
    Malformed,
    /// A method other than GET_IVR_ACTION / HANGUP_CALL.
    UnknownMethod,
    /// `DID` or `IVR_UNIQUE_ID` missing or empty.
    MissingField,
    /// A field of the wrong type (a struct where a string was expected...).
    InvalidField,
    /// Nested deeper than the codec's fixed limit.
    TooDeep,
    /// DOCTYPE, entity declarations or references to undeclared entities.
    Forbidden,
    /// The body is larger than the configured limit.
    TooLarge,
}

impl DecodeErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            DecodeErrorCode::Malformed => "malformed",
            DecodeErrorCode::UnknownMethod => "unknown_method",
            DecodeErrorCode::MissingField => "missing_field",
            DecodeErrorCode::InvalidField => "invalid_field",
            DecodeErrorCode::TooDeep => "too_deep",
            DecodeErrorCode::Forbidden => "forbidden",
            DecodeErrorCode::TooLarge => "too_large",
        }
    }
}

impl std::fmt::Display for DecodeErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl DecodeError {
    pub fn new(code: DecodeErrorCode, message: impl Into<String>) -> DecodeError {
        DecodeError {
            code,
            message: message.into(),
        }
    }
}
