//! What the caller hears when something is wrong: never silence, never a 5xx
//! on a call step, never a hang.

use std::time::{Duration, Instant};

use ivrhub::voicenter::types::{Action, Encoding};

use crate::harness::{TestApp, drop_database};
use crate::voicenter_client::{Call, DEMO_DID, json_hangup};

fn hangup_cause(action: &Action) -> Option<i64> {
    match action {
        Action::Hangup(hangup) => hangup.cause,
        other => panic!("expected HANGUP, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unknown_number_is_hung_up_as_unallocated() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let mut call = Call::new(&app, Encoding::XmlRpc, "unknown-did-00000000000000000001");
    call.did = "0799999999".into();
    let before = unknown_did_fallbacks(&app).await;
    assert_eq!(hangup_cause(&call.step("-1", "").await.action), Some(1));
    assert_eq!(unknown_did_fallbacks(&app).await, before + 1, "counted");
}

async fn unknown_did_fallbacks(app: &TestApp) -> u64 {
    let metrics = app.get("/metrics").await.body;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("ivrhub_fallbacks_total{reason=\"unknown_did\"}"))
        .unwrap();
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_disabled_tenants_calls_are_rejected() {
    let app = TestApp::spawn().await;
    let tenant = app.with_demo().await;
    ivrhub::storage::tenants::set_tenant_active(&app.pool, tenant, false)
        .await
        .unwrap();
    let call = Call::new(&app, Encoding::Json, "disabled-0000000000000000000000001");
    let answer = crate::flow_changes::eventually(
        || call.step("-1", ""),
        |a| !matches!(a.action, Action::Menu(_)),
    )
    .await;
    assert_eq!(hangup_cause(&answer.action), Some(21));
}

#[tokio::test]
async fn a_menu_deleted_mid_call_ends_the_call_politely() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let call = Call::new(&app, Encoding::XmlRpc, "deleted-menu-000000000000000000001");
    assert_eq!(
        hangup_cause(&call.step("no_such_menu~r1", "1").await.action),
        Some(41)
    );
    assert!(
        matches!(call.step("", "").await.action, Action::Menu(_)),
        "a new call still starts"
    );
}

#[tokio::test]
async fn a_configured_fallback_number_takes_the_call_instead() {
    let settings = ivrhub::config::ServeSettings {
        fallback: ivrhub::config::FallbackSettings {
            fallback_target: Some("0501111111".into()),
            fallback_rec: None,
        },
        ..ivrhub::config::ServeSettings::for_tests()
    };
    let app = TestApp::spawn_with(settings).await;
    app.with_demo().await;
    let mut call = Call::new(&app, Encoding::Json, "fallback-00000000000000000000000001");
    call.did = "0799999999".into();
    let Action::Call(fallback) = call.step("-1", "").await.action else {
        panic!("expected CALL")
    };
    assert_eq!(
        (fallback.target.as_str(), fallback.caller_id.as_str()),
        ("0501111111", call.caller.as_str())
    );
}

#[tokio::test]
async fn with_the_database_gone_calls_still_flow_and_reports_ask_for_a_retry_fast() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let call = Call::new(&app, Encoding::XmlRpc, "db-down-0000000000000000000000001");
    // Make sure the demo is in the cache before the database goes.
    crate::flow_changes::eventually(
        || call.step("-1", ""),
        |a| matches!(a.action, Action::Menu(_)),
    )
    .await;
    drop_database(&app.database_url).await;

    // Call steps are answered from memory.
    let started = Instant::now();
    let answer = call.step("main", "1").await;
    assert!(matches!(answer.action, Action::Call(_)), "{answer:?}");
    assert!(started.elapsed() < Duration::from_millis(500));

    // An end-of-call report cannot be made durable: STATUS 1, quickly, retry later.
    let started = Instant::now();
    let response = app
        .post(
            "/voicenter",
            "application/json",
            json_hangup(DEMO_DID, "lost00000000000000000000000000001", "ANSWER"),
        )
        .await;
    let elapsed = started.elapsed();
    assert_eq!(response.status, 503, "{}", response.body);
    let body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(
        (body["STATUS"].as_i64(), body["ERROR_CODE"].as_str()),
        (Some(1), Some("unavailable"))
    );
    assert_eq!(response.retry_after.as_deref(), Some("1"));
    assert!(elapsed < Duration::from_secs(2), "answered in {elapsed:?}");
}

