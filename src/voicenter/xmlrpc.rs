//! XML-RPC bodies <-> [`Value`]: parsing of `methodCall` (Voicenter's
//! requests) and `methodResponse` (our answers, read back by tests and the
//! simulator), encoding of `methodResponse`.
//!
//! The parser is a small recursive descent over quick-xml's event stream that
//! accepts exactly the XML-RPC grammar, liberally where the spec's examples
//! are: untyped `<value>text</value>` is a string, whitespace around values
//! and tags is ignored, CDATA is text. Hostile input is rejected, never
//! worked around: a DOCTYPE anywhere (so no entity can ever be declared) and
//! any entity reference other than the five predefined ones and numeric
//! character references are `Forbidden`; nothing is ever expanded.

use std::borrow::Cow;
use std::fmt::Write as _;

use quick_xml::Reader;
use quick_xml::errors::{Error as XmlError, SyntaxError};
use quick_xml::events::{BytesEnd, BytesRef, BytesStart, Event};

use super::codec::{preview, without_bom};
use super::types::{DecodeError, DecodeErrorCode};
use super::value::{MAX_DEPTH, Value};

const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

/// A parsed `methodCall`.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCall<'a> {
    /// `methodName`, as sent (not trimmed).
    pub method: Cow<'a, str>,
    pub params: Vec<Value<'a>>,
}

/// Parses a `methodCall` document.
pub fn parse_method_call(body: &[u8]) -> Result<MethodCall<'_>, DecodeError> {
    let mut parser = Parser::new(body)?;
    parser.root("methodCall")?;
    let method = if parser.open("methodName")? {
        Cow::Borrowed("")
    } else {
        parser.scalar_text()?
    };
    let params = parser.params("methodCall")?;
    parser.end_of_document()?;
    Ok(MethodCall { method, params })
}

/// Parses a `methodResponse` document into its (first) parameter.
pub fn parse_method_response(body: &[u8]) -> Result<Value<'_>, DecodeError> {
    let mut parser = Parser::new(body)?;
    parser.root("methodResponse")?;
    let params = parser.params("methodResponse")?;
    parser.end_of_document()?;
    params
        .into_iter()
        .next()
        .ok_or_else(|| malformed("methodResponse has no parameter"))
}

/// Encodes `value` as the single parameter of a `methodResponse`.
pub fn encode_method_response(value: &Value<'_>) -> Vec<u8> {
    let mut out = String::with_capacity(1024);
    out.push_str(XML_DECLARATION);
    out.push_str("<methodResponse><params><param>");
    write_value(&mut out, value);
    out.push_str("</param></params></methodResponse>\n");
    out.into_bytes()
}

/// Appends `<value>…</value>` for `value`.
pub(super) fn write_value(out: &mut String, value: &Value<'_>) {
    out.push_str("<value>");
    match value {
        Value::Nil => out.push_str("<nil/>"),
        // Writing to a String cannot fail.
        Value::Bool(b) => _ = write!(out, "<boolean>{}</boolean>", u8::from(*b)),
        Value::Int(n) => _ = write!(out, "<int>{n}</int>"),
        Value::Double(d) => _ = write!(out, "<double>{d}</double>"),
        Value::Str(text) => {
            out.push_str("<string>");
            escape_into(out, text);
            out.push_str("</string>");
        }
        Value::Struct(members) => {
            out.push_str("<struct>");
            for (name, member) in members {
                out.push_str("<member><name>");
                escape_into(out, name);
                out.push_str("</name>");
                write_value(out, member);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
        Value::Array(items) => {
            out.push_str("<array><data>");
            for item in items {
                write_value(out, item);
            }
            out.push_str("</data></array>");
        }
    }
    out.push_str("</value>");
}

/// Escapes text content. `\r` becomes a character reference so that XML's
/// line-end normalisation does not turn it into `\n`; characters XML 1.0
/// cannot carry at all (other C0 controls, U+FFFE, U+FFFF) become U+FFFD, so
/// the document stays well-formed for any input.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push(char::REPLACEMENT_CHARACTER),
            _ => out.push(c),
        }
    }
}

fn malformed(message: impl Into<String>) -> DecodeError {
    DecodeError::new(DecodeErrorCode::Malformed, message)
}

fn unexpected(expected: &str, found: &Tag<'_>) -> DecodeError {
    malformed(format!("expected {expected}, found {}", found.describe()))
}

