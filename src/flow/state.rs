//! Per-call state carried inside the menu identifier Voicenter echoes back.
//!
//! We answer `MENU` with `key` followed by `~`-separated state segments:
//! `~vN` (the call runs on version N of the tenant's flow), `~rN` (the menu
//! has been replayed N times) and `~he` / `~en` (the language the caller
//! chose). A default part adds nothing: `sales~v7`, `sales~v7~r1`,
//! `sales~v7~r2~en`; a flow that is no published version (a draft being
//! simulated) writes no `~v`. Answering a step therefore needs no database,
//! any server can answer any step of any call, and a call started on
//! version 7 finishes on version 7 whatever is published meanwhile.
//! Identifiers without a version (calls in progress during the upgrade that
//! brought versions) run on the live version.
//!
//! Parsing is total: whatever Voicenter sends back (including identifiers we
//! never produced) yields a key and a state; unknown or garbled segments are
//! ignored and absurd retry counts are clamped.

use std::fmt::Write as _;

use crate::voicenter::types::{Language, START_OF_CALL_MENU};

/// Separates a node key from the state segments. Never part of a node key.
pub const SEPARATOR: char = '~';

/// Retry counts read from the wire are clamped to this. Far above any menu's
/// `max_retries` (at most 10), so a clamped count always means "exhausted".
pub const MAX_RETRIES: u32 = 99;

/// What we remember about a call between two steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallState {
    /// The version of the tenant's flow the call runs on; `None`: not a
    /// published version (on the wire: the live one).
    pub version: Option<u32>,
    /// How many times the current menu has been replayed after silence or invalid input.
    pub retries: u32,
    /// The language the caller chose in a menu; it wins over every configured language.
    pub language: Option<Language>,
}

impl CallState {
    /// The state after entering a new node: retries start over, the caller's language sticks.
    pub fn entering(self) -> CallState {
        CallState { retries: 0, ..self }
    }

    /// The menu identifier for `key` in this state (`key~v3`, `key~v3~r2`, `key~v3~r1~en`…).
    pub fn encode(self, key: &str) -> String {
        // 18 bytes cover the longest suffix we write: `~v4294967295~r99~en`.
        let mut out = String::with_capacity(key.len() + 18);
        out.push_str(key);
        if let Some(version) = self.version {
            // Writing to a String cannot fail.
            let _ = write!(out, "{SEPARATOR}v{version}");
        }
        if self.retries > 0 {
            // Writing to a String cannot fail.
            let _ = write!(out, "{SEPARATOR}r{}", self.retries.min(MAX_RETRIES));
        }
        if let Some(language) = self.language {
            out.push(SEPARATOR);
            out.push_str(language.as_str());
        }
        out
    }
}

/// Longest node key.
pub const MAX_KEY_LEN: usize = 64;

/// Can `key` be a node key? `[A-Za-z0-9_.-]{1,64}`, and not `-1` (the start of
/// a call). Such a key survives the trip through Voicenter: `parse_menu`
/// gives it back unchanged, whatever state is appended.
pub fn is_valid_key(key: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len())
        && key != START_OF_CALL_MENU
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Splits a `MENU` value into the node key and the call state.
///
/// `None` is the start of a call (`-1`, or nothing). Surrounding whitespace is
/// ignored. The key may be empty or name no node: the engine decides what
/// that means; parsing never fails.
pub fn parse_menu(menu: &str) -> Option<(&str, CallState)> {
    let menu = menu.trim();
    if menu.is_empty() || menu == START_OF_CALL_MENU {
        return None;
    }
    let mut segments = menu.split(SEPARATOR);
    // `split` always yields at least one segment.
    let key = segments.next().unwrap_or_default();
    let mut state = CallState::default();
    for segment in segments {
        if let Some(version) = parse_version(segment) {
            state.version = Some(version);
        } else if let Some(retries) = parse_retries(segment) {
            state.retries = retries;
        } else if let Some(language) = Language::parse(segment) {
            state.language = Some(language);
        }
    }
    Some((key, state))
}

/// `vN` with N decimal digits. A number too large for any version is kept
/// as `u32::MAX`, a version that never exists: the step gets the safe answer
/// rather than silently running on another version.
fn parse_version(segment: &str) -> Option<u32> {
    let digits = segment.strip_prefix('v')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse::<u32>().unwrap_or(u32::MAX))
}

