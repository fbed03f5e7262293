//! `cronq import`: a crontab to schedule YAML on stdout, problems on stderr.

use super::CliError;
use super::args::ImportArgs;
use crate::schedule::import::{CrontabFormat, import_crontab};

pub fn run(args: &ImportArgs) -> anyhow::Result<()> {
    let path = &args.crontab;
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read the crontab {}: {e}", path.display())))?;
    let format = if args.system {
        CrontabFormat::System
    } else {
        CrontabFormat::User
    };
    let imported = import_crontab(&text, format);
    print!("{}", imported.yaml);
    let file = path.display();
    for note in &imported.notes {
        eprintln!("{file}:{}: note: {}", note.line, note.message);
    }
    for problem in &imported.problems {
        eprintln!("{file}:{}: {}", problem.line, problem.message);
    }
    if !imported.problems.is_empty() {
        return Err(CliError::Usage(format!(
            "{} line(s) of {file} could not be converted; the YAML above leaves them out",
            imported.problems.len()
        ))
        .into());
    }
    Ok(())
}
