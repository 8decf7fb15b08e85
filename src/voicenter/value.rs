//! The value model both wire encodings decode into and encode from.
//!
//! XML-RPC and JSON carry the same shapes (scalars, structs, arrays), so the
//! protocol mapping works on [`Value`] and never on XML events or JSON tokens.
//! Strings borrow from the request body (or from the answer being encoded)
//! whenever they can: decoding a request allocates little besides the final
//! typed fields.

use std::borrow::Cow;

/// How deeply structs/arrays may nest; both parsers reject deeper input with
/// `TooDeep` before building it. The protocol itself needs 3 (envelope,
/// `DATA`, `DIALSTRINGS`).
pub const MAX_DEPTH: usize = 16;

/// One XML-RPC / JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// XML-RPC `<nil/>`, JSON `null`: treated as an absent field.
    Nil,
    Bool(bool),
    Int(i64),
    Double(f64),
    /// A string; XML-RPC `base64` and `dateTime.iso8601` are kept as their text.
    Str(Cow<'a, str>),
    /// Members in the order sent. Duplicate names are kept; lookups take the
    /// last one, as JavaScript's `JSON.parse` and most XML-RPC libraries do.
    Struct(Vec<(Cow<'a, str>, Value<'a>)>),
    Array(Vec<Value<'a>>),
}

impl<'a> Value<'a> {
    /// What kind of value this is, for error messages ("expected a string, got a struct").
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Double(_) => "a double",
            Value::Str(_) => "a string",
            Value::Struct(_) => "a struct",
            Value::Array(_) => "an array",
        }
    }

    /// The value as text, leniently: senders put numbers where the spec says
    /// String, so numbers give their decimal text and booleans `1`/`0`.
    /// `None` for nil, structs and arrays.
    pub fn as_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Str(text) => Some(Cow::Borrowed(text)),
            Value::Int(n) => Some(Cow::Owned(n.to_string())),
            Value::Double(d) => Some(Cow::Owned(d.to_string())),
            Value::Bool(b) => Some(Cow::Borrowed(if *b { "1" } else { "0" })),
            Value::Nil | Value::Struct(_) | Value::Array(_) => None,
        }
    }

    /// The value as an integer, leniently: the spec's own examples send
    /// integers as strings (`"CALL_MAX_DIAL": "25"`, `<string>3</string>`),
    /// so numeric strings (surrounding whitespace ignored), integral doubles
    /// and booleans are accepted. `None` for anything else.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            Value::Double(d) => integral(*d),
            Value::Bool(b) => Some(i64::from(*b)),
            Value::Str(text) => {
                let text = text.trim();
                text.parse::<i64>()
                    .ok()
                    .or_else(|| text.parse::<f64>().ok().and_then(integral))
            }
            Value::Nil | Value::Struct(_) | Value::Array(_) => None,
        }
    }

    /// The value as a whole number, any fraction dropped (toward zero): an
    /// integer as [`Value::as_int`] reads it, or a finite double (or the
    /// text of one) within `i64`.
    pub fn as_truncated_int(&self) -> Option<i64> {
        let double = match self {
            Value::Double(d) => *d,
            Value::Str(text) => text.trim().parse::<f64>().ok()?,
            _ => return self.as_int(),
        };
        self.as_int().or_else(|| integral(double.trunc()))
    }

    /// The value is a string that is empty or only whitespace (senders use
    /// `""` for "not set").
    pub fn is_blank_text(&self) -> bool {
        matches!(self, Value::Str(text) if text.trim().is_empty())
    }

    /// The value as JSON, for storing a request as sent (the CDR's raw payload).
    /// Duplicate struct members collapse to the last one; non-finite doubles
    /// (JSON cannot carry them) become `null`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as Json;
        match self {
            Value::Nil => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(n) => Json::from(*n),
            Value::Double(d) => serde_json::Number::from_f64(*d).map_or(Json::Null, Json::Number),
            Value::Str(text) => Json::String(text.to_string()),
            Value::Struct(members) => Json::Object(
                members
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.to_json()))
                    .collect(),
            ),
            Value::Array(items) => Json::Array(items.iter().map(Value::to_json).collect()),
        }
    }
}

