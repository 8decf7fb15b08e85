//! The `ivrhub` command line.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use ivrhub::admin::bootstrap::{self, Bootstrap};
use ivrhub::config::Secret;
use ivrhub::config::{DatabaseSettings, ServeSettings};
use ivrhub::pg_embedded::EmbeddedPostgres;
use ivrhub::reports::rollup;
use ivrhub::startup::Application;
use ivrhub::{db, demo};

#[derive(Parser)]
#[command(
    name = "ivrhub",
    version,
    about = "Multi-tenant backend for Voicenter's External IVR"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the webhook (and, without DATABASE_URL, a private PostgreSQL under ./var).
    Serve {
        #[command(flatten)]
        database: DatabaseSettings,
        #[command(flatten)]
        serve: ServeSettings,
        /// Seed the demo tenant (DID 0730000000) and its flow.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending migrations and exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseSettings,
        /// Distribute the tables on Citus, failing if the database has no
        /// citus extension (the default: when it has; IVRHUB_CITUS).
        #[arg(long)]
        distribute: bool,
    },
    /// Write the OpenAPI document to openapi/openapi.json (or check it is current).
    Openapi {
        /// Fail if the committed file differs from what the code generates.
        #[arg(long)]
        check: bool,
        #[arg(long, default_value = "openapi/openapi.json")]
        path: std::path::PathBuf,
    },
    /// Roll up every closed report day not rolled up yet, of every tenant
    /// (after deploying over months of existing CDRs), and exit.
    Rollup {
        #[command(flatten)]
        database: DatabaseSettings,
        /// First UTC day to roll up, for every tenant (YYYY-MM-DD); default:
        /// each tenant's first CDR, at most 400 days back.
        #[arg(long)]
        since: Option<chrono::NaiveDate>,
    },
    /// Run one pass of the maintenance task now (partitions ahead,
    /// retention, expired CDR claims), as `serve` does hourly on one node,
    /// print what it did, and exit.
    Maintain {
        #[command(flatten)]
        database: DatabaseSettings,
        #[command(flatten)]
        retention: ivrhub::config::RetentionSettings,
    },
    /// Walk a scripted call through a tenant's flow, as the webhook would
    /// answer it (nothing is written): `--press 1 --no-answer --silence …`
    /// in the order given.
    Simulate {
        #[command(flatten)]
        database: DatabaseSettings,
        #[command(flatten)]
        fallback: ivrhub::config::FallbackSettings,
        /// The tenant: its id or its name.
        #[arg(long)]
        tenant: String,
        /// One of the tenant's numbers.
        #[arg(long)]
        did: String,
        /// The caller's number.
        #[arg(long, default_value = "")]
        caller: String,
        /// The clock, with its offset (default: now).
        #[arg(long)]
        at: Option<String>,
        /// `draft`, `live` or a version number.
        #[arg(long, default_value = "draft")]
        flow: String,
        /// Digits pressed at a menu (repeatable; the order of all inputs is kept).
        #[arg(long = "press", value_name = "DIGITS")]
        _press: Vec<String>,
        /// Nothing pressed at a menu.
        #[arg(long = "silence", action = clap::ArgAction::Count)]
        _silence: u8,
        /// The dialled number did not answer (at a CALL).
        #[arg(long = "no-answer", action = clap::ArgAction::Count)]
        _no_answer: u8,
        /// Any input (digits, `silence`, `no_answer`), in order with the others.
        #[arg(long = "input", value_name = "INPUT")]
        _input: Vec<String>,
        /// Answers in XML-RPC rather than JSON.
        #[arg(long)]
        xml: bool,
        /// Print the transcript as JSON (as the API's `/flow/simulate` answers).
        #[arg(long)]
        json: bool,
    },
    /// Create a platform admin account.
    CreateAdmin {
        #[command(flatten)]
        database: DatabaseSettings,
        #[arg(long)]
        email: String,
        /// The password; read from IVRHUB_ADMIN_PASSWORD when not given.
        #[arg(long, env = "IVRHUB_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

/// The name of the database `serve` uses on its private PostgreSQL.
const EMBEDDED_DATABASE: &str = "ivrhub";

#[tokio::main]
async fn main() -> Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // IVRHUB_LOG_FORMAT=json: one JSON object per line, for log collectors.
    match std::env::var("IVRHUB_LOG_FORMAT").as_deref() {
        Ok("json") => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init(),
        Ok("text") | Err(_) => tracing_subscriber::fmt().with_env_filter(filter).init(),
        Ok(other) => {
            tracing_subscriber::fmt().with_env_filter(filter).init();
            tracing::warn!(
                format = other,
                "IVRHUB_LOG_FORMAT is `text` or `json`; writing text"
            );
        }
    }
    match Cli::parse().command {
        Command::Serve {
            database,
            serve,
            demo,
        } => run_serve(database, serve, demo).await,
        Command::Migrate {
            database,
            distribute,
        } => {
            let (url, embedded) = database_url(&database).await?;
            let result = if distribute {
                db::migrate_with(&url, None, ivrhub::citus::CitusMode::Required).await
            } else {
                db::migrate(&url).await
            };
            stop(embedded);
            result
        }
        Command::Openapi { check, path } => openapi(check, &path),
        Command::Rollup { database, since } => {
            on_migrated_database(&database, |pool| async move {
                let started = std::time::Instant::now();
                let outcome = rollup::roll_up_history(&pool, since, chrono::Utc::now()).await?;
                println!(
                    "{} report days rolled up in {:.1} s",
                    outcome.days,
                    started.elapsed().as_secs_f64()
                );
                if outcome.failed > 0 {
                    anyhow::bail!(
                        "{} report days failed to roll up (see the log); run it again",
                        outcome.failed
                    );
                }
                Ok(())
            })
            .await
        }
        Command::Maintain {
            database,
            retention,
        } => {
            on_migrated_database(&database, |pool| async move {
                let started = std::time::Instant::now();
                let pass = ivrhub::maintenance::run(
                    &pool,
                    chrono::Utc::now(),
                    retention.step_retention_days,
                )
                .await?;
                println!(
                    "maintenance pass in {:.1} s: created {:?}, dropped {:?}, rewritten {:?}, failed {:?}, {} expired CDR claims removed",
                    started.elapsed().as_secs_f64(),
                    pass.created,
                    pass.dropped,
                    pass.rewritten,
                    pass.failed,
                    pass.claims_removed
                );
                if !pass.failed.is_empty() {
                    anyhow::bail!("some partitions failed (see the log); they are tried again next pass");
                }
                Ok(())
            })
            .await
        }
        Command::Simulate {
            database,
            fallback,
            tenant,
            did,
            caller,
            at,
            flow,
            xml,
            json,
            ..
        } => {
            let args: Vec<String> = std::env::args().collect();
            let inputs = ivrhub::simulate::inputs_in_order(&args);
            let (url, embedded) = database_url(&database).await?;
            let result = async {
                // Reads only: no migration (the schema is the serving nodes').
                let pool = db::connect_pool(&url, 2).await?;
                // A name first (a name may be all digits), then an id.
                let row = match ivrhub::storage::tenants::tenant_by_name(&pool, &tenant).await? {
                    Some(row) => Some(row),
                    None => match tenant.parse::<i64>() {
                        Ok(id) => ivrhub::storage::tenants::tenant(&pool, id).await?,
                        Err(_) => None,
                    },
                };
                let Some(row) = row else {
                    anyhow::bail!("no tenant {tenant:?} (give its id or its name)");
                };
                let request = ivrhub::admin::simulate_api::SimulateRequest {
                    flow: Some(flow),
                    did,
                    caller_id: caller,
                    caller_name: String::new(),
                    at,
                    inputs,
                    encoding: Some(if xml {
                        ivrhub::admin::simulate_api::SimulatedEncoding::XmlRpc
                    } else {
                        ivrhub::admin::simulate_api::SimulatedEncoding::Json
                    }),
                };
                let safe = ivrhub::webhook::fallback::SafeAnswer::configured(&fallback);
                let transcript = ivrhub::admin::simulate_api::run_simulation(
                    &pool,
                    row.tenant_id,
                    &request,
                    &safe,
                    chrono::Utc::now(),
                )
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&transcript)?);
                } else {
                    print!("{}", ivrhub::simulate::render(&transcript));
                }
                Ok(())
            }
            .await;
            stop(embedded);
            result
        }
        Command::CreateAdmin {
            database,
            email,
            password,
        } => {
            on_migrated_database(&database, |pool| async move {
                bootstrap::create_platform_admin(&pool, &email, &password).await?;
                println!("platform admin {email} created");
                Ok(())
            })
            .await
        }
    }
}

