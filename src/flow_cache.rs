//! The in-memory copy of every tenant's flow and of the DID directory, so a
//! call step is answered without touching the database.
//!
//! What a call hears is a tenant's published versions, never its draft.
//! The cache holds every tenant's live version and, on demand, the older
//! versions that calls in progress are still on (at most
//! [`MAX_OLDER_VERSIONS`], least recently used first out): a call stays on
//! the version its MENU identifier names (see `flow::state`).
//!
//! A new version, a change of a tenant or of the DID directory fires
//! `NOTIFY ivrhub_flow_changed, '<tenant id>'` (triggers of migrations 1
//! and 7); every node listens and reloads that tenant. Notifications sent while the listener was disconnected are lost,
//! so after a reconnect the whole cache is reloaded. A reload that fails is
//! handled the same way: the listener starts over (listen, full reload,
//! retried every 500 ms), while calls keep being answered from the flows in
//! memory, which are never thrown away.
//!
//! Reloads run one at a time, so a snapshot read earlier is never installed
//! over one read later.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Mutex;

use crate::flow::FlowContent;
use crate::flow::model::Rec;
use crate::flow::model::{DidEntry, Flow};
use crate::storage::flows::{LiveFlows, Scope, TenantSettings, load_live};

pub const CHANNEL: &str = "ivrhub_flow_changed";

/// How many versions other than the live ones are kept in memory, all
/// tenants together; past that the least recently used goes.
pub const MAX_OLDER_VERSIONS: usize = 256;

/// One published version, ready to answer.
#[derive(Debug)]
pub struct Version {
    /// `flow.version` is `Some(number)`: every identifier answered names it.
    pub flow: Flow,
    /// Where each DID of the version enters.
    entries: HashMap<String, DidEntry>,
}

impl Version {
    fn new(
        tenant_id: i64,
        number: u32,
        content: FlowContent,
        settings: &TenantSettings,
    ) -> Version {
        let entries = content
            .entries
            .keys()
            .map(|did| (did.clone(), content.did_entry(tenant_id, did)))
            .collect();
        Version {
            flow: content.to_flow(Some(number), settings.time_zone, settings.language),
            entries,
        }
    }

    /// Where a call to `did` enters (`""`: the version has no entry for it).
    fn entry(&self, tenant_id: i64, did: &str) -> DidEntry {
        self.entries.get(did).cloned().unwrap_or(DidEntry {
            tenant_id,
            entry_node: String::new(),
            language: None,
        })
    }

    fn number(&self) -> u32 {
        self.flow.version.unwrap_or_default()
    }
}

struct Tenant {
    settings: TenantSettings,
    /// `None`: nothing published yet.
    live: Option<Arc<Version>>,
}

#[derive(Default)]
struct Contents {
    /// The DID directory: number → tenant.
    dids: HashMap<String, i64>,
    tenants: HashMap<i64, Tenant>,
}

/// Versions other than the live ones, loaded on demand, least recently used
/// first out.
#[derive(Default)]
struct Older {
    versions: HashMap<(i64, u32), (Arc<Version>, u64)>,
    clock: u64,
}

impl Older {
    fn get(&mut self, key: (i64, u32)) -> Option<Arc<Version>> {
        self.clock += 1;
        let clock = self.clock;
        self.versions.get_mut(&key).map(|(version, used)| {
            *used = clock;
            Arc::clone(version)
        })
    }

    fn insert(&mut self, key: (i64, u32), version: Arc<Version>) {
        if !self.versions.contains_key(&key) && self.versions.len() >= MAX_OLDER_VERSIONS {
            let oldest = self
                .versions
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(key, _)| *key);
            if let Some(oldest) = oldest {
                self.versions.remove(&oldest);
            }
        }
        self.clock += 1;
        self.versions.insert(key, (version, self.clock));
    }

    fn forget_tenant(&mut self, tenant_id: i64) {
        self.versions.retain(|(tenant, _), _| *tenant != tenant_id);
    }
}

