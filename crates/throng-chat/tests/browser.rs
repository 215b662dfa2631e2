//! The web client in a real browser: two headless Chromium sessions, driven over
//! WebDriver (chromedriver) with fantoccini, join a room, see each other, post and
//! receive, then live through a server restart on the same address: both pages show that
//! they are reconnecting, reconnect on their own (one of them while another client holds
//! its name, so it retries), re-join, and show the messages posted while they were away,
//! in order, with no gap (the new server's `joined.history` holds only two, so the pages
//! fetch the rest with `history`). A screenshot is saved to `target/browser-chat.png`.
//! A second test pages back through history with "Load older", switches rooms and
//! leaves one. The others each cover one behaviour of the page: links (and hostile text
//! that must stay text), multi-line messages, date separators, unread counts, rooms kept
//! across a reload, the room directory, and the layout on a phone.
//!
//! Screenshots of those go to `target/screenshots/`; with `THRONG_UPDATE_SCREENSHOTS=1`
//! also to `tests/screenshots/` (committed, shown in the README), so an ordinary run
//! leaves the source tree alone.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium
//! chromium-driver`; `.ci/run` installs them). Without them the test prints
//! `skipped: no chromium/chromedriver` and passes, unless `THRONG_REQUIRE_BROWSER=1`
//! (set by `.ci/run`), where a missing browser fails it. `THRONG_CHROMIUM` and
//! `THRONG_CHROMEDRIVER` override the paths.
//!
//! Waits poll the page until a condition holds, with a generous deadline: a browser runs
//! in real time, and the deadline only bounds a failure, it asserts no speed.

#[path = "support/redis.rs"]
mod redis_server;
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use support::{config, start};
use throng_chat::Server;
use tokio::process::{Child, Command};

/// How long a page may take to reach a state before the test fails.
const DEADLINE: Duration = Duration::from_secs(30);

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// The first of `names` found on `PATH` (or the path in `var`).
fn find_program(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// chromedriver on a free port, in its own process group: stopping it (or dropping it,
/// on a panic) kills the group, so the browsers it started go with it.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
    }
}

impl Driver {
    async fn start(path: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let until = Instant::now() + DEADLINE;
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(
                Instant::now() < until,
                "chromedriver did not listen on {addr}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Driver {
            child,
            url: format!("http://{addr}"),
        }
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await; // and Drop kills what is left of the group
    }
}

/// A headless Chromium session; with `phone`, Chromium's mobile emulation at that
/// viewport (CSS pixels, pixel ratio 1).
async fn browser(driver: &Driver, chromium: &Path, phone: Option<(u32, u32)>) -> Client {
    let mut caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--window-size=900,700",
            ],
        },
    });
    if let Some((width, height)) = phone {
        caps["goog:chromeOptions"]["mobileEmulation"] = json!({
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0, "touch": true},
        });
    }
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session")
}

