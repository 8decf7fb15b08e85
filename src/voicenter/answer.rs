//! Our replies on the wire: `GET_IVR_ACTION` answers, the `HANGUP_CALL`
//! acknowledgement and error replies; and their decoding, for round-trip
//! tests and the simulator.
//!
//! Every reply is a struct with `STATUS` first: a `methodResponse` parameter
//! in XML-RPC (never an XML-RPC fault: Voicenter reads `STATUS`), an object
//! in JSON. Each action's `DATA` fields are listed once for writing and once
//! for reading, in the order of the spec's tables, with their wire names.

use super::codec::{detect_encoding, preview};
use super::fields::{DataWriter, Fields, missing};
use super::types::{
    Action, CallData, DecodeError, DecodeErrorCode, Encoding, HangupData, IvrAnswer, Language,
    MenuData, NextMenu, SayDigitsData, SilentRecordData, VoData,
};
use super::value::Value;
use super::{json, xmlrpc};

/// A reply that carries only a status: the `HANGUP_CALL` acknowledgement
/// (`STATUS` 0) or an error (`STATUS` 1 with a code and a message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReply {
    pub status: i64,
    /// `ERROR_CODE`
    pub error_code: Option<String>,
    /// `ERROR_MESSAGE`
    pub error_message: Option<String>,
}

/// Encodes an answer to `GET_IVR_ACTION`: `STATUS` 0, `ACTION`, `LANGUAGE`
/// (lower-case) and the action's `DATA`.
pub fn encode_answer(encoding: Encoding, answer: &IvrAnswer) -> Vec<u8> {
    let mut data = DataWriter::default();
    match &answer.action {
        Action::Menu(menu) => write_menu(&mut data, menu),
        Action::Call(call) => write_call(&mut data, call),
        Action::Hangup(hangup) => write_hangup(&mut data, hangup),
        Action::SayDigits(say) => write_say_digits(&mut data, say),
        Action::Vo(vo) => write_vo(&mut data, vo),
        Action::SilentRecord(record) => write_silent_record(&mut data, record),
    }
    let mut envelope = DataWriter::default();
    envelope
        .int("STATUS", 0)
        .text("ACTION", answer.action.name())
        .text("LANGUAGE", answer.language.as_str())
        .value("DATA", data.finish());
    encode(encoding, &envelope.finish())
}

/// Encodes the acknowledgement of a `HANGUP_CALL`: `{STATUS: 0}`.
pub fn encode_hangup_ack(encoding: Encoding) -> Vec<u8> {
    let mut envelope = DataWriter::default();
    envelope.int("STATUS", 0);
    encode(encoding, &envelope.finish())
}

/// Encodes an error reply: `STATUS` 1, `ERROR_CODE` (a short machine-readable
/// code such as [`DecodeErrorCode::as_str`] or `"unavailable"`) and
/// `ERROR_MESSAGE`.
pub fn encode_error(encoding: Encoding, code: &str, message: &str) -> Vec<u8> {
    let mut envelope = DataWriter::default();
    envelope
        .int("STATUS", 1)
        .text("ERROR_CODE", code)
        .text("ERROR_MESSAGE", message);
    encode(encoding, &envelope.finish())
}

