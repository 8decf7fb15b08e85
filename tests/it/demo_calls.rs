//! Whole calls through the demo flow, in both encodings: every branch,
//! retries, the language switch (one tree, prompts per language), the
//! announcement, the goodbye and the call's failover.

use ivrhub::voicenter::types::{Action, Encoding, IvrAnswer, Language, MenuData};

use crate::harness::TestApp;
use crate::voicenter_client::{CALLER, Call};

fn menu(answer: &IvrAnswer) -> &MenuData {
    match &answer.action {
        Action::Menu(menu) => menu,
        other => panic!("expected MENU, got {other:?}"),
    }
}

const BOTH: [Encoding; 2] = [Encoding::XmlRpc, Encoding::Json];

#[tokio::test]
async fn a_call_starts_at_the_main_menu_and_reaches_every_branch() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    for encoding in BOTH {
        let call = Call::new(&app, encoding, "ced4619f30fc17182d8e41ddf4d6869X");
        let start = call.step("-1", "").await;
        assert_eq!(start.language, Language::He);
        let main = menu(&start);
        assert_eq!(
            (main.rec.as_str(), main.loops, main.delay, main.size),
            ("main_menu_he", 2, 1, 1)
        );
        assert_eq!(main.menu, "main~v1", "the call is on version 1");

        // 1: sales, with the failover menu in NEXT_MENU.
        let Action::Call(sales) = call.step("main", "1").await.action else {
            panic!("expected CALL")
        };
        assert_eq!(sales.target, "0501234567");
        assert_eq!(sales.caller_id, CALLER, "the caller's own number is shown");
        assert_eq!(
            (sales.max_dial_secs, sales.max_call_secs, sales.record),
            (30, 3600, true)
        );
        let next = sales.next_menu.expect("a failover");
        assert_eq!(next.menu, "sales_busy~v1");
        assert_eq!(next.record.as_deref(), Some("sales_busy_he"));
        assert_eq!(
            (next.loops, next.size, next.wait),
            (Some(2), Some(1), Some(1))
        );

        // The dial failed: Voicenter comes back with NEXT_MENU; 2 returns to the main menu.
        assert_eq!(menu(&call.step("sales_busy", "2").await).menu, "main~v1");
        // ...and 1 there leaves a message.
        let voicemail = call.step("sales_busy", "1").await;
        assert!(
            matches!(voicemail.action, Action::SilentRecord(ref r) if r.rec.as_deref() == Some("leave_message_he") && r.max_duration_secs == Some(120))
        );

        // 2: the opening hours, then back to the main menu, whatever comes back.
        let hours = menu(&call.step("main", "2").await).clone();
        assert_eq!(
            (hours.rec.as_str(), hours.size, hours.menu.as_str()),
            ("hours_he", 1, "hours~v1")
        );
        for pressed in ["", "5"] {
            let back = call.step(&hours.menu, pressed).await;
            assert_eq!(menu(&back).rec, "main_menu_he");
            assert_eq!(menu(&back).menu, "main~v1");
        }

        // 4: the caller's number said back, leading zero kept.
        let Action::SayDigits(say) = call.step("main", "4").await.action else {
            panic!("expected SAYDIGITS")
        };
        assert_eq!(say.digits, CALLER);
        assert_eq!(say.intro_rec, "your_number_is_he");
        assert_eq!(say.menu.menu, "say_number~v1");
        // Any key there returns to the main menu; silence says the flow's goodbye.
        assert_eq!(menu(&call.step("say_number", "5").await).menu, "main~v1");
        assert!(
            matches!(call.step("say_number", "").await.action, Action::Hangup(ref h) if h.rec.as_deref() == Some("goodbye_he") && h.cause == Some(16))
        );

        // 9: voicemail.
        assert!(matches!(
            call.step("main", "9").await.action,
            Action::SilentRecord(_)
        ));
    }
}

