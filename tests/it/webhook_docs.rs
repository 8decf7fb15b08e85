//! The webhook as `/api/openapi.json` describes it, and the real webhook
//! answering the documented requests with the documented answers (status,
//! encoding and body), so that the description cannot drift from behaviour.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::harness::{Response, TestApp};

const SECRET: &str = "s3cr3t-path-segment-0123";
const XML: &str = "text/xml";
const JSON: &str = "application/json";
const PATHS: [&str; 2] = ["/voicenter", "/voicenter/{secret}"];

async fn document(app: &TestApp) -> Value {
    let response = app.get("/api/openapi.json").await;
    assert_eq!(response.status, 200);
    serde_json::from_str(&response.body).unwrap()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// A documented example's body as it goes on the wire.
fn wire(example: &Value, content_type: &str) -> String {
    let value = &example["value"];
    match content_type {
        XML => value
            .as_str()
            .unwrap_or_else(|| panic!("an XML example is text: {example}"))
            .to_owned(),
        _ => value.to_string(),
    }
}

/// Asserts that `response` is the documented `example` in `content_type`:
/// the same JSON value, or the same XML once the indentation is removed.
fn assert_documented(response: &Response, status: u16, content_type: &str, example: &Value) {
    let summary = example["summary"].as_str().unwrap_or_default();
    assert_eq!(response.status, status, "{summary}: {}", response.body);
    assert!(
        response.content_type.starts_with(content_type),
        "{summary}: {} for {content_type}: {}",
        response.content_type,
        response.body
    );
    match content_type {
        XML => {
            let documented: String = example["value"]
                .as_str()
                .unwrap()
                .lines()
                .map(str::trim)
                .collect();
            let sent = response.body.replace('\n', "");
            assert_eq!(sent, documented, "{summary}");
        }
        _ => {
            let sent: Value = serde_json::from_str(&response.body).unwrap();
            assert_eq!(sent, example["value"], "{summary}");
        }
    }
}

#[tokio::test]
async fn the_document_describes_the_webhook_without_security() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert!(doc.get("security").is_none(), "no global security");
    assert!(
        doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|tag| tag["name"] == "Voicenter webhook")
    );
    let description = doc["info"]["description"].as_str().unwrap();
    for needle in [
        "**Connect Voicenter.**",
        "https://<host>/voicenter/<secret>",
        "IVRHUB_WEBHOOK_ALLOW",
        "sales~v7~r1~en",
        "POST /api/v1/dids",
        "IVRHUB_STEP_DEADLINE_MS",
        "no double count",
    ] {
        assert!(description.contains(needle), "{needle}");
    }
    for path in PATHS {
        let item = &doc["paths"][path];
        assert_eq!(keys(item), set(&["post"]), "{path}: POST only");
        let operation = &item["post"];
        assert_eq!(operation["security"], json!([]), "{path}: no security");
        assert_eq!(operation["tags"], json!(["Voicenter webhook"]));
        let parameters: Vec<&str> = operation["parameters"]
            .as_array()
            .map(|list| list.iter().map(|p| p["name"].as_str().unwrap()).collect())
            .unwrap_or_default();
        if path.contains("{secret}") {
            assert_eq!(parameters, ["secret"]);
        } else {
            assert!(parameters.is_empty());
        }

        // Both encodings, both methods.
        let body = &operation["requestBody"]["content"];
        assert_eq!(keys(body), set(&[XML, JSON]), "{path}");
        let methods: BTreeSet<String> = body[JSON]["examples"]
            .as_object()
            .unwrap()
            .values()
            .map(|e| e["value"]["METHOD"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(methods, set(&["GET_IVR_ACTION", "HANGUP_CALL"]));
        for method in ["GET_IVR_ACTION", "HANGUP_CALL"] {
            let tag = format!("<methodName>{method}</methodName>");
            assert!(
                body[XML]["examples"]
                    .as_object()
                    .unwrap()
                    .values()
                    .any(|e| e["value"].as_str().unwrap().contains(&tag)),
                "{path}: an XML-RPC {method}"
            );
        }
        let one_of: Vec<&str> = body[JSON]["schema"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["$ref"].as_str().unwrap())
            .collect();
        assert_eq!(
            one_of,
            [
                "#/components/schemas/VoicenterGetIvrAction",
                "#/components/schemas/VoicenterHangupCall"
            ]
        );

        // Every answer: the six actions and the acknowledgement, and the errors.
        let responses = &operation["responses"];
        assert_eq!(
            keys(responses),
            set(&["200", "400", "403", "404", "405", "408", "413", "503"]),
            "{path}"
        );
        for (status, response) in responses.as_object().unwrap() {
            assert_eq!(keys(&response["content"]), set(&[XML, JSON]), "{status}");
            for content_type in [XML, JSON] {
                let examples = response["content"][content_type]["examples"]
                    .as_object()
                    .unwrap();
                assert!(!examples.is_empty(), "{path} {status} {content_type}");
                for (name, example) in examples {
                    let text = wire(example, content_type);
                    let expected_status = if status == "200" { "0" } else { "1" };
                    let compact: String = text.split_whitespace().collect();
                    assert!(
                        compact.contains(&format!(
                            "<name>STATUS</name><value><int>{expected_status}</int></value>"
                        )) || compact.contains(&format!("\"STATUS\":{expected_status}")),
                        "{path} {status} {name}: {text}"
                    );
                }
            }
        }
        let actions: BTreeSet<String> = responses["200"]["content"][JSON]["examples"]
            .as_object()
            .unwrap()
            .values()
            .map(|e| e["value"]["ACTION"].as_str().unwrap_or("(ack)").to_owned())
            .collect();
        assert_eq!(
            actions,
            set(&[
                "(ack)",
                "CALL",
                "HANGUP",
                "MENU",
                "SAYDIGITS",
                "SILENTRECORD",
                "VO"
            ])
        );
        assert_eq!(
            keys(&responses["405"]["headers"]),
            set(&["Allow"]),
            "{path}"
        );
        assert_eq!(keys(&responses["503"]["headers"]), set(&["Retry-After"]));
    }
    for schema in [
        "VoicenterGetIvrActionData",
        "VoicenterHangupCallData",
        "VoicenterAnswer",
        "VoicenterMenuData",
        "VoicenterCallData",
        "VoicenterHangupData",
        "VoicenterSayDigitsData",
        "VoicenterVoData",
        "VoicenterSilentRecordData",
        "VoicenterAck",
        "VoicenterError",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    // Every field of the spec's tables is described.
    let schemas = &doc["components"]["schemas"];
    for (schema, fields) in [
        (
            "VoicenterGetIvrActionData",
            &[
                "DID",
                "CALLER_ID",
                "CALLER_NAME",
                "IVR_UNIQUE_ID",
                "MENU",
                "PREVIOUS_MENU",
                "DTMF",
            ][..],
        ),
        (
            "VoicenterHangupCallData",
            &[
                "DID",
                "CALLER_ID",
                "IVR_UNIQUE_ID",
                "TARGET",
                "CALL_TIME_EPOCH",
                "CALL_START_EPOCH",
                "CALL_DURATION",
                "CALL_DAILTIME",
                "CALL_STATUS",
            ][..],
        ),
        (
            "VoicenterCallData",
            &[
                "TARGET",
                "CALLERID",
                "CALLERNAME",
                "CALLER_REC",
                "MOH_CLASS",
                "TARGET_REC",
                "CALL_MAX_DIAL",
                "CALL_MAX",
                "NEXT_MENU",
                "NEXT_MENU_RECORD",
                "NEXT_MENU_LOOP",
                "NEXT_MENU_SIZE",
                "NEXT_MENU_WAIT",
                "REC_STATUS",
                "DTMF_PLAY",
                "DIALSTRINGS",
            ][..],
        ),
    ] {
        assert_eq!(
            keys(&schemas[schema]["properties"]),
            set(fields),
            "{schema}"
        );
        for field in fields {
            assert!(
                schemas[schema]["properties"][field]["description"].is_string(),
                "{schema}.{field}"
            );
        }
    }
}

#[tokio::test]
async fn the_documented_examples_get_the_documented_answers() {
    let settings = ivrhub::config::ServeSettings {
        webhook_secret: Some(SECRET.parse().unwrap()),
        ..ivrhub::config::ServeSettings::for_tests()
    };
    let app = TestApp::spawn_with(settings).await;
    app.with_demo().await;
    let doc = document(&app).await;
    let operation = &doc["paths"]["/voicenter/{secret}"]["post"];
    let requests = &operation["requestBody"]["content"];
    let responses = &operation["responses"];
    let answer = |status: &str, content_type: &str, name: &str| {
        let example = &responses[status]["content"][content_type]["examples"][name];
        assert!(example.is_object(), "{status} {content_type} {name}");
        example.clone()
    };

    for content_type in [XML, JSON] {
        let request = |name: &str| wire(&requests[content_type]["examples"][name], content_type);
        // The demo's answers, as the examples' descriptions say.
        let pressed_1 = request("caller_pressed_1");
        let with_digit = |digit: &str| match content_type {
            XML => pressed_1.replace("<string>1</string>", &format!("<string>{digit}</string>")),
            _ => pressed_1.replace(r#""DTMF":"1""#, &format!(r#""DTMF":"{digit}""#)),
        };
        let cases = vec![
            (pressed_1.clone(), "call"),
            (with_digit("4"), "saydigits"),
            (with_digit("9"), "silentrecord"),
            (
                request("call_starts").replace(ivrhub::demo::DEMO_DID, "0739999999"),
                "hangup",
            ),
            (request("call_ended"), "hangup_call_acknowledged"),
            // A report sent again: the same answer.
            (request("call_ended"), "hangup_call_acknowledged"),
            // Decided at the tests' instant, a working Tuesday morning: open.
            (request("call_starts"), "menu"),
        ];
        for (body, name) in cases {
            let response = app.post(&app.webhook, content_type, body).await;
            assert_documented(
                &response,
                200,
                content_type,
                &answer("200", content_type, name),
            );
        }

        // Refusals: a plain /voicenter while the server has a secret, a wrong secret.
        for path in ["/voicenter", "/voicenter/not-the-secret-0000000"] {
            let response = app.post(path, content_type, request("call_ended")).await;
            assert_documented(
                &response,
                404,
                content_type,
                &answer("404", content_type, "not_found"),
            );
        }
        // Another method: 405 with Allow.
        let response = app
            .http
            .get(format!("{}{}", app.base, app.webhook))
            .header("content-type", content_type)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["allow"], "POST");
        let response = Response {
            status: response.status().as_u16(),
            content_type: response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned(),
            retry_after: None,
            body: response.text().await.unwrap(),
        };
        assert_documented(
            &response,
            405,
            content_type,
            &answer("405", content_type, "method_not_allowed"),
        );
        // Too large.
        let response = app
            .post(&app.webhook, content_type, " ".repeat(64 * 1024 + 1))
            .await;
        assert_documented(
            &response,
            413,
            content_type,
            &answer("413", content_type, "too_large"),
        );
    }

    // Each 400 example says which request gets it: that request gets it.
    let documented = responses["400"]["content"][JSON]["examples"]
        .as_object()
        .unwrap();
    assert!(documented.len() >= 6, "{documented:?}");
    for (name, example) in documented {
        let description = example["description"].as_str().unwrap();
        let body = match description
            .strip_prefix("What `")
            .and_then(|rest| rest.strip_suffix("` gets."))
        {
            Some(body) => body.to_owned(),
            // The one documented in words: an overlong IVR_UNIQUE_ID.
            None => {
                assert_eq!(name, "invalid_field");
                let mut step: Value = requests[JSON]["examples"]["call_starts"]["value"].clone();
                step["DATA"]["IVR_UNIQUE_ID"] = json!("x".repeat(129));
                step.to_string()
            }
        };
        // The answer's encoding is the body's.
        let content_type = if body.starts_with('<') { XML } else { JSON };
        let response = app.post(&app.webhook, content_type, body).await;
        assert_documented(
            &response,
            400,
            content_type,
            &answer("400", content_type, name),
        );
    }

    // A body that starts with neither `<` nor `{` goes by Content-Type, for
    // its reading as for its answer (a broken text/xml body was reported as
    // "not valid JSON").
    for (content_type, json_reply) in [("text/xml; charset=utf-8", false), (JSON, true)] {
        let response = app.post(&app.webhook, content_type, "garbage").await;
        assert_eq!(response.status, 400, "{}", response.body);
        let reply = ivrhub::voicenter::decode_status(response.body.as_bytes()).unwrap();
        assert_eq!(
            reply.0,
            if json_reply {
                ivrhub::voicenter::types::Encoding::Json
            } else {
                ivrhub::voicenter::types::Encoding::XmlRpc
            }
        );
        assert_eq!(reply.1.error_code.as_deref(), Some("malformed"));
        let message = reply.1.error_message.unwrap();
        assert_eq!(
            message.contains("JSON"),
            json_reply,
            "{content_type}: {message}"
        );
    }

    // A report counts once, however often it was sent.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM cdrs WHERE call_id = $1")
        .bind(ivrhub::webhook::openapi::EXAMPLE_CALL_ID)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);

    // An address outside the allow-list.
    let settings = ivrhub::config::ServeSettings {
        webhook_allow: vec!["192.0.2.0/24".parse().unwrap()],
        ..ivrhub::config::ServeSettings::for_tests()
    };
    let fenced = TestApp::spawn_with(settings).await;
    let fenced_doc = document(&fenced).await;
    for content_type in [XML, JSON] {
        let report = wire(
            &fenced_doc["paths"]["/voicenter"]["post"]["requestBody"]["content"][content_type]["examples"]
                ["call_ended"],
            content_type,
        );
        let response = fenced.post("/voicenter", content_type, report).await;
        assert_documented(
            &response,
            403,
            content_type,
            &fenced_doc["paths"]["/voicenter"]["post"]["responses"]["403"]["content"][content_type]
                ["examples"]["forbidden"],
        );
    }
}
