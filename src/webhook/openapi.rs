//! The webhook in the OpenAPI document: `POST /voicenter` and
//! `POST /voicenter/{secret}`, written by hand (the handler is a plain
//! actix handler that reads raw bytes, so there is nothing to derive).
//!
//! Every answer shown as an example is written by the real encoder
//! (`voicenter::encode_answer`, `encode_hangup_ack`, `encode_error`), and
//! every 400 example's message is what the real decoder says about the
//! request its description quotes; the XML-RPC ones are indented for
//! reading (we send them on one line). The integration test
//! `tests/it/webhook_docs.rs` posts the documented requests to a real
//! server and compares what comes back with what is documented.

use serde_json::{Value as Json, json};
use utoipa::Modify;
use utoipa::openapi::example::{Example, ExampleBuilder};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required};

use crate::config::ServeSettings;
use crate::voicenter::types::{
    Action, CallData, Encoding, HangupData, IvrAnswer, Language, MenuData, NextMenu, SayDigitsData,
    SilentRecordData, VoData,
};
use crate::voicenter::{decode_request, encode_answer, encode_error, encode_hangup_ack};

/// The tag of the webhook's operations.
pub const TAG: &str = "Voicenter webhook";

pub const TAG_DESCRIPTION: &str = "Called by Voicenter's External IVR at every step of a call \
(`GET_IVR_ACTION`) and at its end (`HANGUP_CALL`). Served at the root, not under `/api/v1`; \
no token: a secret path and an address allow-list protect it (see *Connect Voicenter* above).";

/// The `IVR_UNIQUE_ID` of the documented call (the spec's).
pub const EXAMPLE_CALL_ID: &str = "ced4619f30fc17182d8e41ddf4d6869X";

/// Content types of the two encodings, as documented (and as answered).
pub const XML: &str = "text/xml";
pub const JSON: &str = "application/json";

/// Adds the webhook's paths and schemas to the document.
pub struct WebhookDoc;

impl Modify for WebhookDoc {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .paths
            .paths
            .insert("/voicenter".into(), path_item(false));
        openapi
            .paths
            .paths
            .insert("/voicenter/{secret}".into(), path_item(true));
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, schema) in schemas() {
            components.schemas.insert(name.into(), schema);
        }
    }
}

const OPERATION_DESCRIPTION: &str = r#"Voicenter's External IVR posts here at every step of a call (`GET_IVR_ACTION`: what now?) and once when it ends (`HANGUP_CALL`: the end-of-call report). No token: `/voicenter/{secret}` when the server has a webhook secret (plain `/voicenter` is then 404), `/voicenter` when it has none; with an address allow-list, other source addresses get 403 (see *Connect Voicenter* above).

**Encoding.** XML-RPC (a `methodCall` whose one parameter is a struct) or JSON (`{"METHOD": ..., "DATA": {...}}`), with the same fields. The body decides: after an optional UTF-8 byte order mark and whitespace, `<` is XML-RPC and `{` is JSON. Only a body that starts with neither goes by `Content-Type` (containing `xml`, in any case: XML-RPC; anything else, or none: JSON). So `text/xml`, `application/xml`, `application/json` or no `Content-Type` at all work alike. The answer is in the request's encoding, with `Content-Type: text/xml; charset=utf-8` or `application/json`; refusals given before the body is read (403, 404, 405, 408, 413) go by `Content-Type` alone.

**What is accepted.** Method and field names in any case; numbers sent as strings and strings as numbers; XML-RPC values without a type tag, `<string/>`, `<int>`, `<i4>`, `<i8>`, `<nil/>`; whitespace inside `DID`, `CALLER_ID`, `IVR_UNIQUE_ID`, `MENU`, `DTMF` (removed); JSON with unquoted keys, as in the spec's own example; other fields are ignored. Limits: the body (default 65536 bytes: 413), `IVR_UNIQUE_ID` 128 characters and `DID` 64 (400 `invalid_field`); no DOCTYPE or entity (400 `forbidden`).

**What is answered.** A `GET_IVR_ACTION` always gets 200 and an action (`MENU`, `CALL`, `HANGUP`, `SAYDIGITS`, `VO`, `SILENTRECORD`) within the step deadline (default 1500 ms): the flow's, or the safe answer when the flow cannot answer (unknown number: `HANGUP` cause 1; disabled tenant: 21; nothing published, broken flow, database unreachable, deadline reached: 41; or a `CALL` to the configured fallback number). A `HANGUP_CALL` gets 200 `{"STATUS": 0}` once its CDR is committed (a repeated report: at once, counted once), else 503 `STATUS 1` with `Retry-After: 1`, so that Voicenter sends it again. Anything else gets `STATUS` 1 with `ERROR_CODE` and `ERROR_MESSAGE`: never an XML-RPC fault, never an HTML page.

Every answer below is shown as our encoder writes it (XML-RPC indented for reading: we send it on one line; JSON members in any order)."#;

fn path_item(with_secret: bool) -> PathItem {
    let mut operation = OperationBuilder::new()
        .tag(TAG)
        .operation_id(Some(if with_secret {
            "voicenter_webhook_with_secret"
        } else {
            "voicenter_webhook"
        }))
        .summary(Some(if with_secret {
            "A call step or an end-of-call report (the URL with the webhook secret)"
        } else {
            "A call step or an end-of-call report (no webhook secret configured)"
        }))
        .description(Some(OPERATION_DESCRIPTION))
        // No bearer token: the webhook's protections are the secret in the
        // path and the address allow-list.
        .securities(Some(Vec::new()))
        .request_body(Some(request_body()));
    if with_secret {
        operation = operation.parameter(
            ParameterBuilder::new()
                .name("secret")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(
                    "The webhook secret (`IVRHUB_WEBHOOK_SECRET` / `--webhook-secret`, at least 16 \
                     characters), compared in constant time. Wrong, or given while the server has \
                     no secret: 404.",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(16))
                        .build(),
                ))
                .example(Some(json!("s3cr3t-path-segment-0123"))),
        );
    }
    for (status, response) in responses(with_secret) {
        operation = operation.response(status, response);
    }
    PathItem::new(HttpMethod::Post, operation.build())
}

