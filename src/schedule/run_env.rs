//! The environment a run may bring with it (`cronq run JOB --env K=V`): only the names
//! its job lists in `allow_env`, and never a name that changes what is executed or
//! loaded, whatever the job allows. A queued run is data; its environment must not
//! become code (a `PATH` that finds another `echo`, an `LD_PRELOAD`).
//!
//! Plain code: `check`, `cronq run` and the worker all ask it the same questions.

/// Names no run may set, whatever its job allows; a trailing `*` matches any rest.
/// Each changes which program runs, what it loads, or what a shell executes first.
const NEVER: &[&str] = &[
    "PATH",
    "LD_*",
    "DYLD_*",
    "BASH_ENV",
    "ENV",
    "BASH_FUNC_*",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "IFS",
    "CDPATH",
    "PYTHON*",
    "PERL5*",
    "PERLLIB",
    "RUBY*",
    "NODE_OPTIONS",
    "NODE_PATH",
    "GCONV_PATH",
    "GLIBC_TUNABLES",
    "LOCPATH",
    "NLSPATH",
    "HOSTALIASES",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "CLASSPATH",
    "CRONQ_*",
];

/// The rule of [`NEVER`] that `name` falls under (`LD_*` for `LD_PRELOAD`), if any.
pub fn never_from_run(name: &str) -> Option<&'static str> {
    NEVER
        .iter()
        .copied()
        .find(|rule| match rule.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == *rule,
        })
}

/// A name `allow_env` may list: a plain variable name (letters, digits and `_`, not
/// starting with a digit) that is not in [`NEVER`].
pub fn check_allowed_name(name: &str) -> Result<(), String> {
    let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if name.is_empty() || !plain || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "`{name}` is not a variable name; expected letters, digits and `_`, such as LEVEL"
        ));
    }
    if let Some(rule) = never_from_run(name) {
        return Err(format!(
            "`{name}` cannot be allowed: {}",
            never_reason(rule)
        ));
    }
    Ok(())
}

/// Whether a run of `job` may bring the variables `names`, when the job allows
/// `allowed`: the reason for the first that it may not, as a user reads it.
pub fn check_run_env<'a>(
    job: &str,
    allowed: &[String],
    names: impl IntoIterator<Item = &'a str>,
) -> Result<(), String> {
    for name in names {
        if let Some(rule) = never_from_run(name) {
            return Err(format!(
                "the run sets `{}`: {}",
                printable(name),
                never_reason(rule)
            ));
        }
        if !allowed.iter().any(|allowed| allowed == name) {
            let takes = if allowed.is_empty() {
                "takes no environment from a run".to_string()
            } else {
                format!("takes only {} from a run", allowed.join(", "))
            };
            return Err(format!(
                "job `{job}` {takes}, not `{}`; list the name in the job's `allow_env` to pass it",
                printable(name)
            ));
        }
    }
    Ok(())
}

fn never_reason(rule: &str) -> String {
    format!("{rule} changes what is executed or loaded, and cronq never takes it from a run")
}

/// A name from a run as one line of a message: control characters escaped, and cut
/// short, since it may be anything at all.
fn printable(name: &str) -> String {
    let mut shown: String = name.chars().take(64).flat_map(char::escape_debug).collect();
    if name.chars().count() > 64 {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_that_change_what_runs_are_never_taken() {
        for name in [
            "PATH",
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "DYLD_INSERT_LIBRARIES",
            "BASH_ENV",
            "ENV",
            "BASH_FUNC_echo%%",
            "SHELLOPTS",
            "PS4",
            "IFS",
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "PERL5LIB",
            "PERL5OPT",
            "RUBYOPT",
            "NODE_OPTIONS",
            "GCONV_PATH",
            "CRONQ_STORE",
            "CRONQ_RUN_ID",
            "CRONQ_PROGRESS_FD",
        ] {
            assert!(never_from_run(name).is_some(), "{name}");
            let allowed = names(&[name]);
            let refused = check_run_env("j", &allowed, [name]).unwrap_err();
            assert!(refused.contains("never takes it from a run"), "{refused}");
            assert!(check_allowed_name(name).is_err(), "{name}");
        }
        for name in [
            "LEVEL",
            "TARGET_DATE",
            "PATHNAME",
            "MY_PATH",
            "ENVIRONMENT",
            "LD",
        ] {
            assert_eq!(never_from_run(name), None, "{name}");
            assert_eq!(check_allowed_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn a_run_brings_only_the_names_its_job_allows() {
        let allowed = names(&["LEVEL", "TARGET_DATE"]);
        assert_eq!(check_run_env("j", &allowed, ["LEVEL"]), Ok(()));
        assert_eq!(check_run_env("j", &allowed, []), Ok(()));
        assert_eq!(
            check_run_env("j", &allowed, ["LEVEL", "HOME"]).unwrap_err(),
            "job `j` takes only LEVEL, TARGET_DATE from a run, not `HOME`; list the name in the \
             job's `allow_env` to pass it"
        );
        assert_eq!(
            check_run_env("j", &[], ["level"]).unwrap_err(),
            "job `j` takes no environment from a run, not `level`; list the name in the job's \
             `allow_env` to pass it"
        );
    }

    #[test]
    fn a_crafted_name_is_shown_on_one_line() {
        let refused = check_run_env("j", &[], ["A\nB\u{7}"]).unwrap_err();
        assert!(refused.contains(r"`A\nB\u{7}`"), "{refused}");
        assert!(!refused.contains('\n'));
        let long = "X".repeat(10_000);
        assert!(check_run_env("j", &[], [long.as_str()]).unwrap_err().len() < 300);
    }

    #[test]
    fn allow_env_lists_plain_names() {
        for bad in ["", "1ST", "A-B", "A=B", "A B", "É"] {
            assert!(check_allowed_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_allowed_name("_X1"), Ok(()));
    }
}
