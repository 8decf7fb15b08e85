//! `/metrics` as Prometheus reads it: parsed by an independent parser of
//! the text format (`prometheus-parse`), every metric the README lists
//! present, the histograms filled by real webhook and API requests.

use prometheus_parse::{Scrape, Value};

use ivrhub::voicenter::types::Encoding;

use crate::api_client::{get, platform_admin};
use crate::harness::TestApp;
use crate::voicenter_client::{Call, DEMO_DID, json_hangup};

fn scrape(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("the text format parses")
}

/// The observations of a histogram's series with these labels.
fn observations(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            // The +Inf bucket holds every observation.
            Value::Histogram(buckets) => buckets
                .iter()
                .find(|b| b.less_than.is_infinite())
                .map_or(0.0, |b| b.count),
            other => panic!("{name} is not a histogram: {other:?}"),
        })
        .sum()
}

fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            other => panic!("{name}: {other:?}"),
        })
}

#[tokio::test]
async fn metrics_parse_as_prometheus_and_the_histograms_fill() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    // A call step through the flow, one to an unknown number, a report.
    let call = Call::new(&app, Encoding::Json, "metrics-0000000000000000000000001");
    call.step("-1", "").await;
    // (The demo's warm-up may itself have met an unknown number, on a slow
    // machine, before the flows were loaded: counted from here.)
    let unknown_before = observations(
        &scrape(&app.get("/metrics").await.body),
        "ivrhub_webhook_seconds",
        &[("method", "GET_IVR_ACTION"), ("outcome", "unknown_did")],
    );
    let mut stranger = Call::new(&app, Encoding::XmlRpc, "metrics-0000000000000000000000002");
    stranger.did = "0739999999".into();
    stranger.step("-1", "").await;
    let report = json_hangup(DEMO_DID, "metrics-0000000000000000000000001", "ANSWER");
    let response = app.post(&app.webhook, "application/json", report).await;
    assert_eq!(response.status, 200);
    let refused = app
        .post(&app.webhook, "application/json", "{".to_owned())
        .await;
    assert_eq!(refused.status, 400);
    // API requests: one matched route, one path no route has.
    let platform = platform_admin(&app).await;
    let (status, _) = get(&app, &platform, "/api/v1/tenants").await;
    assert_eq!(status, 200);
    let (status, _) = get(&app, &platform, "/api/v1/nowhere").await;
    assert_eq!(status, 404);

    let response = app.get("/metrics").await;
    assert_eq!(response.status, 200);
    let text = response.body;
    let parsed = scrape(&text);
    // The encoder ends help texts with a period: ours must not add another.
    for help in text.lines().filter(|l| l.starts_with("# HELP")) {
        assert!(help.ends_with('.') && !help.ends_with(".."), "{help}");
    }
    // Every metric of the README's list has its help text.
    for name in [
        "ivrhub_steps_answered",
        "ivrhub_fallbacks",
        "ivrhub_requests_rejected",
        "ivrhub_cdrs_stored",
        "ivrhub_cdrs_failed",
        "ivrhub_steps_dropped",
        "ivrhub_webhook_seconds",
        "ivrhub_api_seconds",
        "ivrhub_cdr_batch_size",
        "ivrhub_cdr_commit_seconds",
        "ivrhub_step_batch_size",
        "ivrhub_step_queue_depth",
        "ivrhub_db_pool_connections",
        "ivrhub_flow_versions_loaded",
    ] {
        assert!(parsed.docs.contains_key(name), "{name} missing:\n{text}");
    }
    let webhook = "ivrhub_webhook_seconds";
    assert!(
        observations(
            &parsed,
            webhook,
            &[("method", "GET_IVR_ACTION"), ("outcome", "flow")]
        ) >= 1.0
    );
    assert_eq!(
        observations(
            &parsed,
            webhook,
            &[("method", "GET_IVR_ACTION"), ("outcome", "unknown_did")]
        ) - unknown_before,
        1.0
    );
    assert_eq!(
        observations(
            &parsed,
            webhook,
            &[("method", "HANGUP_CALL"), ("outcome", "stored")]
        ),
        1.0
    );
    assert_eq!(
        observations(&parsed, webhook, &[("method", "refused")]),
        1.0
    );
    assert_eq!(
        observations(
            &parsed,
            "ivrhub_api_seconds",
            &[("route", "/api/v1/tenants"), ("status", "2xx")]
        ),
        1.0,
        "{text}"
    );
    assert!(observations(&parsed, "ivrhub_api_seconds", &[("route", "unmatched")]) >= 1.0);
    assert!(
        !text.contains("/api/v1/nowhere"),
        "paths never become labels: only route patterns"
    );
    assert!(observations(&parsed, "ivrhub_cdr_batch_size", &[]) >= 1.0);
    assert!(observations(&parsed, "ivrhub_cdr_commit_seconds", &[]) >= 1.0);
    assert_eq!(
        value(
            &parsed,
            "ivrhub_fallbacks_total",
            &[("reason", "unknown_did")]
        ),
        Some(1.0)
    );
    assert_eq!(value(&parsed, "ivrhub_cdrs_stored_total", &[]), Some(1.0));
    assert_eq!(
        value(&parsed, "ivrhub_flow_versions_loaded", &[("kind", "live")]),
        Some(1.0),
        "the demo's live version"
    );
    assert!(value(&parsed, "ivrhub_db_pool_connections", &[("state", "idle")]).is_some());
}
