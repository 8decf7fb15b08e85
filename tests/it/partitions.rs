//! Call steps (V13) and CDRs (V15) in monthly partitions and the
//! maintenance task: the migrations over populated tables, partitions
//! ahead, retention that drops (or, for CDRs of several tenants, rewrites)
//! whole months while the reports of their days still answer, and the CDR
//! claims kept bounded without losing deduplication.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use ivrhub::maintenance::{self, Partitioned};
use ivrhub::reports::{aggregates, funnel};
use ivrhub::storage::cdrs::{NewCdr, insert_cdrs};
use ivrhub::storage::reports::{CdrFilter, Tenants};
use ivrhub::storage::steps::{NewStep, insert_steps};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::api_client::{code, get, patch, platform_admin, tenant_with_admin};
use crate::harness::{TestApp, empty_database};

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

fn steps_only(names: &[String]) -> Vec<&String> {
    names
        .iter()
        .filter(|name| name.starts_with("call_steps_"))
        .collect()
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

    // The migration (its time on 10 million rows: bench/reports, BENCH_MIGRATE).
    ivrhub::db::migrate(&url).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM call_steps")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 6, "every step is still there");
    assert_eq!(where_is(&pool, "old-0").await, ["call_steps_before"]);
    let names: Vec<String> = maintenance::partitions(&pool, Partitioned::CallSteps)
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
    assert_eq!(steps_only(&pass.created).len(), 2, "{pass:?}");
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

/// A step dated in a month that has no partition yet waits in the default
/// partition, and moves into its month when the task makes it. A month
/// that cannot be created (here: its name is taken) is reported, and steps
/// keep being stored.
#[tokio::test]
async fn a_month_made_late_takes_its_rows_and_one_that_cannot_be_made_is_reported() {
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
    let next = now + Months::new(1);
    let taken = format!("call_steps_{}", next.format("%Y_%m"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE TABLE {taken} (x int)")))
        .execute(&pool)
        .await
        .unwrap();
    let pass = maintenance::run(&pool, now, 400).await.unwrap();
    let months = format!("call_steps_{}", far.format("%Y_%m"));
    assert_eq!(steps_only(&pass.created), [&months], "{pass:?}");
    assert_eq!(pass.failed, [taken.as_str()], "{pass:?}");
    assert_eq!(
        where_is(&pool, "early").await,
        [months.as_str()],
        "moved into its month"
    );
    insert_steps(&pool, &[step(tenant, "later", next, "main", "entered")])
        .await
        .unwrap();
    assert_eq!(where_is(&pool, "later").await, ["call_steps_default"]);
}

/// A partition whose bound is off a month's start (computed in another
/// time zone: V13's bound was, on a server not in UTC) leaves the rest of
/// the month to a partition of its own instead of to the default one.
#[tokio::test]
async fn a_month_covered_in_part_gets_a_partition_for_the_rest() {
    let url = empty_database().await;
    ivrhub::db::migrate(&url).await.unwrap();
    let pool = ivrhub::db::connect_pool(&url, 4).await.unwrap();
    let now = Utc::now();
    let next = month_of(now + Months::new(1));
    let odd = next + Duration::hours(1);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE orphan_cdrs_odd PARTITION OF orphan_cdrs FOR VALUES FROM ('{}') TO ('{}')",
        next.to_rfc3339(),
        odd.to_rfc3339()
    )))
    .execute(&pool)
    .await
    .unwrap();
    maintenance::run(&pool, now, 400).await.unwrap();
    let rest = maintenance::partitions(&pool, Partitioned::OrphanCdrs)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.from == Some(odd))
        .expect("a partition from where the odd one ends");
    assert_eq!(rest.to, Some(month_of(now + Months::new(2))));
}

fn month_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.date_naive()
        .with_day0(0)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
}

fn cdr(call: &str, did: &str, start: Option<DateTime<Utc>>) -> NewCdr {
    NewCdr {
        call_id: call.into(),
        did: did.into(),
        caller_id: format!("054{}", call.len()),
        target: "0501234567".into(),
        call_time: start.map(|at| at + Duration::seconds(4)),
        call_start: start,
        duration_secs: Some(65),
        dial_secs: Some(4),
        status: "ANSWER".into(),
        cause: Some(16),
        raw: json!({"IVR_UNIQUE_ID": call}),
    }
}

