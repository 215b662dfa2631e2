//! One WebSocket connection: the reader ([`run`]) takes messages one at a time (from
//! [`crate::ws::Reader`], which checks the framing) and awaits each request's handler
//! ([`crate::handlers`]) before reading the next, so a client's requests are answered in
//! the order it sent them; the writer ([`writer`]) drains the bounded outbound queue of
//! frames encoded once ([`crate::ws::Frame`]) with vectored writes. The reader answers a
//! ping by handing the writer a pong; a close from the client is echoed.
//!
//! Each handler awaits the sequencer, which never blocks a runtime thread: commits run on
//! the sequencer's own thread, history reads on the blocking pool.

pub mod writer;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use tracing::Instrument;

use crate::addr::AddrKey;
use crate::app::{App, Slot};
use crate::budget;
use crate::handlers;
use crate::outbox::{Command, Outbox};
use crate::protocol::{
    error_frame, CloseReason, ErrorCode, CLOSE_ABUSE, CLOSE_DEAD, CLOSE_HELLO_TIMEOUT, CLOSE_IDLE,
    CLOSE_INVALID_UTF8, CLOSE_NORMAL, CLOSE_PROTOCOL, CLOSE_SHUTDOWN, CLOSE_SLOW_CODE,
    CLOSE_TOO_LARGE,
};
use crate::room::{ConnId, MemberRequest};
use crate::ws::{self, Frame, Incoming, ReadError, ReadFailure};

/// What the server knows about one connection.
#[derive(Debug)]
pub struct Session {
    pub id: ConnId,
    /// The name, once `hello` succeeded.
    pub name: Option<Arc<str>>,
    /// Rooms joined (a room is added before its join is sequenced, so a disconnect
    /// mid-join still leaves it).
    pub rooms: BTreeSet<Arc<str>>,
    /// `--auth token`: the rooms the token allows (`None`: any).
    pub allowed_rooms: Option<Arc<BTreeSet<String>>>,
    /// Who budgets charge besides the address: the connection, or the identity once a
    /// token proved one.
    pub client: budget::Client,
    /// The address key budgets charge.
    pub addr: AddrKey,
    /// Recent refusals (too many close the connection).
    pub strikes: budget::Strikes,
}

impl Session {
    /// Charges `n` units of `kind`. Over budget: a strike, and `Err` with when to retry
    /// (after closing the connection with 1008 if it has had too many strikes).
    pub fn charge(
        &mut self,
        app: &App,
        out: &Outbox,
        kind: budget::Kind,
        n: u32,
    ) -> Result<(), budget::OverBudget> {
        let r = app.budgets.charge(
            kind,
            &self.client,
            &self.addr,
            n,
            app.cfg.address_budget_factor,
        );
        if r.is_err() {
            app.metrics.over_budget.inc();
            if self.strikes.strike(kind) {
                app.metrics.abuse_closes.inc();
                tracing::warn!(
                    user = self.name.as_deref().unwrap_or("-"),
                    addr = %self.addr,
                    "closing a connection for sustained requests over budget (1008)"
                );
                out.close(CLOSE_ABUSE);
            }
        }
        r
    }
}

/// Runs a connection until either side closes it or the server shuts down, inside a
/// span `conn` with its id, the client's address and (after `hello`) its user, so every
/// log line of the connection carries them.
pub async fn run(app: Arc<App>, socket: hyper::upgrade::Upgraded, slot: Slot, peer: IpAddr) {
    let conn = app.next_conn_id();
    let span = tracing::info_span!("conn", id = conn, peer = %peer, user = tracing::field::Empty);
    run_in_span(app, socket, slot, conn).instrument(span).await;
}

