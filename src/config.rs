//! Settings, from the command line and the environment, validated at start.
//! Secrets are wrapped in `Secret` so they never reach a log line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ipnet::IpNet;

/// A string that prints as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn new(value: String) -> Secret {
        Secret(value)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Secret, String> {
        if s.len() < 16 {
            return Err("a secret must be at least 16 characters long".into());
        }
        Ok(Secret(s.to_owned()))
    }
}

/// Where the database is: an explicit server, or our private one under the data directory.
#[derive(Args, Debug, Clone)]
pub struct DatabaseSettings {
    /// PostgreSQL URL. When unset, a private PostgreSQL is started under `<data-dir>/postgres`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Folder for the private PostgreSQL and other local state.
    #[arg(long, env = "IVRHUB_DATA_DIR", default_value = "var")]
    pub data_dir: PathBuf,

    /// Connections in the pool of each node.
    #[arg(long, env = "IVRHUB_DB_POOL", default_value_t = 16, value_parser = clap::value_parser!(u32).range(2..=512))]
    pub db_pool: u32,
}

/// The safe answer, when the flow cannot answer a step (`serve`, and
/// `simulate`, which answers as the webhook would).
#[derive(Args, Debug, Clone, Default)]
pub struct FallbackSettings {
    /// When the flow cannot answer (unknown DID, broken flow, database down),
    /// connect the caller to this number instead of hanging up.
    #[arg(long, env = "IVRHUB_FALLBACK_TARGET")]
    pub fallback_target: Option<String>,

    /// The platform's goodbye: played before the safe hang-up when the flow
    /// cannot answer and has no goodbye of its own. One recording
    /// (`goodbye`) or one per language (`he=goodbye_he,en=goodbye_en`).
    #[arg(long, env = "IVRHUB_FALLBACK_REC", value_parser = parse_rec)]
    pub fallback_rec: Option<crate::flow::model::Rec>,
}

/// What the maintenance task keeps (each tenant's CDRs: its own setting).
#[derive(Args, Debug, Clone)]
pub struct RetentionSettings {
    /// Days call steps are kept (the funnel of older days answers from its
    /// roll-ups, which are kept for good); at least 62.
    #[arg(long, env = "IVRHUB_STEP_RETENTION_DAYS", default_value_t = 400, value_parser = clap::value_parser!(u32).range(i64::from(crate::maintenance::MIN_STEP_RETENTION_DAYS)..=36_500))]
    pub step_retention_days: u32,
}

/// Alerts: the evaluator (one node of a cluster at a time) and the webhook
/// deliveries (every node).
#[derive(Args, Debug, Clone)]
pub struct AlertSettings {
    /// Evaluate alert rules and send their webhooks on this node (`false`:
    /// this node neither evaluates nor sends; others may).
    #[arg(long, env = "IVRHUB_ALERTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub alerts: bool,

    /// Let alert webhooks reach loopback, private and link-local addresses
    /// (a receiver inside the cluster). Off: such URLs are refused.
    #[arg(long, env = "IVRHUB_ALERT_ALLOW_PRIVATE_URLS", default_value_t = false, action = clap::ArgAction::Set)]
    pub alert_allow_private_urls: bool,

    /// How often a node tries to take the evaluator's lease and, holding it,
    /// evaluates the rules due (each rule once a minute), milliseconds.
    #[arg(long, env = "IVRHUB_ALERT_TICK_MS", default_value_t = 15_000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub alert_tick_ms: u64,

    /// How long the evaluator's lease lasts unless renewed, seconds: a node
    /// that died is replaced within this plus one tick.
    #[arg(long, env = "IVRHUB_ALERT_LEASE_SECS", default_value_t = 60.0, value_parser = parse_lease_secs)]
    pub alert_lease_secs: f64,

    /// Seconds between a failed delivery attempt and the next, one per
    /// retry (the default: 12 attempts over about 32 hours).
    #[arg(
        long,
        env = "IVRHUB_ALERT_RETRY_SECS",
        value_delimiter = ',',
        value_parser = parse_retry_secs,
        default_value = "5,30,120,600,1800,3600,7200,14400,28800,28800,28800"
    )]
    pub alert_retry_secs: Vec<f64>,

    /// How long one delivery attempt may take, milliseconds.
    #[arg(long, env = "IVRHUB_ALERT_TIMEOUT_MS", default_value_t = 10_000)]
    pub alert_timeout_ms: u64,
}

impl AlertSettings {
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.alert_tick_ms)
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs_f64(self.alert_lease_secs.max(0.05))
    }

    pub fn attempt_timeout(&self) -> Duration {
        Duration::from_millis(self.alert_timeout_ms)
    }

    /// The wait before retry number `n` (from 0), if there is one.
    pub fn retry_delay(&self, n: usize) -> Option<Duration> {
        self.alert_retry_secs
            .get(n)
            .map(|secs| Duration::from_secs_f64(secs.max(0.0)))
    }
}

