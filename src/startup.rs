//! Builds the running service from settings and a database: `serve` and the
//! integration tests go through the same code.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, web};
use anyhow::{Context, Result};
use sqlx::PgPool;

use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::admin::{self, ApiDoc, state::ApiState};
use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::TokenKeys;
use crate::cdr::writer::CdrWriter;
use crate::config::ServeSettings;
use crate::db;
use crate::error::ApiError;
use crate::flow_cache::FlowCache;
use crate::metrics::Metrics;
use crate::step_log::StepLog;
use crate::webhook::{self, WebhookState};

pub struct Application {
    port: u16,
    server: Server,
    pool: PgPool,
    step_writer: tokio::task::JoinHandle<()>,
    listener: tokio::task::JoinHandle<()>,
    roller: Option<tokio::task::JoinHandle<()>>,
    alerts: Option<crate::alerts::Running>,
    maintenance: Option<tokio::task::JoinHandle<()>>,
    node: String,
}

impl Application {
    /// Migrates the database, loads the flows, binds the listener.
    pub async fn build(
        settings: ServeSettings,
        database_url: &str,
        pool_size: u32,
    ) -> Result<Application> {
        db::migrate(database_url).await?;
        let pool = db::connect_pool(database_url, pool_size).await?;
        // The holiday calendar is computed now, not in a call's first step.
        let _ = crate::flow::calendar::CalendarName::Israel.day(chrono::NaiveDate::MIN);
        if settings.clock.is_fixed() {
            tracing::warn!(
                at = %settings.clock.now(),
                "IVRHUB_DECIDE_AT is set: every call is decided as at this instant"
            );
        }
        // Tenants from before versions get their version 1 before any call
        // is answered from versions.
        crate::flow_service::version_flows_from_before_versions(&pool)
            .await
            .map_err(|error| {
                anyhow::anyhow!("versioning the flows from before versions: {error}")
            })?;
        let cache = Arc::new(FlowCache::new(pool.clone()));
        if let Err(error) = cache.reload_all().await {
            tracing::error!(%error, "flows not loaded at start; retrying on the first call");
        }
        let listener = Arc::clone(&cache).spawn_listener();
        let metrics = Arc::new(Metrics::new());
        let (steps, step_writer) = StepLog::spawn(pool.clone(), Arc::clone(&metrics));
        let workers = settings.workers;
        let tcp = TcpListener::bind(settings.listen)
            .with_context(|| format!("listening on {}", settings.listen))?;
        let port = tcp.local_addr()?.port();
        let roller = settings
            .report_roller
            .then(|| crate::reports::rollup::spawn_recent_days_roller(pool.clone()));
        let secret = match &settings.jwt_secret {
            Some(secret) => secret.expose().to_owned(),
            None => {
                tracing::warn!(
                    "no IVRHUB_JWT_SECRET: tokens are signed with a random key and die with this process"
                );
                crate::auth::tokens::random_secret()
            }
        };
        let sender = crate::alerts::delivery::Sender::new(
            pool.clone(),
            settings.alerting.clone(),
            Arc::clone(&metrics),
        );
        // This process's name among the nodes, in `leases`.
        let node = crate::lease::node_name();
        let alerts = settings.alerting.alerts.then(|| {
            crate::alerts::spawn(
                pool.clone(),
                &settings.alerting,
                settings.clock.clone(),
                Arc::clone(&metrics),
                sender.clone(),
                node.clone(),
            )
        });
        let maintenance = (settings.maintenance_secs > 0).then(|| {
            crate::maintenance::spawn(
                pool.clone(),
                Duration::from_secs(settings.maintenance_secs),
                settings.retention.step_retention_days,
                Arc::clone(&metrics),
                node.clone(),
            )
        });
        let api = web::Data::new(ApiState {
            pool: pool.clone(),
            tokens: TokenKeys::new(secret.as_bytes()),
            throttle: LoginThrottle::default(),
            safe: crate::webhook::fallback::SafeAnswer::from_settings(&settings),
            clock: settings.clock.clone(),
            alerts: crate::alerts::Alerts {
                sender,
                allow_private_urls: settings.alerting.alert_allow_private_urls,
            },
        });
        let state = web::Data::new(WebhookState {
            cache,
            cdrs: CdrWriter::spawn(pool.clone(), Arc::clone(&metrics)),
            steps,
            safe: crate::webhook::fallback::SafeAnswer::from_settings(&settings),
            settings: Arc::new(settings),
            metrics,
        });
        let routes = web::Data::new(crate::admin::routes::ApiRoutes::from_openapi(
            &crate::admin::openapi(),
        ));
        let mut server = actix_web::HttpServer::new(move || {
            App::new()
                .wrap_fn(measure_api)
                .app_data(routes.clone())
                .app_data(state.clone())
                .app_data(api.clone())
                .app_data(query_errors())
                .app_data(path_errors())
                .configure(webhook::configure)
                .route("/health", web::get().to(health))
                .route("/metrics", web::get().to(metrics_text))
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .service(admin::api_scope())
                .openapi_service(|api| SwaggerUi::new("/docs/{_:.*}").url("/api/openapi.json", api))
                .into_app()
                .route("/docs", web::get().to(docs_redirect))
                // The web console for people (not in the OpenAPI document).
                .configure(crate::console::configure)
                .default_service(web::to(not_found))
        })
        .listen(tcp)?
        // Voicenter's whole budget is ~5 s: a client slower than this with
        // its headers is not Voicenter.
        .client_request_timeout(Duration::from_secs(2))
        .shutdown_timeout(10);
        if let Some(workers) = workers {
            server = server.workers(workers);
        }
        Ok(Application {
            port,
            server: server.run(),
            pool,
            step_writer,
            listener,
            roller,
            alerts,
            maintenance,
            node,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// This node's name in `leases`.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Handles that stop the maintenance task from elsewhere (a test
    /// killing a node), when this node runs it.
    pub fn maintenance(&self) -> Option<tokio::task::AbortHandle> {
        self.maintenance.as_ref().map(|task| task.abort_handle())
    }

    /// This node's alert tasks, when it runs them (`IVRHUB_ALERTS`).
    pub fn alerts(&self) -> Option<&crate::alerts::Running> {
        self.alerts.as_ref()
    }

    /// Serves until the server is stopped (Ctrl-C / SIGTERM), then lets the
    /// step log write what it still holds.
    pub async fn run_until_stopped(self) -> Result<()> {
        self.server.await?;
        self.listener.abort();
        if let Some(roller) = &self.roller {
            roller.abort();
        }
        if let Some(maintenance) = &self.maintenance {
            maintenance.abort();
        }
        if let Some(alerts) = &self.alerts {
            alerts.abort();
            // Another node takes the evaluation over now, not when the lease expires.
            let _ =
                crate::lease::release(&self.pool, crate::alerts::evaluator::LEASE, &alerts.node)
                    .await;
        }
        if tokio::time::timeout(Duration::from_secs(10), self.step_writer)
            .await
            .is_err()
        {
            tracing::warn!("call-step log not flushed within 10 s");
        }
        self.pool.close().await;
        Ok(())
    }
}

async fn health(state: web::Data<WebhookState>) -> HttpResponse {
    let flows_loaded = state.cache.is_loaded();
    let body = serde_json::json!({ "status": if flows_loaded { "ok" } else { "degraded" }, "flows_loaded": flows_loaded });
    if flows_loaded {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn metrics_text(
    state: web::Data<WebhookState>,
    api: web::Data<crate::admin::state::ApiState>,
) -> HttpResponse {
    let (live, other) = state.cache.versions_loaded();
    let idle = i64::try_from(api.pool.num_idle()).unwrap_or(i64::MAX);
    let gauges = crate::metrics::Gauges {
        step_queue_depth: i64::try_from(state.steps.queued()).unwrap_or(i64::MAX),
        pool_idle: idle,
        pool_busy: i64::from(api.pool.size()) - idle,
        live_versions: i64::try_from(live).unwrap_or(i64::MAX),
        other_versions: i64::try_from(other).unwrap_or(i64::MAX),
    };
    HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(state.metrics.render(&gauges))
}

/// Times every REST API request into `/metrics`, by route pattern (never
/// the path itself: labels stay bounded) and status class.
fn measure_api<S>(
    request: actix_web::dev::ServiceRequest,
    service: &S,
) -> impl std::future::Future<Output = Result<actix_web::dev::ServiceResponse, actix_web::Error>> + use<S>
where
    S: actix_web::dev::Service<
            actix_web::dev::ServiceRequest,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let metrics = request
        .path()
        .starts_with("/api/")
        .then(|| request.app_data::<web::Data<WebhookState>>())
        .flatten()
        .map(|state| Arc::clone(&state.metrics));
    let started = std::time::Instant::now();
    let response = service.call(request);
    async move {
        let response = response.await?;
        if let Some(metrics) = metrics {
            let route = response
                .request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_owned());
            metrics.observe_api(
                route,
                response.status().as_u16(),
                started.elapsed().as_secs_f64(),
            );
        }
        Ok(response)
    }
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("location", "/docs/"))
        .finish()
}

/// Anything unrouted: 405 with `Allow` for a known API path asked with
/// another method, else a JSON 404; never an HTML page.
async fn not_found(
    request: actix_web::HttpRequest,
    routes: web::Data<crate::admin::routes::ApiRoutes>,
) -> Result<HttpResponse, ApiError> {
    match routes.allowed(request.path()) {
        Some(methods) if !methods.is_empty() => {
            let mut response =
                actix_web::ResponseError::error_response(&ApiError::method_not_allowed());
            if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&methods.join(", ")) {
                response
                    .headers_mut()
                    .insert(actix_web::http::header::ALLOW, value);
            }
            Ok(response)
        }
        _ => Err(ApiError::not_found("route")),
    }
}

/// A bad query parameter (`?limit=abc`) in the API's error shape.
fn query_errors() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _| {
        ApiError::bad_request(format!("bad query parameter: {error}")).into()
    })
}

/// A path segment that is not an id (`/users/abc`): nothing there.
fn path_errors() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, _| ApiError::not_found("object").into())
}
