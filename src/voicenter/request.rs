//! Voicenter's requests: wire -> [`Request`].
//!
//! Liberal in what it accepts (DESIGN.md §1): method and field names in any
//! case, numbers for strings and strings for numbers, whitespace inside
//! identifiers (the spec's first example breaks `IVR_UNIQUE_ID` across two
//! lines), `CALL_STATUS` `ANSWERED` for `ANSWER`.

use std::borrow::Cow;

use super::codec::{detect_encoding, preview};
use super::fields::{Fields, missing};
use super::types::{
    DecodeError, DecodeErrorCode, Encoding, HangupReport, IvrActionRequest, Request,
    START_OF_CALL_MENU,
};
use super::value::Value;
use super::{json, xmlrpc};

/// Decodes a webhook body of at most `max_bytes`. The encoding (detected from
/// the body) is returned with the error too, so the error reply can use it.
pub fn decode_request(
    body: &[u8],
    max_bytes: usize,
) -> Result<(Encoding, Request), (Encoding, DecodeError)> {
    decode_request_sent_as(body, None, max_bytes)
}

/// [`decode_request`] for a body sent with `content_type`: a body that
/// starts with neither `<` nor `{` is read in the encoding `Content-Type`
/// names (the encoding of its error reply), so that a broken XML-RPC body
/// is not reported as broken JSON.
pub fn decode_request_sent_as(
    body: &[u8],
    content_type: Option<&str>,
    max_bytes: usize,
) -> Result<(Encoding, Request), (Encoding, DecodeError)> {
    let encoding = detect_encoding(body, content_type);
    decode(encoding, body, max_bytes)
        .map(|request| (encoding, request))
        .map_err(|error| (encoding, error))
}

#[derive(Clone, Copy)]
enum Method {
    GetIvrAction,
    HangupCall,
}

fn decode(encoding: Encoding, body: &[u8], max_bytes: usize) -> Result<Request, DecodeError> {
    if body.len() > max_bytes {
        return Err(DecodeError::new(
            DecodeErrorCode::TooLarge,
            format!(
                "the body has {} bytes, more than the limit of {max_bytes}",
                body.len()
            ),
        ));
    }
    let (method, data) = envelope(encoding, body)?;
    let method = method_of(&method)?;
    let data = data
        .ok_or_else(|| DecodeError::new(DecodeErrorCode::Malformed, "the request has no DATA"))?;
    let fields = Fields::of(&data, "DATA")?;
    Ok(match method {
        Method::GetIvrAction => Request::IvrAction(ivr_action(&fields)?),
        Method::HangupCall => Request::Hangup(hangup(&fields, &data)?),
    })
}

/// The method name and the `DATA` struct: a `methodCall`'s name and first
/// parameter, or a JSON object's `METHOD` and `DATA` members.
fn envelope(
    encoding: Encoding,
    body: &[u8],
) -> Result<(Value<'_>, Option<Value<'_>>), DecodeError> {
    match encoding {
        Encoding::XmlRpc => {
            let call = xmlrpc::parse_method_call(body)?;
            Ok((Value::Str(call.method), call.params.into_iter().next()))
        }
        Encoding::Json => {
            let Value::Struct(mut members) = json::parse(body)? else {
                return Err(DecodeError::new(
                    DecodeErrorCode::Malformed,
                    "the JSON body is not an object",
                ));
            };
            let method = take_member(&mut members, "METHOD").ok_or_else(|| {
                DecodeError::new(DecodeErrorCode::Malformed, "the request has no METHOD")
            })?;
            Ok((method, take_member(&mut members, "DATA")))
        }
    }
}

/// Removes and returns the last member named `name` (case-insensitive).
fn take_member<'a>(members: &mut Vec<(Cow<'a, str>, Value<'a>)>, name: &str) -> Option<Value<'a>> {
    let at = members
        .iter()
        .rposition(|(member, _)| member.eq_ignore_ascii_case(name))?;
    Some(members.swap_remove(at).1)
}

