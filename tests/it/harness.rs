//! Test harness: a private PostgreSQL for the whole suite (started once, then
//! reused across runs), a fresh database per test cloned from a migrated
//! template, and the real application on a random port.
//!
//! `DATABASE_URL`, when set, names a server to use instead (its user must be
//! allowed to create databases).
//!
//! `IVRHUB_TEST_CITUS=1` runs the tests on Citus instead (off by default; it
//! needs Citus installed: ../shared/citus/build.sh): a coordinator and two
//! workers on loopback under var/test-citus/ (three TCP ports from 24000 on, a block per checkout, or from
//! `IVRHUB_TEST_CITUS_PORT` on), each with the `citus` library preloaded. A
//! database per test works there too, because Citus reaches a worker's
//! shards in the database of the same name: the template is made on every
//! node (the extension in each, the workers registered in the coordinator's,
//! migrated and distributed through the coordinator), then closed to
//! connections so that Citus's maintenance daemons let go of it; each test's
//! database is a `CREATE DATABASE … TEMPLATE` of it on every node, the
//! application talking to the coordinator's.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use ivrhub::config::ServeSettings;
use ivrhub::pg_embedded::{EmbeddedPostgres, ServerOptions};
use ivrhub::startup::Application;
use sqlx::PgPool;
use tokio::sync::OnceCell;

/// The maintenance URLs of the servers the tests use (one; on Citus the
/// coordinator first, then the workers) and the template's name.
struct TestServer {
    nodes: Vec<String>,
    template: String,
}

impl TestServer {
    /// The server the application talks to (the coordinator on Citus).
    fn maintenance_url(&self) -> &str {
        &self.nodes[0]
    }
}

static SERVER: OnceCell<TestServer> = OnceCell::const_new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

async fn server() -> &'static TestServer {
    SERVER.get_or_init(start_server).await
}

/// Whether this run is on Citus (`IVRHUB_TEST_CITUS=1`).
pub fn on_citus() -> bool {
    std::env::var("IVRHUB_TEST_CITUS").is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
}

/// The TCP port of the Citus test coordinator; the workers take the next
/// two. By default one block of three ports from [`CITUS_PORTS_FROM`] per
/// checkout (by its path), so that two checkouts' clusters do not take each
/// other's ports.
/// The first port of the Citus test clusters' blocks (24000–24599, and
/// 600 above for a test's own cluster), below Linux's ephemeral range
/// (32768–60999): a block inside it (57440 on, before) was once taken by
/// a client connection the suite had just made, and a worker could not
/// listen (`Address already in use`; CI lost the whole Citus run).
const CITUS_PORTS_FROM: u16 = 24_000;

fn citus_base_port() -> u16 {
    std::env::var("IVRHUB_TEST_CITUS_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            // FNV-1a of the checkout's path.
            let hash = env!("CARGO_MANIFEST_DIR")
                .bytes()
                .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
                    (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
                });
            CITUS_PORTS_FROM + 3 * (hash % 200) as u16
        })
}

async fn start_server() -> TestServer {
    let nodes = match std::env::var("DATABASE_URL") {
        Ok(url) if !on_citus() => vec![url],
        _ => {
            let var = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("var");
            tokio::task::spawn_blocking(move || {
                // One start at a time across test processes (nextest runs many).
                let lock_path = var.join("test-postgres.lock");
                std::fs::create_dir_all(&var).unwrap();
                let lock = std::fs::File::create(&lock_path).unwrap();
                let _guard =
                    nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive).unwrap();
                if on_citus() {
                    let base = citus_base_port();
                    ["coordinator", "worker1", "worker2"]
                        .iter()
                        .zip(base..)
                        .map(|(name, port)| {
                            EmbeddedPostgres::start_with(
                                &var.join("test-citus").join(name),
                                citus_node_options(port),
                            )
                            .unwrap_or_else(|error| panic!("starting the Citus {name}: {error:#}"))
                            .url("postgres")
                        })
                        .collect()
                } else {
                    let options = ServerOptions {
                        settings: owned(TEST_WAL),
                        ..ServerOptions::default()
                    };
                    vec![
                        EmbeddedPostgres::start_with(&var.join("test-postgres"), options)
                            .expect("starting the test PostgreSQL")
                            .url("postgres"),
                    ]
                }
            })
            .await
            .unwrap()
        }
    };
    // On Citus the template records its workers' ports: one per port block.
    let cluster = if on_citus() {
        format!("_citus{}", citus_base_port())
    } else {
        String::new()
    };
    let template = format!(
        "ivrhub_template_{:016x}{cluster}",
        ivrhub::db::migrations_fingerprint()
    );
    prepare_template(&nodes, &template).await;
    TestServer { nodes, template }
}

