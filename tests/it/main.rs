//! Integration tests: the real service over real HTTP against a real
//! PostgreSQL, driven the way Voicenter drives it.

mod harness;
mod voicenter_client;

mod cdr_reports;
mod demo_calls;
mod flow_changes;
mod hostile_requests;
mod resilience;
