//! `cronq progress`: from inside a job, say how far its run is. The worker gives the
//! job a pipe at `CRONQ_PROGRESS_FD`; this writes one line `PERCENT [MESSAGE]` to it,
//! and the worker records it. Nothing of the settings or the store is read: a job
//! carries no store credentials.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use nix::fcntl::{FcntlArg, OFlag, fcntl};

use super::CliError;
use super::args::ProgressArgs;
use crate::worker::{PROGRESS_LINE_MAX, parse_percent};

pub fn run(args: &ProgressArgs, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<()> {
    let fd = env("CRONQ_PROGRESS_FD")
        .filter(|fd| !fd.is_empty())
        .ok_or_else(|| {
            CliError::Usage("cronq progress runs inside a job: CRONQ_PROGRESS_FD is not set".into())
        })?;
    let fd: u32 = fd.parse().map_err(|_| {
        CliError::Usage(format!(
            "CRONQ_PROGRESS_FD `{fd}` is not a descriptor number"
        ))
    })?;
    let percent = parse_percent(args.percent.trim()).ok_or_else(|| {
        CliError::Usage(format!(
            "progress `{}` is not a number from 0 to 100, such as 40, 12.5 or 50%",
            args.percent
        ))
    })?;
    let line = line(percent, args.message.as_deref());
    write(fd, &line).map_err(|error| {
        CliError::Failed(format!(
            "cannot report progress on descriptor {fd} (CRONQ_PROGRESS_FD): {error}"
        ))
    })?;
    Ok(())
}

/// `40 copying\n`, one line under the worker's limit, written whole by one write(2).
fn line(percent: u8, message: Option<&str>) -> String {
    let mut line = percent.to_string();
    if let Some(message) = message.map(str::trim).filter(|m| !m.is_empty()) {
        line.push(' ');
        // Room for the percent, the space and the newline, well under PIPE_BUF (4096).
        let room = PROGRESS_LINE_MAX.min(4096) - 8;
        for c in message.chars() {
            if line.len() + c.len_utf8() > room {
                break;
            }
            line.push(if c.is_control() { ' ' } else { c });
        }
    }
    line.push('\n');
    line
}

/// Writes `line` to the job's descriptor `fd`. It is opened again through `/dev/fd`:
/// without blocking first, so that a pipe whose reader (the worker) is gone is an error
/// rather than a wait, then blocking, so that a full pipe waits for the worker.
fn write(fd: u32, line: &str) -> std::io::Result<()> {
    let mut pipe = OpenOptions::new()
        .write(true)
        .custom_flags(OFlag::O_NONBLOCK.bits())
        .open(format!("/dev/fd/{fd}"))?;
    fcntl(&pipe, FcntlArg::F_SETFL(OFlag::empty()))?;
    pipe.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_line_under_the_limit() {
        assert_eq!(line(40, Some("copying")), "40 copying\n");
        assert_eq!(line(7, None), "7\n");
        assert_eq!(line(7, Some("  ")), "7\n");
        assert_eq!(line(50, Some("a\nb\rc")), "50 a b c\n");
        let long = line(1, Some(&"é".repeat(10_000)));
        assert!(long.len() < 4096 && long.ends_with("é\n"), "{}", long.len());
        assert_eq!(long.matches('\n').count(), 1);
    }
}