// ---------------------------------------------------------------- requests

/// A `GET_IVR_ACTION` body in JSON.
fn json_step(menu: &str, dtmf: &str) -> Json {
    json!({
        "METHOD": "GET_IVR_ACTION",
        "DATA": {
            "DID": crate::demo::DEMO_DID,
            "CALLER_ID": "0540000000",
            "CALLER_NAME": "017W",
            "IVR_UNIQUE_ID": EXAMPLE_CALL_ID,
            "DTMF": dtmf,
            "MENU": menu,
            "PREVIOUS_MENU": "-1"
        }
    })
}

/// The same step in XML-RPC, laid out as the spec's example.
fn xml_step(menu: &str, dtmf: &str) -> String {
    let dtmf = if dtmf.is_empty() {
        "<string/>".to_owned()
    } else {
        format!("<string>{dtmf}</string>")
    };
    let members = [
        ("DID", format!("<string>{}</string>", crate::demo::DEMO_DID)),
        ("CALLER_ID", "<string>0540000000</string>".to_owned()),
        ("CALLER_NAME", "<string>017W</string>".to_owned()),
        (
            "IVR_UNIQUE_ID",
            format!("<string>{EXAMPLE_CALL_ID}</string>"),
        ),
        ("DTMF", dtmf),
        ("MENU", format!("<string>{menu}</string>")),
        ("PREVIOUS_MENU", "<string>-1</string>".to_owned()),
    ];
    method_call("GET_IVR_ACTION", &members)
}

fn json_report() -> Json {
    json!({
        "METHOD": "HANGUP_CALL",
        "DATA": {
            "DID": crate::demo::DEMO_DID,
            "CALLER_ID": "0540000000",
            "IVR_UNIQUE_ID": EXAMPLE_CALL_ID,
            "TARGET": "0500000555",
            "CALL_TIME_EPOCH": 15_616_841_651_i64,
            "CALL_START_EPOCH": 15_616_841_612_i64,
            "CALL_DURATION": 125,
            "CALL_DAILTIME": 15,
            "CALL_STATUS": "ANSWERED"
        }
    })
}

fn xml_report() -> String {
    let members = [
        ("DID", format!("<string>{}</string>", crate::demo::DEMO_DID)),
        ("CALLER_ID", "<string>0540000000</string>".to_owned()),
        (
            "IVR_UNIQUE_ID",
            format!("<string>{EXAMPLE_CALL_ID}</string>"),
        ),
        ("TARGET", "<string>0500000555</string>".to_owned()),
        ("CALL_TIME_EPOCH", "<int>15616841651</int>".to_owned()),
        ("CALL_START_EPOCH", "<int>15616841612</int>".to_owned()),
        ("CALL_DURATION", "<int>125</int>".to_owned()),
        ("CALL_DAILTIME", "<int>15</int>".to_owned()),
        ("CALL_STATUS", "<string>ANSWERED</string>".to_owned()),
    ];
    method_call("HANGUP_CALL", &members)
}

fn method_call(method: &str, members: &[(&str, String)]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<methodCall>\n  <methodName>{method}</methodName>\n  <params>\n    <param>\n      <value>\n        <struct>\n"
    );
    for (name, value) in members {
        out.push_str(&format!(
            "          <member>\n            <name>{name}</name>\n            <value>{value}</value>\n          </member>\n"
        ));
    }
    out.push_str("        </struct>\n      </value>\n    </param>\n  </params>\n</methodCall>\n");
    out
}

/// The documented requests: (name, summary, description, XML-RPC, JSON).
pub fn request_examples() -> Vec<(&'static str, &'static str, &'static str, String, Json)> {
    vec![
        (
            "call_starts",
            "GET_IVR_ACTION: a call starts",
            "The spec's example (which breaks `IVR_UNIQUE_ID` across two lines: whitespace \
             inside it is removed): `MENU` and `PREVIOUS_MENU` are `-1` at the start of a call, \
             `DTMF` is empty. The demo tenant (`serve --demo`, DID 0730000000) answers it with \
             the `menu` example.",
            xml_step("-1", ""),
            json_step("-1", ""),
        ),
        (
            "caller_pressed_1",
            "GET_IVR_ACTION: the caller pressed 1",
            "The next step of the same call: `MENU` is the identifier of our last answer, sent \
             back unchanged (`main~v1`: node `main`, flow version 1), `DTMF` what the caller \
             pressed there. The demo answers it with the `call` example.",
            xml_step("main~v1", "1"),
            json_step("main~v1", "1"),
        ),
        (
            "call_ended",
            "HANGUP_CALL: the end-of-call report",
            "The spec's example (`ANSWERED` is stored as `ANSWER`; epochs may exceed 32 bits). \
             Answered with the `hangup_call_acknowledged` example once the CDR is committed; \
             sent again, it is answered the same and counted once.",
            xml_report(),
            json_report(),
        ),
    ]
}

