//! The web client: `static/index.html`, `app.js` and `style.css`, embedded in the binary
//! (no CDN, no build step) and served at `GET /`, `/app.js`, `/style.css`.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// The page.
pub const INDEX_HTML: &str = include_str!("../static/index.html");
/// The client logic (plain JS).
pub const APP_JS: &str = include_str!("../static/app.js");
/// The styles.
pub const STYLE_CSS: &str = include_str!("../static/style.css");

/// The routes for the client's three files, each with its content type.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| file("text/html; charset=utf-8", INDEX_HTML)))
        .route(
            "/app.js",
            get(|| file("text/javascript; charset=utf-8", APP_JS)),
        )
        .route(
            "/style.css",
            get(|| file("text/css; charset=utf-8", STYLE_CSS)),
        )
}

async fn file(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // Served from the binary: revalidate so an upgraded server's client is used.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
