//! `ApiJson<T>`: a JSON body whose errors say where they are (`routes[2].target:
//! unknown field ...`), in the API's error shape.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest request body of the REST API.
pub const MAX_BODY: usize = 256 * 1024;

pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<ApiJson<T>, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = request
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"));
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::bad_request(
                    "the body must be JSON (Content-Type: application/json)",
                ));
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    ApiError::bad_request(format!("the body could not be read: {e}"))
                })?;
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(ApiError::payload_too_large(MAX_BODY));
                }
                body.extend_from_slice(&chunk);
            }
            parse(&body).map(ApiJson)
        })
    }
}

/// Parses `body`, naming the path of the first problem.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let error = error.into_inner();
        // The position means nothing to a reader of a JSON body: the path says where.
        let position = format!(" at line {} column {}", error.line(), error.column());
        let message = error.to_string();
        let message = message
            .strip_suffix(&position)
            .unwrap_or(&message)
            .to_owned();
        // Not JSON at all: 400. JSON whose content is wrong: 422 at its path.
        match error.classify() {
            serde_json::error::Category::Data => ApiError::invalid_field(path, message),
            serde_json::error::Category::Io
            | serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof => ApiError::bad_field(path, message),
        }
    })?;
    deserializer.end().map_err(|e| {
        ApiError::bad_request(format!("trailing characters after the JSON value: {e}"))
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        inner: Vec<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u8,
    }

    #[test]
    fn errors_name_their_path() {
        let error = parse::<Outer>(br#"{"inner": [{"n": 1}, {"n": 300}]}"#).unwrap_err();
        assert_eq!(error.code(), "validation_failed");
        assert_eq!(error.details()[0].path, "inner[1].n");
        assert!(error.details()[0].message.contains("300"), "{error}");
        assert!(!error.details()[0].message.contains("line 1"), "{error}");
        let error = parse::<Outer>(br#"{"inner": [], "extra": 1}"#).unwrap_err();
        assert!(
            format!("{error}").contains("unknown field `extra`"),
            "{error}"
        );
        // Not JSON: 400.
        let error = parse::<Outer>(br#"{"inner": [}"#).unwrap_err();
        assert_eq!(error.code(), "bad_request");
        let error = parse::<Outer>(br#"{"inner": ["#).unwrap_err();
        assert_eq!(error.code(), "bad_request");
    }
}
