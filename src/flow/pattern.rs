//! DTMF route matching.
//!
//! A route is either exact digits (`1`, `12`, `*9#`) or an Asterisk-style
//! pattern starting with `_`:
//!
//! | element | matches |
//! |---|---|
//! | `X` | any digit 0-9 |
//! | `Z` | 1-9 |
//! | `N` | 2-9 |
//! | `[...]` | one character of a set: digits, `*`, `#` and ranges such as `1-5` (`[1-5]`, `[147]`, `[0-3*]`) |
//! | `.` | one or more characters of any kind |
//! | `!` | zero or more characters of any kind |
//! | `0`-`9`, `*`, `#` | themselves |
//!
//! `X`, `Z` and `N` are accepted in lower case too, as Asterisk does. A
//! pattern must match the whole input (`_1X` matches `12`, not `123`).
//!
//! [`parse`] checks a pattern and says what is wrong with it (for
//! validation); [`matches`] runs on every call step: it interprets the pattern
//! text in place, allocates nothing, and treats an invalid pattern as
//! matching nothing.

/// What `parse` learnt about a valid pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pattern {
    /// The fewest characters an input must have to match.
    pub min_len: usize,
}

/// Why a route's digits are not a valid pattern. Positions count characters from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("empty: give digits, or a pattern starting with `_`")]
    Empty,
    #[error("`_` alone matches nothing: follow it with digits, X, Z, N, [...], `.` or `!`")]
    EmptyPattern,
    #[error(
        "{found:?} (character {position}) is not a digit, `*` or `#` (patterns start with `_`)"
    )]
    NotDtmf { position: usize, found: char },
    #[error(
        "{found:?} (character {position}) is not allowed in a pattern: use digits, `*`, `#`, X, Z, N, [...], `.` or `!`"
    )]
    InvalidElement { position: usize, found: char },
    #[error("the set opened at character {position} is never closed with `]`")]
    UnclosedSet { position: usize },
    #[error("the set opened at character {position} is empty")]
    EmptySet { position: usize },
    #[error(
        "the set opened at character {position} is invalid: it takes digits, `*`, `#` and ranges of digits such as `1-5`"
    )]
    InvalidSet { position: usize },
}

/// Checks a route's digits: exact digits or a `_` pattern.
pub fn parse(pattern: &str) -> Result<Pattern, PatternError> {
    let bytes = pattern.as_bytes();
    match bytes.split_first() {
        None => Err(PatternError::Empty),
        Some((b'_', [])) => Err(PatternError::EmptyPattern),
        Some((b'_', _)) => {
            let mut min_len = 0;
            let mut at = 1;
            while at < bytes.len() {
                let (element, next) = element(pattern, at)?;
                min_len += match element {
                    Element::One(_) => 1,
                    Element::Any { min } => min,
                };
                at = next;
            }
            Ok(Pattern { min_len })
        }
        Some(_) => match pattern.char_indices().find(|&(_, c)| !is_dtmf(c)) {
            Some((at, found)) => Err(PatternError::NotDtmf {
                position: at + 1,
                found,
            }),
            None => Ok(Pattern {
                min_len: bytes.len(),
            }),
        },
    }
}

/// Does `input` (the digits a caller pressed) match the route's `pattern`?
/// An invalid pattern matches nothing.
pub fn matches(pattern: &str, input: &str) -> bool {
    match pattern.strip_prefix('_') {
        Some("") => false,
        Some(_) => glob(pattern, input.as_bytes()).unwrap_or(false),
        None => pattern == input && !pattern.is_empty() && pattern.chars().all(is_dtmf),
    }
}

fn is_dtmf(c: char) -> bool {
    c.is_ascii_digit() || c == '*' || c == '#'
}

/// One element of a `_` pattern.
#[derive(Debug, Clone, Copy)]
enum Element<'a> {
    /// Exactly one character of a class.
    One(Class<'a>),
    /// `min` or more characters of any kind (`.`: 1, `!`: 0).
    Any { min: usize },
}

#[derive(Debug, Clone, Copy)]
enum Class<'a> {
    Exact(u8),
    Range(u8, u8),
    /// The text between `[` and `]`, already checked.
    Set(&'a [u8]),
}

impl Class<'_> {
    fn contains(self, c: u8) -> bool {
        match self {
            Class::Exact(x) => c == x,
            Class::Range(lo, hi) => (lo..=hi).contains(&c),
            Class::Set(set) => set_items(set).any(|(lo, hi)| (lo..=hi).contains(&c)),
        }
    }
}

