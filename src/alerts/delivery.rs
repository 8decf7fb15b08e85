//! Sending alert messages: every node runs a worker that claims due
//! deliveries (`FOR UPDATE SKIP LOCKED`: each attempt is made by one node),
//! sends each signed per Standard Webhooks, concurrently, each with its own
//! timeout, and records the attempt. A receiver that is slow, fails or
//! never answers costs only its own retries: a failed attempt is retried
//! after `IVRHUB_ALERT_RETRY_SECS[n]` (over a day by default), then the
//! delivery is `failed`. A 2xx answer delivers; anything else, a timeout, a
//! refused connection or an address the guard refuses is a failed attempt.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use rand::Rng;
use tokio::sync::Notify;

use super::signing;
use super::url_guard::{self, GuardedResolver};
use crate::config::AlertSettings;
use crate::metrics::Metrics;
use crate::storage::PgPool;
use crate::storage::alerts::{self as store, AfterAttempt, DueDelivery};

/// Attempts one node makes at once (each its own task: a receiver that
/// hangs holds one of these, never the others' attempts).
const CONCURRENT: usize = 32;
/// Attempts one node makes at once for one tenant (or the platform): a
/// tenant whose receivers all hang holds these, never the others' slots.
const PER_OWNER: usize = 4;
/// How often the worker looks for due deliveries when not woken (at most).
const POLL: Duration = Duration::from_secs(1);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A new `webhook-id`: `msg_` and 24 random letters and digits.
pub fn message_id() -> String {
    let mut rng = rand::rng();
    let id: String = (0..24)
        .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
        .collect();
    format!("msg_{id}")
}

/// The HTTP client of deliveries: no redirects, no proxy, the guarded
/// resolver, a connect timeout.
pub fn client(settings: &AlertSettings) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: settings.alert_allow_private_urls,
        }))
        .connect_timeout(settings.attempt_timeout())
        .timeout(settings.attempt_timeout())
        .user_agent(concat!("ivrhub/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the delivery client's settings are valid")
}

/// The sender: the client and what an attempt needs.
#[derive(Clone)]
pub struct Sender {
    pool: PgPool,
    client: reqwest::Client,
    settings: AlertSettings,
    metrics: Arc<Metrics>,
}

impl Sender {
    pub fn new(pool: PgPool, settings: AlertSettings, metrics: Arc<Metrics>) -> Sender {
        Sender {
            client: client(&settings),
            pool,
            settings,
            metrics,
        }
    }

    /// The worker loop: claims what is due (as many as it has free
    /// slots), starts each attempt as its own task, then waits for a
    /// wake-up (a new event) or the poll interval.
    pub fn spawn(self, wake: Arc<Notify>) -> tokio::task::JoinHandle<()> {
        let poll = POLL.min(self.settings.tick());
        tokio::spawn(async move {
            // Attempts in flight, per owner (0: the platform).
            let in_flight: Arc<std::sync::Mutex<HashMap<i64, usize>>> = Arc::default();
            let mut running = tokio::task::JoinSet::new();
            loop {
                while running.try_join_next().is_some() {}
                let free = CONCURRENT.saturating_sub(running.len());
                if free > 0 {
                    let full: Vec<i64> = lock(&in_flight)
                        .iter()
                        .filter(|(_, count)| **count >= PER_OWNER)
                        .map(|(owner, _)| *owner)
                        .collect();
                    match self.claim(free as i64, &full).await {
                        Ok(due) => {
                            for delivery in due {
                                let owner = delivery.tenant_id.unwrap_or(0);
                                *lock(&in_flight).entry(owner).or_default() += 1;
                                let (sender, in_flight) = (self.clone(), Arc::clone(&in_flight));
                                running.spawn(async move {
                                    sender.attempt(delivery).await;
                                    let mut counts = lock(&in_flight);
                                    if let Some(count) = counts.get_mut(&owner) {
                                        *count -= 1;
                                        if *count == 0 {
                                            counts.remove(&owner);
                                        }
                                    }
                                });
                            }
                        }
                        Err(error) => tracing::warn!(%error, "alert deliveries not claimed"),
                    }
                }
                let _ = tokio::time::timeout(poll, wake.notified()).await;
            }
        })
    }

    /// Claims up to `limit` due deliveries (at most [`PER_OWNER`] of one
    /// owner, none of the owners in `full`), each held long enough for its
    /// attempt and the recording of it.
    async fn claim(&self, limit: i64, full: &[i64]) -> Result<Vec<DueDelivery>, sqlx::Error> {
        // Twice the attempt's limit and a second: a node that dies
        // mid-attempt leaves the delivery due again soon; a worker that
        // overruns this anyway cannot record over a newer attempt
        // (`record_attempt`), and receivers deduplicate on `webhook-id`.
        let hold = self.settings.attempt_timeout().as_secs_f64() * 2.0 + 1.0;
        store::claim_due_deliveries(&self.pool, limit, PER_OWNER as i64, full, hold).await
    }

    /// One attempt of one delivery, recorded.
    #[tracing::instrument(skip_all, fields(delivery_id = delivery.delivery_id, tenant_id = delivery.tenant_id))]
    pub async fn attempt(&self, delivery: DueDelivery) {
        let at = Utc::now();
        let started = Instant::now();
        let result = self.send(&delivery).await;
        let elapsed = started.elapsed();
        self.metrics
            .alert_delivery_seconds
            .observe(elapsed.as_secs_f64());
        let (status_code, error) = match &result {
            Ok(status) if (200..300).contains(status) => (Some(*status), None),
            Ok(status) => (
                Some(*status),
                Some(format!("the receiver answered {status}")),
            ),
            Err(error) => (None, Some(error.clone())),
        };
        let after = if error.is_none() {
            AfterAttempt::Delivered
        } else {
            match self.settings.retry_delay(delivery.attempts as usize) {
                Some(delay) => AfterAttempt::RetryAt(
                    Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default(),
                ),
                None => AfterAttempt::Failed,
            }
        };
        self.metrics.count_delivery(after.outcome());
        if let Some(error) = &error {
            tracing::info!(attempt = delivery.attempts + 1, %error, "alert delivery attempt failed");
        }
        let latency_ms = elapsed.as_millis().min(i32::MAX as u128) as i32;
        match store::record_attempt(
            &self.pool,
            &delivery,
            at,
            status_code,
            latency_ms,
            error.as_deref(),
            after,
        )
        .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    "alert delivery attempted by another worker meanwhile; this attempt is not recorded"
                )
            }
            // The claim expires and the attempt is made again: a receiver
            // may see a message twice, never zero times (it has the id).
            Err(error) => tracing::warn!(%error, "alert delivery attempt not recorded"),
        }
    }

    /// Sends one message: the receiver's status, or why there was none.
    async fn send(&self, delivery: &DueDelivery) -> Result<u16, String> {
        let url = url_guard::check_url(&delivery.url, self.settings.alert_allow_private_urls)
            .map_err(|refusal| format!("refused: {refusal}"))?;
        let secrets = store::signing_secrets(&self.pool, delivery.tenant_id)
            .await
            .map_err(|error| format!("no signing secret: {error}"))?;
        let timestamp = Utc::now().timestamp();
        let signature =
            signing::signature_header(&secrets, &delivery.message_id, timestamp, &delivery.body);
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.body.clone())
            .send()
            .await
            .map_err(describe)?;
        // The body is not read: a receiver cannot make us download anything.
        Ok(response.status().as_u16())
    }
}

/// A failed request in words (reqwest's own message hides the cause).
fn describe(error: reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