fn openapi(check: bool, path: &std::path::Path) -> Result<()> {
    let generated = ivrhub::admin::openapi().to_pretty_json()? + "\n";
    if check {
        let committed =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        if committed != generated {
            anyhow::bail!(
                "{} is out of date: run `cargo run -- openapi` and commit it",
                path.display()
            );
        }
        println!("{} is up to date", path.display());
    } else {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::write(path, generated)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

async fn run_serve(
    database: DatabaseSettings,
    mut serve: ServeSettings,
    seed_demo: bool,
) -> Result<()> {
    if serve.jwt_secret.is_none() {
        serve.jwt_secret = Some(kept_jwt_secret(&database.data_dir)?);
    }
    let (url, embedded) = database_url(&database).await?;
    let result = async {
        let listen = serve.listen;
        let secret_path = serve.webhook_secret.is_some();
        let admin_email = serve.admin_email.clone();
        let admin_password = serve.admin_password.clone();
        let app = Application::build(serve, &url, database.db_pool).await?;
        let first_admin = bootstrap::ensure_first_admin(
            app.pool(),
            admin_email.as_deref(),
            admin_password.as_ref().map(|p| p.expose()),
        )
        .await
        .context("creating the first platform admin")?;
        match first_admin {
            Bootstrap::Existing => {}
            Bootstrap::Created { email } => tracing::info!(%email, "first platform admin created"),
            Bootstrap::Generated { email, password } => println!(
                "\nNo platform admin existed: created one. Log in at /api/v1/auth/login with\n  email:    {email}\n  password: {password}\n(shown once; change it with POST /api/v1/me/password)\n"
            ),
        }
        if seed_demo {
            let tenant = demo::seed(app.pool()).await.context("seeding the demo tenant")?;
            demo::seed_admin(app.pool(), tenant).await.context("creating the demo tenant's admin")?;
            tracing::info!(did = demo::DEMO_DID, "demo tenant ready: call the webhook with this DID");
            println!(
                "Demo tenant admin: email {} password {} (unless changed since)\n",
                demo::DEMO_ADMIN_EMAIL,
                demo::DEMO_ADMIN_PASSWORD
            );
        }
        let base = format!("http://{}:{}", listen.ip(), app.port());
        let webhook = if secret_path { format!("{base}/voicenter/<IVRHUB_WEBHOOK_SECRET>") } else { format!("{base}/voicenter") };
        let database = match &embedded {
            Some(cluster) => format!("private PostgreSQL under {}", cluster.root().display()),
            None => "DATABASE_URL".to_owned(),
        };
        tracing::info!(%webhook, docs = %format!("{base}/docs/"), health = %format!("{base}/health"), metrics = %format!("{base}/metrics"), %database, "ivrhub is serving");
        app.run_until_stopped().await
    }
    .await;
    stop(embedded);
    result
}

/// DATABASE_URL, or our private cluster (started, and its database created).
async fn database_url(settings: &DatabaseSettings) -> Result<(String, Option<EmbeddedPostgres>)> {
    if let Some(url) = &settings.database_url {
        return Ok((url.clone(), None));
    }
    let root = settings.data_dir.join("postgres");
    let cluster = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&root)).await??;
    tracing::info!(folder = %cluster.root().display(), reused = !cluster.started_here(), "private PostgreSQL running");
    if let Err(error) = db::create_database(&cluster.url("postgres"), EMBEDDED_DATABASE, None).await
    {
        stop(Some(cluster));
        return Err(error);
    }
    Ok((cluster.url(EMBEDDED_DATABASE), Some(cluster)))
}

