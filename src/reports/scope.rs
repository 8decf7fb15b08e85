//! `ReportScope`: whose calls a report may read. Unlike `TenantScope`, a
//! platform admin may leave the tenant out (every tenant together).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use chrono_tz::Tz;

use crate::admin::extract::Caller;
use crate::admin::state::ApiState;
use crate::auth::Role;
use crate::error::ApiError;
use crate::storage::reports::Tenants;

/// The tenant a report reads (with its time zone), or every tenant.
#[derive(Debug, Clone)]
pub struct ReportScope {
    pub caller: Caller,
    /// `None`: every tenant (platform admins without `?tenant_id=`).
    pub tenant: Option<ScopedTenant>,
}

#[derive(Debug, Clone, Copy)]
pub struct ScopedTenant {
    pub tenant_id: i64,
    pub time_zone: Tz,
}

impl ReportScope {
    pub fn tenants(&self) -> Tenants {
        self.tenant
            .map_or(Tenants::All, |tenant| Tenants::One(tenant.tenant_id))
    }

    /// The zone local dates are read in when `tz` is not given.
    pub fn default_time_zone(&self) -> Tz {
        self.tenant
            .map_or(chrono_tz::UTC, |tenant| tenant.time_zone)
    }

    pub fn require_platform_admin(&self) -> Result<(), ApiError> {
        self.caller.require_platform_admin()
    }
}

impl FromRequest for ReportScope {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<ReportScope, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(request, payload);
        let asked = web::Query::<Vec<(String, String)>>::from_query(request.query_string())
            .map_err(|e| ApiError::bad_request(format!("unreadable query string: {e}")))
            .and_then(|query| {
                query
                    .iter()
                    .find(|(name, _)| name == "tenant_id")
                    .map(|(_, value)| {
                        value.parse::<i64>().map_err(|_| {
                            ApiError::bad_field("tenant_id", "must be a tenant id (a number)")
                        })
                    })
                    .transpose()
            });
        let state = request.app_data::<web::Data<ApiState>>().cloned();
        Box::pin(async move {
            let caller = caller.await?;
            let asked = asked?;
            let state = state.ok_or_else(|| ApiError::internal("ApiState missing"))?;
            let tenant_id = match (caller.tenant_id, asked) {
                (Some(own), None) => Some(own),
                (Some(own), Some(asked)) if asked == own => Some(own),
                // Another tenant's numbers do not exist, as far as this caller can tell.
                (Some(_), Some(_)) => return Err(ApiError::not_found("tenant")),
                (None, asked) if caller.role == Role::PlatformAdmin => asked,
                (None, _) => return Err(ApiError::forbidden("no tenant")),
            };
            let tenant = match tenant_id {
                None => None,
                Some(tenant_id) => {
                    let row = crate::storage::tenants::tenant(&state.pool, tenant_id)
                        .await?
                        .ok_or_else(|| ApiError::not_found("tenant"))?;
                    let time_zone = row.time_zone.parse::<Tz>().unwrap_or_else(|_| {
                        tracing::warn!(tenant_id, time_zone = %row.time_zone, "unknown time zone; reporting in UTC");
                        chrono_tz::UTC
                    });
                    Some(ScopedTenant {
                        tenant_id,
                        time_zone,
                    })
                }
            };
            Ok(ReportScope { caller, tenant })
        })
    }
}
