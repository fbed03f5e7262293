//! A run's progress pipe: the worker makes one per run, the job finds its write end at
//! `CRONQ_PROGRESS_FD` and writes lines `PERCENT [MESSAGE]` to it (`cronq progress 40
//! copying`, or `echo "40 copying" >&$CRONQ_PROGRESS_FD` from a shell), and the worker
//! records them with [`Store::set_progress`]. So a job reports its progress to its own
//! worker and needs no way into the store, and no credentials for it.
//!
//! The worker never waits for the pipe's end: a process the job left behind may hold
//! the write end. What the job wrote before its run ended is read; anything later is not.

use std::io;
use std::os::fd::{OwnedFd, RawFd};

use nix::fcntl::OFlag;
use tokio::net::unix::pipe;
use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// The descriptor number a job finds the pipe at. One digit, because `>&N` in dash
/// (Debian's `/bin/sh`) takes no more.
pub const PROGRESS_FD: RawFd = 3;
/// The longest line read; a longer one is skipped to its newline.
pub const LINE_MAX: usize = 4096;
/// Reads of 4 KiB taken from the pipe once the run has ended: its whole capacity.
const DRAIN_READS: usize = 16;

/// A pipe for one run: the worker reads the first, the job inherits the second (both
/// close-on-exec, so no other child gets either).
pub fn open() -> io::Result<(pipe::Receiver, OwnedFd)> {
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    Ok((pipe::Receiver::from_owned_fd(read)?, write))
}

/// `40`, `12.5` or `50%`, from 0 to 100, rounded to a whole percent.
pub fn parse_percent(text: &str) -> Option<u8> {
    let number = text.strip_suffix('%').unwrap_or(text);
    let digits = number.chars().all(|c| c.is_ascii_digit() || c == '.');
    if number.is_empty() || !digits || number.matches('.').count() > 1 {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    (0.0..=100.0).contains(&value).then(|| value.round() as u8)
}

/// One line of the pipe: the percent and the message, if any. `None` for a line that
/// is not `PERCENT [MESSAGE]`.
pub fn parse_line(line: &str) -> Option<(u8, Option<&str>)> {
    let line = line.trim();
    let (percent, message) = match line.split_once(char::is_whitespace) {
        Some((percent, message)) => (percent, Some(message.trim_start())),
        None => (line, None),
    };
    Some((parse_percent(percent)?, message.filter(|m| !m.is_empty())))
}

/// Reads `pipe` and records each line for `run` until `ended` is cancelled, then what
/// the pipe already holds, and stops. Of lines read together only the last is
/// recorded: it is the progress now.
pub async fn record(store: &dyn Store, run: &str, pipe: pipe::Receiver, ended: &CancellationToken) {
    let mut lines = Lines::default();
    let mut buffer = [0u8; 4096];
    loop {
        // The end first: a process left behind that writes without pause must not
        // keep the run from ending.
        let read = tokio::select! {
            biased;
            () = ended.cancelled() => break,
            ready = pipe.readable() => ready.and_then(|()| pipe.try_read(&mut buffer)),
        };
        match read {
            Ok(0) => return,
            Ok(n) => lines.take(&buffer[..n]),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            Err(error) => {
                tracing::warn!(run, %error, "cannot read the run's progress pipe");
                return;
            }
        }
        save(store, run, &mut lines).await;
    }
    // The run has ended: what it wrote before is in the pipe now, at most a pipe's
    // capacity (64 KiB on Linux) of it.
    for _ in 0..DRAIN_READS {
        match pipe.try_read(&mut buffer) {
            Ok(n) if n > 0 => lines.take(&buffer[..n]),
            _ => break,
        }
    }
    save(store, run, &mut lines).await;
}

async fn save(store: &dyn Store, run: &str, lines: &mut Lines) {
    let Some((percent, message)) = lines.last.take() else {
        return;
    };
    if let Err(error) = store.set_progress(run, percent, message.as_deref()).await {
        tracing::warn!(run, %error, "cannot record the run's progress");
    }
}

/// The pipe's bytes cut into lines, keeping the last good one.
#[derive(Default)]
struct Lines {
    /// The start of a line whose newline has not come yet.
    partial: Vec<u8>,
    /// The line is longer than [`LINE_MAX`]: skipped to its newline.
    skipping: bool,
    last: Option<(u8, Option<String>)>,
}

impl Lines {
    fn take(&mut self, mut bytes: &[u8]) {
        while let Some(end) = bytes.iter().position(|b| *b == b'\n') {
            self.piece(&bytes[..end]);
            if !self.skipping {
                self.line();
            }
            self.partial.clear();
            self.skipping = false;
            bytes = &bytes[end + 1..];
        }
        self.piece(bytes);
    }

    fn piece(&mut self, bytes: &[u8]) {
        if self.skipping {
            return;
        }
        if self.partial.len() + bytes.len() > LINE_MAX {
            tracing::debug!("a progress line over {LINE_MAX} bytes is ignored");
            self.skipping = true;
            self.partial.clear();
            return;
        }
        self.partial.extend_from_slice(bytes);
    }

    fn line(&mut self) {
        let text = String::from_utf8_lossy(&self.partial);
        match parse_line(&text) {
            Some((percent, message)) => self.last = Some((percent, message.map(str::to_owned))),
            None if text.trim().is_empty() => {}
            None => tracing::debug!(
                line = %text.trim(),
                "a progress line is not `PERCENT [MESSAGE]` and is ignored"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percents_are_whole_decimal_or_with_a_percent_sign_and_rounded() {
        let cases = [
            ("0", 0),
            ("40", 40),
            ("100", 100),
            ("12.5", 13),
            ("12.4", 12),
            ("50%", 50),
            ("99.9%", 100),
            ("007", 7),
        ];
        for (text, percent) in cases {
            assert_eq!(parse_percent(text), Some(percent), "{text}");
        }
        for bad in [
            "", "%", "101", "100.6", "-1", "1e2", "inf", "NaN", "4 0", "1.2.3", "40%%", "forty",
        ] {
            assert_eq!(parse_percent(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_line_is_a_percent_and_an_optional_message() {
        assert_eq!(
            parse_line("40 copying files"),
            Some((40, Some("copying files")))
        );
        assert_eq!(parse_line("  50%\tnearly  \r"), Some((50, Some("nearly"))));
        assert_eq!(parse_line("7"), Some((7, None)));
        assert_eq!(parse_line("copying 40"), None);
    }

    #[test]
    fn lines_split_across_reads_and_too_long_lines_are_skipped() {
        let mut lines = Lines::default();
        lines.take(b"10 a\n2");
        assert_eq!(lines.last, Some((10, Some("a".into()))));
        lines.take(b"0 b\nbad line\n");
        assert_eq!(
            lines.last,
            Some((20, Some("b".into()))),
            "bad lines are ignored"
        );
        let long = vec![b'9'; LINE_MAX + 10];
        lines.take(b"30 ");
        lines.take(&long);
        lines.take(b" x\n40 after\n");
        assert_eq!(lines.last, Some((40, Some("after".into()))));
        lines.take(&long);
        lines.take(b"\n");
        assert_eq!(lines.last, Some((40, Some("after".into()))));
        assert!(lines.partial.is_empty() && !lines.skipping);
    }
}