/// The element of `pattern` starting at byte `at`, and where the next one starts.
fn element(pattern: &str, at: usize) -> Result<(Element<'_>, usize), PatternError> {
    let bytes = pattern.as_bytes();
    let class = match bytes[at] {
        b'.' => return Ok((Element::Any { min: 1 }, at + 1)),
        b'!' => return Ok((Element::Any { min: 0 }, at + 1)),
        b'[' => return set(bytes, at),
        b'X' | b'x' => Class::Range(b'0', b'9'),
        b'Z' | b'z' => Class::Range(b'1', b'9'),
        b'N' | b'n' => Class::Range(b'2', b'9'),
        c @ (b'0'..=b'9' | b'*' | b'#') => Class::Exact(c),
        _ => {
            // Every byte before `at` is ASCII (anything else is rejected as soon as it is
            // met), so `at` is a char boundary and also the char index.
            let found = pattern
                .get(at..)
                .and_then(|rest| rest.chars().next())
                .unwrap_or_default();
            return Err(PatternError::InvalidElement {
                position: at + 1,
                found,
            });
        }
    };
    Ok((Element::One(class), at + 1))
}

/// The set opening at `bytes[open]` (a `[`), checked.
fn set(bytes: &[u8], open: usize) -> Result<(Element<'_>, usize), PatternError> {
    // Positions count from 1: the `[` is at `open + 1`, its body starts at byte `open + 1`.
    let position = open + 1;
    let body_start = open + 1;
    let close = bytes[body_start..]
        .iter()
        .position(|&b| b == b']')
        .map(|len| body_start + len)
        .ok_or(PatternError::UnclosedSet { position })?;
    let body = &bytes[body_start..close];
    if body.is_empty() {
        return Err(PatternError::EmptySet { position });
    }
    let valid = set_items(body)
        .all(|(lo, hi)| is_dtmf(char::from(lo)) && is_dtmf(char::from(hi)) && lo <= hi);
    if !valid {
        return Err(PatternError::InvalidSet { position });
    }
    Ok((Element::One(Class::Set(body)), close + 1))
}

/// The items of a set's text as inclusive ranges (`5` is `5-5`). `a-b` is a range
/// when `a` and `b` are digits; any other dash comes out as a `-` item, which
/// `set` rejects as it is not DTMF.
fn set_items(body: &[u8]) -> impl Iterator<Item = (u8, u8)> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let first = *body.get(at)?;
        match body.get(at + 1..at + 3) {
            Some(&[b'-', last]) if first.is_ascii_digit() && last.is_ascii_digit() => {
                at += 3;
                Some((first, last))
            }
            _ => {
                at += 1;
                Some((first, first))
            }
        }
    })
}