async fn run_in_span(app: Arc<App>, socket: hyper::upgrade::Upgraded, slot: Slot, conn: u64) {
    let (out, rx) = Outbox::new(
        app.cfg.outbound_queue as usize,
        app.cfg.outbound_bytes as usize,
        app.metrics.clone(),
    );
    let id = ConnId {
        node: app.hub.node(),
        conn,
    };
    app.hub.attach(id.conn, out.clone());
    tracing::info!("connected");
    if app.shutdown.is_cancelled() {
        out.close(CLOSE_SHUTDOWN); // raced with the start of shutdown
    }
    let (mut stream, sink) = ws::split(socket, app.cfg.max_frame as usize);
    let writer = tokio::spawn(writer::write_loop(
        sink,
        rx,
        out.clone(),
        app.cfg.shutdown_grace,
        app.cfg.ping_interval,
        app.metrics.clone(),
    ));
    let mut session = Session {
        id,
        name: None,
        rooms: BTreeSet::new(),
        allowed_rooms: None,
        client: budget::Client::Conn(id.conn),
        addr: slot.key(),
        strikes: budget::Strikes::default(),
    };
    let mut commands = out.take_commands().expect("a new outbox has its commands");
    let started = Instant::now();
    let mut last_frame = started; // any frame, pongs included
    let mut last_request = started; // JSON (or binary) frames
    loop {
        let deadline = deadline(&app.cfg, &session, started, last_frame, last_request);
        let frame = tokio::select! {
            biased;
            _ = out.closed() => break,
            _ = tokio::time::sleep_until(deadline.0.into()) => {
                app.metrics.timeouts.inc();
                if deadline.1 == CLOSE_HELLO_TIMEOUT {
                    handlers::reply_error(&app, &out, ErrorCode::Timeout, "no hello in time", None);
                }
                out.close(deadline.1);
                break;
            }
            Some(cmd) = commands.recv() => {
                command(&app, &mut session, cmd).await;
                continue;
            }
            frame = stream.next() => frame,
        };
        last_frame = Instant::now();
        let (len, text) = match frame {
            Ok(Some(Incoming::Text(text))) => (text.len(), Some(text)),
            Ok(Some(Incoming::Binary(len))) => (len, None),
            Ok(Some(control @ (Incoming::Ping(_) | Incoming::Pong(_)))) => {
                // A ping is answered at once (the pong replaces any not yet sent; see
                // outbox.rs); both are counted like any request and charged to the
                // control and bytes budgets (over them: strikes).
                let len = match control {
                    Incoming::Ping(p) => {
                        out.pong(Frame::pong(&p));
                        p.len()
                    }
                    Incoming::Pong(len) => len,
                    _ => 0,
                };
                app.metrics.control_frames.inc();
                app.metrics.bytes_in.inc_by(len as u64);
                if let Some(name) = &session.name {
                    app.counters.inc(&**name);
                }
                let _ = session.charge(&app, &out, budget::Kind::Control, 1);
                let _ = session.charge(&app, &out, budget::Kind::Bytes, len.max(1) as u32);
                continue;
            }
            Ok(Some(Incoming::Close(code))) => {
                out.peer_closed(code);
                break;
            }
            Ok(None) => {
                out.close(CLOSE_NORMAL);
                break;
            }
            Err(e) => {
                transport_error(&app, &out, e);
                break;
            }
        };
        last_request = last_frame;
        app.metrics.frames_in.inc();
        app.metrics.bytes_in.inc_by(len as u64);
        if let Some(name) = &session.name {
            app.counters.inc(&**name);
        }
        if len as u64 > app.cfg.max_frame {
            reject(&app, &out, "frame over the size limit");
            break;
        }
        if let Err(e) = session.charge(&app, &out, budget::Kind::Bytes, len.max(1) as u32) {
            handlers::reply_over_budget(&app, &out, e, None);
            continue;
        }
        match text {
            Some(text) => handlers::handle(&app, &out, &mut session, &text).await,
            None => handlers::reply_error(
                &app,
                &out,
                ErrorCode::BadRequest,
                "binary frames are not supported; send JSON text",
                None,
            ),
        }
    }
    if out.close_reason().map(|r| r.code) == Some(CLOSE_SLOW_CODE) {
        tracing::warn!(
            user = session.name.as_deref().unwrap_or("-"),
            queue = app.cfg.outbound_queue,
            bytes = app.cfg.outbound_bytes,
            "closing a slow consumer (4008): its outbound queue overflowed"
        );
    }
    // Leave every room (the others see presence `leave`), free the name.
    if let Some(name) = session.name.clone() {
        for room in std::mem::take(&mut session.rooms) {
            let req = MemberRequest {
                room,
                conn: id,
                user: name.clone(),
            };
            let _ = handlers::bounded(app.sequencer.leave(req, true)).await;
        }
        app.names.release(&name, id).await;
    }
    let reason = out.close_reason().unwrap_or(CLOSE_NORMAL);
    app.metrics.closed(reason.code);
    tracing::info!(
        code = reason.code,
        reason = reason.reason,
        "connection closed"
    );
    app.budgets.forget(&session.client);
    app.hub.detach(id.conn);
    if !out.is_closing() {
        out.close(CLOSE_NORMAL);
    }
    drop(out);
    let _ = writer.await;
}

/// Carries out an operator's [`Command`] between requests.
async fn command(app: &App, s: &mut Session, cmd: Command) {
    match cmd {
        Command::LeaveRoom(room) => {
            let Some(name) = s.name.clone() else { return };
            if s.rooms.remove(&room) {
                let req = MemberRequest {
                    room,
                    conn: s.id,
                    user: name,
                };
                let _ = handlers::bounded(app.sequencer.leave(req, false)).await;
            }
        }
    }
}

/// When the connection must next show a sign of life, and the close it gets if it does
/// not: a `hello` within `--hello-timeout`; some frame (a pong will do) within
/// `--ping-interval` + `--pong-timeout` of the last one (the writer pings every
/// `--ping-interval`); a request within `--idle-timeout`.
fn deadline(
    cfg: &crate::config::Config,
    s: &Session,
    started: Instant,
    last_frame: Instant,
    last_request: Instant,
) -> (Instant, CloseReason) {
    let mut d = (
        last_frame + cfg.ping_interval + cfg.pong_timeout,
        CLOSE_DEAD,
    );
    let idle = last_request + cfg.idle_timeout;
    if idle < d.0 {
        d = (idle, CLOSE_IDLE);
    }
    if s.name.is_none() && started + cfg.hello_timeout < d.0 {
        d = (started + cfg.hello_timeout, CLOSE_HELLO_TIMEOUT);
    }
    d
}

/// The transport could not read a frame: say why with the right close code (1009 only
/// for size; 1007 invalid UTF-8; 1002 any other protocol error), or just stop when the
/// socket itself failed.
fn transport_error(app: &App, out: &Outbox, e: ReadFailure) {
    match e {
        ReadFailure::Frame(ReadError::TooLarge) => reject(app, out, "frame over the size limit"),
        ReadFailure::Frame(ReadError::InvalidUtf8) => {
            app.metrics.protocol_errors.inc();
            out.close(CLOSE_INVALID_UTF8);
        }
        ReadFailure::Frame(ReadError::Protocol(what)) => {
            app.metrics.protocol_errors.inc();
            tracing::debug!(what, "websocket protocol error");
            out.close(CLOSE_PROTOCOL);
        }
        // The socket failed: nobody to tell.
        ReadFailure::Io(_) => out.close(CLOSE_NORMAL),
    }
}

fn reject(app: &App, out: &Outbox, why: &str) {
    app.metrics.error(ErrorCode::TooLarge.as_str());
    out.push(error_frame(ErrorCode::TooLarge, why, None));
    out.close(CLOSE_TOO_LARGE);
}