/// A reload that fails after a change notification used to throw the whole
/// cache away: every call then got HANGUP 41 until the database answered
/// again, although the flows in memory were fine. Now the last flows keep
/// answering, and the cache catches up once the database is back.
#[tokio::test]
async fn a_failed_reload_keeps_answering_from_the_last_flows() {
    let app = TestApp::spawn().await;
    let tenant = app.with_demo().await;
    let call = Call::new(&app, Encoding::Json, "failed-reload-000000000000000000001");
    // The flows cannot be read any more (no notification: DDL fires no trigger)...
    sqlx::query("ALTER TABLE tenants RENAME TO tenants_away")
        .execute(&app.pool)
        .await
        .unwrap();
    // ...and a change is announced: the reload fails.
    sqlx::query("SELECT pg_notify('ivrhub_flow_changed', $1)")
        .bind(tenant.to_string())
        .execute(&app.pool)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..3 {
        let answer = call.step("-1", "").await;
        assert!(matches!(answer.action, Action::Menu(_)), "{answer:?}");
    }
    assert_eq!(app.get("/health").await.status, 200);

    // The database is back: a later edit reaches the calls.
    sqlx::query("ALTER TABLE tenants_away RENAME TO tenants")
        .execute(&app.pool)
        .await
        .unwrap();
    let replacement = ivrhub::flow::model::Node {
        key: "voicemail".into(),
        language: None,
        kind: ivrhub::flow::model::NodeKind::Hangup(ivrhub::flow::model::Hangup {
            rec: None,
            cause: Some(17),
        }),
    };
    ivrhub::flow_service::seed(
        &app.pool,
        tenant,
        &[replacement],
        &[],
        &[],
        None,
        "test edit",
    )
    .await
    .unwrap();
    let after = crate::flow_changes::eventually(
        || call.step("main", "9"),
        |a| matches!(a.action, Action::Hangup(_)),
    )
    .await;
    assert_eq!(hangup_cause(&after.action), Some(17));
}

/// The flows could not be loaded at start: steps get the safe answer fast,
/// and the first step after the database appears loads them.
#[tokio::test]
async fn flows_missing_at_start_are_loaded_by_the_first_step_that_can() {
    use ivrhub::flow_cache::{FlowCache, Lookup};
    let url = crate::harness::unused_database_url().await;
    let pool = ivrhub::db::connect_pool(&url, 4).await.unwrap();
    let cache = std::sync::Arc::new(FlowCache::new(pool.clone()));
    let started = Instant::now();
    let lookups = (0..8).map(|_| cache.lookup(DEMO_DID, None, deadline()));
    for lookup in futures_util::future::join_all(lookups).await {
        assert!(matches!(lookup, Lookup::Unavailable));
    }
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(!cache.is_loaded());

    crate::harness::create_from_template(&url).await;
    ivrhub::demo::seed(&pool).await.unwrap();
    assert!(matches!(
        cache.lookup(DEMO_DID, None, deadline()).await,
        Lookup::Found(..)
    ));
    assert!(cache.is_loaded());
}

/// Nodes of one deployment started at the same moment all migrate the same
/// database: one applies the migrations, the others wait, none fails.
#[tokio::test]
async fn nodes_starting_together_migrate_the_database_once() {
    let url = crate::harness::empty_database().await;
    let nodes = (0..4).map(|_| ivrhub::db::migrate(&url));
    for outcome in futures_util::future::join_all(nodes).await {
        outcome.expect("a node migrating alongside others");
    }
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let (applied, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT version) FROM refinery_schema_history")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(applied, distinct, "each migration applied once");
    assert_eq!(
        applied as usize,
        std::fs::read_dir("migrations").unwrap().count()
    );
}

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(5)
}
