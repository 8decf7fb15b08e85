//! Reports over the CDRs and call steps, under `/api/v1/reports/…`: every
//! role of a tenant reads its own; platform admins read every tenant
//! together, or one with `?tenant_id=`. The SQL is in `storage::reports`.

pub mod aggregates;
pub mod calls;
pub mod cdrs;
pub mod funnel;
pub mod params;
pub mod range;
pub mod rollup;
pub mod scope;
pub mod views;

/// The `reports` tag's description in the OpenAPI document: how to start.
pub const TAG_DESCRIPTION: &str = "Calls, answer rates, durations, hang-up causes, the menu funnel, the CDRs themselves. \
Every report takes a range `from`/`to` (the end is exclusive; a plain date is local midnight in your tenant's time zone) \
and optional `did`, `status`, `target` filters; `compare=previous` adds the period of the same length just before. \
**Why did yesterday's calls fail?** If today is 2026-11-24: \
`GET /api/v1/reports/by-cause?from=2026-11-23&to=2026-11-24` lists yesterday's calls per Q.850 cause with its meaning \
and SIP equivalent, e.g. cause 17 *user busy* (486) from status BUSY, 19 *no answer from the user* (480) from NOANSWER, \
34 *no circuit available* (503) from CONGESTION. Each row lists the statuses behind it: \
cause 16 *normal clearing* holds the answered calls (ANSWER) and those the caller hung up before an answer (CANCEL) alike, \
so look at its `statuses`, or at `/reports/by-status`. \
`/reports/by-status` gives the same split by Voicenter's CALL_STATUS, `/reports/by-target?…&status=BUSY` which numbers were busy, \
`/reports/series?…&bucket=hour` when it happened, `/reports/funnel` where callers gave up in the menu, \
`/reports/cdrs` (or `/reports/cdrs.csv`) the calls themselves, and `/reports/calls/{call_id}` one call's way through the menus. \
Dates are your tenant's local days; a platform admin without `tenant_id` reads every tenant together in UTC days \
(add `tz=` or `tenant_id=`). `status` is read as statuses are stored: upper-cased, ANSWERED as ANSWER. \
Figures: `asr` = answered / calls (0-1), `acd_secs` = mean duration of answered calls, dial times in seconds; \
a ratio or mean with nothing to divide is `null`.";
