//! Long-running `cronq daemon` and `cronq worker` processes for end-to-end tests, with
//! their logs in a file and a way to signal or kill them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A `cronq` process started in a directory, its stderr logged to a file there.
pub struct Process {
    child: Child,
    pub log: PathBuf,
}

impl Process {
    /// Starts `cronq ARGS` in `dir`, with `dir/state` as the state dir, in UTC.
    pub fn start(dir: &Path, name: &str, args: &[&str]) -> Process {
        Process::start_with_env(dir, name, args, &[])
    }

    /// [`Process::start`] with these variables set as well.
    pub fn start_with_env(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Process {
        let log = dir.join(format!("{name}.log"));
        let err = std::fs::File::create(&log).expect("a log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_cronq"));
        for (var, _) in std::env::vars().filter(|(var, _)| var.starts_with("CRONQ_")) {
            command.env_remove(var);
        }
        let child = command
            .args(args)
            .current_dir(dir)
            .env("TZ", "UTC")
            .env("XDG_STATE_HOME", dir.join("state"))
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("cronq starts");
        Process { child, log }
    }

    /// The process's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(self.child.id() as i32);
        kill(pid, signal).expect("the process is there to signal");
    }

    /// Sends SIGTERM and waits up to `patience` for the process to exit; its exit code.
    pub fn stop(&mut self, patience: Duration) -> Option<i32> {
        self.signal(Signal::SIGTERM);
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "cronq did not stop within {patience:?}:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reap");
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `check` every 20 ms until it holds, for up to `patience`.
pub async fn eventually<F, Fut>(what: &str, patience: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + patience;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
