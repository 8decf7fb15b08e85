//! Reading a request body with a hard size limit.

use actix_web::web;
use futures_util::StreamExt;

pub enum BodyError {
    TooLarge,
    Broken,
}

/// Reads at most `limit` bytes; refuses as soon as the body (or its declared
/// length) goes over, without reading the rest.
pub async fn read_limited(
    mut payload: web::Payload,
    declared_length: Option<usize>,
    limit: usize,
) -> Result<web::BytesMut, BodyError> {
    if declared_length.is_some_and(|length| length > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut body = web::BytesMut::with_capacity(declared_length.unwrap_or(1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| BodyError::Broken)?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
