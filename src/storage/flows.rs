//! Flow nodes, schedules and recordings: writing them, and loading whole
//! flows for the webhook's cache.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use sqlx::{PgPool, Postgres, Transaction};

use crate::flow::model::{DidEntry, Flow, Holiday, Node, OpeningHours, Schedule};
use crate::flow::validate::{referenced_nodes, referenced_schedules};
use crate::voicenter::types::Language;

/// One tenant's flow as the webhook needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantFlow {
    pub tenant_id: i64,
    pub active: bool,
    pub flow: Flow,
}

/// What a (re)load returns: the flows and the DIDs pointing into them.
#[derive(Debug, Default)]
pub struct LoadedFlows {
    pub flows: Vec<TenantFlow>,
    pub dids: Vec<(String, DidEntry)>,
}

/// Which tenants to load: one, or every tenant (the platform-level full reload).
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    Tenant(i64),
    AllTenants,
}

impl Scope {
    fn tenant(self) -> Option<i64> {
        match self {
            Scope::Tenant(id) => Some(id),
            Scope::AllTenants => None,
        }
    }
}

/// Loads flows in one read-only transaction (a consistent snapshot). A node
/// whose stored definition no longer parses is skipped and logged: the rest of
/// the flow keeps answering, and the engine treats the node as missing.
pub async fn load_flows(pool: &PgPool, scope: Scope) -> Result<LoadedFlows, sqlx::Error> {
    let tenant = scope.tenant();
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let tenants: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT tenant_id, time_zone, language, status FROM tenants
         WHERE $1::bigint IS NULL OR tenant_id = $1",
    )
    .bind(tenant)
    .fetch_all(&mut *tx)
    .await?;
    let mut flows: HashMap<i64, TenantFlow> = tenants
        .into_iter()
        .map(|(tenant_id, time_zone, language, status)| {
            let time_zone = Tz::from_str(&time_zone).unwrap_or_else(|_| {
                tracing::warn!(tenant_id, %time_zone, "unknown time zone; using UTC");
                Tz::UTC
            });
            let flow = Flow {
                time_zone,
                language: Language::parse(&language).unwrap_or_default(),
                nodes: HashMap::new(),
                schedules: HashMap::new(),
            };
            let active = status == "active";
            (
                tenant_id,
                TenantFlow {
                    tenant_id,
                    active,
                    flow,
                },
            )
        })
        .collect();

    let nodes: Vec<(i64, String, sqlx::types::Json<serde_json::Value>)> = sqlx::query_as(
        "SELECT tenant_id, key, definition FROM flow_nodes WHERE $1::bigint IS NULL OR tenant_id = $1",
    )
    .bind(tenant)
    .fetch_all(&mut *tx)
    .await?;
    for (tenant_id, key, definition) in nodes {
        let Some(tenant_flow) = flows.get_mut(&tenant_id) else {
            continue;
        };
        match serde_json::from_value::<Node>(definition.0) {
            Ok(mut node) => {
                node.key = key.clone();
                tenant_flow.flow.nodes.insert(key, node);
            }
            Err(error) => {
                tracing::error!(tenant_id, %key, %error, "stored node does not parse; skipped")
            }
        }
    }

    load_schedules(&mut tx, tenant, &mut flows).await?;

    let dids: Vec<(String, i64, String, Option<String>)> = sqlx::query_as(
        "SELECT did, tenant_id, coalesce(entry_node, ''), language FROM dids WHERE $1::bigint IS NULL OR tenant_id = $1",
    )
    .bind(tenant)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(LoadedFlows {
        flows: flows.into_values().collect(),
        dids: dids
            .into_iter()
            .map(|(did, tenant_id, entry_node, language)| {
                let language = language.as_deref().and_then(Language::parse);
                (
                    did,
                    DidEntry {
                        tenant_id,
                        entry_node,
                        language,
                    },
                )
            })
            .collect(),
    })
}

