//! The flow part of the admin API: DIDs, recordings, nodes, schedules,
//! validation on every write, `/flow/validate` and `/flow/changes` — driven
//! over HTTP, and heard through the webhook.

use ivrhub::voicenter::types::{Action, Encoding, IvrAnswer};
use serde_json::{Value, json};

use crate::api_client::{
    code, delete, get, patch, platform_admin, post, put, tenant_with_admin, user_with_role,
};
use crate::flow_changes::eventually;
use crate::harness::TestApp;
use crate::voicenter_client::Call;

pub(crate) const ACME_DID: &str = "0733000001";

/// The recordings every test flow plays.
const RECORDINGS: [&str; 6] = [
    "main_menu",
    "sales_menu",
    "goodbye",
    "closed",
    "invalid_choice",
    "connecting",
];

pub(crate) async fn add_recordings(app: &TestApp, token: &str) {
    for name in RECORDINGS {
        let body = json!({"name": name, "description": format!("says {name}")});
        let (status, body) = post(app, token, "/api/v1/recordings", body).await;
        assert_eq!(status, 201, "{body}");
    }
}

pub(crate) fn schedule() -> Value {
    // Open the whole day, every day (00:00-00:00), closed on one holiday far
    // away; open on Israeli rest days too, on purpose (said, so no warning).
    let hours: Vec<Value> = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        .iter()
        .map(|day| json!({"day": day, "opens": "00:00", "closes": "00:00"}))
        .collect();
    json!({"key": "office", "name": "Office hours", "hours": hours,
           "holidays": [{"date": "2099-09-21", "name": "Yom Kippur"}],
           "calendar": {"name": "israel", "rest_days": "usual"}})
}

/// The three levels, leaves first (a node may only name nodes that exist):
/// entry (rules) → main (menu) → sales (menu) → dial (call).
pub(crate) fn three_level_nodes() -> Vec<Value> {
    vec![
        json!({"key": "goodbye", "kind": "hangup", "rec": "goodbye", "cause": 16}),
        json!({"key": "closed", "kind": "hangup", "rec": "closed", "cause": 16}),
        json!({"key": "dial", "kind": "call", "target": "0501234567", "caller_rec": "connecting",
               "failover": "goodbye"}),
        json!({"key": "sales", "kind": "menu", "prompt": {"rec": "sales_menu", "loops": 2},
               "routes": [{"digits": "1", "target": "dial"}, {"digits": "9", "target": "goodbye"}],
               "retry_rec": "invalid_choice", "max_retries": 1, "on_exhausted": "goodbye"}),
        json!({"key": "main", "kind": "menu", "prompt": {"rec": "main_menu"},
               "routes": [{"digits": "1", "target": "sales"}, {"digits": "_[2-8]", "target": "goodbye"}],
               "on_exhausted": "goodbye"}),
        json!({"key": "entry", "kind": "rules", "rules": [
                  {"when": {"type": "holiday", "schedule": "office"}, "target": "closed"},
                  {"when": {"type": "open", "schedule": "office"}, "target": "main"}
               ], "default": "closed"}),
    ]
}

/// A tenant with its admin, recordings, schedule and the three-level flow,
/// built through the API; returns (tenant id, admin token).
pub(crate) async fn tenant_with_flow(app: &TestApp, platform: &str, name: &str) -> (i64, String) {
    let (tenant, admin) = tenant_with_admin(app, platform, name).await;
    add_recordings(app, &admin).await;
    let (status, body) = post(app, &admin, "/api/v1/schedules", schedule()).await;
    assert_eq!(status, 201, "{body}");
    for node in three_level_nodes() {
        let (status, body) = post(app, &admin, "/api/v1/nodes", node).await;
        assert_eq!(status, 201, "{body}");
    }
    (tenant, admin)
}

pub(crate) fn menu_of(answer: &IvrAnswer) -> (&str, &str) {
    match &answer.action {
        Action::Menu(menu) => (menu.rec.as_str(), menu.menu.as_str()),
        other => panic!("not a MENU: {other:?}"),
    }
}

