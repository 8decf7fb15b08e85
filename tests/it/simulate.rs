//! The simulator over real HTTP: a simulated call says, byte for byte, what
//! the webhook answers for the same requests (the demo's draft before it is
//! published, and random flows); refusals; tenants; nothing written.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::api_client::{code, get, login, platform_admin, post, put, tenant_with_admin};
use crate::flow_changes::eventually;
use crate::harness::TestApp;
use crate::voicenter_client::{DEMO_DID, json_step, xml_step};
use ivrhub::flow::model::{EntryPoint, Node};
use ivrhub::voicenter::types::Action;

const CALLER: &str = "0541234567";

/// The demo tenant's admin (as `serve --demo` creates it), logged in.
pub(crate) async fn demo_admin(app: &TestApp) -> String {
    let tenant = ivrhub::demo::seed(&app.pool).await.unwrap();
    ivrhub::demo::seed_admin(&app.pool, tenant).await.unwrap();
    login(
        app,
        ivrhub::demo::DEMO_ADMIN_EMAIL,
        ivrhub::demo::DEMO_ADMIN_PASSWORD,
    )
    .await
}

/// Sends each simulated step's request to the webhook (in the transcript's
/// encoding) and checks the answer is the simulated one, byte for byte.
async fn replay(app: &TestApp, did: &str, transcript: &Value, xml: bool, call_id: &str) {
    let steps = transcript["steps"].as_array().unwrap();
    assert!(!steps.is_empty(), "{transcript}");
    for (index, step) in steps.iter().enumerate() {
        let menu = step["request"]["MENU"].as_str().unwrap();
        let dtmf = step["request"]["DTMF"].as_str().unwrap();
        let response = if xml {
            let body = xml_step(did, CALLER, call_id, menu, dtmf);
            app.post(&app.webhook, "text/xml", body).await
        } else {
            let body = json_step(did, CALLER, call_id, menu, dtmf);
            app.post(&app.webhook, "application/json", body).await
        };
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(
            response.body,
            step["answer"].as_str().unwrap(),
            "step {index} ({menu:?}, {dtmf:?}) of {transcript}"
        );
    }
}

/// The CALLER_NAME the webhook requests of `voicenter_client` carry.
fn caller_name(xml: bool) -> &'static str {
    if xml { "017W" } else { "n5zx1C2a" }
}

fn encoding(xml: bool) -> &'static str {
    if xml { "xml_rpc" } else { "json" }
}

async fn simulate(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    post(app, token, "/api/v1/flow/simulate", body).await
}

