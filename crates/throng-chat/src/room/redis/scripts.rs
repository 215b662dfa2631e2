//! The Lua scripts: one per room event (post, join, leave), so each event is atomic in
//! Redis (never `INCR` and publish as two commands), and the name registry's steps.
//!
//! Every room script starts by reading Redis `TIME` and refusing with `expired` when the
//! caller's deadline (its own clock, ARGV\[1\]) has passed: a call that timed out on the
//! node (Redis paused, a slow link) and reaches Redis later leaves no trace, so an
//! `Unavailable` answer means "not sequenced" (rule 5), not "maybe".
//!
//! Each script writes the event to the delivery stream *before* it moves the room's
//! counters, so a failed `XADD` leaves no gap and no counter ahead of its events.

use std::sync::LazyLock;

use redis::Script;

/// The shared head of the room scripts: `now` (ms, Redis clock) and the deadline check.
const PRELUDE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > tonumber(ARGV[1]) then return {'expired'} end
";

/// A post. KEYS: meta, log, members, post-id key, events. ARGV: deadline, member field
/// (empty for the system), from, text, has client id (`1`/`0`), dedupe seconds, log
/// max length, events max length, room.
/// Returns `{'ok', seq, event id, ts}`, `{'dup', seq}`, `{'notin'}` or `{'expired'}`.
const POST: &str = r"
if ARGV[2] == '' then
  if redis.call('EXISTS', KEYS[3]) == 0 then return {'notin'} end
elseif redis.call('HEXISTS', KEYS[3], ARGV[2]) == 0 then
  return {'notin'}
end
if ARGV[5] == '1' then
  local old = redis.call('GET', KEYS[4])
  if old then return {'dup', tonumber(old)} end
end
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0') + 1
local pos = tonumber(redis.call('HGET', KEYS[1], 'pos') or '0') + 1
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], string.format('%d-0', seq),
  'f', ARGV[3], 't', ARGV[4], 'ts', now)
local id = redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[8], '*',
  'r', ARGV[9], 'p', pos, 'k', 'm', 's', seq, 'f', ARGV[3], 't', ARGV[4], 'ts', now)
redis.call('HSET', KEYS[1], 'seq', seq, 'pos', pos)
if ARGV[5] == '1' then redis.call('SET', KEYS[4], seq, 'EX', ARGV[6]) end
return {'ok', seq, id, now}
";

/// A join. KEYS: meta, log, members, events, rooms, the node's rooms. ARGV: deadline,
/// member field, user, room, max rooms, snapshot messages, events max length, node,
/// conn, origin.
/// Returns `{'ok', event id, member names, last messages (newest first)}`, `{'already'}`,
/// `{'full'}` or `{'expired'}`.
const JOIN: &str = r"
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then return {'already'} end
if redis.call('EXISTS', KEYS[3]) == 0 and redis.call('SCARD', KEYS[5]) >= tonumber(ARGV[5]) then
  return {'full'}
end
local pos = tonumber(redis.call('HGET', KEYS[1], 'pos') or '0') + 1
local id = redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*',
  'r', ARGV[4], 'p', pos, 'k', 'j', 'u', ARGV[3], 'n', ARGV[8], 'c', ARGV[9], 'o', ARGV[10])
redis.call('HSET', KEYS[1], 'pos', pos)
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[5], ARGV[4])
redis.call('HINCRBY', KEYS[6], ARGV[4], 1)
local names = redis.call('HVALS', KEYS[3])
local hist = {}
if tonumber(ARGV[6]) > 0 then
  hist = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[6])
end
return {'ok', id, names, hist}
";

/// A leave. KEYS: meta, members, events, rooms, the node's rooms. ARGV: deadline,
/// member field, room, events max length, node, conn, silent (`1`/`0`).
/// Returns `{'ok', event id}`, `{'notin'}` or `{'expired'}`.
const LEAVE: &str = r"
local user = redis.call('HGET', KEYS[2], ARGV[2])
if not user then return {'notin'} end
local pos = tonumber(redis.call('HGET', KEYS[1], 'pos') or '0') + 1
local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*',
  'r', ARGV[3], 'p', pos, 'k', 'l', 'u', user, 'n', ARGV[5], 'c', ARGV[6], 'q', ARGV[7])
redis.call('HSET', KEYS[1], 'pos', pos)
redis.call('HDEL', KEYS[2], ARGV[2])
if redis.call('HINCRBY', KEYS[5], ARGV[3], -1) <= 0 then redis.call('HDEL', KEYS[5], ARGV[3]) end
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SREM', KEYS[4], ARGV[3]) end
return {'ok', id}
";

/// A node's heartbeat. KEYS: nodes. ARGV: node, lease ms, first (`1` when registering).
/// Returns `{'ok', now}`, or `{'reaped'}` when the node's lease had already been taken
/// away (another node reaped it: it must fence itself).
pub static HEARTBEAT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[3] ~= '1' and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {'reaped'} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return {'ok', now}
",
    )
});

/// Nodes whose lease ran out. KEYS: nodes. ARGV: at most how many.
pub static EXPIRED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[1])
",
    )
});

/// Frees a reaped node's name if it still holds it. KEYS: name. ARGV: holder prefix
/// (`<node>:`).
pub static FREE_NAME: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local h = redis.call('GET', KEYS[1])
if h and string.sub(h, 1, #ARGV[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
",
    )
});

/// Claims a name. KEYS: name, the node's names. ARGV: holder, folded name.
/// Returns 1 when claimed (or already held by the holder), 0 when taken.
pub static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local h = redis.call('GET', KEYS[1])
if h and h ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return 1
",
    )
});

/// Takes a name over. KEYS: name, the node's names, events. ARGV: holder, folded
/// name, events max length, the previous holder's node and conn are parsed from it.
/// Returns the previous holder, or nil. When there was one (another connection), a
/// disconnect control (`k` `x`, `n`/`c` the old holder, `w` `r`) goes into the delivery
/// stream in the same step, so the old holder's node closes it (4001) wherever it is.
pub static CLAIM_REPLACING: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local old = redis.call('SET', KEYS[1], ARGV[1], 'GET')
redis.call('SADD', KEYS[2], ARGV[2])
if old and old ~= ARGV[1] then
  local sep = string.find(old, ':', 1, true)
  if sep then
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'k', 'x',
      'n', string.sub(old, 1, sep - 1), 'c', string.sub(old, sep + 1), 'w', 'r')
  end
end
return old
",
    )
});

/// Closes or reopens a room for every node. KEYS: closed rooms, events. ARGV: room,
/// `1` (closed) or `0`, events max length. Returns the event id.
pub static ROOM_CLOSED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if ARGV[2] == '1' then redis.call('SADD', KEYS[1], ARGV[1])
else redis.call('SREM', KEYS[1], ARGV[1]) end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'k', 'z', 'r', ARGV[1], 'v', ARGV[2])
",
    )
});

/// Frees a name if the holder holds it. KEYS: name, the node's names. ARGV: holder,
/// folded name.
pub static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[2])
end
return 1
",
    )
});

fn room_script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

/// The post script.
pub static POST_SCRIPT: LazyLock<Script> = LazyLock::new(|| room_script(POST));
/// The join script.
pub static JOIN_SCRIPT: LazyLock<Script> = LazyLock::new(|| room_script(JOIN));
/// The leave script.
pub static LEAVE_SCRIPT: LazyLock<Script> = LazyLock::new(|| room_script(LEAVE));
