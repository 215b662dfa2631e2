// throng-chat web client: plain JS, no build step, no network beyond this server.
// Protocol: crates/throng-chat/PROTOCOL.md. One WebSocket at ws(s)://<host>/ws.
"use strict";

(function () {
  const NAME_RE = /^[A-Za-z0-9_.\-]{1,32}$/;
  const BACKOFF_BASE_MS = 500;
  const BACKOFF_MAX_MS = 15000;
  const NAME_TAKEN_RETRY_MS = 1000; // our old connection may not be gone yet
  const NAME_TAKEN_QUICK_TRIES = 5;
  const PING_EVERY_MS = 25000;
  const PONG_WAIT_MS = 10000;
  const PAGE = 50; // messages per "load older"
  const FILL_PAGE = 500; // messages per gap-filling request (the server's maximum)

  const $ = (id) => document.getElementById(id);
  const el = {
    status: $("status"), countdown: $("countdown"), login: $("login"), loginForm: $("login-form"), name: $("name"),
    loginError: $("login-error"), chat: $("chat"), me: $("me"), joinForm: $("join-form"),
    room: $("room"), rooms: $("rooms"), roomTitle: $("room-title"), leave: $("leave"),
    older: $("older"), log: $("log"), membersBox: $("members-box"), members: $("members"),
    memberCount: $("member-count"), postForm: $("post-form"), text: $("text"),
    roomError: $("room-error"),
  };

  // ---- state ---------------------------------------------------------------------------
  const state = {
    name: null, // the name we want (set by the login form)
    welcomed: false, // the current connection said welcome
    everWelcomed: false, // some connection said welcome: a later name_taken is our ghost
    ws: null,
    attempt: 0, // reconnect attempts since the last welcome
    retryTimer: null,
    countdownTimer: null,
    pingTimer: null,
    pongTimer: null,
    nameTakenRetry: false,
    nameTakenTries: 0,
    lastReason: "",
    stopped: true, // no reconnecting (before login, or after a fatal name error)
    rooms: new Map(), // room name -> Room
    active: null, // room name shown
    nextId: 1,
    pending: new Map(), // post id -> {room, text}
  };

  function newRoom(name) {
    return {
      name,
      joined: false, // we want to be in it (re-joined after a reconnect)
      members: new Set(),
      epoch: 0, // bumped when the server's sequence restarted (history lost)
      bySeq: new Map(), // seq -> message shown in this epoch (dedupe, restart detection)
      lastSeq: 0, // highest seq seen in this epoch
      reconnectFrom: 0, // lastSeq when the current connection (re)joined
      items: [], // sorted {epoch, key, sub, node}
      historyQueue: [], // kinds of history requests in flight, FIFO: "older" | {fillTo}
      noOlder: false,
      unread: 0,
    };
  }

  // ---- connection ----------------------------------------------------------------------
  function wsUrl() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return proto + "//" + location.host + "/ws";
  }

  // The status is a live region: it changes (and is announced) on transitions only; the
  // seconds of a reconnect countdown tick beside it, outside the region.
  function setStatus(kind, text) {
    el.status.dataset.state = kind;
    el.status.textContent = text;
    el.countdown.textContent = "";
  }

  function connect() {
    clearTimers();
    state.welcomed = false;
    state.nameTakenRetry = false;
    setStatus("connecting", "Connecting…");
    let ws;
    try {
      ws = new WebSocket(wsUrl());
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    ws.onopen = () => send({ type: "hello", name: state.name });
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      onFrame(msg);
    };
    ws.onclose = (ev) => {
      if (state.ws !== ws) return;
      state.ws = null;
      onDisconnected(ev.code, ev.reason);
    };
    // onerror is always followed by onclose.
  }

  function send(obj) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) {
      state.ws.send(JSON.stringify(obj));
      return true;
    }
    return false;
  }

  function onDisconnected(code, reason) {
    state.welcomed = false;
    clearTimers();
    setConnectedUi(false);
    failPending();
    if (state.stopped) {
      setStatus("disconnected", "Not connected");
      return;
    }
    if (state.nameTakenRetry) {
      // Our previous connection still holds the name; it should be gone shortly. Retry
      // soon a few times, then back off as usual (someone else may have the name).
      state.lastReason = "name still held by the old connection";
      state.nameTakenTries += 1;
      if (state.nameTakenTries <= NAME_TAKEN_QUICK_TRIES) {
        scheduleReconnect(NAME_TAKEN_RETRY_MS * (0.5 + Math.random()));
      } else {
        scheduleReconnect();
      }
      return;
    }
    // 1001 shutdown (after bye), 4008 slow consumer, 1006 lost, 503 at upgrade: all the
    // same, back off and reconnect; the reason is shown.
    state.lastReason = reason || (code === 1006 ? "connection lost" : "closed " + code);
    scheduleReconnect();
  }

  // Exponential backoff with full jitter: uniform in [0, min(max, base * 2^attempt)],
  // never below 250 ms so a dead server is not hammered.
  function backoffMs(attempt) {
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * Math.pow(2, attempt));
    return Math.max(250, Math.random() * cap);
  }

  function scheduleReconnect(delay) {
    clearTimers();
    const ms = delay === undefined ? backoffMs(state.attempt) : delay;
    state.attempt += 1;
    const due = Date.now() + ms;
    const why = state.lastReason ? " (" + state.lastReason + ")" : "";
    setStatus("reconnecting", "Disconnected" + why + ", reconnecting");
    const tick = () => {
      const left = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      el.countdown.textContent = " in " + left + "s";
    };
    tick();
    state.countdownTimer = setInterval(tick, 1000);
    state.retryTimer = setTimeout(connect, ms);
  }

  function clearTimers() {
    clearTimeout(state.retryTimer);
    clearInterval(state.countdownTimer);
    clearInterval(state.pingTimer);
    clearTimeout(state.pongTimer);
    state.retryTimer = state.countdownTimer = state.pingTimer = state.pongTimer = null;
  }

  // A half-open TCP connection is never reported by the browser: ping, and reconnect
  // when no pong comes.
  function startPing() {
    state.pingTimer = setInterval(() => {
      if (!send({ type: "ping" })) return;
      clearTimeout(state.pongTimer);
      state.pongTimer = setTimeout(() => {
        // A dead link may never finish the close handshake: drop it and go on now.
        const ws = state.ws;
        if (!ws) return;
        state.ws = null;
        ws.close();
        onDisconnected(1006, "no answer to ping");
      }, PONG_WAIT_MS);
    }, PING_EVERY_MS);
  }

  // ---- frames --------------------------------------------------------------------------
  function onFrame(msg) {
    switch (msg.type) {
      case "welcome":
        return onWelcome(msg);
      case "joined":
        return onJoined(msg);
      case "left":
        return onLeft(msg);
      case "presence":
        return onPresence(msg);
      case "message":
        return onMessage(msg);
      case "ack":
        state.pending.delete(msg.id);
        return;
      case "history":
        return onHistory(msg);
      case "pong":
        clearTimeout(state.pongTimer);
        return;
      case "error":
        return onError(msg);
      case "bye":
        setStatus("reconnecting", "The server is shutting down…");
        return;
    }
  }

  function onWelcome(msg) {
    state.welcomed = true;
    state.everWelcomed = true;
    state.attempt = 0;
    state.nameTakenTries = 0;
    state.lastReason = "";
    setStatus("connected", "Connected as " + msg.name);
    el.me.textContent = msg.name;
    el.login.hidden = true;
    el.chat.hidden = false;
    try {
      localStorage.setItem("throng-chat.name", msg.name);
    } catch (e) {
      /* storage may be off */
    }
    setConnectedUi(true);
    startPing();
    for (const r of state.rooms.values()) {
      if (r.joined) send({ type: "join", room: r.name });
    }
    if (state.rooms.size === 0) el.room.focus();
  }

  function onJoined(msg) {
    let r = state.rooms.get(msg.room);
    const fresh = !r;
    if (!r) {
      r = newRoom(msg.room);
      state.rooms.set(msg.room, r);
    }
    r.joined = true;
    r.members = new Set(msg.members);
    const hist = msg.history || [];
    const prevLast = r.lastSeq;
    const epoch = r.epoch;
    r.reconnectFrom = prevLast;
    r.historyQueue = []; // requests of the old connection get no reply
    const newest = hist.length ? hist[hist.length - 1].seq : 0;
    if (prevLast > 0) addNotice(r, "Reconnected.");
    // The room's sequence went backwards: the server restarted without its history.
    if (prevLast > 0 && newest < prevLast) resetEpoch(r);
    for (const m of hist) addMessage(r, m);
    // A gap between what we saw and what joined.history covers: fetch it. After a
    // restart that lost history, the gap is everything the new server has before it.
    const fillTo = r.epoch === epoch ? prevLast : 0;
    if (prevLast > 0 && hist.length && hist[0].seq > fillTo + 1) {
      requestHistory(r, hist[0].seq, FILL_PAGE, { fillTo });
    }
    if (fresh || state.active === null) showRoom(r.name);
    renderRooms();
    if (state.active === r.name) renderMembers();
  }

  function onLeft(msg) {
    const r = state.rooms.get(msg.room);
    if (!r) return;
    state.rooms.delete(msg.room);
    if (state.active === msg.room) {
      const next = state.rooms.keys().next();
      showRoom(next.done ? null : next.value);
    }
    renderRooms();
  }

  function onPresence(msg) {
    const r = state.rooms.get(msg.room);
    if (!r) return;
    if (msg.event === "join") r.members.add(msg.user);
    else r.members.delete(msg.user);
    addNotice(r, msg.user + (msg.event === "join" ? " joined" : " left"));
    if (state.active === r.name) renderMembers();
  }

  function onMessage(msg) {
    const r = state.rooms.get(msg.room);
    if (!r) return;
    addMessage(r, msg);
  }

  function onHistory(msg) {
    const r = state.rooms.get(msg.room);
    if (!r) return;
    const kind = r.historyQueue.shift();
    const msgs = msg.messages || [];
    const epoch = r.epoch;
    for (const m of msgs) addMessage(r, m);
    if (kind === "older") {
      if (msgs.length < PAGE) r.noOlder = true;
    } else if (kind && kind.fillTo !== undefined) {
      // Keep going back until the gap is closed or the server has nothing older (from
      // the start, if this reply showed that the server's sequence restarted).
      const fillTo = r.epoch === epoch ? kind.fillTo : 0;
      if (msgs.length === FILL_PAGE && msgs[0].seq > fillTo + 1) {
        requestHistory(r, msgs[0].seq, FILL_PAGE, { fillTo });
      }
    }
    if (state.active === r.name) renderOlderButton();
  }

  function onError(msg) {
    const text = msg.message || msg.code;
    switch (msg.code) {
      case "name_taken":
        if (state.everWelcomed) {
          state.nameTakenRetry = true; // the close that follows retries soon
        } else {
          stop();
          showLoginError("That name is taken. Pick another.");
        }
        return;
      case "invalid_name":
        if (!state.welcomed) {
          stop();
          showLoginError("That name is not allowed: " + text);
        } else {
          showRoomError(text);
        }
        return;
      case "rate_limited":
        showRoomError(
          "Slow down: try again in " + Math.ceil((msg.retry_after_ms || 1000) / 1000) + "s."
        );
        restorePending(msg.ref);
        return;
      default:
        showRoomError(text);
        if (msg.ref) restorePending(msg.ref);
    }
  }

  // ---- history and ordering ------------------------------------------------------------
  let noticeCounter = 0;

  function requestHistory(r, before, limit, kind) {
    const req = { type: "history", room: r.name, limit };
    if (before !== null) req.before = before;
    if (send(req)) r.historyQueue.push(kind);
  }

  function oldestSeq(r) {
    for (const it of r.items) {
      if (it.epoch === r.epoch && it.isMsg) return it.key;
    }
    return null;
  }

  // A new epoch: the server's sequence restarted (in-memory history lost in a restart),
  // so its seqs must not be deduplicated against the ones shown before. Messages this
  // connection already added (seq above reconnectFrom) move to the new epoch.
  function resetEpoch(r) {
    const old = r.epoch;
    r.epoch += 1;
    const kept = new Map();
    for (const it of r.items) {
      if (it.epoch === old && it.isMsg && it.key > r.reconnectFrom) {
        it.epoch = r.epoch;
        kept.set(it.key, r.bySeq.get(it.key));
      }
    }
    r.bySeq = kept;
    r.lastSeq = kept.size ? Math.max(...kept.keys()) : 0;
    r.reconnectFrom = 0;
    r.noOlder = false;
    r.items.sort(cmp);
    noticeCounter += 1;
    const li = document.createElement("li");
    li.className = "notice";
    li.textContent = "The server restarted; messages from before it are not in its history.";
    insertItem(r, { epoch: r.epoch, key: 0, sub: noticeCounter, node: li });
    if (state.active === r.name) showRoom(r.name);
  }

  function sameMessage(a, b) {
    return a.ts === b.ts && a.from === b.from && a.text === b.text;
  }

  function addMessage(r, m) {
    if (typeof m.seq !== "number") return;
    const seen = r.bySeq.get(m.seq);
    if (seen) {
      // Seen before this connection and different now: the sequence restarted.
      if (m.seq <= r.reconnectFrom && !sameMessage(seen, m)) resetEpoch(r);
      else return; // a duplicate (history overlapping what we have): drop
    }
    r.bySeq.set(m.seq, { ts: m.ts, from: m.from, text: m.text });
    if (m.seq > r.lastSeq) r.lastSeq = m.seq;
    const li = document.createElement("li");
    li.className = "msg" + (m.from === state.name ? " mine" : "");
    li.dataset.seq = String(m.seq);
    li.dataset.from = m.from;
    const meta = document.createElement("span");
    meta.className = "meta";
    const who = document.createElement("strong");
    who.textContent = m.from;
    const when = document.createElement("time");
    const d = new Date(m.ts);
    when.dateTime = d.toISOString();
    when.textContent = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    meta.append(who, " ", when);
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = m.text;
    li.append(meta, body);
    insertItem(r, { epoch: r.epoch, key: m.seq, sub: 0, node: li, isMsg: true });
    if (state.active !== r.name) {
      r.unread += 1;
      renderRooms();
    }
  }

  function addNotice(r, text) {
    const li = document.createElement("li");
    li.className = "notice";
    li.textContent = text;
    noticeCounter += 1;
    insertItem(r, { epoch: r.epoch, key: r.lastSeq + 0.5, sub: noticeCounter, node: li });
  }

  function cmp(a, b) {
    return a.epoch - b.epoch || a.key - b.key || a.sub - b.sub;
  }

  function insertItem(r, item) {
    const items = r.items;
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cmp(items[mid], item) <= 0) lo = mid + 1;
      else hi = mid;
    }
    items.splice(lo, 0, item);
    if (state.active !== r.name) return;
    const atBottom = el.log.scrollHeight - el.log.scrollTop - el.log.clientHeight < 40;
    const prevHeight = el.log.scrollHeight;
    const after = items[lo + 1];
    el.log.insertBefore(item.node, after ? after.node : null);
    if (lo === items.length - 1) {
      if (atBottom) el.log.scrollTop = el.log.scrollHeight;
    } else if (lo === 0) {
      // Older messages prepended: keep the view where it was.
      el.log.scrollTop += el.log.scrollHeight - prevHeight;
    }
  }

  // ---- rendering -----------------------------------------------------------------------
  function setConnectedUi(on) {
    for (const b of el.postForm.querySelectorAll("input, button")) b.disabled = !on;
    for (const b of el.joinForm.querySelectorAll("input, button")) b.disabled = !on;
    el.older.disabled = !on;
  }

  function showRoom(name) {
    state.active = name;
    el.log.replaceChildren();
    el.roomError.textContent = "";
    const r = name ? state.rooms.get(name) : null;
    el.roomTitle.textContent = r ? "#" + r.name : "No room selected";
    el.leave.hidden = !r;
    el.postForm.hidden = !r;
    el.membersBox.hidden = !r;
    if (r) {
      r.unread = 0;
      const frag = document.createDocumentFragment();
      for (const it of r.items) frag.append(it.node);
      el.log.append(frag);
      el.log.scrollTop = el.log.scrollHeight;
      renderMembers();
    }
    renderOlderButton();
    renderRooms();
  }

  function renderRooms() {
    el.rooms.replaceChildren();
    for (const r of state.rooms.values()) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "room-btn";
      b.dataset.room = r.name;
      b.textContent = "#" + r.name;
      if (r.unread > 0) {
        const u = document.createElement("span");
        u.className = "unread";
        u.textContent = " " + r.unread;
        u.setAttribute("aria-label", r.unread + " unread");
        b.append(u);
      }
      if (state.active === r.name) b.setAttribute("aria-current", "true");
      b.addEventListener("click", () => {
        showRoom(r.name);
        el.text.focus();
      });
      li.append(b);
      el.rooms.append(li);
    }
  }

  function renderMembers() {
    const r = state.rooms.get(state.active);
    el.members.replaceChildren();
    if (!r) return;
    const names = Array.from(r.members).sort();
    el.memberCount.textContent = String(names.length);
    for (const n of names) {
      const li = document.createElement("li");
      li.textContent = n;
      li.dataset.member = n;
      if (n === state.name) li.className = "mine";
      el.members.append(li);
    }
  }

  function renderOlderButton() {
    const r = state.rooms.get(state.active);
    el.older.hidden = !r || r.noOlder || oldestSeq(r) === null || oldestSeq(r) <= 1;
  }

  function showLoginError(text) {
    el.chat.hidden = true;
    el.login.hidden = false;
    el.loginError.textContent = text;
    el.name.focus();
  }

  function showRoomError(text) {
    el.roomError.textContent = text;
  }

  function failPending() {
    if (state.pending.size === 0) return;
    const n = state.pending.size;
    const first = state.pending.values().next().value;
    state.pending.clear();
    if (!el.text.value) el.text.value = first.text;
    showRoomError(
      n + " message(s) were not confirmed before the connection dropped; check and resend."
    );
  }

  function restorePending(id) {
    const p = state.pending.get(id);
    if (!p) return;
    state.pending.delete(id);
    if (!el.text.value) el.text.value = p.text;
  }

  function stop() {
    state.stopped = true;
    clearTimers();
    if (state.ws) state.ws.close(1000);
  }

  // ---- user actions --------------------------------------------------------------------
  el.loginForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = el.name.value.trim();
    if (!NAME_RE.test(name)) {
      el.loginError.textContent = "Use 1 to 32 letters, digits, _ - or .";
      return;
    }
    el.loginError.textContent = "";
    state.name = name;
    state.everWelcomed = false;
    state.stopped = false;
    state.attempt = 0;
    if (state.ws) {
      const old = state.ws;
      state.ws = null;
      old.close(1000);
    }
    connect();
  });

  el.joinForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const room = el.room.value.trim();
    if (!NAME_RE.test(room)) {
      showRoomError("Room names are 1 to 32 letters, digits, _ - or .");
      return;
    }
    if (state.rooms.has(room)) {
      showRoom(room);
    } else {
      send({ type: "join", room });
    }
    el.room.value = "";
    el.text.focus();
  });

  el.leave.addEventListener("click", () => {
    const r = state.rooms.get(state.active);
    if (!r) return;
    r.joined = false;
    // Offline, there is nothing to tell the server: it forgot us with the connection.
    if (!send({ type: "leave", room: r.name })) onLeft({ room: r.name });
  });

  el.older.addEventListener("click", () => {
    const r = state.rooms.get(state.active);
    if (!r) return;
    const oldest = oldestSeq(r);
    if (oldest === null || r.historyQueue.includes("older")) return;
    requestHistory(r, oldest, PAGE, "older");
  });

  el.postForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const r = state.rooms.get(state.active);
    const text = el.text.value;
    if (!r || !text.trim()) return;
    const id = "c" + state.nextId++;
    if (send({ type: "post", room: r.name, text, id })) {
      state.pending.set(id, { room: r.name, text });
      el.text.value = "";
      el.roomError.textContent = "";
    } else {
      showRoomError("Not connected; your message is kept in the box.");
    }
  });

  // Keyboard: Escape in the message box returns focus to the room list.
  el.text.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") {
      const b = el.rooms.querySelector("[aria-current]");
      if (b) b.focus();
    }
  });

  try {
    const saved = localStorage.getItem("throng-chat.name");
    if (saved) el.name.value = saved;
  } catch (e) {
    /* storage may be off */
  }
  el.name.focus();
})();
