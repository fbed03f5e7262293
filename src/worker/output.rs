//! A run's output: stdout and stderr read at once, sent to the store in batches of chunks
//! tagged with their stream, in the order they arrived (the store keeps the tail), and
//! logged line by line.
//!
//! The pipes reach their end only when every process holding them is gone, so the
//! caller ends the job's process group before it calls [`Capture::finish`].

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout};

use super::Throttle;
use crate::store::{
    Chunk, DEFAULT_OUTPUT_TAIL_BYTES, Lease, Store, StoreError, Stream, cut_front, push_merged,
};

/// A batch is sent at the latest this long after its first byte...
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// ...or as soon as it holds this many bytes.
const FLUSH_BYTES: usize = 64 * 1024;
/// One read from a pipe.
const READ_BYTES: usize = 16 * 1024;
/// A line longer than this is logged in pieces.
const LINE_BYTES: usize = 8 * 1024;

/// Which run the output belongs to, for the log.
#[derive(Clone)]
pub struct Source {
    pub run: Arc<str>,
    pub job: Arc<str>,
}

/// The tasks reading a child's pipes and sending what they read.
pub struct Capture {
    readers: Vec<JoinHandle<()>>,
    sender: JoinHandle<()>,
}

impl Capture {
    /// Starts reading `stdout` and `stderr`, appending to the run that `lease` holds
    /// (the latest lease is read at each send).
    pub fn start(
        store: Arc<dyn Store>,
        lease: watch::Receiver<Lease>,
        source: Source,
        pipes: Vec<(Stream, Box<dyn AsyncRead + Send + Unpin>)>,
    ) -> Capture {
        let (chunks_tx, chunks_rx) = mpsc::channel(64);
        let readers = pipes
            .into_iter()
            .map(|(stream, pipe)| {
                tokio::spawn(read(pipe, stream, source.clone(), chunks_tx.clone()))
            })
            .collect();
        let sender = tokio::spawn(send(store, lease, source, chunks_rx));
        Capture { readers, sender }
    }

    /// Reads the pipes to their end and sends the last batch. A pipe still open after
    /// `patience` (held by a process that left the job's group) is abandoned.
    pub async fn finish(self, patience: Duration) {
        let deadline = Instant::now() + patience;
        let mut abandon = false;
        for mut reader in self.readers {
            if !abandon {
                let left = deadline.saturating_duration_since(Instant::now());
                abandon = timeout(left, &mut reader).await.is_err();
                if !abandon {
                    continue;
                }
                tracing::warn!(
                    "a process outside the job's group holds its output open: the rest is dropped"
                );
            }
            reader.abort();
            let _ = reader.await;
        }
        let _ = self.sender.await;
    }
}

/// Reads one pipe to its end, passing on what it reads and logging its lines.
async fn read(
    mut pipe: Box<dyn AsyncRead + Send + Unpin>,
    stream: Stream,
    source: Source,
    chunks: mpsc::Sender<Chunk>,
) {
    let mut lines = Lines::default();
    let mut buffer = vec![0; READ_BYTES];
    loop {
        let n = match pipe.read(&mut buffer).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) => {
                tracing::warn!(
                    run = %source.run,
                    job = %source.job,
                    stream = stream.as_str(),
                    %error,
                    "cannot read the job's output",
                );
                break;
            }
        };
        if tracing::enabled!(tracing::Level::INFO) {
            lines.push(&buffer[..n], |line| log_line(&source, stream, line));
        }
        if chunks.send(Chunk::new(stream, &buffer[..n])).await.is_err() {
            break;
        }
    }
    lines.finish(|line| log_line(&source, stream, line));
}

/// A job's output goes to the log as well, as cron's went to mail: one line each.
fn log_line(source: &Source, stream: Stream, line: &[u8]) {
    tracing::info!(
        run = %source.run,
        job = %source.job,
        stream = stream.as_str(),
        "{}",
        String::from_utf8_lossy(line),
    );
}

/// Sends the chunks to the store in batches until every reader is done.
async fn send(
    store: Arc<dyn Store>,
    lease: watch::Receiver<Lease>,
    source: Source,
    mut chunks: mpsc::Receiver<Chunk>,
) {
    let mut batch = Batch::default();
    loop {
        let due = batch.due.unwrap_or_else(|| Instant::now() + FLUSH_EVERY);
        tokio::select! {
            chunk = chunks.recv() => match chunk {
                Some(chunk) => {
                    batch.add(chunk);
                    if batch.bytes >= FLUSH_BYTES {
                        batch.send(&*store, &lease, &source).await;
                    }
                }
                None => break,
            },
            _ = sleep_until(due), if batch.due.is_some() => {
                batch.send(&*store, &lease, &source).await;
            }
        }
    }
    batch.send(&*store, &lease, &source).await;
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

    async fn send(&mut self, store: &dyn Store, lease: &watch::Receiver<Lease>, source: &Source) {
        if self.chunks.is_empty() || self.lost {
            self.due = None;
            return;
        }
        let lease = lease.borrow().clone();
        match store.append_output(&lease, &self.chunks).await {
            Ok(()) => self.clear(),
            Err(StoreError::LeaseLost(_) | StoreError::NotFound(_)) => {
                self.lost = true;
                self.clear();
            }
            Err(error) => {
                // Kept, and tried again with the next batch.
                self.due = Some(Instant::now() + FLUSH_EVERY);
                let warning = self
                    .warning
                    .get_or_insert_with(|| Throttle::new(super::WARN_EVERY));
                if warning.ready() {
                    tracing::warn!(
                        run = %source.run,
                        job = %source.job,
                        %error,
                        "cannot store the job's output",
                    );
                }
            }
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
    fn a_very_long_line_is_logged_in_pieces() {
        let long = vec![b'x'; LINE_BYTES + 10];
        let lengths = |lines: Vec<String>| lines.iter().map(String::len).collect::<Vec<_>>();
        assert_eq!(lengths(split(&[&long, b"\nz"])), [LINE_BYTES + 10, 1]);
        let pieces = split(&[&long[..LINE_BYTES], &long[LINE_BYTES..], b"\n"]);
        assert_eq!(lengths(pieces), [LINE_BYTES, 10]);
    }
}
