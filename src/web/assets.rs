//! The one stylesheet and the one script, built into the binary: no CDN, no network,
//! no build step.

use axum::http::header;
use axum::response::IntoResponse;

const CSS: &str = include_str!("dashboard.css");
const JS: &str = include_str!("dashboard.js");

pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        CSS,
    )
}

pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        JS,
    )
}
