//! Who calls: the bearer token of `Authorization: Bearer TOKEN`, matched against
//! `api_tokens` in constant time, and the scope it gives.
//!
//! With tokens configured every request under `/api/` needs one (401 without a valid
//! one), and a token whose scope is short gets 403. With none configured the API is
//! read-only: every GET is answered and every write refused with 403; the server then
//! listens on loopback only (`server::bind`). The token's value is never logged.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::error::ApiError;
use super::state::Api;
use crate::settings::Scope;

/// The caller of a request, once its token (if any) was checked.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The token's name; `None` when no tokens are configured.
    pub name: Option<String>,
    pub scope: Scope,
}

impl Caller {
    /// 403 unless the caller's scope allows `need`.
    pub fn need(&self, need: Scope) -> Result<(), ApiError> {
        if self.scope >= need {
            return Ok(());
        }
        let message = match &self.name {
            None => "this API is read-only: no api_tokens are configured in the settings".into(),
            Some(name) => format!(
                "token `{name}` has scope {}; this needs scope {need}",
                self.scope
            ),
        };
        Err(ApiError::new(StatusCode::FORBIDDEN, message))
    }

    /// What a run it asks for records as `by`.
    pub fn by(&self) -> String {
        match &self.name {
            Some(name) => format!("token:{name}"),
            None => "token:-".into(),
        }
    }
}

impl FromRequestParts<Arc<Api>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Arc<Api>) -> Result<Caller, ApiError> {
        let tokens = &api.settings.api_tokens;
        if tokens.is_empty() {
            return Ok(Caller {
                name: None,
                scope: Scope::Read,
            });
        }
        let unauthorized = |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, message);
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                unauthorized("this API needs a token: send Authorization: Bearer TOKEN")
            })?;
        let given = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthorized("the Authorization header must be Bearer TOKEN"))?;
        // Every token is compared, whichever matches, so the time taken says nothing.
        let mut found = None;
        for token in tokens {
            let Ok(value) = &token.token else { continue };
            if same(given.as_bytes(), value.expose().as_bytes()) {
                found = Some(token);
            }
        }
        let token = found.ok_or_else(|| unauthorized("the token is not one of api_tokens"))?;
        Ok(Caller {
            name: Some(token.name.clone()),
            scope: token.scope,
        })
    }
}

/// Whether `a` and `b` are equal, in a time that depends on their lengths alone.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    let mut differ = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        differ |= usize::from(x ^ y);
    }
    differ == 0
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn tokens_are_equal_only_byte_for_byte() {
        assert!(same(b"s3cret-token", b"s3cret-token"));
        assert!(!same(b"s3cret-token", b"s3cret-tokem"));
        assert!(!same(b"s3cret", b"s3cret-token"));
        assert!(!same(b"", b"x"));
        assert!(same(b"", b""));
    }
}