pub struct FlowCache {
    pool: PgPool,
    contents: RwLock<Contents>,
    older: std::sync::Mutex<Older>,
    /// False until a full load succeeded: until then a miss is not an answer.
    /// Never goes back to false: stale flows answer better than none.
    loaded: AtomicBool,
    /// Held while a reload reads and installs; holds when the last full
    /// load failed.
    reloading: Mutex<Option<Instant>>,
}

/// What the webhook gets for a step: the flow to run, or why there is none.
/// Every case but `Found` is answered with the safe answer.
pub enum Lookup {
    Found(DidEntry, Arc<Version>),
    /// The tenant is disabled.
    Disabled(TenantSettings),
    /// The tenant has published nothing yet.
    NotPublished(TenantSettings),
    /// The MENU named a version the tenant does not have (0, or above the
    /// live one). With the live version's goodbye, for the safe hang-up.
    UnknownVersion(TenantSettings, Option<Rec>),
    /// That version exists but could not be read in time (with the live
    /// version's goodbye).
    VersionUnavailable(TenantSettings, Option<Rec>),
    /// No tenant owns this number.
    UnknownDid,
    /// The cache could not be loaded (database unreachable since start).
    Unavailable,
}

impl FlowCache {
    pub fn new(pool: PgPool) -> FlowCache {
        FlowCache {
            pool,
            contents: RwLock::new(Contents::default()),
            older: std::sync::Mutex::new(Older::default()),
            loaded: AtomicBool::new(false),
            reloading: Mutex::new(None),
        }
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// The flow a step to `did` runs on: the version the call is on
    /// (`version`, from its MENU identifier), else the live one. The live
    /// versions are in memory; any other is read (once, then kept) before
    /// `deadline`: an older one, or one published through another node
    /// whose notification has not arrived here yet.
    pub async fn lookup(
        &self,
        did: &str,
        version: Option<u32>,
        deadline: tokio::time::Instant,
    ) -> Lookup {
        if !self.is_loaded() && !self.load_first().await {
            return Lookup::Unavailable;
        }
        let (settings, live) = {
            let contents = self
                .contents
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let Some(tenant) = contents
                .dids
                .get(did)
                .and_then(|tenant_id| contents.tenants.get(tenant_id))
            else {
                return Lookup::UnknownDid;
            };
            (tenant.settings.clone(), tenant.live.clone())
        };
        if !settings.active {
            return Lookup::Disabled(settings);
        }
        let tenant_id = settings.tenant_id;
        // Only on the rare paths that refuse the step: no clone otherwise.
        let goodbye = |live: &Option<Arc<Version>>| live.as_ref()?.flow.goodbye.clone();
        let version = match (version, &live) {
            (None, Some(live)) => live.clone(),
            (None, None) => return Lookup::NotPublished(settings),
            (Some(number), Some(live)) if number == live.number() => live.clone(),
            (Some(0), _) => return Lookup::UnknownVersion(settings, goodbye(&live)),
            // An older version (a call that started before a publish), or a
            // newer one this node has not heard of yet (published through
            // another node a few milliseconds ago: the call's previous step
            // was answered there).
            (Some(number), _) => {
                match tokio::time::timeout_at(deadline, self.other_version(&settings, number)).await
                {
                    Ok(Ok(Some(version))) => version,
                    Ok(Ok(None)) => return Lookup::UnknownVersion(settings, goodbye(&live)),
                    Ok(Err(error)) => {
                        tracing::error!(tenant_id, number, %error, "reading a flow version failed");
                        return Lookup::VersionUnavailable(settings, goodbye(&live));
                    }
                    Err(_) => {
                        tracing::error!(tenant_id, number, "a flow version was not read in time");
                        return Lookup::VersionUnavailable(settings, goodbye(&live));
                    }
                }
            }
        };
        Lookup::Found(version.entry(tenant_id, did), version)
    }

    /// Version `number` of the tenant (not the live one in memory), from
    /// memory or else from the database; kept unless the tenant's settings
    /// changed meanwhile.
    async fn other_version(
        &self,
        settings: &TenantSettings,
        number: u32,
    ) -> Result<Option<Arc<Version>>, sqlx::Error> {
        let key = (settings.tenant_id, number);
        if let Some(version) = self.older_versions().get(key) {
            return Ok(Some(version));
        }
        let Ok(stored) = i32::try_from(number) else {
            return Ok(None);
        };
        let Some(content) =
            crate::storage::versions::content(&self.pool, settings.tenant_id, stored).await?
        else {
            return Ok(None);
        };
        let version = Arc::new(Version::new(settings.tenant_id, number, content, settings));
        // Lock order: contents, then older (as `install`, which holds the
        // contents while it moves a replaced live version to the older ones).
        let contents = self
            .contents
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let unchanged = contents
            .tenants
            .get(&settings.tenant_id)
            .is_some_and(|tenant| tenant.settings == *settings);
        if unchanged {
            self.older_versions().insert(key, Arc::clone(&version));
        }
        Ok(Some(version))
    }

    /// Versions in memory: (live ones, others calls are on), for `/metrics`.
    pub fn versions_loaded(&self) -> (usize, usize) {
        let live = self
            .contents
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .tenants
            .values()
            .filter(|tenant| tenant.live.is_some())
            .count();
        (live, self.older_versions().versions.len())
    }

    fn older_versions(&self) -> std::sync::MutexGuard<'_, Older> {
        self.older
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The first full load, when start-up could not do it. One at a time:
    /// steps that waited for a load which failed share its failure rather
    /// than each trying again (and each waiting for the pool's timeout).
    async fn load_first(&self) -> bool {
        let asked = Instant::now();
        let mut last_failure = self.reloading.lock().await;
        if self.is_loaded() {
            return true;
        }
        if last_failure.is_some_and(|failed| failed >= asked) {
            return false;
        }
        let result = self.load_all().await;
        *last_failure = result.is_err().then(Instant::now);
        result.is_ok()
    }

    pub async fn reload_all(&self) -> Result<(), sqlx::Error> {
        let mut last_failure = self.reloading.lock().await;
        let result = self.load_all().await;
        *last_failure = result.as_ref().err().map(|_| Instant::now());
        result
    }

    /// Reads and installs every flow; the caller holds `reloading`.
    async fn load_all(&self) -> Result<(), sqlx::Error> {
        let loaded = load_live(&self.pool, Scope::AllTenants)
            .await
            .inspect_err(|error| {
                tracing::error!(%error, "loading flows failed");
            })?;
        let mut contents = self.contents.write().unwrap_or_else(|p| p.into_inner());
        let previous = std::mem::take(&mut contents.tenants);
        contents.dids.clear();
        self.install(&mut contents, loaded, previous);
        drop(contents);
        self.loaded.store(true, Ordering::Release);
        tracing::debug!("flow cache reloaded");
        Ok(())
    }

    pub async fn reload_tenant(&self, tenant_id: i64) -> Result<(), sqlx::Error> {
        let _one_at_a_time = self.reloading.lock().await;
        let loaded = load_live(&self.pool, Scope::Tenant(tenant_id)).await?;
        let mut contents = self.contents.write().unwrap_or_else(|p| p.into_inner());
        contents.dids.retain(|_, owner| *owner != tenant_id);
        let previous: HashMap<i64, Tenant> = contents
            .tenants
            .remove(&tenant_id)
            .map(|tenant| (tenant_id, tenant))
            .into_iter()
            .collect();
        self.install(&mut contents, loaded, previous);
        tracing::debug!(tenant_id, "tenant flow reloaded");
        Ok(())
    }

    /// Installs what was loaded. A live version that is replaced joins the
    /// older versions (calls in progress are on it); a tenant whose
    /// settings changed has its older versions read again when asked.
    fn install(
        &self,
        contents: &mut Contents,
        loaded: LiveFlows,
        mut previous: HashMap<i64, Tenant>,
    ) {
        let mut older = self.older_versions();
        for (settings, live) in loaded.tenants {
            let tenant_id = settings.tenant_id;
            let before = previous.remove(&tenant_id);
            let live = match (live, &before) {
                // The same version as in memory: keep it (nothing to rebuild).
                (Some((number, _)), Some(before))
                    if before.settings == settings
                        && before.live.as_ref().is_some_and(|v| v.number() == number) =>
                {
                    before.live.clone()
                }
                (Some((number, content)), _) => Some(Arc::new(Version::new(
                    tenant_id, number, content, &settings,
                ))),
                (None, _) => None,
            };
            if let Some(before) = before {
                if before.settings != settings {
                    older.forget_tenant(tenant_id);
                } else if let Some(replaced) = before.live
                    && live
                        .as_ref()
                        .is_none_or(|live| live.number() != replaced.number())
                {
                    older.insert((tenant_id, replaced.number()), replaced);
                }
            }
            contents
                .tenants
                .insert(tenant_id, Tenant { settings, live });
        }
        contents.dids.extend(loaded.dids);
    }

    /// Follows the change notifications for as long as the process runs.
    /// `listen` returns when the connection drops.
    pub fn spawn_listener(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                match self.listen().await {
                    Ok(()) => tracing::warn!("flow change listener disconnected; reconnecting"),
                    Err(error) => {
                        tracing::warn!(%error, "flow change listener failed; reconnecting")
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    }

    async fn listen(&self) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        // Anything may have changed while we were not listening.
        self.reload_all().await?;
        loop {
            // `try_recv` yields `None` when the connection dropped. Start over
            // with a fresh listener: LISTEN first, then reload, so nothing
            // changed in between goes unseen.
            match listener.try_recv().await? {
                Some(notification) => self.apply(notification.payload()).await?,
                None => return Ok(()),
            }
        }
    }

    /// Reloads what a notification names. On failure the listener starts
    /// over, which ends in a full reload; meanwhile the flows in memory answer.
    async fn apply(&self, payload: &str) -> Result<(), sqlx::Error> {
        let result = match payload.parse::<i64>() {
            Ok(tenant_id) => self.reload_tenant(tenant_id).await,
            Err(_) => self.reload_all().await,
        };
        result.inspect_err(|error| {
            tracing::error!(%error, payload, "reloading after a flow change failed; full reload next");
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(number: u32) -> Arc<Version> {
        let settings = TenantSettings {
            tenant_id: 1,
            active: true,
            time_zone: chrono_tz::UTC,
            language: crate::voicenter::types::Language::He,
        };
        Arc::new(Version::new(1, number, FlowContent::default(), &settings))
    }

    #[test]
    fn older_versions_are_bounded_and_the_least_recently_used_goes_first() {
        let mut older = Older::default();
        for number in 1..=MAX_OLDER_VERSIONS as u32 {
            older.insert((1, number), version(number));
        }
        // Version 1 is used again: version 2 is now the least recently used.
        assert!(older.get((1, 1)).is_some());
        older.insert((1, 9999), version(9999));
        assert_eq!(older.versions.len(), MAX_OLDER_VERSIONS);
        assert!(older.get((1, 2)).is_none(), "evicted");
        assert!(older.get((1, 1)).is_some());
        assert_eq!(older.get((1, 9999)).map(|v| v.number()), Some(9999));
        // Inserting what is there evicts nothing.
        older.insert((1, 3), version(3));
        assert_eq!(older.versions.len(), MAX_OLDER_VERSIONS);
        older.forget_tenant(1);
        assert!(older.versions.is_empty());
    }

    #[test]
    fn a_version_answers_every_identifier_with_its_number_and_unknown_dids_enter_nowhere() {
        let v = version(7);
        assert_eq!(v.flow.version, Some(7));
        assert_eq!(v.entry(1, "0730000000").entry_node, "");
    }
}