async fn load_schedules(
    tx: &mut Transaction<'_, Postgres>,
    tenant: Option<i64>,
    flows: &mut HashMap<i64, TenantFlow>,
) -> Result<(), sqlx::Error> {
    let schedules: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT tenant_id, key, name FROM schedules WHERE $1::bigint IS NULL OR tenant_id = $1",
    )
    .bind(tenant)
    .fetch_all(&mut **tx)
    .await?;
    for (tenant_id, key, name) in schedules {
        if let Some(tenant_flow) = flows.get_mut(&tenant_id) {
            let schedule = Schedule {
                key: key.clone(),
                name,
                hours: Vec::new(),
                holidays: Vec::new(),
            };
            tenant_flow.flow.schedules.insert(key, schedule);
        }
    }
    let hours: Vec<(i64, String, i16, NaiveTime, NaiveTime)> = sqlx::query_as(
        "SELECT tenant_id, schedule_key, weekday, opens, closes FROM schedule_hours
         WHERE $1::bigint IS NULL OR tenant_id = $1 ORDER BY tenant_id, schedule_key, position",
    )
    .bind(tenant)
    .fetch_all(&mut **tx)
    .await?;
    for (tenant_id, key, weekday, opens, closes) in hours {
        if let Some(schedule) = schedule_mut(flows, tenant_id, &key) {
            schedule.hours.push(OpeningHours {
                day: weekday_from_iso(weekday),
                opens,
                closes,
            });
        }
    }
    let holidays: Vec<(i64, String, NaiveDate, String)> = sqlx::query_as(
        "SELECT tenant_id, schedule_key, day, name FROM schedule_holidays
         WHERE $1::bigint IS NULL OR tenant_id = $1 ORDER BY tenant_id, schedule_key, day",
    )
    .bind(tenant)
    .fetch_all(&mut **tx)
    .await?;
    for (tenant_id, key, date, name) in holidays {
        if let Some(schedule) = schedule_mut(flows, tenant_id, &key) {
            schedule.holidays.push(Holiday { date, name });
        }
    }
    Ok(())
}

fn schedule_mut<'a>(
    flows: &'a mut HashMap<i64, TenantFlow>,
    tenant_id: i64,
    key: &str,
) -> Option<&'a mut Schedule> {
    flows.get_mut(&tenant_id)?.flow.schedules.get_mut(key)
}

fn weekday_from_iso(day: i16) -> Weekday {
    // The column's CHECK keeps it within 1..=7.
    Weekday::try_from(u8::try_from(day - 1).unwrap_or(0)).unwrap_or(Weekday::Mon)
}

/// Writes (inserts or replaces) nodes and schedules of one tenant in one
/// transaction. References are checked by the database at commit, so a set
/// of nodes that refer to each other can be written together.
pub async fn save_flow(
    pool: &PgPool,
    tenant_id: i64,
    nodes: &[Node],
    schedules: &[Schedule],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for schedule in schedules {
        save_schedule(&mut tx, tenant_id, schedule).await?;
    }
    for node in nodes {
        save_node(&mut tx, tenant_id, node).await?;
    }
    tx.commit().await
}

