//! The webhook at the HTTP level, over a raw TCP socket: bodies without a
//! length, lengths without a body, bodies that never finish, wrong methods.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::TestApp;
use crate::voicenter_client::{DEMO_DID, json_hangup};

/// One HTTP/1.1 response read off the socket.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    /// From the first byte sent to the end of the response.
    elapsed: Duration,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// STATUS and ERROR_CODE of a JSON error answer.
    fn json_error(&self) -> (i64, String) {
        let value: serde_json::Value =
            serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {self:?}"));
        (
            value["STATUS"].as_i64().unwrap(),
            value["ERROR_CODE"].as_str().unwrap().to_owned(),
        )
    }
}

/// Sends `parts` (each followed by a pause), then reads one response
/// (headers and a `Content-Length` body), giving up after `patience`.
async fn exchange(
    app: &TestApp,
    parts: Vec<(Vec<u8>, Duration)>,
    patience: Duration,
) -> RawResponse {
    let address = app.base.trim_start_matches("http://").to_owned();
    let stream = TcpStream::connect(address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    // Send in the background: the server may answer before the body is complete.
    let sender = tokio::spawn(async move {
        for (bytes, pause) in parts {
            if writer.write_all(&bytes).await.is_err() {
                return;
            }
            tokio::time::sleep(pause).await;
        }
        // Keep our half open: a server waiting for the rest must not see EOF.
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(writer);
    });
    let read = async {
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                let mut lines = head.split("\r\n");
                let status = lines
                    .next()
                    .unwrap()
                    .split(' ')
                    .nth(1)
                    .unwrap()
                    .parse()
                    .unwrap();
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                    .collect();
                let length: usize = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .map_or(0, |(_, v)| v.parse().unwrap());
                while buffer.len() < end + 4 + length {
                    let n = reader.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "connection closed inside the body");
                    buffer.extend_from_slice(&chunk[..n]);
                }
                let body = String::from_utf8_lossy(&buffer[end + 4..end + 4 + length]).into_owned();
                return RawResponse {
                    status,
                    headers,
                    body,
                    elapsed: started.elapsed(),
                };
            }
            let n = reader.read(&mut chunk).await.unwrap();
            assert!(
                n > 0,
                "connection closed before a response: {:?}",
                String::from_utf8_lossy(&buffer)
            );
            buffer.extend_from_slice(&chunk[..n]);
        }
    };
    let response = tokio::time::timeout(patience, read)
        .await
        .unwrap_or_else(|_| panic!("no response within {patience:?}"));
    sender.abort();
    response
}

fn head(method: &str, path: &str, headers: &str) -> Vec<u8> {
    format!("{method} {path} HTTP/1.1\r\nHost: ivrhub\r\nContent-Type: application/json\r\n{headers}\r\n")
        .into_bytes()
}

fn at_once(bytes: Vec<u8>) -> Vec<(Vec<u8>, Duration)> {
    vec![(bytes, Duration::ZERO)]
}

async fn cdr_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT (SELECT count(*) FROM cdrs) + (SELECT count(*) FROM orphan_cdrs)")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_chunked_body_without_content_length_is_read_and_limited() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let report = json_hangup(DEMO_DID, "chunked0000000000000000000000001", "ANSWER");
    let (first, second) = report.split_at(20);
    let mut request = head("POST", "/voicenter", "Transfer-Encoding: chunked\r\n");
    request.extend_from_slice(
        format!(
            "{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
            first.len(),
            second.len()
        )
        .as_bytes(),
    );
    let response = exchange(&app, at_once(request), Duration::from_secs(5)).await;
    assert_eq!(
        (response.status, response.body.as_str()),
        (200, r#"{"STATUS":0}"#)
    );
    assert_eq!(cdr_count(&app).await, 1);

    // No declared length to refuse up front: the limit applies as the chunks come.
    let padding = " ".repeat(40 * 1024);
    let mut request = head("POST", "/voicenter", "Transfer-Encoding: chunked\r\n");
    for _ in 0..2 {
        request.extend_from_slice(format!("{:x}\r\n{padding}\r\n", padding.len()).as_bytes());
    }
    request.extend_from_slice(format!("{:x}\r\n{report}\r\n0\r\n\r\n", report.len()).as_bytes());
    let response = exchange(&app, at_once(request), Duration::from_secs(5)).await;
    assert_eq!(response.status, 413);
    assert_eq!(response.json_error(), (1, "too_large".to_owned()));
    assert_eq!(cdr_count(&app).await, 1);
}

#[tokio::test]
async fn a_huge_declared_length_is_refused_without_waiting_for_the_body() {
    let app = TestApp::spawn().await;
    let mut request = head("POST", "/voicenter", "Content-Length: 1000000000000\r\n");
    request.extend_from_slice(b"{\"METHOD\":");
    let response = exchange(&app, at_once(request), Duration::from_secs(5)).await;
    assert_eq!(response.status, 413);
    assert_eq!(response.json_error(), (1, "too_large".to_owned()));
    assert!(
        response.body.contains("larger than 65536 bytes"),
        "{}",
        response.body
    );
    assert!(
        response.elapsed < Duration::from_millis(500),
        "{:?}",
        response.elapsed
    );
}

