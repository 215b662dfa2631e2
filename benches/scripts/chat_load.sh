#!/usr/bin/env bash
# Load scenarios for throng-chat against the common-style baseline (benches/src/baseline),
# driven by chat_load (benches/src/load). Usage:
#
#   benches/scripts/chat_load.sh saturation|idle|mixed|all
#
# - saturation: one room of 1,000 members; the offered post rate steps up (RATES) until
#   p99 delivery latency > 50 ms, a slow-consumer close, an error, a lost delivery, or the
#   generator failing to offer the rate. The saturation rate is the highest passing step.
#   Both servers, same run; each step on a fresh server process. PAST_FAIL more steps
#   run after the first failure (for the chart; they do not change the verdict). Every
#   step is a row of saturation.csv (offered and achieved rate, p50, p99, max, lost,
#   duplicates, closes, generator CPU per frame, server CPU) and the run ends with
#   saturation.svg, p50 and p99 against offered rate for every server (chat_chart).
# - idle: 10,000 connections (hello + join one of 100 rooms), held; server RSS before and
#   with all held (VmRSS), KiB per connection. Target for throng-chat: <= 16.
# - mixed: 100 rooms x 100 members (10,000 connections) for 60 s at MIXED_RATE posts/s
#   from MIXED_POSTERS connections (each well under the default 20 posts/s); pass = no
#   error, no slow-consumer or other close, every delivery made.
#
# The machine has 2 cores and the generator shares it: the server is pinned to CPU
# $SERVER_CPU and the generator to CPU $LOAD_CPU with taskset (when present and there
# are >= 2 CPUs), so each gets one core and neither steals the other's.
#
# throng-chat runs with its default limits except the connection caps (raised for
# 10,000 local connections) and the per-address budget factor (1000: every generator
# connection comes from 127.0.0.1 but stands for a user of its own; each connection keeps
# its default per-client budgets). Saturation and idle use --memory (the baseline keeps no
# history either, so both do the same work); mixed uses the default durable history
# (SQLite in a temporary data dir). DURABLE=1 makes saturation durable too; or name
# `throng-durable` in SERVERS to run both in one go (SERVERS="throng throng-durable
# baseline").
#
# On a machine others use too (Linux with autogroup scheduling, the default on desktops
# and many VMs), every session gets an equal share of each core whatever the nice values
# inside it, so a compile in another session halves the server's core. AUTOGROUP_NICE=-10
# runs the scenarios in a session of their own with that autogroup nice (root only):
# the server and the generator then get ~98 % of their cores instead of ~50 %. It slows
# everyone else's work down for the length of the run.
#
# Knobs (environment): RATES, STEP_SECS (10), WARMUP_SECS (2), MIXED_SECS (60),
# MIXED_RATE (500), MIXED_POSTERS (1000), IDLE_CONNS (10000), SERVER_CPU (0),
# LOAD_CPU (1), SERVERS ("throng baseline"), PAST_FAIL (1), SAMPLE (1: every member
# times its deliveries; N: one in N), CHART (also copy saturation.svg there),
# AUTOGROUP_NICE, CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -n "${AUTOGROUP_NICE:-}" ] && [ -z "${CHAT_LOAD_SESSION:-}" ]; then
  CHAT_LOAD_SESSION=1 exec setsid -w "$0" "$@"
fi
if [ -n "${AUTOGROUP_NICE:-}" ]; then
  echo "$AUTOGROUP_NICE" >/proc/self/autogroup ||
    printf 'warning: could not set the autogroup nice (%s)\n' "$AUTOGROUP_NICE" >&2
fi

RATES=${RATES:-"10 25 50 100 150 200 250 300 400 500 600 800 1000 1200 1600 2000"}
STEP_SECS=${STEP_SECS:-10}
WARMUP_SECS=${WARMUP_SECS:-2}
MIXED_SECS=${MIXED_SECS:-60}
MIXED_RATE=${MIXED_RATE:-500}
MIXED_POSTERS=${MIXED_POSTERS:-1000}
IDLE_CONNS=${IDLE_CONNS:-10000}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SERVERS=${SERVERS:-"throng baseline"}
PAST_FAIL=${PAST_FAIL:-1}
SAMPLE=${SAMPLE:-1}
CHART=${CHART:-}
P99_LIMIT_US=50000
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release
LOGS=$TARGET/chat_load/$(date +%Y%m%d-%H%M%S)
mkdir -p "$LOGS"
RESULTS=$LOGS/results.md
SERVER_PID=""
DATA_DIR=""

