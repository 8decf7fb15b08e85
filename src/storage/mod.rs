//! The only module that talks SQL. Every function over tenant data takes the
//! tenant first; the platform-level exceptions (the DID directory, CDRs of
//! unknown numbers, the whole-cache reload) say so in their names.

pub mod accounts;
pub mod audit;
pub mod cdrs;
pub mod flows;
pub mod steps;
pub mod tenants;

pub use sqlx::PgPool;
