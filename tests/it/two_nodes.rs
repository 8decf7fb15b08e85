//! Two `serve` nodes on one database, as a deployment runs them: each
//! answers steps of calls the other started, a CDR retried on the other
//! node counts once, and the one-node tasks (alert evaluator, maintenance)
//! run on one node at a time and move when it dies.

use std::time::{Duration, Instant};

use ivrhub::config::{AlertSettings, ServeSettings};
use ivrhub::voicenter::types::{Action, Encoding};

use crate::harness::{TestApp, fresh_database};
use crate::voicenter_client::{Call, DEMO_DID, json_hangup};

async fn holder(app: &TestApp, lease: &str) -> Option<String> {
    ivrhub::lease::holder(&app.pool, lease).await.unwrap()
}

async fn until<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within 20 s");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn two_nodes_share_calls_cdrs_and_the_one_node_tasks() {
    let settings = || ServeSettings {
        maintenance_secs: 1,
        alerting: AlertSettings {
            alerts: true,
            alert_tick_ms: 50,
            alert_lease_secs: 1.0,
            ..AlertSettings::default()
        },
        ..ServeSettings::for_tests()
    };
    let first_settings = settings();
    let second_settings = ServeSettings {
        jwt_secret: first_settings.jwt_secret.clone(),
        clock: first_settings.clock.clone(),
        ..settings()
    };
    let database = fresh_database().await;
    let first = TestApp::spawn_on(first_settings, database.clone()).await;
    let second = TestApp::spawn_on(second_settings, database).await;
    first.with_demo().await;

    // A call started on the first node goes on on the second.
    let started = Call::new(&first, Encoding::Json, "two-nodes-call-000000000000001");
    let Action::Menu(main) = started.step("-1", "").await.action else {
        panic!("the demo's menu");
    };
    let later = Call::new(&second, Encoding::Json, "two-nodes-call-000000000000001");
    let answer = until("the second node answers the call's next step", async || {
        let answer = later.step(&main.menu, "1").await;
        matches!(answer.action, Action::Call(_)).then_some(answer)
    })
    .await;
    assert!(matches!(answer.action, Action::Call(_)), "{answer:?}");

    // Its report lands on the first node, Voicenter's retry on the second: one CDR.
    let report = json_hangup(DEMO_DID, "two-nodes-call-000000000000001", "ANSWER");
    for node in [&first, &second] {
        let response = node
            .post(&node.webhook, "application/json", report.clone())
            .await;
        assert!(response.body.contains("\"STATUS\":0"), "{}", response.body);
    }
    let cdrs: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM cdrs WHERE call_id = 'two-nodes-call-000000000000001'",
    )
    .fetch_one(&first.pool)
    .await
    .unwrap();
    assert_eq!(cdrs, 1, "counted once");

    // Each one-node task has one holder, one of the two nodes.
    let nodes = [first.node.clone(), second.node.clone()];
    for lease in [ivrhub::alerts::evaluator::LEASE, ivrhub::maintenance::LEASE] {
        let held = until("a holder", async || holder(&first, lease).await).await;
        assert!(
            nodes.contains(&held),
            "{lease}: {held} is not one of {nodes:?}"
        );
    }
    // The maintenance node dies: the other takes the task over.
    let held = holder(&first, ivrhub::maintenance::LEASE).await.unwrap();
    let (dying, survivor) = if held == first.node {
        (&first, &second)
    } else {
        (&second, &first)
    };
    dying.maintenance.as_ref().unwrap().abort();
    let took_over = Instant::now();
    until("the other node runs maintenance", async || {
        (holder(&first, ivrhub::maintenance::LEASE).await.as_deref()
            == Some(survivor.node.as_str()))
        .then_some(())
    })
    .await;
    println!(
        "maintenance moved to the other node {:.1} s after the first died (lease 2 s)",
        took_over.elapsed().as_secs_f64()
    );
    // The evaluator's node dies too: it moves.
    let held = holder(&first, ivrhub::alerts::evaluator::LEASE)
        .await
        .unwrap();
    let (dying, survivor) = if held == first.node {
        (&first, &second)
    } else {
        (&second, &first)
    };
    for handle in &dying.alerts.as_ref().unwrap().1 {
        handle.abort();
    }
    until("the other node evaluates alerts", async || {
        (holder(&first, ivrhub::alerts::evaluator::LEASE)
            .await
            .as_deref()
            == Some(survivor.node.as_str()))
        .then_some(())
    })
    .await;
}