/// Runs `script` (a function body returning a value) in the page until `ok` holds for
/// its result, returning it; on the deadline saves a screenshot and fails.
async fn wait_until(page: &Client, what: &str, script: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + DEADLINE;
    loop {
        let v = page.execute(script, vec![]).await.expect("script runs");
        if ok(&v) {
            return v;
        }
        if Instant::now() > until {
            let shot = target_dir().join("browser-chat-failure.png");
            if let Ok(png) = page.screenshot().await {
                let _ = std::fs::write(&shot, png);
            }
            panic!("timed out waiting for {what}; last: {v}; screenshot {shot:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const STATUS: &str = "const s = document.getElementById('status'); \
                      return [s.dataset.state, s.textContent];";
/// `[seq, from, text]` for each message shown, in page order.
const MESSAGES: &str = "return Array.from(document.querySelectorAll('#log li.msg')).map(\
                        li => [Number(li.dataset.seq), li.dataset.from, \
                        li.querySelector('.text').textContent]);";
const MEMBERS: &str = "return Array.from(document.querySelectorAll('#members li'))\
                       .map(li => li.dataset.member);";

async fn status_is(page: &Client, state: &str) -> Value {
    wait_until(page, &format!("status {state}"), STATUS, |v| v[0] == state).await
}

/// The texts shown, once they are exactly `want`.
async fn messages_are(page: &Client, want: &[&str]) -> Vec<(u64, String, String)> {
    let v = wait_until(page, &format!("messages {want:?}"), MESSAGES, |v| {
        let texts: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m[2].as_str().unwrap())
            .collect();
        texts == want
    })
    .await;
    serde_json::from_value(v).unwrap()
}

async fn members_include(page: &Client, names: &[&str]) {
    wait_until(page, &format!("members {names:?}"), MEMBERS, |v| {
        let have: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m.as_str())
            .collect();
        names.iter().all(|n| have.contains(n))
    })
    .await;
}

/// Types into the field `id` with the keyboard and presses Enter.
async fn type_enter(page: &Client, id: &str, text: &str) {
    let field = page.find(Locator::Id(id)).await.expect("field");
    field
        .send_keys(&(text.to_owned() + &Key::Enter))
        .await
        .unwrap();
}

async fn login(page: &Client, server: SocketAddr, name: &str) {
    page.goto(&format!("http://{server}/")).await.unwrap();
    type_enter(page, "name", name).await;
    status_is(page, "connected").await;
}

async fn login_and_join(page: &Client, server: SocketAddr, name: &str, room: &str) {
    login(page, server, name).await;
    type_enter(page, "room", room).await;
    let title = format!("#{room}");
    wait_until(
        page,
        "room title",
        "return document.getElementById('room-title').textContent;",
        |v| v == title.as_str(),
    )
    .await;
}

/// Messages numbered 1, 2, 3, … with no gap.
fn assert_contiguous(msgs: &[(u64, String, String)]) {
    let seqs: Vec<u64> = msgs.iter().map(|m| m.0).collect();
    let want: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, want, "a gap or a repeat in {msgs:?}");
}

/// Paths to chromium and chromedriver; `None` (after saying so) when the test should
/// skip; a panic when one is missing under `THRONG_REQUIRE_BROWSER=1`.
fn browser_programs() -> Option<(PathBuf, PathBuf)> {
    let chromium = find_program(
        "THRONG_CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    );
    let chromedriver = find_program("THRONG_CHROMEDRIVER", &["chromedriver"]);
    match (chromium, chromedriver) {
        (Some(chromium), Some(chromedriver)) => Some((chromium, chromedriver)),
        _ => {
            assert_ne!(
                std::env::var("THRONG_REQUIRE_BROWSER").as_deref(),
                Ok("1"),
                "THRONG_REQUIRE_BROWSER=1 but chromium or chromedriver is not installed"
            );
            println!("skipped: no chromium/chromedriver");
            None
        }
    }
}

/// Runs `scenario` with `n` browser sessions; closes them and chromedriver whatever it
/// does (it runs as its own task, so a panic in it comes back here first).
async fn with_browsers<F, Fut>(n: usize, scenario: F)
where
    F: FnOnce(Vec<Client>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    with_sessions(n, None, scenario).await;
}

/// [`with_browsers`], each session emulating a phone with this viewport when `phone`.
async fn with_sessions<F, Fut>(n: usize, phone: Option<(u32, u32)>, scenario: F)
where
    F: FnOnce(Vec<Client>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let Some((chromium, chromedriver)) = browser_programs() else {
        return;
    };
    let driver = Driver::start(&chromedriver).await;
    let mut pages = Vec::new();
    for _ in 0..n {
        pages.push(browser(&driver, &chromium, phone).await);
    }
    let outcome = tokio::spawn(scenario(pages.clone())).await;
    for page in pages {
        let _ = page.close().await;
    }
    driver.stop().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_join_post_receive_and_recover_from_a_server_restart() {
    with_browsers(2, |pages| async move {
        let [alice, bob] = <[Client; 2]>::try_from(pages).unwrap();
        restart_scenario(alice, bob).await;
    })
    .await;
}

async fn restart_scenario(alice: Client, bob: Client) {
    // Durable history, so `seq` continues across the restart.
    let data_dir = std::env::temp_dir().join(format!("throng-chat-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let durable = || {
        let mut cfg = config();
        cfg.memory = false;
        cfg.data_dir = data_dir.clone();
        cfg
    };
    let server = start(durable()).await;
    let addr = server.addr;

    // Join, presence, post (Enter in the message box), receive.
    login_and_join(&alice, addr, "alice", "lobby").await;
    login_and_join(&bob, addr, "bob", "lobby").await;
    members_include(&alice, &["alice", "bob"]).await;
    members_include(&bob, &["alice", "bob"]).await;
    type_enter(&alice, "text", "hello from alice").await;
    type_enter(&bob, "text", "hi alice").await;
    let before = ["hello from alice", "hi alice"];
    for page in [&alice, &bob] {
        assert_contiguous(&messages_are(page, &before).await);
    }

    // Restart on the same address. Both pages are told (`bye`, close 1001) and show it.
    server.shutdown().await.unwrap();
    for page in [&alice, &bob] {
        status_is(page, "reconnecting").await;
    }
    let mut cfg = durable();
    cfg.listen = addr;
    // joined.history holds only the last two messages: the pages must ask for the rest.
    cfg.join_history = 2;
    let server: Server = start(cfg).await;

    // Hold bob's name, as his old connection would if it were not gone yet: his page
    // gets `name_taken` and retries. (His page could, rarely, win the race for the name
    // first; then he receives the posts below live instead of through history.)
    let ghost = {
        let mut c = support::Client::connect(&server).await;
        c.send(json!({"type": "hello", "name": "bob"})).await;
        let reply = c.recv().await;
        (reply["type"] == "welcome").then_some(c)
    };
    // Another client posts while bob's page is reconnecting.
    let mut carol = support::Client::login(&server, "carol").await;
    carol.join("lobby").await;
    let away = [
        "while you were away 1",
        "while you were away 2",
        "while you were away 3",
    ];
    for text in away {
        carol
            .send(json!({"type": "post", "room": "lobby", "text": text}))
            .await;
        carol.recv_type("message").await;
    }
    if let Some(mut ghost) = ghost {
        wait_until(&bob, "bob's name retry", STATUS, |v| {
            v[0] == "reconnecting" && v[1].as_str().unwrap().contains("name still held")
        })
        .await;
        ghost.ws.close(None).await.unwrap();
        println!("bob's page retried while another client held his name");
    } else {
        println!("bob's page took his name back before the test could hold it");
    }

    // Both pages reconnect on their own, re-join and catch up.
    for page in [&alice, &bob] {
        status_is(page, "connected").await;
    }
    members_include(&alice, &["alice", "bob", "carol"]).await;
    members_include(&bob, &["alice", "bob", "carol"]).await;
    type_enter(&bob, "text", "back again").await;
    let all: Vec<&str> = before
        .iter()
        .chain(&away)
        .chain(&["back again"])
        .copied()
        .collect();
    for page in [&alice, &bob] {
        let msgs = messages_are(page, &all).await;
        // History is durable: `seq` continued across the restart, and the page shows one
        // gap-free sequence, the messages posted while it was away included.
        assert_contiguous(&msgs);
        assert_eq!(msgs.first().map(|m| m.0), Some(1));
    }

    let png = bob.screenshot().await.expect("screenshot");
    std::fs::create_dir_all(target_dir()).unwrap();
    let shot = target_dir()
        .canonicalize()
        .unwrap()
        .join("browser-chat.png");
    std::fs::write(&shot, png).expect("screenshot saved");
    println!("screenshot: {}", shot.display());
    // And at a phone's width (one column).
    bob.set_window_size(390, 844).await.unwrap();
    let png = bob.screenshot().await.expect("screenshot");
    std::fs::write(shot.with_file_name("browser-chat-phone.png"), png).unwrap();

    drop(carol);
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_scrolls_back_through_history_switches_rooms_and_leaves() {
    with_browsers(1, |pages| {
        history_rooms_scenario(pages.into_iter().next().unwrap())
    })
    .await;
}

const ROOM_TITLE: &str = "return document.getElementById('room-title').textContent;";
const ROOM_LIST: &str = "return Array.from(document.querySelectorAll('#rooms button'))\
                         .map(b => b.dataset.room);";

async fn shows_room(page: &Client, room: &str) {
    let title = format!("#{room}");
    wait_until(page, &title, ROOM_TITLE, |v| v == title.as_str()).await;
}

async fn click(page: &Client, css: &str) {
    page.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The next `presence` frame for `room`, as `(user, event)`.
async fn presence(c: &mut support::Client, room: &str) -> (String, String) {
    loop {
        let p = c.recv_type("presence").await;
        if p["room"] == room {
            return (
                p["user"].as_str().unwrap().to_owned(),
                p["event"].as_str().unwrap().to_owned(),
            );
        }
    }
}

async fn history_rooms_scenario(page: Client) {
    let mut cfg = config();
    cfg.join_history = 5;
    cfg.post_burst = 100;
    let server = start(cfg).await;
    let mut carol = support::Client::login(&server, "carol").await;
    carol.join("lobby").await;
    carol.join("dev").await;
    let texts: Vec<String> = (1..=57).map(|i| format!("old {i}")).collect();
    for text in &texts {
        carol
            .send(json!({"type": "post", "room": "lobby", "text": text}))
            .await;
        carol.recv_type("message").await;
    }
    let from = |seq: usize| -> Vec<&str> { texts[seq - 1..].iter().map(String::as_str).collect() };

    // Joining shows the last five; "Load older" pages back 50 at a time, then hides.
    login_and_join(&page, server.addr, "dave", "lobby").await;
    messages_are(&page, &from(53)).await;
    click(&page, "#older").await;
    messages_are(&page, &from(3)).await;
    click(&page, "#older").await;
    assert_contiguous(&messages_are(&page, &from(1)).await);
    let older_hidden = "return document.getElementById('older').hidden;";
    wait_until(&page, "no older messages", older_hidden, |v| v == true).await;

    // A second room; the room list switches between them.
    type_enter(&page, "room", "dev").await;
    shows_room(&page, "dev").await;
    members_include(&page, &["carol", "dave"]).await;
    assert_eq!(
        presence(&mut carol, "dev").await,
        ("dave".into(), "join".into())
    );
    click(&page, "button.room-btn[data-room='lobby']").await;
    shows_room(&page, "lobby").await;
    click(&page, "button.room-btn[data-room='dev']").await;
    shows_room(&page, "dev").await;

    // Leave: the others are told, the room goes from the list.
    click(&page, "#leave").await;
    assert_eq!(
        presence(&mut carol, "dev").await,
        ("dave".into(), "leave".into())
    );
    wait_until(&page, "only lobby listed", ROOM_LIST, |v| {
        v == &json!(["lobby"])
    })
    .await;
    shows_room(&page, "lobby").await;

    drop(carol);
    server.shutdown().await.unwrap();
}

/// Saves a screenshot as `target/screenshots/<name>`, and as `tests/screenshots/<name>`
/// under `THRONG_UPDATE_SCREENSHOTS=1`.
async fn screenshot(page: &Client, name: &str) {
    let png = page.screenshot().await.expect("screenshot");
    let mut dirs = vec![target_dir().join("screenshots")];
    if std::env::var("THRONG_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/screenshots"));
    }
    for dir in dirs {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), &png).expect("screenshot saved");
    }
}

/// Posts `text` as `c` in `room` and waits for it to come back.
async fn post(c: &mut support::Client, room: &str, text: &str) {
    c.send(json!({"type": "post", "room": room, "text": text}))
        .await;
    loop {
        let m = c.recv_type("message").await;
        if m["room"] == room && m["text"] == text {
            return;
        }
    }
}

/// One browser session against a fresh in-memory server where carol, a protocol client,
/// is in `rooms`.
async fn with_carol<F, Fut>(cfg: throng_chat::Config, rooms: &'static [&'static str], scenario: F)
where
    F: FnOnce(Client, Server, support::Client) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    with_carol_on(None, cfg, rooms, scenario).await;
}

