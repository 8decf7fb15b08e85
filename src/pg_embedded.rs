//! A private PostgreSQL cluster under a folder of ours, for `serve` without
//! `DATABASE_URL` and for the test suite.
//!
//! We drive the machine's own binaries (`initdb`, `pg_ctl`) rather than use a
//! crate such as `pgtemp`: serve needs a *persistent* cluster that survives
//! restarts, and the tests reuse one long-lived cluster (a fresh database per
//! test is a cheap `CREATE DATABASE … TEMPLATE`), so one small launcher serves
//! both. The server listens on a unix socket inside the folder only (no TCP
//! port to collide with), trusts local connections, and runs as the
//! `postgres` user when we are root, since PostgreSQL refuses to run as root.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use nix::unistd::{Uid, User};

/// Socket port: only names the socket file, as the server does not listen on TCP.
const PORT: u16 = 5432;
const SUPERUSER: &str = "postgres";

/// How a cluster listens and what it loads, beyond the defaults of
/// [`EmbeddedPostgres::start`] (unix socket only, port 5432's socket name).
/// The Citus test cluster (tests/it/citus.rs) needs each node on a TCP port
/// of its own on loopback, since the nodes connect to each other, with the
/// `citus` library preloaded.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// The port (socket name, and TCP port when `tcp_loopback`); `None`: 5432.
    pub port: Option<u16>,
    /// Also listen on TCP at 127.0.0.1 (trusted, like the socket: loopback only).
    pub tcp_loopback: bool,
    /// Extra `-c name=value` settings, e.g. `shared_preload_libraries=citus`.
    pub settings: Vec<(String, String)>,
}

/// A running private cluster. `stop` ends it only if this process started it.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    root: PathBuf,
    bin_dir: PathBuf,
    run_as: Option<User>,
    started_here: bool,
    options: ServerOptions,
}

impl EmbeddedPostgres {
    /// Starts the cluster under `root` (`root/data`, socket in `root`), running
    /// `initdb` first if there is none; reuses it if it already runs.
    pub fn start(root: &Path) -> Result<EmbeddedPostgres> {
        EmbeddedPostgres::start_with(root, ServerOptions::default())
    }

    /// [`EmbeddedPostgres::start`] with [`ServerOptions`]. The options apply
    /// when this call starts the server; a server already running is reused
    /// as it is.
    pub fn start_with(root: &Path, options: ServerOptions) -> Result<EmbeddedPostgres> {
        let bin_dir = find_bin_dir()?;
        let run_as = postgres_user_if_root()?;
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        let root = root
            .canonicalize()
            .with_context(|| format!("resolving {}", root.display()))?;
        check_folder_name(&root, options.port.unwrap_or(PORT))?;
        let mut cluster = EmbeddedPostgres {
            root,
            bin_dir,
            run_as,
            started_here: false,
            options,
        };
        let initialised = cluster.data_dir().join("PG_VERSION").exists();
        // Before touching anything: a cluster made by someone else is theirs.
        if initialised {
            cluster.check_owner()?;
        }
        if let Some(user) = &cluster.run_as {
            give_to(&cluster.root, user)?;
        }
        if !initialised {
            cluster.initdb()?;
        }
        if !cluster.is_running() {
            cluster.pg_ctl_start()?;
            cluster.started_here = true;
        }
        Ok(cluster)
    }

