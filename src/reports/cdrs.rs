//! The CDRs themselves: search (keyset pages, newest first), a streamed CSV
//! export of the same filter, and the CDRs of numbers no tenant owns.

use std::sync::{Arc, LazyLock};

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, get, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures_util::StreamExt;
use tokio::sync::Semaphore;
use utoipa::IntoParams;

use super::aggregates::asked;
use super::params::{Params, RangeParams, TenantParam};
use super::scope::ReportScope;
use super::views::{CdrView, local};
use crate::admin::pagination::{DEFAULT_LIMIT, MAX_LIMIT, Page};
use crate::admin::state::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::storage::reports::{self as sql, CdrKey, CdrRow};

/// `limit` and `cursor` of a CDR list.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CdrPageParams {
    /// CDRs per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page (same filter).
    cursor: Option<String>,
}

fn cursor_of(row: &CdrRow) -> String {
    format!("{}|{}", row.started_at.timestamp_micros(), row.call_id)
}

fn read_cursor(params: &Params) -> Result<Option<CdrKey>, ApiError> {
    let Some(cursor) = params.get("cursor") else {
        return Ok(None);
    };
    let bad = || ApiError::bad_field("cursor", "not a cursor this API gave out");
    let text = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(bad)?;
    let (micros, call_id) = text.split_once('|').ok_or_else(bad)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok(Some((at, call_id.to_owned())))
}

fn page(rows: Vec<CdrRow>, limit: i64, tz: Tz) -> Page<CdrView> {
    crate::admin::pagination::page(rows, limit as u32, cursor_of, |row| CdrView::new(row, tz))
}

/// Search CDRs: newest first (by start, then IVR_UNIQUE_ID), in keyset pages.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(TenantParam, RangeParams, CdrPageParams),
    responses(
        (status = 200, description = "A page of CDRs; times in the report's time zone", body = Page<CdrView>),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 400, description = "A missing or malformed parameter", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 422, description = "`from` not before `to`, or a range over 400 days", body = ErrorBody),
    )
)]
#[get("/reports/cdrs")]
pub async fn search_cdrs(
    state: web::Data<ApiState>,
    scope: ReportScope,
    request: HttpRequest,
) -> Result<web::Json<Page<CdrView>>, ApiError> {
    let asked = asked(&scope, &request, &["limit", "cursor"])?;
    let limit = asked
        .params
        .limit(i64::from(DEFAULT_LIMIT), i64::from(MAX_LIMIT))?;
    let after = read_cursor(&asked.params)?;
    let rows = sql::search_cdrs(
        &state.pool,
        asked.tenants,
        &asked.filter,
        after.as_ref(),
        limit + 1,
    )
    .await?;
    Ok(web::Json(page(rows, limit, asked.tz)))
}

/// CSV exports running at once (per process).
const MAX_EXPORTS: usize = 2;
static EXPORTS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(MAX_EXPORTS)));

/// The header of the CSV export.
pub const CSV_HEADER: &str = "tenant_id,call_id,started_at,did,caller_id,target,status,cause,duration_secs,dial_secs,call_start,call_time,received_at\r\n";

/// One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF
/// (quotes doubled). A text that a spreadsheet would run as a formula (it
/// starts with `=`, `@`, a tab or CR, or with `+`/`-` not followed by a
/// number) gets a leading `'`: caller ids come from outside.
pub fn csv_field(out: &mut String, text: &str) {
    let formula = match text.as_bytes().first() {
        Some(b'=' | b'@' | b'\t' | b'\r') => true,
        Some(b'+' | b'-') => !text[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b' ' || b == b'.'),
        _ => false,
    } || (text.len() == 1 && matches!(text, "+" | "-"));
    let needs_quotes = formula || text.contains([',', '"', '\r', '\n']);
    if needs_quotes {
        out.push('"');
        if formula {
            out.push('\'');
        }
        for c in text.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(text);
    }
}

fn csv_line(out: &mut String, row: &CdrRow, tz: Tz) {
    let time =
        |at: Option<DateTime<Utc>>| at.map(|at| local(at, tz).to_rfc3339()).unwrap_or_default();
    let number = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    let fields = [
        number(row.tenant_id),
        row.call_id.clone(),
        time(Some(row.started_at)),
        row.did.clone(),
        row.caller_id.clone(),
        row.target.clone(),
        row.status.clone(),
        number(row.cause.map(i64::from)),
        number(row.duration_secs),
        number(row.dial_secs),
        time(row.call_start),
        time(row.call_time),
        time(Some(row.received_at)),
    ];
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        csv_field(out, field);
    }
    out.push_str("\r\n");
}

