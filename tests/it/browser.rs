//! A real headless Chromium, driven over the Chrome DevTools Protocol (CDP)
//! through a pipe: the few commands a page test needs (open a URL, run a
//! script, type, click, size the window, take a screenshot).
//!
//! Why this and not a crate: Chromium speaks CDP on file descriptors 3 and
//! 4 when started with `--remote-debugging-pipe` (what Puppeteer and
//! Playwright use), NUL-separated JSON messages. With that, driving it
//! needs nothing but `std` and `serde_json`: no WebDriver server
//! (`fantoccini` needs `chromedriver`, a second package that must match the
//! browser's version), no WebSocket stack and no code generated from the
//! whole protocol at build time (`headless_chrome`, `chromiumoxide`: minutes
//! of compiling on a 2-core machine, for a dev-dependency). The commands
//! used are CDP's stable domains (Target, Page, Runtime, Input, Emulation).
//! Clicks are real mouse events at the element's place on the page (hit
//! testing included); typing is `Input.insertText` into the focused field.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// How long one command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Where Chromium is: `IVRHUB_CHROMIUM`, else the first of Debian's and
/// others' names on `PATH`.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("IVRHUB_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let names = ["chromium", "chromium-browser", "google-chrome", "chrome"];
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Chromium, or `None` after saying loudly that the test is skipped. Under
/// CI (`CI` set) a missing browser fails the test: CI installs it.
pub fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    match find_chromium() {
        Some(path) => Some(path),
        None if std::env::var_os("CI").is_some() => panic!(
            "{test}: chromium not found, and CI must run the browser tests: \
             install Debian's `chromium` package (.ci/run does) or set IVRHUB_CHROMIUM"
        ),
        None => {
            // Straight to stderr: the test harness's capture would hide `eprintln!`.
            let _ = writeln!(
                std::io::stderr(),
                "\n************************************************************\n\
                 * {test}: skipped: chromium not found\n\
                 * (apt-get install chromium, or set IVRHUB_CHROMIUM)\n\
                 ************************************************************\n"
            );
            None
        }
    }
}

/// One browser with one page.
pub struct Browser {
    child: Child,
    commands: std::io::PipeWriter,
    replies: Receiver<Value>,
    next_id: u64,
    /// The page's CDP session.
    session: String,
    /// Errors the page logged: script exceptions, refused policies.
    problems: Vec<String>,
    profile: PathBuf,
}

impl Browser {
    /// Starts Chromium headless with a fresh profile and opens a blank page.
    pub fn launch(chromium: &Path) -> Browser {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let profile = std::env::temp_dir().join(format!(
            "ivrhub-chromium-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("creating the browser profile folder");
        // Both pipes are close-on-exec; the child gets its ends as fds 3 and 4.
        let (browser_reads, commands) = std::io::pipe().expect("a pipe");
        let (replies_read, browser_writes) = std::io::pipe().expect("a pipe");
        let (read_fd, write_fd) = (browser_reads.as_raw_fd(), browser_writes.as_raw_fd());
        let mut command = Command::new(chromium);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--mute-audio",
                "--lang=en-US",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                use nix::libc;
                // Copies above 10 first, so neither lands on the other's target.
                let read = libc::fcntl(read_fd, libc::F_DUPFD_CLOEXEC, 10);
                let write = libc::fcntl(write_fd, libc::F_DUPFD_CLOEXEC, 10);
                if read < 0 || write < 0 || libc::dup2(read, 3) < 0 || libc::dup2(write, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", chromium.display()));
        drop((browser_reads, browser_writes));
        let (sender, replies) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(replies_read);
            let mut message = Vec::new();
            while let Ok(read) = reader.read_until(0, &mut message) {
                if read == 0 {
                    break;
                }
                if message.last() == Some(&0) {
                    message.pop();
                }
                if let Ok(value) = serde_json::from_slice::<Value>(&message)
                    && sender.send(value).is_err()
                {
                    break;
                }
                message.clear();
            }
        });
        let mut browser = Browser {
            child,
            commands,
            replies,
            next_id: 0,
            session: String::new(),
            problems: Vec::new(),
            profile,
        };
        let target = browser.browser_call("Target.createTarget", json!({"url": "about:blank"}));
        let attached = browser.browser_call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        // Their events: the page's errors (see `problems`).
        browser.call("Runtime.enable", json!({}));
        browser.call("Log.enable", json!({}));
        browser
    }

    /// What the page logged as errors so far: uncaught exceptions, console
    /// errors, Content-Security-Policy refusals (not failed requests: an
    /// API's 404 is an answer the page handles).
    pub fn problems(&mut self) -> Vec<String> {
        self.call("Runtime.evaluate", json!({"expression": "0"}));
        self.problems.clone()
    }

    fn note_event(&mut self, event: &Value) {
        let params = &event["params"];
        match event["method"].as_str() {
            Some("Runtime.exceptionThrown") => self
                .problems
                .push(format!("exception: {}", params["exceptionDetails"])),
            Some("Runtime.consoleAPICalled") if params["type"] == "error" => {
                self.problems
                    .push(format!("console.error: {}", params["args"]));
            }
            Some("Log.entryAdded")
                if params["entry"]["level"] == "error"
                    && params["entry"]["source"] != "network" =>
            {
                self.problems.push(format!("log: {}", params["entry"]));
            }
            _ => {}
        }
    }

    fn send(&mut self, session: Option<String>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .unwrap_or_else(|e| panic!("{method}: the browser is gone ({e})"));
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.replies.recv_timeout(left) {
                Ok(event) if event.get("id").is_none() => self.note_event(&event),
                Ok(reply) if reply["id"] == id => {
                    if let Some(error) = reply.get("error") {
                        panic!("{method}: {error}");
                    }
                    return reply["result"].clone();
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{method}: no answer in {COMMAND_TIMEOUT:?}")
                }
                Err(RecvTimeoutError::Disconnected) => panic!("{method}: the browser is gone"),
            }
        }
    }

