#!/usr/bin/env bash
# Soak under attack: CONNS well-behaved clients (chat_load) chatting in ROOMS rooms at RATE
# posts/s for SECS seconds, twice on a fresh durable throng-chat with its default limits:
# once alone, once while ATTACKERS abusive clients (chat_attack) run every attack of the
# hostile-clients review (post floods under many names, join/leave floods, history
# floods that never read, ping floods, slowloris, ghosts, invalid frames, maximum-size
# frames). Prints the well-behaved side's latency, errors and closes, and the server's
# peak RSS, for both runs.
#
#   benches/scripts/chat_soak.sh
#
# Pass: the well-behaved clients see no error and no close, their p99 stays within 2x of
# the run without attackers, and server RSS stays under RSS_BOUND_MIB.
#
# Addresses: the well-behaved clients connect from 100 loopback addresses
# (127.0.1.1-100, 20 each, under the default per-address caps and budgets); the attackers
# from 10 others (127.0.2.1-10). Server on CPU $SERVER_CPU; generator and attacker share
# CPU $LOAD_CPU (this machine has 2 cores).
#
# Knobs: CONNS (2000), ROOMS (20), RATE (200), SECS (60), ATTACKERS (50), RSS_BOUND_MIB
# (512), SERVER_CPU (0), LOAD_CPU (1), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."

CONNS=${CONNS:-2000}
ROOMS=${ROOMS:-20}
RATE=${RATE:-200}
SECS=${SECS:-60}
ATTACKERS=${ATTACKERS:-50}
RSS_BOUND_MIB=${RSS_BOUND_MIB:-512}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release
LOGS=$TARGET/chat_soak/$(date +%Y%m%d-%H%M%S)
mkdir -p "$LOGS"
SERVER_PID=""
DATA_DIR=""

say() { printf '%s\n' "$*" >&2; }
command -v jq >/dev/null || { say "needs jq (apt-get install jq)"; exit 2; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

say "==> building release binaries"
cargo build --release -q -p throng-chat -p throng-benches --bin throng-chat --bin chat_load --bin chat_attack

pin() {
  PIN=()
  if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then PIN=(taskset -c "$1"); fi
}

ips() { # ips PREFIX N: PREFIX.1,...,PREFIX.N
  local out=() i
  for i in $(seq 1 "$2"); do out+=("$1.$i"); done
  (IFS=,; echo "${out[*]}")
}
GOOD_IPS=$(ips 127.0.1 100)
BAD_IPS=$(ips 127.0.2 10)

start_server() {
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  DATA_DIR=$(mktemp -d)
  pin "$SERVER_CPU"
  RUST_LOG=warn "${PIN[@]}" "$BIN/throng-chat" --listen "127.0.0.1:$PORT" --admin-listen 127.0.0.1:0 \
    --data-dir "$DATA_DIR" >>"$LOGS/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  say "server did not start; see $LOGS/server.log"; exit 1
}

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
  [ -n "$DATA_DIR" ] && rm -rf "$DATA_DIR"
  DATA_DIR=""
}
trap stop_server EXIT

# Peak VmRSS of the server (KiB) while it runs; written to $1 when it stops.
watch_rss() {
  local out=$1 peak=0 kib
  while kill -0 "$SERVER_PID" 2>/dev/null; do
    kib=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)
    [ "${kib:-0}" -gt "$peak" ] && peak=$kib
    echo "$peak" >"$out"
    sleep 0.5
  done
}

run() { # run NAME with|without
  local name=$1 attack=$2
  start_server
  watch_rss "$LOGS/$name.rss" &
  local watcher=$!
  if [ "$attack" = with ]; then
    pin "$LOAD_CPU"
    "${PIN[@]}" "$BIN/chat_attack" --url "ws://127.0.0.1:$PORT/ws" --clients "$ATTACKERS" \
      --duration $((SECS + 15)) --rooms "$ROOMS" --source-ips "$BAD_IPS" >"$LOGS/attack.out" 2>&1 &
    ATTACK_PID=$!
    sleep 3 # the attack is under way before the victims connect
  fi
  pin "$LOAD_CPU"
  "${PIN[@]}" "$BIN/chat_load" --url "ws://127.0.0.1:$PORT/ws" --conns "$CONNS" --rooms "$ROOMS" \
    --rate "$RATE" --duration "${SECS}s" --source-ips "$GOOD_IPS" --server-pid "$SERVER_PID" \
    --json --quiet >"$LOGS/$name.out" 2>"$LOGS/$name.err" || true
  if [ "$attack" = with ]; then wait "$ATTACK_PID" 2>/dev/null || true; fi
  stop_server
  wait "$watcher" 2>/dev/null || true
  tail -n 1 "$LOGS/$name.out"
}

say "==> without attackers ($CONNS clients, $ROOMS rooms, $RATE posts/s, ${SECS}s)"
calm=$(run calm without)
say "==> with $ATTACKERS attackers"
storm=$(run storm with)

row() { # row NAME JSON
  local j=$2 rss
  rss=$(cat "$LOGS/$1.rss" 2>/dev/null || echo 0)
  printf '| %s | %s | %s | %s | %s | %s | %s | %s MiB |\n' "$1" \
    "$(jq -r '.delivered' <<<"$j")/$(jq -r '.expected' <<<"$j")" \
    "$(jq -r '.p50_us/1000' <<<"$j") ms" "$(jq -r '.p99_us/1000' <<<"$j") ms" \
    "$(jq -r '.ack_p99_us/1000' <<<"$j") ms" \
    "$(jq -c '.errors' <<<"$j")" \
    "$(jq -r '(.slow_closes + ([.other_closes[]] | add // 0))' <<<"$j")" \
    "$((rss / 1024))"
}
{
  echo "| run | delivered/expected | p50 | p99 | ack p99 | errors | closes | server peak RSS |"
  echo "|---|---|---|---|---|---|---|---|"
  row calm "$calm"
  row storm "$storm"
  echo
  echo "attackers:"
  sed 's/^/    /' "$LOGS/attack.out"
} | tee "$LOGS/results.md"

p99_calm=$(jq -r '.p99_us' <<<"$calm")
p99_storm=$(jq -r '.p99_us' <<<"$storm")
errs=$(jq -r '([.errors[]] | add // 0) + .slow_closes + ([.other_closes[]] | add // 0)' <<<"$storm")
peak=$(( $(cat "$LOGS/storm.rss") / 1024 ))
verdict=pass
[ "$errs" -eq 0 ] || verdict="FAIL: the well-behaved clients saw $errs errors/closes"
[ "$p99_storm" -le $((2 * p99_calm)) ] || verdict="FAIL: p99 ${p99_storm}us > 2x ${p99_calm}us"
[ "$peak" -le "$RSS_BOUND_MIB" ] || verdict="FAIL: peak RSS ${peak} MiB > ${RSS_BOUND_MIB} MiB"
echo "verdict: $verdict (logs: $LOGS)" | tee -a "$LOGS/results.md"
