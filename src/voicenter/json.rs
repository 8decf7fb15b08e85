//! JSON bodies <-> [`Value`].
//!
//! Parsing tries strict JSON (serde_json) first and falls back to JSON5,
//! because the spec's own `GET_IVR_ACTION` example has unquoted keys
//! (`METHOD: "GET_IVR_ACTION"`). Both parsers are recursive, so nesting is
//! bounded on the raw bytes before either sees them.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::codec::without_bom;
use super::types::{DecodeError, DecodeErrorCode};
use super::value::{MAX_DEPTH, Value};

/// Parses a JSON (or JSON5) document.
pub fn parse(body: &[u8]) -> Result<Value<'_>, DecodeError> {
    let body = without_bom(body);
    check_depth(body)?;
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let text = std::str::from_utf8(body).map_err(|e| {
        DecodeError::new(
            DecodeErrorCode::Malformed,
            format!("JSON body is not UTF-8: {e}"),
        )
    })?;
    // JSON5 is a superset of JSON, so its error describes the body best.
    json5::from_str(text)
        .map_err(|e| DecodeError::new(DecodeErrorCode::Malformed, format!("not valid JSON: {e}")))
}

/// Serialises a value as compact JSON.
pub fn encode(value: &Value<'_>) -> Vec<u8> {
    // Serialising to memory can only fail for non-string map keys, and a
    // `Value` has none.
    serde_json::to_vec(value).expect("a Value always serialises to JSON")
}

/// Rejects documents whose `[`/`{` nesting exceeds [`MAX_DEPTH`], scanning the
/// raw bytes with JSON5's lexical rules for strings and comments (a superset
/// of JSON's), so that brackets inside strings or comments do not count and
/// no bracket the parsers will see is skipped.
fn check_depth(body: &[u8]) -> Result<(), DecodeError> {
    let mut depth = 0usize;
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            quote @ (b'"' | b'\'') => i = string_end(body, i + 1, quote),
            b'/' if body.get(i + 1) == Some(&b'/') => i = line_comment_end(body, i + 2),
            b'/' if body.get(i + 1) == Some(&b'*') => i = block_comment_end(body, i + 2),
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(DecodeError::new(
                        DecodeErrorCode::TooDeep,
                        format!("JSON nested deeper than {MAX_DEPTH} levels"),
                    ));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Index of the closing `quote` of a string whose content starts at `i`
/// (or the end of the body).
fn string_end(body: &[u8], mut i: usize, quote: u8) -> usize {
    while i < body.len() {
        match body[i] {
            b'\\' => i += 2,
            b if b == quote => return i,
            _ => i += 1,
        }
    }
    body.len()
}

/// Index of the terminator of a `//` comment whose content starts at `i`.
/// JSON5 ends these at LF, CR, U+2028 and U+2029.
fn line_comment_end(body: &[u8], mut i: usize) -> usize {
    while i < body.len() {
        match body[i] {
            b'\n' | b'\r' => return i,
            0xE2 if matches!(body.get(i + 1..i + 3), Some([0x80, 0xA8 | 0xA9])) => return i,
            _ => i += 1,
        }
    }
    body.len()
}

/// Index of the `/` closing a `/* */` comment whose content starts at `i`.
fn block_comment_end(body: &[u8], i: usize) -> usize {
    body.get(i..)
        .and_then(|rest| rest.windows(2).position(|w| w == b"*/"))
        .map_or(body.len(), |at| i + at + 1)
}

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Nil => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(n) => serializer.serialize_i64(*n),
            Value::Double(d) => serializer.serialize_f64(*d),
            Value::Str(text) => serializer.serialize_str(text),
            Value::Struct(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (name, value) in members {
                    map.serialize_entry(name.as_ref(), value)?;
                }
                map.end()
            }
            Value::Array(items) => serializer.collect_seq(items),
        }
    }
}

