//! The in-memory copy of every tenant's flow and of the DID directory, so a
//! call step is answered without touching the database.
//!
//! Writes to flow tables fire `NOTIFY ivrhub_flow_changed, '<tenant id>'`
//! (triggers in the first migration); every node listens and reloads that
//! tenant. Notifications sent while the listener was disconnected are lost,
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

use crate::flow::model::DidEntry;
use crate::storage::flows::{LoadedFlows, Scope, TenantFlow, load_flows};

pub const CHANNEL: &str = "ivrhub_flow_changed";

#[derive(Default)]
struct Contents {
    dids: HashMap<String, DidEntry>,
    tenants: HashMap<i64, Arc<TenantFlow>>,
}

pub struct FlowCache {
    pool: PgPool,
    contents: RwLock<Contents>,
    /// False until a full load succeeded: until then a miss is not an answer.
    /// Never goes back to false: stale flows answer better than none.
    loaded: AtomicBool,
    /// Held while a reload reads and installs; holds when the last full
    /// load failed.
    reloading: Mutex<Option<Instant>>,
}

/// What the webhook gets for a DID.
pub enum Lookup {
    Found(DidEntry, Arc<TenantFlow>),
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
            loaded: AtomicBool::new(false),
            reloading: Mutex::new(None),
        }
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Looks the DID up in memory; loads everything first if that never succeeded.
    pub async fn lookup(&self, did: &str) -> Lookup {
        if !self.is_loaded() && !self.load_first().await {
            return Lookup::Unavailable;
        }
        let contents = self
            .contents
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(entry) = contents.dids.get(did) else {
            return Lookup::UnknownDid;
        };
        match contents.tenants.get(&entry.tenant_id) {
            Some(flow) => Lookup::Found(entry.clone(), Arc::clone(flow)),
            None => Lookup::UnknownDid,
        }
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
        let loaded = load_flows(&self.pool, Scope::AllTenants)
            .await
            .inspect_err(|error| {
                tracing::error!(%error, "loading flows failed");
            })?;
        let mut fresh = Contents::default();
        install(&mut fresh, loaded);
        *self.contents.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        self.loaded.store(true, Ordering::Release);
        tracing::debug!("flow cache reloaded");
        Ok(())
    }

    pub async fn reload_tenant(&self, tenant_id: i64) -> Result<(), sqlx::Error> {
        let _one_at_a_time = self.reloading.lock().await;
        let loaded = load_flows(&self.pool, Scope::Tenant(tenant_id)).await?;
        let mut contents = self.contents.write().unwrap_or_else(|p| p.into_inner());
        contents
            .dids
            .retain(|_, entry| entry.tenant_id != tenant_id);
        contents.tenants.remove(&tenant_id);
        install(&mut contents, loaded);
        tracing::debug!(tenant_id, "tenant flow reloaded");
        Ok(())
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

fn install(contents: &mut Contents, loaded: LoadedFlows) {
    for flow in loaded.flows {
        contents.tenants.insert(flow.tenant_id, Arc::new(flow));
    }
    contents.dids.extend(loaded.dids);
}