/// What the grammar sees: tags, with ignorable whitespace, comments and
/// processing instructions skipped.
enum Tag<'a> {
    Open(BytesStart<'a>),
    Empty(BytesStart<'a>),
    Close(BytesEnd<'a>),
    Eof,
}

impl Tag<'_> {
    fn describe(&self) -> String {
        match self {
            Tag::Open(e) => format!("<{}>", e.name().as_ref()),
            Tag::Empty(e) => format!("<{}/>", e.name().as_ref()),
            Tag::Close(e) => format!("</{}>", e.name().as_ref()),
            Tag::Eof => "the end of the document".to_owned(),
        }
    }
}

/// The XML-RPC types a `<value>` may hold.
#[derive(Clone, Copy)]
enum Kind {
    Scalar(Scalar),
    Struct,
    Array,
}

#[derive(Clone, Copy)]
enum Scalar {
    Str,
    Int,
    Bool,
    Double,
    Nil,
}

impl Kind {
    fn of(name: &str) -> Option<Kind> {
        Some(match name {
            "string" | "base64" | "dateTime.iso8601" => Kind::Scalar(Scalar::Str),
            "int" | "i4" | "i8" => Kind::Scalar(Scalar::Int),
            "boolean" => Kind::Scalar(Scalar::Bool),
            "double" => Kind::Scalar(Scalar::Double),
            "nil" => Kind::Scalar(Scalar::Nil),
            "struct" => Kind::Struct,
            "array" => Kind::Array,
            _ => return None,
        })
    }
}

/// Text read up to a tag, and that tag (`None`: it was the enclosing end tag)
/// with whether it is self-closing.
type TextThenTag<'a> = (Cow<'a, str>, Option<(BytesStart<'a>, bool)>);

struct Parser<'a> {
    reader: Reader<&'a [u8]>,
}

impl<'a> Parser<'a> {
    fn new(body: &'a [u8]) -> Result<Parser<'a>, DecodeError> {
        let text = std::str::from_utf8(without_bom(body))
            .map_err(|e| malformed(format!("XML body is not UTF-8: {e}")))?;
        // Default configuration: end tag names are checked against start tags.
        Ok(Parser {
            reader: Reader::from_str(text),
        })
    }

    /// The next event, with the security checks applied to every one of them.
    fn event(&mut self) -> Result<Event<'a>, DecodeError> {
        match self.reader.read_event() {
            Ok(Event::DocType(_)) | Err(XmlError::Syntax(SyntaxError::UnclosedDoctype)) => {
                Err(DecodeError::new(
                    DecodeErrorCode::Forbidden,
                    "DOCTYPE declarations are not accepted",
                ))
            }
            Ok(Event::GeneralRef(reference)) => {
                resolve_reference(&reference)?;
                Ok(Event::GeneralRef(reference))
            }
            Ok(Event::Start(e)) => check_attributes(&e).map(|()| Event::Start(e)),
            Ok(Event::Empty(e)) => check_attributes(&e).map(|()| Event::Empty(e)),
            Ok(event) => Ok(event),
            Err(e) => Err(malformed(format!(
                "not well-formed XML at byte {}: {e}",
                self.reader.error_position()
            ))),
        }
    }

    /// The next tag; only whitespace, comments and PIs may come before it.
    fn tag(&mut self) -> Result<Tag<'a>, DecodeError> {
        loop {
            match self.event()? {
                Event::Start(e) => return Ok(Tag::Open(e)),
                Event::Empty(e) => return Ok(Tag::Empty(e)),
                Event::End(e) => return Ok(Tag::Close(e)),
                Event::Eof => return Ok(Tag::Eof),
                Event::Text(text) if is_whitespace(&text) => {}
                Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {}
                Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) | Event::DocType(_) => {
                    return Err(malformed("text where an XML-RPC tag was expected"));
                }
            }
        }
    }

    /// Consumes `<name>` (`Ok(false)`) or `<name/>` (`Ok(true)`).
    fn open(&mut self, name: &str) -> Result<bool, DecodeError> {
        match self.tag()? {
            Tag::Open(e) if e.name().as_ref() == name => Ok(false),
            Tag::Empty(e) if e.name().as_ref() == name => Ok(true),
            other => Err(unexpected(&format!("<{name}>"), &other)),
        }
    }

    /// Consumes `</name>`.
    fn close(&mut self, name: &str) -> Result<(), DecodeError> {
        match self.tag()? {
            Tag::Close(e) if e.name().as_ref() == name => Ok(()),
            other => Err(unexpected(&format!("</{name}>"), &other)),
        }
    }

    /// Consumes the root element's start tag.
    fn root(&mut self, name: &str) -> Result<(), DecodeError> {
        if self.open(name)? {
            return Err(malformed(format!("<{name}/> is empty")));
        }
        Ok(())
    }

    /// After the root element: nothing but whitespace, comments and PIs.
    fn end_of_document(&mut self) -> Result<(), DecodeError> {
        match self.tag()? {
            Tag::Eof => Ok(()),
            other => Err(malformed(format!(
                "{} after the root element",
                other.describe()
            ))),
        }
    }

    /// `<params><param><value>…</value></param>…</params>` (or none) and the
    /// root's end tag.
    fn params(&mut self, root: &str) -> Result<Vec<Value<'a>>, DecodeError> {
        let mut params = Vec::new();
        match self.tag()? {
            Tag::Open(e) if e.name().as_ref() == "params" => loop {
                match self.tag()? {
                    Tag::Open(e) if e.name().as_ref() == "param" => {
                        params.push(self.value_element(0)?);
                        self.close("param")?;
                    }
                    Tag::Close(_) => break, // `</params>`: quick-xml checks end names
                    other => {
                        return Err(unexpected("<param>", &other));
                    }
                }
            },
            Tag::Empty(e) if e.name().as_ref() == "params" => {}
            // No `<params>` at all: that was the root's end tag.
            Tag::Close(e) if e.name().as_ref() == root => return Ok(params),
            other => {
                return Err(unexpected("<params>", &other));
            }
        }
        self.close(root)?;
        Ok(params)
    }

    /// A `<value>` element, inside `depth` structs/arrays.
    fn value_element(&mut self, depth: usize) -> Result<Value<'a>, DecodeError> {
        if self.open("value")? {
            return Ok(Value::Str(Cow::Borrowed("")));
        }
        self.value(depth)
    }

    /// The content of a `<value>` whose start tag was consumed: either a type
    /// element, or text (a string, per XML-RPC, for a value without type).
    fn value(&mut self, depth: usize) -> Result<Value<'a>, DecodeError> {
        let (text, element) = self.text_until_tag()?;
        let Some((start, empty)) = element else {
            return Ok(Value::Str(text));
        };
        if !is_whitespace(&text) {
            return Err(malformed("text mixed with a type element in <value>"));
        }
        let name = start.name();
        let name = name.as_ref();
        let kind =
            Kind::of(name).ok_or_else(|| malformed(format!("unknown XML-RPC type <{name}>")))?;
        let value = match kind {
            Kind::Scalar(scalar_kind) => {
                let text = if empty {
                    Cow::Borrowed("")
                } else {
                    self.scalar_text()?
                };
                scalar(scalar_kind, name, text)?
            }
            Kind::Struct | Kind::Array => {
                let depth = depth + 1;
                if depth > MAX_DEPTH {
                    return Err(DecodeError::new(
                        DecodeErrorCode::TooDeep,
                        format!("XML-RPC values nested deeper than {MAX_DEPTH} levels"),
                    ));
                }
                match (kind, empty) {
                    (Kind::Struct, true) => Value::Struct(Vec::new()),
                    (Kind::Struct, false) => self.members(depth)?,
                    (_, true) => Value::Array(Vec::new()),
                    (_, false) => self.array(depth)?,
                }
            }
        };
        self.close("value")?;
        Ok(value)
    }

    /// The members of a `<struct>` whose start tag was consumed, and its end tag.
    fn members(&mut self, depth: usize) -> Result<Value<'a>, DecodeError> {
        let mut members = Vec::new();
        loop {
            match self.tag()? {
                Tag::Open(e) if e.name().as_ref() == "member" => {
                    let name = if self.open("name")? {
                        Cow::Borrowed("")
                    } else {
                        self.scalar_text()?
                    };
                    members.push((trim(name), self.value_element(depth)?));
                    self.close("member")?;
                }
                Tag::Close(_) => return Ok(Value::Struct(members)), // `</struct>`
                other => {
                    return Err(unexpected("<member>", &other));
                }
            }
        }
    }

    /// The `<data>` of an `<array>` whose start tag was consumed, and its end tag.
    fn array(&mut self, depth: usize) -> Result<Value<'a>, DecodeError> {
        let mut items = Vec::new();
        match self.tag()? {
            Tag::Open(e) if e.name().as_ref() == "data" => loop {
                match self.tag()? {
                    Tag::Open(e) if e.name().as_ref() == "value" => items.push(self.value(depth)?),
                    Tag::Empty(e) if e.name().as_ref() == "value" => {
                        items.push(Value::Str(Cow::Borrowed("")))
                    }
                    Tag::Close(_) => break, // `</data>`
                    other => {
                        return Err(unexpected("<value>", &other));
                    }
                }
            },
            Tag::Empty(e) if e.name().as_ref() == "data" => {}
            other => {
                return Err(unexpected("<data>", &other));
            }
        }
        self.close("array")?;
        Ok(Value::Array(items))
    }

    /// The text content of an element whose start tag was consumed, up to and
    /// including its end tag; no child elements.
    fn scalar_text(&mut self) -> Result<Cow<'a, str>, DecodeError> {
        match self.text_until_tag()? {
            (text, None) => Ok(text),
            (_, Some((start, _))) => Err(malformed(format!(
                "unexpected <{}> inside a scalar",
                start.name().as_ref()
            ))),
        }
    }

    /// Collects text (character data, CDATA, references) up to the next tag,
    /// which is consumed.
    fn text_until_tag(&mut self) -> Result<TextThenTag<'a>, DecodeError> {
        let mut text = Cow::Borrowed("");
        loop {
            match self.event()? {
                Event::Text(piece) => append(&mut text, piece.xml10_content()),
                Event::CData(piece) => append(&mut text, piece.xml10_content()),
                Event::GeneralRef(reference) => text.to_mut().push(resolve_reference(&reference)?),
                Event::Comment(_) | Event::PI(_) => {}
                Event::End(_) => return Ok((text, None)),
                Event::Start(e) => return Ok((text, Some((e, false)))),
                Event::Empty(e) => return Ok((text, Some((e, true)))),
                Event::Eof => {
                    return Err(malformed("the document ends inside an element"));
                }
                Event::Decl(_) | Event::DocType(_) => {
                    return Err(malformed("unexpected declaration inside an element"));
                }
            }
        }
    }
}