say() { printf '%s\n' "$*" >&2; }

build() {
  say "==> building release binaries (once)"
  cargo build --release -q -p throng-chat -p throng-benches --bin chat_load --bin chat_baseline --bin chat_chart --bin throng-chat
}

command -v jq >/dev/null || { say "needs jq (apt-get install jq)"; exit 2; }

# Each process may hold 10,000+ sockets.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" -lt 10100 ]; then
  say "warning: open-file limit $(ulimit -n) < 10100; the 10,000-connection scenarios need more (as root: ulimit -Hn 65536)"
fi

# pin CPU: the command prefix that runs on CPU (nothing without taskset or on one CPU).
# Used as a plain prefix so that `"${prefix[@]}" cmd &` leaves cmd's own pid in $!
# (taskset execs).
pin() {
  PIN=()
  if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN=(taskset -c "$1")
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000))
}

# start_server throng|throng-durable|baseline [durable]: sets SERVER_PID and PORT.
start_server() {
  local kind=$1 durable=${2:-}
  PORT=$(free_port)
  pin "$SERVER_CPU"
  if [ "$kind" = throng-durable ]; then
    kind=throng durable=durable
  fi
  case $kind in
    throng)
      local store=(--memory)
      if [ -n "$durable" ]; then
        DATA_DIR=$(mktemp -d)
        store=(--data-dir "$DATA_DIR")
      fi
      RUST_LOG=warn "${PIN[@]}" "$BIN/throng-chat" --listen "127.0.0.1:$PORT" "${store[@]}" \
        --max-connections 20000 --max-connections-per-ip 20000 --address-budget-factor 1000 >>"$LOGS/server-$kind.log" 2>&1 &
      ;;
    baseline)
      "${PIN[@]}" "$BIN/chat_baseline" --listen "127.0.0.1:$PORT" >>"$LOGS/server-$kind.log" 2>&1 &
      ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  say "server $kind did not start; see $LOGS/server-$kind.log"
  exit 1
}

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 150); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
  if [ -n "$DATA_DIR" ]; then
    rm -rf "$DATA_DIR"
    DATA_DIR=""
  fi
}
trap stop_server EXIT

# load NAME ARGS...: runs the generator against the current server; prints its JSON line.
load() {
  local name=$1
  shift
  pin "$LOAD_CPU"
  "${PIN[@]}" "$BIN/chat_load" --url "ws://127.0.0.1:$PORT/ws" --json --sample "$SAMPLE" "$@" \
    >"$LOGS/$name.out" 2>"$LOGS/$name.err" || true
  tail -n 1 "$LOGS/$name.out"
}

# field JSON KEY: a number from the summary line.
field() { jq -r ".$2 // 0" <<<"$1"; }
sum_map() { jq -r "[.$2[]?] | add // 0" <<<"$1"; }
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }

row() { printf '%s\n' "$*" | tee -a "$RESULTS"; }

# label KIND: the server's name in the CSV and the chart.
label() {
  case $1 in
    throng) if [ -n "${DURABLE:-}" ]; then echo "throng-chat durable"; else echo "throng-chat memory"; fi ;;
    throng-durable) echo "throng-chat durable" ;;
    *) echo "$1" ;;
  esac
}

