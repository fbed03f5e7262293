//! `cronq logs`: a run's output, raw bytes, what the job wrote to stdout on stdout and
//! what it wrote to stderr on stderr; with `--follow`, what it writes next too, until
//! the run has finished.

use std::io::{ErrorKind, Write};
use std::time::Duration;

use super::args::LogsArgs;
use super::runs::{Naming, find};
use super::{CliError, output, signals};
use crate::settings::Settings;
use crate::store::{Output, Store, Stream};

/// How often `--follow` asks the store for more. Workers send output in batches at
/// about this pace, so polling faster would only find nothing new.
const POLL_EVERY: Duration = Duration::from_millis(200);

pub fn run(args: &LogsArgs, settings: &Settings) -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(async {
        let store = settings.store.open_to_read(&settings.redis_prefix).await?;
        let id = find(store.as_ref(), &args.run_id, Naming::IdOrJob)
            .await?
            .id;
        let print = print_until_end(store.as_ref(), &id, args.follow);
        if !args.follow {
            return print.await;
        }
        let interrupt = signals::interrupt()?;
        tokio::select! {
            printed = print => printed,
            () = interrupt => {
                output::note!("cronq: stopped following run {id}; it goes on");
                Err(CliError::Exit(signals::INTERRUPTED).into())
            }
        }
    })
}

/// Prints the run's output; with `follow`, what it writes next too, until it ends.
async fn print_until_end(store: &dyn Store, id: &str, follow: bool) -> anyhow::Result<()> {
    let mut printer = Printer::default();
    loop {
        // The status is read before the output: a run seen finished had written all
        // its output by then, so this read of the output holds the rest of it.
        let finished = store.run(id).await?.status.is_finished();
        let output = store.output(id, printer.next).await?;
        if !printer.print(&output)? || !follow || finished {
            return Ok(());
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Writes output as it comes, and says once when the store's tail had already dropped
/// bytes that were not printed.
#[derive(Default)]
struct Printer {
    /// The offset of the next byte to print.
    next: u64,
    warned: bool,
}

impl Printer {
    /// Prints `output`, each chunk to the stream it came from; false once one of them is
    /// closed (`cronq logs ID | head`).
    fn print(&mut self, output: &Output) -> anyhow::Result<bool> {
        if output.start > self.next && !self.warned {
            self.warned = true;
            let dropped = output.start - self.next;
            output::note!(
                "cronq: {dropped} bytes of this run's output are no longer kept; the store keeps only the tail"
            );
        }
        self.next = output.end.max(self.next);
        for chunk in &output.chunks {
            let (written, name) = match chunk.stream {
                Stream::Stdout => (write_all(std::io::stdout().lock(), &chunk.bytes), "stdout"),
                Stream::Stderr => (write_all(std::io::stderr().lock(), &chunk.bytes), "stderr"),
            };
            match written {
                Ok(()) => {}
                Err(error) if error.kind() == ErrorKind::BrokenPipe => return Ok(false),
                Err(error) => anyhow::bail!("cannot write the run's output to {name}: {error}"),
            }
        }
        Ok(true)
    }
}

/// Writes and flushes at once, so that the two streams interleave as the job wrote them.
fn write_all(mut out: impl Write, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(bytes)?;
    out.flush()
}
