//! A job's name from its command: the first word that says what the job does.
//!
//! `test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }` is
//! `cron-daily`, not `test`: conditions (`test`, `[`, `if`), moves (`cd`), variable
//! settings and wrappers (`sudo`, `nice`, `env`) are passed over, a shell's `-c` text
//! or script is read instead of the shell, and `run-parts` is named after its
//! directory.

/// Longest job name derived from a command, in characters.
const NAME_MAX: usize = 40;

/// How deep `sh -c '…'` inside `sh -c '…'` is followed.
const NESTING_MAX: usize = 4;

/// Commands that only test, move or set something up: never what the job is for.
const PASSED_OVER: &[&str] = &[
    "cd", "test", "[", "[[", "true", "false", ":", "export", "set", "umask", "sleep", "source",
    ".", "fi", "done", "esac", "ulimit",
];

/// Words that lead into the command proper.
const LEADING: &[&str] = &[
    "if", "then", "else", "elif", "while", "until", "do", "!", "time", "exec", "nohup", "command",
    "builtin",
];

const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "ash"];

/// Options of the wrappers that take the next word as their value.
const SUDO_VALUED: &[&str] = &["-u", "-g", "-U", "-C", "-h", "-p", "-r", "-t", "-D", "-R"];
const NICE_VALUED: &[&str] = &["-n", "-c", "-t"];
const RUN_PARTS_VALUED: &[&str] = &["-a", "-u"];

/// The job name for `command`: a lower-case slug of its meaningful word.
pub(super) fn job_name(command: &str) -> String {
    let word = meaningful(command, 0)
        .or_else(|| first_program(command))
        .unwrap_or_default();
    slug(&word)
}

/// The first word of a program, past variable settings: the fallback when no
/// command in the line says more.
fn first_program(command: &str) -> Option<String> {
    let words = words(command);
    let first = words.first()?;
    first
        .iter()
        .find(|w| !is_assignment(w))
        .map(|w| base_name(w).to_string())
}

/// The meaningful word of the first simple command that has one.
fn meaningful(command: &str, depth: usize) -> Option<String> {
    for words in words(command) {
        match pick(&words) {
            Pick::Name(name) => return Some(name),
            Pick::Inner(inner) if depth < NESTING_MAX => {
                if let Some(name) = meaningful(&inner, depth + 1) {
                    return Some(name);
                }
            }
            Pick::Inner(_) | Pick::Next => {}
        }
    }
    None
}

enum Pick {
    Name(String),
    /// A shell's `-c` text, to be read in turn.
    Inner(String),
    /// Nothing meaningful in this simple command.
    Next,
}

fn pick(words: &[String]) -> Pick {
    let mut rest = words;
    while let Some((word, after)) = rest.split_first() {
        let word = word.as_str();
        if is_assignment(word) || LEADING.contains(&word) {
            rest = after;
        } else if PASSED_OVER.contains(&word) {
            return Pick::Next;
        } else if matches!(word, "sudo" | "nice" | "ionice" | "env") {
            let valued = if word == "sudo" {
                SUDO_VALUED
            } else {
                NICE_VALUED
            };
            rest = options(after, valued);
            if word == "env" {
                while rest.first().is_some_and(|w| is_assignment(w)) {
                    rest = &rest[1..];
                }
            }
        } else if SHELLS.contains(&base_name(word)) {
            return shell(base_name(word), after);
        } else if base_name(word) == "run-parts" {
            let dir = options(after, RUN_PARTS_VALUED).first();
            return Pick::Name(dir.map_or("run-parts", |d| base_name(d)).to_string());
        } else {
            return Pick::Name(base_name(word).to_string());
        }
    }
    Pick::Next
}

/// `sh -c 'text'` is the text; `sh script` is the script; `sh` alone is `sh`.
fn shell(shell: &str, args: &[String]) -> Pick {
    let mut rest = args;
    let mut inline = false;
    while let Some((word, after)) = rest.split_first() {
        if word == "--" {
            rest = after;
            break;
        }
        if !word.starts_with(['-', '+']) || word.len() == 1 {
            break;
        }
        // `-c`, `-ec`, `-lc`: the first word after the options is the command.
        inline |= word.starts_with('-') && !word.starts_with("--") && word.contains('c');
        rest = if word == "-o" || word == "+o" {
            after.get(1..).unwrap_or_default()
        } else {
            after
        };
    }
    match rest.first() {
        Some(text) if inline => Pick::Inner(text.clone()),
        Some(script) => Pick::Name(base_name(script).to_string()),
        None => Pick::Name(shell.to_string()),
    }
}

