#!/usr/bin/env bash
# wsprobe storm benchmark: `wsprobe serve` in one process, `wsprobe storm`
# in another, on this machine. Prints connections per second for WebSocket
# and for plain TCP (--tcp-only, the baseline measured in the same run),
# client peak RSS per held connection (GNU time), CPU seconds, the server's
# peak RSS per connection and CPU seconds, TCP segments per connection while
# connecting (nstat, when installed), and echo round trips on 100
# connections.
#
# Usage: bench/storm.sh [CLIENTS] [ROUNDS]   (defaults: 10000, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${1:-10000}
ROUNDS=${2:-3}
BIN=target/release/wsprobe
command -v /usr/bin/time >/dev/null || { echo "bench/storm.sh needs GNU time (/usr/bin/time): apt-get install time" >&2; exit 2; }
cargo build --release --quiet
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

start_server() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  "$BIN" serve --addr 127.0.0.1:0 > "$WORK/serve.out" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 50); do grep -q "listening on" "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
  URL="$(grep -o 'ws://[0-9.:]*' "$WORK/serve.out" | head -1)/ws?device=dev-{client}"
}

field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); v=d
for k in sys.argv[2].split('.'): v=v[k] if v is not None else None
print(v)" "$1" "$2"; }
timev() { grep "$2" "$1" | awk -F': ' '{print $2}'; }

# storm MODE_FLAG OUT_PREFIX: one 10k run, JSON + GNU time output
storm() {
  /usr/bin/time -v "$BIN" storm "$URL" --clients "$CLIENTS" --hold 2s --disrupt none $1 --json > "$2.json" 2> "$2.time" || true
}

echo "wsprobe storm benchmark: $CLIENTS clients, $ROUNDS rounds, $(nproc) cores, $(uname -r)"
start_server
"$BIN" storm "$URL" --clients 1 --hold 100ms --json > /dev/null 2> /dev/null
/usr/bin/time -v "$BIN" storm "$URL" --clients 1 --hold 100ms --disrupt none --json > "$WORK/base.json" 2> "$WORK/base.time"
BASE_KB=$(timev "$WORK/base.time" "Maximum resident")

TICKS=$(getconf CLK_TCK)
# CPU seconds a process has used so far (user + system), from /proc.
proc_cpu() { awk -v t="$TICKS" '{printf "%.2f", ($14+$15)/t}' "/proc/$1/stat"; }

printf '\n%-7s %-10s %12s %10s %10s %12s %14s %12s %12s\n' round mode "conn/s" "p50 ms" "p99 ms" "client RSS" "KiB/conn" "client CPU s" "server CPU s"
WS_RATES=(); TCP_RATES=(); WS_KIB=(); WS_US=(); TCP_US=()
for r in $(seq "$ROUNDS"); do
  for mode in ws tcp; do
    start_server
    flag=""; [ "$mode" = tcp ] && flag="--tcp-only"
    storm "$flag" "$WORK/$mode$r"
    ok=$(field "$WORK/$mode$r.json" connected)
    rate=$(field "$WORK/$mode$r.json" connections_per_s)
    p50=$(field "$WORK/$mode$r.json" handshake_ms.p50); p99=$(field "$WORK/$mode$r.json" handshake_ms.p99)
    rss=$(timev "$WORK/$mode$r.time" "Maximum resident")
    cpu=$(python3 -c "print(round($(timev "$WORK/$mode$r.time" 'User time')+$(timev "$WORK/$mode$r.time" 'System time'),2))")
    kib=$(python3 -c "print(round($rss/$CLIENTS*1.0,2))")
    server_cpu=$(proc_cpu "$SERVER_PID")
    us=$(python3 -c "print(round(($cpu+$server_cpu)/$CLIENTS*1e6,1))")
    printf '%-7s %-10s %12s %10s %10s %9s KiB %14s %12s %12s   (%s connected)\n' "$r" "$mode" "$rate" "$p50" "$p99" "$rss" "$kib" "$cpu" "$server_cpu" "$ok"
    if [ "$mode" = ws ]; then
      WS_RATES+=("$rate"); WS_KIB+=("$kib"); WS_US+=("$us")
      SERVER_HWM=$(awk '/VmHWM/ {print $2}' /proc/$SERVER_PID/status)
      SERVER_KIB=$(python3 -c "print(round($SERVER_HWM/$CLIENTS,2))")
      echo "        server peak RSS ${SERVER_HWM} KiB = ${SERVER_KIB} KiB per connection"
    else
      TCP_RATES+=("$rate"); TCP_US+=("$us")
    fi
  done
done

median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
WS_MED=$(median "${WS_RATES[@]}"); TCP_MED=$(median "${TCP_RATES[@]}")
echo
echo "median WebSocket connections/s: $WS_MED"
echo "median TCP-only connections/s:  $TCP_MED"
echo "ratio WebSocket / TCP-only:     $(python3 -c "print(round($WS_MED/$TCP_MED,2))")"
echo "client peak RSS per held connection (median, whole process): $(median "${WS_KIB[@]}") KiB   (target <= 3 KiB)"
echo "client process baseline (1 client): $BASE_KB KiB"
echo "CPU per connection, whole run, client + server (median): ws $(median "${WS_US[@]}") us, tcp $(median "${TCP_US[@]}") us"

# TCP segments sent per connection while connecting: the wire cost of the
# upgrade. nstat counts the whole machine, so run this on an idle one.
if command -v nstat >/dev/null; then
  # segments FLAG: sets SEGMENTS (not run in a subshell, so the server it
  # starts stays known to cleanup).
  segments() {
    start_server
    nstat -n
    "$BIN" storm "$URL" --clients 2000 --hold 3s --disrupt none $1 --json > /dev/null 2>&1 &
    local client=$!
    sleep 1.5
    SEGMENTS=$(nstat TcpOutSegs 2>/dev/null | awk '/TcpOutSegs/ {printf "%.2f", $2/2000}')
    wait "$client" || true
  }
  segments ""; WS_SEGMENTS=$SEGMENTS
  segments --tcp-only; TCP_SEGMENTS=$SEGMENTS
  echo "TCP segments sent per connection while connecting (nstat): ws $WS_SEGMENTS, tcp $TCP_SEGMENTS"
fi

start_server
"$BIN" storm "$URL" --clients 100 --hold 5s --disrupt none --message hello --message-interval 250us --json > "$WORK/echo.json" 2>/dev/null || true
echo
echo "echo on 100 connections, 4000 msg/s each: $(field "$WORK/echo.json" messages.per_s) messages/s received   (target >= 200000)"
echo "  round trip from intended send (ms): $(field "$WORK/echo.json" round_trip_ms)"