/// [`with_carol`], the session emulating a phone with this viewport when `phone`.
async fn with_carol_on<F, Fut>(
    phone: Option<(u32, u32)>,
    cfg: throng_chat::Config,
    rooms: &'static [&'static str],
    scenario: F,
) where
    F: FnOnce(Client, Server, support::Client) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    with_sessions(1, phone, move |pages| async move {
        let page = pages.into_iter().next().unwrap();
        let server = start(cfg).await;
        let mut carol = support::Client::login(&server, "carol").await;
        for room in rooms {
            carol.join(room).await;
        }
        scenario(page, server, carol).await;
    })
    .await;
}

const LINKS: &str = "const log = document.getElementById('log'); return {\
    injected: log.querySelectorAll('img, script, b, iframe, svg').length,\
    pwned: window.pwned === undefined ? null : window.pwned,\
    links: Array.from(log.querySelectorAll('a')).map(a => \
        [a.getAttribute('href'), a.textContent, a.rel, a.target]),\
    texts: Array.from(log.querySelectorAll('li.msg .text')).map(t => t.textContent) };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_addresses_become_safe_links_and_markup_stays_text() {
    with_carol(config(), &["lobby"], |page, server, mut carol| async move {
        login_and_join(&page, server.addr, "dave", "lobby").await;
        // This server offers no room directory: the page does not show one.
        let directory = "const d = document.getElementById('directory-box'); \
                         return [d.dataset.state || '', d.hidden];";
        wait_until(&page, "no directory", directory, |v| {
            v == &json!(["off", true])
        })
        .await;

        let hostile = "<img src=x onerror=\"window.pwned=1;alert(1)\"> \
                       <script>window.pwned=2</script><b>bold?</b> javascript:alert(1) \
                       data:text/html,<svg onload=alert(1)> [x](javascript:alert(1)) \
                       JavaScript:alert(1)//https://evil.example/";
        let linked = "docs: https://example.com/a?b=1&c=2, and (http://example.org/wiki/X_(y)).";
        post(&mut carol, "lobby", hostile).await;
        post(&mut carol, "lobby", linked).await;
        post(&mut carol, "lobby", "after").await;
        messages_are(&page, &[hostile, linked, "after"]).await;

        let v = page.execute(LINKS, vec![]).await.unwrap();
        assert_eq!(
            v["injected"], 0,
            "markup from a message became elements: {v}"
        );
        assert_eq!(v["pwned"], Value::Null, "a message ran script: {v}");
        let rel = "noopener noreferrer nofollow";
        assert_eq!(
            v["links"],
            json!([
                [
                    "https://evil.example/",
                    "https://evil.example/",
                    rel,
                    "_blank"
                ],
                [
                    "https://example.com/a?b=1&c=2",
                    "https://example.com/a?b=1&c=2",
                    rel,
                    "_blank"
                ],
                [
                    "http://example.org/wiki/X_(y)",
                    "http://example.org/wiki/X_(y)",
                    rel,
                    "_blank"
                ],
            ]),
            "only http(s) addresses are links, without trailing punctuation"
        );
        // The text reads exactly as sent.
        assert_eq!(v["texts"], json!([hostile, linked, "after"]));
        assert!(
            page.get_alert_text().await.is_err(),
            "an alert is open: a message ran script"
        );
        screenshot(&page, "links.png").await;
        server.shutdown().await.unwrap();
    })
    .await;
}