/// Export the CDRs of the same filter as CSV, streamed from the database.
///
/// Newest first, every CDR of the range (no paging); times in the report's
/// time zone (RFC 3339); fields quoted per RFC 4180 where needed, and a text
/// a spreadsheet would take for a formula prefixed with `'`. If the database
/// fails midway, the response ends early (the connection is closed without
/// the final chunk), so a cut export cannot pass for a whole one. Two
/// exports run at once per server; more wait their turn.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(TenantParam, RangeParams),
    responses(
        (status = 200, description = "CSV, one CDR per line after a header line", content_type = "text/csv", body = String,
         example = "tenant_id,call_id,started_at,did,caller_id,target,status,cause,duration_secs,dial_secs,call_start,call_time,received_at\r\n7,1bcd7954224861f85a2d70612f248282,2026-11-23T09:15:02+02:00,0730000000,0541234567,0501234567,ANSWER,16,125,15,2026-11-23T09:15:02+02:00,2026-11-23T09:15:17+02:00,2026-11-23T09:17:24+02:00\r\n"),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 400, description = "A missing or malformed parameter", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 422, description = "`from` not before `to`, or a range over 400 days", body = ErrorBody),
    )
)]
#[get("/reports/cdrs.csv")]
pub async fn export_cdrs(
    state: web::Data<ApiState>,
    scope: ReportScope,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let asked = asked(&scope, &request, &[])?;
    let (tenants, filter, tz) = (asked.tenants, asked.filter, asked.tz);
    let file_name = format!(
        "cdrs-{}-{}.csv",
        local(filter.from, tz).format("%Y%m%dT%H%M"),
        local(filter.to, tz).format("%Y%m%dT%H%M")
    );
    // The export holds one connection and a snapshot for as long as the
    // client reads; it ends as soon as the client goes away. At most
    // EXPORTS at once, so that slow readers cannot take the connections the
    // webhook's CDR writer needs: more wait their turn, holding none.
    let permit = Arc::clone(&EXPORTS)
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    let mut connection = sql::begin_export(&state.pool).await?;
    let (chunks, receiver) = tokio::sync::mpsc::channel::<Result<web::Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        let _permit = permit;
        const CHUNK: usize = 64 * 1024;
        let mut out = String::with_capacity(CHUNK + 1024);
        out.push_str(CSV_HEADER);
        // Returning drops the connection, which closes it (see begin_export).
        let mut rows = sql::stream_cdrs(&mut connection, tenants, &filter);
        while let Some(row) = rows.next().await {
            match row {
                Ok(row) => csv_line(&mut out, &row, tz),
                Err(error) => {
                    tracing::error!(%error, "CSV export cut short");
                    let _ = chunks
                        .send(Err(std::io::Error::other("database error")))
                        .await;
                    return;
                }
            }
            if out.len() >= CHUNK {
                let chunk = std::mem::replace(&mut out, String::with_capacity(CHUNK + 1024));
                if chunks.send(Ok(web::Bytes::from(chunk))).await.is_err() {
                    return; // the client went away
                }
            }
        }
        if !out.is_empty() {
            let _ = chunks.send(Ok(web::Bytes::from(out))).await;
        }
    });
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .streaming(body))
}

/// CDRs that arrived for a DID no tenant owned (platform admins): newest first, in keyset pages.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(RangeParams, CdrPageParams),
    responses(
        (status = 200, description = "A page of orphan CDRs (`tenant_id` null)", body = Page<CdrView>),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 400, description = "A missing or malformed parameter", body = ErrorBody),
        (status = 403, description = "Not a platform admin", body = ErrorBody),
        (status = 422, description = "`from` not before `to`, or a range over 400 days", body = ErrorBody),
    )
)]
#[get("/reports/orphan-cdrs")]
pub async fn orphan_cdrs(
    state: web::Data<ApiState>,
    scope: ReportScope,
    request: HttpRequest,
) -> Result<web::Json<Page<CdrView>>, ApiError> {
    scope.require_platform_admin()?;
    if scope.tenant.is_some() {
        return Err(ApiError::bad_field(
            "tenant_id",
            "orphan CDRs belong to no tenant: leave tenant_id out",
        ));
    }
    let asked = asked(&scope, &request, &["limit", "cursor"])?;
    let limit = asked
        .params
        .limit(i64::from(DEFAULT_LIMIT), i64::from(MAX_LIMIT))?;
    let after = read_cursor(&asked.params)?;
    let rows =
        sql::orphan_cdrs_platform(&state.pool, &asked.filter, after.as_ref(), limit + 1).await?;
    Ok(web::Json(page(rows, limit, asked.tz)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(text: &str) -> String {
        let mut out = String::new();
        csv_field(&mut out, text);
        out
    }

    #[test]
    fn csv_fields_are_quoted_when_needed_and_formulas_defused() {
        assert_eq!(field("0541234567"), "0541234567");
        assert_eq!(field(""), "");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(
            field("+972541234567"),
            "+972541234567",
            "a phone number stays"
        );
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-2+3"), "\"'-2+3\"");
        assert_eq!(field("@SUM(A1)"), "\"'@SUM(A1)\"");
    }
}