/// The value of a scalar type element, numbers with surrounding whitespace allowed.
fn scalar<'a>(kind: Scalar, name: &str, text: Cow<'a, str>) -> Result<Value<'a>, DecodeError> {
    let invalid = || malformed(format!("<{name}> holds an invalid value"));
    Ok(match kind {
        Scalar::Str => Value::Str(text),
        Scalar::Int => Value::Int(text.trim().parse().map_err(|_| invalid())?),
        Scalar::Double => Value::Double(text.trim().parse().map_err(|_| invalid())?),
        Scalar::Bool => match text.trim() {
            "1" => Value::Bool(true),
            "0" => Value::Bool(false),
            t if t.eq_ignore_ascii_case("true") => Value::Bool(true),
            t if t.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(invalid()),
        },
        Scalar::Nil if is_whitespace(&text) => Value::Nil,
        Scalar::Nil => return Err(invalid()),
    })
}

/// The character an entity or character reference stands for, if allowed.
fn resolve_reference(reference: &BytesRef<'_>) -> Result<char, DecodeError> {
    if reference.is_char_ref() {
        return reference.resolve_char_ref().ok().flatten().ok_or_else(|| {
            malformed(format!(
                "invalid character reference &{};",
                preview(reference)
            ))
        });
    }
    match &**reference {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other => Err(DecodeError::new(
            DecodeErrorCode::Forbidden,
            format!("entity reference &{}; is not accepted", preview(other)),
        )),
    }
}

/// XML-RPC tags carry no attributes, which are ignored; but references in
/// them get the same checks as in text, so `&foo;` is refused wherever it is.
fn check_attributes(start: &BytesStart<'_>) -> Result<(), DecodeError> {
    for piece in start.attributes_raw().split('&').skip(1) {
        let name = piece
            .split_once(';')
            .ok_or_else(|| malformed("unterminated reference in an attribute"))?
            .0;
        resolve_reference(&BytesRef::new(name))?;
    }
    Ok(())
}

fn append<'a>(text: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if text.is_empty() {
        *text = piece;
    } else {
        text.to_mut().push_str(&piece);
    }
}

fn trim(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(t) => Cow::Borrowed(t.trim()),
        Cow::Owned(t) if t.trim().len() == t.len() => Cow::Owned(t),
        Cow::Owned(t) => Cow::Owned(t.trim().to_owned()),
    }
}

fn is_whitespace(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}
