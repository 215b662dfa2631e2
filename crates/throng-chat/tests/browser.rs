//! The web client in a real browser: two headless Chromium sessions, driven over
//! WebDriver (chromedriver) with fantoccini, join a room, see each other, post and
//! receive, then live through a server restart on the same address: both pages show that
//! they are reconnecting, reconnect on their own (one of them while another client holds
//! its name, so it retries), re-join, and show the messages posted while they were away,
//! in order, with no gap (the new server's `joined.history` holds only two, so the pages
//! fetch the rest with `history`). A screenshot is saved to `target/browser-chat.png`.
//! A second test pages back through history with "Load older", switches rooms and
//! leaves one.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium
//! chromium-driver`; `.ci/run` installs them). Without them the test prints
//! `skipped: no chromium/chromedriver` and passes, unless `THRONG_REQUIRE_BROWSER=1`
//! (set by `.ci/run`), where a missing browser fails it. `THRONG_CHROMIUM` and
//! `THRONG_CHROMEDRIVER` override the paths.
//!
//! Waits poll the page until a condition holds, with a generous deadline: a browser runs
//! in real time, and the deadline only bounds a failure, it asserts no speed.

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

/// A headless Chromium session.
async fn browser(driver: &Driver, chromium: &Path) -> Client {
    let caps = json!({
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

async fn login_and_join(page: &Client, server: SocketAddr, name: &str, room: &str) {
    page.goto(&format!("http://{server}/")).await.unwrap();
    type_enter(page, "name", name).await;
    status_is(page, "connected").await;
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
    let Some((chromium, chromedriver)) = browser_programs() else {
        return;
    };
    let driver = Driver::start(&chromedriver).await;
    let mut pages = Vec::new();
    for _ in 0..n {
        pages.push(browser(&driver, &chromium).await);
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