const COMPOSER: &str = "const t = document.getElementById('text'); \
                        return [t.value, t.getBoundingClientRect().height];";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shift_enter_starts_a_new_line_and_enter_sends_the_message() {
    with_carol(config(), &["lobby"], |page, server, _carol| async move {
        login_and_join(&page, server.addr, "erin", "lobby").await;
        let one_line = page.execute(COMPOSER, vec![]).await.unwrap()[1]
            .as_f64()
            .unwrap();
        let field = page.find(Locator::Id("text")).await.unwrap();
        // Shift stays down until Null releases it (WebDriver's modifier keys).
        let newline = format!("{}{}{}", Key::Shift, Key::Enter, Key::Null);
        let typed = format!("first line{newline}second line{newline}  third, indented");
        field.send_keys(&typed).await.unwrap();
        let want = "first line\nsecond line\n  third, indented";
        let v = wait_until(&page, "three lines typed", COMPOSER, |v| v[0] == want).await;
        assert!(
            v[1].as_f64().unwrap() > one_line * 1.8,
            "the message box grows with its lines: {v} vs {one_line}"
        );
        field.send_keys(&Key::Enter.to_string()).await.unwrap();
        messages_are(&page, &[want]).await;
        let v = wait_until(&page, "an empty message box", COMPOSER, |v| v[0] == "").await;
        let height = v[1].as_f64().unwrap();
        assert!(
            (height - one_line).abs() < 2.0,
            "the box shrinks back: {v} vs {one_line}"
        );

        // Shown on three lines (rectangles at three heights), spaces kept.
        let shown = "const t = document.querySelector('#log li.msg .text'); \
                     return [getComputedStyle(t).whiteSpace, new Set(Array.from(t.getClientRects()).map(r => Math.round(r.top))).size];";
        let v = page.execute(shown, vec![]).await.unwrap();
        assert_eq!(v, json!(["pre-wrap", 3]));

        // A draft on two lines, for the screenshot.
        field
            .send_keys(&format!("a draft{newline}on two lines"))
            .await
            .unwrap();
        wait_until(&page, "the draft", COMPOSER, |v| {
            v[0] == "a draft\non two lines"
        })
        .await;
        screenshot(&page, "multiline.png").await;
        server.shutdown().await.unwrap();
    })
    .await;
}