#[tokio::test]
async fn the_draft_simulated_is_what_the_webhook_answers_once_published() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let admin = demo_admin(&app).await;
    // Edit the draft: 9 in the main menu now says we are closed.
    let (_, mut main) = get(&app, &admin, "/api/v1/nodes/main").await;
    assert_eq!(main["routes"][4]["digits"], "9");
    main["routes"][4]["target"] = json!("closed");
    let (status, body) = put(&app, &admin, "/api/v1/nodes/main", main).await;
    assert_eq!(status, 200, "{body}");

    let scripts = [
        vec!["9"],
        vec!["1", "no_answer", "1"],
        vec!["2", "5", "3", "0", "silence", "7", "7"],
        vec!["silence", "silence", "silence"],
    ];
    let mut simulated = Vec::new();
    for (index, inputs) in scripts.iter().enumerate() {
        let xml = index % 2 == 1;
        let (status, transcript) = simulate(
            &app,
            &admin,
            json!({"did": DEMO_DID, "caller_id": CALLER, "caller_name": caller_name(xml),
                   "inputs": inputs, "encoding": encoding(xml)}),
        )
        .await;
        assert_eq!(status, 200, "{transcript}");
        simulated.push((transcript, xml));
    }
    let first = &simulated[0].0;
    assert_eq!(
        first["steps"][0]["request"],
        json!({"MENU": "-1", "DTMF": ""})
    );
    assert_eq!(first["steps"][0]["node"], "main");
    assert_eq!(
        first["steps"][0]["rules"],
        json!([{"node": "entry", "rule": 1, "target": "main"}]),
        "not a holiday: the open rule"
    );
    assert_eq!(
        first["steps"][1]["request"],
        json!({"MENU": "main~v2", "DTMF": "9"})
    );
    assert_eq!(first["steps"][1]["outcome"], "matched");
    assert_eq!(first["steps"][1]["node"], "closed", "the draft's route");
    assert_eq!(first["ended"]["how"], "hung_up");
    let second = &simulated[1].0;
    assert_eq!(second["steps"][1]["action"], "CALL");
    assert_eq!(second["steps"][2]["input"], "no_answer, 1");
    assert_eq!(second["steps"][2]["request"]["MENU"], "sales_busy~v2");
    assert_eq!(second["ended"]["how"], "recording");
    assert_eq!(simulated[3].0["ended"]["how"], "hung_up", "retries used up");
    // The announcement takes no input: Voicenter plays it and comes back.
    let third = &simulated[2].0;
    assert_eq!(third["steps"][1]["node"], "hours");
    assert_eq!(third["steps"][2]["input"], "(played)");
    assert_eq!(third["steps"][2]["outcome"], "continued");
    assert_eq!(third["steps"][2]["node"], "main");
    assert_eq!(third["steps"][3]["input"], "5");

    // Published, the webhook answers exactly that.
    let (_, state) = get(&app, &admin, "/api/v1/flow").await;
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/flow/publish",
        json!({"message": "9 says good-bye", "draft_revision": state["draft_revision"]}),
    )
    .await;
    assert_eq!((status, &body["version"]), (201, &json!(2)), "{body}");
    let probe = crate::voicenter_client::Call::new(
        &app,
        ivrhub::voicenter::types::Encoding::Json,
        "probe-00000000000000000000000001",
    );
    eventually(
        || probe.step("-1", ""),
        |a| matches!(&a.action, Action::Menu(m) if m.menu == "main~v2"),
    )
    .await;
    for (index, (transcript, xml)) in simulated.iter().enumerate() {
        let call_id = format!("replay-{index:026}");
        replay(&app, DEMO_DID, transcript, *xml, &call_id).await;
    }
    // The live flow simulated gives the same transcript as the draft did.
    let (_, live) = simulate(
        &app,
        &admin,
        json!({"flow": "live", "did": DEMO_DID, "caller_id": CALLER,
               "caller_name": caller_name(false), "inputs": ["9"]}),
    )
    .await;
    assert_eq!(live, simulated[0].0);
}

