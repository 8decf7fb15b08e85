//! ivrhub: a multi-tenant backend for Voicenter's External IVR.

pub mod admin;
pub mod alerts;
pub mod auth;
pub mod cdr;
pub mod citus;
pub mod clock;
pub mod config;
pub mod console;
pub mod db;
pub mod demo;
pub mod error;
pub mod flow;
pub mod flow_cache;
pub mod flow_service;
pub mod flow_tests;
pub mod lease;
pub mod maintenance;
pub mod metrics;
pub mod pg_embedded;
pub mod reports;
pub mod simulate;
pub mod startup;
pub mod step_log;
pub mod storage;
pub mod voicenter;
pub mod webhook;