fn request_body() -> utoipa::openapi::request_body::RequestBody {
    let examples = request_examples();
    let xml = ContentBuilder::new()
        .schema(Some(xml_schema(
            "methodCall",
            "An XML-RPC `methodCall`: `methodName` `GET_IVR_ACTION` or `HANGUP_CALL`, one \
             `param` holding a `struct` of the fields of `VoicenterGetIvrActionData` or \
             `VoicenterHangupCallData`.",
        )))
        .examples_from_iter(examples.iter().map(|(name, summary, description, xml, _)| {
            (
                *name,
                example(summary, description, Json::String(xml.clone())),
            )
        }))
        .build();
    let json_content = ContentBuilder::new()
        .schema(Some(
            OneOfBuilder::new()
                .item(reference("VoicenterGetIvrAction"))
                .item(reference("VoicenterHangupCall"))
                .build()
                .into_ref_or(),
        ))
        .examples_from_iter(
            examples
                .iter()
                .map(|(name, summary, description, _, json)| {
                    (*name, example(summary, description, json.clone()))
                }),
        )
        .build();
    RequestBodyBuilder::new()
        .description(Some(
            "One method call, in XML-RPC or JSON (the body decides; see above).",
        ))
        .required(Some(Required::True))
        .content(XML, xml)
        .content(JSON, json_content)
        .build()
}

// ----------------------------------------------------------------- answers

/// The documented action answers: (name, summary, description, answer).
pub fn answer_examples() -> Vec<(&'static str, &'static str, &'static str, IvrAnswer)> {
    let he = |action| IvrAnswer {
        language: Language::He,
        action,
    };
    vec![
        (
            "menu",
            "MENU: play a recording, collect digits",
            "The demo's answer to the `call_starts` request: play `main_menu_he` twice, one second \
             apart, collect one digit, and send it back with `MENU` `main~v1`.",
            he(Action::Menu(MenuData {
                rec: "main_menu_he".into(),
                loops: 2,
                delay: 1,
                size: 1,
                menu: "main~v1".into(),
                validation: false,
            })),
        ),
        (
            "call",
            "CALL: dial a destination",
            "The demo's answer to the `caller_pressed_1` request: dial 0501234567 showing the \
             caller's number and name; if the dial fails, Voicenter plays the `NEXT_MENU…` menu \
             and asks again with `MENU` `sales_busy~v1`.",
            he(Action::Call(CallData {
                target: crate::demo::DEMO_SALES_NUMBER.into(),
                caller_id: "0540000000".into(),
                caller_name: "017W".into(),
                caller_rec: Some("now_calling_he".into()),
                moh_class: Some("hold_music".into()),
                target_rec: None,
                max_dial_secs: 30,
                max_call_secs: 3600,
                next_menu: Some(NextMenu {
                    menu: "sales_busy~v1".into(),
                    record: Some("sales_busy_he".into()),
                    loops: Some(2),
                    size: Some(1),
                    wait: Some(1),
                }),
                record: true,
                dtmf_play: None,
                dialstrings: Vec::new(),
            })),
        ),
        (
            "saydigits",
            "SAYDIGITS: say a digit string, then a menu",
            "The demo's answer when the caller presses 4 in `main~v1`: say the caller's number \
             after `your_number_is_he`, then play `press_any_key_he` and collect a digit.",
            he(Action::SayDigits(SayDigitsData {
                menu: MenuData {
                    rec: "press_any_key_he".into(),
                    loops: 2,
                    delay: 1,
                    size: 1,
                    menu: "say_number~v1".into(),
                    validation: false,
                },
                intro_rec: "your_number_is_he".into(),
                digits: "0540000000".into(),
            })),
        ),
        (
            "silentrecord",
            "SILENTRECORD: record a message",
            "The demo's answer when the caller presses 9 in `main~v1`: play `leave_message_he`, \
             record at most 120 seconds.",
            he(Action::SilentRecord(SilentRecordData {
                rec: Some("leave_message_he".into()),
                max_duration_secs: Some(120),
            })),
        ),
        (
            "vo",
            "VO: hand the call to a Voicenter IVR layer",
            "What a `vo` node answers: go to layer 2 after playing `blank` once.",
            he(Action::Vo(VoData {
                layer: 2,
                record: "blank".into(),
                loops: 1,
                delay: 0,
            })),
        ),
        (
            "hangup",
            "HANGUP: say good-bye and hang up",
            "The safe answer to a call to a number no tenant owns (no fallback number or \
             recording configured): cause 1, unallocated number. A hangup node answers with its \
             `HANGUP_REC` and cause.",
            he(Action::Hangup(HangupData {
                rec: None,
                cause: Some(1),
            })),
        ),
    ]
}

/// The documented error answers: (status, name, summary, description, code, message).
pub fn error_examples(
    with_secret: bool,
) -> Vec<(
    u16,
    &'static str,
    &'static str,
    String,
    &'static str,
    String,
)> {
    let defaults = ServeSettings::for_tests();
    let limit = defaults.max_body_bytes;
    let mut examples = Vec::new();
    for (name, summary, body) in bad_requests() {
        let (code, message) = match decode_request(body.as_bytes(), limit) {
            Err((_, error)) => (error.code.as_str(), error.message),
            Ok(_) => ("", "a documented bad request was accepted".to_owned()),
        };
        examples.push((
            400,
            name,
            summary,
            format!("What `{body}` gets."),
            code,
            message,
        ));
    }
    examples.push((
        400,
        "invalid_field",
        "A field beyond its limit",
        format!(
            "An `IVR_UNIQUE_ID` longer than {} characters (a `DID` longer than {}: the same for `DID`).",
            super::handler::MAX_CALL_ID_CHARS,
            super::handler::MAX_DID_CHARS
        ),
        "invalid_field",
        format!(
            "IVR_UNIQUE_ID is longer than {} characters",
            super::handler::MAX_CALL_ID_CHARS
        ),
    ));
    examples.push((
        403,
        "forbidden",
        "Address not allowed",
        "The source address (of the TCP connection) is in none of the networks of \
         `IVRHUB_WEBHOOK_ALLOW`. Checked after the secret."
            .into(),
        "forbidden",
        "this address may not call the webhook".into(),
    ));
    examples.push((
        404,
        "not_found",
        "Wrong secret",
        if with_secret {
            "A secret other than the server's, or one given while the server has none."
        } else {
            "Plain `/voicenter` while the server has a webhook secret."
        }
        .into(),
        "not_found",
        "no webhook here".into(),
    ));
    examples.push((
        405,
        "method_not_allowed",
        "Another method than POST",
        "GET, PUT, DELETE… on this path, once the secret and the address are accepted (before \
         that: 404 or 403). With `Allow: POST`."
            .into(),
        "method_not_allowed",
        "the webhook takes POST only".into(),
    ));
    examples.push((
        408,
        "timeout",
        "The body did not arrive in time",
        "The body was still incomplete at the step deadline (default 1500 ms; the deadline \
         covers reading, deciding and storing). The connection is closed."
            .into(),
        "timeout",
        format!(
            "the body did not arrive within {} ms",
            defaults.step_deadline_ms
        ),
    ));
    examples.push((
        413,
        "too_large",
        "The body is too large",
        format!(
            "A body (or a declared `Content-Length`) over `IVRHUB_MAX_BODY` (default {limit} \
             bytes), refused without reading the rest."
        ),
        "too_large",
        format!("the body is larger than {limit} bytes"),
    ));
    examples.push((
        503,
        "unavailable",
        "The report could not be stored",
        "A `HANGUP_CALL` whose CDR could not be committed within the deadline (database \
         unreachable or slow). Nothing is half-stored; send it again (`Retry-After: 1`): it will \
         be counted once."
            .into(),
        "unavailable",
        "the report could not be stored; retry later".into(),
    ));
    examples
}

