//! Counters of what the webhook did, exposed at `GET /metrics` in
//! Prometheus' text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a call step got the safe answer instead of the flow's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

#[derive(Debug, Default)]
pub struct Metrics {
    pub steps_answered: AtomicU64,
    fallbacks: [AtomicU64; FallbackReason::ALL.len()],
    pub requests_rejected: AtomicU64,
    pub cdrs_stored: AtomicU64,
    pub cdrs_failed: AtomicU64,
}

impl Metrics {
    pub fn count_fallback(&self, reason: FallbackReason) {
        self.fallbacks[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn fallbacks(&self, reason: FallbackReason) -> u64 {
        self.fallbacks[reason as usize].load(Ordering::Relaxed)
    }

    pub fn render(&self, steps_dropped: u64) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            "ivrhub_steps_answered_total",
            "GET_IVR_ACTION requests answered.",
            self.steps_answered.load(Ordering::Relaxed),
        );
        counter(
            "ivrhub_requests_rejected_total",
            "Webhook requests refused as malformed, oversized or forbidden.",
            self.requests_rejected.load(Ordering::Relaxed),
        );
        counter(
            "ivrhub_cdrs_stored_total",
            "HANGUP_CALL reports committed (or already stored).",
            self.cdrs_stored.load(Ordering::Relaxed),
        );
        counter(
            "ivrhub_cdrs_failed_total",
            "HANGUP_CALL reports answered STATUS 1 (the sender retries).",
            self.cdrs_failed.load(Ordering::Relaxed),
        );
        counter(
            "ivrhub_steps_dropped_total",
            "Call steps not logged: the log queue was full, or the database refused them.",
            steps_dropped,
        );
        let _ = writeln!(
            out,
            "# HELP ivrhub_fallbacks_total Call steps answered with the safe answer, by reason.\n# TYPE ivrhub_fallbacks_total counter"
        );
        for reason in FallbackReason::ALL {
            let _ = writeln!(
                out,
                "ivrhub_fallbacks_total{{reason=\"{}\"}} {}",
                reason.as_str(),
                self.fallbacks(reason)
            );
        }
        out
    }
}