fn method_of(method: &Value<'_>) -> Result<Method, DecodeError> {
    let name = method.as_text().ok_or_else(|| {
        DecodeError::new(
            DecodeErrorCode::Malformed,
            format!("METHOD is {}", method.kind()),
        )
    })?;
    let name = name.trim();
    if name.eq_ignore_ascii_case("GET_IVR_ACTION") {
        Ok(Method::GetIvrAction)
    } else if name.eq_ignore_ascii_case("HANGUP_CALL") {
        Ok(Method::HangupCall)
    } else {
        Err(DecodeError::new(
            DecodeErrorCode::UnknownMethod,
            format!("unknown method {:?}", preview(name)),
        ))
    }
}

fn ivr_action(f: &Fields<'_, '_>) -> Result<IvrActionRequest, DecodeError> {
    Ok(IvrActionRequest {
        did: required_id(f, "DID")?,
        call_id: required_id(f, "IVR_UNIQUE_ID")?,
        caller_id: id(f, "CALLER_ID")?,
        caller_name: f
            .opt_text("CALLER_NAME")?
            .map_or_else(String::new, |name| name.trim().to_owned()),
        menu: menu_id(f, "MENU")?,
        previous_menu: menu_id(f, "PREVIOUS_MENU")?,
        dtmf: id(f, "DTMF")?,
    })
}

fn hangup(f: &Fields<'_, '_>, data: &Value<'_>) -> Result<HangupReport, DecodeError> {
    // A CDR is kept whatever its numbers look like: Voicenter would retry a
    // refused report forever, and the call would never be counted. A
    // fraction is dropped; what is no number at all is left out.
    let mut unreadable = Vec::new();
    let mut number = |name: &'static str| {
        f.opt_truncated_int(name).unwrap_or_else(|_| {
            unreadable.push(name);
            None
        })
    };
    let call_time_epoch = number("CALL_TIME_EPOCH");
    let call_start_epoch = number("CALL_START_EPOCH");
    let duration_secs = number("CALL_DURATION");
    let dial_secs = number("CALL_DAILTIME");
    Ok(HangupReport {
        did: required_id(f, "DID")?,
        call_id: required_id(f, "IVR_UNIQUE_ID")?,
        caller_id: id(f, "CALLER_ID")?,
        target: id(f, "TARGET")?,
        call_time_epoch,
        call_start_epoch,
        duration_secs,
        dial_secs,
        status: call_status(f)?,
        raw: data.to_json(),
        unreadable,
    })
}

/// An identifier as the decoder reads it: all whitespace removed (what
/// the simulator applies to its script, to ask what Voicenter would).
pub fn without_whitespace(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// An identifier-like field with all whitespace removed; empty when absent.
fn id(f: &Fields<'_, '_>, name: &str) -> Result<String, DecodeError> {
    Ok(match f.opt_text(name)? {
        Some(text) if text.contains(char::is_whitespace) => {
            text.chars().filter(|c| !c.is_whitespace()).collect()
        }
        Some(text) => text.into_owned(),
        None => String::new(),
    })
}

/// [`id`] for a mandatory field, which must not be empty.
fn required_id(f: &Fields<'_, '_>, name: &str) -> Result<String, DecodeError> {
    let value = id(f, name)?;
    if value.is_empty() {
        return Err(missing(name));
    }
    Ok(value)
}

/// `MENU` / `PREVIOUS_MENU`: `"-1"` (start of call) when absent or empty.
fn menu_id(f: &Fields<'_, '_>, name: &str) -> Result<String, DecodeError> {
    let menu = id(f, name)?;
    Ok(if menu.is_empty() {
        START_OF_CALL_MENU.to_owned()
    } else {
        menu
    })
}

/// `CALL_STATUS` trimmed and upper-cased, the spec's `ANSWERED` (the field
/// table's example) normalised to `ANSWER` (its list of statuses).
fn call_status(f: &Fields<'_, '_>) -> Result<String, DecodeError> {
    Ok(f.opt_text("CALL_STATUS")?
        .map_or_else(String::new, |status| normalize_status(&status)))
}

/// A CALL_STATUS as stored: trimmed, upper-cased, `ANSWERED` as `ANSWER`
/// (also how a report's `status` filter is read, so `busy` finds BUSY).
pub fn normalize_status(status: &str) -> String {
    let status = status.trim().to_ascii_uppercase();
    if status == "ANSWERED" {
        "ANSWER".to_owned()
    } else {
        status
    }
}
