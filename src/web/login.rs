//! `/login` and `/logout`: a form that takes a token and makes a session of it, and
//! the button that ends it. Without `api_tokens` there is nothing to log in with: the
//! dashboard is read-only for everyone on the loopback address.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use super::Dashboard;
use super::session::{COOKIE, clear_cookie, local_path, same_origin, set_cookie, token_of};

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    #[allow(dead_code)] // the session ends whatever it says: logging out harms no one
    csrf: String,
}

fn login_page(next: &str, problem: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { "Log in · cronq" }
                link rel="stylesheet" href="/assets/dashboard.css";
            }
            body {
                main id="main" class="login" {
                    h1 { "cronq" }
                    @if let Some(problem) = problem {
                        p.problem role="alert" { (problem) }
                    }
                    form method="post" action="/login" {
                        input type="hidden" name="next" value=(next);
                        label for="token" { "API token" }
                        input id="token" type="password" name="token" autocomplete="current-password" required autofocus;
                        button type="submit" { "Log in" }
                    }
                    p.muted { "One of the api_tokens of the settings. Its scope decides which buttons you get." }
                }
            }
        }
    }
}

pub async fn form(
    State(dashboard): State<Arc<Dashboard>>,
    Query(query): Query<NextQuery>,
) -> Response {
    if dashboard.api.settings.api_tokens.is_empty() {
        return Redirect::to("/").into_response();
    }
    login_page(&local_path(query.next.as_deref()), None).into_response()
}

pub async fn login(
    State(dashboard): State<Arc<Dashboard>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = local_path(form.next.as_deref());
    let tokens = &dashboard.api.settings.api_tokens;
    if tokens.is_empty() {
        return Redirect::to("/").into_response();
    }
    if !same_origin(&headers) {
        let page = login_page(
            &next,
            Some("This login was posted from another site's page."),
        );
        return (StatusCode::FORBIDDEN, page).into_response();
    }
    let Some(token) = token_of(tokens, &form.token) else {
        tracing::info!("a dashboard login with a token that is not one of api_tokens");
        let page = login_page(
            &next,
            Some("That token is not one of the api_tokens of the settings."),
        );
        return (StatusCode::UNAUTHORIZED, page).into_response();
    };
    let id = dashboard.sessions.open(token);
    tracing::info!(token = %token.name, "logged in to the dashboard");
    (
        [(header::SET_COOKIE, set_cookie(&id, &headers))],
        Redirect::to(&next),
    )
        .into_response()
}

pub async fn logout(
    State(dashboard): State<Arc<Dashboard>>,
    headers: HeaderMap,
    Form(_form): Form<LogoutForm>,
) -> Response {
    let id = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == COOKIE)
        .map(|(_, value)| value.to_string());
    if let Some(id) = id {
        dashboard.sessions.close(&id);
    }
    (
        [(header::SET_COOKIE, clear_cookie(&headers))],
        Redirect::to("/login"),
    )
        .into_response()
}
