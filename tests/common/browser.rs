//! A real headless Chromium for the dashboard's tests: `--dump-dom` and `--screenshot`
//! for a page as it loads, and a DevTools session over `--remote-debugging-pipe` (the
//! protocol's JSON messages, each ended by a NUL byte, on the browser's fds 3 and 4)
//! for what needs clicks, keys, an emulated dark mode or a smaller window.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The browser's binary: Debian's `chromium`, or `chromium-browser`.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Flags every run of the browser here takes: headless, root in a container, and no
/// network but loopback (no component updates, no first-run pings).
fn base_args(profile: &Path) -> Vec<String> {
    vec![
        "--headless".into(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--hide-scrollbars".into(),
        format!("--user-data-dir={}", profile.display()),
    ]
}

/// The DOM of `url` once loaded, as Chromium serializes it.
pub fn dump_dom(chromium: &Path, profile: &Path, url: &str) -> String {
    let output = Command::new(chromium)
        .args(base_args(profile))
        .arg("--dump-dom")
        .arg(url)
        .stderr(Stdio::null())
        .output()
        .expect("chromium runs");
    assert!(output.status.success(), "chromium --dump-dom {url} failed");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The colour scheme a screenshot is taken in, as the system would ask for it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Light,
    Dark,
}

/// A screenshot of `url` at `width`×`height` in `scheme` into `file`.
pub fn screenshot(
    chromium: &Path,
    profile: &Path,
    url: &str,
    (width, height): (u32, u32),
    scheme: Scheme,
    file: &Path,
) {
    let mut command = Command::new(chromium);
    command.args(base_args(profile));
    if scheme == Scheme::Dark {
        // The system's dark theme, which `prefers-color-scheme` follows.
        command.arg("--force-dark-mode");
    }
    let status = command
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", file.display()))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("chromium runs");
    assert!(status.success() && file.exists(), "no screenshot of {url}");
}

/// A browser driven over the DevTools protocol.
pub struct Browser {
    child: Child,
    to: ChildStdin,
    from: Receiver<Value>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

/// One tab, attached with its own session.
pub struct Tab {
    session: String,
}

impl Browser {
    pub fn start(chromium: &Path) -> Browser {
        let profile = tempfile::tempdir().expect("a profile dir");
        // The pipe's ends go to fds 3 and 4: the shell moves the child's stdin and
        // stdout there, so no unsafe pre_exec is needed.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" --remote-debugging-pipe 3<&0 4>&1 </dev/null >/dev/null 2>/dev/null"#)
            .arg(chromium)
            .args(base_args(profile.path()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let to = child.stdin.take().expect("a pipe to the browser");
        let out = child.stdout.take().expect("a pipe from the browser");
        let (send, from) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(out);
            loop {
                let mut message = Vec::new();
                match reader.read_until(0, &mut message) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        message.pop();
                        if let Ok(value) = serde_json::from_slice::<Value>(&message)
                            && send.send(value).is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        Browser {
            child,
            to,
            from,
            next_id: 0,
            _profile: profile,
        }
    }

    /// Sends one command and waits for its answer; events meanwhile are passed over.
    fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = session.into();
        }
        let mut bytes = serde_json::to_vec(&message).expect("json");
        bytes.push(0);
        self.to.write_all(&bytes).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let answer = self
                .from
                .recv_timeout(left)
                .map_err(|_| format!("no answer to {method}"))?;
            if answer["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(error) = answer.get("error") {
                return Err(error.to_string());
            }
            return Ok(answer["result"].clone());
        }
    }

    /// A new tab at `url`, in a fresh context of its own (no cookies shared).
    pub fn open(&mut self, url: &str) -> Tab {
        let context = self
            .call(None, "Target.createBrowserContext", json!({}))
            .expect("a browser context")["browserContextId"]
            .clone();
        let target = self
            .call(
                None,
                "Target.createTarget",
                json!({ "url": url, "browserContextId": context }),
            )
            .expect("a tab")["targetId"]
            .clone();
        let session = self
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target, "flatten": true }),
            )
            .expect("attached")["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        Tab { session }
    }

    /// The value of the expression `js` in the tab (awaited when it is a promise).
    pub fn eval(&mut self, tab: &Tab, js: &str) -> Result<Value, String> {
        let result = self.call(
            Some(&tab.session),
            "Runtime.evaluate",
            json!({ "expression": js, "returnByValue": true, "awaitPromise": true }),
        )?;
        if let Some(thrown) = result.get("exceptionDetails") {
            return Err(thrown.to_string());
        }
        Ok(result["result"]["value"].clone())
    }

    /// Emulates the system asking for `prefers-color-scheme: dark` in the tab.
    pub fn prefer_dark(&mut self, tab: &Tab) {
        self.call(
            Some(&tab.session),
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": "dark" }] }),
        )
        .expect("dark mode emulated");
    }

    /// Makes the tab's window `width`×`height` CSS pixels.
    pub fn resize(&mut self, tab: &Tab, (width, height): (u32, u32)) {
        self.call(
            Some(&tab.session),
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .expect("the window resized");
    }

    /// Presses the Tab key once, as a keyboard user moves to the next control.
    pub fn press_tab(&mut self, tab: &Tab) {
        for kind in ["keyDown", "keyUp"] {
            self.call(
                Some(&tab.session),
                "Input.dispatchKeyEvent",
                json!({ "type": kind, "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9 }),
            )
            .expect("a key press");
        }
    }

    /// Waits until `js` is true in the tab, for up to `patience`.
    pub fn wait_for(&mut self, tab: &Tab, what: &str, js: &str, patience: Duration) {
        let deadline = Instant::now() + patience;
        loop {
            // A page in the middle of loading has no context to evaluate in: try again.
            if self.eval(tab, js).ok() == Some(Value::Bool(true)) {
                return;
            }
            if Instant::now() >= deadline {
                let html = self
                    .eval(tab, "document.documentElement.outerHTML")
                    .unwrap_or_default();
                panic!("timed out waiting for {what}; the page:\n{html}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call(None, "Browser.close", json!({}));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
