//! `/console/`: the web console for people, served by this binary.
//!
//! Three static files, embedded at compile time (no build step, nothing
//! fetched from elsewhere: it works offline): `index.html`, `app.js` (plain
//! JavaScript, every string in one dictionary per language) and `app.css`.
//! The page reads everything through the REST API with the bearer token the
//! user logs in with, exactly as any other client; this module only serves
//! the files, and is not part of the OpenAPI document.
//!
//! Every answer carries a Content-Security-Policy that allows scripts,
//! styles and requests from this origin only (no inline script: the page
//! has none), and `Cache-Control: no-cache` with a strong `ETag`: the URLs
//! never change between releases, so a browser revalidates each load and
//! gets `304 Not Modified` while the binary is the same.

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use sha2::{Digest, Sha256};

/// The policy of every console answer: only this origin's script, style and
/// API; `data:`/`blob:` images (the icon, the diagram); no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; \
base-uri 'none'; frame-ancestors 'none'";

/// One embedded file with its content type and validator.
struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    etag: String,
}

impl Asset {
    fn new(body: &'static [u8], content_type: &'static str) -> Asset {
        let digest = Sha256::digest(body);
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        Asset {
            body,
            content_type,
            etag: format!("\"{hex}\""),
        }
    }
}

static INDEX: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_bytes!("console/index.html"),
        "text/html; charset=utf-8",
    )
});
static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_bytes!("console/app.js"),
        "text/javascript; charset=utf-8",
    )
});
static STYLE: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(include_bytes!("console/app.css"), "text/css; charset=utf-8"));

/// Registers `/console`, `/console/` and its files; any other `/console/…`
/// path is a 404.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/console", web::get().to(redirect))
        .route("/console/", web::get().to(index))
        .route("/console/app.js", web::get().to(script))
        .route("/console/app.css", web::get().to(style))
        .route("/console/{rest:.*}", web::get().to(missing));
}

/// The headers every console answer carries.
fn guarded(mut builder: HttpResponseBuilder) -> HttpResponseBuilder {
    builder
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    builder
}

/// The asset, or `304` when the browser's copy (`If-None-Match`) is current.
fn serve(request: &HttpRequest, asset: &Asset) -> HttpResponse {
    let current = request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == asset.etag
        });
    let mut builder = guarded(if current {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    });
    builder
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((
            header::ETAG,
            HeaderValue::from_str(&asset.etag).expect("a hex ETag is a header value"),
        ));
    if current {
        builder.finish()
    } else {
        builder.content_type(asset.content_type).body(asset.body)
    }
}

async fn redirect() -> HttpResponse {
    guarded(HttpResponse::PermanentRedirect())
        .insert_header((header::LOCATION, "/console/"))
        .finish()
}

async fn index(request: HttpRequest) -> HttpResponse {
    serve(&request, &INDEX)
}

async fn script(request: HttpRequest) -> HttpResponse {
    serve(&request, &SCRIPT)
}

async fn style(request: HttpRequest) -> HttpResponse {
    serve(&request, &STYLE)
}

async fn missing() -> HttpResponse {
    guarded(HttpResponse::NotFound())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body("404: no such page in the console; open /console/\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(asset: &Asset) -> &'static str {
        std::str::from_utf8(asset.body).expect("UTF-8")
    }

    /// The CSP forbids inline script and style: the page must have none.
    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let html = text(&INDEX);
        assert!(html.contains(r#"<script src="app.js" defer></script>"#));
        assert_eq!(html.matches("<script").count(), 1, "one script, app.js");
        assert!(!html.contains("<style"), "no inline style element");
        assert!(!html.contains(" style="), "no style attribute");
        let handlers = html.split(" on").skip(1).filter(|rest| {
            let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
            !name.is_empty() && rest[name.len()..].starts_with('=')
        });
        assert_eq!(handlers.count(), 0, "no inline event handler");
    }

    /// Every key the page names (`data-i18n="…"`) is in both dictionaries,
    /// and both dictionaries have the same keys.
    #[test]
    fn every_string_is_in_both_languages() {
        let html = text(&INDEX);
        let script = text(&SCRIPT);
        let dictionary = |name: &str| -> Vec<String> {
            let start = script
                .find(&format!("// <{name}>"))
                .unwrap_or_else(|| panic!("no {name} dictionary"));
            let end = script
                .find(&format!("// </{name}>"))
                .unwrap_or_else(|| panic!("no end of the {name} dictionary"));
            let mut keys: Vec<String> = script[start..end]
                .lines()
                .filter_map(|line| {
                    let line = line.trim();
                    let key = line.strip_prefix('\'')?.split_once("':")?.0;
                    Some(key.to_owned())
                })
                .collect();
            keys.sort();
            keys
        };
        let (english, hebrew) = (dictionary("en"), dictionary("he"));
        assert!(english.len() > 40, "{english:?}");
        assert_eq!(english, hebrew, "the same keys in English and Hebrew");
        for part in html.split("data-i18n=\"").skip(1) {
            let key = part.split('"').next().unwrap();
            assert!(
                english.binary_search(&key.to_owned()).is_ok(),
                "{key} is not in the dictionaries"
            );
        }
    }

    #[test]
    fn etags_are_strong_and_differ_per_file() {
        assert!(INDEX.etag.starts_with('"') && INDEX.etag.ends_with('"'));
        assert_ne!(INDEX.etag, SCRIPT.etag);
        assert_ne!(SCRIPT.etag, STYLE.etag);
    }
}