saturation() {
  local csv=$LOGS/saturation.csv
  echo "server,offered,sent_per_sec,delivered_per_sec,p50_ms,p99_ms,p999_ms,max_ms,ack_p50_ms,ack_p99_ms,lost,seq_gaps,seq_dups,errors,slow_closes,other_closes,server_cpu_pct,generator_cpu_pct,generator_us_per_frame,pass" >"$csv"
  row ""
  row "### saturation: 1 room x 1,000 members, ${STEP_SECS} s per step (+${WARMUP_SECS} s warmup), latency timed on 1 member in ${SAMPLE}"
  row ""
  row "| server | offered posts/s | sent/s | delivered msg/s | p50 ms | p99 ms | p999 ms | max ms | ack p50 ms | ack p99 ms | errors | slow closes | other closes | lost | seq gaps/dups | server CPU % | generator CPU % | generator µs/frame | pass |"
  row "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  local kind
  declare -gA SAT
  for kind in $SERVERS; do
    SAT[$kind]=0
    local failed=0 past=0
    for rate in $RATES; do
      start_server "$kind" "${DURABLE:+durable}"
      local j
      j=$(load "sat-$kind-$rate" --conns 1000 --rooms 1 --rate "$rate" --server-pid "$SERVER_PID" \
        --duration "${STEP_SECS}s" --warmup "${WARMUP_SECS}s")
      stop_server
      if [ -z "$j" ]; then
        row "| $kind | $rate | generator failed, see $LOGS/sat-$kind-$rate.err |"
        break
      fi
      local sent_ps delivered_ps p50 p99 p999 max ack_p50 ack_p99 errors slow other held expected delivered lost gaps dups per_frame pass=yes
      sent_ps=$(field "$j" sent_per_sec)
      delivered_ps=$(field "$j" delivered_per_sec)
      p50=$(field "$j" p50_us) p99=$(field "$j" p99_us) p999=$(field "$j" p999_us) max=$(field "$j" max_us)
      ack_p50=$(field "$j" ack_p50_us) ack_p99=$(field "$j" ack_p99_us)
      errors=$(sum_map "$j" errors) slow=$(field "$j" slow_closes) other=$(sum_map "$j" other_closes)
      held=$(field "$j" held) expected=$(field "$j" expected) delivered=$(field "$j" delivered)
      gaps=$(field "$j" seq_gaps) dups=$(field "$j" seq_dups)
      per_frame=$(printf %.2f "$(field "$j" generator_cpu_us_per_frame)")
      lost=$((expected - delivered))
      if [ "$p99" -gt "$P99_LIMIT_US" ] || [ "$slow" -ne 0 ] || [ "$errors" -ne 0 ] ||
        [ "$other" -ne 0 ] || [ "$lost" -ne 0 ] || [ "$held" -ne 1000 ] ||
        [ "$gaps" -ne 0 ] || [ "$dups" -ne 0 ] ||
        awk -v s="$sent_ps" -v r="$rate" 'BEGIN { exit !(s < 0.95 * r) }'; then
        pass=no
      fi
      row "| $kind | $rate | $(printf %.0f "$sent_ps") | $(printf %.0f "$delivered_ps") | $(ms "$p50") | $(ms "$p99") | $(ms "$p999") | $(ms "$max") | $(ms "$ack_p50") | $(ms "$ack_p99") | $errors | $slow | $other | $lost | $gaps/$dups | $(printf %.0f "$(field "$j" server_cpu_pct)") | $(printf %.0f "$(field "$j" generator_cpu_pct)") | $per_frame | $pass |"
      echo "$(label "$kind"),$rate,$(printf %.1f "$sent_ps"),$(printf %.0f "$delivered_ps"),$(ms "$p50"),$(ms "$p99"),$(ms "$p999"),$(ms "$max"),$(ms "$ack_p50"),$(ms "$ack_p99"),$lost,$gaps,$dups,$errors,$slow,$other,$(printf %.0f "$(field "$j" server_cpu_pct)"),$(printf %.0f "$(field "$j" generator_cpu_pct)"),$per_frame,$pass" >>"$csv"
      if [ "$failed" = 1 ]; then
        past=$((past + 1))
      elif [ "$pass" = no ]; then
        failed=1
      else
        SAT[$kind]=$rate
      fi
      if [ "$failed" = 1 ] && [ "$past" -ge "$PAST_FAIL" ]; then break; fi
    done
  done
  row ""
  for kind in $SERVERS; do row "saturation $kind: ${SAT[$kind]} posts/s"; done
  if [ -n "${SAT[throng]:-}" ] && [ -n "${SAT[baseline]:-}" ] && [ "${SAT[baseline]}" -gt 0 ]; then
    row "ratio throng/baseline: $(awk -v a="${SAT[throng]}" -v b="${SAT[baseline]}" 'BEGIN { printf "%.2f", a / b }')"
  fi
  "$BIN/chat_chart" --out "$LOGS/saturation.svg" \
    --title "1 room x 1,000 members: delivery latency against offered rate ($(date -u +%Y-%m-%d), $(nproc) CPUs, server and generator one core each)" \
    "$csv" || say "chat_chart failed"
  if [ -n "$CHART" ] && [ -f "$LOGS/saturation.svg" ]; then
    mkdir -p "$(dirname "$CHART")"
    cp "$LOGS/saturation.svg" "$CHART"
  fi
  row ""
  row "per-step CSV: $csv; chart: $LOGS/saturation.svg${CHART:+ (copied to $CHART)}"
}