#[tokio::test]
async fn simulating_writes_nothing_and_refuses_bad_scripts_clearly() {
    let app = TestApp::spawn().await;
    let demo = app.with_demo().await;
    let admin = demo_admin(&app).await;
    let count = |table: &'static str| {
        let pool = app.pool.clone();
        async move {
            let sql = format!("SELECT count(*) FROM {table}");
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let steps_before = count("call_steps").await;
    let (status, transcript) = simulate(
        &app,
        &admin,
        json!({"did": DEMO_DID, "inputs": ["2", "1", "1", "no_answer", "9"], "at": "2026-09-21T10:00:00+03:00"}),
    )
    .await;
    assert_eq!(status, 200, "{transcript}");
    // Yom Kippur in the demo's schedule: the holiday rule, closed.
    assert_eq!(
        transcript["steps"][0]["rules"],
        json!([{"node": "entry", "rule": 0, "target": "closed"}])
    );
    assert_eq!(transcript["ended"], json!({"how": "hung_up", "cause": 16}));
    assert_eq!(transcript["unused_inputs"], 5);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        count("call_steps").await,
        steps_before,
        "no call step written"
    );
    assert_eq!(count("cdrs").await, 0);

    let refused = [
        (
            json!({"did": DEMO_DID, "inputs": [], "colour": "red"}),
            422,
            "colour",
        ),
        (json!({"did": DEMO_DID, "flow": "drafts"}), 400, "flow"),
        (json!({"did": DEMO_DID, "flow": "0"}), 400, "flow"),
        (
            json!({"did": DEMO_DID, "at": "2026-12-01T10:00:00"}),
            400,
            "at",
        ),
        (
            json!({"did": DEMO_DID, "inputs": ["1", "star", "#1"]}),
            422,
            "inputs[1]",
        ),
        (
            json!({"did": DEMO_DID, "inputs": vec!["1"; 201]}),
            422,
            "inputs",
        ),
        (json!({"did": "0739999999"}), 404, ""),
        (json!({"did": DEMO_DID, "flow": "7"}), 404, ""),
        (json!({"inputs": []}), 422, ""),
    ];
    for (body, status, named) in refused {
        let (got, answer) = simulate(&app, &admin, body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        if !named.is_empty() {
            assert!(
                answer.to_string().contains(named),
                "{body}: the answer names {named}: {answer}"
            );
        }
    }

    // A version given as a number; spaces in numbers read as the webhook reads them.
    let (status, body) = simulate(
        &app,
        &admin,
        json!({"did": DEMO_DID, "flow": 1, "caller_id": "054 123 4567", "inputs": ["4"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["steps"][1]["action"], "SAYDIGITS");
    assert!(
        body["steps"][1]["answer"]
            .as_str()
            .unwrap()
            .contains("\"DIGITS\":\"0541234567\""),
        "{body}"
    );
    // A disabled tenant's calls all get the safe answer: said, not simulated.
    sqlx::query("UPDATE tenants SET status = 'disabled' WHERE tenant_id = $1")
        .bind(demo)
        .execute(&app.pool)
        .await
        .unwrap();
    let (status, body) = simulate(&app, &admin, json!({"did": DEMO_DID})).await;
    assert_eq!((status, code(&body)), (409, "conflict"), "{body}");
    sqlx::query("UPDATE tenants SET status = 'active' WHERE tenant_id = $1")
        .bind(demo)
        .execute(&app.pool)
        .await
        .unwrap();

    // Another tenant: the demo's number is not its, nor the demo's tenant.
    let platform = platform_admin(&app).await;
    let (_, other) = tenant_with_admin(&app, &platform, "Other").await;
    let (status, body) = simulate(&app, &other, json!({"did": DEMO_DID})).await;
    assert_eq!((status, code(&body)), (404, "not_found"), "{body}");
    let (status, body) = post(
        &app,
        &other,
        &format!("/api/v1/flow/simulate?tenant_id={demo}"),
        json!({"did": DEMO_DID}),
    )
    .await;
    assert_eq!((status, code(&body)), (404, "not_found"), "{body}");
}

#[tokio::test]
async fn a_flow_that_would_loop_stops_and_the_transcript_says_where() {
    let app = TestApp::spawn().await;
    let tenant = app.with_demo().await;
    let admin = demo_admin(&app).await;
    // Two rule nodes leading to each other (never valid; written around validation).
    let rules = |key: &str, other: &str| -> Node {
        serde_json::from_value(json!({"key": key, "kind": "rules", "rules": [], "default": other}))
            .unwrap()
    };
    let entry = EntryPoint::at(DEMO_DID, "ping");
    ivrhub::flow_service::seed(
        &app.pool,
        tenant,
        &[rules("ping", "pong"), rules("pong", "ping")],
        &[],
        &[entry],
        None,
        "a loop",
    )
    .await
    .unwrap();
    let (status, transcript) = simulate(&app, &admin, json!({"did": DEMO_DID})).await;
    assert_eq!(status, 200, "{transcript}");
    let step = &transcript["steps"][0];
    assert!(
        step["problem"].as_str().unwrap().contains("ping"),
        "{transcript}"
    );
    assert_eq!(step["rules"].as_array().unwrap().len(), 33, "{step}");
    assert_eq!(transcript["ended"], json!({"how": "hung_up", "cause": 41}));
}

/// A random flow that passes validation: menus, say-digits, calls with
/// failovers, hang-ups, voicemail, rule nodes on caller prefixes.
fn random_flow(rng: &mut StdRng) -> Vec<Node> {
    let count = rng.random_range(3..9);
    let key = |i: usize| format!("n{i}");
    let mut nodes = Vec::new();
    for i in 0..count {
        let any = |rng: &mut StdRng| key(rng.random_range(0..count));
        let kind = if i == 0 { 0 } else { rng.random_range(0..6) };
        let node = match kind {
            0 | 1 => {
                let routes: Vec<Value> = (0..rng.random_range(0..4))
                    .map(|d| json!({"digits": format!("{}", d + 1), "target": any(rng)}))
                    .collect();
                let mut menu = json!({"key": key(i), "kind": "menu", "prompt": {"rec": "p"},
                    "routes": routes, "max_retries": rng.random_range(0..3)});
                if rng.random_bool(0.5) {
                    menu["on_timeout"] = json!(any(rng));
                }
                if rng.random_bool(0.5) {
                    menu["on_invalid"] = json!(any(rng));
                }
                if rng.random_bool(0.5) {
                    menu["retry_rec"] = json!("again");
                }
                menu
            }
            2 => {
                let mut call = json!({"key": key(i), "kind": "call", "target": "0501234567"});
                if rng.random_bool(0.7) {
                    call["failover"] = json!(key(rng.random_range(0..count)));
                }
                call
            }
            3 => json!({"key": key(i), "kind": "hangup", "rec": "bye", "cause": 16}),
            4 => json!({"key": key(i), "kind": "silent_record", "rec": "beep"}),
            _ => {
                // Rules lead to menus or hang-ups only: no rule chains, no loops.
                let target = |rng: &mut StdRng| key(rng.random_range(0..i.max(1)));
                json!({"key": key(i), "kind": "rules", "rules": [
                    {"when": {"type": "caller_prefix", "prefixes": ["054"]}, "target": target(rng)},
                    {"when": {"type": "caller_hidden"}, "target": target(rng)}
                ], "default": target(rng)})
            }
        };
        nodes.push(serde_json::from_value(node).unwrap());
    }
    nodes
}

fn random_inputs(rng: &mut StdRng) -> Vec<String> {
    (0..rng.random_range(0..12))
        .map(|_| match rng.random_range(0..6) {
            0 => "silence".to_owned(),
            1 => "no_answer".to_owned(),
            _ => rng.random_range(1..6).to_string(),
        })
        .collect()
}

/// The property: for random valid flows and random inputs, the simulated
/// transcript is, step by step and byte for byte, what the webhook answers
/// for the same requests.
#[tokio::test]
async fn random_flows_simulated_equal_the_webhook_byte_for_byte() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let mut cases = 0;
    for seed in 0..40u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let nodes = random_flow(&mut rng);
        let flow = ivrhub::flow::model::Flow {
            version: None,
            time_zone: chrono_tz::Asia::Jerusalem,
            language: ivrhub::voicenter::types::Language::He,
            nodes: nodes.iter().map(|n| (n.key.clone(), n.clone())).collect(),
            schedules: Default::default(),
            goodbye: None,
        };
        let entries = [EntryPoint::at("0730000001", "n0")];
        let context = ivrhub::flow::Context {
            entries: &entries,
            recordings: None,
            today: None,
        };
        if ivrhub::flow::validate(&flow, &context)
            .iter()
            .any(|issue| issue.is_error())
        {
            continue;
        }
        cases += 1;
        let did = format!("07310{seed:05}");
        let (tenant, admin) = tenant_with_admin(&app, &platform, &format!("Random {seed}")).await;
        let entry = EntryPoint::at(&did, "n0");
        ivrhub::flow_service::seed(&app.pool, tenant, &nodes, &[], &[entry], None, "random")
            .await
            .unwrap();
        // The webhook hears the new number and its version.
        let probe_body = json_step(&did, CALLER, "probe-00000000000000000000000001", "-1", "");
        for _ in 0..250 {
            let response = app
                .post(&app.webhook, "application/json", probe_body.clone())
                .await;
            if response.body.contains("~v1") || !response.body.contains("\"HANGUP\"") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        for run in 0..3 {
            let inputs = random_inputs(&mut rng);
            let xml = rng.random_bool(0.5);
            let caller = if rng.random_bool(0.3) { "" } else { CALLER };
            let (status, transcript) = simulate(
                &app,
                &admin,
                json!({"flow": "live", "did": did, "caller_id": caller,
                       "caller_name": caller_name(xml), "inputs": inputs, "encoding": encoding(xml)}),
            )
            .await;
            assert_eq!(status, 200, "seed {seed}: {transcript}");
            let call_id = format!("random-{seed:010}-{run:015}");
            if caller == CALLER {
                replay(&app, &did, &transcript, xml, &call_id).await;
            } else {
                replay_hidden(&app, &did, &transcript, xml, &call_id).await;
            }
        }
    }
    assert!(cases >= 20, "only {cases} valid random flows");
}

/// `replay` for a caller whose number is hidden (empty CALLER_ID).
async fn replay_hidden(app: &TestApp, did: &str, transcript: &Value, xml: bool, call_id: &str) {
    for (index, step) in transcript["steps"].as_array().unwrap().iter().enumerate() {
        let menu = step["request"]["MENU"].as_str().unwrap();
        let dtmf = step["request"]["DTMF"].as_str().unwrap();
        let response = if xml {
            app.post(
                &app.webhook,
                "text/xml",
                xml_step(did, "", call_id, menu, dtmf),
            )
            .await
        } else {
            let body = json_step(did, "", call_id, menu, dtmf);
            app.post(&app.webhook, "application/json", body).await
        };
        assert_eq!(
            response.body,
            step["answer"].as_str().unwrap(),
            "step {index} of {transcript}"
        );
    }
}

/// `ivrhub simulate` prints the transcript the API gives for the same script.
#[tokio::test]
async fn the_command_line_gives_the_same_transcript_as_the_api() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let admin = demo_admin(&app).await;
    let at = "2026-12-01T10:00:00+02:00";
    let (status, from_api) = simulate(
        &app,
        &admin,
        json!({"did": DEMO_DID, "caller_id": CALLER, "at": at,
               "inputs": ["1", "no_answer", "silence", "silence"], "encoding": "xml_rpc"}),
    )
    .await;
    assert_eq!(status, 200, "{from_api}");
    let run = |extra: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ivrhub"));
        command
            .args([
                "simulate", "--tenant", "Demo", "--did", DEMO_DID, "--caller", CALLER,
            ])
            .args([
                "--at",
                at,
                "--press",
                "1",
                "--no-answer",
                "--silence",
                "--silence",
                "--xml",
            ])
            .args(extra)
            .env("DATABASE_URL", &app.database_url)
            .env("RUST_LOG", "warn");
        command.output().expect("ivrhub runs")
    };
    let output = run(&["--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let from_cli: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(from_cli, from_api);
    let readable = run(&[]);
    let text = String::from_utf8_lossy(&readable.stdout);
    assert!(text.contains("1. [call starts] MENU \"-1\""), "{text}");
    assert!(text.contains("rules entry: rule 2 → main"), "{text}");
    assert!(
        text.contains("[no_answer, silence] MENU \"sales_busy~v2\""),
        "{text}"
    );
    assert!(text.contains("ended: {\"how\":\"hung_up\""), "{text}");
    // A tenant that does not exist: a clear error, exit status not 0.
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ivrhub"));
    let output = command
        .args(["simulate", "--tenant", "Nobody", "--did", DEMO_DID])
        .env("DATABASE_URL", &app.database_url)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no tenant \"Nobody\""));
}
