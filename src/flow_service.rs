//! The one flow-editing service (DESIGN §7): every change to a tenant's
//! flow, and its versions, goes through here; the API's handlers parse,
//! call one function, and answer.
//!
//! # The draft
//!
//! A tenant's flow is its nodes, its schedules and its DIDs' entry points.
//! Every edit goes to the tenant's one **draft** (the flow tables), never
//! to what callers hear. An edit is a change set ([`Change`]s) applied by
//! [`Edit`]: take the tenant's lock (serialising the tenant's edits and
//! publishes), load the draft, check the revision the editor based the
//! change on (stale: 409 `stale_revision`), apply the changes in memory,
//! refuse deleting what the result still uses (409 naming every user),
//! validate the whole result with the one pure validation
//! (`flow::validate`), save what differs, audit each object changed, and
//! bump the draft's revision — all in one transaction. A change set that
//! brings in an error the draft did not have is refused (422, every new
//! error); errors the draft already had do not block a write that leaves
//! them alone (a draft broken by other means can be repaired a write at a
//! time), and come back, with the warnings, in the answer.
//!
//! An object named in the URL that does not exist is 404; one named in a
//! body (`/flow/changes`' `delete_nodes`) is a 422 at its path.
//!
//! # Versions
//!
//! [`publish`] freezes the draft into the next version (immutable: content,
//! SHA-256, author, time, message, parent) if it has no error, and that
//! version is live; [`rollback`] makes an older version's content live again
//! as a *new* version (`restores` names the old one), so the history stays
//! linear and "what was live when" is the list of versions itself, the live
//! version always being the newest; [`discard`] makes the draft the live
//! content again. A draft (or a rollback target) identical to live makes no
//! version: 409 `nothing_to_publish`. The webhook's cache hears of a new
//! version through the `flow_versions` trigger (NOTIFY).

use serde::Serialize;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::error::{ApiError, ErrorDetail};
use crate::flow::FlowContent;
use crate::flow::model::{DidEntry, EntryPoint, Flow, Node, Rec, Schedule};
use crate::flow::validate::{
    Catalogue, Context, FlowIssue, recording_refs, referenced_nodes, referenced_schedules, validate,
};
use crate::flow_tests::{FlowTest, TestResult};
use crate::storage::audit::{self, Actor};
use crate::storage::flows::{self, TenantSettings};
use crate::storage::versions::{self, NewVersion, VersionRow};
use crate::voicenter::types::Language;
use crate::webhook::fallback::SafeAnswer;

/// How long after a version stops being live a call may still be on it
/// (its recordings cannot be deleted meanwhile). Voicenter's longest call
/// (`CALL_MAX`) is 24 hours.
pub const CALLS_LAST_AT_MOST: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Which flow to read: `draft`, `live` or a version number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector {
    Draft,
    Live,
    Version(u32),
}

impl Selector {
    /// Parses the query parameter `name`; anything else is a 400 naming it.
    pub fn parse(name: &str, text: &str) -> Result<Selector, ApiError> {
        match text {
            "draft" => Ok(Selector::Draft),
            "live" => Ok(Selector::Live),
            number => version_number(name, number).map(Selector::Version),
        }
    }
}

/// A version number as a parameter `name` gives it: a positive integer
/// (digits only), else a 400 naming the parameter. One too large for any
/// version is kept as `u32::MAX`, which names no version (404, or nothing).
pub fn version_number(name: &str, text: &str) -> Result<u32, ApiError> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits || text.bytes().all(|b| b == b'0') {
        return Err(ApiError::bad_field(
            name,
            format!("`{name}` must be `draft`, `live` or a version number (1, 2, …)"),
        ));
    }
    Ok(text.parse::<u32>().unwrap_or(u32::MAX))
}

/// Reads a flow. No live version yet, or no such version: 404.
pub async fn read(
    pool: &PgPool,
    tenant_id: i64,
    selector: Selector,
) -> Result<FlowContent, ApiError> {
    Ok(read_with_revision(pool, tenant_id, selector).await?.0)
}

/// A flow and the draft's revision at the same moment (the `ETag` of
/// reads of the draft).
pub async fn read_with_revision(
    pool: &PgPool,
    tenant_id: i64,
    selector: Selector,
) -> Result<(FlowContent, i64), ApiError> {
    let mut tx = snapshot(pool).await?;
    let content = read_on(&mut tx, tenant_id, selector).await?;
    let revision = versions::draft_revision(&mut *tx, tenant_id).await?;
    tx.commit().await?;
    Ok((content, revision))
}

/// A read-only transaction whose queries all see one state of the database.
async fn snapshot(pool: &PgPool) -> Result<Transaction<'static, Postgres>, ApiError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

async fn read_on(
    conn: &mut PgConnection,
    tenant_id: i64,
    selector: Selector,
) -> Result<FlowContent, ApiError> {
    let number = match selector {
        Selector::Draft => {
            return flows::load_draft(conn, tenant_id)
                .await?
                .map(|(_, content)| content)
                .ok_or_else(|| ApiError::not_found("tenant"));
        }
        Selector::Live => {
            versions::live(&mut *conn, tenant_id)
                .await?
                .ok_or_else(|| ApiError::not_found("live version (nothing is published yet)"))?
                .version
        }
        Selector::Version(n) => i32::try_from(n).map_err(|_| ApiError::not_found("version"))?,
    };
    versions::content(conn, tenant_id, number)
        .await?
        .ok_or_else(|| ApiError::not_found("version"))
}