impl Default for AlertSettings {
    /// As `serve` has them with no flags and no environment.
    fn default() -> AlertSettings {
        AlertSettings {
            alerts: true,
            alert_allow_private_urls: false,
            alert_tick_ms: 15_000,
            alert_lease_secs: 60.0,
            alert_retry_secs: vec![
                5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 28800.0, 28800.0,
            ],
            alert_timeout_ms: 10_000,
        }
    }
}

/// Seconds within `range` (a number: `inf` and `NaN` are refused).
fn parse_secs(text: &str, range: std::ops::RangeInclusive<f64>) -> Result<f64, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?}: seconds, e.g. 30"))?;
    if range.contains(&secs) {
        Ok(secs)
    } else {
        Err(format!(
            "{text:?}: {} to {} seconds",
            range.start(),
            range.end()
        ))
    }
}

/// One wait between delivery attempts: 0 to a week.
fn parse_retry_secs(text: &str) -> Result<f64, String> {
    parse_secs(text, 0.0..=604_800.0)
}

/// The evaluator's lease: 0.05 s to an hour.
fn parse_lease_secs(text: &str) -> Result<f64, String> {
    parse_secs(text, 0.05..=3600.0)
}

/// `now` (the system's clock), or a fixed instant.
fn parse_clock(text: &str) -> Result<crate::clock::Clock, String> {
    if text == "now" {
        return Ok(crate::clock::Clock::system());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|at| crate::clock::Clock::fixed(at.with_timezone(&chrono::Utc)))
        .map_err(|_| {
            format!("{text:?}: an instant with its offset, e.g. 2026-12-01T10:00:00+02:00")
        })
}

/// `name`, or `he=name,en=name[,default=name]`.
fn parse_rec(text: &str) -> Result<crate::flow::model::Rec, String> {
    let text = text.trim();
    if !text.contains('=') {
        if text.is_empty() {
            return Err("empty recording name".into());
        }
        return Ok(crate::flow::model::Rec::One(text.to_owned()));
    }
    let mut map = serde_json::Map::new();
    for pair in text.split(',') {
        let Some((language, name)) = pair.split_once('=') else {
            return Err(format!("{pair:?}: write language=name (he=goodbye_he)"));
        };
        let (language, name) = (language.trim(), name.trim());
        if name.is_empty() {
            return Err(format!("{pair:?}: empty recording name"));
        }
        if map.insert(language.to_owned(), name.into()).is_some() {
            return Err(format!("{language:?} is given twice"));
        }
    }
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|error| error.to_string())
}

/// Everything `serve` needs besides the database.
#[derive(Args, Debug, Clone)]
pub struct ServeSettings {
    /// Address to listen on.
    #[arg(long, env = "IVRHUB_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// When set, the webhook is served at `/voicenter/<secret>` only (plain
    /// `/voicenter` answers 404): give Voicenter the URL with the secret.
    #[arg(long, env = "IVRHUB_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<Secret>,

    /// Comma-separated addresses or networks (CIDR) allowed to call the webhook; empty: anyone.
    #[arg(long, env = "IVRHUB_WEBHOOK_ALLOW", value_delimiter = ',')]
    pub webhook_allow: Vec<IpNet>,

    /// Largest webhook body accepted, in bytes.
    #[arg(long, env = "IVRHUB_MAX_BODY", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Hard deadline for answering one webhook request, in milliseconds
    /// (Voicenter gives up after about 5 s).
    #[arg(long, env = "IVRHUB_STEP_DEADLINE_MS", default_value_t = 1500, value_parser = clap::value_parser!(u64).range(50..=4000))]
    pub step_deadline_ms: u64,

    #[command(flatten)]
    pub fallback: FallbackSettings,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "IVRHUB_WORKERS")]
    pub workers: Option<usize>,

    /// Key that signs access tokens (at least 32 characters). Unset: a random
    /// key kept in `<data-dir>/jwt-secret`. Nodes sharing a database must share it.
    #[arg(long, env = "IVRHUB_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// The first platform admin's email, created at start if there is no platform admin.
    #[arg(long, env = "IVRHUB_ADMIN_EMAIL")]
    pub admin_email: Option<String>,

    /// The first platform admin's password (with IVRHUB_ADMIN_EMAIL).
    #[arg(long, env = "IVRHUB_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<Secret>,

    /// Roll up the reports of the last two closed days of every tenant in
    /// the background, every 15 minutes (`false`: only on demand).
    #[arg(long, env = "IVRHUB_REPORT_ROLLER", default_value_t = true, action = clap::ArgAction::Set)]
    pub report_roller: bool,
    /// Decide calls as if it were always this instant (RFC 3339, with its
    /// offset): a staging server trying a holiday, a benchmark that must
    /// not depend on the hour. Unset: now. Logs and CDRs keep the real time.
    #[arg(long, env = "IVRHUB_DECIDE_AT", value_parser = parse_clock, default_value = "now", hide_default_value = true)]
    pub clock: crate::clock::Clock,

    #[command(flatten)]
    pub alerting: AlertSettings,

    #[command(flatten)]
    pub retention: RetentionSettings,

    /// How often the maintenance task (partitions ahead, retention) runs on
    /// the node holding its lease, seconds (0: never, on this node).
    #[arg(long, env = "IVRHUB_MAINTENANCE_SECS", default_value_t = 3600)]
    pub maintenance_secs: u64,
}

