//! Flows and the pure engine that runs them. No IO, no async, no clock of its
//! own: (flow, DID entry, request, now) in, answer out.

pub mod model;
