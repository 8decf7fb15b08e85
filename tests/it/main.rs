//! Integration tests: the real service over real HTTP against a real
//! PostgreSQL, driven the way Voicenter drives it.

mod api_client;
mod browser;
mod harness;
mod voicenter_client;

mod alerts;
mod api_accounts;
mod api_auth;
mod api_flows;
mod batch_writers;
mod bilingual_flows;
mod cdr_reports;
mod citus_outage;
mod console;
mod demo_calls;
mod deployment;
mod distributable_schema;
mod embedded_postgres;
mod flow_changes;
mod flow_tests;
mod flow_versions;
mod hostile_requests;
mod http_edges;
mod israeli_calendar;
mod metrics;
mod partitions;
mod reports;
mod resilience;
mod schedule_hours;
mod simulate;
mod two_nodes;
mod webhook_docs;
