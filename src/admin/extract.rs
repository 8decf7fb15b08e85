//! Who is calling: the bearer token verified once, here, into `Caller`; and
//! the tenant a request acts on, `TenantScope`, derived from it.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::state::ApiState;
use crate::auth::Role;
use crate::error::ApiError;
use crate::storage::accounts;
use crate::storage::audit::Actor;

/// The authenticated user. The token is checked (signature, algorithm,
/// issuer, audience, expiry) and then the account itself: a user disabled,
/// deleted or given another role since the token was issued is seen as such
/// at once.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub email: String,
    pub role: Role,
    /// `None` for platform admins.
    pub tenant_id: Option<i64>,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: self.user_id,
            email: self.email.clone(),
        }
    }

    pub fn require_platform_admin(&self) -> Result<(), ApiError> {
        if self.role == Role::PlatformAdmin {
            Ok(())
        } else {
            Err(ApiError::forbidden("only platform admins may do this"))
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request.app_data::<web::Data<ApiState>>().cloned();
        let header = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("ApiState missing"))?;
            let header = header.ok_or_else(|| {
                ApiError::unauthenticated("an `Authorization: Bearer <token>` header is required")
            })?;
            let token = header.strip_prefix("Bearer ").ok_or_else(|| {
                ApiError::unauthenticated("the Authorization header must be `Bearer <token>`")
            })?;
            let claims = state
                .tokens
                .verify(token.trim())
                .map_err(|error| ApiError::unauthenticated(crate::auth::tokens::refusal(&error)))?;
            let user_id: i64 = claims
                .sub
                .parse()
                .map_err(|_| ApiError::unauthenticated("invalid access token: bad subject"))?;
            let user = accounts::user_by_id(&state.pool, user_id)
                .await?
                .filter(|user| user.status == "active")
                .ok_or_else(|| ApiError::unauthenticated("the account is disabled or gone"))?;
            let role = Role::parse(&user.role)
                .ok_or_else(|| ApiError::internal(format!("unknown role {}", user.role)))?;
            Ok(Caller {
                user_id,
                email: user.email,
                role,
                tenant_id: user.tenant_id,
            })
        })
    }
}

/// `?tenant_id=`: which tenant a platform admin acts on. Users of a tenant
/// may leave it out (it is their own) and cannot name another one.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantQuery {
    /// Required for platform admins; for everyone else, their own tenant (the default).
    pub tenant_id: Option<i64>,
}

/// The tenant a request acts on, and who acts.
#[derive(Debug, Clone)]
pub struct TenantScope {
    pub tenant_id: i64,
    pub caller: Caller,
}

impl TenantScope {
    pub fn require_editor(&self) -> Result<(), ApiError> {
        if self.caller.role.can_edit_flows() {
            Ok(())
        } else {
            Err(ApiError::forbidden("viewers may not change flows"))
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.caller.role.can_administer_tenant() {
            Ok(())
        } else {
            Err(ApiError::forbidden("only tenant admins may do this"))
        }
    }
}

/// The tenant a caller acts on, given `?tenant_id=` (`asked`): a tenant's
/// user, their own (another tenant's id is 404: it does not exist, as far
/// as they can tell); a platform admin, the tenant asked for (which must
/// exist), or `None` when they asked for none.
pub async fn tenant_asked(
    caller: &Caller,
    asked: Option<i64>,
    state: Option<&ApiState>,
) -> Result<Option<i64>, ApiError> {
    match (caller.tenant_id, asked) {
        (Some(own), None) => Ok(Some(own)),
        (Some(own), Some(asked)) if asked == own => Ok(Some(own)),
        (Some(_), Some(_)) => Err(ApiError::not_found("tenant")),
        (None, Some(asked)) => {
            let state = state.ok_or_else(|| ApiError::internal("ApiState missing"))?;
            crate::storage::tenants::tenant(&state.pool, asked)
                .await?
                .ok_or_else(|| ApiError::not_found("tenant"))?;
            Ok(Some(asked))
        }
        (None, None) => Ok(None),
    }
}

impl FromRequest for TenantScope {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<TenantScope, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(request, payload);
        let query = web::Query::<TenantQuery>::from_query(request.query_string())
            .map(web::Query::into_inner)
            .map_err(|e| ApiError::bad_field("tenant_id", e.to_string()));
        let state = request.app_data::<web::Data<ApiState>>().cloned();
        Box::pin(async move {
            let caller = caller.await?;
            let tenant_id = tenant_asked(
                &caller,
                query?.tenant_id,
                state.as_ref().map(|s| s.get_ref()),
            )
            .await?
            .ok_or_else(|| {
                ApiError::bad_field(
                    "tenant_id",
                    "platform admins must say which tenant: ?tenant_id=",
                )
            })?;
            Ok(TenantScope { tenant_id, caller })
        })
    }
}
