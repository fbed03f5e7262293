//! A run's output: stdout and stderr read at once, sent to the store in batches of chunks
//! tagged with their stream, in the order they arrived (the store keeps the tail), and
//! logged line by line.
//!
//! The run's own task reads both pipes and sends the batches, beside the child: no task
//! and no channel of their own, so that a run that writes nothing costs little. While it
//! waits for the store it reads neither pipe: what the job writes meanwhile waits in the
//! pipe (64 KiB on Linux), and a job that fills it blocks until the send is done, so
//! nothing is lost or reordered. While the store fails, what was read waits in the
//! batch (its last 1 MiB, as the store keeps) and goes with the next send; the last
//! batch is tried until the run's lease would expire.
//!
//! The pipes reach their end only when every process holding them is gone, so the
//! caller ends the job's process group before it calls [`Finish::after`].

use std::io;
use std::os::fd::OwnedFd;
use std::pin::pin;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::unix::pipe;
use tokio::sync::{oneshot, watch};
use tokio::time::{Instant, sleep_until};

use super::Throttle;
use crate::store::{
    Chunk, DEFAULT_OUTPUT_TAIL_BYTES, Lease, Store, StoreError, Stream, cut_front, push_merged,
};

/// A batch is sent at the latest this long after its first byte...
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// ...or as soon as it holds this many bytes.
const FLUSH_BYTES: usize = 64 * 1024;
/// One read from a pipe...
const READ_BYTES: usize = 16 * 1024;
/// ...but the first is small: most jobs write little or nothing, and glibc tidies its
/// free lists at each allocation of 1 KiB or more (a few µs per run, measured).
const FIRST_READ_BYTES: usize = 512;
/// Once the pipes' patience is over, they are read on while each look finds that data
/// came since the last one, this often...
const DRAIN_CHECK: Duration = Duration::from_millis(100);
/// ...for at most this long: what the job wrote before it ended is not dropped because
/// the capture was held up (a send through a store outage), and a process that left
/// the job's group cannot keep the run open by writing forever.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// A line longer than this is logged in pieces.
const LINE_BYTES: usize = 8 * 1024;

/// Which run the output belongs to, for the log.
pub struct Source {
    pub run: String,
    pub job: String,
}

/// Tells a capture when to stop waiting for the pipes' end.
pub struct Finish(oneshot::Sender<Instant>);

impl Finish {
    /// The pipes may stay open `patience` longer (held by a process that left the job's
    /// group); then they are abandoned, and what was read is still sent.
    pub fn after(self, patience: Duration) {
        // Refused only when the capture has seen both ends already.
        let _ = self.0.send(Instant::now() + patience);
    }
}

/// The capture of `stdout` and `stderr`, appending to the run that `lease` holds (the
/// latest lease is read at each send), to be awaited beside the child: it ends once
/// both pipes reach their end, or once the patience given to [`Finish::after`] is over,
/// with the last batch sent.
pub fn capture(
    store: Arc<dyn Store>,
    lease: watch::Receiver<Lease>,
    source: Source,
    stdout: impl AsyncRead + Unpin,
    stderr: impl AsyncRead + Unpin,
) -> (Finish, impl Future<Output = ()>) {
    let (finish, finishing) = oneshot::channel();
    let sender = Sender {
        store,
        lease,
        source,
    };
    (
        Finish(finish),
        read_and_send(sender, stdout, stderr, finishing),
    )
}

/// One pipe for both streams (`stderr: stdout`): the child's stdout and its stderr, and
/// the read end. A job's writes reach one pipe in the order it made them, which two
/// pipes cannot tell.
pub fn merged_pipe() -> io::Result<(Stdio, Stdio, pipe::Receiver)> {
    let (read, write) = io::pipe()?;
    let stderr = Stdio::from(write.try_clone()?);
    let read = pipe::Receiver::from_owned_fd(OwnedFd::from(read))?;
    Ok((Stdio::from(write), stderr, read))
}

/// Where the output goes.
struct Sender {
    store: Arc<dyn Store>,
    lease: watch::Receiver<Lease>,
    source: Source,
}

/// One of the job's pipes as the capture reads it.
struct Pipe {
    stream: Stream,
    /// Not at its end (nor failed, nor abandoned).
    open: bool,
    /// Holds no data between reads: read into without zeroing it first.
    buffer: Vec<u8>,
    lines: Lines,
}