/// Requests the decoder refuses: (example name, summary, body).
pub fn bad_requests() -> Vec<(&'static str, &'static str, String)> {
    let nested = crate::voicenter::MAX_DEPTH;
    vec![
        (
            "malformed",
            "Not the protocol's envelope",
            r#"{"DATA": {"DID": "0730000000"}}"#.into(),
        ),
        (
            "unknown_method",
            "Another method than GET_IVR_ACTION and HANGUP_CALL",
            r#"{"METHOD": "GET_CALLS", "DATA": {}}"#.into(),
        ),
        (
            "missing_field",
            "DID or IVR_UNIQUE_ID missing or empty",
            r#"{"METHOD": "GET_IVR_ACTION", "DATA": {"DID": "0730000000", "MENU": "-1"}}"#.into(),
        ),
        (
            "too_deep",
            "Nested too deep",
            format!(
                r#"{{"METHOD": "HANGUP_CALL", "DATA": {}{}}}"#,
                "[".repeat(nested),
                "]".repeat(nested)
            ),
        ),
        (
            "forbidden",
            "A DOCTYPE",
            r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><methodCall><methodName>HANGUP_CALL</methodName></methodCall>"#.into(),
        ),
    ]
}

fn responses(with_secret: bool) -> Vec<(String, RefOr<Response>)> {
    let mut ok_xml = Vec::new();
    let mut ok_json = Vec::new();
    for (name, summary, description, answer) in answer_examples() {
        ok_xml.push((
            name,
            example(
                summary,
                description,
                Json::String(indented(&encode_answer(Encoding::XmlRpc, &answer))),
            ),
        ));
        ok_json.push((
            name,
            example(
                summary,
                description,
                json_of(&encode_answer(Encoding::Json, &answer)),
            ),
        ));
    }
    let ack = "The answer to a `HANGUP_CALL` once its CDR is committed (or was already: a \
               repeated report).";
    ok_xml.push((
        "hangup_call_acknowledged",
        example(
            "HANGUP_CALL acknowledged",
            ack,
            Json::String(indented(&encode_hangup_ack(Encoding::XmlRpc))),
        ),
    ));
    ok_json.push((
        "hangup_call_acknowledged",
        example(
            "HANGUP_CALL acknowledged",
            ack,
            json_of(&encode_hangup_ack(Encoding::Json)),
        ),
    ));
    let ok = ResponseBuilder::new()
        .description(
            "`GET_IVR_ACTION`: the action (`STATUS` 0, `ACTION`, `LANGUAGE`, `DATA`), always \
             200, the safe answer included. `HANGUP_CALL`: `{\"STATUS\": 0}`, the CDR is \
             committed.",
        )
        .content(
            XML,
            ContentBuilder::new()
                .schema(Some(xml_schema(
                    "methodResponse",
                    "An XML-RPC `methodResponse` whose one `param` is a `struct` with the \
                     members of `VoicenterAnswer` (`DATA` a nested `struct`, `DIALSTRINGS` an \
                     `array`) or of `VoicenterAck`: integers as `<int>`, text as `<string>`.",
                )))
                .examples_from_iter(ok_xml)
                .build(),
        )
        .content(
            JSON,
            ContentBuilder::new()
                .schema(Some(
                    OneOfBuilder::new()
                        .item(reference("VoicenterAnswer"))
                        .item(reference("VoicenterAck"))
                        .build()
                        .into_ref_or(),
                ))
                .examples_from_iter(ok_json)
                .build(),
        )
        .build();
    let mut responses = vec![("200".to_owned(), RefOr::T(ok))];

    let errors = error_examples(with_secret);
    let statuses: [(u16, &str); 7] = [
        (
            400,
            "The request cannot be understood (`ERROR_CODE` says why). Nothing is stored; \
             sending it again will not help.",
        ),
        (403, "The source address is not in the allow-list."),
        (
            404,
            if with_secret {
                "Wrong secret, or a secret while the server has none: as if nothing were here."
            } else {
                "The server has a webhook secret: this URL is not the webhook."
            },
        ),
        (
            405,
            "Not an answer to POST: what any other method on this path gets, with `Allow: POST`.",
        ),
        (
            408,
            "The body did not arrive within the step deadline; the connection is closed.",
        ),
        (413, "The body is larger than the limit."),
        (
            503,
            "`HANGUP_CALL` only: the CDR could not be committed; send the report again \
             (`Retry-After: 1`). A `GET_IVR_ACTION` never gets this: it gets the safe answer.",
        ),
    ];
    for (status, description) in statuses {
        let mut xml = Vec::new();
        let mut json_examples = Vec::new();
        for (_, name, summary, example_description, code, message) in
            errors.iter().filter(|e| e.0 == status)
        {
            xml.push((
                *name,
                example(
                    summary,
                    example_description,
                    Json::String(indented(&encode_error(Encoding::XmlRpc, code, message))),
                ),
            ));
            json_examples.push((
                *name,
                example(
                    summary,
                    example_description,
                    json_of(&encode_error(Encoding::Json, code, message)),
                ),
            ));
        }
        let mut response = ResponseBuilder::new()
            .description(description)
            .content(
                XML,
                ContentBuilder::new()
                    .schema(Some(xml_schema(
                        "methodResponse",
                        "An XML-RPC `methodResponse` (not a fault) whose one `param` is a \
                         `struct`: `STATUS` 1, `ERROR_CODE`, `ERROR_MESSAGE`.",
                    )))
                    .examples_from_iter(xml)
                    .build(),
            )
            .content(
                JSON,
                ContentBuilder::new()
                    .schema(Some(reference("VoicenterError")))
                    .examples_from_iter(json_examples)
                    .build(),
            );
        match status {
            405 => {
                response = response.header(
                    "Allow",
                    header("`POST`: the only method the webhook takes."),
                );
            }
            408 => {
                response = response.header("Connection", header("`close`."));
            }
            503 => {
                response = response.header(
                    "Retry-After",
                    header("`1`: seconds to wait before sending the report again."),
                );
            }
            _ => {}
        }
        responses.push((status.to_string(), RefOr::T(response.build())));
    }
    responses
}