/// Schedule `key` of the flow `selector` names, with the tenant's time zone.
pub async fn schedule(
    pool: &PgPool,
    tenant_id: i64,
    selector: Selector,
    key: &str,
) -> Result<(Schedule, chrono_tz::Tz), ApiError> {
    let mut tx = snapshot(pool).await?;
    let mut content = read_on(&mut tx, tenant_id, selector).await?;
    let settings = flows::tenant_settings(&mut tx, Some(tenant_id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    tx.commit().await?;
    let schedule = content
        .schedules
        .remove(key)
        .ok_or_else(|| ApiError::not_found("schedule"))?;
    Ok((schedule, settings.time_zone))
}

/// A flow to draw, with its issues (against the tenant's catalogue of
/// recordings as it is now).
pub async fn with_issues(
    pool: &PgPool,
    tenant_id: i64,
    selector: Selector,
) -> Result<(FlowContent, Vec<FlowIssue>), ApiError> {
    let mut tx = snapshot(pool).await?;
    let content = read_on(&mut tx, tenant_id, selector).await?;
    let settings = flows::tenant_settings(&mut tx, Some(tenant_id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let recordings = flows::recording_catalogue(&mut tx, tenant_id).await?;
    tx.commit().await?;
    let issues = issues_of(&settings, &content, &recordings);
    Ok((content, issues))
}

/// A flow ready to run scripted calls on (simulations, flow tests), as the
/// engine runs it. The draft is run as the version it would become if
/// published now (live + 1), so that its transcripts are, byte for byte,
/// what calls will hear once it is published.
pub struct Runnable {
    pub flow: Flow,
    /// A disabled tenant's calls all get the safe answer, whatever the flow.
    pub active: bool,
    tenant_id: i64,
    content: FlowContent,
    /// The tenant's numbers now (the directory).
    numbers: std::collections::BTreeSet<String>,
}

impl Runnable {
    fn new(
        settings: &TenantSettings,
        draft: &FlowContent,
        content: FlowContent,
        number: u32,
    ) -> Runnable {
        Runnable {
            flow: content.to_flow(Some(number), settings.time_zone, settings.language),
            active: settings.active,
            tenant_id: settings.tenant_id,
            numbers: draft.entries.keys().cloned().collect(),
            content,
        }
    }

    pub fn nodes(&self) -> &std::collections::BTreeMap<String, Node> {
        &self.content.nodes
    }

    /// The tenant's numbers.
    pub fn numbers(&self) -> &std::collections::BTreeSet<String> {
        &self.numbers
    }

    /// Where a call to `did` enters; a number the tenant does not own: 404.
    pub fn entry(&self, did: &str) -> Result<DidEntry, ApiError> {
        if !self.numbers.contains(did) {
            return Err(ApiError::not_found("DID"));
        }
        Ok(self.content.did_entry(self.tenant_id, did))
    }
}

/// The flow `selector` names, ready to run scripted calls on.
pub async fn runnable(
    pool: &PgPool,
    tenant_id: i64,
    selector: Selector,
) -> Result<Runnable, ApiError> {
    let mut tx = snapshot(pool).await?;
    let (settings, draft) = flows::load_draft(&mut tx, tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let live = versions::live(&mut *tx, tenant_id)
        .await?
        .map(|v| v.version);
    let (content, number) = match selector {
        Selector::Draft => (draft.clone(), live.unwrap_or(0) + 1),
        Selector::Live => {
            let number =
                live.ok_or_else(|| ApiError::not_found("live version (nothing is published yet)"))?;
            (read_on(&mut tx, tenant_id, selector).await?, number)
        }
        Selector::Version(n) => (
            read_on(&mut tx, tenant_id, selector).await?,
            i32::try_from(n).map_err(|_| ApiError::not_found("version"))?,
        ),
    };
    tx.commit().await?;
    let number = u32::try_from(number).map_err(|_| ApiError::not_found("version"))?;
    Ok(Runnable::new(&settings, &draft, content, number))
}

/// One change of the draft.
#[derive(Debug, Clone)]
pub enum Change {
    /// Create a node; 409 if the key is taken.
    CreateNode(Node),
    /// Create or replace a node.
    PutNode(Node),
    /// Delete a node; `at` says where it was named (`""`: in the URL → 404).
    DeleteNode {
        key: String,
        at: String,
    },
    CreateSchedule(Schedule),
    PutSchedule(Schedule),
    DeleteSchedule {
        key: String,
        at: String,
    },
    /// Where calls to one of the tenant's DIDs enter (`None`: unchanged;
    /// `Some(None)`: unset).
    SetEntry {
        did: String,
        entry_node: Option<Option<String>>,
        language: Option<Option<Language>>,
        /// Where the number was named (`""`: in the URL → 404).
        at: String,
    },
    /// Add a recording to the catalogue, or change its description and
    /// language (so that a whole flow goes in as one change set).
    PutRecording {
        name: String,
        description: String,
        language: Option<Language>,
    },
    /// The recording of the flow's own hang-ups (`None`: none).
    SetGoodbye(Option<Rec>),
    /// The whole content (discarding the draft): entry points only for the
    /// DIDs the tenant owns now.
    ReplaceAll(FlowContent),
}

/// The outcome of an edit.
#[derive(Debug)]
pub struct Edited {
    /// The draft's revision after the edit.
    pub revision: i64,
    /// The draft's issues: warnings, and errors it already had.
    pub issues: Vec<FlowIssue>,
    /// The draft before and after the edit.
    pub before: FlowContent,
    pub draft: FlowContent,
}

/// An edit of one tenant's draft, inside its transaction and under its lock.
pub struct Edit {
    tx: Transaction<'static, Postgres>,
    tenant_id: i64,
    settings: TenantSettings,
    recordings: Catalogue,
    /// The draft's revision when loaded.
    revision: i64,
    before: FlowContent,
    draft: FlowContent,
    /// The tenant's numbers changed (the directory): the draft did, even
    /// when `draft == before`.
    numbers_changed: bool,
    /// Recordings to add or change with the edit.
    recordings_put: Vec<(String, String, Option<Language>)>,
}

impl Edit {
    /// Locks the tenant's flow, loads its draft, and checks `expected`
    /// (the revision the editor read; `None`: not checked).
    pub async fn begin(
        pool: &PgPool,
        tenant_id: i64,
        expected: Option<i64>,
    ) -> Result<Edit, ApiError> {
        let mut tx = pool.begin().await?;
        flows::lock_tenant(&mut tx, tenant_id).await?;
        Edit::load(tx, tenant_id, expected).await
    }

    /// The draft in a read-only snapshot, without the lock: for trying
    /// changes that will not be written.
    async fn trial(pool: &PgPool, tenant_id: i64) -> Result<Edit, ApiError> {
        Edit::load(snapshot(pool).await?, tenant_id, None).await
    }

    async fn load(
        mut tx: Transaction<'static, Postgres>,
        tenant_id: i64,
        expected: Option<i64>,
    ) -> Result<Edit, ApiError> {
        let revision = versions::draft_revision(&mut *tx, tenant_id).await?;
        let (settings, before) = flows::load_draft(&mut tx, tenant_id)
            .await?
            .ok_or_else(|| ApiError::not_found("tenant"))?;
        if let Some(sent) = expected
            && sent != revision
        {
            return Err(ApiError::stale_revision(sent, revision));
        }
        let recordings = flows::recording_catalogue(&mut tx, tenant_id).await?;
        Ok(Edit {
            tx,
            tenant_id,
            settings,
            recordings,
            revision,
            draft: before.clone(),
            before,
            numbers_changed: false,
            recordings_put: Vec::new(),
        })
    }

    /// The transaction, for what an endpoint writes besides the flow (the
    /// DID directory).
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// A DID just given to the tenant (its directory row, with `entry`,
    /// written on [`Edit::conn`]): one more entry point of the draft. The
    /// entry node must exist in the draft.
    pub fn add_did(&mut self, entry: EntryPoint) -> Result<(), ApiError> {
        if let Some(key) = &entry.entry_node {
            self.entry_node_exists(key)?;
        }
        self.before.entries.insert(entry.did.clone(), entry.clone());
        self.draft.entries.insert(entry.did.clone(), entry);
        self.numbers_changed = true;
        Ok(())
    }

    /// A DID taken from the tenant (its directory row deleted on
    /// [`Edit::conn`]): no longer an entry point of the draft.
    pub fn forget_did(&mut self, did: &str) {
        self.before.entries.remove(did);
        self.draft.entries.remove(did);
        self.numbers_changed = true;
    }

    fn entry_node_exists(&self, key: &str) -> Result<(), ApiError> {
        if self.draft.nodes.contains_key(key) {
            return Ok(());
        }
        Err(ApiError::validation(
            "the entry node does not exist",
            vec![ErrorDetail {
                path: "entry_node".into(),
                message: format!("no node {key:?} in the tenant's flow"),
            }],
        ))
    }

    /// Applies changes in memory, in order.
    pub fn apply(&mut self, changes: Vec<Change>) -> Result<(), ApiError> {
        let mut problems = crate::admin::checks::Problems::default();
        for change in changes {
            match change {
                Change::CreateNode(node) => {
                    create(&mut self.draft.nodes, node.key.clone(), node, "node")?
                }
                Change::PutNode(node) => {
                    self.draft.nodes.insert(node.key.clone(), node);
                }
                Change::DeleteNode { key, at } => {
                    if self.draft.nodes.remove(&key).is_none() {
                        missing(&mut problems, &at, "node", &key)?;
                    }
                }
                Change::CreateSchedule(schedule) => create(
                    &mut self.draft.schedules,
                    schedule.key.clone(),
                    schedule,
                    "schedule",
                )?,
                Change::PutSchedule(schedule) => {
                    self.draft.schedules.insert(schedule.key.clone(), schedule);
                }
                Change::DeleteSchedule { key, at } => {
                    if self.draft.schedules.remove(&key).is_none() {
                        missing(&mut problems, &at, "schedule", &key)?;
                    }
                }
                Change::SetEntry {
                    did,
                    entry_node,
                    language,
                    at,
                } => {
                    if !self.draft.entries.contains_key(&did) {
                        missing(&mut problems, &at, "DID of the tenant", &did)?;
                        continue;
                    }
                    if let Some(Some(key)) = &entry_node {
                        self.entry_node_exists(key)?;
                    }
                    let Some(entry) = self.draft.entries.get_mut(&did) else {
                        continue;
                    };
                    if let Some(entry_node) = entry_node {
                        entry.entry_node = entry_node;
                    }
                    if let Some(language) = language {
                        entry.language = language;
                    }
                }
                Change::PutRecording {
                    name,
                    description,
                    language,
                } => {
                    self.recordings.insert(name.clone(), language);
                    self.recordings_put.push((name, description, language));
                }
                Change::SetGoodbye(goodbye) => self.draft.goodbye = goodbye,
                Change::ReplaceAll(content) => {
                    let owned: Vec<String> = self.draft.entries.keys().cloned().collect();
                    self.draft.nodes = content.nodes;
                    self.draft.schedules = content.schedules;
                    self.draft.goodbye = content.goodbye;
                    for did in owned {
                        let entry = content.entries.get(&did).cloned().unwrap_or(EntryPoint {
                            did: did.clone(),
                            entry_node: None,
                            language: None,
                        });
                        self.draft.entries.insert(did, entry);
                    }
                }
            }
        }
        problems.finish("the changes")
    }

    /// Does the edit change the draft?
    pub fn changes_anything(&self) -> bool {
        self.numbers_changed || !self.recordings_put.is_empty() || self.draft != self.before
    }

    /// Checks the result, saves it, audits it, bumps the revision, commits.
    /// An edit that changes nothing (the object sent is the one stored)
    /// writes nothing and keeps the revision: other editors' `If-Match`
    /// stays good.
    pub async fn commit(mut self, actor: &Actor) -> Result<Edited, ApiError> {
        self.refuse_deleting_what_is_used()?;
        let issues = self.check()?;
        for (name, description, language) in &self.recordings_put {
            let before = flows::recording(&mut *self.tx, self.tenant_id, name).await?;
            let after =
                flows::put_recording(&mut self.tx, self.tenant_id, name, description, *language)
                    .await?;
            if before.as_ref() != Some(&after) {
                record(
                    &mut self.tx,
                    self.tenant_id,
                    actor,
                    "recording",
                    name,
                    before.as_ref(),
                    Some(&after),
                )
                .await?;
            }
        }
        let revision = if self.changes_anything() {
            save(
                &mut self.tx,
                self.tenant_id,
                &self.before,
                &self.draft,
                actor,
            )
            .await?;
            versions::bump_revision(&mut self.tx, self.tenant_id).await?
        } else {
            self.revision
        };
        self.tx.commit().await?;
        Ok(Edited {
            revision,
            issues,
            before: self.before,
            draft: self.draft,
        })
    }

    /// The issues of `content` as this tenant's flow.
    fn issues(&self, content: &FlowContent) -> Vec<FlowIssue> {
        issues_of(&self.settings, content, &self.recordings)
    }

    /// Refused when the draft has an error it did not have when loaded;
    /// else every issue it has.
    fn check(&self) -> Result<Vec<FlowIssue>, ApiError> {
        let before = self.issues(&self.before);
        let after = self.issues(&self.draft);
        let mut old: Vec<(&str, &str)> = before
            .iter()
            .filter(|issue| issue.is_error())
            .map(|issue| (issue.path.as_str(), issue.message.as_str()))
            .collect();
        let mut new = Vec::new();
        for issue in after.iter().filter(|issue| issue.is_error()) {
            match old
                .iter()
                .position(|known| *known == (issue.path.as_str(), issue.message.as_str()))
            {
                Some(index) => {
                    old.swap_remove(index);
                }
                None => new.push(ErrorDetail {
                    path: issue.path.clone(),
                    message: issue.message.clone(),
                }),
            }
        }
        if !new.is_empty() {
            let count = new.len();
            let plural = if count == 1 { "problem" } else { "problems" };
            return Err(ApiError::validation(
                format!("the change would break the flow: {count} {plural}; nothing was written"),
                new,
            ));
        }
        Ok(after)
    }

    /// A node or schedule deleted while the result still uses it: 409,
    /// naming every user.
    fn refuse_deleting_what_is_used(&self) -> Result<(), ApiError> {
        for key in self.before.nodes.keys() {
            if self.draft.nodes.contains_key(key) {
                continue;
            }
            let users = node_users(&self.draft, key);
            if !users.is_empty() {
                return Err(ApiError::conflict_with(
                    format!("node {key:?} is still in use"),
                    users,
                ));
            }
        }
        for key in self.before.schedules.keys() {
            if self.draft.schedules.contains_key(key) {
                continue;
            }
            let users = schedule_users(&self.draft, key);
            if !users.is_empty() {
                return Err(ApiError::conflict_with(
                    format!("schedule {key:?} is still in use"),
                    users,
                ));
            }
        }
        Ok(())
    }
}

/// Adds a new object; 409 when its key is taken.
fn create<T>(
    objects: &mut std::collections::BTreeMap<String, T>,
    key: String,
    object: T,
    what: &str,
) -> Result<(), ApiError> {
    if objects.contains_key(&key) {
        return Err(ApiError::conflict(format!(
            "a {what} {key:?} exists: change it with PUT /{what}s/{key}"
        )));
    }
    objects.insert(key, object);
    Ok(())
}

fn missing(
    problems: &mut crate::admin::checks::Problems,
    at: &str,
    what: &str,
    key: &str,
) -> Result<(), ApiError> {
    if at.is_empty() {
        return Err(ApiError::not_found(what));
    }
    problems.add(at, format!("no {what} {key:?}"));
    Ok(())
}

/// The one validation of a tenant's flow content.
pub fn issues_of(
    settings: &TenantSettings,
    content: &FlowContent,
    recordings: &Catalogue,
) -> Vec<FlowIssue> {
    let flow = content.to_flow(None, settings.time_zone, settings.language);
    let entries = content.entry_list();
    // The Israeli calendar's warning is for Israeli tenants.
    let today = (settings.time_zone == chrono_tz::Asia::Jerusalem).then(|| {
        chrono::Utc::now()
            .with_timezone(&settings.time_zone)
            .date_naive()
    });
    validate(
        &flow,
        &Context {
            entries: &entries,
            recordings: Some(recordings),
            today,
        },
    )
}

/// The nodes that lead to `key` and the DIDs that enter the flow there.
fn node_users(content: &FlowContent, key: &str) -> Vec<ErrorDetail> {
    let mut users: Vec<ErrorDetail> = content
        .nodes
        .values()
        .filter(|node| node.key != key && referenced_nodes(node).contains(&key))
        .map(|node| ErrorDetail {
            path: format!("nodes.{}", node.key),
            message: format!("node {:?} leads to {key:?}", node.key),
        })
        .collect();
    users.extend(
        content
            .entries
            .values()
            .filter(|entry| entry.entry_node.as_deref() == Some(key))
            .map(|entry| ErrorDetail {
                path: format!("dids.{}.entry_node", entry.did),
                message: format!("DID {} enters the flow at {key:?}", entry.did),
            }),
    );
    users
}

/// The nodes whose rules use schedule `key`.
fn schedule_users(content: &FlowContent, key: &str) -> Vec<ErrorDetail> {
    content
        .nodes
        .values()
        .filter(|node| referenced_schedules(node).contains(&key))
        .map(|node| ErrorDetail {
            path: format!("nodes.{}", node.key),
            message: format!("node {:?} uses schedule {key:?}", node.key),
        })
        .collect()
}

/// The node fields of `content` that play recording `name`, under `prefix`.
fn recording_users(content: &FlowContent, name: &str, prefix: &str) -> Vec<ErrorDetail> {
    content
        .nodes
        .values()
        .flat_map(|node| {
            recording_refs(node)
                .into_iter()
                .filter(|(_, rec)| *rec == name)
                .map(|(field, _)| ErrorDetail {
                    path: format!("{prefix}nodes.{}.{field}", node.key),
                    message: format!("node {:?} plays {name:?}", node.key),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Writes what differs between `before` and `after` to the draft tables,
/// auditing each object. Order matters for the foreign keys: schedules and
/// nodes are written before the entries that name them, entries before the
/// nodes they stopped naming are deleted.
async fn save(
    conn: &mut PgConnection,
    tenant_id: i64,
    before: &FlowContent,
    after: &FlowContent,
    actor: &Actor,
) -> Result<(), ApiError> {
    for (key, schedule) in &after.schedules {
        let old = before.schedules.get(key);
        if old != Some(schedule) {
            flows::save_schedule(conn, tenant_id, schedule).await?;
            record(conn, tenant_id, actor, "schedule", key, old, Some(schedule)).await?;
        }
    }
    for (key, node) in &after.nodes {
        let old = before.nodes.get(key);
        if old != Some(node) {
            flows::save_node(conn, tenant_id, node).await?;
            record(conn, tenant_id, actor, "node", key, old, Some(node)).await?;
        }
    }
    for (did, entry) in &after.entries {
        let old = before.entries.get(did);
        if old != Some(entry) {
            flows::save_entry(conn, tenant_id, entry).await?;
            record(conn, tenant_id, actor, "did", did, old, Some(entry)).await?;
        }
    }
    for (key, node) in &before.nodes {
        if !after.nodes.contains_key(key) {
            flows::delete_node(&mut *conn, tenant_id, key).await?;
            record::<Node>(conn, tenant_id, actor, "node", key, Some(node), None).await?;
        }
    }
    if before.goodbye != after.goodbye {
        flows::save_goodbye(conn, tenant_id, after.goodbye.as_ref()).await?;
        record(
            conn,
            tenant_id,
            actor,
            "flow",
            "goodbye",
            before.goodbye.as_ref(),
            after.goodbye.as_ref(),
        )
        .await?;
    }
    for (key, schedule) in &before.schedules {
        if !after.schedules.contains_key(key) {
            flows::delete_schedule(conn, tenant_id, key).await?;
            record(
                conn,
                tenant_id,
                actor,
                "schedule",
                key,
                Some(schedule),
                None,
            )
            .await?;
        }
    }
    Ok(())
}

/// Records the change of one object: `after` `None` for a deletion,
/// `before` `None` for a creation.
#[allow(clippy::too_many_arguments)]
async fn record<T: Serialize>(
    conn: &mut PgConnection,
    tenant_id: i64,
    actor: &Actor,
    object_type: &'static str,
    object_id: &str,
    before: Option<&T>,
    after: Option<&T>,
) -> Result<(), ApiError> {
    let action = audit::Change::action_of(before, after);
    event(
        conn,
        tenant_id,
        actor,
        action,
        object_type,
        object_id,
        before,
        after,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn event<T: Serialize>(
    conn: &mut PgConnection,
    tenant_id: i64,
    actor: &Actor,
    action: audit::AuditAction,
    object_type: &'static str,
    object_id: &str,
    before: Option<&T>,
    after: Option<&T>,
) -> Result<(), ApiError> {
    let json = |value: &T| serde_json::to_value(value).map_err(ApiError::internal);
    let change = audit::Change {
        tenant_id: Some(tenant_id),
        action,
        object_type,
        object_id,
        before: before.map(json).transpose()?,
        after: after.map(json).transpose()?,
    };
    audit::record(conn, actor, change).await?;
    Ok(())
}

/// Applies one change set as `actor`: the whole edit in one call.
pub async fn edit(
    pool: &PgPool,
    tenant_id: i64,
    expected: Option<i64>,
    actor: &Actor,
    changes: Vec<Change>,
) -> Result<Edited, ApiError> {
    let mut edit = Edit::begin(pool, tenant_id, expected).await?;
    edit.apply(changes)?;
    edit.commit(actor).await
}

/// The issues the draft would have after `changes` (nothing is written).
pub async fn try_changes(
    pool: &PgPool,
    tenant_id: i64,
    changes: Vec<Change>,
) -> Result<Vec<FlowIssue>, ApiError> {
    let mut edit = Edit::trial(pool, tenant_id).await?;
    edit.apply(changes)?;
    Ok(edit.issues(&edit.draft))
}

/// The flow's state, as `GET /flow` shows it.
#[derive(Debug)]
pub struct FlowState {
    pub draft_revision: i64,
    pub live: Option<VersionRow>,
    pub draft_differs: bool,
    pub issues: Vec<FlowIssue>,
    /// The draft's goodbye.
    pub goodbye: Option<Rec>,
}

pub async fn state(pool: &PgPool, tenant_id: i64) -> Result<FlowState, ApiError> {
    let mut tx = snapshot(pool).await?;
    let (settings, draft) = flows::load_draft(&mut tx, tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let recordings = flows::recording_catalogue(&mut tx, tenant_id).await?;
    let draft_revision = versions::draft_revision(&mut *tx, tenant_id).await?;
    let live = versions::live(&mut *tx, tenant_id).await?;
    tx.commit().await?;
    Ok(FlowState {
        draft_revision,
        draft_differs: live
            .as_ref()
            .is_none_or(|live| live.sha256 != draft.sha256()),
        live,
        issues: issues_of(&settings, &draft, &recordings),
        goodbye: draft.goodbye,
    })
}

/// Publishes the draft at `draft_revision` as the next version.
pub async fn publish(
    pool: &PgPool,
    tenant_id: i64,
    actor: &Actor,
    request: Publish<'_>,
    safe: &SafeAnswer,
) -> Result<VersionRow, ApiError> {
    let Publish {
        draft_revision,
        message,
        force,
    } = request;
    let mut tx = pool.begin().await?;
    flows::lock_tenant(&mut tx, tenant_id).await?;
    let revision = versions::draft_revision(&mut *tx, tenant_id).await?;
    if revision != draft_revision {
        return Err(ApiError::stale_revision(draft_revision, revision));
    }
    let (settings, draft) = flows::load_draft(&mut tx, tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let recordings = flows::recording_catalogue(&mut tx, tenant_id).await?;
    refuse_errors(&settings, &draft, &recordings, "the draft")?;
    let live = versions::live(&mut *tx, tenant_id).await?;
    if let Some(live) = &live
        && live.sha256 == draft.sha256()
    {
        return Err(ApiError::nothing_to_publish(format!(
            "the draft is exactly version {}, which is live: edit it first",
            live.version
        )));
    }
    // The tenant's flow tests, on the draft as it would be published.
    let tests = stored_tests(&mut tx, tenant_id).await?;
    let number = live.as_ref().map_or(1, |live| live.version + 1);
    let runnable = Runnable::new(
        &settings,
        &draft,
        draft.clone(),
        u32::try_from(number).unwrap_or(u32::MAX),
    );
    let results: Vec<TestResult> = tests
        .iter()
        .map(|test| crate::flow_tests::run(test, &runnable, safe))
        .collect();
    let failing: Vec<String> = results
        .iter()
        .filter(|result| !result.passed)
        .map(|result| result.name.clone())
        .collect();
    if !failing.is_empty() && !force {
        return Err(ApiError::tests_failed(&results));
    }
    let made = Made {
        restores: None,
        message,
        forced_past: failing,
    };
    let version = make_live(&mut tx, tenant_id, actor, &draft, live, made).await?;
    tx.commit().await?;
    Ok(version)
}

/// A publish as asked.
pub struct Publish<'a> {
    /// The draft revision the editor reviewed.
    pub draft_revision: i64,
    pub message: &'a str,
    /// Publish even if flow tests fail (audited with their names).
    pub force: bool,
}

/// The most flow tests a tenant keeps (each publish runs them all).
pub const MAX_TESTS: usize = 100;

/// The tenant's flow tests as stored (one that no longer parses is skipped
/// and logged).
async fn stored_tests(conn: &mut PgConnection, tenant_id: i64) -> Result<Vec<FlowTest>, ApiError> {
    Ok(crate::storage::flow_tests::list(conn, tenant_id)
        .await?
        .into_iter()
        .filter_map(|json| {
            serde_json::from_value(json)
                .inspect_err(|error| tracing::error!(tenant_id, %error, "stored flow test does not parse; skipped"))
                .ok()
        })
        .collect())
}

/// Runs every flow test of the tenant on the flow `selector` names.
pub async fn run_tests(
    pool: &PgPool,
    tenant_id: i64,
    selector: Selector,
    safe: &SafeAnswer,
) -> Result<Vec<TestResult>, ApiError> {
    let runnable = runnable(pool, tenant_id, selector).await?;
    let mut conn = pool.acquire().await?;
    let tests = stored_tests(&mut conn, tenant_id).await?;
    Ok(tests
        .iter()
        .map(|test| crate::flow_tests::run(test, &runnable, safe))
        .collect())
}

/// The tenant's flow tests, in name order.
pub async fn list_tests(pool: &PgPool, tenant_id: i64) -> Result<Vec<FlowTest>, ApiError> {
    let mut conn = pool.acquire().await?;
    stored_tests(&mut conn, tenant_id).await
}

/// One flow test of the tenant, by name (one that no longer parses: an error).
pub async fn test(pool: &PgPool, tenant_id: i64, name: &str) -> Result<Option<FlowTest>, ApiError> {
    crate::storage::flow_tests::get(pool, tenant_id, name)
        .await?
        .map(|json| serde_json::from_value(json).map_err(ApiError::internal))
        .transpose()
}

/// Creates (`create_only`: 409 if the name is taken) or replaces a flow
/// test, checked against the draft; returns the test it replaced.
pub async fn save_test(
    pool: &PgPool,
    tenant_id: i64,
    actor: &Actor,
    test: &FlowTest,
    create_only: bool,
) -> Result<Option<FlowTest>, ApiError> {
    let mut tx = pool.begin().await?;
    flows::lock_tenant(&mut tx, tenant_id).await?;
    let (_, draft) = flows::load_draft(&mut tx, tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let numbers = draft.entries.keys().cloned().collect();
    test.check(&draft.nodes, &numbers)?;
    let existing = stored_tests(&mut tx, tenant_id).await?;
    if existing.len() >= MAX_TESTS && !existing.iter().any(|t| t.name == test.name) {
        return Err(ApiError::validation(
            "too many flow tests",
            vec![ErrorDetail {
                path: "name".into(),
                message: format!("a tenant has at most {MAX_TESTS} flow tests"),
            }],
        ));
    }
    let json = serde_json::to_value(test).map_err(ApiError::internal)?;
    let before = crate::storage::flow_tests::put(&mut tx, tenant_id, &test.name, &json).await?;
    if create_only && before.is_some() {
        return Err(ApiError::conflict(format!(
            "a flow test {:?} exists: change it with PUT /flow/tests/{}",
            test.name, test.name
        )));
    }
    let before: Option<FlowTest> = before.and_then(|json| serde_json::from_value(json).ok());
    record(
        &mut tx,
        tenant_id,
        actor,
        "flow_test",
        &test.name,
        before.as_ref(),
        Some(test),
    )
    .await?;
    tx.commit().await?;
    Ok(before)
}

/// Deletes a flow test (404 if there is none).
pub async fn delete_test(
    pool: &PgPool,
    tenant_id: i64,
    actor: &Actor,
    name: &str,
) -> Result<(), ApiError> {
    let mut tx = pool.begin().await?;
    let before = crate::storage::flow_tests::delete(&mut tx, tenant_id, name)
        .await?
        .ok_or_else(|| ApiError::not_found("flow test"))?;
    record(
        &mut tx,
        tenant_id,
        actor,
        "flow_test",
        name,
        Some(&before),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Makes version `number`'s content live again, as a new version.
pub async fn rollback(
    pool: &PgPool,
    tenant_id: i64,
    actor: &Actor,
    number: u32,
    message: &str,
) -> Result<VersionRow, ApiError> {
    let number = i32::try_from(number).map_err(|_| ApiError::not_found("version"))?;
    let mut tx = pool.begin().await?;
    flows::lock_tenant(&mut tx, tenant_id).await?;
    let mut content = versions::content(&mut *tx, tenant_id, number)
        .await?
        .ok_or_else(|| ApiError::not_found("version"))?;
    let (settings, draft) = flows::load_draft(&mut tx, tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let live = versions::live(&mut *tx, tenant_id).await?;
    // A number given to the tenant since that version keeps its live entry
    // (rolling back must not silence a number that works).
    if let Some(live) = &live {
        let live_content = versions::content(&mut *tx, tenant_id, live.version)
            .await?
            .unwrap_or_default();
        for did in draft.entries.keys() {
            if !content.entries.contains_key(did)
                && let Some(entry) = live_content.entries.get(did)
            {
                content.entries.insert(did.clone(), entry.clone());
            }
        }
    }
    let recordings = flows::recording_catalogue(&mut tx, tenant_id).await?;
    refuse_errors(&settings, &content, &recordings, "that version")?;
    if let Some(live) = &live
        && live.sha256 == content.sha256()
    {
        return Err(ApiError::nothing_to_publish(format!(
            "version {number}'s content is what is live (version {})",
            live.version
        )));
    }
    let made = Made {
        restores: Some(number),
        message,
        forced_past: Vec::new(),
    };
    let version = make_live(&mut tx, tenant_id, actor, &content, live, made).await?;
    tx.commit().await?;
    Ok(version)
}

fn refuse_errors(
    settings: &TenantSettings,
    content: &FlowContent,
    recordings: &Catalogue,
    what: &str,
) -> Result<(), ApiError> {
    let errors: Vec<ErrorDetail> = issues_of(settings, content, recordings)
        .into_iter()
        .filter(FlowIssue::is_error)
        .map(|issue| ErrorDetail {
            path: issue.path,
            message: issue.message,
        })
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    let count = errors.len();
    let plural = if count == 1 { "error" } else { "errors" };
    Err(ApiError::validation(
        format!("{what} has {count} {plural}; nothing was published"),
        errors,
    ))
}

/// What the audit log keeps of a version.
#[derive(Serialize)]
struct VersionEvent<'a> {
    version: i32,
    sha256: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    restores: Option<i32>,
    /// Flow tests that failed and were published past (`force`).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    forced_past: &'a [String],
}

/// How a version is made: by a rollback (`restores`), with a message, past
/// failing tests.
struct Made<'a> {
    restores: Option<i32>,
    message: &'a str,
    forced_past: Vec<String>,
}

async fn make_live(
    conn: &mut PgConnection,
    tenant_id: i64,
    actor: &Actor,
    content: &FlowContent,
    live: Option<VersionRow>,
    made: Made<'_>,
) -> Result<VersionRow, ApiError> {
    let Made {
        restores,
        message,
        forced_past,
    } = made;
    let version = versions::insert_version(
        conn,
        tenant_id,
        NewVersion {
            content,
            parent: live.as_ref().map(|live| live.version),
            restores,
            message,
            author_id: Some(actor.user_id),
            author_email: &actor.email,
        },
    )
    .await?;
    let before = live.as_ref().map(|live| VersionEvent {
        version: live.version,
        sha256: &live.sha256,
        message: &live.message,
        restores: live.restores,
        forced_past: &[],
    });
    let after = VersionEvent {
        version: version.version,
        sha256: &version.sha256,
        message: &version.message,
        restores,
        forced_past: &forced_past,
    };
    let action = if restores.is_some() {
        audit::AuditAction::Rollback
    } else {
        audit::AuditAction::Publish
    };
    let id = format!("v{}", version.version);
    event(
        conn,
        tenant_id,
        actor,
        action,
        "flow",
        &id,
        before.as_ref(),
        Some(&after),
    )
    .await?;
    Ok(version)
}

/// Makes the draft the live content again (a write of the draft).
pub async fn discard(
    pool: &PgPool,
    tenant_id: i64,
    expected: Option<i64>,
    actor: &Actor,
) -> Result<Edited, ApiError> {
    let mut edit = Edit::begin(pool, tenant_id, expected).await?;
    let live = versions::live(edit.conn(), tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("live version (nothing is published yet)"))?;
    let content = read_on(
        edit.conn(),
        tenant_id,
        Selector::Version(live.version as u32),
    )
    .await?;
    #[derive(Serialize)]
    struct Discarded {
        /// The version whose content the draft is again.
        version: i32,
    }
    let after = Discarded {
        version: live.version,
    };
    edit.apply(vec![Change::ReplaceAll(content)])?;
    if edit.changes_anything() {
        event(
            edit.conn(),
            tenant_id,
            actor,
            audit::AuditAction::Discard,
            "flow",
            "draft",
            None,
            Some(&after),
        )
        .await?;
    }
    edit.commit(actor).await
}

/// Locks the tenant's flow and refuses deleting recording `name` while the
/// draft, or a version a call may still be on, plays it: the 409 names
/// every user. Called in the deleting transaction.
pub async fn refuse_deleting_used_recording(
    conn: &mut PgConnection,
    tenant_id: i64,
    name: &str,
) -> Result<(), ApiError> {
    flows::lock_tenant(conn, tenant_id).await?;
    let (_, draft) = flows::load_draft(conn, tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let mut users = recording_users(&draft, name, "");
    let since = chrono::Utc::now() - CALLS_LAST_AT_MOST;
    for (version, content) in versions::in_use_since(conn, tenant_id, since).await? {
        users.extend(recording_users(
            &content,
            name,
            &format!("versions.{version}."),
        ));
    }
    if users.is_empty() {
        return Ok(());
    }
    Err(ApiError::conflict_with(
        format!("recording {name:?} is still in use"),
        users,
    ))
}

/// Who the versions made by ivrhub itself (upgrade, seeding) are by.
pub const SYSTEM_AUTHOR: &str = "ivrhub";

/// Freezes the flow of every tenant that has no draft row (from before
/// versions, or created by a node of the version before) into version 1,
/// live, with the draft equal to it; each tenant once, whichever node gets
/// there first. Runs at start, before the flow cache is loaded.
pub async fn version_flows_from_before_versions(pool: &PgPool) -> Result<(), ApiError> {
    for tenant_id in versions::tenants_without_draft(pool).await? {
        let mut tx = pool.begin().await?;
        flows::lock_tenant(&mut tx, tenant_id).await?;
        if !versions::create_draft(&mut tx, tenant_id).await? {
            continue;
        }
        if versions::live(&mut *tx, tenant_id).await?.is_none()
            && let Some((_, draft)) = flows::load_draft(&mut tx, tenant_id).await?
        {
            versions::insert_version(
                &mut tx,
                tenant_id,
                NewVersion {
                    content: &draft,
                    parent: None,
                    restores: None,
                    message: "the flow as it was when versions came",
                    author_id: None,
                    author_email: SYSTEM_AUTHOR,
                },
            )
            .await?;
            tracing::info!(tenant_id, "flow from before versions is now version 1");
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Writes nodes, schedules, DIDs (given to the tenant, with their entry
/// points) and the goodbye (when given) into the tenant's draft unvalidated (the demo, tests) and
/// publishes the draft if it differs from live. `None`: nothing new to
/// publish. A DID of another tenant: 409, nothing written.
pub async fn seed(
    pool: &PgPool,
    tenant_id: i64,
    nodes: &[Node],
    schedules: &[Schedule],
    dids: &[EntryPoint],
    goodbye: Option<&Rec>,
    message: &str,
) -> Result<Option<VersionRow>, ApiError> {
    let mut tx = pool.begin().await?;
    flows::lock_tenant(&mut tx, tenant_id).await?;
    if let Some(goodbye) = goodbye {
        flows::save_goodbye(&mut tx, tenant_id, Some(goodbye)).await?;
    }
    for schedule in schedules {
        flows::save_schedule(&mut tx, tenant_id, schedule).await?;
    }
    for node in nodes {
        flows::save_node(&mut tx, tenant_id, node).await?;
    }
    for entry in dids {
        if !crate::storage::tenants::assign_did(&mut *tx, tenant_id, entry).await? {
            return Err(ApiError::conflict(format!(
                "DID {} belongs to another tenant",
                entry.did
            )));
        }
    }
    versions::bump_revision(&mut tx, tenant_id).await?;
    let (_, draft) = flows::load_draft(&mut tx, tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let live = versions::live(&mut *tx, tenant_id).await?;
    if live
        .as_ref()
        .is_some_and(|live| live.sha256 == draft.sha256())
    {
        tx.commit().await?;
        return Ok(None);
    }
    let version = versions::insert_version(
        &mut tx,
        tenant_id,
        NewVersion {
            content: &draft,
            parent: live.map(|live| live.version),
            restores: None,
            message,
            author_id: None,
            author_email: SYSTEM_AUTHOR,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Some(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        assert_eq!(Selector::parse("flow", "draft").unwrap(), Selector::Draft);
        assert_eq!(Selector::parse("flow", "live").unwrap(), Selector::Live);
        assert_eq!(
            Selector::parse("flow", "12").unwrap(),
            Selector::Version(12)
        );
        assert_eq!(
            Selector::parse("flow", "99999999999").unwrap(),
            Selector::Version(u32::MAX),
            "a positive number, of no version"
        );
        for bad in ["", "0", "00", "-1", "+1", "1.0", "Live", "v1", " 1"] {
            let error = Selector::parse("from", bad).unwrap_err();
            assert_eq!(error.code(), "bad_request", "{bad:?}");
            assert_eq!(error.details()[0].path, "from", "{bad:?}");
        }
    }
}
