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
  const TITLE = "throng-chat";
  const DIRECTORY_EVERY_MS = 30000;
  const DIRECTORY_SHOWN = 100; // most rooms listed, the busiest first
  // Storage keys: the name, and the rooms joined with the one shown (kept across a reload).
  const KEY_NAME = "throng-chat.name";
  const KEY_ROOMS = "throng-chat.rooms";

  const $ = (id) => document.getElementById(id);
  const el = {
    status: $("status"), countdown: $("countdown"), login: $("login"), loginForm: $("login-form"), name: $("name"),
    loginError: $("login-error"), chat: $("chat"), me: $("me"), joinForm: $("join-form"),
    room: $("room"), rooms: $("rooms"), roomTitle: $("room-title"), leave: $("leave"),
    older: $("older"), log: $("log"), membersBox: $("members-box"), members: $("members"),
    memberCount: $("member-count"), postForm: $("post-form"), text: $("text"),
    roomError: $("room-error"), signOut: $("sign-out"), directoryBox: $("directory-box"),
    directory: $("directory"), directoryRefresh: $("directory-refresh"),
  };

  // ---- state ---------------------------------------------------------------------------
  const state = {
    name: null, // the name we want (set by the login form)
    welcomed: false, // the current connection said welcome
    everWelcomed: false, // some connection said welcome: a later name_taken is our ghost
    resumed: false, // connected by itself after a reload: name_taken may be our old page
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
    restoring: new Set(), // saved rooms asked for after a reload, not yet joined
    restoreActive: null, // the saved room to show once it is joined again
    directoryTimer: null,
    directorySoon: null,
    directory: null, // the last /rooms answer, or null (none, or the server offers none)
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
      unread: 0, // messages that arrived while the room was not shown or the tab hidden
    };
  }

  // ---- connection ----------------------------------------------------------------------
  function wsUrl() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return proto + "//" + location.host + "/ws";
  }

  function load(key) {
    try {
      return localStorage.getItem(key);
    } catch (e) {
      return null; // storage may be off
    }
  }

  function store(key, value) {
    try {
      if (value === null) localStorage.removeItem(key);
      else localStorage.setItem(key, value);
    } catch (e) {
      /* storage may be off or full */
    }
  }

  // The rooms we are in (and the ones still being re-joined), and the one shown.
  function saveRooms() {
    const rooms = [];
    for (const r of state.rooms.values()) if (r.joined) rooms.push(r.name);
    for (const name of state.restoring) if (!rooms.includes(name)) rooms.push(name);
    store(KEY_ROOMS, JSON.stringify({ rooms, active: state.active || state.restoreActive }));
  }

  // What saveRooms wrote, or null: never connected, or signed out.
  function loadRooms() {
    try {
      const v = JSON.parse(load(KEY_ROOMS) || "null");
      if (!v || !Array.isArray(v.rooms)) return null;
      const rooms = v.rooms.filter((n) => typeof n === "string" && NAME_RE.test(n));
      return { rooms, active: rooms.includes(v.active) ? v.active : null };
    } catch (e) {
      return null;
    }
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
    clearInterval(state.directoryTimer);
    state.retryTimer = state.countdownTimer = state.pingTimer = state.pongTimer = null;
    state.directoryTimer = null;
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
    store(KEY_NAME, msg.name);
    setConnectedUi(true);
    startPing();
    for (const r of state.rooms.values()) {
      if (r.joined) send({ type: "join", room: r.name });
    }
    // After a reload: the rooms we were in.
    for (const name of state.restoring) {
      if (!state.rooms.has(name)) send({ type: "join", room: name });
    }
    if (state.rooms.size === 0 && state.restoring.size === 0) el.room.focus();
    saveRooms();
    loadDirectory();
    state.directoryTimer = setInterval(() => {
      if (!document.hidden && state.directory) loadDirectory();
    }, DIRECTORY_EVERY_MS);
  }

  function onJoined(msg) {
    let r = state.rooms.get(msg.room);
    const fresh = !r;
    if (!r) {
      r = newRoom(msg.room);
      state.rooms.set(msg.room, r);
    }
    r.joined = true;
    const restored = state.restoring.delete(msg.room);
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
    // Messages we had not seen count as unread when the room was open before (posted
    // while we were away); a first join's history does not.
    for (const m of hist) addMessage(r, m, prevLast > 0);
    // A gap between what we saw and what joined.history covers: fetch it. After a
    // restart that lost history, the gap is everything the new server has before it.
    const fillTo = r.epoch === epoch ? prevLast : 0;
    if (prevLast > 0 && hist.length && hist[0].seq > fillTo + 1) {
      requestHistory(r, hist[0].seq, FILL_PAGE, { fillTo });
    }
    const show = restored
      ? state.active === null || r.name === state.restoreActive
      : fresh || state.active === null;
    if (restored && r.name === state.restoreActive) state.restoreActive = null;
    if (show) showRoom(r.name);
    // Joined from the form or the directory: ready to write.
    if (fresh && !restored && state.active === r.name && !el.postForm.contains(document.activeElement)) {
      el.text.focus();
    }
    renderRooms();
    if (state.active === r.name) renderMembers();
    saveRooms();
    refreshDirectorySoon();
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
    saveRooms();
    refreshDirectorySoon();
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
    addMessage(r, msg, true);
  }

  function onHistory(msg) {
    const r = state.rooms.get(msg.room);
    if (!r) return;
    const kind = r.historyQueue.shift();
    const msgs = msg.messages || [];
    const epoch = r.epoch;
    // Filling a gap brings messages posted while we were away: unread. Older pages do not.
    const fill = !!(kind && kind.fillTo !== undefined);
    for (const m of msgs) addMessage(r, m, fill);
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
        if (state.everWelcomed || (state.resumed && state.nameTakenTries < NAME_TAKEN_QUICK_TRIES)) {
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

  // Adds a message to the room; `fresh` when it is new to us (live, or missed while away):
  // then it counts as unread unless we are looking at the room.
  function addMessage(r, m, fresh) {
    if (typeof m.seq !== "number") return;
    const seen = r.bySeq.get(m.seq);
    if (seen) {
      // Seen before this connection and different now: the sequence restarted.
      if (m.seq <= r.reconnectFrom && !sameMessage(seen, m)) resetEpoch(r);
      else return; // a duplicate (history overlapping what we have): drop
    }
    // Above what this connection's join started from: not one we had before.
    const unseen = m.seq > r.reconnectFrom;
    r.bySeq.set(m.seq, { ts: m.ts, from: m.from, text: m.text });
    if (m.seq > r.lastSeq) r.lastSeq = m.seq;
    const li = document.createElement("li");
    li.className = "msg" + (m.from === state.name ? " mine" : "");
    li.dataset.seq = String(m.seq);
    li.dataset.from = m.from;
    const d = new Date(m.ts);
    li.dataset.day = dayKey(d);
    const meta = document.createElement("span");
    meta.className = "meta";
    const who = document.createElement("strong");
    who.textContent = m.from;
    const when = document.createElement("time");
    when.dateTime = d.toISOString();
    when.textContent = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    meta.append(who, " ", when);
    const body = document.createElement("span");
    body.className = "text";
    appendLinked(body, String(m.text));
    li.append(meta, body);
    insertItem(r, { epoch: r.epoch, key: m.seq, sub: 0, node: li, isMsg: true });
    if (fresh && unseen && m.from !== state.name && (state.active !== r.name || document.hidden)) {
      r.unread += 1;
      renderRooms();
    }
  }

  // ---- message text: links, days ---------------------------------------------------------
  // Only absolute web addresses become links; anything else (javascript:, data:, markup)
  // stays text. Nodes are built with the DOM (text nodes, createElement), never parsed
  // from the message.
  const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  const LINK_REL = "noopener noreferrer nofollow";

  // A URL's trailing punctuation is usually the sentence's: "see x.org/a." or "(x.org/a)".
  function trimUrl(url) {
    for (;;) {
      const last = url[url.length - 1];
      const pair = { ")": "(", "]": "[", "}": "{" }[last];
      if (".,;:!?*".includes(last)) {
        url = url.slice(0, -1);
      } else if (pair && url.split(pair).length <= url.split(last).length - 1) {
        url = url.slice(0, -1); // a closing bracket with no opening one in the URL
      } else {
        return url;
      }
    }
  }

  function safeHref(text) {
    try {
      const u = new URL(text);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  function appendLinked(parent, text) {
    let done = 0;
    for (const match of text.matchAll(URL_RE)) {
      const start = match.index;
      if (start < done) continue;
      const url = trimUrl(match[0]);
      const href = safeHref(url);
      if (!href) continue;
      if (start > done) parent.append(document.createTextNode(text.slice(done, start)));
      const a = document.createElement("a");
      a.href = href;
      a.rel = LINK_REL;
      a.target = "_blank";
      a.textContent = url;
      parent.append(a);
      done = start + url.length;
    }
    if (done < text.length) parent.append(document.createTextNode(text.slice(done)));
  }

  // The local calendar day, as YYYY-MM-DD.
  function dayKey(d) {
    const two = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate());
  }

  // A separator before the first message of each local day in the log. Run after the log
  // changes: it keeps the separators that are still right and moves no message.
  function renderDays() {
    const keep = new Set();
    let prev = null;
    for (const node of Array.from(el.log.children)) {
      if (!node.classList.contains("msg")) continue;
      const day = node.dataset.day;
      if (day === prev) continue;
      prev = day;
      let sep = node.previousElementSibling;
      if (!sep || !sep.classList.contains("day") || sep.dataset.day !== day) {
        sep = document.createElement("li");
        sep.className = "day";
        sep.dataset.day = day;
        sep.setAttribute("role", "separator");
        const t = document.createElement("time");
        const when = new Date(node.querySelector("time").dateTime);
        t.dateTime = day;
        t.textContent = when.toLocaleDateString([], {
          weekday: "long", year: "numeric", month: "long", day: "numeric",
        });
        sep.append(t);
        el.log.insertBefore(sep, node);
      }
      keep.add(sep);
    }
    for (const sep of Array.from(el.log.querySelectorAll("li.day"))) {
      if (!keep.has(sep)) sep.remove();
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
    renderDays();
    if (lo === items.length - 1) {
      if (atBottom) el.log.scrollTop = el.log.scrollHeight;
    } else if (lo === 0) {
      // Older messages prepended: keep the view where it was.
      el.log.scrollTop += el.log.scrollHeight - prevHeight;
    }
  }

  // ---- rendering -----------------------------------------------------------------------
  function setConnectedUi(on) {
    for (const b of el.postForm.querySelectorAll("textarea, button")) b.disabled = !on;
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
      renderDays();
      el.log.scrollTop = el.log.scrollHeight;
      renderMembers();
    }
    renderOlderButton();
    renderRooms();
    saveRooms();
  }

  // Unread counts: per room in the list, their sum in the tab's title.
  function renderTitle() {
    let n = 0;
    for (const r of state.rooms.values()) n += r.unread;
    document.title = n > 0 ? "(" + n + ") " + TITLE : TITLE;
  }

  // The room shown has been seen once the tab is visible.
  function markSeen() {
    const r = state.rooms.get(state.active);
    if (r && r.unread > 0 && !document.hidden) {
      r.unread = 0;
      renderRooms();
    }
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
        u.textContent = String(r.unread);
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
    renderTitle();
  }

  // ---- room directory (GET /rooms, when the server offers one) ---------------------------
  async function loadDirectory() {
    let body = null;
    try {
      const resp = await fetch("/rooms", { cache: "no-store" });
      if (resp.status === 200) body = await resp.json();
    } catch (e) {
      body = null;
    }
    state.directory = body && Array.isArray(body.rooms) ? body.rooms : null;
    el.directoryBox.dataset.state = state.directory ? "on" : "off";
    renderDirectory();
  }

  // After our own join or leave, the counts changed: ask again (once for a burst).
  function refreshDirectorySoon() {
    renderDirectory();
    if (!state.directory || state.directorySoon) return;
    state.directorySoon = setTimeout(() => {
      state.directorySoon = null;
      if (state.welcomed) loadDirectory();
    }, 300);
  }

  function renderDirectory() {
    const list = state.directory;
    el.directoryBox.hidden = list === null;
    el.directory.replaceChildren();
    if (list === null) return;
    const rooms = list
      .filter((e) => e && typeof e.room === "string" && NAME_RE.test(e.room))
      .sort((a, b) => (b.members | 0) - (a.members | 0) || (a.room < b.room ? -1 : 1))
      .slice(0, DIRECTORY_SHOWN);
    for (const e of rooms) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      const inRoom = state.rooms.has(e.room);
      b.className = "room-btn" + (inRoom ? " in" : "");
      b.dataset.room = e.room;
      b.textContent = "#" + e.room;
      const n = document.createElement("span");
      n.className = "members-n";
      const members = e.members | 0;
      n.textContent = String(members);
      b.append(n);
      b.setAttribute(
        "aria-label",
        (inRoom ? "Show " : "Join ") + e.room + ", " + members + (members === 1 ? " member" : " members")
      );
      b.addEventListener("click", () => joinRoom(e.room));
      li.append(b);
      el.directory.append(li);
    }
    if (rooms.length === 0) {
      const li = document.createElement("li");
      li.className = "help";
      li.textContent = "No rooms with members yet.";
      el.directory.append(li);
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
    fitComposer();
    showRoomError(
      n + " message(s) were not confirmed before the connection dropped; check and resend."
    );
  }

  function restorePending(id) {
    const p = state.pending.get(id);
    if (!p) return;
    state.pending.delete(id);
    if (!el.text.value) el.text.value = p.text;
    fitComposer();
  }

  // The message box grows with its text up to its CSS max-height, then scrolls.
  function fitComposer() {
    const t = el.text;
    t.style.height = "auto";
    t.style.height = t.scrollHeight + (t.offsetHeight - t.clientHeight) + "px";
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
    state.resumed = false;
    state.stopped = false;
    state.attempt = 0;
    if (state.ws) {
      const old = state.ws;
      state.ws = null;
      old.close(1000);
    }
    connect();
  });

  function joinRoom(room) {
    if (state.rooms.has(room)) {
      showRoom(room);
    } else {
      send({ type: "join", room });
    }
    el.text.focus();
  }

  el.joinForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const room = el.room.value.trim();
    if (!NAME_RE.test(room)) {
      showRoomError("Room names are 1 to 32 letters, digits, _ - or .");
      return;
    }
    el.room.value = "";
    joinRoom(room);
  });

  el.directoryRefresh.addEventListener("click", () => loadDirectory());

  // Back to the login form: this connection ends, and the rooms are forgotten.
  el.signOut.addEventListener("click", () => {
    stop();
    state.rooms.clear();
    state.restoring.clear();
    state.restoreActive = null;
    state.directory = null;
    showRoom(null);
    store(KEY_ROOMS, null);
    el.chat.hidden = true;
    el.login.hidden = false;
    el.name.value = state.name || "";
    el.name.focus();
  });

  el.leave.addEventListener("click", () => {
    const r = state.rooms.get(state.active);
    if (!r) return;
    r.joined = false;
    saveRooms();
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
      fitComposer();
      el.roomError.textContent = "";
    } else {
      showRoomError("Not connected; your message is kept in the box.");
    }
  });

  // Keyboard: Enter sends, Shift+Enter starts a new line (the textarea's own behaviour);
  // Escape in the message box returns focus to the room list.
  el.text.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault(); // 229: an input method is composing (Safari)
      el.postForm.requestSubmit();
    } else if (ev.key === "Escape") {
      const b = el.rooms.querySelector("[aria-current]");
      if (b) b.focus();
    }
  });
  el.text.addEventListener("input", fitComposer);

  // A log scrolled to its end stays there when it gets shorter (the message box grows, a
  // phone's keyboard opens) or longer.
  let logAtEnd = true;
  el.log.addEventListener("scroll", () => {
    logAtEnd = el.log.scrollHeight - el.log.scrollTop - el.log.clientHeight < 40;
  });
  if (window.ResizeObserver) {
    new ResizeObserver(() => {
      if (logAtEnd) el.log.scrollTop = el.log.scrollHeight;
    }).observe(el.log);
  }

  // Messages that arrived while the tab was hidden are seen when it shows again.
  document.addEventListener("visibilitychange", markSeen);

  // A reload (or a new visit) with a saved name connects at once and re-joins the saved
  // rooms; without one, the login form.
  const savedName = load(KEY_NAME);
  if (savedName) el.name.value = savedName;
  const saved = loadRooms();
  if (savedName && NAME_RE.test(savedName) && saved) {
    state.restoring = new Set(saved.rooms);
    state.restoreActive = saved.active;
    state.name = savedName;
    state.resumed = true;
    state.stopped = false;
    connect();
  } else {
    el.name.focus();
  }
})();
