//! What the REST API's handlers share.

use sqlx::PgPool;

use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::TokenKeys;

pub struct ApiState {
    pub pool: PgPool,
    pub tokens: TokenKeys,
    pub throttle: LoginThrottle,
    /// The webhook's safe answer (simulations answer as the webhook would).
    pub safe: crate::webhook::fallback::SafeAnswer,
    /// The clock calls are decided by: the default instant of simulations
    /// and schedule checks.
    pub clock: crate::clock::Clock,
    /// Alert settings the API checks rules with, and the sender of tests.
    pub alerts: crate::alerts::Alerts,
}