    fn browser_call(&mut self, method: &str, params: Value) -> Value {
        self.send(None, method, params)
    }

    /// A command to the page.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(Some(session), method, params)
    }

    /// The window's size in CSS pixels; `mobile` as a phone (viewport meta, touch-sized).
    pub fn set_viewport(&mut self, width: u32, height: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        );
    }

    pub fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait_for(
            "the page to load",
            "document.readyState === 'complete' && location.href !== 'about:blank'",
        );
    }

    /// Runs `expression` in the page (awaiting a promise) and returns its value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression}: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is truthy (20 s at most); returns its value.
    pub fn wait_for(&mut self, what: &str, expression: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let value = self.eval(&format!(
                "(() => {{ try {{ return {expression}; }} catch {{ return null; }} }})()"
            ));
            let truthy = match &value {
                Value::Null | Value::Bool(false) => false,
                Value::String(text) => !text.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return value;
            }
            if Instant::now() > deadline {
                let page = self.eval("document.body ? document.body.innerText : ''");
                panic!("waited 20 s for {what} ({expression}); the page shows:\n{page}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A real left click at the middle of the element `selector`.
    pub fn click(&mut self, selector: &str) {
        let place = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector:?}); if (!e) return null;
                e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect();
                return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        ));
        let (x, y) = match place.as_array() {
            Some(xy) => (xy[0].as_f64().unwrap(), xy[1].as_f64().unwrap()),
            None => panic!("no {selector} to click"),
        };
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }

    /// Types `text` into the field `selector` (emptied first).
    pub fn type_into(&mut self, selector: &str, text: &str) {
        let found = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector:?}); if (!e) return false;
                e.focus(); e.value = ''; return true; }})()"
        ));
        assert_eq!(found, json!(true), "no field {selector}");
        self.call("Input.insertText", json!({"text": text}));
    }

    /// Sets a `<select>` or date field as a person would, with its `change` event.
    pub fn set_value(&mut self, selector: &str, value: &str) {
        let found = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector:?}); if (!e) return false;
                e.value = {value:?}; e.dispatchEvent(new Event('input', {{bubbles: true}}));
                e.dispatchEvent(new Event('change', {{bubbles: true}})); return e.value === {value:?}; }})()"
        ));
        assert_eq!(found, json!(true), "could not set {selector} to {value}");
    }

    /// A PNG of the whole page (not only the window) at `path`.
    pub fn screenshot(&mut self, path: &Path) {
        let metrics = self.call("Page.getLayoutMetrics", json!({}));
        let size = &metrics["cssContentSize"];
        let (width, height) = (
            size["width"].as_f64().unwrap(),
            size["height"].as_f64().unwrap(),
        );
        let shot = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true,
                   "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}}),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
