//! The REST API under `/api/v1`, JWT-protected, described by OpenAPI
//! (utoipa). Handlers are thin: check who may act, check the body, call
//! `storage`, record the change in the audit log.

pub mod audit_api;
pub mod auth_api;
pub mod bootstrap;
pub mod calendars;
pub mod checks;
pub mod dids;
pub mod extract;
pub mod flow_api;
pub mod flow_validation;
pub mod json;
pub mod nodes;
pub mod pagination;
pub mod recordings;
pub mod routes;
pub mod schedules;
pub mod simulate_api;
pub mod state;
pub mod tenants;
pub mod users;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::scope::Scope;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::webhook::openapi::WebhookDoc;

/// The document's fixed parts; paths and schemas are collected from the routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ivrhub API",
        description = include_str!("api_description.md"),
        license(name = "MIT")
    ),
    modifiers(&BearerAuth, &ErrorCodeTable, &WebhookDoc),
    tags(
        (name = "Voicenter webhook", description = crate::webhook::openapi::TAG_DESCRIPTION),
        (name = "auth", description = "Log in, refresh, log out, who am I"),
        (name = "tenants", description = "The platform's customers (platform admins)"),
        (name = "users", description = "A tenant's accounts (tenant admins)"),
        (name = "audit", description = "Who changed what in a tenant's configuration"),
        (name = "dids", description = "Phone numbers: given to tenants by platform admins, pointed at an entry node by the tenant"),
        (name = "recordings", description = "The tenant's catalogue of recordings that nodes play"),
        (name = "nodes", description = "The nodes of the tenant's flow; every write is validated against the whole flow"),
        (name = "schedules", description = "Weekly opening hours, holidays and built-in holiday calendars (`israel`), for routing rules"),
        (name = "flow", description = "The flow as a whole: its draft and published versions (publish, roll back, discard, diff, history); validate proposed changes, or write several at once"),
        (name = "reports", description = crate::reports::TAG_DESCRIPTION),
        (name = "alerts", description = crate::alerts::api::TAG_DESCRIPTION),
    )
)]
pub struct ApiDoc;

/// Writes `crate::error::ERROR_CODES` into the description, where
/// `{{ERROR_CODES}}` stands: the table has one source.
struct ErrorCodeTable;

impl Modify for ErrorCodeTable {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut table = String::from("| code | status | meaning |\n| --- | --- | --- |\n");
        for (code, status, meaning) in crate::error::ERROR_CODES {
            table.push_str(&format!("| `{code}` | {status} | {meaning} |\n"));
        }
        if let Some(description) = &mut openapi.info.description {
            *description = description.replace("{{ERROR_CODES}}", table.trim_end());
        }
    }
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Every route of `/api/v1`.
pub fn configure(config: &mut ServiceConfig) {
    config
        .service(auth_api::login)
        .service(auth_api::refresh)
        .service(auth_api::logout)
        .service(auth_api::me)
        .service(auth_api::change_password)
        .service(tenants::list_tenants)
        .service(tenants::create_tenant)
        .service(tenants::get_tenant)
        .service(tenants::update_tenant)
        .service(tenants::delete_tenant)
        .service(users::list_users)
        .service(users::create_user)
        .service(users::get_user)
        .service(users::update_user)
        .service(users::delete_user)
        .service(audit_api::list_audit)
        .service(dids::list_dids)
        .service(dids::assign_did)
        .service(dids::get_did)
        .service(dids::update_did)
        .service(dids::delete_did)
        .service(recordings::list_recordings)
        .service(recordings::create_recording)
        .service(recordings::get_recording)
        .service(recordings::update_recording)
        .service(recordings::delete_recording)
        .service(nodes::list_nodes)
        .service(nodes::create_node)
        .service(nodes::get_node)
        .service(nodes::put_node)
        .service(nodes::delete_node)
        .service(calendars::calendar_days)
        .service(schedules::list_schedules)
        .service(schedules::check_schedule)
        .service(schedules::create_schedule)
        .service(schedules::get_schedule)
        .service(schedules::put_schedule)
        .service(schedules::delete_schedule)
        .service(flow_validation::validate_flow)
        .service(flow_validation::apply_changes)
        .service(flow_api::flow_state)
        .service(flow_api::publish)
        .service(flow_api::rollback)
        .service(flow_api::discard)
        .service(flow_api::list_versions)
        .service(flow_api::get_version)
        .service(flow_api::flow_diff)
        .service(simulate_api::simulate_call)
        .service(simulate_api::diagram_svg)
        .service(simulate_api::diagram_dot_file)
        .service(simulate_api::run_tests)
        .service(simulate_api::list_tests)
        .service(simulate_api::create_test)
        .service(simulate_api::get_test)
        .service(simulate_api::put_test)
        .service(simulate_api::delete_test)
        .service(crate::reports::aggregates::summary)
        .service(crate::reports::aggregates::by_status)
        .service(crate::reports::aggregates::by_cause)
        .service(crate::reports::aggregates::by_did)
        .service(crate::reports::aggregates::by_target)
        .service(crate::reports::aggregates::by_tenant)
        .service(crate::reports::aggregates::series)
        .service(crate::reports::funnel::funnel)
        .service(crate::reports::cdrs::search_cdrs)
        .service(crate::reports::cdrs::export_cdrs)
        .service(crate::reports::cdrs::orphan_cdrs)
        .service(crate::reports::calls::one_call)
        .service(crate::alerts::api::list_rules)
        .service(crate::alerts::api::create_rule)
        .service(crate::alerts::api::get_rule)
        .service(crate::alerts::api::put_rule)
        .service(crate::alerts::api::delete_rule)
        .service(crate::alerts::api::test_rule)
        .service(crate::alerts::api::list_events)
        .service(crate::alerts::api::list_deliveries)
        .service(crate::alerts::api::get_secret)
        .service(crate::alerts::api::rotate_secret);
}