/// The log's items: `day:<YYYY-MM-DD>` for a date separator, the text for a message.
const LOG_ITEMS: &str = "return Array.from(document.querySelectorAll('#log li.day, #log li.msg'))\
     .map(li => li.classList.contains('day') ? 'day:' + li.dataset.day \
          : li.querySelector('.text').textContent);";
const MESSAGE_DAYS: &str = "return Array.from(document.querySelectorAll('#log li.msg time'))\
     .map(t => { const d = new Date(t.dateTime); \
          return d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') \
                 + '-' + String(d.getDate()).padStart(2, '0'); });";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_from_different_days_are_separated_by_their_date() {
    with_browsers(1, |pages| days_scenario(pages.into_iter().next().unwrap())).await;
}

async fn days_scenario(page: Client) {
    // Messages posted now, then moved back in time in the database while the server is
    // stopped: four days ago, two days ago, today.
    let data_dir = std::env::temp_dir().join(format!("throng-chat-days-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let durable = || {
        let mut cfg = config();
        cfg.memory = false;
        cfg.data_dir = data_dir.clone();
        cfg
    };
    let server = start(durable()).await;
    let mut carol = support::Client::login(&server, "carol").await;
    carol.join("lobby").await;
    for text in ["four days ago", "two days ago", "today"] {
        post(&mut carol, "lobby", text).await;
    }
    drop(carol);
    server.shutdown().await.unwrap();
    {
        let db = rusqlite::Connection::open(data_dir.join("history.sqlite3")).unwrap();
        const DAY_MS: i64 = 24 * 3600 * 1000;
        for (seq, days) in [(1, 4), (2, 2)] {
            let n = db
                .execute(
                    "UPDATE messages SET ts = ts - ?1 WHERE room = 'lobby' AND seq = ?2",
                    (days * DAY_MS, seq),
                )
                .unwrap();
            assert_eq!(n, 1);
        }
    }
    let server = start(durable()).await;
    login_and_join(&page, server.addr, "fay", "lobby").await;
    messages_are(&page, &["four days ago", "two days ago", "today"]).await;
    let days: Vec<String> =
        serde_json::from_value(page.execute(MESSAGE_DAYS, vec![]).await.unwrap()).unwrap();
    let want = json!([
        format!("day:{}", days[0]),
        "four days ago",
        format!("day:{}", days[1]),
        "two days ago",
        format!("day:{}", days[2]),
        "today",
    ]);
    let v = page.execute(LOG_ITEMS, vec![]).await.unwrap();
    assert_eq!(v, want, "one separator before each day's first message");
    // A separator reads as a date.
    let label = "return document.querySelector('#log li.day').textContent;";
    let label = page.execute(label, vec![]).await.unwrap();
    assert!(label.as_str().unwrap().len() > 8, "{label}");

    // A live message of the same day adds no separator.
    let mut carol = support::Client::login(&server, "carol").await;
    carol.join("lobby").await;
    post(&mut carol, "lobby", "still today").await;
    messages_are(
        &page,
        &["four days ago", "two days ago", "today", "still today"],
    )
    .await;
    let v = page.execute(LOG_ITEMS, vec![]).await.unwrap();
    let mut want = want.as_array().unwrap().clone();
    want.push(json!("still today"));
    assert_eq!(v, json!(want));
    screenshot(&page, "days.png").await;

    drop(carol);
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&data_dir);
}