/// The error details as (path, message) pairs.
pub(crate) fn details(body: &Value) -> Vec<(String, String)> {
    body["error"]["details"]
        .as_array()
        .unwrap_or_else(|| panic!("no details: {body}"))
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_owned(),
                d["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[track_caller]
pub(crate) fn assert_detail(body: &Value, path: &str, message_part: &str) {
    let details = details(body);
    assert!(
        details
            .iter()
            .any(|(p, m)| p == path && m.contains(message_part)),
        "no detail at {path} containing {message_part:?}: {body}"
    );
}

#[tokio::test]
async fn a_newcomer_builds_a_three_level_flow_and_hears_it() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant, admin) = tenant_with_admin(&app, &platform, "Acme").await;

    // The platform admin gives the tenant a number, with no entry yet.
    let (status, body) = post(
        &app,
        &platform,
        "/api/v1/dids",
        json!({"did": ACME_DID, "tenant_id": tenant}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["did"]["did"], ACME_DID);
    assert_eq!(body["did"]["entry_node"], Value::Null);

    // The tenant admin builds the flow: recordings, a schedule, the nodes.
    add_recordings(&app, &admin).await;
    let (status, body) = post(&app, &admin, "/api/v1/schedules", schedule()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["schedule"]["hours"][0]["opens"], "00:00:00");
    for node in three_level_nodes() {
        let key = node["key"].as_str().unwrap().to_owned();
        let (status, body) = post(&app, &admin, "/api/v1/nodes", node).await;
        assert_eq!(status, 201, "{key}: {body}");
        assert_eq!(body["node"]["key"], key.as_str());
        assert_eq!(body["issues"], json!([]), "no DID enters yet: no warnings");
    }
    let (status, body) = get(&app, &admin, "/api/v1/nodes/sales").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["prompt"],
        json!({"rec": "sales_menu", "loops": 2, "delay": 0})
    );
    assert_eq!(body["max_digits"], 1, "defaults are filled in");

    // ... and points its number at the entry.
    let (status, body) = patch(
        &app,
        &admin,
        &format!("/api/v1/dids/{ACME_DID}"),
        json!({"entry_node": "entry", "language": "en"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["did"]["entry_node"], "entry");
    assert_eq!(body["issues"], json!([]), "every node is reachable");
    let (status, body) = post(&app, &admin, "/api/v1/flow/validate", json!({})).await;
    assert_eq!((status, &body["valid"]), (200, &json!(true)), "{body}");

    // Nothing is published yet: callers get the safe answer.
    let mut call = Call::new(&app, Encoding::Json, "newcomer-call-0000000000000000001");
    call.did = ACME_DID.into();
    assert!(matches!(
        call.step("-1", "").await.action,
        Action::Hangup(_)
    ));
    let (_, state) = get(&app, &admin, "/api/v1/flow").await;
    assert_eq!(state["live"], Value::Null);
    assert_eq!(state["draft_differs_from_live"], true);
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/flow/publish",
        json!({"message": "first flow", "draft_revision": state["draft_revision"]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["version"], 1);

    // A call follows it: entry (rules, open) → main → 1 → sales → 1 → dial.
    let first = eventually(
        || call.step("-1", ""),
        |answer| matches!(&answer.action, Action::Menu(m) if m.rec == "main_menu"),
    )
    .await;
    let (rec, main_menu) = menu_of(&first);
    assert_eq!(rec, "main_menu", "{first:?}");
    assert_eq!(main_menu, "main~v1");
    assert_eq!(first.language.as_str(), "en", "the DID's language");
    let second = call.step(main_menu, "1").await;
    let (rec, sales_menu) = menu_of(&second);
    assert_eq!(rec, "sales_menu");
    let sales_menu = sales_menu.to_owned();
    let Action::Call(dial) = call.step(&sales_menu, "1").await.action else {
        panic!("1 in sales dials");
    };
    assert_eq!(dial.target, "0501234567");

    // An edit through the API: 1 in sales now says good-bye. It goes to
    // the draft: no caller hears it.
    let mut sales = three_level_nodes()[3].clone();
    sales["routes"][0]["target"] = json!("goodbye");
    let (status, body) = put(&app, &admin, "/api/v1/nodes/sales", sales).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["issues"],
        json!([{"severity": "warning", "path": "nodes.dial", "message": "no DID's entry node leads here"}]),
        "dial is now unreachable: a warning, not a refusal"
    );
    assert!(matches!(
        call.step(&sales_menu, "1").await.action,
        Action::Call(_)
    ));
    // Published: the call in progress stays on version 1 (it still dials);
    // a new call hears version 2.
    let revision = body["draft_revision"].clone();
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/flow/publish",
        json!({"message": "1 in sales says good-bye", "draft_revision": revision}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["version"], 2);
    let mut later = Call::new(&app, Encoding::Json, "newcomer-call-0000000000000000002");
    later.did = ACME_DID.into();
    let start = eventually(
        || later.step("-1", ""),
        |answer| matches!(&answer.action, Action::Menu(m) if m.menu == "main~v2"),
    )
    .await;
    let (_, main_v2) = menu_of(&start);
    let sales_answer = later.step(main_v2, "1").await;
    let sales_v2 = menu_of(&sales_answer).1.to_owned();
    let Action::Hangup(hangup) = later.step(&sales_v2, "1").await.action else {
        panic!("version 2 says good-bye");
    };
    assert_eq!(hangup.rec.as_deref(), Some("goodbye"));
    assert!(
        matches!(call.step(&sales_menu, "1").await.action, Action::Call(_)),
        "the call that started on version 1 finishes on it"
    );
}

#[tokio::test]
async fn invalid_writes_are_refused_with_every_problem_and_nothing_written() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (_, admin) = tenant_with_flow(&app, &platform, "Refusals").await;
    let menu = |extra: Value| {
        let mut node = json!({"key": "m", "kind": "menu", "prompt": {"rec": "main_menu"}});
        node.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        node
    };

    // A dangling route target.
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/nodes",
        menu(json!({"routes": [{"digits": "1", "target": "nowhere"}]})),
    )
    .await;
    assert_eq!((status, code(&body)), (422, "validation_failed"), "{body}");
    assert_eq!(
        details(&body),
        [(
            "nodes.m.routes[0].target".to_owned(),
            "no node \"nowhere\"".to_owned()
        )]
    );

    // An out-of-range LOOP and a missing recording, both reported.
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/nodes",
        menu(json!({"prompt": {"rec": "no_such_recording", "loops": 11}})),
    )
    .await;
    assert_eq!((status, code(&body)), (422, "validation_failed"), "{body}");
    assert_detail(&body, "nodes.m.prompt.loops", "11 is out of range 1..=10");
    assert_detail(
        &body,
        "nodes.m.prompt.rec",
        "no recording \"no_such_recording\"",
    );
    assert_eq!(details(&body).len(), 2, "{body}");

    // Out-of-range fields of other kinds.
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/nodes",
        json!({"key": "c", "kind": "call", "target": "050", "max_call_secs": 0}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "nodes.c.max_call_secs", "out of range 1..=86400");

    // A rule loop: a → b → a (each write alone would be fine).
    let rules = |key: &str, default: &str| {
        json!({"key": key, "kind": "rules",
               "rules": [{"when": {"type": "caller_hidden"}, "target": "goodbye"}], "default": default})
    };
    let (status, body) = post(&app, &admin, "/api/v1/nodes", rules("a", "goodbye")).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = post(&app, &admin, "/api/v1/nodes", rules("b", "a")).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = put(&app, &admin, "/api/v1/nodes/a", rules("a", "b")).await;
    assert_eq!((status, code(&body)), (422, "validation_failed"), "{body}");
    assert_eq!(
        details(&body),
        [(
            "nodes.a".to_owned(),
            "rule loop: a → b → a; rules must end at a node that answers".to_owned()
        )]
    );
    let (_, stored) = get(&app, &admin, "/api/v1/nodes/a").await;
    assert_eq!(
        stored["default"], "goodbye",
        "the refused write left no trace"
    );

    // Unknown fields and wrong types: 422 with the path.
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/nodes",
        menu(json!({"routes": [{"digits": "1", "target": "main", "colour": "red"}]})),
    )
    .await;
    assert_eq!((status, code(&body)), (422, "validation_failed"), "{body}");
    assert_detail(&body, "routes[0].colour", "unknown field `colour`");
    let (status, body) = post(&app, &admin, "/api/v1/nodes", menu(json!({"size": 2}))).await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "size", "unknown field `size`");
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/nodes",
        menu(json!({"max_digits": "two"})),
    )
    .await;
    assert_eq!((status, code(&body)), (422, "validation_failed"), "{body}");
    assert_detail(&body, "max_digits", "invalid type");
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/nodes",
        json!({"key": "x", "kind": "teleport"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "kind", "unknown kind");
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/schedules",
        json!({"key": "s", "name": "S", "hours": [{"day": "Mon", "opens": "9am", "closes": "17:00"}]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "hours[0].opens", "");

    // A bad key, a key that differs from the path's.
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/nodes",
        json!({"key": "a b", "kind": "hangup"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "nodes.a b.key", "is not a valid key");
    let (status, body) = put(
        &app,
        &admin,
        "/api/v1/nodes/goodbye",
        json!({"key": "ciao", "kind": "hangup"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "key", "must be \"goodbye\"");

    // A schedule used by a rule cannot become invalid either.
    let mut broken = schedule();
    broken["hours"] = json!([{"day": "Mon", "opens": "09:00", "closes": "09:00"}]);
    let (status, body) = put(&app, &admin, "/api/v1/schedules/office", broken).await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "schedules.office.hours[0]", "never open");

    // Nothing of it was written.
    for key in ["m", "c", "x", "a b"] {
        let (status, _) = get(&app, &admin, &format!("/api/v1/nodes/{key}")).await;
        assert_eq!(status, 404, "{key}");
    }
    let (_, body) = post(&app, &admin, "/api/v1/flow/validate", json!({})).await;
    assert_eq!(body["valid"], true, "{body}");
}

#[tokio::test]
async fn did_entries_and_assignments_are_checked() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant, admin) = tenant_with_flow(&app, &platform, "Numbers").await;
    let (other, _) = tenant_with_admin(&app, &platform, "Elsewhere").await;

    let assign = |body: Value| post(&app, &platform, "/api/v1/dids", body);
    let (status, body) =
        assign(json!({"did": ACME_DID, "tenant_id": tenant, "entry_node": "nope"})).await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "entry_node", "no node \"nope\"");
    let (status, body) = assign(json!({"did": "07x", "tenant_id": tenant})).await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "did", "0-9");
    let (status, body) = assign(json!({"did": ACME_DID, "tenant_id": 999_999})).await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "tenant_id", "no tenant");
    let (status, body) =
        assign(json!({"did": ACME_DID, "tenant_id": tenant, "entry_node": "entry"})).await;
    assert_eq!(status, 201, "{body}");
    // Taken, by this tenant or any other.
    for owner in [tenant, other] {
        let (status, body) = assign(json!({"did": ACME_DID, "tenant_id": owner})).await;
        assert_eq!((status, code(&body)), (409, "conflict"), "{body}");
    }
    // Tenant admins do not assign numbers.
    let (status, _) = post(
        &app,
        &admin,
        "/api/v1/dids",
        json!({"did": "0733999999", "tenant_id": tenant}),
    )
    .await;
    assert_eq!(status, 403);

    let path = format!("/api/v1/dids/{ACME_DID}");
    let (status, body) = patch(&app, &admin, &path, json!({"entry_node": "gone"})).await;
    assert_eq!((status, code(&body)), (422, "validation_failed"), "{body}");
    assert_eq!(
        details(&body),
        [(
            "entry_node".to_owned(),
            "no node \"gone\" in the tenant's flow".to_owned()
        )]
    );
    let (status, body) = patch(&app, &admin, &path, json!({"entry": "main"})).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = patch(&app, &admin, &path, json!({"entry_node": "main"})).await;
    assert_eq!(status, 200, "{body}");
    assert_detail(
        &json!({"error": {"details": body["issues"]}}),
        "nodes.entry",
        "no DID's entry node leads here",
    );
    let (status, body) = patch(
        &app,
        &admin,
        &path,
        json!({"entry_node": null, "language": null}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["did"]["entry_node"], Value::Null);

    // Lists: the platform admin sees every number (or one tenant's), a tenant its own.
    let (status, body) = post(
        &app,
        &platform,
        "/api/v1/dids",
        json!({"did": "0739999999", "tenant_id": other}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let numbers = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["did"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, body) = get(&app, &platform, "/api/v1/dids").await;
    assert_eq!(numbers(&body), [ACME_DID, "0739999999"]);
    let (_, body) = get(&app, &platform, &format!("/api/v1/dids?tenant_id={other}")).await;
    assert_eq!(numbers(&body), ["0739999999"]);
    let (_, body) = get(&app, &admin, "/api/v1/dids").await;
    assert_eq!(numbers(&body), [ACME_DID]);
    let (status, _) = get(&app, &platform, "/api/v1/dids/0739999999").await;
    assert_eq!(status, 200);

    // Taking a number back.
    let (status, _) = delete(&app, &admin, &path).await;
    assert_eq!(status, 403);
    let (status, body) = delete(&app, &platform, &path).await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = delete(&app, &platform, &path).await;
    assert_eq!(status, 404);
    let (status, _) = get(&app, &admin, &path).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn deleting_what_is_still_used_names_every_referrer() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant, admin) = tenant_with_flow(&app, &platform, "Referrers").await;
    let (status, body) = post(
        &app,
        &platform,
        "/api/v1/dids",
        json!({"did": ACME_DID, "tenant_id": tenant, "entry_node": "main"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // main is led to by entry's rule, and a DID enters there.
    let (status, body) = delete(&app, &admin, "/api/v1/nodes/main").await;
    assert_eq!((status, code(&body)), (409, "conflict"), "{body}");
    assert_eq!(
        details(&body),
        [
            (
                "nodes.entry".to_owned(),
                "node \"entry\" leads to \"main\"".to_owned()
            ),
            (
                format!("dids.{ACME_DID}.entry_node"),
                format!("DID {ACME_DID} enters the flow at \"main\"")
            ),
        ]
    );
    // goodbye: by every node that leads there.
    let (status, body) = delete(&app, &admin, "/api/v1/nodes/goodbye").await;
    assert_eq!(status, 409);
    let referrers: Vec<String> = details(&body).into_iter().map(|(path, _)| path).collect();
    assert_eq!(referrers, ["nodes.dial", "nodes.main", "nodes.sales"]);
    // The schedule, by the rule node; a recording, by the field that plays it.
    let (status, body) = delete(&app, &admin, "/api/v1/schedules/office").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        details(&body),
        [(
            "nodes.entry".to_owned(),
            "node \"entry\" uses schedule \"office\"".to_owned()
        )]
    );
    let (status, body) = delete(&app, &admin, "/api/v1/recordings/invalid_choice").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        details(&body),
        [(
            "nodes.sales.retry_rec".to_owned(),
            "node \"sales\" plays \"invalid_choice\"".to_owned()
        )]
    );

    // Unused: gone at once; unknown: 404.
    let (status, body) = delete(&app, &admin, "/api/v1/nodes/entry").await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = delete(&app, &admin, "/api/v1/schedules/office").await;
    assert_eq!(status, 204);
    let (status, _) = get(&app, &admin, "/api/v1/schedules/office").await;
    assert_eq!(status, 404);
    let (status, _) = delete(&app, &admin, "/api/v1/nodes/entry").await;
    assert_eq!(status, 404);
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/recordings",
        json!({"name": "unused", "language": "he"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/recordings",
        json!({"name": "unused"}),
    )
    .await;
    assert_eq!((status, code(&body)), (409, "conflict"));
    let (status, body) = patch(
        &app,
        &admin,
        "/api/v1/recordings/unused",
        json!({"description": "not played", "language": null}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["description"], "not played");
    assert_eq!(body["language"], Value::Null);
    let (status, _) = delete(&app, &admin, "/api/v1/recordings/unused").await;
    assert_eq!(status, 204);
    let (status, _) = delete(&app, &admin, "/api/v1/recordings/unused").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn another_tenants_objects_do_not_exist() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant_a, admin_a) = tenant_with_flow(&app, &platform, "Alpha").await;
    let (_, admin_b) = tenant_with_admin(&app, &platform, "Beta").await;
    let (status, _) = post(
        &app,
        &platform,
        "/api/v1/dids",
        json!({"did": ACME_DID, "tenant_id": tenant_a, "entry_node": "entry"}),
    )
    .await;
    assert_eq!(status, 201);

    // B reads, changes and deletes A's objects by key: nothing there.
    let did = format!("/api/v1/dids/{ACME_DID}");
    for path in [
        "/api/v1/nodes/main",
        "/api/v1/schedules/office",
        "/api/v1/recordings/main_menu",
        did.as_str(),
    ] {
        let (status, body) = get(&app, &admin_b, path).await;
        assert_eq!((status, code(&body)), (404, "not_found"), "GET {path}");
    }
    for (path, body) in [
        (
            "/api/v1/recordings/main_menu",
            json!({"description": "mine now"}),
        ),
        (did.as_str(), json!({"entry_node": null})),
    ] {
        let (status, body) = patch(&app, &admin_b, path, body).await;
        assert_eq!((status, code(&body)), (404, "not_found"), "PATCH {path}");
    }
    for path in [
        "/api/v1/nodes/main",
        "/api/v1/schedules/office",
        "/api/v1/recordings/main_menu",
    ] {
        let (status, body) = delete(&app, &admin_b, path).await;
        assert_eq!((status, code(&body)), (404, "not_found"), "DELETE {path}");
    }
    // Numbers are taken away by platform admins only.
    let (status, _) = delete(&app, &admin_b, &did).await;
    assert_eq!(status, 403);
    // Naming A's tenant explicitly: 404 on every endpoint.
    let q = format!("?tenant_id={tenant_a}");
    for path in [
        "/api/v1/nodes",
        "/api/v1/nodes/main",
        "/api/v1/schedules",
        "/api/v1/schedules/office",
        "/api/v1/recordings",
        "/api/v1/recordings/main_menu",
        "/api/v1/dids",
        did.as_str(),
    ] {
        let (status, _) = get(&app, &admin_b, &format!("{path}{q}")).await;
        assert_eq!(status, 404, "GET {path}{q}");
    }
    let (status, _) = post(
        &app,
        &admin_b,
        &format!("/api/v1/flow/validate{q}"),
        json!({}),
    )
    .await;
    assert_eq!(status, 404);
    let hangup = json!({"key": "main", "kind": "hangup"});
    for (status, body) in [
        put(
            &app,
            &admin_b,
            &format!("/api/v1/nodes/main{q}"),
            hangup.clone(),
        )
        .await,
        post(&app, &admin_b, &format!("/api/v1/nodes{q}"), hangup.clone()).await,
        post(
            &app,
            &admin_b,
            &format!("/api/v1/flow/changes{q}"),
            json!({"delete_nodes": ["main"]}),
        )
        .await,
        delete(&app, &admin_b, &format!("/api/v1/nodes/main{q}")).await,
        delete(&app, &admin_b, &format!("/api/v1/schedules/office{q}")).await,
        patch(
            &app,
            &admin_b,
            &format!("{did}{q}"),
            json!({"entry_node": null}),
        )
        .await,
    ] {
        assert_eq!((status, code(&body)), (404, "not_found"), "{body}");
    }
    // B's own namespace is B's: a PUT of "main" creates B's node, A's is untouched.
    let (status, body) = put(&app, &admin_b, "/api/v1/nodes/main", hangup).await;
    assert_eq!(status, 201, "{body}");
    let (_, a_main) = get(&app, &admin_a, "/api/v1/nodes/main").await;
    assert_eq!(a_main["kind"], "menu");
    let (_, b_nodes) = get(&app, &admin_b, "/api/v1/nodes").await;
    assert_eq!(b_nodes["items"].as_array().unwrap().len(), 1, "{b_nodes}");
    for path in ["/api/v1/schedules", "/api/v1/recordings", "/api/v1/dids"] {
        let (status, body) = get(&app, &admin_b, path).await;
        assert_eq!(status, 200);
        assert_eq!(body["items"], json!([]), "{path}: {body}");
    }
    let (_, a_recording) = get(&app, &admin_a, "/api/v1/recordings/main_menu").await;
    assert_eq!(a_recording["description"], "says main_menu");
    let (_, a_did) = get(&app, &admin_a, &did).await;
    assert_eq!(a_did["entry_node"], "entry");
}

#[tokio::test]
async fn viewers_read_everything_and_change_nothing() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant, admin) = tenant_with_flow(&app, &platform, "Roles").await;
    let (status, _) = post(
        &app,
        &platform,
        "/api/v1/dids",
        json!({"did": ACME_DID, "tenant_id": tenant, "entry_node": "entry"}),
    )
    .await;
    assert_eq!(status, 201);
    let viewer = user_with_role(&app, &admin, "viewer@roles.example", "viewer").await;
    let editor = user_with_role(&app, &admin, "editor@roles.example", "editor").await;
    let did = format!("/api/v1/dids/{ACME_DID}");

    for path in [
        "/api/v1/nodes",
        "/api/v1/nodes/main",
        "/api/v1/schedules",
        "/api/v1/schedules/office",
        "/api/v1/recordings",
        "/api/v1/recordings/main_menu",
        "/api/v1/dids",
        did.as_str(),
    ] {
        let (status, body) = get(&app, &viewer, path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
    }
    let (status, body) = post(&app, &viewer, "/api/v1/flow/validate", json!({})).await;
    assert_eq!((status, &body["valid"]), (200, &json!(true)), "{body}");

    let hangup = json!({"key": "bye2", "kind": "hangup", "rec": "goodbye"});
    let writes = [
        post(&app, &viewer, "/api/v1/nodes", hangup.clone()).await,
        put(&app, &viewer, "/api/v1/nodes/bye2", hangup.clone()).await,
        delete(&app, &viewer, "/api/v1/nodes/dial").await,
        post(
            &app,
            &viewer,
            "/api/v1/schedules",
            json!({"key": "s2", "name": "S"}),
        )
        .await,
        put(&app, &viewer, "/api/v1/schedules/office", schedule()).await,
        delete(&app, &viewer, "/api/v1/schedules/office").await,
        post(&app, &viewer, "/api/v1/recordings", json!({"name": "r2"})).await,
        patch(
            &app,
            &viewer,
            "/api/v1/recordings/goodbye",
            json!({"description": "x"}),
        )
        .await,
        delete(&app, &viewer, "/api/v1/recordings/goodbye").await,
        patch(&app, &viewer, &did, json!({"entry_node": "main"})).await,
        post(
            &app,
            &viewer,
            "/api/v1/flow/changes",
            json!({"nodes": [hangup.clone()]}),
        )
        .await,
        post(
            &app,
            &viewer,
            "/api/v1/dids",
            json!({"did": "0730000009", "tenant_id": tenant}),
        )
        .await,
        delete(&app, &viewer, &did).await,
    ];
    for (index, (status, body)) in writes.iter().enumerate() {
        assert_eq!(
            (*status, code(body)),
            (403, "forbidden"),
            "write #{index}: {body}"
        );
    }
    // An editor may.
    let (status, body) = post(&app, &editor, "/api/v1/nodes", hangup).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = patch(&app, &editor, &did, json!({"entry_node": "main"})).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn lists_are_paginated_by_key() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (_, admin) = tenant_with_admin(&app, &platform, "Pages").await;
    for index in 0..5 {
        let node = json!({"key": format!("n{index}"), "kind": "hangup", "cause": 16});
        let (status, body) = post(&app, &admin, "/api/v1/nodes", node).await;
        assert_eq!(status, 201, "{body}");
    }
    let mut keys = Vec::new();
    let mut path = "/api/v1/nodes?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (status, body) = get(&app, &admin, &path).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        keys.extend(items.iter().map(|n| n["key"].as_str().unwrap().to_owned()));
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/nodes?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(keys, ["n0", "n1", "n2", "n3", "n4"]);
    assert_eq!(pages, 3);
    for bad in ["limit=0", "limit=201", "limit=-1", "limit=ten", "cursor=!!"] {
        let (status, body) = get(&app, &admin, &format!("/api/v1/nodes?{bad}")).await;
        assert_eq!((status, code(&body)), (400, "bad_request"), "{bad}: {body}");
    }
    let (status, body) = get(&app, &admin, "/api/v1/recordings?limit=201").await;
    assert_eq!((status, code(&body)), (400, "bad_request"));
    assert_detail(&body, "limit", "between 1 and 200");
    let (status, body) = get(&app, &admin, "/api/v1/nodes?limit=200").await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 5);
    assert!(body.get("next_cursor").is_none());
}

#[tokio::test]
async fn the_audit_log_shows_a_node_before_and_after_its_edit() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (_, admin) = tenant_with_flow(&app, &platform, "Audited").await;
    let edited = json!({"key": "closed", "kind": "hangup", "rec": "goodbye", "cause": 17});
    let (status, body) = put(&app, &admin, "/api/v1/nodes/closed", edited).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&app, &admin, "/api/v1/audit?limit=1").await;
    assert_eq!(status, 200, "{body}");
    let entry = &body["items"][0];
    assert_eq!(entry["action"], "update");
    assert_eq!(entry["object_type"], "node");
    assert_eq!(entry["object_id"], "closed");
    assert_eq!(entry["actor_email"], "admin@audited.example");
    assert_eq!(
        entry["before"],
        json!({"key": "closed", "kind": "hangup", "rec": "closed", "cause": 16})
    );
    assert_eq!(
        entry["after"],
        json!({"key": "closed", "kind": "hangup", "rec": "goodbye", "cause": 17})
    );
    // The creations before it were recorded too, and a deletion keeps the last state.
    let (status, _) = delete(&app, &admin, "/api/v1/nodes/entry").await;
    assert_eq!(status, 204);
    let (_, body) = get(&app, &admin, "/api/v1/audit?limit=200").await;
    let entries = body["items"].as_array().unwrap();
    assert_eq!(entries[0]["action"], "delete");
    assert_eq!(entries[0]["before"]["kind"], "rules");
    assert_eq!(entries[0]["after"], Value::Null);
    let created: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e["action"] == "create")
        .map(|e| {
            (
                e["object_type"].as_str().unwrap(),
                e["object_id"].as_str().unwrap(),
            )
        })
        .collect();
    for expected in [
        ("node", "main"),
        ("schedule", "office"),
        ("recording", "goodbye"),
    ] {
        assert!(
            created.contains(&expected),
            "{expected:?} not in {created:?}"
        );
    }
}