/// Every test server's WAL kept small: each test database is a copy of
/// the template written through the WAL, and the default (1 GB) let a run
/// keep ~500 MB of it per server (four servers on Citus), which a CI
/// machine's disk did not always have.
const TEST_WAL: &[(&str, &str)] = &[("max_wal_size", "96MB"), ("min_wal_size", "32MB")];

fn owned(settings: &[(&str, &str)]) -> Vec<(String, String)> {
    settings
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// A node of the Citus test cluster: TCP on loopback (the nodes connect to
/// each other), Citus preloaded, prepared transactions for its two-phase
/// commits, few shards (each test database copies them all), no fsync
/// (test data) and a small WAL.
fn citus_node_options(port: u16) -> ServerOptions {
    let settings = [
        ("shared_preload_libraries", "citus"),
        ("max_prepared_transactions", "300"),
        ("citus.shard_count", "4"),
        ("fsync", "off"),
        ("synchronous_commit", "off"),
        // Autovacuum enters a database closed to connections and starts
        // Citus's maintenance daemon there, which then holds the template
        // open: its rename and every copy of it wait 5 s and fail.
        ("autovacuum", "off"),
    ];
    ServerOptions {
        port: Some(port),
        tcp_loopback: true,
        settings: owned(&[&settings[..], TEST_WAL].concat()),
    }
}

/// A client of one node's maintenance database.
async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connecting to the test server");
    tokio::spawn(connection);
    client
}

/// Runs `sql` on every node's maintenance database.
async fn on_every_node(nodes: &[String], sql: &str) {
    for url in nodes {
        connect(url)
            .await
            .batch_execute(sql)
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error:?}"));
    }
}

/// Creates and migrates the template once per migration set; drops the
/// databases that earlier test processes left behind.
async fn prepare_template(nodes: &[String], template: &str) {
    let client = connect(&nodes[0]).await;
    client
        .execute("SELECT pg_advisory_lock(4242)", &[])
        .await
        .unwrap();
    // Listed on every node: a drop that failed on a worker leaves its copy
    // there alone. A name with this process's pid is a leftover too (pids
    // come round again), since this process has made no database yet.
    for url in nodes {
        let node = connect(url).await;
        let leftovers = node
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
                pid != std::process::id() as i32
                    && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
            });
            if !alive {
                let sql = format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    ivrhub::db::quote_ident(&name)
                );
                node.batch_execute(&sql).await.ok();
            }
        }
    }
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
        .await
        .unwrap()
        .is_some();
    if !exists {
        let building = format!("{template}_building");
        on_every_node(
            nodes,
            &format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
        )
        .await;
        on_every_node(nodes, &format!("CREATE DATABASE {building}")).await;
        if nodes.len() > 1 {
            add_citus_nodes(nodes, &building, citus_base_port()).await;
        }
        // On Citus, the migration distributes the tables (the extension is there).
        ivrhub::db::migrate(&database_url(&nodes[0], &building))
            .await
            .expect("migrating the template");
        // Citus's maintenance daemons and the nodes' connections to each
        // other stay in the database: close it to them on every node, then
        // rename (and later clone) it. A template needs no connections.
        let (close, end_sessions, rename) = (
            format!("ALTER DATABASE {building} ALLOW_CONNECTIONS false"),
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{building}'"
            ),
            format!("ALTER DATABASE {building} RENAME TO {template}"),
        );
        if nodes.len() > 1 {
            on_every_node(nodes, &format!("{close}; {end_sessions}")).await;
            // Ended sessions may bring a daemon back at once: let it fail.
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        for url in nodes {
            let node = connect(url).await;
            let mut first = true;
            // The migration's backend may take a moment to go away, and on
            // Citus a session may still arrive (see [`while_in_use`]).
            while_in_use("renaming the template", || {
                let again = !std::mem::replace(&mut first, false);
                let (node, end_sessions, rename) = (&node, &end_sessions, &rename);
                async move {
                    if again {
                        node.batch_execute(end_sessions).await?;
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                    node.batch_execute(rename).await
                }
            })
            .await;
        }
    }
    client
        .execute("SELECT pg_advisory_unlock(4242)", &[])
        .await
        .unwrap();
}