/// Matches the `_` pattern against the whole input: the classic wildcard
/// algorithm (a `.` is one character followed by `!`), which only ever
/// backtracks to the most recent wildcard, so it runs in O(pattern × input)
/// without recursion or allocation.
fn glob(pattern: &str, input: &[u8]) -> Result<bool, PatternError> {
    let end = pattern.len();
    let (mut at, mut pos) = (1, 0);
    // After the last wildcard seen: where the pattern resumes and where in the input
    // the wildcard's run currently stops.
    let mut resume: Option<(usize, usize)> = None;
    loop {
        if at < end {
            let (element, next) = element(pattern, at)?;
            let advanced = match element {
                Element::Any { min } if pos + min <= input.len() => {
                    pos += min;
                    resume = Some((next, pos));
                    true
                }
                Element::One(class) if input.get(pos).is_some_and(|&c| class.contains(c)) => {
                    pos += 1;
                    true
                }
                _ => false,
            };
            if advanced {
                at = next;
                continue;
            }
        } else if pos == input.len() {
            return Ok(true);
        }
        // Mismatch: let the last wildcard swallow one more character and retry.
        match resume {
            Some((next, stop)) if stop < input.len() => {
                resume = Some((next, stop + 1));
                at = next;
                pos = stop + 1;
            }
            _ => return Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(pattern: &str, yes: &[&str], no: &[&str]) {
        parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        for input in yes {
            assert!(matches(pattern, input), "{pattern} should match {input:?}");
        }
        for input in no {
            assert!(
                !matches(pattern, input),
                "{pattern} should not match {input:?}"
            );
        }
    }

    #[test]
    fn exact_digits() {
        check("1", &["1"], &["", "2", "11", "_1"]);
        check("12", &["12"], &["1", "123", "21"]);
        check("*9#", &["*9#"], &["*9", "9#"]);
        check("0", &["0"], &["00", "O"]);
    }

    #[test]
    fn digit_classes() {
        check("_X", &["0", "5", "9"], &["", "*", "#", "10", "a"]);
        check("_Z", &["1", "9"], &["0", "*"]);
        check("_N", &["2", "9"], &["0", "1"]);
        check("_x", &["7"], &["*"]);
        check("_z", &["1"], &["0"]);
        check("_n", &["2"], &["1"]);
        check(
            "_05XXXXXXXX",
            &["0501234567"],
            &["050123456", "05012345678", "0601234567"],
        );
    }

    #[test]
    fn sets_and_ranges() {
        check("_[1-5]", &["1", "3", "5"], &["0", "6", "15"]);
        check("_[147]", &["1", "4", "7"], &["2", "0"]);
        check("_[0-3*]", &["0", "3", "*"], &["4", "#"]);
        check("_[1-35-7]", &["1", "3", "5", "7"], &["4", "8"]);
        check("_[#]1", &["#1"], &["*1"]);
        check("_9[0-1]X", &["901", "919"], &["929", "90"]);
    }

    #[test]
    fn literals_in_patterns() {
        check("_*#1", &["*#1"], &["#*1"]);
        check("_12", &["12"], &["1", "123"]);
    }

    #[test]
    fn dot_is_one_or_more() {
        check("_1.", &["12", "1234", "1*#"], &["1", "2", ""]);
        check("_.", &["1", "*", "123"], &[""]);
        check("_.1", &["21", "2221"], &["1", "12"]);
    }

    #[test]
    fn bang_is_zero_or_more() {
        check("_1!", &["1", "12", "1234"], &["2", ""]);
        check("_!", &["", "1", "123"], &[]);
        check("_!5", &["5", "125"], &["51"]);
    }

    #[test]
    fn wildcards_anywhere() {
        check("_1.9", &["119", "1239", "1999"], &["19", "1", "1230"]);
        check("_!1!2!", &["12", "0102", "3132"], &["21", "1"]);
        check("_..", &["12", "123"], &["1"]);
        check("_.X.", &["123", "a1b"], &["12", "*#*"]);
    }

    #[test]
    fn matching_is_linear_not_exponential() {
        let pattern = format!("_{}1", "!".repeat(30));
        let input = "0".repeat(40);
        assert!(!matches(&pattern, &input));
    }

    #[test]
    fn min_len() {
        let min = |p| parse(p).map(|p| p.min_len);
        assert_eq!(min("123"), Ok(3));
        assert_eq!(min("_X"), Ok(1));
        assert_eq!(min("_[1-5]X"), Ok(2));
        assert_eq!(min("_1."), Ok(2));
        assert_eq!(min("_1!"), Ok(1));
        assert_eq!(min("_!"), Ok(0));
    }

    #[test]
    fn parse_errors() {
        assert_eq!(parse(""), Err(PatternError::Empty));
        assert_eq!(parse("_"), Err(PatternError::EmptyPattern));
        assert_eq!(
            parse("1a"),
            Err(PatternError::NotDtmf {
                position: 2,
                found: 'a'
            })
        );
        assert_eq!(
            parse("X1"),
            Err(PatternError::NotDtmf {
                position: 1,
                found: 'X'
            })
        );
        assert_eq!(
            parse("_1Y"),
            Err(PatternError::InvalidElement {
                position: 3,
                found: 'Y'
            })
        );
        assert_eq!(
            parse("_1é"),
            Err(PatternError::InvalidElement {
                position: 3,
                found: 'é'
            })
        );
        assert_eq!(
            parse("_1 2"),
            Err(PatternError::InvalidElement {
                position: 3,
                found: ' '
            })
        );
        assert_eq!(
            parse("_1[12"),
            Err(PatternError::UnclosedSet { position: 3 })
        );
        assert_eq!(parse("_[]"), Err(PatternError::EmptySet { position: 2 }));
        for bad in [
            "_[5-1]", "_[-5]", "_[5-]", "_[1--3]", "_[a]", "_[1-*]", "_[[1]", "_[1-2-3]",
        ] {
            assert_eq!(
                parse(bad),
                Err(PatternError::InvalidSet { position: 2 }),
                "{bad}"
            );
        }
        assert!(parse("_]").is_err());
    }

    #[test]
    fn invalid_patterns_match_nothing() {
        for (pattern, input) in [
            ("", ""),
            ("_", ""),
            ("1a", "1a"),
            ("_1[", "1"),
            ("_1Y", "1Y"),
            ("_[5-1]", "3"),
            ("_1!Y", "1"),
        ] {
            assert!(!matches(pattern, input), "{pattern:?} vs {input:?}");
        }
    }

    #[test]
    fn error_messages_are_clear() {
        let message = parse("_1Y").unwrap_err().to_string();
        assert!(message.contains("'Y' (character 3)"), "{message}");
    }
}
