//! Keyset pagination: `?limit=&cursor=`, answered with `next_cursor` when
//! there is more. Cursors are opaque to clients (base64 of the last key).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl PageQuery {
    /// The page size asked for, checked.
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
            Some(_) => Err(ApiError::bad_field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            )),
        }
    }

    /// The key after which the page starts, if a cursor was given.
    pub fn after(&self) -> Result<Option<String>, ApiError> {
        self.cursor
            .as_deref()
            .map(|cursor| {
                URL_SAFE_NO_PAD
                    .decode(cursor)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| ApiError::bad_field("cursor", "not a cursor this API gave out"))
            })
            .transpose()
    }

    /// The numeric key after which the page starts (0: from the beginning).
    pub fn after_id(&self) -> Result<i64, ApiError> {
        match self.after()? {
            None => Ok(0),
            Some(key) => key
                .parse()
                .map_err(|_| ApiError::bad_field("cursor", "not a cursor this API gave out")),
        }
    }
}

/// Builds a page from up to `limit + 1` rows (the extra one only says there is more).
pub fn page<R, T>(
    mut rows: Vec<R>,
    limit: u32,
    key: impl Fn(&R) -> String,
    item: impl Fn(R) -> T,
) -> Page<T> {
    let limit = limit as usize;
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|last| URL_SAFE_NO_PAD.encode(key(last)))
    } else {
        None
    };
    Page {
        items: rows.into_iter().map(item).collect(),
        next_cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_with_more_rows_has_a_cursor_to_them() {
        let page = page(vec![1, 2, 3], 2, |n| n.to_string(), |n| n * 10);
        assert_eq!(page.items, vec![10, 20]);
        let query = PageQuery {
            limit: Some(2),
            cursor: page.next_cursor,
        };
        assert_eq!(query.after_id().unwrap(), 2);
        let last = super::page(vec![3], 2, |n: &i32| n.to_string(), |n| n);
        assert_eq!(last.next_cursor, None);
    }

    #[test]
    fn limits_and_cursors_are_checked() {
        assert_eq!(
            PageQuery {
                limit: Some(0),
                cursor: None
            }
            .limit()
            .unwrap_err()
            .code(),
            "bad_request"
        );
        assert_eq!(
            PageQuery {
                limit: Some(201),
                cursor: None
            }
            .limit()
            .unwrap_err()
            .code(),
            "bad_request"
        );
        assert_eq!(
            PageQuery {
                limit: None,
                cursor: None
            }
            .limit()
            .unwrap(),
            50
        );
        assert!(
            PageQuery {
                limit: None,
                cursor: Some("!!".into())
            }
            .after()
            .is_err()
        );
    }
}