/// Decodes an answer to `GET_IVR_ACTION`, as liberally as requests are
/// decoded (`ACTION` " SAYDIGITS ", `LANGUAGE` "HE", numbers as strings).
/// A reply whose `STATUS` is not 0 is `InvalidField`: see [`decode_status`].
pub fn decode_answer(body: &[u8]) -> Result<(Encoding, IvrAnswer), DecodeError> {
    let (encoding, envelope) = parse(body)?;
    let fields = Fields::of(&envelope, "the answer")?;
    let status = fields.int("STATUS")?;
    if status != 0 {
        return Err(invalid(format!(
            "STATUS is {status}: an error reply, not an answer"
        )));
    }
    let language = fields.text("LANGUAGE")?;
    let language = Language::parse(&language)
        .ok_or_else(|| invalid(format!("unknown LANGUAGE {:?}", preview(&language))))?;
    let action = fields.text("ACTION")?;
    let data = Fields::of(fields.get("DATA").ok_or_else(|| missing("DATA"))?, "DATA")?;
    let action = match action.trim().to_ascii_uppercase().as_str() {
        "MENU" => Action::Menu(read_menu(&data)?),
        "CALL" => Action::Call(read_call(&data)?),
        "HANGUP" => Action::Hangup(read_hangup(&data)?),
        "SAYDIGITS" => Action::SayDigits(read_say_digits(&data)?),
        "VO" => Action::Vo(read_vo(&data)?),
        "SILENTRECORD" => Action::SilentRecord(read_silent_record(&data)?),
        _ => return Err(invalid(format!("unknown ACTION {:?}", preview(&action)))),
    };
    Ok((encoding, IvrAnswer { language, action }))
}

/// Decodes a status-only reply (acknowledgement or error).
pub fn decode_status(body: &[u8]) -> Result<(Encoding, StatusReply), DecodeError> {
    let (encoding, envelope) = parse(body)?;
    let fields = Fields::of(&envelope, "the reply")?;
    let reply = StatusReply {
        status: fields.int("STATUS")?,
        error_code: fields.opt_string("ERROR_CODE")?,
        error_message: fields.opt_string("ERROR_MESSAGE")?,
    };
    Ok((encoding, reply))
}

fn parse(body: &[u8]) -> Result<(Encoding, Value<'_>), DecodeError> {
    let encoding = detect_encoding(body, None);
    let envelope = match encoding {
        Encoding::XmlRpc => xmlrpc::parse_method_response(body)?,
        Encoding::Json => json::parse(body)?,
    };
    Ok((encoding, envelope))
}

fn encode(encoding: Encoding, envelope: &Value<'_>) -> Vec<u8> {
    match encoding {
        Encoding::XmlRpc => xmlrpc::encode_method_response(envelope),
        Encoding::Json => json::encode(envelope),
    }
}

fn invalid(message: String) -> DecodeError {
    DecodeError::new(DecodeErrorCode::InvalidField, message)
}

fn write_menu<'a>(w: &mut DataWriter<'a>, menu: &'a MenuData) {
    w.text("REC", &menu.rec)
        .int("LOOP", menu.loops)
        .int("DELAY", menu.delay)
        .int("SIZE", menu.size)
        .text("MENU", &menu.menu)
        .flag("VALIDATION", menu.validation);
}

fn read_menu(f: &Fields<'_, '_>) -> Result<MenuData, DecodeError> {
    Ok(MenuData {
        rec: f.text("REC")?,
        loops: f.int("LOOP")?,
        delay: f.int("DELAY")?,
        size: f.int("SIZE")?,
        menu: f.text("MENU")?,
        validation: f.flag("VALIDATION")?,
    })
}

fn write_call<'a>(w: &mut DataWriter<'a>, call: &'a CallData) {
    w.text("TARGET", &call.target)
        .text("CALLERID", &call.caller_id)
        .text("CALLERNAME", &call.caller_name)
        .opt_text("CALLER_REC", call.caller_rec.as_deref())
        .opt_text("MOH_CLASS", call.moh_class.as_deref())
        .opt_text("TARGET_REC", call.target_rec.as_deref())
        .int("CALL_MAX_DIAL", call.max_dial_secs)
        .int("CALL_MAX", call.max_call_secs);
    if let Some(next) = &call.next_menu {
        w.text("NEXT_MENU", &next.menu)
            .opt_text("NEXT_MENU_RECORD", next.record.as_deref())
            .opt_int("NEXT_MENU_LOOP", next.loops)
            .opt_int("NEXT_MENU_SIZE", next.size)
            .opt_int("NEXT_MENU_WAIT", next.wait);
    }
    w.flag("REC_STATUS", call.record)
        .opt_text("DTMF_PLAY", call.dtmf_play.as_deref())
        .texts("DIALSTRINGS", &call.dialstrings);
}

