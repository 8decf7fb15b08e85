//! Encoding detection and small helpers shared by the codec modules.

use super::types::Encoding;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Which encoding a body uses: decided by the body itself when it can be
/// (first non-whitespace byte after an optional UTF-8 BOM: `<` is XML-RPC,
/// `{` is JSON), otherwise by `Content-Type` (containing `xml`: XML-RPC),
/// otherwise JSON.
pub fn detect_encoding(body: &[u8], content_type: Option<&str>) -> Encoding {
    match without_bom(body).iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'<') => Encoding::XmlRpc,
        Some(b'{') => Encoding::Json,
        _ if content_type.is_some_and(|ct| ct.to_ascii_lowercase().contains("xml")) => {
            Encoding::XmlRpc
        }
        _ => Encoding::Json,
    }
}

/// `body` without a leading UTF-8 byte order mark.
pub(crate) fn without_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(UTF8_BOM).unwrap_or(body)
}

/// At most 32 characters of untrusted text, for error messages.
pub(crate) fn preview(text: &str) -> &str {
    text.char_indices()
        .nth(32)
        .map_or(text, |(end, _)| &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_decides_before_content_type() {
        assert_eq!(
            detect_encoding(b"<?xml?>", Some("application/json")),
            Encoding::XmlRpc
        );
        assert_eq!(detect_encoding(b"{}", Some("text/xml")), Encoding::Json);
        assert_eq!(
            detect_encoding(b" \r\n\t<methodCall>", None),
            Encoding::XmlRpc
        );
        assert_eq!(
            detect_encoding(b"\xEF\xBB\xBF<methodCall>", None),
            Encoding::XmlRpc
        );
        assert_eq!(
            detect_encoding(b"\xEF\xBB\xBF  {", Some("text/xml")),
            Encoding::Json
        );
    }

    #[test]
    fn content_type_decides_for_other_bodies() {
        assert_eq!(
            detect_encoding(b"", Some("text/xml; charset=utf-8")),
            Encoding::XmlRpc
        );
        assert_eq!(
            detect_encoding(b"garbage", Some("Application/XML")),
            Encoding::XmlRpc
        );
        assert_eq!(
            detect_encoding(b"[1]", Some("application/json")),
            Encoding::Json
        );
        assert_eq!(detect_encoding(b"", None), Encoding::Json);
        assert_eq!(
            detect_encoding(b"\x00\xff", Some("text/plain")),
            Encoding::Json
        );
    }

    #[test]
    fn preview_cuts_on_char_boundaries() {
        assert_eq!(preview("short"), "short");
        assert_eq!(preview(&"א".repeat(40)), "א".repeat(32));
    }
}