/// Makes `database` a Citus database on every node, the first the
/// coordinator and the others its workers (by their loopback ports).
async fn add_citus_nodes(nodes: &[String], database: &str, base: u16) {
    for url in nodes {
        connect(&database_url(url, database))
            .await
            .batch_execute("CREATE EXTENSION IF NOT EXISTS citus")
            .await
            .expect("creating the citus extension (is Citus installed? ../shared/citus/build.sh)");
    }
    let coordinator = connect(&database_url(&nodes[0], database)).await;
    let base = i32::from(base);
    coordinator
        .execute(
            "SELECT citus_set_coordinator_host('127.0.0.1', $1)",
            &[&base],
        )
        .await
        .expect("registering the coordinator");
    for port in (base + 1..).take(nodes.len() - 1) {
        coordinator
            .execute("SELECT citus_add_node('127.0.0.1', $1)", &[&port])
            .await
            .expect("adding a worker");
    }
}

/// A Citus cluster of a test's own (a coordinator and two workers on
/// loopback, under var/test-citus-own/, ports 600 above the shared
/// cluster's block), for a test that breaks it: stopping a worker of the
/// shared cluster would fail every other test. Its database is made anew
/// and migrated (so distributed) by [`OwnCitusCluster::start`].
pub struct OwnCitusCluster {
    pub nodes: Vec<EmbeddedPostgres>,
    /// The coordinator's database.
    pub url: String,
}

impl OwnCitusCluster {
    pub async fn start() -> OwnCitusCluster {
        let base = citus_base_port() + 600;
        let var = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("var/test-citus-own");
        let nodes: Vec<EmbeddedPostgres> = tokio::task::spawn_blocking(move || {
            ["coordinator", "worker1", "worker2"]
                .iter()
                .zip(base..)
                .map(|(name, port)| {
                    // Left running by a run that failed half-way: stopped, so
                    // that this run starts (and can stop) every node itself.
                    stop_leftover(&var.join(name));
                    EmbeddedPostgres::start_with(&var.join(name), citus_node_options(port))
                        .unwrap_or_else(|error| panic!("starting the Citus {name}: {error:#}"))
                })
                .collect()
        })
        .await
        .unwrap();
        let urls: Vec<String> = nodes.iter().map(|node| node.url("postgres")).collect();
        let database = "ivrhub_own";
        on_every_node(
            &urls,
            &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
        )
        .await;
        on_every_node(&urls, &format!("CREATE DATABASE {database}")).await;
        add_citus_nodes(&urls, database, base).await;
        let url = database_url(&urls[0], database);
        ivrhub::db::migrate(&url)
            .await
            .expect("migrating the own Citus cluster");
        OwnCitusCluster { nodes, url }
    }

    /// Starts node `n` again (after [`EmbeddedPostgres::stop`]), on its port.
    pub async fn restart(&mut self, n: usize) {
        let (root, port) = (self.nodes[n].root().to_owned(), self.nodes[n].port());
        self.nodes[n] = tokio::task::spawn_blocking(move || {
            EmbeddedPostgres::start_with(&root, citus_node_options(port))
                .expect("restarting a node")
        })
        .await
        .unwrap();
    }

    /// Stops every node this process started.
    pub fn stop(&self) {
        for node in &self.nodes {
            node.stop().ok();
        }
    }
}

