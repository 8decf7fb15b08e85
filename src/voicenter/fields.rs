//! Named fields of a struct (the envelope, `DATA`): lenient typed reading,
//! and writing in the order the spec's tables list them.

use std::borrow::Cow;

use super::codec::preview;
use super::types::{DecodeError, DecodeErrorCode};
use super::value::Value;

/// Read access to the members of a struct. Names match ASCII
/// case-insensitively; when a name repeats, the last member wins; `nil`
/// counts as absent.
pub(crate) struct Fields<'v, 'a> {
    members: &'v [(Cow<'a, str>, Value<'a>)],
}

impl<'v, 'a> Fields<'v, 'a> {
    /// The fields of `value`, which must be a struct (`what` names it in the error).
    pub fn of(value: &'v Value<'a>, what: &str) -> Result<Self, DecodeError> {
        match value {
            Value::Struct(members) => Ok(Fields { members }),
            other => Err(DecodeError::new(
                DecodeErrorCode::Malformed,
                format!("{what} must be a struct, not {}", other.kind()),
            )),
        }
    }

    pub fn get(&self, name: &str) -> Option<&'v Value<'a>> {
        self.members
            .iter()
            .rev()
            .find(|(member, _)| member.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
            .filter(|value| !matches!(value, Value::Nil))
    }

    /// A string field, numbers accepted as their text; `None` when absent.
    pub fn opt_text(&self, name: &str) -> Result<Option<Cow<'v, str>>, DecodeError> {
        self.get(name)
            .map(|value| {
                value
                    .as_text()
                    .ok_or_else(|| invalid(name, "a string", value))
            })
            .transpose()
    }

    /// [`Fields::opt_text`], owned.
    pub fn opt_string(&self, name: &str) -> Result<Option<String>, DecodeError> {
        Ok(self.opt_text(name)?.map(Cow::into_owned))
    }

    /// A mandatory string field (which may be empty).
    pub fn text(&self, name: &str) -> Result<String, DecodeError> {
        self.opt_string(name)?.ok_or_else(|| missing(name))
    }

    /// An integer field, numeric strings accepted; `None` when absent or a
    /// blank string (`""` is how senders say "no value").
    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, DecodeError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) if value.is_blank_text() => Ok(None),
            Some(value) => value
                .as_int()
                .map(Some)
                .ok_or_else(|| invalid(name, "an integer", value)),
        }
    }

    /// An optional number, any fraction dropped: `None` when absent or
    /// blank. For the CDR's times and durations, where `4.5` seconds is
    /// better kept as 4 than the report lost.
    pub fn opt_truncated_int(&self, name: &str) -> Result<Option<i64>, DecodeError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) if value.is_blank_text() => Ok(None),
            Some(value) => value
                .as_truncated_int()
                .map(Some)
                .ok_or_else(|| invalid(name, "a number", value)),
        }
    }

    /// A mandatory integer field.
    pub fn int(&self, name: &str) -> Result<i64, DecodeError> {
        self.opt_int(name)?.ok_or_else(|| missing(name))
    }

    /// A mandatory 1/0 field (any non-zero integer is true).
    pub fn flag(&self, name: &str) -> Result<bool, DecodeError> {
        Ok(self.int(name)? != 0)
    }

    /// An array of strings; empty when absent.
    pub fn texts(&self, name: &str) -> Result<Vec<String>, DecodeError> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_text()
                        .map(Cow::into_owned)
                        .ok_or_else(|| invalid(name, "an array of strings", item))
                })
                .collect(),
            Some(value) => Err(invalid(name, "an array", value)),
        }
    }
}

pub(crate) fn missing(name: &str) -> DecodeError {
    DecodeError::new(
        DecodeErrorCode::MissingField,
        format!("{name} is missing or empty"),
    )
}

fn invalid(name: &str, expected: &str, got: &Value<'_>) -> DecodeError {
    let got = match got {
        Value::Str(text) => format!("{:?}", preview(text)),
        other => other.kind().to_owned(),
    };
    DecodeError::new(
        DecodeErrorCode::InvalidField,
        format!("{name} must be {expected}, got {got}"),
    )
}

/// Builds a struct field by field; optional fields that are `None` (and an
/// empty `DIALSTRINGS`) are left out. Strings are borrowed, not copied.
#[derive(Default)]
pub(crate) struct DataWriter<'a> {
    members: Vec<(Cow<'a, str>, Value<'a>)>,
}

impl<'a> DataWriter<'a> {
    pub fn value(&mut self, name: &'static str, value: Value<'a>) -> &mut Self {
        self.members.push((Cow::Borrowed(name), value));
        self
    }

    pub fn text(&mut self, name: &'static str, text: &'a str) -> &mut Self {
        self.value(name, Value::Str(Cow::Borrowed(text)))
    }

    pub fn int(&mut self, name: &'static str, n: i64) -> &mut Self {
        self.value(name, Value::Int(n))
    }

    /// The spec's 1/0 integers (`VALIDATION`, `REC_STATUS`).
    pub fn flag(&mut self, name: &'static str, on: bool) -> &mut Self {
        self.int(name, i64::from(on))
    }

    pub fn opt_text(&mut self, name: &'static str, text: Option<&'a str>) -> &mut Self {
        match text {
            Some(text) => self.text(name, text),
            None => self,
        }
    }

    pub fn opt_int(&mut self, name: &'static str, n: Option<i64>) -> &mut Self {
        match n {
            Some(n) => self.int(name, n),
            None => self,
        }
    }

    pub fn texts(&mut self, name: &'static str, texts: &'a [String]) -> &mut Self {
        if texts.is_empty() {
            return self;
        }
        let items = texts
            .iter()
            .map(|text| Value::Str(Cow::Borrowed(text)))
            .collect();
        self.value(name, Value::Array(items))
    }

    pub fn finish(self) -> Value<'a> {
        Value::Struct(self.members)
    }
}