#[tokio::test]
async fn the_caller_switches_to_english_and_back() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    for encoding in BOTH {
        let call = Call::new(&app, encoding, "1bcd7954224861f85a2d70612f248282");
        let english = call.step("main", "3").await;
        assert_eq!(english.language, Language::En);
        let english_menu = menu(&english).clone();
        assert_eq!(
            english_menu.rec, "main_menu_en",
            "the same node, in English"
        );
        assert_eq!(english_menu.menu, "main~v1~en");
        // The choice travels in the menu identifier and sticks: sales is announced in English.
        let sales = call.step(&english_menu.menu, "1").await;
        assert_eq!(sales.language, Language::En);
        let Action::Call(call_data) = sales.action else {
            panic!("expected CALL")
        };
        assert_eq!(call_data.caller_rec.as_deref(), Some("now_calling_en"));
        let failover = call_data.next_menu.unwrap();
        assert_eq!(failover.record.as_deref(), Some("sales_busy_en"));
        assert_eq!(call.step(&failover.menu, "2").await.language, Language::En);
        // The opening hours in English, then the menu in English again.
        let hours = call.step(&english_menu.menu, "2").await;
        assert_eq!(menu(&hours).rec, "hours_en");
        let again = call.step(&menu(&hours).menu, "").await;
        assert_eq!(
            (again.language, menu(&again).rec.as_str()),
            (Language::En, "main_menu_en")
        );
        // 0 goes back to the main menu in Hebrew.
        let back = call.step(&english_menu.menu, "0").await;
        assert_eq!(back.language, Language::He);
        assert_eq!(menu(&back).rec, "main_menu_he");
    }
}

#[tokio::test]
async fn silence_and_wrong_keys_replay_the_menu_then_say_goodbye() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    for encoding in BOTH {
        for wrong in ["", "7"] {
            let call = Call::new(&app, encoding, "retries-0000000000000000000000001");
            let first = call.step("main", wrong).await;
            let replay = menu(&first);
            assert_eq!(
                replay.rec, "invalid_choice_he",
                "the retry recording is played"
            );
            assert_ne!(
                replay.menu, "main",
                "the retry count travels in the menu identifier"
            );
            let second = call.step(&replay.menu, wrong).await;
            let replay = menu(&second);
            assert_eq!(replay.rec, "invalid_choice_he");
            // max_retries is 2: the third miss ends the call with the
            // flow's goodbye (the menu has no on_exhausted).
            let last = call.step(&replay.menu, wrong).await;
            assert!(
                matches!(last.action, Action::Hangup(ref h) if h.rec.as_deref() == Some("goodbye_he") && h.cause == Some(16)),
                "{last:?}"
            );
            // A right key after a miss still works, from the replayed menu.
            assert!(matches!(
                call.step(&menu(&first).menu, "1").await.action,
                Action::Call(_)
            ));
        }
    }
}

#[tokio::test]
async fn a_holiday_today_closes_the_line() {
    let app = TestApp::spawn().await;
    let tenant = app.with_demo().await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jerusalem)
        .date_naive();
    sqlx::query("INSERT INTO schedule_holidays (tenant_id, schedule_key, day, name) VALUES ($1, 'office', $2, 'Test day')")
        .bind(tenant)
        .bind(today)
        .execute(&app.pool)
        .await
        .unwrap();
    ivrhub::flow_service::seed(&app.pool, tenant, &[], &[], &[], None, "a holiday today")
        .await
        .unwrap();
    let call = Call::new(&app, Encoding::XmlRpc, "holiday-00000000000000000000000001");
    let answer = crate::flow_changes::eventually(
        || call.step("-1", ""),
        |a| matches!(a.action, Action::Hangup(_)),
    )
    .await;
    assert!(
        matches!(answer.action, Action::Hangup(ref h) if h.rec.as_deref() == Some("closed") && h.cause == Some(16))
    );
}

