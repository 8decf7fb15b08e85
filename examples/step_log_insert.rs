//! How fast PostgreSQL takes the step log's batches, one way against the
//! other, on the same database in one run: the `INSERT … SELECT FROM
//! jsonb_to_record` the step log used before, and the binary `COPY` it uses
//! now (`storage::steps`).
//!
//! `cargo run --release --example step_log_insert [-- BATCHES]` (default 100
//! batches of 2000 steps each way; uses the private PostgreSQL of the tests
//! under var/test-postgres, in a database of its own that it drops).

use std::path::PathBuf;
use std::time::Instant;

use chrono::{Duration, Utc};
use ivrhub::pg_embedded::EmbeddedPostgres;
use ivrhub::storage::steps::{NewStep, insert_steps, insert_steps_of_live_tenants};

const BATCH: usize = 2000;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let batches: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(100);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("var/test-postgres");
    let server = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&root)).await??;
    let maintenance = server.url("postgres");
    let name = "ivrhub_step_bench";
    let (client, connection) = tokio_postgres::connect(&maintenance, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .await?;
    ivrhub::db::create_database(&maintenance, name, None).await?;
    let url = server.url(name);
    ivrhub::db::migrate(&url).await?;
    let pool = ivrhub::db::connect_pool(&url, 2).await?;
    let tenant: i64 =
        sqlx::query_scalar("INSERT INTO tenants (name) VALUES ('bench') RETURNING tenant_id")
            .fetch_one(&pool)
            .await?;
    let now = Utc::now();
    let batch: Vec<NewStep> = (0..BATCH)
        .map(|n| NewStep {
            tenant_id: tenant,
            call_id: format!("bench-call-{:08}", n / 4),
            at: now + Duration::milliseconds(n as i64),
            did: "0730000000".into(),
            caller_id: "0541234567".into(),
            menu: "main~v1~r0".into(),
            dtmf: "1".into(),
            from_node: Some("main".into()),
            node_key: Some("sales".into()),
            outcome: "matched".into(),
            action: "CALL".into(),
            flow_version: Some(1),
            fallback: None,
        })
        .collect();
    println!(
        "{batches} batches of {BATCH} steps each way, one client, into an indexed, partitioned call_steps"
    );
    println!("{:<34} {:>12} {:>14}", "method", "steps/s", "ms per batch");
    for round in 0..2 {
        for (label, copy) in [
            ("INSERT … jsonb_to_record (before)", false),
            ("COPY binary (now)", true),
        ] {
            let started = Instant::now();
            for _ in 0..batches {
                if copy {
                    insert_steps(&pool, &batch).await?;
                } else {
                    insert_steps_of_live_tenants(&pool, &batch).await?;
                }
            }
            let secs = started.elapsed().as_secs_f64();
            if round == 1 {
                println!(
                    "{label:<34} {:>12.0} {:>14.1}",
                    (batches * BATCH) as f64 / secs,
                    secs * 1000.0 / batches as f64
                );
            }
        }
    }
    pool.close().await;
    client
        .batch_execute(&format!("DROP DATABASE {name}"))
        .await?;
    Ok(())
}