const UNREAD: &str =
    "return [document.title, Array.from(document.querySelectorAll('#rooms button'))\
     .map(b => [b.dataset.room, (b.querySelector('.unread') || {}).textContent || ''])];";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_counts_show_in_the_title_and_the_room_list_until_seen() {
    with_carol(config(), &["lobby", "dev"], |page, server, mut carol| async move {
        login_and_join(&page, server.addr, "gus", "lobby").await;
        type_enter(&page, "room", "dev").await;
        shows_room(&page, "dev").await;

        // Messages in a room not shown.
        post(&mut carol, "lobby", "one").await;
        post(&mut carol, "lobby", "two").await;
        let v = wait_until(&page, "2 unread in lobby", UNREAD, |v| {
            v[0] == "(2) throng-chat"
        })
        .await;
        assert_eq!(v[1], json!([["lobby", "2"], ["dev", ""]]));
        screenshot(&page, "unread.png").await;
        click(&page, "button.room-btn[data-room='lobby']").await;
        wait_until(&page, "all read", UNREAD, |v| {
            v == &json!(["throng-chat", [["lobby", ""], ["dev", ""]]])
        })
        .await;

        // Messages in the room shown while the tab is hidden. (Headless Chromium keeps
        // its one tab visible, so the page is told it is hidden, as a browser would.)
        let visibility = |hidden: bool| {
            format!(
                "Object.defineProperty(document, 'hidden', {{configurable: true, get: () => {hidden}}}); \
                 document.dispatchEvent(new Event('visibilitychange'));"
            )
        };
        page.execute(&visibility(true), vec![]).await.unwrap();
        // Our own messages are never unread.
        type_enter(&page, "text", "mine").await;
        messages_are(&page, &["one", "two", "mine"]).await;
        post(&mut carol, "lobby", "three").await;
        post(&mut carol, "dev", "four").await;
        wait_until(&page, "2 unread while hidden", UNREAD, |v| {
            v == &json!(["(2) throng-chat", [["lobby", "1"], ["dev", "1"]]])
        })
        .await;
        // Shown again: the room on screen is read, the other not yet.
        page.execute(&visibility(false), vec![]).await.unwrap();
        wait_until(&page, "lobby read", UNREAD, |v| {
            v == &json!(["(1) throng-chat", [["lobby", ""], ["dev", "1"]]])
        })
        .await;
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_reconnects_and_rejoins_the_same_rooms() {
    with_carol(
        config(),
        &["lobby", "dev"],
        |page, server, mut carol| async move {
            login_and_join(&page, server.addr, "hal", "dev").await;
            type_enter(&page, "room", "lobby").await;
            shows_room(&page, "lobby").await;
            assert_eq!(
                presence(&mut carol, "lobby").await,
                ("hal".into(), "join".into())
            );
            post(&mut carol, "lobby", "before the reload").await;
            messages_are(&page, &["before the reload"]).await;

            page.refresh().await.unwrap();
            // No name typed: the page connects, says hello as hal and joins both rooms again,
            // showing the room that was shown, with its history.
            status_is(&page, "connected").await;
            wait_until(&page, "both rooms", ROOM_LIST, |v| {
                v == &json!(["dev", "lobby"])
            })
            .await;
            shows_room(&page, "lobby").await;
            messages_are(&page, &["before the reload"]).await;
            members_include(&page, &["carol", "hal"]).await;
            assert_eq!(
                presence(&mut carol, "lobby").await,
                ("hal".into(), "leave".into())
            );
            assert_eq!(
                presence(&mut carol, "lobby").await,
                ("hal".into(), "join".into())
            );
            type_enter(&page, "text", "after the reload").await;
            messages_are(&page, &["before the reload", "after the reload"]).await;

            // "Change name" forgets the rooms: the next load shows the login form.
            click(&page, "#sign-out").await;
            page.refresh().await.unwrap();
            let login = "return [document.getElementById('login').hidden, \
                     document.getElementById('name').value];";
            let v = page.execute(login, vec![]).await.unwrap();
            assert_eq!(v, json!([false, "hal"]));
            server.shutdown().await.unwrap();
        },
    )
    .await;
}

const DIRECTORY: &str = "const d = document.getElementById('directory-box'); \
     return [d.hidden, Array.from(d.querySelectorAll('button.room-btn'))\
     .map(b => [b.dataset.room, Number(b.querySelector('.members-n').textContent)])];";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_directory_lists_rooms_and_joins_one_on_click() {
    let mut cfg = config();
    cfg.room_directory = true;
    with_carol(
        cfg,
        &["lounge", "dev"],
        |page, server, mut carol| async move {
            let mut bea = support::Client::login(&server, "bea").await;
            bea.join("lounge").await;
            login(&page, server.addr, "ida").await;
            // The busiest first.
            wait_until(&page, "the directory", DIRECTORY, |v| {
                v == &json!([false, [["lounge", 2], ["dev", 1]]])
            })
            .await;
            click(&page, "#directory button.room-btn[data-room='dev']").await;
            shows_room(&page, "dev").await;
            assert_eq!(
                presence(&mut carol, "dev").await,
                ("ida".into(), "join".into())
            );
            // The page asks again after its own join.
            wait_until(&page, "dev with 2", DIRECTORY, |v| {
                v == &json!([false, [["dev", 2], ["lounge", 2]]])
            })
            .await;
            screenshot(&page, "directory.png").await;
            drop(bea);
            server.shutdown().await.unwrap();
        },
    )
    .await;
}

const PHONE: &str = "const f = document.getElementById('post-form').getBoundingClientRect(); \
     const log = document.getElementById('log'); const l = log.getBoundingClientRect(); \
     const last = log.lastElementChild.getBoundingClientRect(); \
     const doc = document.documentElement; return { \
     w: innerWidth, h: innerHeight, form_top: f.top, form_bottom: f.bottom, \
     doc_w: doc.scrollWidth, doc_h: doc.scrollHeight, \
     log_scrolls: log.scrollHeight > log.clientHeight, \
     last_shown: last.bottom <= l.bottom + 1 && last.top >= l.top - 1 };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_the_message_box_stays_at_the_bottom_under_the_log() {
    let phone = Some((390, 844));
    with_carol_on(
        phone,
        config(),
        &["lobby"],
        |page, server, mut carol| async move {
            login_and_join(&page, server.addr, "jo", "lobby").await;
            let mut texts: Vec<String> = (1..=30).map(|i| format!("message {i}")).collect();
            texts.push(format!("a long word: {}", "x".repeat(200)));
            texts.push(format!(
                "a long link: https://example.com/{}",
                "y".repeat(200)
            ));
            for text in &texts {
                post(&mut carol, "lobby", text).await;
            }
            let want: Vec<&str> = texts.iter().map(String::as_str).collect();
            messages_are(&page, &want).await;
            // A draft on three lines.
            let newline = format!("{}{}{}", Key::Shift, Key::Enter, Key::Null);
            let field = page.find(Locator::Id("text")).await.unwrap();
            field
                .send_keys(&format!("a draft{newline}on{newline}three lines"))
                .await
                .unwrap();
            wait_until(&page, "the draft", COMPOSER, |v| {
                v[0] == "a draft\non\nthree lines"
            })
            .await;

            let v = wait_until(&page, "the log scrolled to its end", PHONE, |v| {
                v["last_shown"] == true
            })
            .await;
            let n = |k: &str| v[k].as_f64().unwrap();
            assert_eq!(
                (n("w"), n("h")),
                (390.0, 844.0),
                "not a phone's viewport: {v}"
            );
            assert!(n("doc_w") <= n("w"), "the page scrolls sideways: {v}");
            assert!(n("doc_h") <= n("h"), "the page itself scrolls: {v}");
            assert!(v["log_scrolls"] == true, "the log does not scroll: {v}");
            assert!(
                n("form_bottom") <= n("h") && n("form_top") > n("h") * 0.6,
                "the message box is not at the bottom of the screen: {v}"
            );
            screenshot(&page, "phone.png").await;
            server.shutdown().await.unwrap();
        },
    )
    .await;
}

/// A TCP front that forwards every new connection to whichever node is current: what a
/// load balancer does when a node goes away.
struct Front {
    addr: SocketAddr,
    target: std::sync::Arc<std::sync::Mutex<SocketAddr>>,
    task: tokio::task::JoinHandle<()>,
}

impl Front {
    async fn start(first: SocketAddr) -> Front {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let target = std::sync::Arc::new(std::sync::Mutex::new(first));
        let t = target.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let to = *t.lock().unwrap();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Front { addr, target, task }
    }

    fn switch(&self, to: SocketAddr) {
        *self.target.lock().unwrap() = to;
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Two nodes over one Redis behind a front: the page is on node A; A goes away (its
/// clients are told `bye`), the front sends new connections to B, and the page
/// reconnects there by itself, re-joins and fills the gap: every message, also those
/// posted on B while it was away, once and in one gap-free sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_reconnects_to_the_other_node_and_misses_nothing() {
    if browser_programs().is_none() {
        return;
    }
    let Some(redis) = redis_server::RedisServer::start() else {
        return;
    };
    with_browsers(1, move |pages| async move {
        let [alice] = <[Client; 1]>::try_from(pages).unwrap();
        let node = || {
            let mut cfg = config();
            cfg.redis = Some(redis.url());
            cfg
        };
        let (a, b) = (start(node()).await, start(node()).await);
        let front = Front::start(a.addr).await;

        login_and_join(&alice, front.addr, "alice", "lobby").await;
        // Carol is on node B: her posts reach alice on node A.
        let mut carol = support::Client::login(&b, "carol").await;
        carol.join("lobby").await;
        members_include(&alice, &["alice", "carol"]).await;
        post(&mut carol, "lobby", "one").await;
        messages_are(&alice, &["one"]).await;

        // Node A goes away; new connections go to B.
        front.switch(b.addr);
        a.shutdown().await.unwrap();
        status_is(&alice, "reconnecting").await;
        post(&mut carol, "lobby", "two").await;
        post(&mut carol, "lobby", "three").await;

        status_is(&alice, "connected").await;
        members_include(&alice, &["alice", "carol"]).await;
        type_enter(&alice, "text", "back on b").await;
        let msgs = messages_are(&alice, &["one", "two", "three", "back on b"]).await;
        assert_contiguous(&msgs);
        drop(carol);
        b.shutdown().await.unwrap();
        drop(redis);
    })
    .await;
}