impl<'de> Deserialize<'de> for Value<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Builds a [`Value`], borrowing strings from the body when they have no escapes.
/// Object members keep their order and duplicates (see [`Value::Struct`]).
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value<'de>, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value<'de>, E> {
        Ok(Value::Int(n))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value<'de>, E> {
        Ok(i64::try_from(n).map_or(Value::Double(n as f64), Value::Int))
    }

    fn visit_f64<E>(self, d: f64) -> Result<Value<'de>, E> {
        Ok(Value::Double(d))
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E>(self, text: String) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Owned(text)))
    }

    fn visit_unit<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Nil)
    }

    fn visit_none<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Nil)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value<'de>, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<Value<'de>>()? {
            let Value::Str(name) = key else {
                return Err(de::Error::custom("object key is not a string"));
            };
            members.push((name, map.next_value()?));
        }
        Ok(Value::Struct(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &[u8]) -> DecodeErrorCode {
        parse(body).expect_err("should be rejected").code
    }

    #[test]
    fn strict_json_borrows_strings_and_keeps_member_order_and_duplicates() {
        let value = parse(br#"{"B": "x", "A": [1, 2.5, true, null], "B": "y\n"}"#).unwrap();
        let Value::Struct(members) = &value else {
            panic!("{value:?}")
        };
        let names: Vec<&str> = members.iter().map(|(n, _)| n.as_ref()).collect();
        assert_eq!(names, ["B", "A", "B"]);
        assert!(matches!(&members[0].1, Value::Str(Cow::Borrowed("x"))));
        assert_eq!(members[2].1, Value::Str(Cow::Borrowed("y\n")));
        assert_eq!(
            members[1].1,
            Value::Array(vec![
                Value::Int(1),
                Value::Double(2.5),
                Value::Bool(true),
                Value::Nil
            ])
        );
    }

    #[test]
    fn json5_fallback_accepts_unquoted_keys_single_quotes_and_comments() {
        let value =
            parse(b"{METHOD: 'GET_IVR_ACTION', // comment\n DATA: {DID: \"1\",},}").unwrap();
        assert_eq!(
            value,
            Value::Struct(vec![
                (
                    Cow::Borrowed("METHOD"),
                    Value::Str(Cow::Borrowed("GET_IVR_ACTION"))
                ),
                (
                    Cow::Borrowed("DATA"),
                    Value::Struct(vec![(Cow::Borrowed("DID"), Value::Str(Cow::Borrowed("1")))])
                ),
            ])
        );
    }

    #[test]
    fn big_integers_become_doubles() {
        assert_eq!(
            parse(b"18446744073709551615").unwrap(),
            Value::Double(18446744073709551615.0)
        );
        assert_eq!(parse(b"15616841651").unwrap(), Value::Int(15_616_841_651));
    }

    #[test]
    fn depth_limit_is_exact() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(code(deep.as_bytes()), DecodeErrorCode::TooDeep);
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let many = "[".repeat(100);
        assert!(parse(format!(r#"{{"a": "{many}", "b": "\"{many}"}}"#).as_bytes()).is_ok());
        assert!(parse(format!("{{a: '{many}\\'{many}'}}").as_bytes()).is_ok());
        assert!(parse(format!("{{/* {many} */ a: 1 // {many}\n}}").as_bytes()).is_ok());
    }

    #[test]
    fn comments_and_quotes_cannot_hide_brackets_from_the_depth_check() {
        let deep = "[".repeat(100_000);
        for prefix in [
            "// '\r",
            "// '\u{2028}",
            "// '\u{2029}",
            "/* ' */",
            "\"'\"",
            "'\"'",
            "'\\''",
        ] {
            let body = format!("{prefix}{deep}");
            assert_eq!(
                code(body.as_bytes()),
                DecodeErrorCode::TooDeep,
                "{prefix:?}"
            );
        }
    }

    #[test]
    fn hundred_thousand_brackets_are_rejected_without_recursion() {
        assert_eq!(
            code("[".repeat(100_000).as_bytes()),
            DecodeErrorCode::TooDeep
        );
        assert_eq!(
            code("{\"a\":".repeat(100_000).as_bytes()),
            DecodeErrorCode::TooDeep
        );
    }

    #[test]
    fn garbage_is_malformed() {
        for body in [
            &b""[..],
            b"{",
            b"{\"a\" 1}",
            b"nul",
            b"\xff\xfe{}",
            b"{\"a\": \"\xff\"}",
            b"{1: 2}",
        ] {
            assert_eq!(code(body), DecodeErrorCode::Malformed, "{body:?}");
        }
    }

    #[test]
    fn encode_writes_members_in_order() {
        let value = Value::Struct(vec![
            (Cow::Borrowed("STATUS"), Value::Int(0)),
            (Cow::Borrowed("DIGITS"), Value::Str(Cow::Borrowed("0547"))),
            (
                Cow::Borrowed("X"),
                Value::Array(vec![Value::Nil, Value::Bool(false), Value::Double(1.5)]),
            ),
        ]);
        assert_eq!(
            String::from_utf8(encode(&value)).unwrap(),
            r#"{"STATUS":0,"DIGITS":"0547","X":[null,false,1.5]}"#
        );
    }
}
