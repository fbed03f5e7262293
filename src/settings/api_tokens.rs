//! `api_tokens:` in the settings: who may call the HTTP API, and for what.
//!
//! A token's value never sits in the settings file, which lives in git: it comes from
//! the environment (`token: "${CRONQ_TOKEN_DEPLOY}"`) or from a file of its own
//! (`token_file: /run/secrets/deploy`), and a literal value is refused. The value is
//! kept in a [`Secret`], which never prints. A variable that is not set or a file that
//! cannot be read is an error only where the API is served (`http::bind`): the other
//! commands read the same settings without the secrets.

use std::fmt;
use std::path::Path;

use crate::schedule::diagnostic::Report;
use crate::schedule::node::{Node, Value};

/// What a token may do; each scope allows what the ones before it allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Every GET.
    Read,
    /// Trigger and cancel runs.
    Run,
    /// Pause and resume jobs.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Run => "run",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token's value: compared, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// One entry of `api_tokens:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    /// Recorded on each run it makes, as `by: "token:NAME"`.
    pub name: String,
    pub scope: Scope,
    /// The value; why there is none (a variable not set, a file not readable) else.
    pub token: Result<Secret, String>,
}

/// Reads `api_tokens:` from its node as written, before `${VAR}` expansion, so that a
/// literal value can be told from one the environment gives; `expand` expands one string.
pub fn read(
    report: &mut Report,
    node: &Node,
    expand: &dyn Fn(&str) -> Result<String, String>,
) -> Vec<ApiToken> {
    let Value::Seq(items) = &node.value else {
        report.error(
            node.at,
            "api_tokens must be a list of {name, scope, token} entries",
        );
        return Vec::new();
    };
    let mut tokens: Vec<ApiToken> = Vec::new();
    for item in items {
        let Some(token) = read_one(report, item, expand) else {
            continue;
        };
        if tokens.iter().any(|t| t.name == token.name) {
            report.error(
                item.at,
                format!("a second api token named `{}`", token.name),
            );
        } else if let Some(same) = tokens
            .iter()
            .find(|t| t.token.is_ok() && t.token == token.token)
        {
            report.error(
                item.at,
                format!(
                    "api token `{}` has the same value as `{}`; give each its own",
                    token.name, same.name
                ),
            );
        } else {
            tokens.push(token);
        }
    }
    tokens
}

fn read_one(
    report: &mut Report,
    item: &Node,
    expand: &dyn Fn(&str) -> Result<String, String>,
) -> Option<ApiToken> {
    const KEYS: &[&str] = &["name", "scope", "token", "token_file"];
    let (mut name, mut scope, mut token) = (None, None, None);
    let mut saw_value = false;
    for (key, value) in report.entries(item, "an api token", KEYS) {
        match key.name.as_str() {
            "name" => name = report.read(value, Node::string),
            "scope" => {
                scope = report.read(value, |n| {
                    n.choice(&[
                        ("read", Scope::Read),
                        ("run", Scope::Run),
                        ("admin", Scope::Admin),
                    ])
                })
            }
            "token" if saw_value => report.error(key.at, "give token or token_file, not both"),
            "token_file" if saw_value => report.error(key.at, "give token or token_file, not both"),
            "token" => {
                saw_value = true;
                token = report.read(value, |n| from_env(n, expand));
            }
            _ => {
                saw_value = true;
                token = Some(from_file(value));
            }
        }
    }
    let (Some(name), Some(scope)) = (name, scope) else {
        report.error(
            item.at,
            "an api token needs a name and a scope: read, run or admin",
        );
        return None;
    };
    if !saw_value {
        report.error(
            item.at,
            format!("api token `{name}` needs token: \"${{VAR}}\" or token_file: PATH"),
        );
    }
    Some(ApiToken {
        name,
        scope,
        token: token?,
    })
}

/// `token: "${VAR}"`: the value the environment gives, or why there is none; a
/// literal is refused (the outer error).
fn from_env(
    node: &Node,
    expand: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Result<Secret, String>, String> {
    let written = node.string()?;
    if !written.contains("${") {
        return Err(
            "an api token is never written in the settings file, which lives in git; give it as \"${VAR}\" from the environment or as token_file: PATH".into(),
        );
    }
    Ok(
        expand(&written).and_then(|value| match value.trim().is_empty() {
            true => Err(format!("the api token from `{written}` is empty")),
            false => Ok(Secret(value)),
        }),
    )
}

/// `token_file: PATH`: the file's text, without the line end an editor adds.
fn from_file(node: &Node) -> Result<Secret, String> {
    let path = node.string().map_err(|e| format!("token_file: {e}"))?;
    let text = std::fs::read_to_string(Path::new(&path))
        .map_err(|error| format!("cannot read the api token file {path}: {error}"))?;
    let value = text.trim_end_matches(['\n', '\r']);
    if value.trim().is_empty() {
        return Err(format!("the api token file {path} is empty"));
    }
    Ok(Secret(value.to_string()))
}