idle() {
  row ""
  row "### idle: ${IDLE_CONNS} connections over 100 rooms, held"
  row ""
  row "| server | held | failed | RSS before KiB | RSS held KiB | KiB/conn |"
  row "|---|---|---|---|---|---|"
  local kind
  for kind in $SERVERS; do
    start_server "$kind"
    local j
    j=$(load "idle-$kind" --idle --conns "$IDLE_CONNS" --rooms 100 --duration 5s --server-pid "$SERVER_PID")
    stop_server
    row "| $kind | $(field "$j" held) | $(field "$j" connect_failures) | $(field "$j" server_rss_before_kib) | $(field "$j" server_rss_held_kib) | $(printf %.1f "$(field "$j" server_kib_per_conn)") |"
  done
}

mixed() {
  row ""
  row "### mixed: 100 rooms x 100 members, ${MIXED_RATE} posts/s from ${MIXED_POSTERS} posters, ${MIXED_SECS} s (throng-chat durable)"
  row ""
  row "| server | held | sent/s | delivered msg/s | lost | p50 ms | p99 ms | max ms | ack p50 ms | ack p99 ms | errors | rate_limited | slow closes | other closes | server CPU % | generator CPU % | pass |"
  row "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  local kind
  for kind in $SERVERS; do
    start_server "$kind" durable
    local j
    j=$(load "mixed-$kind" --server-pid "$SERVER_PID" --conns 10000 --rooms 100 --rate "$MIXED_RATE" --posters "$MIXED_POSTERS" \
      --duration "${MIXED_SECS}s" --warmup "${WARMUP_SECS}s")
    stop_server
    local errors slow other lost pass=yes
    errors=$(sum_map "$j" errors) slow=$(field "$j" slow_closes) other=$(sum_map "$j" other_closes)
    lost=$(($(field "$j" expected) - $(field "$j" delivered)))
    if [ "$errors" -ne 0 ] || [ "$slow" -ne 0 ] || [ "$other" -ne 0 ] || [ "$lost" -ne 0 ] ||
      [ "$(field "$j" seq_gaps)" -ne 0 ] || [ "$(field "$j" seq_dups)" -ne 0 ] ||
      [ "$(field "$j" held)" -ne 10000 ]; then
      pass=no
    fi
    row "| $kind | $(field "$j" held) | $(printf %.0f "$(field "$j" sent_per_sec)") | $(printf %.0f "$(field "$j" delivered_per_sec)") | $lost | $(ms "$(field "$j" p50_us)") | $(ms "$(field "$j" p99_us)") | $(ms "$(field "$j" max_us)") | $(ms "$(field "$j" ack_p50_us)") | $(ms "$(field "$j" ack_p99_us)") | $errors | $(field "$j" rate_limited) | $slow | $other | $(printf %.0f "$(field "$j" server_cpu_pct)") | $(printf %.0f "$(field "$j" generator_cpu_pct)") | $pass |"
  done
}

case "${1:-}" in
  saturation | idle | mixed) build; row "chat load, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(cat /proc/self/autogroup 2>/dev/null || echo no autogroup)"; "$1" ;;
  all) build; row "chat load, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(cat /proc/self/autogroup 2>/dev/null || echo no autogroup)"; saturation; idle; mixed ;;
  *)
    say "usage: $0 saturation|idle|mixed|all"
    exit 2
    ;;
esac
say "results in $RESULTS; generator and server logs in $LOGS"
