//! `cronq logs`: a run's output, raw bytes to stdout; with `--follow`, what it writes
//! next too, until the run has finished.

use std::io::{ErrorKind, Write};
use std::time::Duration;

use super::args::LogsArgs;
use super::runs::find;
use crate::settings::Settings;
use crate::store::Output;

/// How often `--follow` asks the store for more. Workers send output in batches at
/// about this pace, so polling faster would only find nothing new.
const POLL_EVERY: Duration = Duration::from_millis(200);

pub fn run(args: &LogsArgs, settings: &Settings) -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(async {
        let store = settings.store.open(&settings.redis_prefix).await?;
        let id = find(store.as_ref(), &args.run_id).await?.id;
        let mut printer = Printer::default();
        loop {
            // The status is read before the output: a run seen finished had written all
            // its output by then, so this read of the output holds the rest of it.
            let finished = store.run(&id).await?.status.is_finished();
            let output = store.output(&id, printer.next).await?;
            if !printer.print(&output)? || !args.follow || finished {
                return Ok(());
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    })
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
    /// Prints `output`; false once stdout is closed (`cronq logs ID | head`).
    fn print(&mut self, output: &Output) -> std::io::Result<bool> {
        if output.start > self.next && !self.warned {
            self.warned = true;
            let dropped = output.start - self.next;
            eprintln!(
                "cronq: {dropped} bytes of this run's output are no longer kept; the store keeps only the tail"
            );
        }
        self.next = output.end.max(self.next);
        if output.bytes.is_empty() {
            return Ok(true);
        }
        let mut out = std::io::stdout().lock();
        match out.write_all(&output.bytes).and_then(|()| out.flush()) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == ErrorKind::BrokenPipe => Ok(false),
            Err(error) => Err(error),
        }
    }
}