async fn cdr_partition_of(pool: &PgPool, call: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT tableoid::regclass::text FROM cdrs WHERE call_id = $1
         UNION ALL SELECT tableoid::regclass::text FROM orphan_cdrs WHERE call_id = $1
         ORDER BY 1",
    )
    .bind(call)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn tenant_with_did(pool: &PgPool, name: &str, did: &str) -> i64 {
    let tenant: i64 =
        sqlx::query_scalar("INSERT INTO tenants (name) VALUES ($1) RETURNING tenant_id")
            .bind(name)
            .fetch_one(pool)
            .await
            .unwrap();
    sqlx::query("INSERT INTO dids (did, tenant_id) VALUES ($1, $2)")
        .bind(did)
        .bind(tenant)
        .execute(pool)
        .await
        .unwrap();
    tenant
}

async fn count_cdrs(pool: &PgPool, tenant: i64) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM cdrs WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn whole_day(day: NaiveDate) -> CdrFilter {
    let from = day.and_hms_opt(0, 0, 0).unwrap().and_utc();
    CdrFilter {
        from,
        to: from + Duration::days(1),
        did: None,
        status: None,
        target: None,
    }
}

/// A V14 database with CDRs (one dated years ahead, one of a number no
/// tenant owns) is migrated: every row stays, with its start, in the
/// partition before next month (the one from the future in the default
/// partition), duplicates are still absorbed, and new CDRs land in their
/// month once the task made it.
#[tokio::test]
async fn cdrs_move_to_monthly_partitions_with_every_row_and_its_deduplication() {
    let url = empty_database().await;
    ivrhub::db::migrate_to(&url, Some(14)).await.unwrap();
    let pool = ivrhub::db::connect_pool(&url, 4).await.unwrap();
    let tenant = tenant_with_did(&pool, "Old", "0733000001").await;
    let now = Utc::now();
    let then = now - Duration::days(3);
    let future = now + Duration::days(3 * 365);
    let old = [
        cdr("old-1", "0733000001", Some(then)),
        cdr("old-2", "0733000001", None),
        cdr("old-future", "0733000001", Some(future)),
        cdr("old-orphan", "0739999999", Some(then)),
    ];
    // As V14's writer stored them (`started_at` generated then).
    for row in &old {
        sqlx::query(
            "WITH claimed AS (
                 INSERT INTO cdr_claims (call_id, tenant_id)
                 SELECT $1, (SELECT tenant_id FROM dids WHERE did = $2) RETURNING call_id, tenant_id
             ), owned AS (
                 INSERT INTO cdrs (tenant_id, call_id, did, caller_id, target, call_time, call_start, status, raw)
                 SELECT tenant_id, call_id, $2, '054', '050', $3, $3, 'ANSWER', '{}'
                 FROM claimed WHERE tenant_id IS NOT NULL
             )
             INSERT INTO orphan_cdrs (call_id, did, caller_id, target, call_time, call_start, status, raw)
             SELECT call_id, $2, '054', '050', $3, $3, 'ANSWER', '{}' FROM claimed WHERE tenant_id IS NULL",
        )
        .bind(&row.call_id)
        .bind(&row.did)
        .bind(row.call_start)
        .execute(&pool)
        .await
        .unwrap();
    }
    let before: Vec<(String, DateTime<Utc>)> =
        sqlx::query_as("SELECT call_id, started_at FROM cdrs UNION ALL SELECT call_id, started_at FROM orphan_cdrs ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(before.len(), 4);

    ivrhub::db::migrate(&url).await.unwrap();
    let after: Vec<(String, DateTime<Utc>)> =
        sqlx::query_as("SELECT call_id, started_at FROM cdrs UNION ALL SELECT call_id, started_at FROM orphan_cdrs ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(after, before, "every CDR is still there, with its start");
    assert_eq!(cdr_partition_of(&pool, "old-1").await, ["cdrs_before"]);
    assert_eq!(cdr_partition_of(&pool, "old-2").await, ["cdrs_before"]);
    assert_eq!(
        cdr_partition_of(&pool, "old-future").await,
        ["cdrs_default"]
    );
    assert_eq!(
        cdr_partition_of(&pool, "old-orphan").await,
        ["orphan_cdrs_before"]
    );
    let kind: String =
        sqlx::query_scalar("SELECT relkind::text FROM pg_class WHERE oid = 'cdrs'::regclass")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(kind, "p", "cdrs is partitioned");

    // Voicenter's retries of migrated calls count once.
    insert_cdrs(&pool, &old).await.unwrap();
    assert_eq!(count_cdrs(&pool, tenant).await, 3);

    // The task makes the months ahead of every partitioned table.
    let pass = maintenance::run(&pool, now, 400).await.unwrap();
    assert!(pass.failed.is_empty(), "{pass:?}");
    for table in ["call_steps", "cdrs", "orphan_cdrs"] {
        assert_eq!(
            pass.created
                .iter()
                .filter(|name| name.starts_with(&format!("{table}_20")))
                .count(),
            2,
            "{table}: {pass:?}"
        );
    }
    let next_month = now + Months::new(1);
    insert_cdrs(
        &pool,
        &[
            cdr("new-1", "0733000001", Some(next_month)),
            cdr("new-orphan", "0739999999", Some(next_month)),
        ],
    )
    .await
    .unwrap();
    let name = format!("{}", next_month.format("%Y_%m"));
    assert_eq!(
        cdr_partition_of(&pool, "new-1").await,
        [format!("cdrs_{name}")]
    );
    assert_eq!(
        cdr_partition_of(&pool, "new-orphan").await,
        [format!("orphan_cdrs_{name}")]
    );
}

/// Each tenant's CDR retention: a month no tenant keeps is dropped, a month
/// some keep is rewritten with their rows only; the reports of the removed
/// days answer from the roll-ups; expired claims go while retries still
/// count once; a second pass has nothing to do.
#[tokio::test]
async fn cdr_retention_per_tenant_drops_or_rewrites_months_and_reports_outlive_them() {
    let url = empty_database().await;
    ivrhub::db::migrate(&url).await.unwrap();
    let pool = ivrhub::db::connect_pool(&url, 4).await.unwrap();
    let short = tenant_with_did(&pool, "Short", "0733000001").await;
    let keeper = tenant_with_did(&pool, "Keeper", "0733000002").await;
    let brief = tenant_with_did(&pool, "Brief", "0733000003").await;
    sqlx::query("UPDATE tenants SET cdr_retention_months = 3 WHERE tenant_id = ANY($1)")
        .bind(vec![short, brief])
        .execute(&pool)
        .await
        .unwrap();
    let now = Utc::now();
    let pass = maintenance::run(&pool, now, 400).await.unwrap();
    assert!(pass.failed.is_empty(), "{pass:?}");
    let this_month = now.date_naive().with_day0(0).unwrap();
    let at = |months: u32, day: u64| {
        (this_month + Months::new(months) + chrono::Days::new(day))
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
    };
    let (old, m1, m2) = (now - Duration::days(40), at(1, 10), at(2, 10));
    let cdrs = [
        cdr("short-old", "0733000001", Some(old)),
        cdr("short-m1", "0733000001", Some(m1)),
        cdr("short-m1b", "0733000001", Some(m1 + Duration::hours(1))),
        cdr("short-m2", "0733000001", Some(m2)),
        cdr("keeper-old", "0733000002", Some(old)),
        cdr("keeper-m1", "0733000002", Some(m1)),
        cdr("brief-m1", "0733000003", Some(m1)),
        cdr("brief-m2", "0733000003", Some(m2)),
    ];
    insert_cdrs(&pool, &cdrs).await.unwrap();
    let m1_name = format!("cdrs_{}", m1.format("%Y_%m"));
    let m2_name = format!("cdrs_{}", m2.format("%Y_%m"));
    assert_eq!(
        cdr_partition_of(&pool, "short-m1").await,
        [m1_name.as_str()]
    );

    // Seven months on: three whole months are kept before July's, so the
    // months up to m2 have expired for Short and Brief, not for Keeper.
    let later = at(7, 14);
    let m1_day = whole_day(m1.date_naive());
    let short_m1 = aggregates::summary_of(&pool, Tenants::One(short), &m1_day, later)
        .await
        .unwrap();
    assert_eq!(short_m1.figures.calls, 2, "{short_m1:?}");
    let pass = maintenance::run(&pool, later, 400).await.unwrap();
    assert!(pass.failed.is_empty(), "{pass:?}");
    let mut rewritten = pass.rewritten.clone();
    rewritten.sort();
    assert_eq!(
        rewritten,
        [m1_name.clone(), "cdrs_before".to_owned()],
        "{pass:?}"
    );
    assert!(pass.dropped.contains(&m2_name), "{pass:?}");
    assert_eq!(
        pass.claims_removed, 8,
        "every claim is older than 30 days then"
    );
    assert_eq!(count_cdrs(&pool, short).await, 0);
    assert_eq!(count_cdrs(&pool, brief).await, 0);
    assert_eq!(count_cdrs(&pool, keeper).await, 2, "Keeper keeps for good");
    assert_eq!(
        cdr_partition_of(&pool, "keeper-m1").await,
        [m1_name.as_str()]
    );
    assert_eq!(cdr_partition_of(&pool, "keeper-old").await, ["cdrs_before"]);

    // Short's day answers from the roll-up, as it did from the rows.
    let from_rollup = aggregates::summary_of(&pool, Tenants::One(short), &m1_day, later)
        .await
        .unwrap();
    assert_eq!(from_rollup, short_m1);

    // The rewritten months are whole again: their keys and indexes work, so
    // retries of Keeper's calls (their claims expired) still count once —
    // one that started long ago through the key's check, one dated ahead
    // (only a clock gone wrong makes its claim expire first) through the
    // batch going again with every row checked.
    insert_cdrs(
        &pool,
        &[
            cdr("keeper-old", "0733000002", Some(old)),
            cdr("keeper-m1", "0733000002", Some(m1)),
        ],
    )
    .await
    .unwrap();
    assert_eq!(count_cdrs(&pool, keeper).await, 2);
    let parts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'cdrs_tenant_started'::regclass",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let partitions = maintenance::partitions(&pool, Partitioned::Cdrs)
        .await
        .unwrap();
    assert_eq!(
        parts,
        partitions.len() as i64,
        "every partition has its index part"
    );

    let again = maintenance::run(&pool, later, 400).await.unwrap();
    assert!(
        again.rewritten.is_empty() && again.dropped.is_empty() && again.failed.is_empty(),
        "nothing to do twice: {again:?}"
    );
}

/// The retention setting through the API: bounds answered 422 with the
/// path, null is for good, another tenant's admin gets 404, and nothing
/// changes on a refusal.
#[tokio::test]
async fn cdr_retention_is_a_tenant_setting_with_checked_bounds() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (tenant, admin) = tenant_with_admin(&app, &root, "Retaining").await;
    let (_, other_admin) = tenant_with_admin(&app, &root, "Nosy").await;
    let path = format!("/api/v1/tenants/{tenant}");
    let (status, view) = get(&app, &admin, &path).await;
    assert_eq!(
        (status, view["cdr_retention_months"].clone()),
        (200, Value::Null)
    );
    for bad in [
        json!(2),
        json!(0),
        json!(-1),
        json!(1201),
        json!(2.5),
        json!("12"),
        json!(1e40),
    ] {
        let (status, answer) =
            patch(&app, &admin, &path, json!({"cdr_retention_months": bad})).await;
        assert_eq!(
            (status, code(&answer)),
            (422, "validation_failed"),
            "{bad}: {answer}"
        );
        assert_eq!(
            answer["error"]["details"][0]["path"], "cdr_retention_months",
            "{bad}: {answer}"
        );
    }
    let (_, view) = get(&app, &admin, &path).await;
    assert_eq!(view["cdr_retention_months"], Value::Null, "nothing changed");
    let (status, view) = patch(&app, &admin, &path, json!({"cdr_retention_months": 3})).await;
    assert_eq!(
        (status, view["cdr_retention_months"].clone()),
        (200, json!(3))
    );
    let (status, answer) = patch(
        &app,
        &other_admin,
        &path,
        json!({"cdr_retention_months": null}),
    )
    .await;
    assert_eq!((status, code(&answer)), (404, "not_found"));
    let (status, view) = patch(&app, &admin, &path, json!({"name": "Still retaining"})).await;
    assert_eq!(
        (status, view["cdr_retention_months"].clone()),
        (200, json!(3)),
        "kept when absent"
    );
    let (status, view) = patch(&app, &admin, &path, json!({"cdr_retention_months": null})).await;
    assert_eq!(
        (status, view["cdr_retention_months"].clone()),
        (200, Value::Null)
    );
}

