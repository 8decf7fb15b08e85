//! Test harness: a private PostgreSQL for the whole suite (started once, then
//! reused across runs), a fresh database per test cloned from a migrated
//! template, and the real application on a random port.
//!
//! `DATABASE_URL`, when set, names a server to use instead (its user must be
//! allowed to create databases).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use ivrhub::config::ServeSettings;
use ivrhub::pg_embedded::EmbeddedPostgres;
use ivrhub::startup::Application;
use sqlx::PgPool;
use tokio::sync::OnceCell;

/// The maintenance URL of the server the tests use and the template's name.
struct TestServer {
    maintenance_url: String,
    template: String,
}

static SERVER: OnceCell<TestServer> = OnceCell::const_new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

async fn server() -> &'static TestServer {
    SERVER.get_or_init(start_server).await
}

async fn start_server() -> TestServer {
    let maintenance_url = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("var")
                .join("test-postgres");
            tokio::task::spawn_blocking(move || {
                // One start at a time across test processes (nextest runs many).
                let lock_path = root.with_extension("lock");
                std::fs::create_dir_all(root.parent().unwrap()).unwrap();
                let lock = std::fs::File::create(&lock_path).unwrap();
                let _guard =
                    nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive).unwrap();
                EmbeddedPostgres::start(&root)
                    .expect("starting the test PostgreSQL")
                    .url("postgres")
            })
            .await
            .unwrap()
        }
    };
    let template = format!(
        "ivrhub_template_{:016x}",
        ivrhub::db::migrations_fingerprint()
    );
    prepare_template(&maintenance_url, &template).await;
    TestServer {
        maintenance_url,
        template,
    }
}

/// Creates and migrates the template once per migration set; drops the
/// databases that earlier test processes left behind.
async fn prepare_template(maintenance_url: &str, template: &str) {
    let (client, connection) = tokio_postgres::connect(maintenance_url, tokio_postgres::NoTls)
        .await
        .expect("connecting to the test server");
    let driver = tokio::spawn(connection);
    client
        .execute("SELECT pg_advisory_lock(4242)", &[])
        .await
        .unwrap();
    let leftovers = client
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'ivrhub_test_%'",
            &[],
        )
        .await
        .unwrap();
    for row in leftovers {
        let name: String = row.get(0);
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<i32>().ok());
        let alive = pid.is_some_and(|pid| {
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
        });
        if !alive {
            let sql = format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                ivrhub::db::quote_ident(&name)
            );
            client.batch_execute(&sql).await.ok();
        }
    }
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
        .await
        .unwrap()
        .is_some();
    if !exists {
        let building = format!("{template}_building");
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .await
            .unwrap();
        client
            .batch_execute(&format!("CREATE DATABASE {building}"))
            .await
            .unwrap();
        ivrhub::db::migrate(&database_url(maintenance_url, &building))
            .await
            .expect("migrating the template");
        // The migration's backend may take a moment to go away.
        let rename = format!("ALTER DATABASE {building} RENAME TO {template}");
        for attempt in 1.. {
            match client.batch_execute(&rename).await {
                Ok(()) => break,
                Err(error) if attempt < 50 => {
                    let _ = error;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(error) => panic!("renaming the template: {error}"),
            }
        }
    }
    client
        .execute("SELECT pg_advisory_unlock(4242)", &[])
        .await
        .unwrap();
    drop(client);
    let _ = driver.await;
}

