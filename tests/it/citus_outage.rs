//! A Citus cluster missing a worker (issue 13): the webhook still answers
//! call steps from memory, end-of-call reports whose rows live on the
//! missing worker answer 503 (Voicenter retries them), and once the worker
//! is back every report is stored exactly once. Runs on a cluster of its
//! own (`OwnCitusCluster`), only in the Citus test mode
//! (`IVRHUB_TEST_CITUS=1`, which `.ci/run` sets when Citus is installed).

use std::collections::BTreeMap;

use ivrhub::config::ServeSettings;
use ivrhub::voicenter::types::{Action, Encoding};

use crate::harness::{OwnCitusCluster, TestApp, on_citus};
use crate::voicenter_client::{Call, DEMO_DID, json_hangup};

async fn hangup(app: &TestApp, call_id: &str) -> crate::harness::Response {
    app.post(
        "/voicenter",
        "application/json",
        json_hangup(DEMO_DID, call_id, "ANSWER"),
    )
    .await
}

#[tokio::test]
async fn a_missing_worker_keeps_calls_flowing_and_reports_are_retried_not_lost() {
    if !on_citus() {
        eprintln!("skipped: a Citus cluster test (IVRHUB_TEST_CITUS=1)");
        return;
    }
    let mut cluster = OwnCitusCluster::start().await;
    let app = TestApp::spawn_on(ServeSettings::for_tests(), cluster.url.clone()).await;
    app.with_demo().await;
    let call = Call::new(&app, Encoding::XmlRpc, "outage-call-000000000000000000001");
    crate::flow_changes::eventually(
        || call.step("-1", ""),
        |a| matches!(a.action, Action::Menu(_)),
    )
    .await;

    // Worker 2 goes away.
    cluster.nodes[2].stop().unwrap();

    // Calls go on from memory.
    let answer = call.step("main", "1").await;
    assert!(matches!(answer.action, Action::Call(_)), "{answer:?}");

    // Reports: those whose claim or row is on the missing worker are refused
    // with 503 (retry); the others are stored. None is lost.
    let calls: Vec<String> = (0..24).map(|n| format!("outage-{n:027}")).collect();
    let mut first: BTreeMap<&str, u16> = BTreeMap::new();
    for id in &calls {
        let response = hangup(&app, id).await;
        assert!(
            [200, 503].contains(&response.status),
            "{id}: {} {}",
            response.status,
            response.body
        );
        first.insert(id, response.status);
    }
    assert!(
        first.values().any(|status| *status == 503),
        "some reports reach the missing worker: {first:?}"
    );

    // The worker is back: Voicenter's retries of every report are stored once.
    cluster.restart(2).await;
    for id in &calls {
        let mut status = 0;
        for _ in 0..50 {
            status = hangup(&app, id).await.status;
            if status == 200 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert_eq!(status, 200, "{id} after the worker came back");
    }
    let stored: Vec<(String, i64)> = sqlx::query_as(
        "SELECT call_id, count(*) FROM cdrs WHERE call_id LIKE 'outage-%' GROUP BY call_id ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored.len(), calls.len(), "{stored:?}");
    assert!(stored.iter().all(|(_, n)| *n == 1), "{stored:?}");
    cluster.stop();
}
