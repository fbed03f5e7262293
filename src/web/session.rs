//! Who looks at the dashboard: with no `api_tokens` configured everyone on the
//! loopback address, read-only; with tokens, whoever logged in with one. A login makes a
//! session, kept in memory and named by a random cookie that is `HttpOnly`,
//! `SameSite=Strict`, and `Secure` behind TLS; the token itself never reaches a cookie.
//!
//! Every form that changes something carries the session's CSRF token, and its Origin
//! (or Referer) must name the host it was posted to.

use std::collections::HashMap;
use std::io::Read as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::{Dashboard, PageError};
use crate::http::auth::{Caller, same};
use crate::settings::{ApiToken, Scope};

/// The cookie that names a session.
pub const COOKIE: &str = "cronq_session";
/// How long a session lasts without a new login.
const SESSION_FOR: Duration = Duration::from_secs(12 * 3600);

/// One logged-in browser.
#[derive(Clone)]
struct Session {
    token: String,
    scope: Scope,
    csrf: String,
    until: Instant,
}

/// The sessions of this process; a restart asks everyone to log in again.
#[derive(Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// A new session for `token`: its id, for the cookie.
    pub fn open(&self, token: &ApiToken) -> String {
        let id = random_hex();
        let session = Session {
            token: token.name.clone(),
            scope: token.scope,
            csrf: random_hex(),
            until: Instant::now() + SESSION_FOR,
        };
        let mut sessions = self
            .by_id
            .lock()
            .expect("no request panics holding sessions");
        let now = Instant::now();
        sessions.retain(|_, s| s.until > now);
        sessions.insert(id.clone(), session);
        id
    }

    pub fn close(&self, id: &str) {
        self.by_id
            .lock()
            .expect("no request panics holding sessions")
            .remove(id);
    }

    fn get(&self, id: &str) -> Option<Session> {
        let sessions = self
            .by_id
            .lock()
            .expect("no request panics holding sessions");
        sessions
            .get(id)
            .filter(|s| s.until > Instant::now())
            .cloned()
    }
}

/// The viewer of a page: who, with which scope, and the CSRF token its forms carry.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub caller: Caller,
    /// The session's id and CSRF token; `None` without tokens configured.
    session: Option<(String, String)>,
}

impl Viewer {
    /// Whether buttons that need `scope` are shown.
    pub fn may(&self, scope: Scope) -> bool {
        self.session.is_some() && self.caller.scope >= scope
    }

    pub fn csrf(&self) -> &str {
        self.session.as_ref().map_or("", |(_, csrf)| csrf.as_str())
    }

    /// A form post that changes something: the caller's scope allows `need`, the form
    /// carries this session's CSRF token, and it came from a page of this host.
    pub fn check_post(
        &self,
        need: Scope,
        csrf: &str,
        headers: &HeaderMap,
    ) -> Result<(), PageError> {
        let refuse = |text: &str| PageError::new(StatusCode::FORBIDDEN, text);
        let Some((_, expected)) = &self.session else {
            return Err(refuse(
                "the dashboard is read-only: no api_tokens are configured in the settings",
            ));
        };
        if !same_origin(headers) {
            return Err(refuse(
                "this form was posted from another site's page; post it from the dashboard",
            ));
        }
        if !same(csrf.as_bytes(), expected.as_bytes()) || csrf.is_empty() {
            return Err(refuse(
                "the form's CSRF token is not this session's; reload the page and try again",
            ));
        }
        if self.caller.scope < need {
            return Err(refuse(&format!(
                "token `{}` has scope {}; this needs scope {need}",
                self.caller.name.as_deref().unwrap_or("-"),
                self.caller.scope
            )));
        }
        Ok(())
    }
}

impl FromRequestParts<Arc<Dashboard>> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        dashboard: &Arc<Dashboard>,
    ) -> Result<Viewer, Response> {
        if dashboard.api.settings.api_tokens.is_empty() {
            return Ok(Viewer {
                caller: Caller {
                    name: None,
                    scope: Scope::Read,
                },
                session: None,
            });
        }
        let found = cookie(&parts.headers, COOKIE).and_then(|id| {
            let session = dashboard.sessions.get(&id)?;
            Some((id, session))
        });
        match found {
            Some((id, session)) => Ok(Viewer {
                caller: Caller {
                    name: Some(session.token),
                    scope: session.scope,
                },
                session: Some((id, session.csrf)),
            }),
            None => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_string();
                let to = format!("/login?next={}", percent_encode(&next));
                Err(Redirect::to(&to).into_response())
            }
        }
    }
}

/// The token among `tokens` whose value is `given`, compared in constant time.
pub fn token_of<'a>(tokens: &'a [ApiToken], given: &str) -> Option<&'a ApiToken> {
    let mut found = None;
    for token in tokens {
        let Ok(value) = &token.token else { continue };
        if same(given.trim().as_bytes(), value.expose().as_bytes()) {
            found = Some(token);
        }
    }
    found
}

/// The `Set-Cookie` value of a new session; `Secure` when the request came over TLS
/// (a proxy in front says so with `X-Forwarded-Proto: https`).
pub fn set_cookie(id: &str, headers: &HeaderMap) -> String {
    let secure = if behind_tls(headers) { "; Secure" } else { "" };
    format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        SESSION_FOR.as_secs()
    )
}

/// The `Set-Cookie` value that ends a session in the browser.
pub fn clear_cookie(headers: &HeaderMap) -> String {
    let secure = if behind_tls(headers) { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

fn behind_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// Whether the Origin (else the Referer) names the Host the request was sent to. A
/// browser sends one of them with every cross-site form post, so a post with neither
/// comes from no page at all (a script of the operator's own) and passes.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match (from, host) {
        (None, _) => true,
        (Some(from), Some(host)) => {
            let rest = from
                .strip_prefix("https://")
                .or_else(|| from.strip_prefix("http://"))
                .unwrap_or("");
            let named = rest.split('/').next().unwrap_or("");
            named.eq_ignore_ascii_case(host)
        }
        (Some(_), None) => false,
    }
}

/// A cookie's value from the `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

/// 32 random bytes as hex, from the kernel.
fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("/dev/urandom can be read on every Unix");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `text` safe inside a query value.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Where to go after login: a path of this site only, never another host.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_string()
        }
        _ => "/".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn a_post_from_another_site_is_not_same_origin() {
        let ours = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert!(same_origin(&ours));
        let theirs = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ]);
        assert!(!same_origin(&theirs));
        let lookalike = headers(&[
            ("host", "127.0.0.1:8080"),
            ("referer", "http://127.0.0.1:8080.evil.example/x"),
        ]);
        assert!(!same_origin(&lookalike));
        let null = headers(&[("host", "127.0.0.1:8080"), ("origin", "null")]);
        assert!(!same_origin(&null));
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_behind_tls() {
        let plain = set_cookie("abc", &HeaderMap::new());
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(!plain.contains("Secure"));
        let tls = set_cookie("abc", &headers(&[("x-forwarded-proto", "https")]));
        assert!(tls.ends_with("; Secure"));
    }

    #[test]
    fn login_sends_only_to_a_path_of_this_site() {
        assert_eq!(local_path(Some("/runs/X?a=1")), "/runs/X?a=1");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn a_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; cronq_session=xyz; b=2")]);
        assert_eq!(cookie(&h, COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&headers(&[]), COOKIE), None);
    }
}
