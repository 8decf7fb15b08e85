//! Call steps in monthly partitions (V13) and the maintenance task: the
//! migration over a populated table, partitions ahead, retention that
//! drops whole months while the funnel of their days still answers.

use chrono::{DateTime, Duration, Months, Utc};
use ivrhub::maintenance;
use ivrhub::reports::funnel;
use ivrhub::storage::reports::CdrFilter;
use ivrhub::storage::steps::{NewStep, insert_steps};
use sqlx::PgPool;

use crate::harness::empty_database;

fn step(tenant_id: i64, call: &str, at: DateTime<Utc>, node: &str, outcome: &str) -> NewStep {
    NewStep {
        tenant_id,
        call_id: call.into(),
        at,
        did: "0733000001".into(),
        caller_id: "0541111111".into(),
        menu: "-1".into(),
        dtmf: String::new(),
        from_node: (outcome != "entered").then(|| node.to_owned()),
        node_key: Some(node.into()),
        outcome: outcome.into(),
        action: "MENU".into(),
        flow_version: Some(1),
        fallback: None,
    }
}

async fn where_is(pool: &PgPool, call: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT DISTINCT tableoid::regclass::text FROM call_steps WHERE call_id = $1",
    )
    .bind(call)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// A database with steps from before V13 is migrated: the rows stay (one
/// partition before next month), ids go on, the task creates the months
/// ahead, new steps land in their month; fifteen months later the old
/// partition is dropped and the funnel of its days answers from the roll-ups.
#[tokio::test]
async fn steps_move_to_monthly_partitions_and_outlive_retention_in_the_roll_ups() {
    let url = empty_database().await;
    ivrhub::db::migrate_to(&url, Some(12)).await.unwrap();
    let pool = ivrhub::db::connect_pool(&url, 4).await.unwrap();
    let tenant: i64 =
        sqlx::query_scalar("INSERT INTO tenants (name) VALUES ('Old') RETURNING tenant_id")
            .fetch_one(&pool)
            .await
            .unwrap();
    let now = Utc::now();
    let then = now - Duration::days(3);
    for n in 0..3 {
        let call = format!("old-{n}");
        sqlx::query(
            "INSERT INTO cdrs (tenant_id, call_id, did, caller_id, target, call_start, call_time, status, cause, raw)
             VALUES ($1, $2, '0733000001', '054', '050', $3, $3, 'ANSWER', 16, '{}')",
        )
        .bind(tenant)
        .bind(&call)
        .bind(then)
        .execute(&pool)
        .await
        .unwrap();
        let steps = [
            step(tenant, &call, then, "main", "entered"),
            step(
                tenant,
                &call,
                then + Duration::seconds(5),
                "main",
                "timeout_retry",
            ),
        ];
        insert_steps(&pool, &steps).await.unwrap();
    }
    let old_max: i64 = sqlx::query_scalar("SELECT max(step_id) FROM call_steps")
        .fetch_one(&pool)
        .await
        .unwrap();
    // A whole UTC day: what the roll-ups keep (a report over part of a
    // day reads raw rows, which retention drops).
    let midnight = then.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let day = CdrFilter {
        from: midnight,
        to: midnight + Duration::days(1),
        did: None,
        status: None,
        target: None,
    };

    // The migration: seconds on a table of any size (no copy).
    let started = std::time::Instant::now();
    ivrhub::db::migrate(&url).await.unwrap();
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(20), "{took:?}");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM call_steps")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 6, "every step is still there");
    assert_eq!(where_is(&pool, "old-0").await, ["call_steps_before"]);
    let names: Vec<String> = maintenance::partitions(&pool)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["call_steps_before", "call_steps_default"]);
    // The funnel of their day, from the raw steps (this code's reports need V13).
    let before = funnel::compute(&pool, tenant, &day, None, now)
        .await
        .unwrap();
    assert_eq!(before.nodes[0].reached, 3, "{before:?}");

    // The task makes the next two months; a step of next month lands there.
    let pass = maintenance::run(&pool, now, 400).await.unwrap();
    assert_eq!(pass.created.len(), 2, "{pass:?}");
    assert!(
        pass.failed.is_empty() && pass.dropped.is_empty(),
        "{pass:?}"
    );
    let next_month = now + Months::new(1);
    insert_steps(
        &pool,
        &[step(tenant, "next", next_month, "main", "entered")],
    )
    .await
    .unwrap();
    let partition = where_is(&pool, "next").await;
    assert_eq!(partition.len(), 1);
    assert!(partition[0].starts_with("call_steps_20"), "{partition:?}");
    let new_id: i64 = sqlx::query_scalar("SELECT step_id FROM call_steps WHERE call_id = 'next'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(new_id > old_max, "ids go on: {new_id} after {old_max}");
    let again = maintenance::run(&pool, now, 400).await.unwrap();
    assert_eq!(again, maintenance::Pass::default(), "nothing to do twice");

    // Fifteen months on, with 400 days of retention: the old rows are gone,
    // dropped with their partition, and their funnel answers from the roll-up.
    let later = now + Months::new(15);
    let pass = maintenance::run(&pool, later, 400).await.unwrap();
    assert!(
        pass.dropped.contains(&"call_steps_before".to_owned()),
        "{pass:?}"
    );
    assert!(pass.failed.is_empty(), "{pass:?}");
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM call_steps WHERE call_id LIKE 'old-%'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(left, 0);
    let after = funnel::compute(&pool, tenant, &day, None, now)
        .await
        .unwrap();
    assert_eq!(
        after.nodes, before.nodes,
        "the same funnel, from the roll-up"
    );
}

/// A month that cannot be created (its steps already went to the default
/// partition) is reported, and steps keep being stored.
#[tokio::test]
async fn a_month_that_cannot_be_created_is_reported_and_steps_keep_flowing() {
    let url = empty_database().await;
    ivrhub::db::migrate(&url).await.unwrap();
    let pool = ivrhub::db::connect_pool(&url, 4).await.unwrap();
    let tenant: i64 =
        sqlx::query_scalar("INSERT INTO tenants (name) VALUES ('T') RETURNING tenant_id")
            .fetch_one(&pool)
            .await
            .unwrap();
    let now = Utc::now();
    let far = now + Months::new(2);
    insert_steps(&pool, &[step(tenant, "early", far, "main", "entered")])
        .await
        .unwrap();
    assert_eq!(where_is(&pool, "early").await, ["call_steps_default"]);
    let pass = maintenance::run(&pool, now, 400).await.unwrap();
    assert_eq!(pass.created.len(), 1, "next month: {pass:?}");
    assert_eq!(pass.failed.len(), 1, "the month its step is in: {pass:?}");
    insert_steps(&pool, &[step(tenant, "later", far, "main", "entered")])
        .await
        .unwrap();
    assert_eq!(where_is(&pool, "later").await, ["call_steps_default"]);
}
