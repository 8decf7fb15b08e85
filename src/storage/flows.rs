//! The draft flow's tables (nodes, schedules, DID entries) and the
//! recordings catalogue: reading and writing them; and loading every
//! tenant's live version for the webhook's cache.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use sqlx::{PgConnection, PgPool};

use crate::flow::FlowContent;
use crate::flow::model::{EntryPoint, Holiday, Node, OpeningHours, Rec, Schedule};
use crate::flow::validate::{referenced_nodes, referenced_schedules};
use crate::voicenter::types::Language;

/// A tenant's settings that its flow runs with (not versioned).
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSettings {
    pub tenant_id: i64,
    pub active: bool,
    pub time_zone: Tz,
    pub language: Language,
}

/// What a (re)load of the webhook's cache reads: each tenant's settings and
/// live version, and the DID directory (number → tenant).
#[derive(Debug, Default)]
pub struct LiveFlows {
    pub tenants: Vec<(TenantSettings, Option<(u32, FlowContent)>)>,
    pub dids: Vec<(String, i64)>,
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

/// Loads live flows in one read-only transaction (a consistent snapshot).
pub async fn load_live(pool: &PgPool, scope: Scope) -> Result<LiveFlows, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let tenant = scope.tenant();
    let settings = tenant_settings(&mut tx, tenant).await?;
    let mut live: HashMap<i64, (u32, FlowContent)> =
        crate::storage::versions::live_contents(&mut tx, tenant)
            .await?
            .into_iter()
            .filter_map(|(tenant_id, version, content)| {
                Some((tenant_id, (u32::try_from(version).ok()?, content)))
            })
            .collect();
    let dids: Vec<(String, i64)> = sqlx::query_as(
        "SELECT did, tenant_id FROM dids WHERE $1::bigint IS NULL OR tenant_id = $1",
    )
    .bind(tenant)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(LiveFlows {
        tenants: settings
            .into_iter()
            .map(|settings| {
                let version = live.remove(&settings.tenant_id);
                (settings, version)
            })
            .collect(),
        dids,
    })
}

/// The settings of one tenant (`Some`) or of all.
pub async fn tenant_settings(
    conn: &mut PgConnection,
    tenant: Option<i64>,
) -> Result<Vec<TenantSettings>, sqlx::Error> {
    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT tenant_id, time_zone, language, status FROM tenants
         WHERE $1::bigint IS NULL OR tenant_id = $1",
    )
    .bind(tenant)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(tenant_id, time_zone, language, status)| TenantSettings {
            tenant_id,
            active: status == "active",
            time_zone: Tz::from_str(&time_zone).unwrap_or_else(|_| {
                tracing::warn!(tenant_id, %time_zone, "unknown time zone; using UTC");
                Tz::UTC
            }),
            language: Language::parse(&language).unwrap_or_default(),
        })
        .collect())
}

