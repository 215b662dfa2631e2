#!/usr/bin/env bash
# throng-chat on 1, 2 and 3 nodes over one Redis (one machine: this shows the overhead of
# going through Redis, not a speed-up). For each node count: a fresh redis-server
# (appendonly yes, appendfsync everysec), N nodes, chat_load with its connections spread
# over the nodes (1 room x CONNS members); the offered post rate steps up (RATES) until
# p99 delivery latency > 50 ms or anything is lost or refused. Reports the highest
# passing rate (delivered messages/s), Redis CPU per 1 000 posts at that step, and, at
# 10 posts/s, post -> ack latency against the single-node SQLite server (durable, the
# default) and the single-node memory server.
#
#   benches/scripts/chat_redis.sh
#
# Knobs: CONNS (1000), RATES ("25 50 100 150 200 300 400 500 600 800"), STEP_SECS (10),
# NODES ("1 2 3"), SERVER_CPU (0: nodes and Redis), LOAD_CPU (1), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."

CONNS=${CONNS:-1000}
RATES=${RATES:-"25 50 100 150 200 300 400 500 600 800"}
STEP_SECS=${STEP_SECS:-10}
NODES=${NODES:-"1 2 3"}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release
LOGS=$TARGET/chat_redis/$(date +%Y%m%d-%H%M%S)
mkdir -p "$LOGS"
PIDS=()
REDIS_PID=""
TMP=$(mktemp -d)

say() { printf '%s\n' "$*" >&2; }
command -v jq >/dev/null || { say "needs jq"; exit 2; }
command -v redis-server >/dev/null || { say "needs redis-server (apt-get install redis-server)"; exit 2; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
say "==> building release binaries"
cargo build --release -q -p throng-chat -p throng-benches --bin throng-chat --bin chat_load

pin() { PIN=(); if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then PIN=(taskset -c "$1"); fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; say "nothing on port $1"; exit 1; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

stop_all() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  PIDS=()
  if [ -n "$REDIS_PID" ]; then kill -TERM "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; REDIS_PID=""; fi
}
trap 'stop_all; rm -rf "$TMP"' EXIT

# start N [local|memory]: N nodes over a fresh Redis, or one node without Redis; sets URLS.
start() {
  local n=$1 mode=${2:-redis} urls=() i port rport
  pin "$SERVER_CPU"
  local args=()
  if [ "$mode" = redis ]; then
    rport=$(free_port)
    rm -rf "$TMP/redis" && mkdir -p "$TMP/redis"
    "${PIN[@]}" redis-server --port "$rport" --bind 127.0.0.1 --dir "$TMP/redis" --save "" \
      --appendonly yes --appendfsync everysec >"$LOGS/redis.log" 2>&1 &
    REDIS_PID=$!
    wait_port "$rport"
    args=(--redis "redis://127.0.0.1:$rport")
  elif [ "$mode" = memory ]; then
    args=(--memory)
  else
    rm -rf "$TMP/data" && args=(--data-dir "$TMP/data")
  fi
  for i in $(seq 1 "$n"); do
    port=$(free_port)
    RUST_LOG=warn "${PIN[@]}" "$BIN/throng-chat" --listen "127.0.0.1:$port" --admin-listen 127.0.0.1:0 \
      "${args[@]}" --address-budget-factor 1000 >>"$LOGS/node.log" 2>&1 &
    PIDS+=($!)
    wait_port "$port"
    urls+=("ws://127.0.0.1:$port/ws")
  done
  URLS=$(IFS=,; echo "${urls[*]}")
}

load() { # load RATE: one chat_load step; prints its JSON line
  pin "$LOAD_CPU"
  "${PIN[@]}" "$BIN/chat_load" --url "$URLS" --conns "$CONNS" --rooms 1 --rate "$1" \
    --duration "${STEP_SECS}s" --json --quiet 2>>"$LOGS/load.err" | tail -n 1
}

echo "| nodes | highest rate with p99 <= 50 ms | delivered msg/s | p99 ms | Redis CPU ms per 1 000 posts |" | tee "$LOGS/results.md"
echo "|---|---|---|---|---|" | tee -a "$LOGS/results.md"
for n in $NODES; do
  best="-"; best_del=0; best_p99="-"; best_cpu="-"
  for rate in $RATES; do
    start "$n"
    # Redis CPU over 9 s of steady posting: from 3.5 s (connected, warm) to 12.5 s.
    ( sleep 3.5; cpu_ticks "$REDIS_PID" >"$TMP/t0"; sleep 9; cpu_ticks "$REDIS_PID" >"$TMP/t1" ) &
    sampler=$!
    j=$(load "$rate")
    wait "$sampler" 2>/dev/null || true
    t0=$(cat "$TMP/t0"); t1=$(cat "$TMP/t1")
    stop_all
    echo "$n nodes, $rate/s: $j" >>"$LOGS/steps.log"
    p99=$(jq -r '.p99_us' <<<"$j"); del=$(jq -r '.delivered' <<<"$j"); exp=$(jq -r '.expected' <<<"$j")
    errs=$(jq -r '([.errors[]] | add // 0) + .slow_closes + ([.other_closes[]] | add // 0)' <<<"$j")
    if [ "$p99" -le 50000 ] && [ "$del" -ge "$exp" ] && [ "$errs" -eq 0 ]; then
      best=$rate; best_del=$(jq -r '.delivered_per_sec | floor' <<<"$j"); best_p99=$(jq -r '.p99_us/1000' <<<"$j")
      ticks=$((t1 - t0)); hz=$(getconf CLK_TCK)
      best_cpu=$(awk -v t="$ticks" -v hz="$hz" -v r="$rate" 'BEGIN { printf "%.1f", t * 1000 / hz * 1000 / (r * 9) }')
    else
      break
    fi
  done
  echo "| $n | $best posts/s | $best_del | $best_p99 | $best_cpu |" | tee -a "$LOGS/results.md"
done

echo | tee -a "$LOGS/results.md"
echo "| 1 node at 10 posts/s, $CONNS members | ack p50 ms | ack p99 ms | delivery p50 ms | delivery p99 ms |" | tee -a "$LOGS/results.md"
echo "|---|---|---|---|---|" | tee -a "$LOGS/results.md"
for mode in memory local redis; do
  start 1 "$mode"
  j=$(load 10)
  stop_all
  echo "| $mode | $(jq -r '.ack_p50_us/1000' <<<"$j") | $(jq -r '.ack_p99_us/1000' <<<"$j") | $(jq -r '.p50_us/1000' <<<"$j") | $(jq -r '.p99_us/1000' <<<"$j") |" | tee -a "$LOGS/results.md"
done
say "results in $LOGS/results.md"
