//! The console (`/console/`): how it is served (always), and a real headless
//! Chromium using it on a small data set sent through the real webhook: it
//! logs in, picks the range, and the figures it shows must equal the API's;
//! it opens the flow diagram, switches to Hebrew (right to left), shows on a
//! phone, and returns to the login form when its token is refused.
//! Screenshots go to `target/console-screenshots/` on every run.
//!
//! Without Chromium the browser test says loudly that it is skipped, unless
//! `CI` is set: then it fails (see `browser::chromium_or_skip`).

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Asia::Jerusalem;
use ivrhub::voicenter::types::{Action, Encoding};
use serde_json::{Value, json};

use crate::api_client::{get, login};
use crate::browser::{Browser, chromium_or_skip};
use crate::harness::TestApp;
use crate::voicenter_client::{CALLER, Call, DEMO_DID};

#[tokio::test]
async fn the_console_is_served_with_its_policy_types_and_cache_validators() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("{}{path}", app.base);

    let redirect = client.get(url("/console")).send().await.unwrap();
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/console/");

    for (path, content_type, needle) in [
        (
            "/console/",
            "text/html; charset=utf-8",
            "<script src=\"app.js\"",
        ),
        (
            "/console/app.js",
            "text/javascript; charset=utf-8",
            "'use strict'",
        ),
        ("/console/app.css", "text/css; charset=utf-8", ".kpis"),
    ] {
        let response = client.get(url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], content_type, "{path}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("script-src 'self'"), "{path}: {policy}");
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
        let etag = headers["etag"].to_str().unwrap().to_owned();
        let body = response.text().await.unwrap();
        assert!(body.contains(needle), "{path}");
        assert!(
            !body.contains("https://"),
            "{path}: works offline, nothing fetched elsewhere"
        );
        // The browser's copy is current: 304 with no body.
        let again = client
            .get(url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"], etag.as_str());
        assert!(again.text().await.unwrap().is_empty());
    }

    for path in ["/console/x", "/console/app.js.map", "/console/app.js/x"] {
        let response = client.get(url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    let openapi = app.get("/api/openapi.json").await;
    assert!(
        !openapi.body.contains("/console"),
        "not part of the API document"
    );
}

/// The range the browser picks: yesterday and today, Jerusalem dates.
struct Range {
    from: String,
    /// Inclusive, as the console's "to" field.
    last: String,
    /// Exclusive, as the API reads it.
    to: String,
}

fn range_now() -> Range {
    let today = Utc::now().with_timezone(&Jerusalem).date_naive();
    let from = today - Duration::days(1);
    Range {
        from: from.to_string(),
        last: today.to_string(),
        to: (today + Duration::days(1)).to_string(),
    }
}

/// One call's end, as Voicenter reports it (HANGUP_CALL, JSON).
fn hangup(
    call_id: &str,
    start: DateTime<Utc>,
    status: &str,
    duration: i64,
    dial: Option<i64>,
) -> String {
    let mut data = json!({
        "DID": DEMO_DID, "CALLER_ID": CALLER, "IVR_UNIQUE_ID": call_id, "TARGET": "0501234567",
        "CALL_TIME_EPOCH": start.timestamp(), "CALL_START_EPOCH": start.timestamp(),
        "CALL_DURATION": duration, "CALL_STATUS": status,
    });
    if let Some(dial) = dial {
        data["CALL_DAILTIME"] = json!(dial);
    }
    json!({"METHOD": "HANGUP_CALL", "DATA": data}).to_string()
}

/// The demo tenant (its flow published as version 1) and calls through the
/// real webhook: eight in the last two hours (three answered, statuses
/// mixed, some with menu steps for the funnel), two three days ago (the
/// previous period). Returns the tenant's id.
async fn calls_of_the_day(app: &TestApp) -> i64 {
    let tenant = app.with_demo().await;
    let now = Utc::now();
    let minutes = |m: i64| now - Duration::minutes(m);
    // (call id, start, status, duration, dial time, keys pressed in the menu)
    let calls: [(&str, DateTime<Utc>, &str, i64, Option<i64>, Option<&str>); 10] = [
        (
            "console-a1",
            minutes(100),
            "ANSWER",
            100,
            Some(10),
            Some("1"),
        ),
        (
            "console-a2",
            minutes(90),
            "ANSWER",
            200,
            Some(20),
            Some("1"),
        ),
        ("console-a3", minutes(80), "ANSWER", 61, Some(7), None),
        ("console-b1", minutes(70), "BUSY", 0, Some(3), Some("1")),
        ("console-n1", minutes(60), "NOANSWER", 0, Some(30), None),
        ("console-c1", minutes(50), "CANCEL", 0, None, Some("")),
        ("console-f1", minutes(40), "FAILED", 0, Some(2), None),
        ("console-c2", minutes(30), "CANCEL", 0, Some(5), Some("2")),
        (
            "console-p1",
            now - Duration::days(3),
            "ANSWER",
            50,
            Some(4),
            None,
        ),
        (
            "console-p2",
            now - Duration::days(3),
            "BUSY",
            0,
            Some(1),
            None,
        ),
    ];
    for (call_id, start, status, duration, dial, keys) in calls {
        if let Some(keys) = keys {
            let call = Call::new(app, Encoding::Json, call_id);
            let first = call.step("-1", "").await;
            let Action::Menu(menu) = &first.action else {
                panic!("the demo answers with its main menu: {first:?}");
            };
            if !keys.is_empty() {
                call.step(&menu.menu, keys).await;
            }
        }
        let body = hangup(call_id, start, status, duration, dial);
        let response = app.post(&app.webhook, "application/json", body).await;
        assert_eq!(response.status, 200, "{}", response.body);
    }
    tenant
}

/// The API's answer for the range, once the webhook's CDRs are all stored.
async fn api_figures(app: &TestApp, token: &str, range: &Range) -> (Value, Value, Value, Value) {
    let query = format!("from={}&to={}", range.from, range.to);
    for _ in 0..100 {
        let (status, summary) = get(
            app,
            token,
            &format!("/api/v1/reports/summary?{query}&compare=previous"),
        )
        .await;
        assert_eq!(status, 200, "{summary}");
        if summary["figures"]["calls"] == 8 && summary["previous"]["figures"]["calls"] == 2 {
            let (_, statuses) =
                get(app, token, &format!("/api/v1/reports/by-status?{query}")).await;
            let (_, funnel) = get(
                app,
                token,
                &format!("/api/v1/reports/funnel?{query}&version=1"),
            )
            .await;
            let (_, series) = get(
                app,
                token,
                &format!("/api/v1/reports/series?{query}&bucket=hour"),
            )
            .await;
            return (summary, statuses, funnel, series);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the CDRs were not all stored");
}

/// The first number in `text` ("37.5%", "120.3 sec", "8"), whatever the locale's marks around it.
fn number_in(text: &str) -> f64 {
    let digits: String = text
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number in {text:?}"))
}

/// A figure shown with one decimal equals the API's.
#[track_caller]
fn assert_shown(what: &str, shown: &str, api: f64) {
    let value = number_in(shown);
    assert!(
        (value - api).abs() <= 0.05 + 1e-9,
        "{what}: the console shows {shown:?}, the API says {api}"
    );
}

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("console-screenshots")
}

#[tokio::test]
async fn a_browser_shows_the_apis_figures_in_english_and_hebrew_on_a_laptop_and_a_phone() {
    let Some(chromium) = chromium_or_skip("console browser test") else {
        return;
    };
    let app = TestApp::spawn().await;
    let tenant = calls_of_the_day(&app).await;
    ivrhub::demo::seed_admin(&app.pool, tenant).await.unwrap();
    let token = login(
        &app,
        ivrhub::demo::DEMO_ADMIN_EMAIL,
        ivrhub::demo::DEMO_ADMIN_PASSWORD,
    )
    .await;
    let range = range_now();
    let (summary, statuses, funnel, series) = api_figures(&app, &token, &range).await;
    // The data set is what it is meant to be, so the comparison below means something.
    assert_eq!(summary["figures"]["answered"], 3, "{summary}");
    assert_eq!(summary["figures"]["asr"], 0.375);
    assert!(
        funnel["figures"]["nodes"]
            .as_array()
            .is_some_and(|nodes| !nodes.is_empty()),
        "the funnel has the menu steps: {funnel}"
    );

    let base = app.base.clone();
    let shots = screenshots();
    let browsing = tokio::task::spawn_blocking(move || {
        let mut browser = Browser::launch(&chromium);
        browser.set_viewport(1280, 900, false);
        browser.goto(&format!("{base}/console/"));
        browser.wait_for(
            "the login form",
            "!document.getElementById('login-view').hidden",
        );
        browser.type_into("#login-email", ivrhub::demo::DEMO_ADMIN_EMAIL);
        browser.type_into("#login-password", ivrhub::demo::DEMO_ADMIN_PASSWORD);
        browser.click("#login-submit");
        browser.wait_for(
            "the console after the login",
            "document.getElementById('app-view').dataset.ready === 'true'",
        );

        // Custom dates: yesterday and today.
        browser.set_value("#range", "custom");
        browser.set_value("#from", &range.from);
        browser.set_value("#to", &range.last);
        browser.click("#apply");
        let loaded = format!("{}/{}", range.from, range.to);
        browser.wait_for(
            "the figures of the range",
            &format!("document.getElementById('app-view').dataset.ready === 'true' && document.getElementById('app-view').dataset.loaded === {loaded:?}"),
        );
        let shown = |browser: &mut Browser, kpi: &str| -> String {
            browser
                .eval(&format!(
                    "document.querySelector('.kpi-value[data-kpi={kpi}]').textContent"
                ))
                .as_str()
                .unwrap()
                .to_owned()
        };
        let figures = &summary["figures"];
        let calls = shown(&mut browser, "calls");
        assert_eq!(calls, figures["calls"].to_string(), "calls");
        assert_shown(
            "ASR (%)",
            &shown(&mut browser, "asr"),
            figures["asr"].as_f64().unwrap() * 100.0,
        );
        assert_shown(
            "ACD (s)",
            &shown(&mut browser, "acd"),
            figures["acd_secs"].as_f64().unwrap(),
        );
        assert_shown(
            "p95 dial (s)",
            &shown(&mut browser, "p95"),
            figures["p95_dial_secs"].as_f64().unwrap(),
        );
        let previous =
            browser.eval("document.querySelector('#kpi-calls .kpi-previous').textContent");
        assert_eq!(previous, json!("Previous period: 2"));

        // Calls per status: the same statuses with the same counts.
        let bars = browser.eval(
            "Object.fromEntries([...document.querySelectorAll('#statuses .bar-row')].map((row) => [row.dataset.key, row.querySelector('.bar-value').textContent]))",
        );
        let expected: serde_json::Map<String, Value> = statuses["figures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                (
                    row["status"].as_str().unwrap().to_owned(),
                    json!(row["calls"].to_string()),
                )
            })
            .collect();
        assert_eq!(bars, Value::Object(expected), "calls by status");
        // Calls per hour add up to the calls; the CDR search lists them all.
        let hourly = browser.eval("[...document.querySelectorAll('#series g.bar')].reduce((sum, bar) => sum + Number(bar.dataset.calls), 0)");
        assert_eq!(hourly, figures["calls"], "calls per hour");
        let hours = series["figures"]["points"].as_array().map(Vec::len);
        assert_eq!(
            browser.eval("document.querySelectorAll('#series g.bar').length"),
            json!(hours),
            "one bar an hour"
        );
        assert_eq!(
            browser.eval("document.querySelectorAll('#cdrs tbody tr').length"),
            figures["calls"]
        );
        let funnel_nodes = browser.eval(
            "[...document.querySelectorAll('#funnel tbody tr')].map((row) => row.dataset.node)",
        );
        let api_nodes: Vec<&Value> = funnel["figures"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|node| &node["node"])
            .collect();
        assert_eq!(
            funnel_nodes,
            json!(api_nodes),
            "the funnel of the live version"
        );
        assert_eq!(
            browser.eval("document.querySelector('#alerts').textContent"),
            json!("No alert events.")
        );

        // The live flow's diagram, drawn by the server.
        browser.click("#show-diagram");
        let names = browser.wait_for(
            "the diagram",
            "document.querySelector('#diagram svg') && document.querySelector('#diagram svg').textContent",
        );
        for node in ["entry", "main", "sales"] {
            assert!(
                names.as_str().unwrap().contains(node),
                "{node} in the diagram: {names}"
            );
        }
        browser.screenshot(&shots.join("laptop-en.png"));

        // Hebrew: right to left, the same numbers.
        browser.click("#lang-switch");
        browser.wait_for("Hebrew", "document.documentElement.dir === 'rtl'");
        assert_eq!(browser.eval("document.documentElement.lang"), json!("he"));
        assert_eq!(
            browser.eval("document.querySelector('#kpi-calls h3').textContent"),
            json!("שיחות")
        );
        assert_eq!(
            number_in(&shown(&mut browser, "calls")),
            figures["calls"].as_f64().unwrap()
        );
        assert_shown(
            "ASR (%) in Hebrew",
            &shown(&mut browser, "asr"),
            figures["asr"].as_f64().unwrap() * 100.0,
        );
        browser.screenshot(&shots.join("laptop-he.png"));

        // A phone.
        browser.set_viewport(390, 844, true);
        std::thread::sleep(std::time::Duration::from_millis(400));
        browser.screenshot(&shots.join("phone-he.png"));
        browser.click("#lang-switch");
        browser.wait_for("English", "document.documentElement.dir === 'ltr'");
        std::thread::sleep(std::time::Duration::from_millis(200));
        let overflow = browser.eval("document.documentElement.scrollWidth - window.innerWidth");
        assert_eq!(overflow, json!(0), "nothing wider than the phone's screen");
        browser.screenshot(&shots.join("phone-en.png"));

        // A token the API refuses: back to the login form, nothing left on the page.
        browser.eval("state.session.access = 'garbage'");
        browser.click("#apply");
        browser.wait_for(
            "the login form",
            "!document.getElementById('login-view').hidden",
        );
        assert_eq!(
            browser.eval("document.getElementById('login-message').textContent"),
            json!("Your session has ended. Please log in again.")
        );
        assert_eq!(
            browser.eval("document.getElementById('app-view').hidden"),
            json!(true)
        );
        assert_eq!(shown(&mut browser, "calls"), "–", "the figures are gone");
        assert_eq!(
            browser.eval("document.querySelectorAll('#cdrs tr, #diagram svg').length"),
            json!(0)
        );
        assert_eq!(
            browser.eval("sessionStorage.length"),
            json!(0),
            "the token is forgotten"
        );
        // A stored garbage token on opening the page: the same.
        browser.eval("sessionStorage.setItem('ivrhub.console.session', JSON.stringify({access: 'garbage', refresh: 'garbage', expiresAt: Date.now() + 600000}))");
        browser.goto(&format!("{base}/console/"));
        browser.wait_for(
            "the login message",
            "document.getElementById('login-message').textContent.includes('session has ended')",
        );
        browser.set_viewport(1280, 900, false);
        browser.screenshot(&shots.join("laptop-en-expired.png"));
    });
    if let Err(error) = browsing.await {
        std::panic::resume_unwind(error.into_panic());
    }
}
