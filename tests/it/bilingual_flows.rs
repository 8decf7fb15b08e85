//! Flows a tenant can write (issue 10): one node for every language,
//! announcements, a goodbye that speaks, and the calls the IVR ended told
//! apart in the funnel. Real HTTP, real webhook requests, real PostgreSQL.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use ivrhub::voicenter::types::{Action, Encoding, IvrAnswer, Language};

use crate::api_client::{get, platform_admin, post, tenant_with_admin};
use crate::api_flows::assert_detail;
use crate::flow_changes::eventually;
use crate::harness::TestApp;
use crate::voicenter_client::{CALLER, Call};

/// The number the documented change set gives an entry to.
const DOCUMENTED_DID: &str = "0733000000";

async fn assign(app: &TestApp, platform: &str, did: &str, tenant: i64) {
    let (status, body) = post(
        app,
        platform,
        "/api/v1/dids",
        json!({"did": did, "tenant_id": tenant}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

async fn publish(app: &TestApp, admin: &str, message: &str) -> Value {
    let (_, state) = get(app, admin, "/api/v1/flow").await;
    let (status, body) = post(
        app,
        admin,
        "/api/v1/flow/publish",
        json!({"message": message, "draft_revision": state["draft_revision"]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body
}

/// The `REC` of every step of a transcript, in order (`-` for no REC).
fn recs(transcript: &Value) -> Vec<String> {
    transcript["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            let answer: Value = serde_json::from_str(step["answer"].as_str().unwrap()).unwrap();
            let data = &answer["DATA"];
            data["REC"]
                .as_str()
                .or(data["HANGUP_REC"].as_str())
                .unwrap_or("-")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_documented_change_set_is_a_bilingual_menu_with_hours_first_try() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant, admin) = tenant_with_admin(&app, &platform, "Pizzeria").await;
    assign(&app, &platform, DOCUMENTED_DID, tenant).await;
    // What a newcomer copies from /docs: the first example of /flow/changes.
    let (status, openapi) = get(&app, &admin, "/api/openapi.json").await;
    assert_eq!(status, 200);
    let example = openapi["components"]["schemas"]["FlowChanges"]["example"].clone();
    let nodes = example["nodes"].as_array().expect("the example has nodes");
    assert!(nodes.len() <= 8, "{} nodes", nodes.len());
    let (status, body) = post(&app, &admin, "/api/v1/flow/changes", example).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["issues"], json!([]), "not even a warning: {body}");
    let (_, state) = get(&app, &admin, "/api/v1/flow").await;
    assert_eq!(state["goodbye"], json!({"he": "bye_he", "en": "bye_en"}));
    assert_eq!(state["draft_valid"], true);
    publish(&app, &admin, "the menu").await;

    // One tree, both languages: the hours are an announcement back to the menu.
    let thursday_noon = "2026-12-03T12:00:00+02:00";
    let simulate = |inputs: Value, at: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let (status, transcript) = post(
                app,
                admin,
                "/api/v1/flow/simulate",
                json!({"did": DOCUMENTED_DID, "inputs": inputs, "at": at}),
            )
            .await;
            assert_eq!(status, 200, "{transcript}");
            transcript
        }
    };
    let hebrew = simulate(json!(["2"]), thursday_noon).await;
    assert_eq!(recs(&hebrew), ["main_he", "hours_he", "main_he"]);
    assert_eq!(hebrew["route"], json!(["entry", "main", "hours", "main"]));
    let english = simulate(json!(["3", "2"]), thursday_noon).await;
    assert_eq!(
        recs(&english),
        ["main_he", "main_en", "hours_en", "main_en"]
    );
    assert_eq!(english["steps"][2]["language"], "en");
    assert_eq!(english["steps"][3]["input"], "(played)");
    // Friday 15:30: closed, in the number's language.
    let friday = simulate(json!([]), "2026-12-04T15:30:00+02:00").await;
    assert_eq!(recs(&friday), ["closed_he"]);
    // Silence until the retries run out: the goodbye, in the caller's language.
    let silent = simulate(
        json!(["3", "silence", "silence", "silence", "silence"]),
        thursday_noon,
    )
    .await;
    assert_eq!(silent["ended"], json!({"how": "hung_up", "cause": 16}));
    assert_eq!(recs(&silent).last().unwrap(), "bye_en");

    // "Are we open on Friday at 15:30?"
    let (status, check) = get(
        &app,
        &admin,
        "/api/v1/schedules/shop/check?at=2026-12-04T15:30:00%2B02:00",
    )
    .await;
    assert_eq!(status, 200, "{check}");
    assert_eq!(check["open"], false);
    assert_eq!(check["why"], "closed: no range covers Fri 15:30");

    // Another tenant sees none of it.
    let (_, other) = tenant_with_admin(&app, &platform, "Other").await;
    let (_, theirs) = get(&app, &other, "/api/v1/flow").await;
    assert!(theirs.get("goodbye").is_none(), "{theirs}");
    let (status, _) = get(&app, &other, "/api/v1/nodes/hours").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_prompts_announcements_and_times_are_refused_at_their_path() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant, admin) = tenant_with_admin(&app, &platform, "Strict").await;
    assign(&app, &platform, "0733000001", tenant).await;
    let (_, before) = get(&app, &admin, "/api/v1/flow").await;
    let menu = |rec: Value| {
        json!({"key": "main", "kind": "menu", "prompt": {"rec": rec},
               "routes": [{"digits": "3", "target": "main", "set_language": "en"}]})
    };
    let entry = json!([{"did": "0733000001", "entry_node": "main"}]);
    let refused: Vec<(Value, &str, &str)> = vec![
        (
            json!({"nodes": [menu(json!({"he": "a", "fr": "b"}))]}),
            "nodes[0].prompt.rec",
            "unknown language \"fr\": a prompt is given for `he`, `en`, or `default`",
        ),
        (
            json!({"nodes": [menu(json!({}))]}),
            "nodes[0].prompt.rec",
            "no recording",
        ),
        (
            json!({"nodes": [{"key": "a", "kind": "announcement", "prompt": {"rec": "x"}}]}),
            "nodes[0]",
            "missing field `next`",
        ),
        (
            json!({"nodes": [{"key": "a", "kind": "announcement", "prompt": {"rec": "x"},
                              "next": "nowhere"}],
                   "recordings": [{"name": "x"}]}),
            "nodes.a.next",
            "no node \"nowhere\"",
        ),
        (
            json!({"schedules": [{"key": "s", "name": "S",
                                  "hours": [{"day": "Fri", "opens": "11:00", "closes": "25:00"}]}]}),
            "schedules[0].hours[0].closes",
            "\"25:00\" is not a time of day: write HH:MM or HH:MM:SS, 00:00 to 24:00",
        ),
        (
            // Reached in English through the route, with a Hebrew prompt only.
            json!({"nodes": [menu(json!({"he": "main_he"}))], "entries": entry,
                   "recordings": [{"name": "main_he", "language": "he"}]}),
            "nodes.main.prompt.rec",
            "no recording for `en`: calls can be here in `he` and `en`",
        ),
        (
            json!({"goodbye": {"he": "bye", "ru": "bye"}}),
            "goodbye",
            "unknown language \"ru\"",
        ),
        (
            json!({"goodbye": {"he": "bye_he"}, "nodes": [menu(json!("m"))], "entries": entry,
                   "recordings": [{"name": "m"}, {"name": "bye_he"}]}),
            "goodbye",
            "no recording for `en`",
        ),
        (
            json!({"goodbye": "no_such_recording"}),
            "goodbye",
            "no recording \"no_such_recording\" in the tenant's catalogue",
        ),
    ];
    for (changes, path, message) in refused {
        let (status, body) = post(&app, &admin, "/api/v1/flow/changes", changes.clone()).await;
        assert_eq!(status, 422, "{changes}: {body}");
        assert_detail(&body, path, message);
    }
    // Nothing of it was written.
    let (_, after) = get(&app, &admin, "/api/v1/flow").await;
    assert_eq!(after["draft_revision"], before["draft_revision"]);
    assert!(after.get("goodbye").is_none());
    let (_, nodes) = get(&app, &admin, "/api/v1/nodes").await;
    assert_eq!(nodes["items"], json!([]));
    let (_, recordings) = get(&app, &admin, "/api/v1/recordings").await;
    assert_eq!(recordings["items"], json!([]));
    // A goodbye set, then taken away with null; left out, it is kept.
    let set = json!({"goodbye": "bye", "recordings": [{"name": "bye"}]});
    let (status, body) = post(&app, &admin, "/api/v1/flow/changes", set).await;
    assert_eq!(status, 200, "{body}");
    let (_, state) = get(&app, &admin, "/api/v1/flow").await;
    assert_eq!(state["goodbye"], "bye");
    let (status, _) = post(&app, &admin, "/api/v1/flow/changes", json!({"nodes": []})).await;
    assert_eq!(status, 200);
    let (_, state) = get(&app, &admin, "/api/v1/flow").await;
    assert_eq!(state["goodbye"], "bye", "left out: unchanged");
    let (status, _) = post(
        &app,
        &admin,
        "/api/v1/flow/changes",
        json!({"goodbye": null}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, state) = get(&app, &admin, "/api/v1/flow").await;
    assert!(state.get("goodbye").is_none(), "{state}");
    // The audit log says who set it.
    let (_, audit) = get(&app, &admin, "/api/v1/audit").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["object_type"] == "flow" && item["object_id"] == "goodbye")
        .map(|item| item["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["delete", "create"], "{audit}");
}

/// A tenant whose calls always reach `main` (no hours): 1 → `sub`, 3 →
/// English, nothing pressed → the IVR hangs up (no retry); a goodbye per
/// language.
async fn always_open(app: &TestApp, did: &str, name: &str) -> (i64, String) {
    let platform = platform_admin(app).await;
    let (tenant, admin) = tenant_with_admin(app, &platform, name).await;
    assign(app, &platform, did, tenant).await;
    let recordings: Vec<Value> = ["main_he", "main_en", "sub_he", "sub_en", "bye_he", "bye_en"]
        .iter()
        .map(|name| json!({"name": name, "language": &name[name.len() - 2..]}))
        .collect();
    let changes = json!({
        "recordings": recordings,
        "nodes": [
            {"key": "main", "kind": "menu", "prompt": {"rec": {"he": "main_he", "en": "main_en"}},
             "max_retries": 0,
             "routes": [{"digits": "1", "target": "sub"},
                        {"digits": "3", "target": "main", "set_language": "en"}]},
            {"key": "sub", "kind": "menu", "prompt": {"rec": {"he": "sub_he", "en": "sub_en"}},
             "routes": [{"digits": "0", "target": "main"}]}
        ],
        "entries": [{"did": did, "entry_node": "main"}],
        "goodbye": {"he": "bye_he", "en": "bye_en"}
    });
    let (status, body) = post(app, &admin, "/api/v1/flow/changes", changes).await;
    assert_eq!(status, 200, "{body}");
    publish(app, &admin, "always open").await;
    (tenant, admin)
}

fn hangup(answer: &IvrAnswer) -> (Option<&str>, Option<i64>) {
    match &answer.action {
        Action::Hangup(data) => (data.rec.as_deref(), data.cause),
        other => panic!("expected HANGUP, got {other:?}"),
    }
}

#[tokio::test]
async fn a_node_gone_mid_call_hears_the_goodbye_in_the_call_language() {
    let app = TestApp::spawn().await;
    let did = "0733000002";
    let (tenant, _) = always_open(&app, did, "Goodbyes").await;
    let mut call = Call::new(&app, Encoding::XmlRpc, "goodbye-000000000000000000000001");
    call.did = did.into();
    let start = eventually(
        || call.step("-1", ""),
        |a| matches!(a.action, Action::Menu(_)),
    )
    .await;
    let Action::Menu(main) = &start.action else {
        panic!("{start:?}")
    };
    assert_eq!(
        (main.rec.as_str(), main.menu.as_str()),
        ("main_he", "main~v1")
    );
    let english = call.step("main~v1", "3").await;
    assert_eq!(english.language, Language::En);

    // A node the call's version does not have (deleted mid-call, or never there).
    let gone = call.step("sub_old~v1~en", "").await;
    assert_eq!(hangup(&gone), (Some("bye_en"), Some(41)));
    assert_eq!(gone.language, Language::En);
    // A version the tenant does not have: the live version's goodbye.
    let unknown = call.step("main~v9~en", "1").await;
    assert_eq!(hangup(&unknown), (Some("bye_en"), Some(41)));
    // The retries used up, no on_exhausted: the goodbye, cause 16.
    let silence = call.step("main~v1", "").await;
    assert_eq!(hangup(&silence), (Some("bye_he"), Some(16)));

    // A flow repaired badly (written without validation): a rule loop.
    let nodes: Vec<ivrhub::flow::model::Node> = serde_json::from_value(json!([
        {"key": "main", "kind": "menu", "prompt": {"rec": {"he": "main_he", "en": "main_en"}},
         "routes": [{"digits": "1", "target": "ping"}]},
        {"key": "ping", "kind": "rules", "rules": [], "default": "pong"},
        {"key": "pong", "kind": "rules", "rules": [], "default": "ping"}
    ]))
    .unwrap();
    ivrhub::flow_service::seed(&app.pool, tenant, &nodes, &[], &[], None, "broken")
        .await
        .unwrap();
    let repaired = eventually(
        || call.step("main~v2~en", "1"),
        |a| matches!(a.action, Action::Hangup(_)),
    )
    .await;
    assert_eq!(hangup(&repaired), (Some("bye_en"), Some(41)));
}

#[tokio::test]
async fn a_call_the_ivr_hung_up_on_is_told_apart_in_the_funnel() {
    let app = TestApp::spawn().await;
    let did = "0733000003";
    let (tenant, admin) = always_open(&app, did, "Funnel ends").await;
    let now = Utc::now();
    // (call, its steps); every call is reported ANSWER by Voicenter.
    let calls: [(&str, &[(&str, &str)]); 3] = [
        (
            "ivr-hung-up-00000000000000000001",
            &[("-1", ""), ("main~v1", "")],
        ),
        (
            "ivr-hung-up-00000000000000000002",
            &[("-1", ""), ("main~v1", "1")],
        ),
        (
            "ivr-hung-up-00000000000000000003",
            &[("-1", ""), ("main~v1", "3"), ("main~v1~en", "")],
        ),
    ];
    for (call_id, steps) in calls {
        let mut call = Call::new(&app, Encoding::Json, call_id);
        call.did = did.into();
        for (menu, dtmf) in steps {
            call.step(menu, dtmf).await;
        }
        let report = json!({"METHOD": "HANGUP_CALL", "DATA": {
            "DID": did, "CALLER_ID": CALLER, "IVR_UNIQUE_ID": call_id, "TARGET": "",
            "CALL_TIME_EPOCH": now.timestamp(), "CALL_START_EPOCH": now.timestamp(),
            "CALL_DURATION": 20, "CALL_DAILTIME": 0, "CALL_STATUS": "ANSWER"}});
        let response = app
            .post(&app.webhook, "application/json", report.to_string())
            .await;
        assert_eq!(response.status, 200, "{}", response.body);
    }
    // The step log writes in the background.
    for _ in 0..250 {
        let logged: i64 =
            sqlx::query_scalar("SELECT count(*) FROM call_steps WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        if logged == 7 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let today = now.with_timezone(&chrono_tz::Asia::Jerusalem).date_naive();
    let range = format!("from={}&to={}", today, today + Duration::days(1));
    let (status, funnel) = get(&app, &admin, &format!("/api/v1/reports/funnel?{range}")).await;
    assert_eq!(status, 200, "{funnel}");
    let nodes: Vec<(String, i64, i64, i64)> = funnel["figures"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["node"].as_str().unwrap().to_owned(),
                n["reached"].as_i64().unwrap(),
                n["ended"].as_i64().unwrap(),
                n["hung_up_by_ivr"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        nodes,
        [("main".into(), 3, 0, 2), ("sub".into(), 1, 1, 0)],
        "two calls the IVR hung up on at main, one that left at sub: {funnel}"
    );
    // By cause they all look alike (16, ANSWER): the funnel tells them apart.
    let (_, causes) = get(&app, &admin, &format!("/api/v1/reports/by-cause?{range}")).await;
    assert_eq!(causes["figures"][0]["cause"], 16, "{causes}");
    assert_eq!(causes["figures"][0]["calls"], 3, "{causes}");
}