fn read_call(f: &Fields<'_, '_>) -> Result<CallData, DecodeError> {
    // The NEXT_MENU_* details only mean something with a NEXT_MENU.
    let next_menu = match f.opt_string("NEXT_MENU")? {
        Some(menu) => Some(NextMenu {
            menu,
            record: f.opt_string("NEXT_MENU_RECORD")?,
            loops: f.opt_int("NEXT_MENU_LOOP")?,
            size: f.opt_int("NEXT_MENU_SIZE")?,
            wait: f.opt_int("NEXT_MENU_WAIT")?,
        }),
        None => None,
    };
    Ok(CallData {
        target: f.text("TARGET")?,
        caller_id: f.text("CALLERID")?,
        caller_name: f.text("CALLERNAME")?,
        caller_rec: f.opt_string("CALLER_REC")?,
        moh_class: f.opt_string("MOH_CLASS")?,
        target_rec: f.opt_string("TARGET_REC")?,
        max_dial_secs: f.int("CALL_MAX_DIAL")?,
        max_call_secs: f.int("CALL_MAX")?,
        next_menu,
        record: f.flag("REC_STATUS")?,
        dtmf_play: f.opt_string("DTMF_PLAY")?,
        dialstrings: f.texts("DIALSTRINGS")?,
    })
}

fn write_hangup<'a>(w: &mut DataWriter<'a>, hangup: &'a HangupData) {
    w.opt_text("HANGUP_REC", hangup.rec.as_deref())
        .opt_int("HANGUP_CAUSE", hangup.cause);
}

fn read_hangup(f: &Fields<'_, '_>) -> Result<HangupData, DecodeError> {
    Ok(HangupData {
        rec: f.opt_string("HANGUP_REC")?,
        cause: f.opt_int("HANGUP_CAUSE")?,
    })
}

fn write_say_digits<'a>(w: &mut DataWriter<'a>, say: &'a SayDigitsData) {
    write_menu(w, &say.menu);
    // DIGITS is a string on purpose: "Do not use integer type to prevent
    // zero loose in zero-leading numbers" (spec, SAYDIGITS table).
    w.text("SAYDIGITSRECORD", &say.intro_rec)
        .text("DIGITS", &say.digits);
}

fn read_say_digits(f: &Fields<'_, '_>) -> Result<SayDigitsData, DecodeError> {
    Ok(SayDigitsData {
        menu: read_menu(f)?,
        intro_rec: f.text("SAYDIGITSRECORD")?,
        digits: f.text("DIGITS")?,
    })
}

fn write_vo<'a>(w: &mut DataWriter<'a>, vo: &'a VoData) {
    w.int("LAYER", vo.layer)
        .text("RECORD", &vo.record)
        .int("LOOP", vo.loops)
        .int("DELAY", vo.delay);
}

fn read_vo(f: &Fields<'_, '_>) -> Result<VoData, DecodeError> {
    Ok(VoData {
        layer: f.int("LAYER")?,
        record: f.text("RECORD")?,
        loops: f.int("LOOP")?,
        delay: f.int("DELAY")?,
    })
}

fn write_silent_record<'a>(w: &mut DataWriter<'a>, record: &'a SilentRecordData) {
    w.opt_text("REC", record.rec.as_deref())
        .opt_int("MAXDURATION", record.max_duration_secs);
}

fn read_silent_record(f: &Fields<'_, '_>) -> Result<SilentRecordData, DecodeError> {
    Ok(SilentRecordData {
        rec: f.opt_string("REC")?,
        max_duration_secs: f.opt_int("MAXDURATION")?,
    })
}