/// The tenant's draft: its settings and the content of the flow tables (a
/// node whose stored definition no longer parses is skipped and logged).
/// `None`: no such tenant. Read on `conn`, typically a write transaction
/// that holds [`lock_tenant`].
pub async fn load_draft(
    conn: &mut PgConnection,
    tenant_id: i64,
) -> Result<Option<(TenantSettings, FlowContent)>, sqlx::Error> {
    let Some(settings) = tenant_settings(&mut *conn, Some(tenant_id)).await?.pop() else {
        return Ok(None);
    };
    let mut content = FlowContent::default();
    let nodes: Vec<NodeRow> =
        sqlx::query_as("SELECT key, definition FROM flow_nodes WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_all(&mut *conn)
            .await?;
    for row in nodes {
        let key = row.key.clone();
        match row.into_node() {
            Ok(node) => {
                content.nodes.insert(key, node);
            }
            Err(error) => {
                tracing::error!(tenant_id, %key, %error, "stored node does not parse; skipped")
            }
        }
    }
    let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM schedules WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_all(&mut *conn)
        .await?;
    for schedule in schedules_by_key(conn, tenant_id, &keys).await? {
        content.schedules.insert(schedule.key.clone(), schedule);
    }
    let entries: Vec<(String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT did, entry_node, language FROM dids WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_all(&mut *conn)
            .await?;
    for (did, entry_node, language) in entries {
        let entry = EntryPoint {
            did: did.clone(),
            entry_node,
            language: language.as_deref().and_then(Language::parse),
        };
        content.entries.insert(did, entry);
    }
    let goodbye: Option<sqlx::types::Json<serde_json::Value>> =
        sqlx::query_scalar("SELECT goodbye FROM flow_drafts WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(&mut *conn)
            .await?
            .flatten();
    content.goodbye = goodbye.and_then(|json| {
        serde_json::from_value(json.0)
            .inspect_err(|error| {
                tracing::error!(tenant_id, %error, "stored goodbye does not parse; skipped")
            })
            .ok()
    });
    Ok(Some((settings, content)))
}

/// Sets the draft's goodbye (`None`: none).
pub async fn save_goodbye(
    conn: &mut PgConnection,
    tenant_id: i64,
    goodbye: Option<&Rec>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO flow_drafts (tenant_id, goodbye) VALUES ($1, $2)
         ON CONFLICT (tenant_id) DO UPDATE SET goodbye = EXCLUDED.goodbye",
    )
    .bind(tenant_id)
    .bind(goodbye.map(sqlx::types::Json))
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets where calls to the tenant's `did` enter the draft.
pub async fn save_entry(
    conn: &mut PgConnection,
    tenant_id: i64,
    entry: &EntryPoint,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE dids SET entry_node = $3, language = $4 WHERE tenant_id = $1 AND did = $2")
        .bind(tenant_id)
        .bind(&entry.did)
        .bind(&entry.entry_node)
        .bind(entry.language.map(Language::as_str))
        .execute(&mut *conn)
        .await?;
    super::notify_flow_changed(conn, tenant_id).await
}

/// Serialises the flow writes of one tenant until the end of the
/// transaction: each write validates the whole flow as it will be, so two
/// concurrent writes must not each validate against the state before the
/// other (and jointly break the flow). The advisory lock's key is the tenant id.
pub async fn lock_tenant(conn: &mut PgConnection, tenant_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(tenant_id)
        .execute(conn)
        .await?;
    Ok(())
}

fn weekday_from_iso(day: i16) -> Weekday {
    // The column's CHECK keeps it within 1..=7.
    Weekday::try_from(u8::try_from(day - 1).unwrap_or(0)).unwrap_or(Weekday::Mon)
}

/// Inserts or replaces one node with its reference rows. The references
/// are checked by the database when the transaction commits.
pub async fn save_node(
    conn: &mut PgConnection,
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
         SET kind = EXCLUDED.kind, definition = EXCLUDED.definition, updated_at = EXCLUDED.updated_at",
    )
    .bind(tenant_id)
    .bind(&node.key)
    .bind(kind)
    .bind(sqlx::types::Json(&definition))
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM node_links WHERE tenant_id = $1 AND from_key = $2")
        .bind(tenant_id)
        .bind(&node.key)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO node_links (tenant_id, from_key, to_key)
         SELECT $1, $2, to_key FROM unnest($3::text[]) AS t(to_key) ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(&node.key)
    .bind(referenced_nodes(node))
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM node_schedule_links WHERE tenant_id = $1 AND from_key = $2")
        .bind(tenant_id)
        .bind(&node.key)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO node_schedule_links (tenant_id, from_key, schedule_key)
         SELECT $1, $2, schedule_key FROM unnest($3::text[]) AS t(schedule_key) ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(&node.key)
    .bind(referenced_schedules(node))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inserts or replaces one schedule with its hours and holidays.
pub async fn save_schedule(
    conn: &mut PgConnection,
    tenant_id: i64,
    schedule: &Schedule,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO schedules (tenant_id, key, name, calendar) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, key) DO UPDATE
         SET name = EXCLUDED.name, calendar = EXCLUDED.calendar, updated_at = EXCLUDED.updated_at",
    )
    .bind(tenant_id)
    .bind(&schedule.key)
    .bind(&schedule.name)
    .bind(schedule.calendar.as_ref().map(sqlx::types::Json))
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM schedule_hours WHERE tenant_id = $1 AND schedule_key = $2")
        .bind(tenant_id)
        .bind(&schedule.key)
        .execute(&mut *conn)
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
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM schedule_holidays WHERE tenant_id = $1 AND schedule_key = $2")
        .bind(tenant_id)
        .bind(&schedule.key)
        .execute(&mut *conn)
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
    .execute(&mut *conn)
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
pub async fn delete_node<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    tenant_id: i64,
    key: &str,
) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM flow_nodes WHERE tenant_id = $1 AND key = $2")
        .bind(tenant_id)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// A stored node definition: the JSON of a [`Node`] (parsed by the caller).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NodeRow {
    pub key: String,
    pub definition: sqlx::types::Json<serde_json::Value>,
}