#[tokio::test]
async fn every_answered_step_is_logged() {
    let app = TestApp::spawn().await;
    let tenant = app.with_demo().await;
    let call = Call::new(&app, Encoding::Json, "steps-0000000000000000000000000001");
    call.step("-1", "").await;
    call.step("main", "7").await;
    call.step("main", "1").await;
    type Step = (
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        String,
    );
    let mut logged: Vec<Step> = Vec::new();
    for _ in 0..100 {
        logged = sqlx::query_as(
            "SELECT menu, dtmf, from_node, node_key, outcome, action FROM call_steps
             WHERE tenant_id = $1 AND call_id = $2 ORDER BY at, step_id",
        )
        .bind(tenant)
        .bind(&call.call_id)
        .fetch_all(&app.pool)
        .await
        .unwrap();
        if logged.len() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let expected = [
        ("-1", "", None, Some("main"), "entered", "MENU"),
        (
            "main",
            "7",
            Some("main"),
            Some("main"),
            "invalid_retry",
            "MENU",
        ),
        ("main", "1", Some("main"), Some("sales"), "matched", "CALL"),
    ];
    let actual: Vec<_> = logged
        .iter()
        .map(|(menu, dtmf, from, node, outcome, action)| {
            (
                menu.as_str(),
                dtmf.as_str(),
                from.as_deref(),
                node.as_deref(),
                outcome.as_str(),
                action.as_str(),
            )
        })
        .collect();
    assert_eq!(actual, expected);
}

/// A real XML-RPC client that is not ours: Python's standard library.
#[tokio::test]
async fn pythons_xmlrpc_client_drives_a_call() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let script = r#"
import sys, xmlrpc.client
proxy = xmlrpc.client.ServerProxy(sys.argv[1] + "/voicenter")
def step(menu, dtmf):
    return proxy.GET_IVR_ACTION({"DID": "0730000000", "CALLER_ID": "0540000000", "CALLER_NAME": "x",
        "IVR_UNIQUE_ID": "py000000000000000000000000000001", "MENU": menu, "PREVIOUS_MENU": "-1", "DTMF": dtmf})
a = step("-1", "")
assert a["STATUS"] == 0 and a["ACTION"] == "MENU" and a["LANGUAGE"] == "he", a
assert a["DATA"]["SIZE"] == 1 and isinstance(a["DATA"]["LOOP"], int), a
b = step(a["DATA"]["MENU"], "4")
assert b["ACTION"] == "SAYDIGITS" and b["DATA"]["DIGITS"] == "0540000000", b
c = step(a["DATA"]["MENU"], "1")
assert c["ACTION"] == "CALL" and c["DATA"]["TARGET"] == "0501234567" and c["DATA"]["REC_STATUS"] == 1, c
r = proxy.HANGUP_CALL({"DID": "0730000000", "CALLER_ID": "0540000000", "IVR_UNIQUE_ID": "py000000000000000000000000000001",
    "TARGET": "0501234567", "CALL_TIME_EPOCH": 1700000000, "CALL_START_EPOCH": 1700000001,
    "CALL_DURATION": 60, "CALL_DAILTIME": 5, "CALL_STATUS": "ANSWER"})
assert r == {"STATUS": 0}, r
print("ok")
"#;
    let base = app.base.clone();
    let output = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(base)
        .output()
        .await
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM cdrs WHERE call_id = 'py000000000000000000000000000001'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored, 1);
}

/// The benchmark's steps (`bench/call_steps.txt`) get the actions it says
/// the demo answers, at the instant it decides them (a working Tuesday
/// morning, the tests' own): the benchmark measures the paths it names.
#[tokio::test]
async fn the_benchmark_steps_get_the_actions_they_name() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let steps = include_str!("../../bench/call_steps.txt");
    let mut checked = 0;
    for (index, line) in steps.lines().filter(|l| !l.starts_with('#')).enumerate() {
        let fields: Vec<&str> = line.split('|').collect();
        let [encoding, dtmf, menu, _previous, action] = fields[..] else {
            panic!("bad line {line:?}")
        };
        let encoding = if encoding == "xml" {
            Encoding::XmlRpc
        } else {
            Encoding::Json
        };
        let call = Call::new(&app, encoding, &format!("bench-step-{index:022}"));
        let answer = call.step(menu, dtmf).await;
        assert_eq!(answer.action.name(), action, "{line}: {answer:?}");
        checked += 1;
    }
    assert_eq!(checked, 20);
}
