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

/// A running private cluster. `stop` ends it only if this process started it.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    root: PathBuf,
    bin_dir: PathBuf,
    run_as: Option<User>,
    started_here: bool,
}

impl EmbeddedPostgres {
    /// Starts the cluster under `root` (`root/data`, socket in `root`), running
    /// `initdb` first if there is none; reuses it if it already runs.
    pub fn start(root: &Path) -> Result<EmbeddedPostgres> {
        let bin_dir = find_bin_dir()?;
        let run_as = postgres_user_if_root()?;
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        let root = root
            .canonicalize()
            .with_context(|| format!("resolving {}", root.display()))?;
        if let Some(user) = &run_as {
            give_to(&root, user)?;
        }
        let mut cluster = EmbeddedPostgres {
            root,
            bin_dir,
            run_as,
            started_here: false,
        };
        if !cluster.data_dir().join("PG_VERSION").exists() {
            cluster.initdb()?;
        }
        if !cluster.is_running() {
            cluster.pg_ctl_start()?;
            cluster.started_here = true;
        }
        Ok(cluster)
    }

    /// A URL for `database` on this cluster, understood by sqlx and tokio-postgres.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql:///{database}?host={}&port={PORT}&user={SUPERUSER}",
            self.root.display()
        )
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
        self.command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(self.data_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
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

    fn pg_ctl_start(&self) -> Result<()> {
        // Unix socket only, in our folder; settings sized for a small private server.
        let options = format!(
            "-c listen_addresses='' -k {} -p {PORT} -c max_connections=300 -c shared_buffers=256MB -c fsync=on",
            self.root.display()
        );
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
            .stderr(Stdio::null())
            .status()
            .context("running pg_ctl start")?;
        if !status.success() {
            let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            bail!(
                "pg_ctl start failed ({status}); end of {}:\n{}",
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
