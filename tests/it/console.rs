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

use crate::api_client::{PASSWORD, PLATFORM_ADMIN, get, login, platform_admin, tenant_with_admin};
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
    let openapi: Value = serde_json::from_str(&app.get("/api/openapi.json").await.body).unwrap();
    let paths = openapi["paths"].as_object().unwrap();
    assert!(
        paths.keys().all(|path| !path.contains("console")),
        "the console is not part of the API document"
    );
    let description = openapi["info"]["description"].as_str().unwrap();
    assert!(
        description.contains("[`/console/`](/console/)"),
        "but /docs points to it"
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

/// (call id, start, status, duration, dial time, keys pressed in the main
/// menu: `None` for a call with no menu step).
type TestCall<'a> = (
    &'a str,
    DateTime<Utc>,
    &'a str,
    i64,
    Option<i64>,
    Option<&'a str>,
);

/// The demo tenant (its flow published as version 1) and calls through the
/// real webhook: eight in the last two hours (three answered, statuses
/// mixed, some with menu steps for the funnel), two at noon two days ago (the
/// previous period). Returns the tenant's id.
async fn calls_of_the_day(app: &TestApp) -> i64 {
    let tenant = app.with_demo().await;
    let now = Utc::now();
    let minutes = |m: i64| now - Duration::minutes(m);
    // Noon two days ago, local time: inside the previous period whatever the hour.
    let earlier = (now.with_timezone(&Jerusalem).date_naive() - Duration::days(2))
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_local_timezone(Jerusalem)
        .unwrap()
        .with_timezone(&Utc);
    let calls: [TestCall; 10] = [
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
        ("console-p1", earlier, "ANSWER", 50, Some(4), None),
        ("console-p2", earlier, "BUSY", 0, Some(1), None),
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

/// The API's answers for the range (`extra`: more query, such as a
/// platform admin's `&tenant_id=`), once the webhook's CDRs are all stored:
/// the summary, by status, the funnel of version 1 and the hourly series.
async fn api_figures(app: &TestApp, token: &str, range: &Range, extra: &str) -> ApiFigures {
    let query = format!("from={}&to={}{extra}", range.from, range.to);
    let ask = |report: &str, more: &str| {
        let path = format!("/api/v1/reports/{report}?{query}{more}");
        async move {
            let (status, body) = get(app, token, &path).await;
            assert_eq!(status, 200, "{path}: {body}");
            body
        }
    };
    for _ in 0..100 {
        let summary = ask("summary", "&compare=previous").await;
        if summary["figures"]["calls"] == 8 && summary["previous"]["figures"]["calls"] == 2 {
            return ApiFigures {
                statuses: ask("by-status", "").await,
                funnel: ask("funnel", "&version=1").await,
                series: ask("series", "&bucket=hour").await,
                summary,
            };
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the CDRs were not all stored");
}

struct ApiFigures {
    summary: Value,
    statuses: Value,
    funnel: Value,
    series: Value,
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

/// Opens the console on a laptop-sized window and logs in with the form.
fn log_in(browser: &mut Browser, base: &str, email: &str, password: &str) {
    browser.set_viewport(1280, 900, false);
    browser.goto(&format!("{base}/console/"));
    browser.wait_for(
        "the login form",
        "!document.getElementById('login-view').hidden",
    );
    browser.type_into("#login-email", email);
    browser.type_into("#login-password", password);
    browser.click("#login-submit");
    browser.wait_for(
        "the console after the login",
        "document.getElementById('app-view').dataset.ready === 'true'",
    );
}

/// Waits until every section shows `tenant`'s figures over `range`.
fn wait_for_figures(browser: &mut Browser, tenant: i64, range: &Range) {
    let loaded = format!("{tenant}:{}/{}", range.from, range.to);
    browser.wait_for(
        &format!("the figures of {loaded}"),
        &format!(
            "document.getElementById('app-view').dataset.ready === 'true' \
             && document.getElementById('app-view').dataset.loaded === {loaded:?}"
        ),
    );
}

/// Picks custom dates (the "to" field inclusive) and shows them.
fn pick_range(browser: &mut Browser, tenant: i64, range: &Range) {
    browser.set_value("#range", "custom");
    browser.set_value("#from", &range.from);
    browser.set_value("#to", &range.last);
    browser.click("#apply");
    wait_for_figures(browser, tenant, range);
}

/// The text of a key figure.
fn shown(browser: &mut Browser, kpi: &str) -> String {
    browser
        .eval(&format!(
            "document.querySelector('.kpi-value[data-kpi={kpi}]').textContent"
        ))
        .as_str()
        .unwrap()
        .to_owned()
}

/// The key figures, calls per status, per hour, the CDR rows and the
/// funnel's menus shown equal the API's answers.
fn assert_the_apis_figures_are_shown(browser: &mut Browser, api: &ApiFigures) {
    let figures = &api.summary["figures"];
    assert_eq!(
        shown(browser, "calls"),
        figures["calls"].to_string(),
        "calls"
    );
    let number = |name: &str| figures[name].as_f64().unwrap();
    assert_shown("ASR (%)", &shown(browser, "asr"), number("asr") * 100.0);
    assert_shown("ACD (s)", &shown(browser, "acd"), number("acd_secs"));
    assert_shown(
        "p95 dial (s)",
        &shown(browser, "p95"),
        number("p95_dial_secs"),
    );
    let previous = browser.eval("document.querySelector('#kpi-calls .kpi-previous').textContent");
    let before = &api.summary["previous"]["figures"]["calls"];
    assert_eq!(previous, json!(format!("Previous period: {before}")));

    let bars = browser.eval(
        "Object.fromEntries([...document.querySelectorAll('#statuses .bar-row')]\
         .map((row) => [row.dataset.key, row.querySelector('.bar-value').textContent]))",
    );
    let expected: serde_json::Map<String, Value> = api.statuses["figures"]
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

    let hourly = browser.eval(
        "[...document.querySelectorAll('#series g.bar')].map((bar) => Number(bar.dataset.calls))",
    );
    let api_hourly: Vec<&Value> = api.series["figures"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|point| &point["calls"])
        .collect();
    assert_eq!(hourly, json!(api_hourly), "calls per hour");
    assert_eq!(
        browser.eval("document.querySelectorAll('#cdrs tbody tr').length"),
        figures["calls"],
        "the CDR search lists every call (one page)"
    );
    let menus = browser
        .eval("[...document.querySelectorAll('#funnel tbody tr')].map((row) => row.dataset.node)");
    let api_menus: Vec<&Value> = api.funnel["figures"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| &node["node"])
        .collect();
    assert_eq!(menus, json!(api_menus), "the funnel of the live version");
}

/// Opens the live flow's diagram and returns its text (the nodes' names).
fn open_the_diagram(browser: &mut Browser) -> String {
    browser.click("#show-diagram");
    browser
        .wait_for(
            "the diagram",
            "document.querySelector('#diagram svg') && document.querySelector('#diagram svg').textContent",
        )
        .as_str()
        .unwrap()
        .to_owned()
}

/// Runs the blocking browser part off the runtime that serves the app.
async fn in_the_browser(work: impl FnOnce() + Send + 'static) {
    if let Err(error) = tokio::task::spawn_blocking(work).await {
        std::panic::resume_unwind(error.into_panic());
    }
}

#[tokio::test]
async fn a_browser_shows_the_apis_figures_in_english_and_hebrew_on_a_laptop_and_a_phone() {
    let Some(chromium) = chromium_or_skip("console browser test") else {
        return;
    };
    // A known signing key, so that the test can make an expired token.
    const KEY: &str = "console-test-signing-key-0123456789abcdef";
    let app = TestApp::spawn_with(ivrhub::config::ServeSettings {
        jwt_secret: Some(ivrhub::config::Secret::new(KEY.into())),
        ..ivrhub::config::ServeSettings::for_tests()
    })
    .await;
    let tenant = calls_of_the_day(&app).await;
    ivrhub::demo::seed_admin(&app.pool, tenant).await.unwrap();
    let (email, password) = (
        ivrhub::demo::DEMO_ADMIN_EMAIL,
        ivrhub::demo::DEMO_ADMIN_PASSWORD,
    );
    let token = login(&app, email, password).await;
    // The same user's token, rightly signed, expired an hour ago.
    let expired = {
        let user = ivrhub::storage::accounts::user_by_email(&app.pool, email)
            .await
            .unwrap()
            .unwrap();
        let now = Utc::now().timestamp();
        let claims = |exp: i64| {
            json!({"sub": user.user_id.to_string(), "iat": now - 7200, "exp": exp,
                   "iss": "ivrhub", "aud": "ivrhub-api", "role": "tenant_admin", "tenant": tenant})
        };
        let forge = |claims: Value| {
            jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(KEY.as_bytes()),
            )
            .unwrap()
        };
        let (status, me) = get(&app, &forge(claims(now + 600)), "/api/v1/me").await;
        assert_eq!(status, 200, "the forging itself is right: {me}");
        let expired = forge(claims(now - 3600));
        let (status, body) = get(&app, &expired, "/api/v1/me").await;
        assert_eq!(status, 401, "{body}");
        expired
    };
    let range = range_now();
    let api = api_figures(&app, &token, &range, "").await;
    // The data set is what it is meant to be, so the comparison means something.
    assert_eq!(api.summary["figures"]["answered"], 3, "{}", api.summary);
    assert_eq!(api.summary["figures"]["asr"], 0.375);
    assert!(
        api.funnel["figures"]["nodes"]
            .as_array()
            .is_some_and(|nodes| nodes.len() >= 2),
        "the funnel has the menu steps: {}",
        api.funnel
    );

    let csv = app
        .http
        .get(format!(
            "{}/api/v1/reports/cdrs.csv?from={}&to={}",
            app.base, range.from, range.to
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 9, "a header and 8 calls: {csv}");
    // A real alert event: a rule over the day's calls, evaluated once.
    let (status, rule) = crate::api_client::post(
        &app,
        &token,
        "/api/v1/alerts/rules",
        json!({"name": "Demo line answer rate", "metric": "asr", "window_minutes": 1440,
               "condition": "below", "threshold": 0.5, "clear_threshold": 0.6, "min_calls": 5}),
    )
    .await;
    assert_eq!(status, 201, "{rule}");
    let pass = ivrhub::alerts::evaluator::evaluate_due(
        &app.pool,
        chrono::Utc::now() + chrono::Duration::minutes(1),
        &ivrhub::metrics::Metrics::new(),
    )
    .await
    .unwrap();
    assert_eq!(pass.events, 1, "the rule fires on the day's 37.5 %");
    let (_, events) = crate::api_client::get(&app, &token, "/api/v1/alerts/events").await;
    let event = events["items"][0].clone();
    assert_eq!(event["state"], "firing", "{events}");

    let base = app.base.clone();
    let shots = screenshots();
    in_the_browser(move || {
        let mut browser = Browser::launch(&chromium);
        log_in(&mut browser, &base, email, password);
        pick_range(&mut browser, tenant, &range);
        assert_the_apis_figures_are_shown(&mut browser, &api);
        assert!(browser.eval("document.getElementById('tenant-field').hidden") == json!(true), "a tenant's user picks no tenant");
        // The alert event is shown as the API has it.
        let row = browser.wait_for(
            "the alert event",
            "(() => { const row = document.querySelector('#alerts tbody tr'); return row && [row.dataset.state, row.textContent]; })()",
        );
        assert_eq!(row[0], "firing", "{row}");
        let text = row[1].as_str().unwrap();
        assert!(text.contains("Demo line answer rate"), "{text}");
        assert!(text.contains(&format!("{:.1}%", event["value"].as_f64().unwrap() * 100.0)), "{text} vs {event}");
        let names = open_the_diagram(&mut browser);
        for node in ["entry", "main", "sales"] {
            assert!(names.contains(node), "{node} in the diagram: {names}");
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
        let figures = &api.summary["figures"];
        assert_eq!(number_in(&shown(&mut browser, "calls")), figures["calls"].as_f64().unwrap());
        assert_shown("ASR (%) in Hebrew", &shown(&mut browser, "asr"), figures["asr"].as_f64().unwrap() * 100.0);
        browser.screenshot(&shots.join("laptop-he.png"));

        // A phone, in Hebrew and in English: nothing wider than the screen.
        browser.set_viewport(390, 844, true);
        std::thread::sleep(std::time::Duration::from_millis(400));
        browser.screenshot(&shots.join("phone-he.png"));
        browser.click("#lang-switch");
        browser.wait_for("English", "document.documentElement.dir === 'ltr'");
        std::thread::sleep(std::time::Duration::from_millis(200));
        let overflow = browser.eval("document.documentElement.scrollWidth - window.innerWidth");
        assert_eq!(overflow, json!(0), "nothing wider than the phone's screen");
        browser.screenshot(&shots.join("phone-en.png"));

        // The CSV download: fetched with the token, saved under the server's name.
        let download = browser.eval(
            r#"(async () => {
                let name = null, blob = null;
                const click = HTMLAnchorElement.prototype.click;
                const objectUrl = URL.createObjectURL;
                HTMLAnchorElement.prototype.click = function () { name = this.download; };
                URL.createObjectURL = (saved) => { blob = saved; return objectUrl(saved); };
                try { await downloadCsv(); } finally {
                    HTMLAnchorElement.prototype.click = click;
                    URL.createObjectURL = objectUrl;
                }
                return [name, await blob.text()];
            })()"#,
        );
        assert!(download[0].as_str().unwrap().ends_with(".csv"), "{download}");
        assert_eq!(download[1].as_str().unwrap(), csv, "the CSV saved is the API's");

        // The access token is traded for a new one before it expires.
        let before = browser.eval("(() => { const old = state.session.access; state.session.expiresAt = Date.now(); scheduleRefresh(); return old; })()");
        browser.wait_for(
            "a refreshed token",
            &format!("state.session.access !== {before} && JSON.parse(sessionStorage.getItem('ivrhub.console.session')).access === state.session.access"),
        );
        browser.eval("document.getElementById('app-view').dataset.loaded = ''");
        browser.click("#apply");
        wait_for_figures(&mut browser, tenant, &range);
        assert_eq!(shown(&mut browser, "calls"), "8", "the new token works");

        // The alert events' table, drawn from the shape `/alerts/events`
        // answers (the endpoint may not be on this server: then "none").
        let states = browser.eval(
            r#"(() => {
                const at = '2026-12-01T10:07:00+02:00';
                const event = (id, state, value) => ({id, rule_id: 3, rule_name: 'Sales ASR', metric: 'asr', state, at, value, threshold: 0.5, calls: 40, window_minutes: 15});
                RENDERERS.alerts({value: {items: [event(12, 'firing', 0.21), event(13, 'renotified', 0.2), event(14, 'resolved', 0.6)]}});
                return [...document.querySelectorAll('#alerts tbody tr')].map((row) =>
                    [row.dataset.state, getComputedStyle(row.querySelector('.badge')).color, row.cells[4].textContent]);
            })()"#,
        );
        let states = states.as_array().unwrap();
        assert_eq!(states.len(), 3, "{states:?}");
        assert_eq!(states[0][0], "firing");
        assert_eq!(states[0][2], "21.0%", "an ASR is shown as a share");
        assert_ne!(states[0][1], states[2][1], "firing and resolved in different colours");

        assert_eq!(browser.problems(), Vec::<String>::new(), "no script error, no refused policy");

        // A token the API refuses: back to the login form, nothing left on the page.
        browser.eval("state.session.access = 'garbage'");
        browser.click("#apply");
        browser.wait_for("the login form", "!document.getElementById('login-view').hidden");
        assert_eq!(
            browser.eval("document.getElementById('login-message').textContent"),
            json!("Your session has ended. Please log in again.")
        );
        assert_eq!(browser.eval("document.getElementById('app-view').hidden"), json!(true));
        assert_eq!(shown(&mut browser, "calls"), "–", "the figures are gone");
        assert_eq!(
            browser.eval("document.querySelectorAll('#cdrs tr, #statuses .bar-row, #diagram svg').length"),
            json!(0)
        );
        assert_eq!(browser.eval("sessionStorage.length"), json!(0), "the token is forgotten");
        // A stored token that expired on opening the page: the same.
        browser.eval(&format!(
            "sessionStorage.setItem('ivrhub.console.session', \
             JSON.stringify({{access: '{expired}', refresh: 'garbage', expiresAt: Date.now() + 600000}}))"
        ));
        browser.goto(&format!("{base}/console/"));
        browser.wait_for(
            "the login message",
            "document.getElementById('login-message').textContent.includes('session has ended')",
        );
        browser.set_viewport(1280, 900, false);
        browser.screenshot(&shots.join("laptop-en-expired.png"));
    })
    .await;
}

/// A platform admin picks the tenant; every figure is that tenant's, and
/// switching to another tenant leaves nothing of the first on the page.
#[tokio::test]
async fn a_platform_admin_picks_the_tenant_and_sees_nothing_of_another() {
    let Some(chromium) = chromium_or_skip("console platform admin test") else {
        return;
    };
    let app = TestApp::spawn().await;
    let demo = calls_of_the_day(&app).await;
    let root = platform_admin(&app).await;
    let (other, _) = tenant_with_admin(&app, &root, "Quiet").await;
    let range = range_now();
    let api = api_figures(&app, &root, &range, &format!("&tenant_id={demo}")).await;
    let (status, nothing) = get(
        &app,
        &root,
        &format!(
            "/api/v1/reports/summary?from={}&to={}&tenant_id={other}",
            range.from, range.to
        ),
    )
    .await;
    assert_eq!(
        (status, &nothing["figures"]["calls"]),
        (200, &json!(0)),
        "{nothing}"
    );

    let base = app.base.clone();
    let shots = screenshots();
    in_the_browser(move || {
        let mut browser = Browser::launch(&chromium);
        log_in(&mut browser, &base, PLATFORM_ADMIN, PASSWORD);
        assert_eq!(browser.eval("document.getElementById('tenant-field').hidden"), json!(false));
        let tenants = browser.eval("[...document.querySelectorAll('#tenant option')].map((o) => Number(o.value))");
        assert_eq!(tenants, json!([demo, other]));
        browser.set_value("#tenant", &demo.to_string());
        pick_range(&mut browser, demo, &range);
        assert_the_apis_figures_are_shown(&mut browser, &api);
        assert!(open_the_diagram(&mut browser).contains("main"));
        browser.screenshot(&shots.join("laptop-en-platform-admin.png"));

        // The other tenant: nothing published, no number, no call.
        browser.set_value("#tenant", &other.to_string());
        wait_for_figures(&mut browser, other, &range);
        assert_eq!(shown(&mut browser, "calls"), "0");
        assert_eq!(shown(&mut browser, "asr"), "—");
        assert_eq!(
            browser.eval("document.querySelectorAll('#cdrs tbody tr, #statuses .bar-row, #funnel tbody tr, #versions tbody tr').length"),
            json!(0),
            "nothing of the first tenant is left"
        );
        assert_eq!(
            browser.eval("[...document.querySelectorAll('#did option')].map((o) => o.value)"),
            json!([""]),
            "the other tenant has no number"
        );
        browser.click("#show-diagram");
        browser.wait_for(
            "the diagram's answer",
            "document.getElementById('diagram').textContent.includes('Nothing is published yet.')",
        );
        assert_eq!(browser.problems(), Vec::<String>::new(), "no script error, no refused policy");
    })
    .await;
}