/// A body that stops arriving (or trickles in) must not hold the request
/// open for ever: the request's deadline covers reading it.
#[tokio::test]
async fn a_body_that_never_finishes_gets_408_within_the_deadline() {
    let settings = ivrhub::config::ServeSettings {
        step_deadline_ms: 400,
        ..ivrhub::config::ServeSettings::for_tests()
    };
    let app = TestApp::spawn_with(settings).await;
    app.with_demo().await;
    let report = json_hangup(DEMO_DID, "slow00000000000000000000000000001", "ANSWER");

    // Declared, never sent in full.
    let mut request = head(
        "POST",
        "/voicenter",
        &format!("Content-Length: {}\r\n", report.len()),
    );
    request.extend_from_slice(&report.as_bytes()[..10]);
    let response = exchange(&app, at_once(request), Duration::from_secs(5)).await;
    assert_eq!(response.status, 408, "{response:?}");
    assert_eq!(response.json_error(), (1, "timeout".to_owned()));
    assert!(response.body.contains("400 ms"), "{}", response.body);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(
        response.elapsed < Duration::from_millis(1500),
        "{:?}",
        response.elapsed
    );

    // Slowloris: one byte every 50 ms, chunked, never ending.
    let mut parts = vec![(
        head("POST", "/voicenter", "Transfer-Encoding: chunked\r\n"),
        Duration::ZERO,
    )];
    parts.extend(report.bytes().map(|b| {
        (
            format!("1\r\n{}\r\n", b as char).into_bytes(),
            Duration::from_millis(50),
        )
    }));
    let response = exchange(&app, parts, Duration::from_secs(5)).await;
    assert_eq!(response.status, 408, "{response:?}");
    assert!(
        response.elapsed < Duration::from_millis(1500),
        "{:?}",
        response.elapsed
    );
    assert_eq!(cdr_count(&app).await, 0);
}

#[tokio::test]
async fn other_methods_get_a_405_in_the_protocols_own_shape() {
    let app = TestApp::spawn().await;
    let response = exchange(
        &app,
        at_once(head("GET", "/voicenter", "")),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(response.status, 405, "{response:?}");
    assert_eq!(response.header("allow"), Some("POST"));
    assert!(
        response
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(response.json_error(), (1, "method_not_allowed".to_owned()));

    let xml = b"PUT /voicenter HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 0\r\n\r\n".to_vec();
    let response = exchange(&app, at_once(xml), Duration::from_secs(5)).await;
    assert_eq!(response.status, 405);
    assert!(
        response
            .header("content-type")
            .unwrap()
            .starts_with("text/xml")
    );
    let compact: String = response.body.split_whitespace().collect();
    assert!(
        compact.contains("<string>method_not_allowed</string>"),
        "{}",
        response.body
    );

    // A trailing slash is not the webhook (and says so in JSON, not HTML).
    let report = json_hangup(DEMO_DID, "slash0000000000000000000000000001", "ANSWER");
    let mut request = head(
        "POST",
        "/voicenter/",
        &format!("Content-Length: {}\r\n", report.len()),
    );
    request.extend_from_slice(report.as_bytes());
    let response = exchange(&app, at_once(request), Duration::from_secs(5)).await;
    assert_eq!(response.status, 404);
    assert!(
        response
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(cdr_count(&app).await, 0);
}

#[tokio::test]
async fn with_a_secret_a_wrong_method_reveals_nothing_more_than_a_wrong_secret() {
    let settings = ivrhub::config::ServeSettings {
        webhook_secret: Some("s3cr3t-path-segment-0123".parse().unwrap()),
        ..ivrhub::config::ServeSettings::for_tests()
    };
    let app = TestApp::spawn_with(settings).await;
    for path in ["/voicenter", "/voicenter/wrong-secret-0000000000"] {
        let response = exchange(&app, at_once(head("GET", path, "")), Duration::from_secs(5)).await;
        assert_eq!(response.status, 404, "{path}: {response:?}");
        assert_eq!(response.json_error(), (1, "not_found".to_owned()));
    }
    let response = exchange(
        &app,
        at_once(head("GET", "/voicenter/s3cr3t-path-segment-0123", "")),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(response.status, 405);
    assert_eq!(response.header("allow"), Some("POST"));
}

/// A known API path asked with a method it does not take: 405 with
/// `Allow`, as the error table says; an unknown path stays 404.
#[tokio::test]
async fn undeclared_methods_on_api_paths_are_405_with_allow() {
    let app = TestApp::spawn().await;
    for (method, path, allow) in [
        (reqwest::Method::GET, "/api/v1/flow/publish", "POST"),
        (
            reqwest::Method::POST,
            "/api/v1/nodes/main",
            "GET, PUT, DELETE",
        ),
        (reqwest::Method::GET, "/api/v1/flow/validate", "POST"),
        (reqwest::Method::DELETE, "/api/v1/flow", "GET"),
    ] {
        let response = app
            .http
            .request(method.clone(), format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "method_not_allowed");
    }
    let response = app
        .http
        .get(format!("{}/api/v1/nowhere", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    // A trailing slash is another path: 404, not a 405 whose `Allow`
    // names the very method that was used.
    for (method, path) in [
        (reqwest::Method::POST, "/api/v1/flow/publish/"),
        (reqwest::Method::GET, "/api/v1/nodes/"),
        (reqwest::Method::POST, "/voicenter/"),
    ] {
        let response = app
            .http
            .request(method.clone(), format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 404, "{method} {path}");
        assert!(response.headers().get("allow").is_none(), "{method} {path}");
    }
}
