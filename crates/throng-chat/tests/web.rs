//! The embedded web client: served at `/`, `/app.js`, `/style.css` with their content
//! types, self-contained (no external URLs), talking to `/ws` on the same host; and the
//! room directory it shows, `GET /rooms`, only with `--room-directory`. The
//! browser-driven tests are `tests/browser.rs`.

mod support;

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use clap::Parser;
use support::config;
use tower::ServiceExt;

async fn get(path: &str) -> (StatusCode, String, String) {
    get_with(config(), path).await
}

async fn get_with(cfg: throng_chat::Config, path: &str) -> (StatusCode, String, String) {
    let router = throng_chat::http::router(throng_chat::App::new(cfg));
    let resp = router
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, ctype, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_their_content_types() {
    let (status, ctype, body) = get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "text/html; charset=utf-8");
    assert!(body.contains(r#"<script src="/app.js">"#));
    assert!(body.contains(r#"href="/style.css""#));

    let (status, ctype, body) = get("/app.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "text/javascript; charset=utf-8");
    assert_eq!(body, throng_chat::web::APP_JS);

    let (status, ctype, _) = get("/style.css").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "text/css; charset=utf-8");
}

#[tokio::test]
async fn the_client_works_offline_and_uses_the_same_host() {
    use throng_chat::web::{APP_JS, INDEX_HTML, STYLE_CSS};
    for (name, text) in [
        ("index.html", INDEX_HTML),
        ("app.js", APP_JS),
        ("style.css", STYLE_CSS),
    ] {
        assert!(
            !text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"),
            "{name} refers to another host"
        );
    }
    assert!(APP_JS.contains(r#"location.host + "/ws""#));
}

#[tokio::test]
async fn every_form_field_has_a_label_and_state_changes_are_announced() {
    let html = throng_chat::web::INDEX_HTML;
    for id in ["name", "room", "text"] {
        assert!(
            html.contains(&format!(r#"<label for="{id}""#)),
            "no label for #{id}"
        );
        assert!(html.contains(&format!(r#"id="{id}""#)), "no #{id}");
    }
    assert!(html.contains(r#"id="status" class="status" role="status" aria-live="polite""#));
    assert!(html.contains(r#"role="log""#));
    assert!(html.contains(r#"name="viewport""#));
}

#[tokio::test]
async fn the_room_directory_is_off_unless_the_server_offers_it() {
    let (status, _, _) = get("/rooms").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let mut cfg = config();
    cfg.room_directory = true;
    let (status, ctype, body) = get_with(cfg, "/rooms").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "application/json");
    assert_eq!(body, r#"{"rooms":[]}"#);

    let cfg = throng_chat::Config::parse_from(["throng-chat", "--room-directory"]);
    assert!(cfg.room_directory);
    assert!(!throng_chat::Config::parse_from(["throng-chat"]).room_directory);
}

#[tokio::test]
async fn the_message_box_is_a_labelled_textarea_that_says_how_to_send() {
    let html = throng_chat::web::INDEX_HTML;
    assert!(html.contains(r#"<textarea id="text""#));
    assert!(html.contains(r#"aria-describedby="text-help""#));
    assert!(html.contains("Shift+Enter"));
}