// ----------------------------------------------------------------- schemas

fn schemas() -> Vec<(&'static str, RefOr<Schema>)> {
    vec![
        (
            "VoicenterGetIvrAction",
            object(
                "GET_IVR_ACTION",
                "Voicenter asks what happens next in a call (JSON encoding).",
                vec![
                    field(
                        "METHOD",
                        constant("GET_IVR_ACTION", "The method (any case)."),
                        true,
                    ),
                    field("DATA", reference("VoicenterGetIvrActionData"), true),
                ],
            ),
        ),
        (
            "VoicenterGetIvrActionData",
            object(
                "GET_IVR_ACTION DATA",
                "The incoming call's details.",
                vec![
                    field(
                        "DID",
                        string(
                            "The number called. Finds the tenant: the number as assigned through \
                             `/api/v1/dids`, written the same way. At most 64 characters.",
                        ),
                        true,
                    ),
                    field(
                        "CALLER_ID",
                        string("Caller ID: the caller's number."),
                        false,
                    ),
                    field("CALLER_NAME", string("Caller name."), false),
                    field(
                        "IVR_UNIQUE_ID",
                        string(
                            "A unique ID for the incoming call (32 characters in the spec; at \
                             most 128 accepted). Ties the call's steps and its CDR together.",
                        ),
                        true,
                    ),
                    field(
                        "MENU",
                        string(
                            "Client's menu identifier: `-1` at the beginning of the call (also \
                             when absent or empty); afterwards the `MENU` (or `NEXT_MENU`) of our \
                             last answer, sent back unchanged, e.g. `main~v1`.",
                        ),
                        false,
                    ),
                    field(
                        "PREVIOUS_MENU",
                        string(
                            "Client's menu identifier before `MENU`; `-1` at the beginning of the \
                             call. Accepted, not needed: the call's state travels in `MENU`.",
                        ),
                        false,
                    ),
                    field(
                        "DTMF",
                        string(
                            "The DTMF the caller pressed in `MENU`; empty when nothing was \
                             pressed.",
                        ),
                        false,
                    ),
                ],
            ),
        ),
        (
            "VoicenterHangupCall",
            object(
                "HANGUP_CALL",
                "Voicenter reports the end of a call (JSON encoding); it becomes a CDR.",
                vec![
                    field(
                        "METHOD",
                        constant("HANGUP_CALL", "The method (any case)."),
                        true,
                    ),
                    field("DATA", reference("VoicenterHangupCallData"), true),
                ],
            ),
        ),
        (
            "VoicenterHangupCallData",
            object(
                "HANGUP_CALL DATA",
                "The end-of-call report. Every field is stored (typed columns and the raw \
                 payload). A number that is not an integer, a negative duration or an epoch \
                 outside years 1970-9999 is stored as null in its column (the raw payload keeps \
                 it): the report is never refused for it.",
                vec![
                    field(
                        "DID",
                        string(
                            "The number called. Decides the tenant whose CDR it is (a number no \
                             tenant owns: kept apart, `/api/v1/reports/orphan-cdrs`).",
                        ),
                        true,
                    ),
                    field("CALLER_ID", string("Caller ID."), false),
                    field(
                        "IVR_UNIQUE_ID",
                        string(
                            "A unique ID for the incoming call: a report is counted once per ID, \
                             however often it is sent.",
                        ),
                        true,
                    ),
                    field("TARGET", string("The destination of the call."), false),
                    field(
                        "CALL_TIME_EPOCH",
                        integer(
                            "Hour and date of the call, Unix epoch seconds (may exceed 32 bits).",
                        ),
                        false,
                    ),
                    field(
                        "CALL_START_EPOCH",
                        integer("Hour and date of the call flow start, Unix epoch seconds."),
                        false,
                    ),
                    field(
                        "CALL_DURATION",
                        integer("Total call duration in seconds."),
                        false,
                    ),
                    field(
                        "CALL_DAILTIME",
                        integer("(sic) Dialing time until the destination answered, in seconds."),
                        false,
                    ),
                    field(
                        "CALL_STATUS",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .description(Some(
                                "Status of the call. `ANSWER`: answered; `BUSY`: busy signal; \
                                 `NOANSWER`: rang too long; `CANCEL`: the caller hung up before \
                                 the callee picked up; `CONGESTION`: usually an unrecognised \
                                 number; `CHANUNAVAIL`: channel unavailable; `DONTCALL`, \
                                 `TORTURE`: privacy mode; `INVALIDARGS`: bad dial arguments. \
                                 Stored trimmed and upper-cased, `ANSWERED` as `ANSWER`; any \
                                 other status is kept as sent.",
                            ))
                            .examples([json!("ANSWER"), json!("ANSWERED"), json!("BUSY")])
                            .build()
                            .into(),
                        false,
                    ),
                ],
            ),
        ),
        ("VoicenterAnswer", answer_schema()),
        (
            "VoicenterMenuData",
            object(
                "MENU DATA",
                "Another IVR menu: play a recording, collect digits.",
                menu_fields(),
            ),
        ),
        (
            "VoicenterCallData",
            object(
                "CALL DATA",
                "Dial and connect a destination. Optional fields are left out when unset; the \
                 `NEXT_MENU_*` details come only with `NEXT_MENU`.",
                vec![
                    field(
                        "TARGET",
                        string("The destination to call (leading zeros kept)."),
                        true,
                    ),
                    field(
                        "CALLERID",
                        string(
                            "The caller number shown to the destination (by default the caller's).",
                        ),
                        true,
                    ),
                    field(
                        "CALLERNAME",
                        string(
                            "The caller name shown to the destination (by default the caller's).",
                        ),
                        true,
                    ),
                    field(
                        "CALLER_REC",
                        string("The record the caller hears before dialing."),
                        false,
                    ),
                    field(
                        "MOH_CLASS",
                        string("The music class heard while dialing."),
                        false,
                    ),
                    field(
                        "TARGET_REC",
                        string("The record the target hears before being connected to the caller."),
                        false,
                    ),
                    field(
                        "CALL_MAX_DIAL",
                        integer("Maximum time in seconds to wait while dialing."),
                        true,
                    ),
                    field(
                        "CALL_MAX",
                        integer("Maximum duration in seconds for the call."),
                        true,
                    ),
                    field(
                        "NEXT_MENU",
                        string(
                            "The menu the call goes to when the dial fails (a menu identifier, \
                             like `MENU`: Voicenter sends it back as `MENU`). Absent: the call is \
                             disconnected.",
                        ),
                        false,
                    ),
                    field(
                        "NEXT_MENU_RECORD",
                        string("The record of that menu."),
                        false,
                    ),
                    field(
                        "NEXT_MENU_LOOP",
                        integer("The number of times to loop-play it."),
                        false,
                    ),
                    field(
                        "NEXT_MENU_SIZE",
                        integer(
                            "The maximum number of digits collected there (0: the failover is no menu).",
                        ),
                        false,
                    ),
                    field(
                        "NEXT_MENU_WAIT",
                        integer("The number of seconds to wait between loops."),
                        false,
                    ),
                    field("REC_STATUS", flag("1: record the call, 0: don't."), true),
                    field(
                        "DTMF_PLAY",
                        string("Digits sent as DTMF after the called party answers."),
                        false,
                    ),
                    field(
                        "DIALSTRINGS",
                        ArrayBuilder::new()
                            .items(string("A dial string, e.g. `SIP/972547000000@provider1`."))
                            .description(Some("Ready dial strings; left out when there are none."))
                            .build()
                            .into(),
                        false,
                    ),
                ],
            ),
        ),
        (
            "VoicenterHangupData",
            object(
                "HANGUP DATA",
                "Hang up the call.",
                vec![
                    field(
                        "HANGUP_REC",
                        string("The good-bye message played before hanging up."),
                        false,
                    ),
                    field(
                        "HANGUP_CAUSE",
                        integer(
                            "Cause of the hangup, a Q.850 cause code (16: normal clearing; the \
                             safe answer uses 1, 21 or 41).",
                        ),
                        false,
                    ),
                ],
            ),
        ),
        (
            "VoicenterSayDigitsData",
            object("SAYDIGITS DATA", "Say digits, then behave as a menu.", {
                let mut fields = menu_fields();
                fields.push(field(
                    "SAYDIGITSRECORD",
                    string("The record played before the digits."),
                    true,
                ));
                fields.push(field(
                    "DIGITS",
                    string(
                        "The digits to say: always a string, so that leading zeros are kept \
                         (digits only).",
                    ),
                    true,
                ));
                fields
            }),
        ),
        (
            "VoicenterVoData",
            object(
                "VO DATA",
                "Go to a Voicenter IVR layer.",
                vec![
                    field("LAYER", integer("The layer number to go to."), true),
                    field("RECORD", string("The record to play."), true),
                    field(
                        "LOOP",
                        integer("The number of times to loop-play the record."),
                        true,
                    ),
                    field(
                        "DELAY",
                        integer("The number of seconds to wait between loops."),
                        true,
                    ),
                ],
            ),
        ),
        (
            "VoicenterSilentRecordData",
            object(
                "SILENTRECORD DATA",
                "Answer the call and record it (voicemail).",
                vec![
                    field(
                        "REC",
                        string("The record played before recording starts."),
                        false,
                    ),
                    field(
                        "MAXDURATION",
                        integer("Maximum recording duration in seconds."),
                        false,
                    ),
                ],
            ),
        ),
        (
            "VoicenterAck",
            object(
                "HANGUP_CALL acknowledgement",
                "The report is stored.",
                vec![field("STATUS", integer_constant(0, "0: OK."), true)],
            ),
        ),
        (
            "VoicenterError",
            object(
                "Webhook error",
                "A request refused, in the request's encoding.",
                vec![
                    field("STATUS", integer_constant(1, "1: error."), true),
                    field(
                        "ERROR_CODE",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .description(Some(
                                "Why, for programs: `malformed`, `unknown_method`, \
                                 `missing_field`, `invalid_field`, `too_deep`, `forbidden` \
                                 (400: a DOCTYPE or entity; 403: the address), `too_large`, \
                                 `not_found`, `method_not_allowed`, `timeout`, `unavailable`.",
                            ))
                            .enum_values(Some([
                                "malformed",
                                "unknown_method",
                                "missing_field",
                                "invalid_field",
                                "too_deep",
                                "forbidden",
                                "too_large",
                                "not_found",
                                "method_not_allowed",
                                "timeout",
                                "unavailable",
                            ]))
                            .build()
                            .into(),
                        true,
                    ),
                    field("ERROR_MESSAGE", string("Why, for people."), true),
                ],
            ),
        ),
    ]
}