/// Runs `job` on a pool of the migrated database, starting the private
/// PostgreSQL first (and stopping it after) when no URL is given.
async fn on_migrated_database<F, Fut>(settings: &DatabaseSettings, job: F) -> Result<()>
where
    F: FnOnce(sqlx::PgPool) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let (url, embedded) = database_url(settings).await?;
    let result = async {
        db::migrate(&url).await?;
        job(db::connect_pool(&url, 2).await?).await
    }
    .await;
    stop(embedded);
    result
}

fn stop(embedded: Option<EmbeddedPostgres>) {
    if let Some(cluster) = embedded {
        match cluster.stop() {
            Ok(()) => tracing::info!("private PostgreSQL stopped"),
            Err(error) => tracing::error!(%error, "stopping the private PostgreSQL failed"),
        }
    }
}

/// The token-signing key kept under the data folder, made on first use.
fn kept_jwt_secret(data_dir: &std::path::Path) -> Result<Secret> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(Secret::new(existing.trim().to_owned()));
    }
    // Said in words: the settings that fix it, not only the OS error.
    let cannot = |what: &str, error: std::io::Error| {
        let folder = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_owned());
        anyhow::anyhow!(
            "cannot keep the token-signing key: {what} {}: {error}. Set IVRHUB_DATA_DIR to a folder \
             this user can write (the container image uses /var/lib/ivrhub), or set \
             IVRHUB_JWT_SECRET (at least 32 characters, the same on every node)",
            folder.display()
        )
    };
    std::fs::create_dir_all(data_dir).map_err(|error| cannot("creating", error))?;
    let secret = ivrhub::auth::tokens::random_secret();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|error| cannot("creating the key in", error))?;
    file.write_all(secret.as_bytes())
        .map_err(|error| cannot("writing the key in", error))?;
    Ok(Secret::new(secret))
}