async fn save_node(
    tx: &mut Transaction<'_, Postgres>,
    tenant_id: i64,
    node: &Node,
) -> Result<(), sqlx::Error> {
    let definition = serde_json::to_value(node).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let kind = definition
        .get("kind")
        .and_then(|k| k.as_str())
        .unwrap_or_default()
        .to_owned();
    sqlx::query(
        "INSERT INTO flow_nodes (tenant_id, key, kind, definition) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, key) DO UPDATE
         SET kind = EXCLUDED.kind, definition = EXCLUDED.definition, updated_at = now()",
    )
    .bind(tenant_id)
    .bind(&node.key)
    .bind(kind)
    .bind(sqlx::types::Json(&definition))
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM node_links WHERE tenant_id = $1 AND from_key = $2")
        .bind(tenant_id)
        .bind(&node.key)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO node_links (tenant_id, from_key, to_key)
         SELECT $1, $2, to_key FROM unnest($3::text[]) AS t(to_key) ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(&node.key)
    .bind(referenced_nodes(node))
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM node_schedule_links WHERE tenant_id = $1 AND from_key = $2")
        .bind(tenant_id)
        .bind(&node.key)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO node_schedule_links (tenant_id, from_key, schedule_key)
         SELECT $1, $2, schedule_key FROM unnest($3::text[]) AS t(schedule_key) ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(&node.key)
    .bind(referenced_schedules(node))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn save_schedule(
    tx: &mut Transaction<'_, Postgres>,
    tenant_id: i64,
    schedule: &Schedule,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO schedules (tenant_id, key, name) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, key) DO UPDATE SET name = EXCLUDED.name, updated_at = now()",
    )
    .bind(tenant_id)
    .bind(&schedule.key)
    .bind(&schedule.name)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM schedule_hours WHERE tenant_id = $1 AND schedule_key = $2")
        .bind(tenant_id)
        .bind(&schedule.key)
        .execute(&mut **tx)
        .await?;
    let weekdays: Vec<i16> = schedule
        .hours
        .iter()
        .map(|h| i16::from(h.day.number_from_monday() as u8))
        .collect();
    let opens: Vec<NaiveTime> = schedule.hours.iter().map(|h| h.opens).collect();
    let closes: Vec<NaiveTime> = schedule.hours.iter().map(|h| h.closes).collect();
    sqlx::query(
        "INSERT INTO schedule_hours (tenant_id, schedule_key, position, weekday, opens, closes)
         SELECT $1, $2, position, weekday, opens, closes
         FROM unnest($3::smallint[], $4::time[], $5::time[]) WITH ORDINALITY AS t(weekday, opens, closes, position)",
    )
    .bind(tenant_id)
    .bind(&schedule.key)
    .bind(weekdays)
    .bind(opens)
    .bind(closes)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM schedule_holidays WHERE tenant_id = $1 AND schedule_key = $2")
        .bind(tenant_id)
        .bind(&schedule.key)
        .execute(&mut **tx)
        .await?;
    let dates: Vec<NaiveDate> = schedule.holidays.iter().map(|h| h.date).collect();
    let names: Vec<&str> = schedule.holidays.iter().map(|h| h.name.as_str()).collect();
    sqlx::query(
        "INSERT INTO schedule_holidays (tenant_id, schedule_key, day, name)
         SELECT $1, $2, day, name FROM unnest($3::date[], $4::text[]) AS t(day, name)
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(&schedule.key)
    .bind(dates)
    .bind(names)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Adds recordings to the tenant's catalogue (existing names are kept).
pub async fn ensure_recordings(
    pool: &PgPool,
    tenant_id: i64,
    recordings: &[(&str, &str, Option<Language>)],
) -> Result<(), sqlx::Error> {
    let names: Vec<&str> = recordings.iter().map(|r| r.0).collect();
    let descriptions: Vec<&str> = recordings.iter().map(|r| r.1).collect();
    let languages: Vec<Option<&str>> = recordings
        .iter()
        .map(|r| r.2.map(Language::as_str))
        .collect();
    sqlx::query(
        "INSERT INTO recordings (tenant_id, name, description, language)
         SELECT $1, name, description, language
         FROM unnest($2::text[], $3::text[], $4::text[]) AS t(name, description, language)
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(names)
    .bind(descriptions)
    .bind(languages)
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes a node. Fails with a foreign-key violation while another node or
/// a DID still refers to it.
pub async fn delete_node(pool: &PgPool, tenant_id: i64, key: &str) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM flow_nodes WHERE tenant_id = $1 AND key = $2")
        .bind(tenant_id)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected() == 1)
}
