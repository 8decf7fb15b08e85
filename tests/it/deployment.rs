//! Deployment as the container image runs it: an unprivileged user, a
//! working directory it cannot write, `DATABASE_URL` set. Docker is not
//! available here, so the binary is run that way directly.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::TestApp;

/// `nobody`, as the image's user stands in for.
const NOBODY: u32 = 65534;

fn is_root() -> bool {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe extern "C" {
        fn getuid() -> u32;
    }
    unsafe { getuid() == 0 }
}

/// `ivrhub serve` as an unprivileged user from a folder it cannot write:
/// as root, `nobody` from `/`; otherwise this user from a read-only folder.
fn serve(database_url: &str, port: u16, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ivrhub"));
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("IVRHUB_LISTEN", format!("127.0.0.1:{port}"))
        .env("IVRHUB_REPORT_ROLLER", "false")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if is_root() {
        command.current_dir("/").uid(NOBODY).gid(NOBODY);
    } else {
        let folder = std::env::temp_dir().join(format!("ivrhub-ro-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let mut permissions = std::fs::metadata(&folder).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o555);
        std::fs::set_permissions(&folder, permissions).unwrap();
        command.current_dir(folder);
    }
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts it and waits for `/health` to answer 200, then stops it; its
/// output.
async fn starts(mut command: Command, port: u16) -> Result<String, String> {
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = reqwest::Client::new();
    let result = loop {
        if let Ok(Some(status)) = child.try_wait() {
            let output = child.wait_with_output().map_err(|e| e.to_string())?;
            return Err(format!(
                "exited with {status}: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let health = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await;
        if health.is_ok_and(|r| r.status() == 200) {
            break Ok(());
        }
        if Instant::now() > deadline {
            break Err("no answer from /health in 30 s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = child.kill();
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    result.map(|()| {
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr)
    })
}

#[tokio::test]
async fn an_unprivileged_user_in_a_read_only_folder_starts_or_is_told_what_to_set() {
    let app = TestApp::spawn().await;
    // Nothing to write the token key to: refused, naming the settings.
    let port = free_port();
    let output = serve(&app.database_url, port, &[])
        .output()
        .expect("ivrhub runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot keep the token-signing key")
            && stderr.contains("IVRHUB_DATA_DIR")
            && stderr.contains("IVRHUB_JWT_SECRET"),
        "{stderr}"
    );

    // With the key given: it starts.
    let port = free_port();
    let secret = [(
        "IVRHUB_JWT_SECRET",
        "a-key-of-at-least-thirty-two-characters!",
    )];
    starts(serve(&app.database_url, port, &secret), port)
        .await
        .expect("starts with IVRHUB_JWT_SECRET");

    // With a data folder of its own (the image's /var/lib/ivrhub): it starts,
    // keeps its key there, and logs JSON lines when asked.
    let data = std::env::temp_dir().join(format!("ivrhub-data-{}", std::process::id()));
    std::fs::create_dir_all(&data).unwrap();
    if is_root() {
        let status = Command::new("chown")
            .arg(format!("{NOBODY}:{NOBODY}"))
            .arg(&data)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let port = free_port();
    let folder = data.to_str().unwrap();
    let env = [
        ("IVRHUB_DATA_DIR", folder),
        ("IVRHUB_LOG_FORMAT", "json"),
        ("RUST_LOG", "info"),
    ];
    let logged = starts(serve(&app.database_url, port, &env), port)
        .await
        .expect("starts with its own IVRHUB_DATA_DIR");
    assert!(data.join("jwt-secret").exists());
    let lines: Vec<&str> = logged.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "it logged something");
    for line in lines {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(
            parsed["level"].is_string() && parsed["fields"].is_object(),
            "{line}"
        );
    }
    let _ = std::fs::remove_dir_all(&data);
}
