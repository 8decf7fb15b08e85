//! The HTTP side of Voicenter's protocol: guard, read, decode, decide or
//! store, encode. The decisions themselves live in `flow` (pure) and the
//! wire format in `voicenter` (pure); this module only wires them to HTTP.

mod body;
pub mod fallback;
mod guard;
mod handler;
pub mod openapi;

use std::sync::Arc;

use actix_web::web;

use crate::cdr::writer::CdrWriter;
use crate::config::ServeSettings;
use crate::flow_cache::FlowCache;
use crate::metrics::Metrics;
use crate::step_log::StepLog;

/// What the webhook handlers share.
pub struct WebhookState {
    pub cache: Arc<FlowCache>,
    pub cdrs: CdrWriter,
    pub steps: StepLog,
    pub settings: Arc<ServeSettings>,
    /// The safe answer, from the settings.
    pub safe: fallback::SafeAnswer,
    pub metrics: Arc<Metrics>,
}

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/voicenter", web::post().to(handler::voicenter))
        .route("/voicenter/{secret}", web::post().to(handler::voicenter))
        .route("/voicenter", web::route().to(handler::wrong_method))
        .route(
            "/voicenter/{secret}",
            web::route().to(handler::wrong_method),
        );
}