/// The words after a program's options (`-x`, `--long`, `--long=value`, and the
/// value of each option in `valued`).
fn options<'a>(words: &'a [String], valued: &[&str]) -> &'a [String] {
    let mut rest = words;
    while let Some((word, after)) = rest.split_first() {
        if word == "--" {
            return after;
        }
        if !word.starts_with('-') || word.len() == 1 {
            break;
        }
        rest = if valued.contains(&word.as_str()) {
            after.get(1..).unwrap_or_default()
        } else {
            after
        };
    }
    rest
}

/// The simple commands of a shell line, each as its words with the quotes taken
/// off: split at `;`, `&`, `|`, `&&`, `||`, newlines and the grouping `(`, `)`, `{`,
/// `}`; a `#` that starts a word ends the line. Good enough to find a name, not a
/// shell parser.
fn words(command: &str) -> Vec<Vec<String>> {
    let mut commands = vec![Vec::new()];
    let mut word: Option<String> = None;
    let mut chars = command.chars().peekable();
    let end_word = |word: &mut Option<String>, commands: &mut Vec<Vec<String>>| {
        if let Some(word) = word.take() {
            if matches!(word.as_str(), "{" | "}") {
                commands.push(Vec::new());
            } else {
                commands.last_mut().expect("starts with one").push(word);
            }
        }
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => end_word(&mut word, &mut commands),
            '#' if word.is_none() => break,
            // `$(…)` and `$((…))` stay inside their word.
            '(' if word.as_deref().is_some_and(|w| w.ends_with('$')) => {
                let word = word.get_or_insert_default();
                word.push(c);
                let mut depth = 1;
                for c in chars.by_ref() {
                    word.push(c);
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    if depth == 0 {
                        break;
                    }
                }
            }
            // `2>&1`, `>&2` keep their `&`.
            '&' if word.as_deref().is_some_and(|w| w.ends_with(['>', '<'])) => {
                word.get_or_insert_default().push(c);
            }
            ';' | '&' | '|' | '\n' | '(' | ')' => {
                end_word(&mut word, &mut commands);
                commands.push(Vec::new());
            }
            '\'' => {
                let word = word.get_or_insert_default();
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                let word = word.get_or_insert_default();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            }
            '\\' => word.get_or_insert_default().extend(chars.next()),
            c => word.get_or_insert_default().push(c),
        }
    }
    end_word(&mut word, &mut commands);
    commands.retain(|words| !words.is_empty());
    commands
}

fn base_name(path: &str) -> &str {
    path.rsplit('/')
        .find(|part| !part.is_empty())
        .unwrap_or(path)
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// A job name from a word: lower case, `[a-z0-9-]`, at most [`NAME_MAX`] long.
fn slug(word: &str) -> String {
    let mut name = String::new();
    for c in word.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    name.truncate(NAME_MAX);
    let name = name.trim_matches('-');
    (if name.is_empty() { "job" } else { name }).to_string()
}

#[cfg(test)]
mod tests {
    use super::job_name;

    #[test]
    fn the_name_is_the_first_meaningful_word() {
        for (command, name) in [
            ("cd / && run-parts --report /etc/cron.hourly", "cron-hourly"),
            (
                "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }",
                "cron-daily",
            ),
            ("[ -x /usr/bin/certbot ] && certbot -q renew", "certbot"),
            ("if [ -f /tmp/go ]; then /srv/bin/Sync.sh; fi", "sync-sh"),
            ("sh -c '/opt/app/bin/rotate-logs --all'", "rotate-logs"),
            ("/bin/bash -lc \"cd /srv && ./deploy.sh\"", "deploy-sh"),
            ("bash /home/me/backup.sh > /dev/null 2>&1", "backup-sh"),
            ("sudo -u www-data php /srv/artisan schedule:run", "php"),
            ("sudo -n /usr/local/bin/renew", "renew"),
            ("VAR=x; export VAR; /usr/bin/report", "report"),
            ("LANG=C TZ=UTC /usr/bin/Report.PY", "report-py"),
            ("cd /srv; ./Sync", "sync"),
            ("nice -n 19 ionice -c3 tar czf /b.tgz /home", "tar"),
            ("env -i PATH=/bin HOME=/ backup --db", "backup"),
            ("run-parts /etc/cron.d/", "cron-d"),
            ("sleep $((RANDOM % 60)) && curl -s https://x", "curl"),
            ("test -f /x", "test"),
            ("cd /tmp", "cd"),
            ("sh", "sh"),
            ("\"\"", "job"),
            ("# only a comment", "job"),
        ] {
            assert_eq!(job_name(command), name, "{command}");
        }
    }
}