/// `url` with its database replaced by `database`.
fn database_url(url: &str, database: &str) -> String {
    let (before_query, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = before_query
        .rsplit_once('/')
        .map_or(before_query, |(base, _)| base);
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// A fresh, migrated database of its own.
pub async fn fresh_database() -> String {
    let server = server().await;
    let name = format!(
        "ivrhub_test_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    );
    ivrhub::db::create_database(&server.maintenance_url, &name, Some(&server.template))
        .await
        .expect("creating a test database");
    database_url(&server.maintenance_url, &name)
}

/// A fresh database with nothing in it (not migrated).
pub async fn empty_database() -> String {
    let url = unused_database_url().await;
    let server = server().await;
    let name = url.split('?').next().unwrap().rsplit('/').next().unwrap();
    ivrhub::db::create_database(&server.maintenance_url, name, None)
        .await
        .expect("creating an empty test database");
    url
}

/// The URL of a test database that does not exist yet (see [`create_from_template`]).
pub async fn unused_database_url() -> String {
    let server = server().await;
    let name = format!(
        "ivrhub_test_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    );
    database_url(&server.maintenance_url, &name)
}

/// Creates the (migrated) database `url` names.
pub async fn create_from_template(url: &str) {
    let server = server().await;
    let name = url.split('?').next().unwrap().rsplit('/').next().unwrap();
    ivrhub::db::create_database(&server.maintenance_url, name, Some(&server.template))
        .await
        .expect("creating a test database");
}

/// Drops a test database at once, cutting its connections: the database is "down".
pub async fn drop_database(url: &str) {
    let server = server().await;
    let name = url.split('?').next().unwrap().rsplit('/').next().unwrap();
    let (client, connection) =
        tokio_postgres::connect(&server.maintenance_url, tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "DROP DATABASE {} WITH (FORCE)",
            ivrhub::db::quote_ident(name)
        ))
        .await
        .unwrap();
}

pub struct TestApp {
    pub base: String,
    /// `/voicenter`, or `/voicenter/<secret>` when the settings have one.
    pub webhook: String,
    pub pool: PgPool,
    pub database_url: String,
    pub http: reqwest::Client,
    /// This node's alert tasks (when its settings run them): its name in
    /// `leases`, and handles that stop them as if the node died.
    pub alerts: Option<(String, Vec<tokio::task::AbortHandle>)>,
    /// This node's name in `leases`, and the handle that stops its
    /// maintenance task (when its settings run it).
    pub node: String,
    pub maintenance: Option<tokio::task::AbortHandle>,
}

pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    pub retry_after: Option<String>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(ServeSettings::for_tests()).await
    }

    pub async fn spawn_with(settings: ServeSettings) -> TestApp {
        let database_url = fresh_database().await;
        TestApp::spawn_on(settings, database_url).await
    }

    /// Another node of the same deployment: the app on the database of `self`.
    pub async fn another_node(&self) -> TestApp {
        TestApp::spawn_on(ServeSettings::for_tests(), self.database_url.clone()).await
    }

    /// The app on the database `database_url` (migrated at start).
    pub async fn spawn_on(settings: ServeSettings, database_url: String) -> TestApp {
        // Logs show with `RUST_LOG=… cargo test -- --nocapture`.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let webhook = match &settings.webhook_secret {
            Some(secret) => format!("/voicenter/{}", secret.expose()),
            None => "/voicenter".to_owned(),
        };
        let app = Application::build(settings, &database_url, 8)
            .await
            .expect("building the app");
        let base = format!("http://127.0.0.1:{}", app.port());
        let pool = app.pool().clone();
        let alerts = app
            .alerts()
            .map(|running| (running.node.clone(), running.abort_handles()));
        let node = app.node().to_owned();
        let maintenance = app.maintenance();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            base,
            webhook,
            pool,
            database_url,
            http: reqwest::Client::new(),
            alerts,
            node,
            maintenance,
        }
    }

    /// The demo tenant's id, after seeding it and seeing the webhook answer
    /// from it (the cache follows the database through NOTIFY, a few ms later).
    pub async fn with_demo(&self) -> i64 {
        let tenant = ivrhub::demo::seed(&self.pool)
            .await
            .expect("seeding the demo");
        let warm_up = crate::voicenter_client::Call::new(
            self,
            ivrhub::voicenter::types::Encoding::Json,
            "warm-up",
        );
        let answer = crate::flow_changes::eventually(
            || warm_up.step("-1", ""),
            |answer| matches!(answer.action, ivrhub::voicenter::types::Action::Menu(_)),
        )
        .await;
        assert!(
            matches!(answer.action, ivrhub::voicenter::types::Action::Menu(_)),
            "the demo never answered: {answer:?}"
        );
        tenant
    }

    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let content_type = header("content-type").unwrap_or_default();
        let retry_after = header("retry-after");
        let body = response.text().await.unwrap();
        Response {
            status,
            content_type,
            body,
            retry_after,
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        Response {
            status,
            content_type,
            body: response.text().await.unwrap(),
            retry_after: None,
        }
    }
}