/// Reads both pipes to their end, or until the deadline that `finishing` brings, sending
/// and logging what it reads in the order it arrives; then sends the last batch.
async fn read_and_send(
    sender: Sender,
    mut stdout: impl AsyncRead + Unpin,
    mut stderr: impl AsyncRead + Unpin,
    mut finishing: oneshot::Receiver<Instant>,
) {
    let source = &sender.source;
    let mut out = Pipe::new(Stream::Stdout);
    let mut err = Pipe::new(Stream::Stderr);
    let mut batch = Batch::default();
    // Created once and reset: a timer per loop turn would cost more than the turn.
    let mut flush = pin!(sleep_until(Instant::now()));
    let mut abandon = pin!(sleep_until(Instant::now()));
    let mut told = false;
    let mut deadline = None;
    let mut read_since_look = false;
    while out.open || err.open {
        if let Some(due) = batch.due
            && due != flush.deadline()
        {
            flush.as_mut().reset(due);
        }
        // Not biased: when both pipes have data, neither may wait on the other for long.
        tokio::select! {
            read = stdout.read_buf(&mut out.buffer), if out.open => {
                read_since_look |= matches!(read, Ok(n) if n > 0);
                out.take(read, source, &mut batch);
            }
            read = stderr.read_buf(&mut err.buffer), if err.open => {
                read_since_look |= matches!(read, Ok(n) if n > 0);
                err.take(read, source, &mut batch);
            }
            _ = &mut flush, if batch.due.is_some() => batch.send(&sender).await,
            at = &mut finishing, if !told => {
                // An error: the `Finish` was dropped unused, and the pipes are read to their end.
                told = true;
                deadline = at.ok();
                if let Some(at) = deadline {
                    abandon.as_mut().reset(at);
                }
            }
            _ = &mut abandon, if deadline.is_some() => {
                let now = Instant::now();
                if read_since_look && deadline.is_some_and(|at| now < at + DRAIN_LIMIT) {
                    read_since_look = false;
                    abandon.as_mut().reset(now + DRAIN_CHECK);
                    continue;
                }
                tracing::warn!(
                    "a process outside the job's group holds its output open: the rest is dropped"
                );
                break;
            }
        }
        // A full batch goes at once, unless the store failed the last send: then the
        // pipes are read on (the batch keeps the tail) and the next try waits for the
        // flush timer, so a job that writes through an outage is not held up by a
        // failing call per read.
        if batch.bytes >= FLUSH_BYTES && !batch.failing {
            batch.send(&sender).await;
        }
    }
    out.end(source);
    err.end(source);
    batch.send_last(&sender).await;
}

impl Pipe {
    fn new(stream: Stream) -> Pipe {
        Pipe {
            stream,
            open: true,
            buffer: Vec::with_capacity(FIRST_READ_BYTES),
            lines: Lines::default(),
        }
    }

    /// Takes the result of one read into the batch and the log, or closes the pipe.
    fn take(&mut self, read: io::Result<usize>, source: &Source, batch: &mut Batch) {
        match read {
            Ok(0) => self.end(source),
            Ok(_) => {
                let stream = self.stream;
                if tracing::enabled!(tracing::Level::INFO) {
                    self.lines
                        .push(&self.buffer, |line| log_line(source, stream, line));
                }
                batch.add(Chunk::new(stream, self.buffer.as_slice()));
                self.buffer.clear();
                // The job writes: from now on, full-size reads.
                self.buffer.reserve(READ_BYTES);
            }
            Err(error) => {
                tracing::warn!(
                    run = %source.run,
                    job = %source.job,
                    stream = self.stream.as_str(),
                    %error,
                    "cannot read the job's output",
                );
                self.end(source);
            }
        }
    }

    /// No more reads: the partial last line goes to the log.
    fn end(&mut self, source: &Source) {
        self.open = false;
        let stream = self.stream;
        self.lines.finish(|line| log_line(source, stream, line));
    }
}

/// A job's output goes to the log as well, as cron's went to mail: one line each.
fn log_line(source: &Source, stream: Stream, line: &[u8]) {
    tracing::info!(
        run = %source.run,
        job = %source.job,
        stream = stream.as_str(),
        "{}",
        LogText(line),
    );
}

/// A line of output as the log shows it: invalid UTF-8 as `�`, and control characters
/// but the tab escaped (`\r`, `\0`, `\x1b`, `\u{85}`), so that a job's `\r` cannot
/// overwrite the log line on a terminal, nor a NUL cut it short in a tool that reads it.
/// The store keeps the bytes as written.
struct LogText<'a>(&'a [u8]);

impl std::fmt::Display for LogText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '\t' => f.write_char(c)?,
                    '\0' => f.write_str("\\0")?,
                    '\r' => f.write_str("\\r")?,
                    '\n' => f.write_str("\\n")?,
                    c if c.is_ascii_control() => write!(f, "\\x{:02x}", c as u32)?,
                    c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
                    c => f.write_char(c)?,
                }
            }
            if !chunk.invalid().is_empty() {
                f.write_char(char::REPLACEMENT_CHARACTER)?;
            }
        }
        Ok(())
    }
}

/// Output read and not yet in the store.
#[derive(Default)]
struct Batch {
    /// In the order they arrived; neighbours are of different streams.
    chunks: Vec<Chunk>,
    /// How many bytes `chunks` hold.
    bytes: usize,
    /// When the oldest unsent byte must be sent.
    due: Option<Instant>,
    /// The lease is gone: the run is someone else's now, its output is dropped.
    lost: bool,
    /// The last send failed: the next waits for `due`.
    failing: bool,
    warning: Option<Throttle>,
}