    /// A URL for `database` on this cluster, understood by sqlx and
    /// tokio-postgres. The folder is percent-encoded: a space, `&`, `#`, `+`
    /// or `%` in its name would otherwise end or change the `host` parameter.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql:///{}?host={}&port={}&user={SUPERUSER}",
            percent_encode(database),
            percent_encode(&self.root.to_string_lossy()),
            self.port()
        )
    }

    /// The port the server's socket (and TCP listener, if any) is named by.
    pub fn port(&self) -> u16 {
        self.options.port.unwrap_or(PORT)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn started_here(&self) -> bool {
        self.started_here
    }

    /// Fast shutdown (open transactions are rolled back) if we started it.
    pub fn stop(&self) -> Result<()> {
        if !self.started_here {
            return Ok(());
        }
        let status = self
            .command("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "-s"])
            .status()
            .context("running pg_ctl stop")?;
        if !status.success() {
            bail!("pg_ctl stop failed ({status})");
        }
        Ok(())
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    fn is_running(&self) -> bool {
        let running = self
            .command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(self.data_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if running && self.pid_file_is_stale() {
            // After a crash or a reboot, the PID in postmaster.pid may now
            // belong to another program: pg_ctl then reports a server that is
            // not there, and PostgreSQL itself refuses to start ("lock file
            // already exists") until the file is removed. It is not ours any more.
            let pid_file = self.data_dir().join("postmaster.pid");
            tracing::warn!(file = %pid_file.display(), "stale PostgreSQL pid file (its process is not PostgreSQL); removing it");
            if let Err(error) = std::fs::remove_file(&pid_file) {
                tracing::warn!(%error, "removing the stale pid file failed");
                return true;
            }
            return false;
        }
        running
    }

    /// True when `postmaster.pid` names a live process that is not
    /// PostgreSQL (Linux: `/proc/<pid>/comm`; elsewhere we cannot tell).
    fn pid_file_is_stale(&self) -> bool {
        let Ok(pid_file) = std::fs::read_to_string(self.data_dir().join("postmaster.pid")) else {
            return false;
        };
        let Some(pid) = pid_file
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<u32>().ok())
        else {
            return false;
        };
        match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
            Ok(name) => !matches!(name.trim(), "postgres" | "postmaster"),
            Err(_) => false,
        }
    }

    fn initdb(&self) -> Result<()> {
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C"])
            .arg("--no-instructions")
            .output()
            .context("running initdb")?;
        if !output.status.success() {
            bail!(
                "initdb failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    /// A data folder made by someone else (another user, or a run as root
    /// when we are not) cannot be started: say so instead of letting
    /// `pg_ctl` fail with a log we may not be able to read.
    fn check_owner(&self) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        let data = self.data_dir();
        let owner = std::fs::metadata(&data)
            .with_context(|| format!("reading {}", data.display()))?
            .uid();
        let server_uid = match &self.run_as {
            Some(user) => user.uid,
            None => Uid::effective(),
        };
        if owner != server_uid.as_raw() {
            let name = |uid: u32| {
                User::from_uid(Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map_or_else(|| format!("uid {uid}"), |user| user.name)
            };
            bail!(
                "{} belongs to {}, but PostgreSQL would run as {}: start ivrhub as that user, \
                 give the folder to {} (chown -R), or use another IVRHUB_DATA_DIR",
                data.display(),
                name(owner),
                name(server_uid.as_raw()),
                name(server_uid.as_raw()),
            );
        }
        Ok(())
    }

    fn pg_ctl_start(&self) -> Result<()> {
        // Unix socket only, in our folder; settings sized for a small private
        // server. pg_ctl hands these options to a shell, and PostgreSQL reads
        // the socket folder as a list: quote it for both.
        let listen = if self.options.tcp_loopback {
            "127.0.0.1"
        } else {
            ""
        };
        let mut options = format!(
            "-c listen_addresses='{listen}' -k {} -p {} -c max_connections=300 -c shared_buffers=256MB -c fsync=on",
            shell_quote(&format!("\"{}\"", self.root.to_string_lossy())),
            self.port()
        );
        for (name, value) in &self.options.settings {
            options.push_str(&format!(" -c {}", shell_quote(&format!("{name}={value}"))));
        }
        // pg_ctl's own complaints (a log it cannot open...) go to a file,
        // not a pipe: see below.
        let complaints_path = std::env::temp_dir().join(format!(
            "ivrhub-pg_ctl-{}-{:?}.err",
            std::process::id(),
            std::thread::current().id()
        ));
        let complaints = std::fs::File::create(&complaints_path)
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null());
        let status = self
            .command("pg_ctl")
            .arg("start")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "60", "-s", "-o"])
            .arg(options)
            // pg_ctl's postmaster must not hold our stdout/stderr: a caller
            // reading them to the end (a CI runner) would wait for ever.
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(complaints)
            .status()
            .context("running pg_ctl start");
        let complained = std::fs::read_to_string(&complaints_path).unwrap_or_default();
        let _ = std::fs::remove_file(&complaints_path);
        let status = status?;
        if !status.success() {
            let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            bail!(
                "pg_ctl start failed ({status}): {}\nend of {}:\n{}",
                complained.trim(),
                self.log_file().display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(program));
        if let Some(user) = &self.run_as {
            command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
            // Root's HOME is not theirs: libpq inside the server (Citus's
            // connections between nodes) would look for root's
            // ~/.postgresql/ certificates and fail on its permissions.
            command.env("HOME", &user.dir);
            // The postgres user cannot read root's working directory necessarily.
            command.current_dir(&self.root);
        }
        command
    }
}

/// `initdb` and `pg_ctl` from `PATH`, `pg_config --bindir`, or Debian's
/// `/usr/lib/postgresql/<major>/bin` (newest major first).
fn find_bin_dir() -> Result<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_tools(&dir) {
                // Debian links initdb into /usr/local/bin etc.; resolve to the real folder.
                let real = dir.join("initdb").canonicalize().ok();
                return Ok(real
                    .and_then(|p| p.parent().map(Path::to_path_buf))
                    .filter(|d| has_tools(d))
                    .unwrap_or(dir));
            }
        }
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && has_tools(&dir) {
            return Ok(dir);
        }
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_tools(dir))
        .collect();
    debian.sort();
    if let Some((_, dir)) = debian.pop() {
        return Ok(dir);
    }
    bail!(
        "PostgreSQL's server binaries (initdb, pg_ctl) were not found on PATH, through pg_config, \
         or in /usr/lib/postgresql/*/bin; install them (Debian: apt-get install postgresql) or set DATABASE_URL"
    )
}

