//! The clock flows are decided by: the system's, or, in tests, one that is
//! set (a call "on Yom Kippur" through the real webhook). Only decisions
//! read it — schedules and holidays, the simulator's and `/check`'s default
//! instant; logs, tokens and CDRs keep the real time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Microseconds since the epoch; `None`: the system's clock.
    fixed: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock standing at `at` until [`Clock::set`] moves it (tests).
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock {
            fixed: Some(Arc::new(AtomicI64::new(at.timestamp_micros()))),
        }
    }

    /// Does it stand at a set instant (tests, `IVRHUB_DECIDE_AT`)?
    pub fn is_fixed(&self) -> bool {
        self.fixed.is_some()
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.fixed {
            None => Utc::now(),
            Some(micros) => {
                DateTime::from_timestamp_micros(micros.load(Ordering::Relaxed)).unwrap_or_default()
            }
        }
    }

    /// Moves a fixed clock to `at`; the system's clock cannot be set
    /// (`false`).
    pub fn set(&self, at: DateTime<Utc>) -> bool {
        match &self.fixed {
            None => false,
            Some(micros) => {
                micros.store(at.timestamp_micros(), Ordering::Relaxed);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_stands_still_until_set_and_the_system_one_cannot_be_set() {
        let at = DateTime::parse_from_rfc3339("2026-09-21T10:00:00+03:00")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Clock::fixed(at);
        let copy = clock.clone();
        assert_eq!(clock.now(), at);
        let later = at + chrono::Duration::hours(5);
        assert!(copy.set(later));
        assert_eq!(clock.now(), later, "clones share the time");
        let system = Clock::system();
        assert!(!system.set(at));
        assert!((system.now() - Utc::now()).num_seconds().abs() < 5);
    }
}
