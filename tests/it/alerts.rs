//! Alerts end to end: calls through the real webhook, rules through the
//! API, evaluation by the node holding the lease (two nodes, one killed),
//! webhooks to local receivers (one that misbehaves on purpose), checked by
//! an independent implementation of the Standard Webhooks signature
//! (Python's standard library).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ivrhub::config::{AlertSettings, ServeSettings};
use ivrhub::demo::DEMO_DID;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api_client::{self, PASSWORD, code, delete, get, post, put};
use crate::harness::{TestApp, fresh_database};

// ---------------------------------------------------------------- receiver

/// What a receiver does with each request, in order (the last one repeats).
#[derive(Debug, Clone, Copy)]
enum Reply {
    Status(u16),
    /// Reads the request and never answers.
    Hang,
}

#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A webhook receiver on loopback: a hand-written HTTP/1.1 server, so that
/// it can misbehave in ways a framework would not.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(replies: Vec<Reply>) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let log = Arc::clone(&log);
                let replies = replies.clone();
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut socket).await else {
                        return;
                    };
                    // The reply of the n-th request (connections that send none do not count).
                    let reply = {
                        let mut log = log.lock().unwrap();
                        log.push(request);
                        replies[(log.len() - 1).min(replies.len() - 1)]
                    };
                    match reply {
                        Reply::Status(status) => {
                            let answer = format!(
                                "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                            );
                            let _ = socket.write_all(answer.as_bytes()).await;
                        }
                        Reply::Hang => tokio::time::sleep(Duration::from_secs(3600)).await,
                    }
                });
            }
        });
        Receiver { url, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_string();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(key, _)| key == "content-length")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[header_end + 4..].to_vec();
    while body.len() < length {
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    Some(Received {
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}

/// The Standard Webhooks check, written independently in Python (its
/// standard library's hmac, hashlib and base64): `valid` or `invalid`.
const VERIFY_PY: &str = r#"
import base64, hashlib, hmac, json, sys, time
given = json.load(sys.stdin)
key = base64.b64decode(given["secret"].split("_", 1)[1])
signed = f'{given["id"]}.{given["timestamp"]}.'.encode() + given["body"].encode()
expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
fresh = abs(time.time() - int(given["timestamp"])) < 300
ok = any(
    version == "v1" and hmac.compare_digest(signature, expected)
    for version, _, signature in (part.partition(",") for part in given["signature"].split(" "))
)
print("valid" if ok and fresh else "invalid")
"#;

/// Does `secret` sign `message`, as an independent implementation sees it?
fn verified(secret: &str, message: &Received) -> bool {
    let mut child = std::process::Command::new("python3")
        .args(["-c", VERIFY_PY])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (the tests need it)");
    let input = json!({
        "secret": secret,
        "id": message.header("webhook-id"),
        "timestamp": message.header("webhook-timestamp"),
        "signature": message.header("webhook-signature"),
        "body": message.body,
    });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let answer = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        answer == "valid" || answer == "invalid",
        "verifier: {answer:?}"
    );
    answer == "valid"
}

// ---------------------------------------------------------------- helpers

fn alerting(tick_ms: u64, lease_secs: f64) -> AlertSettings {
    AlertSettings {
        alerts: true,
        alert_allow_private_urls: true,
        alert_tick_ms: tick_ms,
        alert_lease_secs: lease_secs,
        alert_retry_secs: vec![0.2, 0.2, 0.2],
        alert_timeout_ms: 500,
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// One call's report through the real webhook, started at `start`.
async fn hang_up(app: &TestApp, call_id: &str, status: &str, start: DateTime<Utc>) {
    let body = json!({
        "METHOD": "HANGUP_CALL",
        "DATA": {
            "DID": DEMO_DID, "CALLER_ID": "0541111111", "IVR_UNIQUE_ID": call_id,
            "TARGET": "0500000555", "CALL_TIME_EPOCH": start.timestamp(),
            "CALL_START_EPOCH": start.timestamp(), "CALL_DURATION": 60,
            "CALL_DAILTIME": 5, "CALL_STATUS": status
        }
    });
    let response = app
        .post(&app.webhook, "application/json", body.to_string())
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(response.body.contains("\"STATUS\":0"), "{}", response.body);
}

/// The demo tenant's admin token.
async fn demo_admin(app: &TestApp, tenant_id: i64) -> String {
    let platform = api_client::platform_admin(app).await;
    let user = json!({"email": "ops@demo.example", "role": "tenant_admin", "password": PASSWORD});
    let (status, body) = post(
        app,
        &platform,
        &format!("/api/v1/users?tenant_id={tenant_id}"),
        user,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    api_client::login(app, "ops@demo.example", PASSWORD).await
}

/// Waits until the rule was evaluated at `minute`; its state then.
async fn evaluated(app: &TestApp, token: &str, rule_id: i64, minute: DateTime<Utc>) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, rule) = get(app, token, &format!("/api/v1/alerts/rules/{rule_id}")).await;
        assert_eq!(status, 200, "{rule}");
        if rule["last_evaluated_at"]
            .as_str()
            .is_some_and(|text| at(text) >= minute)
        {
            return rule;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "rule {rule_id} not evaluated at {minute} within 10 s: {rule}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    // Generous: a loaded CI machine is slow; a working system is fast.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn events(app: &TestApp, token: &str, rule_id: i64) -> Vec<Value> {
    let (status, page) = get(
        app,
        token,
        &format!("/api/v1/alerts/events?rule_id={rule_id}&limit=200"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let mut items = page["items"].as_array().unwrap().clone();
    items.reverse();
    items
}

async fn lease_holder(app: &TestApp) -> Option<String> {
    ivrhub::lease::holder(&app.pool, ivrhub::alerts::evaluator::LEASE)
        .await
        .unwrap()
}

// ---------------------------------------------------------------- tests

/// The judged scenario: the answer rate of the demo line collapses at
/// 10:00 (08:00 UTC) and recovers at 10:20. The rule (below 50 %, clears at
/// 70 %, 10 calls at least, 2 of the last 3 minutes) fires once, at the
/// second breaching evaluation; passes through 50-60 % on the way back
/// without resolving; resolves once at 70 %; each event reaches the
/// receiver once, signed. The evaluating node is killed while the rule
/// fires: the other node takes the lease and carries on.
#[tokio::test]
async fn an_asr_collapse_fires_once_and_resolves_once_across_a_node_failure() {
    let start = at("2026-12-01T07:50:00Z");
    let settings = || ServeSettings {
        alerting: alerting(40, 0.6),
        ..ServeSettings::for_tests()
    };
    let first_settings = settings();
    let clock = first_settings.clock.clone();
    clock.set(start);
    // Nodes of one deployment share the clock (the test moves it) and the token key.
    let second_settings = ServeSettings {
        clock: clock.clone(),
        jwt_secret: first_settings.jwt_secret.clone(),
        ..settings()
    };
    let database = fresh_database().await;
    let first = TestApp::spawn_on(first_settings, database.clone()).await;
    let second = TestApp::spawn_on(second_settings, database).await;
    let tenant_id = first.with_demo().await;
    let token = demo_admin(&first, tenant_id).await;
    let receiver = Receiver::start(vec![Reply::Status(204)]).await;
    let (status, rule) = post(
        &first,
        &token,
        "/api/v1/alerts/rules",
        json!({
            "name": "Demo line answer rate", "metric": "asr", "did": DEMO_DID,
            "window_minutes": 10, "condition": "below", "threshold": 0.5,
            "clear_threshold": 0.7, "min_calls": 10, "fire_after": 2, "of_last": 3,
            "webhook_urls": [receiver.url],
        }),
    )
    .await;
    assert_eq!(status, 201, "{rule}");
    assert_eq!(rule["state"], "ok");
    let rule_id = rule["rule_id"].as_i64().unwrap();

    // Two calls a minute: answered until 10:00, unanswered until 10:20, answered again.
    let status_at = |minute: i64| {
        if (10..30).contains(&minute) {
            "NOANSWER"
        } else {
            "ANSWER"
        }
    };
    let mut killed = false;
    let mut timeline = Vec::new();
    for minute in 0..50i64 {
        let when = start + chrono::Duration::minutes(minute);
        for n in 0..2 {
            let call = format!("c{minute}-{n}");
            hang_up(
                &first,
                &call,
                status_at(minute),
                when + chrono::Duration::seconds(10 + n * 20),
            )
            .await;
        }
        let end = when + chrono::Duration::minutes(1);
        clock.set(end);
        if minute < 9 {
            continue; // the window fills up; evaluations run on the minutes anyway
        }
        let rule = evaluated(&second, &token, rule_id, end).await;
        timeline.push((
            end,
            rule["state"].as_str().unwrap().to_owned(),
            rule["last_value"].clone(),
        ));
        // While it fires, the node evaluating dies.
        if rule["state"] == "firing" && !killed {
            killed = true;
            let holder = lease_holder(&first).await.expect("someone holds the lease");
            let (dying, survivor) = if first.alerts.as_ref().unwrap().0 == holder {
                (&first, &second)
            } else {
                (&second, &first)
            };
            for handle in &dying.alerts.as_ref().unwrap().1 {
                handle.abort();
            }
            let survivor_name = survivor.alerts.as_ref().unwrap().0.clone();
            eventually("the other node takes the lease", async || {
                (lease_holder(&first).await.as_deref() == Some(survivor_name.as_str()))
                    .then_some(())
            })
            .await;
        }
    }
    assert!(killed, "the rule never fired: {timeline:?}");
    let events = events(&first, &token, rule_id).await;
    let summary: Vec<(String, String)> = events
        .iter()
        .map(|event| {
            (
                event["state"].as_str().unwrap().to_owned(),
                event["at"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // At 10:06 the window holds 8 answered of 20 (0.4, the first breach); at 10:07 6 of 20: fires.
    // Back: 10:25 0.5, 10:26 0.6 (between the thresholds: still firing), 10:27 0.7: resolved.
    assert_eq!(
        summary,
        vec![
            ("firing".to_owned(), "2026-12-01T08:07:00Z".to_owned()),
            ("resolved".to_owned(), "2026-12-01T08:27:00Z".to_owned()),
        ],
        "timeline: {timeline:?}"
    );
    assert_eq!(events[0]["value"], json!(0.3));
    assert_eq!(events[0]["calls"], 20);
    assert_eq!(events[1]["value"], json!(0.7));

    // Each event reached the receiver once, signed with the tenant's secret.
    let mut messages = eventually("both messages delivered", async || {
        let got = receiver.received();
        (got.len() >= 2).then_some(got)
    })
    .await;
    // Deliveries are at least once, not in order: a message the killed
    // node was sending is sent again once its claim runs out, maybe after
    // the next one. Receivers order by the event (its id, its timestamp).
    messages.sort_by_key(|m| m.json()["data"]["event_id"].as_i64());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Each message once, as a receiver deduplicating on `webhook-id` sees
    // them (one the killed node sent but could not record is sent again).
    let ids: std::collections::HashSet<String> = receiver
        .received()
        .iter()
        .map(|m| m.header("webhook-id").to_owned())
        .collect();
    assert_eq!(ids.len(), 2, "two messages");
    messages.dedup_by_key(|m| m.header("webhook-id").to_owned());
    assert_eq!(messages.len(), 2);
    let (status, secret) = get(&first, &token, "/api/v1/alerts/secret").await;
    assert_eq!(status, 200, "{secret}");
    let secret = secret["secret"].as_str().unwrap();
    let kinds: Vec<Value> = messages.iter().map(|m| m.json()["type"].clone()).collect();
    assert_eq!(kinds, vec![json!("alert.firing"), json!("alert.resolved")]);
    for message in &messages {
        assert!(verified(secret, message), "signature: {message:?}");
        assert!(!verified(
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            message
        ));
        let data = &message.json()["data"];
        assert_eq!(data["rule_id"], rule_id);
        assert_eq!(data["window"]["minutes"], 10);
        assert!(data["event_id"].is_i64());
    }
    // A tampered body fails the independent check.
    let mut tampered = messages[0].clone();
    tampered.body = tampered.body.replace("0.3", "0.9");
    assert!(!verified(secret, &tampered));

    // The deliveries say so, each with one attempt.
    let (status, deliveries) = get(&first, &token, "/api/v1/alerts/deliveries").await;
    assert_eq!(status, 200, "{deliveries}");
    let deliveries = deliveries["items"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    for delivery in deliveries {
        assert_eq!(delivery["status"], "delivered", "{delivery}");
        assert_eq!(delivery["attempts"].as_array().unwrap().len(), 1);
        assert_eq!(delivery["attempts"][0]["status_code"], 204);
    }
}

/// A receiver that answers 500, one that never answers and one that works:
/// each delivery has its own fate and retries; the evaluator goes on
/// evaluating every minute meanwhile; the attempts are all recorded.
#[tokio::test]
async fn a_failing_receiver_costs_only_its_own_retries() {
    let settings = ServeSettings {
        alerting: alerting(30, 5.0),
        ..ServeSettings::for_tests()
    };
    let clock = settings.clock.clone();
    let minute = at("2026-12-01T08:00:00Z");
    clock.set(minute);
    let app = TestApp::spawn_with(settings).await;
    let tenant_id = app.with_demo().await;
    let token = demo_admin(&app, tenant_id).await;
    let flaky = Receiver::start(vec![
        Reply::Status(500),
        Reply::Status(500),
        Reply::Status(200),
    ])
    .await;
    let silent = Receiver::start(vec![Reply::Hang]).await;
    let good = Receiver::start(vec![Reply::Status(200)]).await;
    let (status, rule) = post(
        &app,
        &token,
        "/api/v1/alerts/rules",
        json!({
            "name": "Any call", "metric": "calls", "window_minutes": 60,
            "condition": "above", "threshold": 0,
            "webhook_urls": [flaky.url, silent.url, good.url],
        }),
    )
    .await;
    assert_eq!(status, 201, "{rule}");
    let rule_id = rule["rule_id"].as_i64().unwrap();
    hang_up(&app, "one", "ANSWER", minute - chrono::Duration::minutes(2)).await;
    let fired = minute + chrono::Duration::minutes(1);
    clock.set(fired);
    let rule = evaluated(&app, &token, rule_id, fired).await;
    assert_eq!(rule["state"], "firing", "{rule}");
    // The working receiver has it at once, whatever the others do.
    eventually("the good receiver", async || {
        (good.received().len() == 1).then_some(())
    })
    .await;
    // Evaluation is not held up by the receiver that hangs.
    for n in 2..5 {
        let next = minute + chrono::Duration::minutes(n);
        clock.set(next);
        evaluated(&app, &token, rule_id, next).await;
    }
    let deliveries = eventually("every delivery settled", async || {
        let (_, page) = get(
            &app,
            &token,
            &format!("/api/v1/alerts/deliveries?rule_id={rule_id}"),
        )
        .await;
        let items = page["items"].as_array().unwrap().clone();
        items
            .iter()
            .all(|d| d["status"] != "pending")
            .then_some(items)
    })
    .await;
    let by_url = |url: &str| {
        deliveries
            .iter()
            .find(|d| d["url"] == url)
            .unwrap_or_else(|| panic!("no delivery to {url}"))
            .clone()
    };
    let flaky_delivery = by_url(&flaky.url);
    assert_eq!(flaky_delivery["status"], "delivered");
    assert_eq!(flaky.received().len(), 3, "{flaky_delivery}");
    let codes: Vec<Value> = flaky_delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].clone())
        .collect();
    assert_eq!(codes, vec![json!(500), json!(500), json!(200)]);
    assert_eq!(
        flaky_delivery["attempts"][0]["error"],
        "the receiver answered 500"
    );
    let silent_delivery = by_url(&silent.url);
    assert_eq!(silent_delivery["status"], "failed", "retries spent");
    let attempts = silent_delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 4, "the first attempt and 3 retries");
    for attempt in attempts {
        assert_eq!(attempt["status_code"], Value::Null);
        assert!(
            attempt["error"].as_str().unwrap().starts_with("timed out"),
            "{attempt}"
        );
        assert!(attempt["latency_ms"].as_i64().unwrap() >= 450);
    }
    let good_delivery = by_url(&good.url);
    assert_eq!(good_delivery["status"], "delivered");
    assert_eq!(good_delivery["attempts"].as_array().unwrap().len(), 1);
    // Every attempt carried the same webhook-id.
    let ids: std::collections::HashSet<String> = flaky
        .received()
        .iter()
        .map(|m| m.header("webhook-id").to_owned())
        .collect();
    assert_eq!(ids.len(), 1);
    // The evaluations and deliveries are in /metrics.
    let metrics = app.get("/metrics").await.body;
    assert!(
        metrics.contains("ivrhub_alert_evaluations_total{result=\"firing\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("ivrhub_alert_deliveries_total{outcome=\"failed\"} 1"));
    assert!(metrics.contains("ivrhub_alert_evaluator_leader 1"));
}

/// Bad rules are refused with the path of each problem; the stored rules stay as they were.
#[tokio::test]
async fn bad_rules_get_422_with_their_path() {
    let app = TestApp::spawn().await;
    let platform = api_client::platform_admin(&app).await;
    let (_, token) = api_client::tenant_with_admin(&app, &platform, "Acme").await;
    let good = json!({
        "name": "asr", "metric": "asr", "window_minutes": 15,
        "condition": "below", "threshold": 0.5, "clear_threshold": 0.6,
        "webhook_urls": ["https://ops.example.com/hook"],
    });
    let (status, created) = post(&app, &token, "/api/v1/alerts/rules", good.clone()).await;
    assert_eq!(status, 201, "{created}");
    let with = |change: Value| {
        let mut rule = good.clone();
        for (key, value) in change.as_object().unwrap() {
            rule[key] = value.clone();
        }
        rule
    };
    let cases = [
        (json!({"metric": "answer_rate"}), "metric"),
        (json!({"window_minutes": 0}), "window_minutes"),
        (json!({"window_minutes": -5}), "window_minutes"),
        (json!({"window_minutes": 2000}), "window_minutes"),
        (json!({"threshold": 50}), "threshold"),
        (json!({"threshold": "half"}), "threshold"),
        (json!({"clear_threshold": 0.4}), "clear_threshold"),
        (json!({"fire_after": 4, "of_last": 3}), "fire_after"),
        (
            json!({"webhook_urls": ["http://127.0.0.1:8080/x"]}),
            "webhook_urls[0]",
        ),
        (
            json!({"webhook_urls": ["http://169.254.169.254/latest"]}),
            "webhook_urls[0]",
        ),
        (
            json!({"webhook_urls": ["https://ok.example.com", "http://[::1]/"]}),
            "webhook_urls[1]",
        ),
        (
            json!({"webhook_urls": ["http://localhost:9/"]}),
            "webhook_urls[0]",
        ),
        (json!({"condition": "sideways"}), "condition"),
        (
            json!({"metric": "safe_answers", "reason": "unavailable", "threshold": 1, "clear_threshold": 1}),
            "reason",
        ),
        (
            json!({"condition": "falls_by_pct", "threshold": 120, "clear_threshold": 50}),
            "threshold",
        ),
        (json!({"frequency": 5}), ""),
    ];
    for (change, path) in cases {
        let (status, body) = post(&app, &token, "/api/v1/alerts/rules", with(change.clone())).await;
        assert_eq!(status, 422, "{change}: {body}");
        assert_eq!(code(&body), "validation_failed");
        let details = body["error"]["details"].as_array().unwrap();
        assert!(
            details.iter().any(|d| d["path"] == path
                || (path.is_empty() && d["message"].as_str().unwrap().contains("frequency"))),
            "{change}: expected the path {path:?}: {body}"
        );
    }
    let (status, body) = post(&app, &token, "/api/v1/alerts/rules", json!("not an object")).await;
    assert_eq!(status, 422, "{body}");
    let rule_id = created["rule_id"].as_i64().unwrap();
    let (status, body) = put(
        &app,
        &token,
        &format!("/api/v1/alerts/rules/{rule_id}"),
        with(json!({"clear_threshold": 0.1})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (_, list) = get(&app, &token, "/api/v1/alerts/rules").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["clear_threshold"], 0.6, "unchanged");
    // The list filters are checked too.
    let (status, body) = get(&app, &token, "/api/v1/alerts/events?state=sleeping").await;
    assert_eq!(
        (status, body["error"]["details"][0]["path"].clone()),
        (400, json!("state"))
    );
    let (status, _) = get(&app, &token, "/api/v1/alerts/events?from=yesterday").await;
    assert_eq!(status, 400);
}

/// Tenants never see each other's rules, events, deliveries or secrets;
/// viewers read but do not write; a tenant has at most 50 rules; platform
/// admins keep platform-wide rules apart from any tenant's.
#[tokio::test]
async fn alerts_are_each_tenants_own() {
    let app = TestApp::spawn().await;
    let platform = api_client::platform_admin(&app).await;
    let (acme_id, acme) = api_client::tenant_with_admin(&app, &platform, "Acme").await;
    let (_, other) = api_client::tenant_with_admin(&app, &platform, "Other").await;
    let rule = json!({
        "name": "calls", "metric": "calls", "window_minutes": 60,
        "condition": "below", "threshold": 1, "clear_threshold": 5,
    });
    let (status, created) = post(&app, &acme, "/api/v1/alerts/rules", rule.clone()).await;
    assert_eq!(status, 201, "{created}");
    let id = created["rule_id"].as_i64().unwrap();
    assert_eq!(created["tenant_id"], acme_id);
    let path = format!("/api/v1/alerts/rules/{id}");
    for (status, body) in [
        get(&app, &other, &path).await,
        put(&app, &other, &path, rule.clone()).await,
        delete(&app, &other, &path).await,
        post(&app, &other, &format!("{path}/test"), json!({})).await,
        get(
            &app,
            &other,
            &format!("/api/v1/alerts/events?tenant_id={acme_id}"),
        )
        .await,
        get(
            &app,
            &other,
            &format!("/api/v1/alerts/deliveries?tenant_id={acme_id}"),
        )
        .await,
        get(
            &app,
            &other,
            &format!("/api/v1/alerts/secret?tenant_id={acme_id}"),
        )
        .await,
    ] {
        assert_eq!(status, 404, "{body}");
    }
    let (_, theirs) = get(&app, &other, "/api/v1/alerts/rules").await;
    assert_eq!(theirs["items"], json!([]));
    // Secrets differ per tenant.
    let (_, a) = get(&app, &acme, "/api/v1/alerts/secret").await;
    let (_, b) = get(&app, &other, "/api/v1/alerts/secret").await;
    assert_ne!(a["secret"], b["secret"]);
    // Viewers read, never write.
    let viewer = api_client::user_with_role(&app, &acme, "viewer@acme.example", "viewer").await;
    let (status, _) = get(&app, &viewer, &path).await;
    assert_eq!(status, 200);
    let (status, body) = post(&app, &viewer, "/api/v1/alerts/rules", rule.clone()).await;
    assert_eq!((status, code(&body)), (403, "forbidden"));
    let (status, _) = get(&app, &viewer, "/api/v1/alerts/secret").await;
    assert_eq!(status, 403);
    // Platform-wide rules: a platform admin without tenant_id.
    let (status, platform_rule) = post(&app, &platform, "/api/v1/alerts/rules", rule.clone()).await;
    assert_eq!(status, 201, "{platform_rule}");
    assert_eq!(platform_rule["tenant_id"], Value::Null);
    let (_, acme_rules) = get(
        &app,
        &platform,
        &format!("/api/v1/alerts/rules?tenant_id={acme_id}"),
    )
    .await;
    assert_eq!(acme_rules["items"].as_array().unwrap().len(), 1);
    let (status, _) = get(
        &app,
        &acme,
        &format!("/api/v1/alerts/rules/{}", platform_rule["rule_id"]),
    )
    .await;
    assert_eq!(status, 404, "a tenant does not see the platform's rules");
    // At most 50 rules a tenant.
    for _ in 1..50 {
        let (status, body) = post(&app, &acme, "/api/v1/alerts/rules", rule.clone()).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = post(&app, &acme, "/api/v1/alerts/rules", rule.clone()).await;
    assert_eq!((status, code(&body)), (409, "conflict"));
    // Deleting is audited and answers 404 the second time.
    let (status, _) = delete(&app, &acme, &path).await;
    assert_eq!(status, 204);
    let (status, _) = delete(&app, &acme, &path).await;
    assert_eq!(status, 404);
    let (_, audit) = get(&app, &acme, "/api/v1/audit").await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|entry| entry["object_type"] == "alert_rule" && entry["action"] == "delete"),
        "{audit}"
    );
}

/// The test endpoint sends a signed sample now; after a rotation messages
/// carry two signatures, one per secret, both valid for a day.
#[tokio::test]
async fn test_messages_are_signed_and_rotation_keeps_the_old_secret_a_day() {
    let app = TestApp::spawn_with(ServeSettings {
        alerting: AlertSettings {
            alerts: false,
            ..alerting(1000, 5.0)
        },
        ..ServeSettings::for_tests()
    })
    .await;
    let platform = api_client::platform_admin(&app).await;
    let (_, token) = api_client::tenant_with_admin(&app, &platform, "Acme").await;
    let receiver = Receiver::start(vec![Reply::Status(200)]).await;
    let (status, rule) = post(
        &app,
        &token,
        "/api/v1/alerts/rules",
        json!({"name": "calls", "metric": "calls", "window_minutes": 5,
               "condition": "above", "threshold": 100, "webhook_urls": [receiver.url]}),
    )
    .await;
    assert_eq!(status, 201, "{rule}");
    let test = format!("/api/v1/alerts/rules/{}/test", rule["rule_id"]);
    let (status, sent) = post(&app, &token, &test, json!({})).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent[0]["status"], "delivered", "{sent}");
    assert_eq!(sent[0]["test"], true);
    assert_eq!(sent[0]["attempts"][0]["status_code"], 200);
    let (_, old) = get(&app, &token, "/api/v1/alerts/secret").await;
    let old = old["secret"].as_str().unwrap().to_owned();
    let first = receiver.received()[0].clone();
    assert_eq!(first.json()["type"], "alert.test");
    assert!(verified(&old, &first));
    let (status, rotated) = post(&app, &token, "/api/v1/alerts/secret/rotate", json!({})).await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(rotated["previous"], json!([old]));
    let (status, _) = post(&app, &token, &test, json!({})).await;
    assert_eq!(status, 200);
    let second = receiver.received()[1].clone();
    assert_eq!(second.header("webhook-signature").split(' ').count(), 2);
    assert!(verified(&new, &second) && verified(&old, &second));
    // Ten test messages a minute, then 429.
    for _ in 2..10 {
        let (status, body) = post(&app, &token, &test, json!({})).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = post(&app, &token, &test, json!({})).await;
    assert_eq!((status, code(&body)), (429, "too_many_requests"));
    assert_eq!(receiver.received().len(), 10);
    // A rule without a URL has nothing to test.
    let (_, bare) = post(
        &app,
        &token,
        "/api/v1/alerts/rules",
        json!({"name": "bare", "metric": "calls", "window_minutes": 5, "condition": "above", "threshold": 1}),
    )
    .await;
    let (status, body) = post(
        &app,
        &token,
        &format!("/api/v1/alerts/rules/{}/test", bare["rule_id"]),
        json!({}),
    )
    .await;
    assert_eq!((status, code(&body)), (422, "validation_failed"));
}

/// With private addresses not allowed, a delivery whose URL reaches one
/// (a rule stored while they were allowed) is refused when sent: the
/// receiver gets nothing, the attempt says why.
#[tokio::test]
async fn deliveries_to_private_addresses_are_refused_when_sent() {
    let receiver = Receiver::start(vec![Reply::Status(200)]).await;
    let open = TestApp::spawn_with(ServeSettings {
        alerting: AlertSettings {
            alerts: false,
            ..alerting(1000, 5.0)
        },
        ..ServeSettings::for_tests()
    })
    .await;
    let platform = api_client::platform_admin(&open).await;
    let (_, token) = api_client::tenant_with_admin(&open, &platform, "Acme").await;
    let (status, rule) = post(
        &open,
        &token,
        "/api/v1/alerts/rules",
        json!({"name": "calls", "metric": "calls", "window_minutes": 5,
               "condition": "above", "threshold": 1, "webhook_urls": [receiver.url]}),
    )
    .await;
    assert_eq!(status, 201, "{rule}");
    // The same database served by a node with the platform's default.
    let guarded = TestApp::spawn_on(
        ServeSettings {
            alerting: AlertSettings {
                alerts: false,
                alert_retry_secs: vec![],
                ..AlertSettings::default()
            },
            ..ServeSettings::for_tests()
        },
        open.database_url.clone(),
    )
    .await;
    let token = api_client::login(&guarded, "admin@acme.example", PASSWORD).await;
    let (status, sent) = post(
        &guarded,
        &token,
        &format!("/api/v1/alerts/rules/{}/test", rule["rule_id"]),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent[0]["status"], "failed", "{sent}");
    let error = sent[0]["attempts"][0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("refused:") && error.contains("127.0.0.1"),
        "{error}"
    );
    assert!(receiver.received().is_empty());
    // And such a rule cannot be written there.
    let (status, body) = put(
        &guarded,
        &token,
        &format!("/api/v1/alerts/rules/{}", rule["rule_id"]),
        json!({"name": "calls", "metric": "calls", "window_minutes": 5,
               "condition": "above", "threshold": 1, "webhook_urls": [receiver.url]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["details"][0]["path"], "webhook_urls[0]");
}

/// The step figures: a menu where callers say nothing (the funnel's
/// timeouts per visit) and safe answers by reason (logged with the steps).
#[tokio::test]
async fn menu_timeouts_and_safe_answers_are_watched() {
    use ivrhub::voicenter::types::{Action, Encoding};
    // Calls are decided at the tests' fixed 10:00 (the demo is open), but
    // steps are logged with the real time: this test runs the evaluator's
    // pass itself, at the minute after now.
    let app = TestApp::spawn().await;
    let tenant_id = app.with_demo().await;
    let token = demo_admin(&app, tenant_id).await;
    let rule = |name: &str, extra: Value| {
        let mut rule = json!({"name": name, "window_minutes": 60, "condition": "above"});
        for (key, value) in extra.as_object().unwrap() {
            rule[key] = value.clone();
        }
        rule
    };
    let mut ids = Vec::new();
    for body in [
        rule(
            "silence at main",
            json!({"metric": "node_timeout_share", "node": "main", "threshold": 0.4, "min_calls": 3}),
        ),
        rule(
            "disabled",
            json!({"metric": "safe_answers", "reason": "tenant_disabled", "threshold": 1}),
        ),
        rule(
            "any safe answer",
            json!({"metric": "safe_answers", "threshold": 5}),
        ),
        rule(
            "hang-ups at main",
            json!({"metric": "node_hangup_share", "node": "main", "threshold": 0.9, "clear_threshold": 0.5, "min_calls": 3}),
        ),
    ] {
        let (status, created) = post(&app, &token, "/api/v1/alerts/rules", body).await;
        assert_eq!(status, 201, "{created}");
        ids.push(created["rule_id"].as_i64().unwrap());
    }
    // Four callers reach the main menu and say nothing there.
    for n in 0..4 {
        let call = crate::voicenter_client::Call::new(&app, Encoding::Json, &format!("quiet-{n}"));
        let Action::Menu(main) = call.step("-1", "").await.action else {
            panic!("the demo answers with its menu");
        };
        call.step(&main.menu, "").await;
        // The funnel counts calls that were reported (their CDR's start in the window).
        hang_up(&app, &format!("quiet-{n}"), "ANSWER", Utc::now()).await;
    }
    // The tenant is disabled: two calls get the safe answer.
    let platform = api_client::platform_admin(&app).await;
    let (status, body) = api_client::patch(
        &app,
        &platform,
        &format!("/api/v1/tenants/{tenant_id}"),
        json!({"status": "disabled"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for n in 0..2 {
        let call = crate::voicenter_client::Call::new(&app, Encoding::Json, &format!("off-{n}"));
        eventually("the safe answer", async || {
            matches!(call.step("-1", "").await.action, Action::Hangup(_)).then_some(())
        })
        .await;
    }
    // Steps are logged with the real time: evaluate the minute after now.
    let logged = async || {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM call_steps WHERE fallback = 'tenant_disabled'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    let safe = eventually("the safe answers logged", async || {
        let count = logged().await;
        (count >= 2).then_some(count)
    })
    .await;
    let minute = Utc::now() + chrono::Duration::minutes(1);
    let metrics = ivrhub::metrics::Metrics::new();
    let pass = ivrhub::alerts::evaluator::evaluate_due(&app.pool, minute, &metrics)
        .await
        .unwrap();
    assert_eq!((pass.evaluated, pass.events, pass.errors), (4, 3, 0));
    let minute = at(&minute.format("%Y-%m-%dT%H:%M:00Z").to_string());
    let silence = evaluated(&app, &token, ids[0], minute).await;
    assert_eq!(silence["state"], "firing", "{silence}");
    // The figure is the funnel report's, over the same window.
    let window = format!(
        "from={}&to={}",
        (minute - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ"),
        minute.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let (status, funnel) = get(&app, &token, &format!("/api/v1/reports/funnel?{window}")).await;
    assert_eq!(status, 200, "{funnel}");
    let main = funnel["figures"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["node"] == "main")
        .unwrap_or_else(|| panic!("main in the funnel: {funnel}"));
    let reached = main["reached"].as_i64().unwrap();
    assert!(reached >= 4, "{main}");
    assert_eq!(silence["last_calls"], reached, "visits to main");
    assert_eq!(
        silence["last_value"].as_f64().unwrap(),
        main["timeouts"]["total"].as_f64().unwrap() / reached as f64
    );
    // Each quiet caller hung up at main: all of them, as the funnel's `ended`.
    let hangups = evaluated(&app, &token, ids[3], minute).await;
    assert_eq!(hangups["state"], "firing", "{hangups}");
    assert_eq!(main["ended"], 4, "{main}");
    assert_eq!(
        hangups["last_value"].as_f64().unwrap(),
        main["ended"].as_f64().unwrap() / reached as f64
    );
    let disabled = evaluated(&app, &token, ids[1], minute).await;
    assert_eq!(disabled["last_value"].as_f64(), Some(safe as f64));
    assert_eq!(disabled["state"], "firing", "{disabled}");
    let any = evaluated(&app, &token, ids[2], minute).await;
    assert_eq!(
        any["state"], "ok",
        "{safe} safe answers, not above 5: {any}"
    );
}

/// A rule that keeps firing sends at most 12 notifications an hour: the
/// 13th event within the hour is stored, not sent.
#[tokio::test]
async fn a_rule_notifies_at_most_twelve_times_an_hour() {
    let app = TestApp::spawn().await;
    let tenant_id = app.with_demo().await;
    let token = demo_admin(&app, tenant_id).await;
    let (status, rule) = post(
        &app,
        &token,
        "/api/v1/alerts/rules",
        json!({"name": "any call", "metric": "calls", "window_minutes": 1440,
               "condition": "above", "threshold": 0, "renotify_minutes": 5,
               "webhook_urls": ["https://ops.example.com/hook"]}),
    )
    .await;
    assert_eq!(status, 201, "{rule}");
    let rule_id = rule["rule_id"].as_i64().unwrap();
    hang_up(&app, "one", "ANSWER", Utc::now()).await;
    let metrics = ivrhub::metrics::Metrics::new();
    let first = Utc::now() + chrono::Duration::minutes(1);
    for n in 0..13 {
        let minute = first + chrono::Duration::minutes(5 * n);
        let pass = ivrhub::alerts::evaluator::evaluate_due(&app.pool, minute, &metrics)
            .await
            .unwrap();
        assert_eq!(pass.events, 1, "an event every 5 minutes");
    }
    let events = events(&app, &token, rule_id).await;
    let notified: Vec<bool> = events
        .iter()
        .map(|e| e["notified"].as_bool().unwrap())
        .collect();
    assert_eq!(events[0]["state"], "firing");
    assert!(events[1..].iter().all(|e| e["state"] == "renotified"));
    assert_eq!(notified, [vec![true; 12], vec![false]].concat());
    let (_, deliveries) = get(
        &app,
        &token,
        &format!("/api/v1/alerts/deliveries?rule_id={rule_id}&limit=200"),
    )
    .await;
    assert_eq!(deliveries["items"].as_array().unwrap().len(), 12);
    // Edited while firing, it keeps firing; once the new threshold clears
    // it, it resolves, and that is sent even past the hourly rate.
    let (status, edited) = put(
        &app,
        &token,
        &format!("/api/v1/alerts/rules/{rule_id}"),
        json!({"name": "any call", "metric": "calls", "window_minutes": 1440,
               "condition": "above", "threshold": 5, "renotify_minutes": 5,
               "webhook_urls": ["https://ops.example.com/hook"]}),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["state"], "firing");
    let minute = first + chrono::Duration::minutes(5 * 13);
    ivrhub::alerts::evaluator::evaluate_due(&app.pool, minute, &metrics)
        .await
        .unwrap();
    let events = super::alerts::events(&app, &token, rule_id).await;
    let last = events.last().unwrap();
    assert_eq!(
        (last["state"].clone(), last["notified"].clone()),
        (json!("resolved"), json!(true))
    );
}

/// `falls_by_pct` compares the window with the same window a week earlier.
#[tokio::test]
async fn a_fall_against_the_week_before_fires() {
    let app = TestApp::spawn().await;
    let tenant_id = app.with_demo().await;
    let token = demo_admin(&app, tenant_id).await;
    let (status, rule) = post(
        &app,
        &token,
        "/api/v1/alerts/rules",
        json!({"name": "fewer calls than last week", "metric": "calls", "window_minutes": 60,
               "condition": "falls_by_pct", "threshold": 50, "clear_threshold": 20}),
    )
    .await;
    assert_eq!(status, 201, "{rule}");
    let rule_id = rule["rule_id"].as_i64().unwrap();
    let now = Utc::now();
    let week_ago = now - chrono::Duration::weeks(1);
    for n in 0..10 {
        hang_up(
            &app,
            &format!("last-week-{n}"),
            "ANSWER",
            week_ago - chrono::Duration::minutes(n),
        )
        .await;
    }
    for n in 0..3 {
        hang_up(
            &app,
            &format!("today-{n}"),
            "ANSWER",
            now - chrono::Duration::minutes(n),
        )
        .await;
    }
    let metrics = ivrhub::metrics::Metrics::new();
    let minute = now + chrono::Duration::minutes(1);
    ivrhub::alerts::evaluator::evaluate_due(&app.pool, minute, &metrics)
        .await
        .unwrap();
    let events = events(&app, &token, rule_id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["state"], "firing");
    // The event shows the figure itself (3 calls), the rule's percentages.
    assert_eq!(events[0]["value"], 3.0);
    assert_eq!(events[0]["threshold"], 50.0);
    // Calls come back to last week's level: resolved.
    for n in 0..8 {
        hang_up(
            &app,
            &format!("later-{n}"),
            "ANSWER",
            now - chrono::Duration::seconds(n),
        )
        .await;
    }
    ivrhub::alerts::evaluator::evaluate_due(
        &app.pool,
        minute + chrono::Duration::minutes(1),
        &metrics,
    )
    .await
    .unwrap();
    let events = super::alerts::events(&app, &token, rule_id).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["state"], "resolved");
}

/// The delivery queue's own rules: a claim takes at most a few deliveries
/// of one tenant (none of a tenant whose slots are full), and an attempt
/// recorded by a worker whose claim went stale changes nothing.
#[tokio::test]
async fn claims_are_fair_and_stale_attempts_are_not_recorded() {
    use ivrhub::storage::alerts as store;
    let app = TestApp::spawn().await;
    let platform = api_client::platform_admin(&app).await;
    let (busy, busy_token) = api_client::tenant_with_admin(&app, &platform, "Busy").await;
    let (quiet, quiet_token) = api_client::tenant_with_admin(&app, &platform, "Quiet").await;
    for (owner, token, count) in [(busy, &busy_token, 5), (quiet, &quiet_token, 1)] {
        let (_, rule) = post(
            &app,
            token,
            "/api/v1/alerts/rules",
            json!({"name": "r", "metric": "calls", "window_minutes": 5, "condition": "above", "threshold": 1}),
        )
        .await;
        for n in 0..count {
            store::insert_test_delivery(
                &app.pool,
                Some(owner),
                rule["rule_id"].as_i64().unwrap(),
                "https://ops.example.com/",
                &format!("msg_{owner}_{n}"),
                "{}",
                -1.0,
            )
            .await
            .unwrap();
        }
    }
    let claimed = store::claim_due_deliveries(&app.pool, 32, 2, &[], 60.0)
        .await
        .unwrap();
    let owners: Vec<Option<i64>> = claimed.iter().map(|d| d.tenant_id).collect();
    assert_eq!(
        owners.iter().filter(|o| **o == Some(busy)).count(),
        2,
        "{owners:?}"
    );
    assert_eq!(
        owners.iter().filter(|o| **o == Some(quiet)).count(),
        1,
        "{owners:?}"
    );
    let again = store::claim_due_deliveries(&app.pool, 32, 2, &[busy], 60.0)
        .await
        .unwrap();
    assert!(
        again.is_empty(),
        "the busy tenant is full, the quiet one claimed: {again:?}"
    );
    let rest = store::claim_due_deliveries(&app.pool, 32, 2, &[], 60.0)
        .await
        .unwrap();
    assert_eq!(rest.len(), 2, "the busy tenant's next two");
    // Two workers with the same claim: only the first records.
    let delivery = claimed[0].clone();
    let at = Utc::now();
    let delivered = store::AfterAttempt::Delivered;
    assert!(
        store::record_attempt(&app.pool, &delivery, at, Some(200), 5, None, delivered)
            .await
            .unwrap()
    );
    let stale = store::AfterAttempt::Failed;
    assert!(
        !store::record_attempt(&app.pool, &delivery, at, None, 5, Some("late"), stale)
            .await
            .unwrap()
    );
    let token = if delivery.tenant_id == Some(busy) {
        &busy_token
    } else {
        &quiet_token
    };
    let (_, page) = get(&app, token, "/api/v1/alerts/deliveries").await;
    let shown = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == delivery.delivery_id)
        .unwrap()
        .clone();
    assert_eq!(shown["status"], "delivered", "{shown}");
    assert_eq!(shown["attempts"].as_array().unwrap().len(), 1);
}