impl NodeRow {
    /// The node, with the key it is stored under.
    pub fn into_node(self) -> Result<Node, serde_json::Error> {
        let mut node: Node = serde_json::from_value(self.definition.0)?;
        node.key = self.key;
        Ok(node)
    }
}

/// The schedules named by `keys` that exist, in the order of `keys`.
async fn schedules_by_key(
    conn: &mut PgConnection,
    tenant_id: i64,
    keys: &[String],
) -> Result<Vec<Schedule>, sqlx::Error> {
    type Row = (String, String, Option<sqlx::types::Json<serde_json::Value>>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT key, name, calendar FROM schedules WHERE tenant_id = $1 AND key = ANY($2)",
    )
    .bind(tenant_id)
    .bind(keys)
    .fetch_all(&mut *conn)
    .await?;
    let mut schedules: HashMap<String, Schedule> = rows
        .into_iter()
        .map(|(key, name, calendar)| {
            let calendar = calendar.and_then(|json| {
                serde_json::from_value(json.0)
                    .inspect_err(|error| {
                        tracing::error!(tenant_id, %key, %error, "stored schedule calendar does not parse; skipped")
                    })
                    .ok()
            });
            let schedule = Schedule {
                key: key.clone(),
                name,
                hours: Vec::new(),
                holidays: Vec::new(),
                calendar,
            };
            (key, schedule)
        })
        .collect();
    let hours: Vec<(String, i16, NaiveTime, NaiveTime)> = sqlx::query_as(
        "SELECT schedule_key, weekday, opens, closes FROM schedule_hours
         WHERE tenant_id = $1 AND schedule_key = ANY($2) ORDER BY schedule_key, position",
    )
    .bind(tenant_id)
    .bind(keys)
    .fetch_all(&mut *conn)
    .await?;
    for (key, weekday, opens, closes) in hours {
        if let Some(schedule) = schedules.get_mut(&key) {
            schedule.hours.push(OpeningHours {
                day: weekday_from_iso(weekday),
                opens,
                closes,
            });
        }
    }
    let holidays: Vec<(String, NaiveDate, String)> = sqlx::query_as(
        "SELECT schedule_key, day, name FROM schedule_holidays
         WHERE tenant_id = $1 AND schedule_key = ANY($2) ORDER BY schedule_key, day",
    )
    .bind(tenant_id)
    .bind(keys)
    .fetch_all(&mut *conn)
    .await?;
    for (key, date, name) in holidays {
        if let Some(schedule) = schedules.get_mut(&key) {
            schedule.holidays.push(Holiday { date, name });
        }
    }
    Ok(keys
        .iter()
        .filter_map(|key| schedules.remove(key))
        .collect())
}