fn menu_fields() -> Vec<(&'static str, RefOr<Schema>, bool)> {
    vec![
        field("REC", string("The file name of the record to play."), true),
        field(
            "LOOP",
            integer("The number of times to loop-play the record."),
            true,
        ),
        field(
            "DELAY",
            integer("The number of seconds to wait between each loop."),
            true,
        ),
        field(
            "SIZE",
            integer("The maximum number of digits from the caller."),
            true,
        ),
        field(
            "MENU",
            string(
                "Client's menu identifier, which Voicenter sends back unchanged as the next \
                 request's `MENU`, with the digits pressed in `DTMF`: the node key followed by the \
                 call's state, `key~v7~r1~en` (flow version 7, replayed once, English chosen); \
                 parts with their default value are left out (`main~v7`).",
            ),
            true,
        ),
        field(
            "VALIDATION",
            flag("DTMF input validation: 1 validation, 0 none."),
            true,
        ),
    ]
}

/// `oneOf` the six actions, each `{STATUS, ACTION, LANGUAGE, DATA}`.
fn answer_schema() -> RefOr<Schema> {
    let actions = [
        ("MENU", "Another IVR menu.", "VoicenterMenuData"),
        (
            "CALL",
            "Dial and connect a destination.",
            "VoicenterCallData",
        ),
        ("HANGUP", "Hang up the call.", "VoicenterHangupData"),
        (
            "SAYDIGITS",
            "Say digits, then a menu.",
            "VoicenterSayDigitsData",
        ),
        ("VO", "Go to a Voicenter IVR layer.", "VoicenterVoData"),
        (
            "SILENTRECORD",
            "Answer the call and record it.",
            "VoicenterSilentRecordData",
        ),
    ];
    let mut one_of = OneOfBuilder::new().description(Some(
        "The answer to `GET_IVR_ACTION`: `STATUS` 0, the `ACTION`, the `LANGUAGE` and the \
         action's `DATA`.",
    ));
    for (action, description, data) in actions {
        let language = ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "`he` or `en`, always lower-case: the language the caller chose, else the node's, \
                 the number's, the tenant's.",
            ))
            .enum_values(Some(["he", "en"]))
            .build();
        one_of = one_of.item(object(
            action,
            description,
            vec![
                field("STATUS", integer_constant(0, "0: OK."), true),
                field("ACTION", constant(action, "The action."), true),
                field("LANGUAGE", language.into(), true),
                field("DATA", reference(data), true),
            ],
        ));
    }
    one_of.build().into_ref_or()
}