/// What a folder name must not contain: pg_ctl puts it between double
/// quotes in a shell command (`"`, `$`, `` ` ``, `\` would escape them), and
/// the URL and the socket path need text. A socket path is also limited to
/// 107 bytes by the kernel.
fn check_folder_name(root: &Path, port: u16) -> Result<()> {
    let Some(text) = root.to_str() else {
        bail!(
            "{} is not valid UTF-8: choose another IVRHUB_DATA_DIR",
            root.display()
        );
    };
    if let Some(bad) = text
        .chars()
        .find(|c| matches!(c, '"' | '$' | '`' | '\\') || c.is_control())
    {
        bail!(
            "PostgreSQL cannot be started under {text}: pg_ctl cannot quote the character {bad:?}; \
             choose another IVRHUB_DATA_DIR (or set DATABASE_URL)"
        );
    }
    let socket = format!("{text}/.s.PGSQL.{port}");
    if socket.len() > 107 {
        bail!(
            "PostgreSQL's socket {socket} would be {} bytes long, more than the 107 the system allows: \
             choose a shorter IVRHUB_DATA_DIR (or set DATABASE_URL)",
            socket.len()
        );
    }
    Ok(())
}

/// `text` with everything but unreserved characters and `/` percent-encoded.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// One word for `sh`, whatever it contains.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// PostgreSQL refuses to run as root: then we run it as `postgres`.
fn postgres_user_if_root() -> Result<Option<User>> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    match User::from_name("postgres").context("looking up the postgres user")? {
        Some(user) => Ok(Some(user)),
        None => bail!(
            "running as root, and there is no `postgres` user to run PostgreSQL as \
             (create one: useradd --system postgres)"
        ),
    }
}

/// Makes `root` owned by `user`, and lets it through every parent folder:
/// a checkout in a `mktemp -d` folder (mode 700) is otherwise out of reach.
fn give_to(root: &Path, user: &User) -> Result<()> {
    nix::unistd::chown(root, Some(user.uid), Some(user.gid))
        .with_context(|| format!("giving {} to {}", root.display(), user.name))?;
    for dir in root.ancestors().skip(1) {
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o001 == 0 {
            tracing::warn!(
                folder = %dir.display(),
                "letting the postgres user through this folder (adding o+x)"
            );
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o001))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(root: &str) -> EmbeddedPostgres {
        EmbeddedPostgres {
            root: PathBuf::from(root),
            bin_dir: PathBuf::new(),
            run_as: None,
            started_here: false,
            options: ServerOptions::default(),
        }
    }

    /// Both drivers read the folder back exactly, whatever its name.
    #[test]
    fn the_url_carries_any_folder_name() {
        for root in [
            "/srv/ivrhub/var/postgres",
            "/tmp/pg dir&x=1#y?z+%20'q",
            "/home/דני/ivrhub;var",
        ] {
            let url = cluster(root).url("ivrhub");
            let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
            assert_eq!(
                options.get_socket().map(|p| p.to_str().unwrap()),
                Some(root),
                "{url}"
            );
            assert_eq!(options.get_database(), Some("ivrhub"), "{url}");
            assert_eq!(options.get_username(), SUPERUSER, "{url}");
            let config: tokio_postgres::Config = url.parse().unwrap();
            assert_eq!(
                config.get_hosts(),
                &[tokio_postgres::config::Host::Unix(PathBuf::from(root))],
                "{url}"
            );
            assert_eq!(config.get_dbname(), Some("ivrhub"));
            assert_eq!(config.get_ports(), &[PORT]);
        }
    }

    #[test]
    fn folder_names_pg_ctl_cannot_quote_are_refused_clearly() {
        for root in ["/tmp/a\"b", "/tmp/$HOME", "/tmp/a`b", "/tmp/a\\b"] {
            let error = check_folder_name(Path::new(root), PORT)
                .unwrap_err()
                .to_string();
            assert!(error.contains("cannot quote"), "{root}: {error}");
        }
        let deep = format!("/tmp/{}", "d".repeat(100));
        let error = check_folder_name(Path::new(&deep), PORT)
            .unwrap_err()
            .to_string();
        assert!(error.contains("more than the 107"), "{error}");
        check_folder_name(Path::new("/tmp/pg dir&x=1#y?z+%20'q"), PORT).unwrap();
    }

    #[test]
    fn shell_quoting_keeps_one_word() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
