//! The private PostgreSQL launcher on a cluster of its own: a folder name
//! with URL and shell metacharacters, and a restart after the postmaster was
//! killed with SIGKILL (a stale `postmaster.pid`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ivrhub::pg_embedded::EmbeddedPostgres;

async fn answers(url: &str) -> i32 {
    let pool = ivrhub::db::connect_pool(url, 2).await.unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    // tokio-postgres (migrations, the test harness) reads the same URL.
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    let row = client.query_one("SELECT 1", &[]).await.unwrap();
    drop(client);
    let _ = driver.await;
    one + row.get::<_, i32>(0) - 1
}

fn postmaster_pid(root: &std::path::Path) -> i32 {
    let pid_file = std::fs::read_to_string(root.join("data").join("postmaster.pid")).unwrap();
    pid_file.lines().next().unwrap().trim().parse().unwrap()
}

/// Even when the test fails: stops a server left running, removes the folder.
struct Cleanup {
    parent: PathBuf,
    root: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(pid_file) = std::fs::read_to_string(self.root.join("data").join("postmaster.pid"))
        {
            let pid: Option<i32> = pid_file.lines().next().and_then(|l| l.trim().parse().ok());
            // Only our own server, never whatever has that PID now.
            let ours = pid.is_some_and(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|name| name.trim() == "postgres")
            });
            if let (Some(pid), true) = (pid, ours) {
                // SIGINT: PostgreSQL's fast shutdown.
                let pid = nix::unistd::Pid::from_raw(pid);
                if nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).is_ok() {
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.parent);
    }
}

#[tokio::test]
async fn a_folder_with_odd_characters_and_a_killed_postmaster() {
    let parent = std::env::temp_dir().join(format!("ivrhub-it-{}", std::process::id()));
    let root: PathBuf = parent.join("pg dir&x=1#y?z+%20'q");
    let _ = std::fs::remove_dir_all(&parent);
    let _cleanup = Cleanup {
        parent: parent.clone(),
        root: root.clone(),
    };
    let start = {
        let root = root.clone();
        move || EmbeddedPostgres::start(&root)
    };
    let cluster = tokio::task::spawn_blocking(start.clone())
        .await
        .unwrap()
        .expect("first start");
    assert!(cluster.started_here());
    assert_eq!(answers(&cluster.url("postgres")).await, 1);

    // A crash: the postmaster dies without removing its pid file.
    let pid = nix::unistd::Pid::from_raw(postmaster_pid(cluster.root()));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while nix::sys::signal::kill(pid, None).is_ok() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(cluster.root().join("data").join("postmaster.pid").exists());

    let restarted = tokio::task::spawn_blocking(start.clone())
        .await
        .unwrap()
        .expect("start after a crash");
    assert!(restarted.started_here());
    assert_eq!(answers(&restarted.url("postgres")).await, 1);

    // After a reboot, the PID in the stale pid file belongs to some other
    // program: pg_ctl says "running", PostgreSQL says "lock file exists".
    let pid_path = restarted.root().join("data").join("postmaster.pid");
    let pid_file = std::fs::read_to_string(&pid_path).unwrap();
    restarted.stop().unwrap();
    // Owned by the user PostgreSQL runs as (else pg_ctl cannot even see it).
    let mut other_program = std::process::Command::new("sleep");
    other_program.arg("60");
    if nix::unistd::Uid::effective().is_root() {
        use std::os::unix::process::CommandExt;
        let postgres = nix::unistd::User::from_name("postgres").unwrap().unwrap();
        other_program
            .uid(postgres.uid.as_raw())
            .gid(postgres.gid.as_raw());
    }
    let mut other_program = other_program.spawn().unwrap();
    let (_, rest) = pid_file.split_once('\n').unwrap();
    std::fs::write(&pid_path, format!("{}\n{rest}", other_program.id())).unwrap();
    let after_reboot = tokio::task::spawn_blocking(start).await.unwrap();
    other_program.kill().unwrap();
    let _ = other_program.wait();
    let after_reboot = after_reboot.expect("start over a pid file naming another program");
    assert!(after_reboot.started_here());
    assert_eq!(answers(&after_reboot.url("postgres")).await, 1);
    after_reboot.stop().unwrap();
}

/// A cluster folder made by another user is refused by name, and left as it
/// was (before, a root run first gave the folder to `postgres`, then failed
/// in pg_ctl with a log nobody could read).
#[test]
fn a_cluster_of_another_user_is_refused_untouched() {
    use std::os::unix::fs::MetadataExt;
    if !nix::unistd::Uid::effective().is_root() {
        return; // only root can make a folder that belongs to someone else
    }
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let parent = std::env::temp_dir().join(format!("ivrhub-it-owner-{}", std::process::id()));
    let root = parent.join("postgres");
    let _cleanup = Cleanup {
        parent: parent.clone(),
        root: root.clone(),
    };
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(root.join("data").join("PG_VERSION"), "15\n").unwrap();
    for folder in [&root, &root.join("data")] {
        nix::unistd::chown(folder.as_path(), Some(nobody.uid), Some(nobody.gid)).unwrap();
    }
    let error = EmbeddedPostgres::start(&root).unwrap_err().to_string();
    assert!(
        error.contains("belongs to nobody, but PostgreSQL would run as postgres"),
        "{error}"
    );
    assert_eq!(std::fs::metadata(&root).unwrap().uid(), nobody.uid.as_raw());
}