// ----------------------------------------------------------------- helpers

trait IntoRefOr {
    fn into_ref_or(self) -> RefOr<Schema>;
}

impl IntoRefOr for utoipa::openapi::OneOf {
    fn into_ref_or(self) -> RefOr<Schema> {
        RefOr::T(Schema::OneOf(self))
    }
}

fn field(
    name: &'static str,
    schema: RefOr<Schema>,
    required: bool,
) -> (&'static str, RefOr<Schema>, bool) {
    (name, schema, required)
}

fn object(
    title: &str,
    description: &str,
    fields: Vec<(&'static str, RefOr<Schema>, bool)>,
) -> RefOr<Schema> {
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .title(Some(title))
        .description(Some(description));
    for (name, schema, required) in fields {
        object = object.property(name, schema);
        if required {
            object = object.required(name);
        }
    }
    RefOr::T(Schema::Object(object.build()))
}

fn string(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .build()
        .into()
}

fn integer(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Int64,
        )))
        .description(Some(description))
        .build()
        .into()
}

fn flag(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .description(Some(description))
        .enum_values(Some([0, 1]))
        .build()
        .into()
}

fn constant(value: &str, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some([value]))
        .build()
        .into()
}

fn integer_constant(value: i64, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .description(Some(description))
        .enum_values(Some([value]))
        .build()
        .into()
}

/// The schema of an XML-RPC body: element `root`, whose layout the
/// description and the examples give. (An object with an XML name, so
/// that Swagger UI shows the examples as they are instead of trying to
/// generate XML from the schema.)
fn xml_schema(root: &'static str, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .xml(Some(
            utoipa::openapi::xml::XmlBuilder::new()
                .name(Some(root))
                .build(),
        ))
        .build()
}

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String).build()))
        .description(Some(description))
        .build()
}

fn example(summary: &str, description: &str, value: Json) -> Example {
    ExampleBuilder::new()
        .summary(summary)
        .description(description)
        .value(Some(value))
        .build()
}

fn json_of(bytes: &[u8]) -> Json {
    serde_json::from_slice(bytes).expect("the encoder writes JSON")
}

