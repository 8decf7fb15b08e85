//! The background writers on their own: one row the database refuses must
//! cost only itself, never the rows it was batched with.

use std::time::Duration;

use chrono::Utc;
use ivrhub::cdr::writer::CdrWriter;
use ivrhub::step_log::StepLog;
use ivrhub::storage::cdrs::NewCdr;
use ivrhub::storage::steps::NewStep;

use crate::harness::TestApp;
use crate::voicenter_client::DEMO_DID;

/// Text that does not compress: at this length no index can hold it, so the
/// database refuses the row whatever we do before it.
fn unindexable() -> String {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..20_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

fn cdr(call_id: &str) -> NewCdr {
    NewCdr {
        call_id: call_id.into(),
        did: DEMO_DID.into(),
        caller_id: "0540000000".into(),
        target: String::new(),
        call_time: None,
        call_start: None,
        duration_secs: Some(1),
        dial_secs: None,
        status: "ANSWER".into(),
        cause: Some(16),
        raw: serde_json::json!({ "IVR_UNIQUE_ID": call_id }),
    }
}

#[tokio::test]
async fn a_refused_cdr_fails_alone_and_its_batch_is_stored() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let writer = CdrWriter::spawn(
        app.pool.clone(),
        std::sync::Arc::new(ivrhub::metrics::Metrics::new()),
    );
    let bad = unindexable();
    let mut stores = Vec::new();
    for n in 0..40 {
        let call_id = if n == 20 {
            bad.clone()
        } else {
            format!("batch-{n:02}")
        };
        let writer = writer.clone();
        stores.push(tokio::spawn(async move {
            writer.store(cdr(&call_id), Duration::from_secs(5)).await
        }));
    }
    let mut failed = 0;
    for (n, store) in stores.into_iter().enumerate() {
        match store.await.unwrap() {
            Ok(()) => assert_ne!(n, 20),
            Err(error) => {
                assert_eq!(n, 20, "{error}");
                failed += 1;
            }
        }
    }
    assert_eq!(failed, 1);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM cdrs WHERE call_id LIKE 'batch-%'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 39);
}

fn step(tenant_id: i64, call_id: &str) -> NewStep {
    NewStep {
        tenant_id,
        call_id: call_id.into(),
        at: Utc::now(),
        did: DEMO_DID.into(),
        caller_id: "0540000000".into(),
        menu: "-1".into(),
        dtmf: String::new(),
        from_node: None,
        node_key: Some("main".into()),
        outcome: "entry".into(),
        action: "MENU".into(),
        flow_version: Some(1),
        fallback: None,
    }
}

async fn logged(app: &TestApp, prefix: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM call_steps WHERE call_id LIKE $1 || '%'")
        .bind(prefix)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Before, one refused step made the whole batch (up to 2000 steps of every
/// call in flight) vanish, and nothing counted them.
#[tokio::test]
async fn a_refused_step_costs_only_itself_and_is_counted() {
    let app = TestApp::spawn().await;
    let tenant = app.with_demo().await;
    let (log, _writer) = StepLog::spawn(
        app.pool.clone(),
        std::sync::Arc::new(ivrhub::metrics::Metrics::new()),
    );
    for n in 0..50 {
        log.record(step(tenant, &format!("kept-{n:02}")));
        if n == 25 {
            log.record(step(tenant, &unindexable()));
        }
    }
    for _ in 0..100 {
        if logged(&app, "kept-").await == 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(logged(&app, "kept-").await, 50);
    assert_eq!(log.dropped(), 1);
    // The drop is kept as a gap of its minute, and the funnel says so.
    let mut gaps: Vec<(String, i64)> = Vec::new();
    for _ in 0..100 {
        gaps = sqlx::query_as("SELECT reason, dropped FROM step_log_gaps WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_all(&app.pool)
            .await
            .unwrap();
        if !gaps.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(gaps, [("refused".to_owned(), 1)]);
    let now = chrono::Utc::now();
    let range = ivrhub::storage::reports::CdrFilter {
        from: now - chrono::Duration::hours(1),
        to: now + chrono::Duration::hours(1),
        did: None,
        status: None,
        target: None,
    };
    let funnel = ivrhub::reports::funnel::compute(&app.pool, tenant, &range, None, now)
        .await
        .unwrap();
    assert_eq!(funnel.dropped_steps, 1);
}

/// A NUL sent by a caller's step is logged (as U+FFFD) with the steps around it.
#[tokio::test]
async fn a_step_with_a_nul_is_logged_with_the_others() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    for n in 0..5 {
        let call_id = format!("nul-step-{n}");
        let caller = if n == 2 { "054\u{0}" } else { "0540000000" };
        let body = crate::voicenter_client::json_step(DEMO_DID, caller, &call_id, "-1", "");
        let response = app.post("/voicenter", "application/json", body).await;
        assert_eq!(response.status, 200, "{}", response.body);
    }
    for _ in 0..100 {
        if logged(&app, "nul-step-").await == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(logged(&app, "nul-step-").await, 5);
    let caller: String =
        sqlx::query_scalar("SELECT caller_id FROM call_steps WHERE call_id = 'nul-step-2'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(caller, "054\u{FFFD}");
}

/// The step log writes with `COPY`, which a step of a tenant deleted
/// meanwhile would fail (its foreign key): the batch is written without
/// that tenant's steps, and nothing else is lost.
#[tokio::test]
async fn steps_of_a_deleted_tenant_do_not_cost_the_others() {
    let app = TestApp::spawn().await;
    let tenant = app.with_demo().await;
    let gone: i64 =
        sqlx::query_scalar("INSERT INTO tenants (name) VALUES ('Gone') RETURNING tenant_id")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    sqlx::query("DELETE FROM tenants WHERE tenant_id = $1")
        .bind(gone)
        .execute(&app.pool)
        .await
        .unwrap();
    let (log, _writer) = StepLog::spawn(
        app.pool.clone(),
        std::sync::Arc::new(ivrhub::metrics::Metrics::new()),
    );
    for n in 0..40 {
        log.record(step(tenant, &format!("live-{n:02}")));
        if n % 10 == 0 {
            log.record(step(gone, &format!("orphan-{n:02}")));
        }
    }
    for _ in 0..100 {
        if logged(&app, "live-").await == 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(logged(&app, "live-").await, 40);
    assert_eq!(logged(&app, "orphan-").await, 0);
    assert_eq!(
        log.dropped(),
        0,
        "a deleted tenant's steps are not a failure"
    );
}