/// Stops the server whose data folder is `root/data`, if one runs there.
fn stop_leftover(root: &std::path::Path) {
    let pid_file = root.join("data/postmaster.pid");
    let pid = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|text| text.lines().next()?.trim().parse::<i32>().ok());
    if let Some(pid) = pid {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGINT,
        );
        for _ in 0..100 {
            if !pid_file.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// The database a URL names.
fn database_name(url: &str) -> &str {
    url.split('?').next().unwrap().rsplit('/').next().unwrap()
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

/// Runs `attempt` until no other session is in its way, and panics with
/// `what` on any other error or after about four minutes.
///
/// Renaming or copying a database needs it to have no other session, and
/// PostgreSQL waits 5 s for one before giving up. On Citus a closed
/// database still gets sessions for a while after its own were ended:
/// Citus's maintenance daemon, restarted every 5 s after it fails, and
/// Citus's own connections, which reconnect as soon as they fail. Retrying
/// 100 ms after a failure met the next of those every time (a fresh
/// cluster lost minutes, then the test); a pause of 0.3 to 1.5 s, varied,
/// falls between them.
async fn while_in_use<F, Fut>(what: &str, mut attempt: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), tokio_postgres::Error>>,
{
    for tries in 1.. {
        match attempt().await {
            Ok(()) => return,
            Err(error)
                if tries < 40
                    && error.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE) =>
            {
                eprintln!("{what}: {error}; trying again");
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .subsec_nanos();
                let pause = 300 + u64::from(nanos % 1_200);
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            Err(error) => panic!("{what}: {error:?}"),
        }
    }
}

/// Creates `name` on every node (as a copy of `template`, when given).
async fn create_everywhere(server: &TestServer, name: &str, template: Option<&str>) {
    let mut sql = format!("CREATE DATABASE {}", ivrhub::db::quote_ident(name));
    if let Some(template) = template {
        sql.push_str(&format!(" TEMPLATE {}", ivrhub::db::quote_ident(template)));
    }
    for url in &server.nodes {
        let node = connect(url).await;
        while_in_use("creating a test database", || node.batch_execute(&sql)).await;
    }
}

/// The name of a database of this test process not used yet.
fn next_database_name() -> String {
    format!(
        "ivrhub_test_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh, migrated database of its own.
pub async fn fresh_database() -> String {
    let server = server().await;
    let name = next_database_name();
    create_everywhere(server, &name, Some(&server.template)).await;
    database_url(server.maintenance_url(), &name)
}

/// A fresh database with nothing in it (not migrated; on Citus, without
/// the extension).
pub async fn empty_database() -> String {
    let url = unused_database_url().await;
    let server = server().await;
    let name = database_name(&url);
    create_everywhere(server, name, None).await;
    url
}

/// The URL of a test database that does not exist yet (see [`create_from_template`]).
pub async fn unused_database_url() -> String {
    let server = server().await;
    database_url(server.maintenance_url(), &next_database_name())
}

/// Creates the (migrated) database `url` names.
pub async fn create_from_template(url: &str) {
    let server = server().await;
    let name = database_name(url);
    create_everywhere(server, name, Some(&server.template)).await;
}

/// Drops a test database at once, cutting its connections: the database is
/// "down" (on Citus: on every node).
pub async fn drop_database(url: &str) {
    let server = server().await;
    let name = database_name(url);
    on_every_node(
        &server.nodes,
        &format!(
            "DROP DATABASE {} WITH (FORCE)",
            ivrhub::db::quote_ident(name)
        ),
    )
    .await;
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
    /// The database this app was given by [`TestApp::spawn_with`] (shared
    /// with [`TestApp::another_node`]), dropped when the last app on it is
    /// done; none for a database the test brought itself.
    own_database: Option<Arc<OwnDatabase>>,
}

/// A test's own database, dropped on every node when the last app on it is
/// done, so that a run's disk holds the databases of the tests running, not
/// of every test run so far (~10 MB each, ~30 MB on Citus; CI's disk is not
/// always large). A failed test's database is kept for a look; the next run
/// drops it with the other leftovers (see [`prepare_template`]), as it does
/// the few databases tests take from [`fresh_database`] themselves.
struct OwnDatabase {
    name: String,
}

impl Drop for OwnDatabase {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let Some(server) = SERVER.get() else {
            return;
        };
        let nodes = server.nodes.clone();
        let sql = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            ivrhub::db::quote_ident(&self.name)
        );
        // Drop runs inside the test's runtime: a thread with a runtime of
        // its own does the work, and the test waits for it.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for dropping a test database")
                .block_on(async {
                    // Workers first, the coordinator last; a copy a failed
                    // drop leaves is found by the next run's sweep, which
                    // lists every node.
                    for url in nodes.iter().rev() {
                        connect(url)
                            .await
                            .batch_execute(&sql)
                            .await
                            .map_err(|error| format!("{sql}: {error}"))?;
                    }
                    Ok::<(), String>(())
                })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("leaving a test database behind: {error}"),
            Err(_) => eprintln!("leaving the test database {} behind", self.name),
        }
    }
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
        let own = Arc::new(OwnDatabase {
            name: database_name(&database_url).to_owned(),
        });
        TestApp {
            own_database: Some(own),
            ..TestApp::spawn_on(settings, database_url).await
        }
    }

    /// Another node of the same deployment: the app on the database of `self`.
    pub async fn another_node(&self) -> TestApp {
        TestApp {
            own_database: self.own_database.clone(),
            ..TestApp::spawn_on(ServeSettings::for_tests(), self.database_url.clone()).await
        }
    }

    /// The app on the database `database_url` (migrated at start). The
    /// database is the caller's: one given by [`TestApp::spawn_with`] is
    /// dropped when that app (and its [`TestApp::another_node`]s) are done,
    /// so an app spawned here on it must not outlive them.
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
            own_database: None,
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