/// Our one-line XML-RPC, one element a line: elements holding only text
/// stay on one line. (Our encoder escapes `<` and `>` in text, so every
/// `<` starts a tag.)
pub fn indented(xml: &[u8]) -> String {
    let xml = String::from_utf8_lossy(xml);
    let mut out = String::new();
    let mut depth = 0usize;
    let mut rest = xml.trim();
    let line = |out: &mut String, depth: usize, text: &str| {
        out.push_str(&"  ".repeat(depth));
        out.push_str(text);
        out.push('\n');
    };
    while let Some(start) = rest.find('<') {
        rest = &rest[start..];
        let Some(end) = rest.find('>').map(|at| at + 1) else {
            break;
        };
        let tag = &rest[..end];
        let after = &rest[end..];
        if tag.starts_with("<?") || tag.ends_with("/>") {
            line(&mut out, depth, tag);
            rest = after;
        } else if tag.starts_with("</") {
            depth = depth.saturating_sub(1);
            line(&mut out, depth, tag);
            rest = after;
        } else if after.starts_with('<') && !after.starts_with("</") {
            line(&mut out, depth, tag);
            depth += 1;
            rest = after;
        } else {
            // Text (possibly none) and the closing tag: one line.
            let close = after
                .find('<')
                .and_then(|at| after[at..].find('>').map(|end| at + end + 1))
                .unwrap_or(after.len());
            line(&mut out, depth, &format!("{tag}{}", &after[..close]));
            rest = &after[close..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voicenter::{decode_answer, decode_status};

    #[test]
    fn indented_answers_read_back_as_the_same_answers() {
        for (name, _, _, answer) in answer_examples() {
            let compact = encode_answer(Encoding::XmlRpc, &answer);
            let pretty = indented(&compact);
            assert!(pretty.lines().count() > 10, "{name}: {pretty}");
            assert_eq!(
                decode_answer(pretty.as_bytes()).unwrap(),
                (Encoding::XmlRpc, answer),
                "{name}"
            );
            let without_layout: String = pretty.lines().map(str::trim).collect();
            let compact = String::from_utf8(compact).unwrap().replace('\n', "");
            assert_eq!(without_layout, compact, "{name}");
        }
        let ack = indented(&encode_hangup_ack(Encoding::XmlRpc));
        assert_eq!(decode_status(ack.as_bytes()).unwrap().1.status, 0);
        assert!(
            ack.lines().any(|line| line.trim() == "<int>0</int>"),
            "{ack}"
        );
    }

    #[test]
    fn documented_requests_decode_as_documented() {
        for (name, _, _, xml, json) in request_examples() {
            let (xml_encoding, from_xml) = decode_request(xml.as_bytes(), 65536).unwrap();
            let (json_encoding, from_json) =
                decode_request(json.to_string().as_bytes(), 65536).unwrap();
            assert_eq!(xml_encoding, Encoding::XmlRpc, "{name}");
            assert_eq!(json_encoding, Encoding::Json, "{name}");
            // The raw payload of a report keeps the XML-RPC/JSON types as
            // they were; everything else is the same call.
            match (from_xml, from_json) {
                (
                    crate::voicenter::types::Request::Hangup(mut a),
                    crate::voicenter::types::Request::Hangup(b),
                ) => {
                    a.raw = b.raw.clone();
                    assert_eq!(a, b, "{name}");
                    assert_eq!(a.status, "ANSWER");
                    assert_eq!(a.call_time_epoch, Some(15_616_841_651));
                }
                (a, b) => assert_eq!(a, b, "{name}"),
            }
        }
    }

    /// The documented XML-RPC requests are the spec's examples (laid out
    /// evenly, `IVR_UNIQUE_ID` on one line).
    #[test]
    fn documented_requests_are_the_specs_examples() {
        let spec = |body: &[u8]| decode_request(body, 65536).unwrap();
        let examples = request_examples();
        let documented = |name: &str| {
            let (_, _, _, xml, _) = examples.iter().find(|e| e.0 == name).unwrap();
            decode_request(xml.as_bytes(), 65536).unwrap()
        };
        assert_eq!(
            documented("call_starts"),
            spec(include_bytes!(
                "../../tests/fixtures/spec/get_ivr_action_request_reconstructed.xml"
            ))
        );
        let (encoding, documented) = documented("call_ended");
        let (spec_encoding, spec) = spec(include_bytes!(
            "../../tests/fixtures/spec/hangup_call_request.xml"
        ));
        assert_eq!(encoding, spec_encoding);
        match (documented, spec) {
            (
                crate::voicenter::types::Request::Hangup(mut a),
                crate::voicenter::types::Request::Hangup(b),
            ) => {
                // The raw payloads differ in layout only.
                a.raw = b.raw.clone();
                assert_eq!(a, b);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_bad_request_is_refused_with_its_documented_code() {
        for (_, name, _, _, code, _) in error_examples(true) {
            assert_eq!(name, code);
        }
    }

    #[test]
    fn the_document_has_the_webhook_without_security() {
        let api = crate::admin::openapi();
        let document = serde_json::to_value(&api).unwrap();
        for path in ["/voicenter", "/voicenter/{secret}"] {
            let operation = &document["paths"][path]["post"];
            assert_eq!(operation["security"], json!([]), "{path}");
            assert_eq!(operation["tags"], json!([TAG]), "{path}");
            let body = &operation["requestBody"]["content"];
            assert!(body[XML]["examples"]["call_starts"]["value"].is_string());
            assert_eq!(
                body[JSON]["examples"]["call_ended"]["value"]["METHOD"],
                "HANGUP_CALL"
            );
        }
        for name in ["VoicenterAnswer", "VoicenterCallData", "VoicenterError"] {
            assert!(
                document["components"]["schemas"][name].is_object(),
                "{name}"
            );
        }
    }
}