/// `rN` with N decimal digits, clamped to `MAX_RETRIES`; anything else is not a retry segment.
fn parse_retries(segment: &str) -> Option<u32> {
    let digits = segment.strip_prefix('r')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All digits: the only possible parse failure is overflow, i.e. absurdly large.
    Some(
        digits
            .parse::<u32>()
            .map_or(MAX_RETRIES, |n| n.min(MAX_RETRIES)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(retries: u32, language: Option<Language>) -> CallState {
        CallState {
            version: None,
            retries,
            language,
        }
    }

    fn on(version: u32, state: CallState) -> CallState {
        CallState {
            version: Some(version),
            ..state
        }
    }

    #[test]
    fn version_comes_first_and_round_trips() {
        let s = on(7, state(1, Some(Language::En)));
        assert_eq!(s.encode("sales"), "sales~v7~r1~en");
        assert_eq!(parse_menu("sales~v7~r1~en"), Some(("sales", s)));
        assert_eq!(on(12, state(0, None)).encode("m"), "m~v12");
        assert_eq!(on(u32::MAX, state(0, None)).encode("m"), "m~v4294967295");
        assert_eq!(parse_menu("m~v12"), Some(("m", on(12, state(0, None)))));
    }

    #[test]
    fn absurd_or_zero_versions_name_no_version_that_exists() {
        assert_eq!(
            parse_menu("m~v99999999999999999999").map(|p| p.1.version),
            Some(Some(u32::MAX))
        );
        assert_eq!(parse_menu("m~v0").map(|p| p.1.version), Some(Some(0)));
        // Garbled: not a version segment at all.
        assert_eq!(parse_menu("m~v~vx~v-1").map(|p| p.1.version), Some(None));
    }

    #[test]
    fn default_state_is_the_bare_key() {
        assert_eq!(CallState::default().encode("sales"), "sales");
    }

    #[test]
    fn encodes_retries_then_language() {
        assert_eq!(state(1, None).encode("sales"), "sales~r1");
        assert_eq!(state(0, Some(Language::En)).encode("sales"), "sales~en");
        assert_eq!(state(2, Some(Language::He)).encode("sales"), "sales~r2~he");
    }

    #[test]
    fn encoding_clamps_retries() {
        assert_eq!(state(u32::MAX, None).encode("m"), "m~r99");
    }

    #[test]
    fn round_trips() {
        for s in [
            state(0, None),
            state(3, None),
            state(0, Some(Language::He)),
            state(10, Some(Language::En)),
        ] {
            let id = s.encode("a.b-c_1");
            assert_eq!(parse_menu(&id), Some(("a.b-c_1", s)), "{id}");
        }
    }

    #[test]
    fn start_of_call() {
        assert_eq!(parse_menu("-1"), None);
        assert_eq!(parse_menu(""), None);
        assert_eq!(parse_menu("  -1 "), None);
    }

    #[test]
    fn bare_key_has_default_state() {
        assert_eq!(parse_menu("sales"), Some(("sales", CallState::default())));
        assert_eq!(
            parse_menu(" sales\n"),
            Some(("sales", CallState::default()))
        );
    }

    #[test]
    fn ignores_garbled_segments() {
        assert_eq!(
            parse_menu("sales~x~r~rx~r-1~fr~~EN"),
            Some(("sales", state(0, Some(Language::En))))
        );
        assert_eq!(parse_menu("sales~r+1"), Some(("sales", state(0, None))));
    }

    #[test]
    fn later_segments_win() {
        assert_eq!(
            parse_menu("m~r1~he~r2~en"),
            Some(("m", state(2, Some(Language::En))))
        );
    }

    #[test]
    fn clamps_absurd_retry_counts() {
        assert_eq!(parse_menu("m~r100").map(|p| p.1.retries), Some(MAX_RETRIES));
        assert_eq!(
            parse_menu("m~r99999999999999999999999").map(|p| p.1.retries),
            Some(MAX_RETRIES)
        );
    }

    #[test]
    fn keeps_empty_or_odd_keys_for_the_engine_to_judge() {
        assert_eq!(parse_menu("~r1"), Some(("", state(1, None))));
        assert_eq!(parse_menu("-2"), Some(("-2", state(0, None))));
    }

    #[test]
    fn key_syntax() {
        for good in ["a", "sales", "Sales_2.b-c", "-2", "-", &"k".repeat(64)] {
            assert!(is_valid_key(good), "{good}");
        }
        for bad in ["", "-1", "a~b", "a b", " a", "a/b", "שלום", &"k".repeat(65)] {
            assert!(!is_valid_key(bad), "{bad}");
        }
    }

    #[test]
    fn entering_resets_retries_and_keeps_language() {
        assert_eq!(
            on(4, state(3, Some(Language::En))).entering(),
            on(4, state(0, Some(Language::En)))
        );
    }
}
