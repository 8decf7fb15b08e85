//! What the service measures, exposed at `GET /metrics` in the OpenMetrics
//! text format (which Prometheus scrapes) through `prometheus-client`.
//!
//! Labels stay bounded: reasons, outcomes, methods, route *patterns* and
//! status classes — never call ids, numbers or tenants.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `ivrhub_steps_answered_total` | counter | |
//! | `ivrhub_fallbacks_total` | counter | `reason` |
//! | `ivrhub_requests_rejected_total` | counter | |
//! | `ivrhub_cdrs_stored_total`, `ivrhub_cdrs_failed_total` | counter | |
//! | `ivrhub_steps_dropped_total` | counter | `reason` (`queue_full`, `refused`, `database`) |
//! | `ivrhub_webhook_seconds` | histogram | `method`, `outcome` |
//! | `ivrhub_api_seconds` | histogram | `route`, `status` |
//! | `ivrhub_cdr_batch_size`, `ivrhub_cdr_commit_seconds` | histogram | |
//! | `ivrhub_step_batch_size` | histogram | |
//! | `ivrhub_step_queue_depth` | gauge | |
//! | `ivrhub_db_pool_connections` | gauge | `state` (`idle`, `busy`) |
//! | `ivrhub_flow_versions_loaded` | gauge | `kind` (`live`, `other`) |
//! | `ivrhub_alert_evaluations_total` | counter | `result` (`ok`, `firing`, `renotified`, `resolved`, `error`) |
//! | `ivrhub_alert_evaluator_leader` | gauge | |
//! | `ivrhub_alert_deliveries_total` | counter | `outcome` (`delivered`, `retry`, `failed`) |
//! | `ivrhub_alert_delivery_seconds` | histogram | |
//! | `ivrhub_partitions_total` | counter | `action` (`created`, `dropped`, `rewritten`, `failed`) |

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Why a call step got the safe answer instead of the flow's.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FallbackReason {
    UnknownDid,
    TenantDisabled,
    BrokenFlow,
    Unavailable,
    /// The tenant has published no version yet.
    NotPublished,
    /// The MENU identifier named a version the tenant does not have.
    UnknownVersion,
    /// The version the call is on could not be read in time.
    VersionUnavailable,
}

impl FallbackReason {
    pub const ALL: [FallbackReason; 7] = [
        FallbackReason::UnknownDid,
        FallbackReason::TenantDisabled,
        FallbackReason::BrokenFlow,
        FallbackReason::Unavailable,
        FallbackReason::NotPublished,
        FallbackReason::UnknownVersion,
        FallbackReason::VersionUnavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FallbackReason::UnknownDid => "unknown_did",
            FallbackReason::TenantDisabled => "tenant_disabled",
            FallbackReason::BrokenFlow => "broken_flow",
            FallbackReason::Unavailable => "unavailable",
            FallbackReason::NotPublished => "not_published",
            FallbackReason::UnknownVersion => "unknown_version",
            FallbackReason::VersionUnavailable => "version_unavailable",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// `GET_IVR_ACTION`, `HANGUP_CALL`, or `refused` (not decoded).
    pub method: &'static str,
    /// `flow`, a fallback reason, `stored`, `failed`, `refused`.
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    /// The route's pattern (`/api/v1/nodes/{key}`), or `unmatched`.
    pub route: String,
    /// `2xx`, `4xx`, `5xx`…
    pub status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

/// Seconds from 0.25 ms to about 4 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.00025, 2.0, 15))
}

/// Sizes 1 to 512.
fn sizes() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 10))
}