/// `d` as an `i64` if it is a whole number in range.
fn integral(d: f64) -> Option<i64> {
    // `i64::MAX as f64` rounds up to 2^63, which is already out of range.
    let in_range = d >= i64::MIN as f64 && d < i64::MAX as f64;
    (in_range && d.fract() == 0.0).then_some(d as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value<'_> {
        Value::Str(Cow::Borrowed(text))
    }

    #[test]
    fn as_text_accepts_scalars_and_renders_numbers_in_decimal() {
        assert_eq!(s("abc").as_text().as_deref(), Some("abc"));
        assert_eq!(Value::Int(-42).as_text().as_deref(), Some("-42"));
        assert_eq!(
            Value::Int(547_000_000).as_text().as_deref(),
            Some("547000000")
        );
        assert_eq!(Value::Double(25.0).as_text().as_deref(), Some("25"));
        assert_eq!(Value::Double(2.5).as_text().as_deref(), Some("2.5"));
        assert_eq!(Value::Bool(true).as_text().as_deref(), Some("1"));
        assert_eq!(Value::Bool(false).as_text().as_deref(), Some("0"));
        assert_eq!(Value::Nil.as_text(), None);
        assert_eq!(Value::Struct(vec![]).as_text(), None);
        assert_eq!(Value::Array(vec![]).as_text(), None);
    }

    #[test]
    fn as_int_is_lenient_about_representation_but_not_content() {
        assert_eq!(Value::Int(15_616_841_651).as_int(), Some(15_616_841_651));
        assert_eq!(s("25").as_int(), Some(25));
        assert_eq!(s(" \n 3\n ").as_int(), Some(3));
        assert_eq!(s("-7").as_int(), Some(-7));
        assert_eq!(s("+7").as_int(), Some(7));
        assert_eq!(s("4.0").as_int(), Some(4));
        assert_eq!(Value::Double(600.0).as_int(), Some(600));
        assert_eq!(Value::Bool(true).as_int(), Some(1));
        assert_eq!(s("4.5").as_int(), None);
        assert_eq!(Value::Double(4.5).as_int(), None);
        assert_eq!(Value::Double(f64::NAN).as_int(), None);
        assert_eq!(Value::Double(f64::INFINITY).as_int(), None);
        assert_eq!(Value::Double(1e19).as_int(), None);
        assert_eq!(s("inf").as_int(), None);
        assert_eq!(s("abc").as_int(), None);
        assert_eq!(s("").as_int(), None);
        assert_eq!(s("99999999999999999999").as_int(), None);
        assert_eq!(Value::Nil.as_int(), None);
        assert_eq!(Value::Array(vec![]).as_int(), None);
    }

    #[test]
    fn blank_text_is_empty_or_whitespace_strings_only() {
        assert!(s("").is_blank_text());
        assert!(s(" \n\t").is_blank_text());
        assert!(!s(" 1 ").is_blank_text());
        assert!(!Value::Nil.is_blank_text());
        assert!(!Value::Int(0).is_blank_text());
    }

    #[test]
    fn to_json_keeps_names_as_sent_and_last_duplicate() {
        let value = Value::Struct(vec![
            (Cow::Borrowed("Did"), s("073")),
            (Cow::Borrowed("N"), Value::Int(1)),
            (Cow::Borrowed("N"), Value::Int(2)),
            (Cow::Borrowed("D"), Value::Double(1.5)),
            (Cow::Borrowed("X"), Value::Double(f64::NAN)),
            (Cow::Borrowed("B"), Value::Bool(true)),
            (Cow::Borrowed("Z"), Value::Nil),
            (
                Cow::Borrowed("A"),
                Value::Array(vec![s("a"), Value::Int(3)]),
            ),
        ]);
        assert_eq!(
            value.to_json(),
            serde_json::json!({
                "Did": "073", "N": 2, "D": 1.5, "X": null, "B": true, "Z": null, "A": ["a", 3]
            })
        );
    }
}