#[tokio::test]
async fn changes_to_several_nodes_are_validated_and_written_together() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (_, admin) = tenant_with_admin(&app, &platform, "Batch").await;
    add_recordings(&app, &admin).await;
    // main and sales lead to each other: impossible one node at a time.
    let cycle = json!({"nodes": [
        {"key": "main", "kind": "menu", "prompt": {"rec": "main_menu"},
         "routes": [{"digits": "1", "target": "sales"}]},
        {"key": "sales", "kind": "menu", "prompt": {"rec": "sales_menu"},
         "routes": [{"digits": "0", "target": "main"}]}
    ]});
    let (status, body) = post(&app, &admin, "/api/v1/nodes", cycle["nodes"][0].clone()).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = post(&app, &admin, "/api/v1/flow/validate", cycle.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"valid": true, "issues": []}));
    let (status, body) = get(&app, &admin, "/api/v1/nodes").await;
    assert_eq!(
        (status, &body["items"]),
        (200, &json!([])),
        "validate wrote nothing"
    );
    let (status, body) = post(&app, &admin, "/api/v1/flow/changes", cycle).await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = get(&app, &admin, "/api/v1/nodes").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 2);

    // A batch that would break the flow is refused whole.
    let breaking = json!({
        "nodes": [{"key": "extra", "kind": "hangup", "rec": "goodbye"}],
        "delete_nodes": ["sales"]
    });
    let (status, body) = post(&app, &admin, "/api/v1/flow/validate", breaking.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(body["valid"], false);
    assert_eq!(
        body["issues"],
        json!([{"severity": "error", "path": "nodes.main.routes[0].target", "message": "no node \"sales\""}])
    );
    // Deleting what the result still uses is a 409 naming every user, as
    // through DELETE /nodes/{key}.
    let (status, body) = post(&app, &admin, "/api/v1/flow/changes", breaking).await;
    assert_eq!((status, code(&body)), (409, "conflict"), "{body}");
    assert_eq!(
        details(&body),
        [(
            "nodes.main".to_owned(),
            "node \"main\" leads to \"sales\"".to_owned()
        )]
    );
    let (status, _) = get(&app, &admin, "/api/v1/nodes/extra").await;
    assert_eq!(status, 404, "nothing of a refused batch is written");

    // Contradictions and deleting what is not there.
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/flow/changes",
        json!({"nodes": [{"key": "x", "kind": "hangup"}, {"key": "x", "kind": "hangup"}],
               "delete_schedules": ["nope"]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "nodes[1].key", "listed twice");
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/flow/changes",
        json!({"delete_schedules": ["nope"]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "delete_schedules[0]", "no schedule \"nope\"");
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/flow/changes",
        json!({"nodes": [{"key": "x", "kind": "hangup", "mood": "calm"}]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "nodes[0].mood", "unknown field `mood`");
    // No body at all: the current flow is checked.
    let response = app
        .http
        .post(format!("{}/api/v1/flow/validate", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["valid"], true, "{body}");
    let (status, body) = post(&app, &admin, "/api/v1/flow/validate", Value::Null).await;
    assert_eq!((status, &body["valid"]), (200, &json!(true)), "{body}");
}

#[tokio::test]
async fn concurrent_writes_cannot_jointly_break_the_flow() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (_, admin) = tenant_with_admin(&app, &platform, "Racers").await;
    let (status, _) = post(
        &app,
        &admin,
        "/api/v1/nodes",
        json!({"key": "end", "kind": "hangup"}),
    )
    .await;
    assert_eq!(status, 201);
    let rules = |key: &str, default: &str| {
        json!({"key": key, "kind": "rules",
               "rules": [{"when": {"type": "caller_hidden"}, "target": "end"}], "default": default})
    };
    // Each round: a → end and b → end, then at the same time a → b and b → a.
    // Each write alone is fine; both together are a rule loop. One must lose.
    for round in 0..8 {
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        for key in [&a, &b] {
            let (status, body) = post(&app, &admin, "/api/v1/nodes", rules(key, "end")).await;
            assert_eq!(status, 201, "{body}");
        }
        let (path_a, path_b) = (format!("/api/v1/nodes/{a}"), format!("/api/v1/nodes/{b}"));
        let ((status_a, body_a), (status_b, body_b)) = tokio::join!(
            put(&app, &admin, &path_a, rules(&a, &b)),
            put(&app, &admin, &path_b, rules(&b, &a)),
        );
        let mut statuses = [status_a, status_b];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 422], "round {round}: {body_a} / {body_b}");
    }
    let (status, body) = post(&app, &admin, "/api/v1/flow/validate", json!({})).await;
    assert_eq!((status, &body["valid"]), (200, &json!(true)), "{body}");
}

#[tokio::test]
async fn hostile_keys_cursors_and_strings_are_refused_cleanly() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant, admin) = tenant_with_admin(&app, &platform, "Hostile").await;
    // PostgreSQL cannot hold NUL in text: never a 500 for it.
    for path in [
        "/api/v1/nodes/a%00b",
        "/api/v1/schedules/a%00b",
        "/api/v1/recordings/a%00b",
        "/api/v1/dids/07%003",
    ] {
        let (status, body) = get(&app, &admin, path).await;
        assert_eq!(status, 404, "GET {path}: {body}");
        let (status, body) = delete(&app, &admin, path).await;
        assert!(
            status == 404 || status == 403,
            "DELETE {path}: {status} {body}"
        );
    }
    let nul_cursor = "AGE"; // base64url of "\0a"
    for list in ["nodes", "schedules", "recordings", "dids"] {
        let (status, body) =
            get(&app, &admin, &format!("/api/v1/{list}?cursor={nul_cursor}")).await;
        assert_eq!(
            (status, code(&body)),
            (400, "bad_request"),
            "{list}: {body}"
        );
    }
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/nodes",
        json!({"key": "c", "kind": "call", "target": "050", "caller_name": "a\u{0}b"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "nodes.c.caller_name", "NUL");
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/recordings",
        json!({"name": "r", "description": "a\u{0}b"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "description", "NUL");
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/schedules",
        json!({"key": "s", "name": "x".repeat(201)}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "schedules.s.name", "longer than 200");
    let (status, body) = post(&app, &admin, "/api/v1/recordings", json!({"name": "a/b"})).await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "name", "`/`");
    // Platform admins name the tenant; without it they are told so.
    let (status, body) = get(&app, &platform, "/api/v1/nodes").await;
    assert_eq!(status, 400, "{body}");
    assert_detail(&body, "tenant_id", "?tenant_id=");
    let (status, body) = post(
        &app,
        &platform,
        &format!("/api/v1/nodes?tenant_id={tenant}"),
        json!({"key": "bye", "kind": "hangup"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = get(&app, &admin, "/api/v1/nodes/bye").await;
    assert_eq!(status, 200, "{body}");
}

/// A whole flow in one request, in any order: recordings, a schedule, nodes
/// that name each other, the number's entry; published, it answers.
#[tokio::test]
async fn a_whole_flow_goes_in_as_one_change_set() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant, admin) = tenant_with_admin(&app, &platform, "Whole").await;
    let (status, body) = post(
        &app,
        &platform,
        "/api/v1/dids",
        json!({"did": ACME_DID, "tenant_id": tenant}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let changes = json!({
        "entries": [{"did": ACME_DID, "entry_node": "entry", "language": "he"}],
        "nodes": [
            {"key": "entry", "kind": "rules", "rules": [
                {"when": {"type": "open", "schedule": "shop"}, "target": "main"}
            ], "default": "goodbye"},
            {"key": "main", "kind": "menu", "prompt": {"rec": "main_menu"},
             "routes": [{"digits": "1", "target": "shop"}], "on_exhausted": "goodbye"},
            {"key": "shop", "kind": "call", "target": "0501234567", "failover": "main"},
            {"key": "goodbye", "kind": "hangup", "rec": "goodbye", "cause": 16}
        ],
        "schedules": [{"key": "shop", "name": "Shop", "hours": [
            {"day": "Sun", "opens": "00:00", "closes": "24:00"}, {"day": "Mon", "opens": "00:00", "closes": "24:00"},
            {"day": "Tue", "opens": "00:00", "closes": "24:00"}, {"day": "Wed", "opens": "00:00", "closes": "24:00"},
            {"day": "Thu", "opens": "00:00", "closes": "24:00"}, {"day": "Fri", "opens": "00:00", "closes": "24:00"},
            {"day": "Sat", "opens": "00:00", "closes": "24:00"}
        ], "calendar": {"name": "israel"}}],
        "recordings": [{"name": "main_menu", "description": "1 shop"}, {"name": "goodbye"}]
    });
    // Refusals first: a number that is not the tenant's, a bad recording.
    let mut bad = changes.clone();
    bad["entries"][0]["did"] = json!("0739999999");
    bad["recordings"][1]["name"] = json!("");
    let (status, body) = post(&app, &admin, "/api/v1/flow/changes", bad).await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "recordings[1].name", "1 to 200 characters");
    let mut bad = changes.clone();
    bad["entries"][0]["did"] = json!("0739999999");
    let (status, body) = post(&app, &admin, "/api/v1/flow/changes", bad).await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "entries[0].did", "no DID of the tenant");
    let (_, recordings) = get(&app, &admin, "/api/v1/recordings").await;
    assert_eq!(
        recordings["items"],
        json!([]),
        "nothing of a refused change set is written"
    );

    let (status, body) = post(&app, &admin, "/api/v1/flow/changes", changes).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["issues"], json!([]), "{body}");
    let (_, recordings) = get(&app, &admin, "/api/v1/recordings").await;
    assert_eq!(recordings["items"].as_array().unwrap().len(), 2);
    let (_, state) = get(&app, &admin, "/api/v1/flow").await;
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/flow/publish",
        json!({"message": "the whole flow", "draft_revision": state["draft_revision"]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let mut call = Call::new(&app, Encoding::Json, "whole-flow-00000000000000000001");
    call.did = ACME_DID.into();
    let answer = eventually(
        || call.step("-1", ""),
        |a| matches!(&a.action, Action::Menu(m) if m.rec == "main_menu"),
    )
    .await;
    assert_eq!(menu_of(&answer), ("main_menu", "main~v1"));
}
