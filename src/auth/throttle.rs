//! Slows down password guessing: failed logins are counted per account and
//! per source address; past a few, each further attempt must wait, doubling
//! up to a cap. Kept in memory per node (several nodes each apply it, which
//! only loosens it by the number of nodes); a success clears the account.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before any waiting.
const FREE_FAILURES: u32 = 5;
/// Waiting after the first failure past the free ones; doubles with each.
const BASE_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// A record untouched this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Records kept at most, so that a flood of addresses cannot eat memory.
const MAX_RECORDS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    fn blocked_until(&self) -> Option<Instant> {
        let over = self
            .count
            .checked_sub(FREE_FAILURES)
            .filter(|over| *over > 0)?;
        let delay = BASE_DELAY
            .saturating_mul(1u32 << (over - 1).min(20))
            .min(MAX_DELAY);
        Some(self.last + delay)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<Key, Failures>>,
}

impl LoginThrottle {
    /// `Err(seconds)` when this account or address must wait before trying again.
    pub fn check(&self, email: &str, address: Option<IpAddr>, now: Instant) -> Result<(), u64> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let keys = keys(email, address);
        let wait = keys
            .iter()
            .filter_map(|key| failures.get(key)?.blocked_until())
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        match wait {
            Some(wait) => Err(wait.as_secs().max(1)),
            None => Ok(()),
        }
    }

    pub fn failed(&self, email: &str, address: Option<IpAddr>, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_RECORDS {
            failures.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
        }
        for key in keys(email, address) {
            let entry = failures.entry(key).or_insert(Failures {
                count: 0,
                last: now,
            });
            if now.duration_since(entry.last) >= FORGET_AFTER {
                entry.count = 0;
            }
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
        }
    }

    /// A successful login clears the account (not the address: one good
    /// password must not unlock guessing at other accounts).
    pub fn succeeded(&self, email: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&Key::Account(email.to_owned()));
    }
}

fn keys(email: &str, address: Option<IpAddr>) -> Vec<Key> {
    let mut keys = vec![Key::Account(email.to_owned())];
    keys.extend(address.map(Key::Address));
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    #[test]
    fn a_few_failures_are_free_then_waits_double() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert_eq!(throttle.check("a@x.io", IP, start), Ok(()));
            throttle.failed("a@x.io", IP, start);
        }
        assert_eq!(
            throttle.check("a@x.io", IP, start),
            Ok(()),
            "the 6th attempt is allowed"
        );
        throttle.failed("a@x.io", IP, start);
        assert_eq!(throttle.check("a@x.io", IP, start), Err(1));
        let later = start + Duration::from_secs(1);
        assert_eq!(throttle.check("a@x.io", IP, later), Ok(()));
        throttle.failed("a@x.io", IP, later);
        assert_eq!(throttle.check("a@x.io", IP, later), Err(2));
    }

    #[test]
    fn the_address_is_slowed_down_across_accounts() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for n in 0..=FREE_FAILURES {
            throttle.failed(&format!("user{n}@x.io"), IP, now);
        }
        assert!(throttle.check("someone-else@x.io", IP, now).is_err());
        assert_eq!(throttle.check("someone-else@x.io", None, now), Ok(()));
    }

    #[test]
    fn success_clears_the_account_only() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..=FREE_FAILURES {
            throttle.failed("a@x.io", IP, now);
        }
        throttle.succeeded("a@x.io");
        assert_eq!(throttle.check("a@x.io", None, now), Ok(()));
        assert!(
            throttle.check("a@x.io", IP, now).is_err(),
            "the address still waits"
        );
    }
}