impl ServeSettings {
    pub fn step_deadline(&self) -> Duration {
        Duration::from_millis(self.step_deadline_ms)
    }

    /// Defaults as `serve` would have them with no flags and no environment.
    pub fn for_tests() -> ServeSettings {
        ServeSettings {
            listen: "127.0.0.1:0".parse().expect("a literal address"),
            webhook_secret: None,
            webhook_allow: Vec::new(),
            max_body_bytes: 64 * 1024,
            step_deadline_ms: 1500,
            fallback: FallbackSettings::default(),
            workers: Some(2),
            jwt_secret: Some(Secret(crate::auth::tokens::random_secret())),
            admin_email: None,
            admin_password: None,
            // Tests roll up the days they mean to, when they mean to.
            report_roller: false,
            // Calls are decided at a fixed instant (a Tuesday, 10:00 in
            // Jerusalem: the demo is open), moved by the tests that need another.
            clock: crate::clock::Clock::fixed(test_instant()),
            // Tests that evaluate alerts start the evaluator themselves.
            alerting: AlertSettings {
                alerts: false,
                ..AlertSettings::default()
            },
            retention: RetentionSettings {
                step_retention_days: 400,
            },
            // Tests run the maintenance pass themselves.
            maintenance_secs: 0,
        }
    }
}

/// The instant tests decide calls at, unless they set another: Tuesday
/// 2026-12-01 10:00 in Jerusalem, an ordinary working morning.
pub fn test_instant() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00+02:00")
        .map(|at| at.with_timezone(&chrono::Utc))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_goodbye_is_one_name_or_one_per_language() {
        use crate::flow::model::Rec;
        use crate::voicenter::types::Language;
        assert_eq!(parse_rec("bye"), Ok(Rec::One("bye".into())));
        let both = parse_rec("he=bye_he, en=bye_en").unwrap();
        assert_eq!(both.pick(Language::En), Some("bye_en"));
        assert_eq!(both.pick(Language::He), Some("bye_he"));
        let error = parse_rec("he=a,fr=b").unwrap_err();
        assert!(error.contains("unknown language \"fr\""), "{error}");
        assert!(parse_rec("he=").unwrap_err().contains("empty"));
        assert!(parse_rec("he=a,he=b").unwrap_err().contains("twice"));
        assert!(parse_rec("he=a,b").unwrap_err().contains("language=name"));
        assert!(parse_rec(" ").is_err());
    }

    #[test]
    fn calls_can_be_decided_at_a_fixed_instant() {
        let fixed = parse_clock("2026-09-21T10:00:00+03:00").unwrap();
        assert_eq!(fixed.now().to_rfc3339(), "2026-09-21T07:00:00+00:00");
        let system = parse_clock("now").unwrap();
        assert!((system.now() - chrono::Utc::now()).num_seconds().abs() < 5);
        assert!(
            parse_clock("2026-09-21T10:00:00")
                .unwrap_err()
                .contains("offset")
        );
    }

    #[test]
    fn the_alert_defaults_are_the_flags_defaults() {
        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            alerting: AlertSettings,
        }
        if std::env::vars().any(|(name, _)| name.starts_with("IVRHUB_ALERT")) {
            return; // the environment would change what the flags read
        }
        let parsed = <Flags as clap::Parser>::parse_from(["ivrhub"]).alerting;
        let default = AlertSettings::default();
        assert_eq!(format!("{parsed:?}"), format!("{default:?}"));
        // Retries span more than a day.
        let total: f64 = default.alert_retry_secs.iter().sum();
        assert!(total > 86_400.0, "{total}");
        // Waits that would panic later are refused now.
        for bad in ["inf", "1e30", "-1", "NaN", "soon"] {
            assert!(parse_retry_secs(bad).is_err(), "{bad}");
        }
        assert!(parse_lease_secs("0").is_err());
    }

    #[test]
    fn secrets_never_print() {
        let secret: Secret = "a-very-long-webhook-secret".parse().unwrap();
        assert_eq!(format!("{secret:?}"), "***");
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!("short".parse::<Secret>().is_err());
    }
}
