//! The schema stays distributable (DESIGN §3, §9): read from the catalog of
//! a migrated database, on a single PostgreSQL as much as on Citus, so that
//! a migration that breaks the rule fails the ordinary `cargo test`.
//!
//! * every table has exactly one place in src/citus.rs's lists (tenant,
//!   reference, call-id or coordinator table), so a new table must be
//!   placed (and, if it is a platform table, say why) before it ships;
//! * every primary key, unique constraint, unique index and foreign key of a
//!   tenant table includes `tenant_id` (and a foreign key between tenant
//!   tables matches it with the other table's `tenant_id`), which is what
//!   lets Citus enforce each of them within one shard;
//! * on Citus (`IVRHUB_TEST_CITUS=1`), the tables are what the lists say.
//!
//! The exempt platform tables are src/citus.rs's REFERENCE_TABLES (the
//! tenants themselves, the accounts — emails unique across the platform,
//! platform admins without a tenant — the DID directory, a number belonging
//! to one tenant across the platform, and the causes), CALL_TABLES (the
//! claim of a call id, platform-wide by design, and the CDRs of numbers no
//! tenant owns) and COORDINATOR_TABLES (with their reasons there).

use ivrhub::citus::{CALL_TABLES, COORDINATOR_TABLES, REFERENCE_TABLES, TENANT_TABLES};

use crate::harness::{TestApp, on_citus};

#[tokio::test]
async fn every_key_of_a_tenant_table_includes_the_tenant() {
    let app = TestApp::spawn().await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
           AND NOT c.relispartition
         ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let placed: Vec<&str> = TENANT_TABLES
        .iter()
        .chain(REFERENCE_TABLES)
        .chain(CALL_TABLES)
        .copied()
        .chain(COORDINATOR_TABLES.iter().map(|(table, _)| *table))
        .collect();
    let unplaced: Vec<&String> = tables
        .iter()
        .filter(|t| !placed.contains(&t.as_str()))
        .collect();
    assert!(
        unplaced.is_empty(),
        "tables without a place in src/citus.rs: {unplaced:?}"
    );

    // (table, constraint or index, kind, whether tenant_id is among its
    // columns, for a foreign key: whether the referenced columns hold the
    // referenced table's tenant_id at the same position)
    let keys: Vec<(String, String, String, bool, Option<bool>)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.conname::text, c.contype::text,
                EXISTS (SELECT 1 FROM unnest(c.conkey) k
                        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k
                        WHERE a.attname = 'tenant_id'),
                CASE WHEN c.contype = 'f' THEN EXISTS (
                    SELECT 1 FROM unnest(c.conkey, c.confkey) AS k (mine, theirs)
                    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.mine
                    JOIN pg_attribute b ON b.attrelid = c.confrelid AND b.attnum = k.theirs
                    WHERE a.attname = 'tenant_id' AND b.attname = 'tenant_id') END
         FROM pg_constraint c
         WHERE c.contype IN ('p', 'u', 'f') AND c.conrelid::regclass::text = ANY($1)
         UNION ALL
         SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, 'unique index',
                EXISTS (SELECT 1 FROM unnest(i.indkey) k
                        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k
                        WHERE a.attname = 'tenant_id'),
                NULL
         FROM pg_index i
         WHERE i.indisunique AND i.indrelid::regclass::text = ANY($1)
         ORDER BY 1, 2",
    )
    .bind(TENANT_TABLES)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let mut wrong = Vec::new();
    for (table, name, kind, with_tenant, matched) in &keys {
        if !with_tenant {
            wrong.push(format!("{table}.{name} ({kind}) lacks tenant_id"));
        }
        if *matched == Some(false) {
            wrong.push(format!(
                "{table}.{name}: the foreign key does not match tenant_id with tenant_id"
            ));
        }
    }
    assert!(wrong.is_empty(), "not distributable by tenant: {wrong:#?}");
    // Sanity: the query sees the keys at all.
    assert!(keys.len() > 30, "{keys:?}");
}

#[tokio::test]
async fn on_citus_the_tables_are_where_the_lists_say() {
    if !on_citus() {
        return;
    }
    let app = TestApp::spawn().await;
    let rows: Vec<(String, String, String, i32, Option<String>)> = sqlx::query_as(
        "SELECT logicalrelid::regclass::text, partmethod::text, repmodel::text, colocationid,
                column_to_column_name(logicalrelid, partkey)
         FROM pg_dist_partition",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let find = |table: &str| {
        rows.iter()
            .find(|row| row.0 == table)
            .unwrap_or_else(|| panic!("{table} is not a Citus table"))
    };
    let tenant_group = find(TENANT_TABLES[0]).3;
    for table in TENANT_TABLES {
        let (_, method, _, group, column) = find(table);
        assert_eq!(
            (method.as_str(), *group, column.as_deref()),
            ("h", tenant_group, Some("tenant_id")),
            "{table}"
        );
    }
    let call_group = find(CALL_TABLES[0]).3;
    for table in CALL_TABLES {
        let (_, method, _, group, column) = find(table);
        assert_eq!(
            (method.as_str(), *group, column.as_deref()),
            ("h", call_group, Some("call_id")),
            "{table}"
        );
    }
    for table in REFERENCE_TABLES {
        let (_, method, model, _, _) = find(table);
        assert_eq!((method.as_str(), model.as_str()), ("n", "t"), "{table}");
    }
}