/// `ivrhub maintain` runs one pass from the command line (what an operator
/// runs after an upgrade, or the bench before timing): it says what it did;
/// a retention below the minimum is refused before anything is touched.
#[tokio::test]
async fn the_maintain_command_runs_one_pass_and_refuses_a_too_short_retention() {
    let url = empty_database().await;
    let run = |retention: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ivrhub"));
        command
            .arg("maintain")
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "warn");
        if let Some(days) = retention {
            command.env("IVRHUB_STEP_RETENTION_DAYS", days);
        }
        command.output().unwrap()
    };
    let refused = run(Some("30"));
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("IVRHUB_STEP_RETENTION_DAYS") || message.contains("step-retention-days"),
        "{message}"
    );
    let done = run(None);
    let out = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(out.starts_with("maintenance pass in "), "{out}");
    let pool = ivrhub::db::connect_pool(&url, 1).await.unwrap();
    for table in Partitioned::ALL {
        let months = maintenance::partitions(&pool, table)
            .await
            .unwrap()
            .into_iter()
            .filter(|p| p.name.contains("_20"))
            .count();
        assert_eq!(
            months,
            2,
            "{}: the months ahead of the one V13/V15 covers",
            table.table()
        );
    }
}

/// A late CDR for a day before its tenant's retention leaves that day's
/// roll-up alone (its raw rows are gone: rolling it up again would replace
/// its figures by the late row's); a tenant keeping its CDRs has the day
/// made raw again, as before.
#[tokio::test]
async fn a_late_cdr_before_the_retention_leaves_the_days_roll_up_alone() {
    let url = empty_database().await;
    ivrhub::db::migrate(&url).await.unwrap();
    let pool = ivrhub::db::connect_pool(&url, 4).await.unwrap();
    let short = tenant_with_did(&pool, "Short", "0733000001").await;
    let keeper = tenant_with_did(&pool, "Keeper", "0733000002").await;
    sqlx::query("UPDATE tenants SET cdr_retention_months = 3 WHERE tenant_id = $1")
        .bind(short)
        .execute(&pool)
        .await
        .unwrap();
    let day = (Utc::now() - Duration::days(200)).date_naive();
    let rolled = |tenant: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM report_rollup_days WHERE tenant_id = $1 AND day = $2",
            )
            .bind(tenant)
            .bind(day)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    for tenant in [short, keeper] {
        ivrhub::storage::reports::roll_up_day(&pool, tenant, day)
            .await
            .unwrap();
        assert_eq!(rolled(tenant).await, 1);
    }
    let at = day.and_hms_opt(12, 0, 0).unwrap().and_utc();
    insert_cdrs(
        &pool,
        &[
            cdr("late-short", "0733000001", Some(at)),
            cdr("late-keeper", "0733000002", Some(at)),
        ],
    )
    .await
    .unwrap();
    assert_eq!(rolled(short).await, 1, "kept: before Short's retention");
    assert_eq!(
        rolled(keeper).await,
        0,
        "made raw again: Keeper keeps its CDRs"
    );
}
