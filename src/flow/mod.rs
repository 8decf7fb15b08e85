//! Flows and the pure engine that runs them. No IO, no async, no clock of its
//! own: (flow, DID entry, request, now) in, answer out.

pub mod calendar;
pub mod content;
pub mod diagram;
pub mod diff;
pub mod engine;
pub mod model;
pub mod pattern;
pub mod rec;
pub mod schedule;
pub mod state;
pub mod validate;

#[cfg(test)]
mod proptests;

pub use content::FlowContent;
pub use engine::{Decision, Fallback, FlowProblem, RuleTaken, StepOutcome, decide};
pub use state::CallState;
pub use validate::{Context, FlowIssue, Severity, validate};
