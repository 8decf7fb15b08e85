//! Alerts: rules that watch a figure of the calls, events when they change
//! state, signed webhook deliveries. See DESIGN §8.
//!
//! * [`rule`], the rule as written, and its checks (one place);
//! * [`state`], the pure core — one evaluation, from state and figure to
//!   the next state and event (hysteresis, M of N, re-notification);
//! * [`figures`], the figure over the window, through the reports' functions;
//! * [`evaluator`], once a minute per rule, on the node holding the lease;
//! * [`delivery`], [`signing`], [`url_guard`], sending, on every node;
//! * [`api`], the REST API under `/api/v1/alerts/…`.

pub mod api;
pub mod delivery;
pub mod evaluator;
pub mod figures;
pub mod rule;
pub mod signing;
pub mod state;
pub mod url_guard;

use std::sync::Arc;

use serde_json::json;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::AlertSettings;
use crate::metrics::Metrics;
use crate::storage::PgPool;
use crate::storage::alerts::{self as store, RuleRow};

/// What the API needs of alerting.
#[derive(Clone)]
pub struct Alerts {
    pub sender: delivery::Sender,
    pub allow_private_urls: bool,
}

/// The background tasks of this node: the evaluator (when it holds the
/// lease) and the delivery worker.
pub struct Running {
    pub node: String,
    pub evaluator: tokio::task::JoinHandle<()>,
    pub sender: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Handles that stop the tasks from elsewhere (a test killing a node).
    pub fn abort_handles(&self) -> Vec<tokio::task::AbortHandle> {
        vec![self.evaluator.abort_handle(), self.sender.abort_handle()]
    }

    /// Stops both tasks at once, as a node that died would (the lease is
    /// not given back: another node takes over when it expires).
    pub fn abort(&self) {
        self.evaluator.abort();
        self.sender.abort();
    }
}

/// Starts the evaluator loop and the delivery worker of this node.
pub fn spawn(
    pool: PgPool,
    settings: &AlertSettings,
    clock: Clock,
    metrics: Arc<Metrics>,
    sender: delivery::Sender,
    node: String,
) -> Running {
    let wake = Arc::new(Notify::new());
    Running {
        evaluator: evaluator::spawn(
            pool,
            settings.clone(),
            clock,
            metrics,
            Arc::clone(&wake),
            node.clone(),
        ),
        sender: sender.spawn(wake),
        node,
    }
}

/// Sends a sample message to each of the rule's URLs now (one attempt
/// each; failures are retried by the worker as usual). The deliveries'
/// ids; `None` when the rule has no URL.
pub async fn send_test(
    pool: &PgPool,
    sender: &delivery::Sender,
    rule: &RuleRow,
) -> Result<Option<Vec<i64>>, sqlx::Error> {
    let spec = &rule.definition.0;
    if spec.webhook_urls.is_empty() {
        return Ok(None);
    }
    let now = chrono::Utc::now();
    let mut body = evaluator::payload(rule, spec, state::EventKind::Firing, now, None, 0);
    body["type"] = json!("alert.test");
    body["data"]["state"] = json!("test");
    let body = body.to_string();
    let mut ids = Vec::new();
    let mut attempts = Vec::new();
    for url in &spec.webhook_urls {
        let message_id = delivery::message_id();
        let id = store::insert_test_delivery(
            pool,
            rule.tenant_id,
            rule.rule_id,
            url,
            &message_id,
            &body,
            60.0,
        )
        .await?;
        ids.push(id);
        attempts.push(store::DueDelivery {
            delivery_id: id,
            tenant_id: rule.tenant_id,
            url: url.clone(),
            message_id,
            body: body.clone(),
            attempts: 0,
        });
    }
    // The first attempts are made here, so that the answer shows them.
    futures_util::future::join_all(attempts.into_iter().map(|due| sender.attempt(due))).await;
    Ok(Some(ids))
}