pub struct Metrics {
    registry: Registry,
    pub steps_answered: Counter,
    fallbacks: Family<ReasonLabel, Counter>,
    pub requests_rejected: Counter,
    pub cdrs_stored: Counter,
    pub cdrs_failed: Counter,
    steps_dropped: Family<DropLabel, Counter>,
    webhook_seconds: Family<WebhookLabels, Histogram>,
    api_seconds: Family<ApiLabels, Histogram>,
    pub cdr_batch_size: Histogram,
    pub cdr_commit_seconds: Histogram,
    pub step_batch_size: Histogram,
    step_queue_depth: Gauge,
    pool_connections: Family<StateLabel, Gauge>,
    versions_loaded: Family<KindLabel, Gauge>,
    alert_evaluations: Family<ResultLabel, Counter>,
    pub alert_leader: Gauge,
    alert_deliveries: Family<OutcomeLabel, Counter>,
    pub alert_delivery_seconds: Histogram,
    partitions: Family<ActionLabel, Counter>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropLabel {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabel {
    action: &'static str,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

/// What `/metrics` reads at each scrape.
pub struct Gauges {
    pub step_queue_depth: i64,
    pub pool_idle: i64,
    pub pool_busy: i64,
    pub live_versions: i64,
    pub other_versions: i64,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("ivrhub");
        let metrics = Metrics {
            steps_answered: Counter::default(),
            fallbacks: Family::default(),
            requests_rejected: Counter::default(),
            cdrs_stored: Counter::default(),
            cdrs_failed: Counter::default(),
            steps_dropped: Family::default(),
            webhook_seconds: Family::new_with_constructor(latency),
            api_seconds: Family::new_with_constructor(latency),
            cdr_batch_size: sizes(),
            cdr_commit_seconds: latency(),
            step_batch_size: sizes(),
            step_queue_depth: Gauge::default(),
            pool_connections: Family::default(),
            versions_loaded: Family::default(),
            alert_evaluations: Family::default(),
            alert_leader: Gauge::default(),
            alert_deliveries: Family::default(),
            alert_delivery_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 12)),
            partitions: Family::default(),
            registry: Registry::default(),
        };
        let m = &metrics;
        let counters = [
            (
                "steps_answered",
                "GET_IVR_ACTION requests answered",
                &m.steps_answered,
            ),
            (
                "requests_rejected",
                "Webhook requests refused as malformed, oversized or forbidden",
                &m.requests_rejected,
            ),
            (
                "cdrs_stored",
                "HANGUP_CALL reports committed (or already stored)",
                &m.cdrs_stored,
            ),
            (
                "cdrs_failed",
                "HANGUP_CALL reports answered STATUS 1 (the sender retries)",
                &m.cdrs_failed,
            ),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "steps_dropped",
            "Call steps not logged, by reason: the log queue was full, the database refused them, or it failed",
            m.steps_dropped.clone(),
        );
        for reason in crate::step_log::DropReason::ALL {
            let _ = m.steps_dropped.get_or_create(&DropLabel {
                reason: reason.as_str(),
            });
        }
        registry.register(
            "fallbacks",
            "Call steps answered with the safe answer, by reason",
            m.fallbacks.clone(),
        );
        for reason in FallbackReason::ALL {
            // Every reason shows, at 0 until it happens.
            let _ = m.fallbacks.get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            });
        }
        registry.register(
            "webhook_seconds",
            "Time to answer a webhook request, by method and outcome",
            m.webhook_seconds.clone(),
        );
        registry.register(
            "api_seconds",
            "Time to answer a REST API request, by route pattern and status class",
            m.api_seconds.clone(),
        );
        registry.register(
            "cdr_batch_size",
            "CDRs written per commit of the CDR writer",
            m.cdr_batch_size.clone(),
        );
        registry.register(
            "cdr_commit_seconds",
            "Time to write and commit one batch of CDRs",
            m.cdr_commit_seconds.clone(),
        );
        registry.register(
            "step_batch_size",
            "Call steps written per insert of the step log",
            m.step_batch_size.clone(),
        );
        registry.register(
            "step_queue_depth",
            "Call steps waiting to be logged",
            m.step_queue_depth.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database connections of this node, idle or busy",
            m.pool_connections.clone(),
        );
        registry.register(
            "flow_versions_loaded",
            "Flow versions in memory: live ones, and others calls are still on",
            m.versions_loaded.clone(),
        );
        registry.register(
            "alert_evaluations",
            "Alert rule evaluations by this node, by result",
            m.alert_evaluations.clone(),
        );
        let kinds = crate::alerts::state::EventKind::ALL.map(|kind| kind.as_str());
        for result in ["ok", "error"].into_iter().chain(kinds) {
            let _ = m.alert_evaluations.get_or_create(&ResultLabel { result });
        }
        registry.register(
            "alert_evaluator_leader",
            "1 while this node holds the alert evaluator's lease",
            m.alert_leader.clone(),
        );
        registry.register(
            "alert_deliveries",
            "Alert webhook delivery attempts by this node, by outcome",
            m.alert_deliveries.clone(),
        );
        for outcome in crate::storage::alerts::AfterAttempt::OUTCOMES {
            let _ = m.alert_deliveries.get_or_create(&OutcomeLabel { outcome });
        }
        registry.register(
            "alert_delivery_seconds",
            "Time of one alert webhook delivery attempt",
            m.alert_delivery_seconds.clone(),
        );
        registry.register(
            "partitions",
            "Monthly partitions of call steps the maintenance task created, dropped, or failed to",
            m.partitions.clone(),
        );
        for action in ["created", "dropped", "failed"] {
            let _ = m.partitions.get_or_create(&ActionLabel { action });
        }
        Metrics {
            registry,
            ..metrics
        }
    }

    /// Counts steps the step log dropped.
    pub fn count_dropped_steps(&self, reason: crate::step_log::DropReason, count: u64) {
        self.steps_dropped
            .get_or_create(&DropLabel {
                reason: reason.as_str(),
            })
            .inc_by(count);
    }

    /// Steps the step log dropped, every reason.
    pub fn dropped_steps(&self) -> u64 {
        crate::step_log::DropReason::ALL
            .iter()
            .map(|reason| {
                self.steps_dropped
                    .get_or_create(&DropLabel {
                        reason: reason.as_str(),
                    })
                    .get()
            })
            .sum()
    }

    /// Counts partitions the maintenance task `created`, `dropped`, or `failed` to.
    pub fn count_partitions(&self, action: &'static str, count: usize) {
        self.partitions
            .get_or_create(&ActionLabel { action })
            .inc_by(count as u64);
    }

    /// Counts an evaluation: `ok` (no event), an event kind, or `error`.
    pub fn count_evaluation(&self, result: &'static str) {
        self.alert_evaluations
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    /// Counts a delivery attempt: `delivered`, `retry` or `failed`.
    pub fn count_delivery(&self, outcome: &'static str) {
        self.alert_deliveries
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    pub fn count_fallback(&self, reason: FallbackReason) {
        self.fallbacks
            .get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            })
            .inc();
    }

    pub fn fallbacks(&self, reason: FallbackReason) -> u64 {
        self.fallbacks
            .get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            })
            .get()
    }

    pub fn observe_webhook(&self, labels: WebhookLabels, seconds: f64) {
        self.webhook_seconds.get_or_create(&labels).observe(seconds);
    }

    pub fn observe_api(&self, route: String, status: u16, seconds: f64) {
        let status = match status / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        };
        self.api_seconds
            .get_or_create(&ApiLabels { route, status })
            .observe(seconds);
    }

    /// The text `/metrics` answers, with the gauges read now.
    pub fn render(&self, gauges: &Gauges) -> String {
        self.step_queue_depth.set(gauges.step_queue_depth);
        for (state, value) in [("idle", gauges.pool_idle), ("busy", gauges.pool_busy)] {
            self.pool_connections
                .get_or_create(&StateLabel { state })
                .set(value);
        }
        for (kind, value) in [
            ("live", gauges.live_versions),
            ("other", gauges.other_versions),
        ] {
            self.versions_loaded
                .get_or_create(&KindLabel { kind })
                .set(value);
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
