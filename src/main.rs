//! The `ivrhub` command line.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use ivrhub::config::{DatabaseSettings, ServeSettings};
use ivrhub::pg_embedded::EmbeddedPostgres;
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
    },
}

/// The name of the database `serve` uses on its private PostgreSQL.
const EMBEDDED_DATABASE: &str = "ivrhub";

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        Command::Serve {
            database,
            serve,
            demo,
        } => run_serve(database, serve, demo).await,
        Command::Migrate { database } => {
            let (url, embedded) = database_url(&database).await?;
            let result = db::migrate(&url).await;
            stop(embedded);
            result
        }
    }
}

async fn run_serve(
    database: DatabaseSettings,
    serve: ServeSettings,
    seed_demo: bool,
) -> Result<()> {
    let (url, embedded) = database_url(&database).await?;
    let result = async {
        let listen = serve.listen;
        let secret_path = serve.webhook_secret.is_some();
        let app = Application::build(serve, &url, database.db_pool).await?;
        if seed_demo {
            demo::seed(app.pool()).await.context("seeding the demo tenant")?;
            tracing::info!(did = demo::DEMO_DID, "demo tenant ready: call the webhook with this DID");
        }
        let base = format!("http://{}:{}", listen.ip(), app.port());
        let webhook = if secret_path { format!("{base}/voicenter/<IVRHUB_WEBHOOK_SECRET>") } else { format!("{base}/voicenter") };
        let database = match &embedded {
            Some(cluster) => format!("private PostgreSQL under {}", cluster.root().display()),
            None => "DATABASE_URL".to_owned(),
        };
        tracing::info!(%webhook, health = %format!("{base}/health"), metrics = %format!("{base}/metrics"), %database, "ivrhub is serving");
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
    db::create_database(&cluster.url("postgres"), EMBEDDED_DATABASE, None).await?;
    Ok((cluster.url(EMBEDDED_DATABASE), Some(cluster)))
}

fn stop(embedded: Option<EmbeddedPostgres>) {
    if let Some(cluster) = embedded {
        match cluster.stop() {
            Ok(()) => tracing::info!("private PostgreSQL stopped"),
            Err(error) => tracing::error!(%error, "stopping the private PostgreSQL failed"),
        }
    }
}