pub fn api_scope() -> Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    utoipa_actix_web::scope("/api/v1").configure(configure)
}

/// The whole OpenAPI document, as `/api/openapi.json` serves it: the REST
/// API and the webhook (`crate::webhook::openapi`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa_actix_web::AppExt;
    let (_, api) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(api_scope())
        .split_for_parts();
    api
}

#[cfg(test)]
mod tests {
    /// Every field a tenant writes in a flow says what it means (in `/docs`).
    #[test]
    fn every_field_of_a_flow_has_a_description() {
        let document = serde_json::to_value(super::openapi()).expect("serialisable");
        let schemas = &document["components"]["schemas"];
        let described = |schema: &serde_json::Value| {
            let referenced = schema["$ref"]
                .as_str()
                .or(schema["allOf"][0]["$ref"].as_str())
                .or(schema["oneOf"][0]["$ref"].as_str())
                .and_then(|reference| reference.rsplit('/').next())
                .map(|name| &schemas[name]);
            schema.get("description").is_some()
                || schema["oneOf"][0].get("description").is_some()
                || referenced.is_some_and(|target| target.get("description").is_some())
        };
        let mut objects: Vec<(String, &serde_json::Value)> = schemas["Node"]["oneOf"]
            .as_array()
            .expect("Node is one of its kinds")
            .iter()
            .map(|kind| {
                (
                    format!("Node[{}]", kind["title"].as_str().unwrap_or("?")),
                    kind,
                )
            })
            .collect();
        for name in [
            "Menu",
            "Prompt",
            "DtmfRoute",
            "Rule",
            "Schedule",
            "OpeningHours",
            "Holiday",
            "EntryPoint",
            "FlowChanges",
            "RecordingInChanges",
            "RuleSpec",
        ] {
            objects.push((name.to_owned(), &schemas[name]));
        }
        assert_eq!(objects.len(), crate::flow::model::NODE_KINDS.len() + 11);
        let mut missing = Vec::new();
        for (name, object) in objects {
            let properties = object["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("schema {name} has properties"));
            for (field, schema) in properties {
                // `kind` is the tag: the kind's description says it all.
                if field != "kind" && !described(schema) {
                    missing.push(format!("{name}.{field}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "fields without a description: {missing:?}"
        );
    }
}