/// Deletes a schedule with its hours and holidays. Fails with a foreign-key
/// violation at commit while a node still uses it.
pub async fn delete_schedule(
    conn: &mut PgConnection,
    tenant_id: i64,
    key: &str,
) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM schedules WHERE tenant_id = $1 AND key = $2")
        .bind(tenant_id)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// A recording of the tenant's catalogue.
#[derive(Debug, Clone, sqlx::FromRow, PartialEq, Eq, serde::Serialize)]
pub struct RecordingRow {
    pub name: String,
    pub description: String,
    pub language: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

pub async fn list_recordings(
    pool: &PgPool,
    tenant_id: i64,
    after: &str,
    limit: i64,
) -> Result<Vec<RecordingRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, description, language, created_at FROM recordings
         WHERE tenant_id = $1 AND name > $2 ORDER BY name LIMIT $3",
    )
    .bind(tenant_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn recording<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    tenant_id: i64,
    name: &str,
) -> Result<Option<RecordingRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, description, language, created_at FROM recordings
         WHERE tenant_id = $1 AND name = $2",
    )
    .bind(tenant_id)
    .bind(name)
    .fetch_optional(conn)
    .await
}

/// The tenant's catalogue of recordings: each name and its language.
pub async fn recording_catalogue(
    conn: &mut PgConnection,
    tenant_id: i64,
) -> Result<crate::flow::validate::Catalogue, sqlx::Error> {
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT name, language FROM recordings WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_all(conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(name, language)| (name, language.as_deref().and_then(Language::parse)))
        .collect())
}

/// Adds a recording, or sets the description and language of one.
pub async fn put_recording(
    conn: &mut PgConnection,
    tenant_id: i64,
    name: &str,
    description: &str,
    language: Option<Language>,
) -> Result<RecordingRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO recordings (tenant_id, name, description, language) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, name) DO UPDATE
         SET description = EXCLUDED.description, language = EXCLUDED.language
         RETURNING name, description, language, created_at",
    )
    .bind(tenant_id)
    .bind(name)
    .bind(description)
    .bind(language.map(Language::as_str))
    .fetch_one(conn)
    .await
}

/// Adds a recording; a unique violation when the name is taken.
pub async fn insert_recording(
    conn: &mut PgConnection,
    tenant_id: i64,
    name: &str,
    description: &str,
    language: Option<Language>,
) -> Result<RecordingRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO recordings (tenant_id, name, description, language) VALUES ($1, $2, $3, $4)
         RETURNING name, description, language, created_at",
    )
    .bind(tenant_id)
    .bind(name)
    .bind(description)
    .bind(language.map(Language::as_str))
    .fetch_one(conn)
    .await
}

/// Changes a recording's description and language (`None`: unchanged;
/// `Some(None)`: no language).
pub async fn update_recording(
    conn: &mut PgConnection,
    tenant_id: i64,
    name: &str,
    description: Option<&str>,
    language: Option<Option<Language>>,
) -> Result<Option<RecordingRow>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE recordings SET description = coalesce($3, description),
                language = CASE WHEN $4 THEN $5 ELSE language END
         WHERE tenant_id = $1 AND name = $2
         RETURNING name, description, language, created_at",
    )
    .bind(tenant_id)
    .bind(name)
    .bind(description)
    .bind(language.is_some())
    .bind(language.flatten().map(Language::as_str))
    .fetch_optional(conn)
    .await
}

pub async fn delete_recording(
    conn: &mut PgConnection,
    tenant_id: i64,
    name: &str,
) -> Result<Option<RecordingRow>, sqlx::Error> {
    sqlx::query_as(
        "DELETE FROM recordings WHERE tenant_id = $1 AND name = $2
         RETURNING name, description, language, created_at",
    )
    .bind(tenant_id)
    .bind(name)
    .fetch_optional(conn)
    .await
}