impl Batch {
    fn add(&mut self, chunk: Chunk) {
        if self.lost {
            return;
        }
        self.bytes += chunk.bytes.len();
        push_merged(&mut self.chunks, chunk);
        self.due.get_or_insert_with(|| Instant::now() + FLUSH_EVERY);
        // While the store fails, keep no more than it would keep anyway: the tail.
        if self.bytes > DEFAULT_OUTPUT_TAIL_BYTES {
            cut_front(&mut self.chunks, self.bytes - DEFAULT_OUTPUT_TAIL_BYTES);
            self.bytes = DEFAULT_OUTPUT_TAIL_BYTES;
        }
    }

    fn clear(&mut self) {
        self.chunks = Vec::new();
        self.bytes = 0;
        self.due = None;
    }

    async fn send(&mut self, sender: &Sender) {
        if self.chunks.is_empty() || self.lost {
            self.due = None;
            return;
        }
        let lease = sender.lease.borrow().clone();
        match sender.store.append_output(&lease, &self.chunks).await {
            Ok(()) => {
                self.failing = false;
                self.clear();
            }
            Err(StoreError::LeaseLost(_) | StoreError::NotFound(_)) => {
                self.lost = true;
                self.clear();
            }
            Err(error) => {
                // Kept, and tried again with the next batch.
                self.failing = true;
                self.due = Some(Instant::now() + FLUSH_EVERY);
                let warning = self
                    .warning
                    .get_or_insert_with(|| Throttle::new(super::WARN_EVERY));
                if warning.ready() {
                    tracing::warn!(
                        run = %sender.source.run,
                        job = %sender.source.job,
                        %error,
                        "cannot store the job's output",
                    );
                }
            }
        }
    }
}

impl Batch {
    /// Sends the last batch, trying again while the store fails until the run's lease
    /// would expire, as the run's end is tried (`finish.rs`): output written during an
    /// outage (its last [`DEFAULT_OUTPUT_TAIL_BYTES`]) is stored once the store answers.
    async fn send_last(&mut self, sender: &Sender) {
        loop {
            self.send(sender).await;
            if self.chunks.is_empty() || self.lost {
                return;
            }
            let expires_at = sender.lease.borrow().expires_at;
            let pause = chrono::TimeDelta::from_std(FLUSH_EVERY).unwrap_or_default();
            if chrono::Utc::now() + pause >= expires_at {
                tracing::warn!(
                    run = %sender.source.run,
                    job = %sender.source.job,
                    bytes = self.bytes,
                    "the end of the job's output is not stored: the store failed until the run's lease ran out"
                );
                return;
            }
            tokio::time::sleep(FLUSH_EVERY).await;
        }
    }
}

/// Splits a byte stream into lines, holding a partial last line until its end comes.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
    /// The line so far was logged because it was long: its end adds no empty line.
    cut: bool,
}

impl Lines {
    fn push(&mut self, mut bytes: &[u8], mut emit: impl FnMut(&[u8])) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&bytes[..end]);
            if !(self.cut && self.partial.is_empty()) {
                emit(&self.partial);
            }
            self.partial.clear();
            self.cut = false;
            bytes = &bytes[end + 1..];
        }
        self.partial.extend_from_slice(bytes);
        if self.partial.len() >= LINE_BYTES {
            emit(&self.partial);
            self.partial.clear();
            self.cut = true;
        }
    }

    fn finish(&mut self, mut emit: impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            emit(&self.partial);
            self.partial.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(pieces: &[&[u8]]) -> Vec<String> {
        let mut lines = Lines::default();
        let mut out = Vec::new();
        for piece in pieces {
            lines.push(piece, |line| {
                out.push(String::from_utf8_lossy(line).into_owned())
            });
        }
        lines.finish(|line| out.push(String::from_utf8_lossy(line).into_owned()));
        out
    }

    #[test]
    fn lines_are_joined_across_reads_and_the_last_one_is_kept() {
        assert_eq!(split(&[b"a\nb", b"c\n\nd"]), ["a", "bc", "", "d"]);
        assert_eq!(split(&[b"x\n"]), ["x"]);
    }

    #[test]
    fn control_characters_are_escaped_for_the_log_but_a_tab_is_kept() {
        let shown = |bytes: &[u8]| LogText(bytes).to_string();
        assert_eq!(shown(b"50%\rdone\0!"), "50%\\rdone\\0!");
        assert_eq!(shown(b"a\tb"), "a\tb");
        assert_eq!(shown(b"\x1b[31mred\x7f"), "\\x1b[31mred\\x7f");
        assert_eq!(shown("\u{85}é".as_bytes()), "\\u{85}é");
        assert_eq!(shown(b"bad \xff\xfe byte"), "bad \u{fffd}\u{fffd} byte");
    }

    #[test]
    fn a_very_long_line_is_logged_in_pieces() {
        let long = vec![b'x'; LINE_BYTES + 10];
        let lengths = |lines: Vec<String>| lines.iter().map(String::len).collect::<Vec<_>>();
        assert_eq!(lengths(split(&[&long, b"\nz"])), [LINE_BYTES + 10, 1]);
        let pieces = split(&[&long[..LINE_BYTES], &long[LINE_BYTES..], b"\n"]);
        assert_eq!(lengths(pieces), [LINE_BYTES, 10]);
    }
}
