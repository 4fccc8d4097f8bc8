#!/usr/bin/env bash
# wsprobe shards benchmark: more WebSocket connections on one machine than
# one process can hold, the way N machines would run them.
#
# SERVERS `wsprobe serve --reuse-port` processes share one port (the kernel
# spreads connections over them); SHARDS `wsprobe storm --shard I/N`
# processes, each from its own loopback source address (its own 28k
# ephemeral ports), start at one shared --start-at instant, hold every
# connection for HOLD, and `wsprobe merge` turns their reports into one.
# Prints the merged report, connections held at once (the merged timeline
# and the servers' own sockets, counted with ss), connections per second,
# and client and server memory and CPU per connection.
#
# Usage: bench/shards.sh [CONNECTIONS] [SERVERS] [SHARDS] [RATE/s] [HOLD]
#        (defaults: 100000 7 6 8000 20s); BENCH_OUT=DIR keeps the reports.
# Bounded: every process runs under `timeout`, the whole script under a
# deadline, and everything it starts is killed by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${1:-100000}
SERVERS=${2:-7}
SHARDS=${3:-6}
RATE=${4:-8000}
HOLD=${5:-20s}
BIN=target/release/wsprobe
DEADLINE=$((SECONDS + 600))
command -v /usr/bin/time >/dev/null || { echo "bench/shards.sh needs GNU time (/usr/bin/time): apt-get install time" >&2; exit 2; }
command -v ss >/dev/null || { echo "bench/shards.sh needs ss (iproute2)" >&2; exit 2; }
PER_SHARD=$(( (CONNECTIONS + SHARDS - 1) / SHARDS ))
PER_SERVER=$(( (CONNECTIONS + SERVERS - 1) / SERVERS ))
HARD=$(ulimit -Hn)
if [ "$PER_SHARD" -gt $((HARD - 200)) ] || [ $((PER_SERVER * 11 / 10)) -gt $((HARD - 200)) ]; then
  echo "bench/shards.sh: $CONNECTIONS connections over $SHARDS shards and $SERVERS servers needs more than the open-file limit of $HARD per process allows: raise SHARDS or SERVERS" >&2
  exit 2
fi
cargo build --release --quiet
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
TICKS=$(getconf CLK_TCK)
cpu_s() { awk -v t="$TICKS" '{printf "%.2f", ($14+$15)/t}' "/proc/$1/stat" 2>/dev/null || echo 0; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
field() { python3 -c "import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split('.'): v=v[int(k)] if isinstance(v,list) else (v or {}).get(k)
print(v)" "$1" "$2"; }

echo "wsprobe shards benchmark: $CONNECTIONS connections, $SERVERS servers (--reuse-port), $SHARDS storm shards, $RATE/s, hold $HOLD"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, open files per process $HARD, ephemeral ports $(tr '\t' - < /proc/sys/net/ipv4/ip_local_port_range)"

# The servers: the first picks a free port, the others share it.
SERVER_PIDS=()
# Each runs under `timeout` (killed by its PID on exit); its numbers are
# read from the wsprobe process under it.
start_server() {
  timeout 900 "$BIN" serve --addr "127.0.0.1:$1" --reuse-port > "$WORK/serve-$2.out" 2>&1 &
  local guard=$!
  PIDS+=("$guard")
  for _ in $(seq 100); do grep -q "listening on" "$WORK/serve-$2.out" 2>/dev/null && break; sleep 0.05; done
  grep -q "listening on" "$WORK/serve-$2.out" || { echo "server $2 did not start: $(cat "$WORK/serve-$2.out")" >&2; exit 2; }
  SERVER_PIDS+=("$(pgrep -P "$guard" | head -1)")
}
start_server 0 0
PORT=$(grep -o '127.0.0.1:[0-9]*' "$WORK/serve-0.out" | head -1 | cut -d: -f2)
for s in $(seq 1 $((SERVERS - 1))); do start_server "$PORT" "$s"; done
URL="ws://127.0.0.1:$PORT/ws?device=dev-{client}"
SERVER_CPU0=0; for p in "${SERVER_PIDS[@]}"; do SERVER_CPU0=$(python3 -c "print($SERVER_CPU0+$(cpu_s "$p"))"); done

# The shards, each from its own loopback source addresses, one shared
# start. At most 10,000 connections per address: Linux hands connect()
# the even half of the ephemeral range first (14k ports here) and slows
# down sharply once that half is used up.
IPS_PER_SHARD=$(( (PER_SHARD + 9999) / 10000 ))
START=$(date -u -d '+4 sec' +%Y-%m-%dT%H:%M:%SZ)
SHARD_PIDS=()
for i in $(seq 0 $((SHARDS - 1))); do
  IPS=""; for j in $(seq 0 $((IPS_PER_SHARD - 1))); do IPS="$IPS${IPS:+,}127.0.$((1 + i)).$((2 + j))"; done
  /usr/bin/time -v -o "$WORK/shard-$i.time" timeout 600 "$BIN" storm "$URL" --clients "$CONNECTIONS" \
    --connect-rate "$RATE/s" --hold "$HOLD" --disrupt none --max-pending 500 --source-ip "$IPS" \
    --shard "$i/$SHARDS" --start-at "$START" --json > "$WORK/shard-$i.json" 2> "$WORK/shard-$i.err" &
  PIDS+=($!); SHARD_PIDS+=($!)
done

# While they hold: the servers' established connections (ss) and memory, at their peak.
PEAK_SS=0; PEAK_AT=""; PER_SERVER_FDS=""; PEAK_SERVER_RSS=0
alive() { for p in "${SHARD_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
while alive && [ $SECONDS -lt $DEADLINE ]; do
  n=$(ss -Htn state established "( sport = :$PORT )" 2>/dev/null | wc -l)
  if [ "$n" -gt "$PEAK_SS" ]; then
    PEAK_SS=$n; PEAK_AT=$(date -u +%H:%M:%S); PER_SERVER_FDS=""; PEAK_SERVER_RSS=0
    for p in "${SERVER_PIDS[@]}"; do
      PER_SERVER_FDS="$PER_SERVER_FDS $(ls /proc/$p/fd 2>/dev/null | wc -l)"
      PEAK_SERVER_RSS=$((PEAK_SERVER_RSS + $(status_kb "$p" VmRSS)))
    done
  fi
  sleep 1
done
for p in "${SHARD_PIDS[@]}"; do wait "$p" || true; done

SERVER_CPU=0; SERVER_HWM=0
for p in "${SERVER_PIDS[@]}"; do
  SERVER_CPU=$(python3 -c "print($SERVER_CPU+$(cpu_s "$p"))"); SERVER_HWM=$((SERVER_HWM + $(status_kb "$p" VmHWM)))
done
SERVER_CPU=$(python3 -c "print(round($SERVER_CPU-$SERVER_CPU0,2))")

echo
printf '%-6s %10s %10s %12s %12s %14s %12s %10s\n' shard clients connected "conn/s" "late s" "client RSS" "KiB/conn" "CPU s"
CLIENT_RSS=0; CLIENT_CPU=0
for i in $(seq 0 $((SHARDS - 1))); do
  f="$WORK/shard-$i.json"; t="$WORK/shard-$i.time"
  rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$t"); CLIENT_RSS=$((CLIENT_RSS + rss))
  cpu=$(awk -F': ' '/User time|System time/ {s+=$2} END {printf "%.2f", s}' "$t"); CLIENT_CPU=$(python3 -c "print($CLIENT_CPU+$cpu)")
  n=$(field "$f" connected)
  printf '%-6s %10s %10s %12s %12s %11s KiB %12s %10s\n' "$i/$SHARDS" "$(field "$f" clients)" "$n" "$(field "$f" connections_per_s)" \
    "$(field "$f" start.late_s)" "$rss" "$(python3 -c "print(round($rss/max($n,1),2))")" "$cpu"
done

echo
"$BIN" merge "$WORK"/shard-*.json --out "$WORK/merged.json" --quiet > /dev/null || true
"$BIN" merge "$WORK"/shard-*.json | sed -n '1,12p' || true
M="$WORK/merged.json"
CONNECTED=$(field "$M" connected)
echo
echo "merged: verdict $(field "$M" verdict), $CONNECTED/$(field "$M" clients) connected, $(field "$M" gave_up) gave up, attempts $(field "$M" attempts), failed attempts $(field "$M" rejections)"
echo "held at once: $(field "$M" peak_concurrent) (merged timeline: open connections at the end of the busiest second)"
echo "held at once, server side: $PEAK_SS established sockets on port $PORT at $PEAK_AT UTC (ss); per server process (open files):$PER_SERVER_FDS"
echo "connections/s: $(field "$M" connections_per_s) over the union of the shards' windows, $(field "$M" steady_connections_per_s) steady (whole seconds every shard was connecting)"
echo "first-wave handshake ms: $(field "$M" handshake_ms)"
echo "client: $CLIENT_RSS KiB peak RSS over $SHARDS processes = $(python3 -c "print(round($CLIENT_RSS/max($CONNECTED,1),2))") KiB per connection; $(python3 -c "print(round($CLIENT_CPU,2))") CPU s = $(python3 -c "print(round($CLIENT_CPU/max($CONNECTED,1)*1e6,1))") us per connection"
echo "server: $PEAK_SERVER_RSS KiB RSS at the peak ($SERVER_HWM KiB peak) over $SERVERS processes = $(python3 -c "print(round($PEAK_SERVER_RSS/max($PEAK_SS,1),2))") KiB per connection; $SERVER_CPU CPU s = $(python3 -c "print(round($SERVER_CPU/max($CONNECTED,1)*1e6,1))") us per connection"
echo "command: bench/shards.sh $CONNECTIONS $SERVERS $SHARDS $RATE $HOLD"
if [ -n "${BENCH_OUT:-}" ]; then mkdir -p "$BENCH_OUT" && cp "$WORK"/*.json "$BENCH_OUT"/ && echo "reports kept in $BENCH_OUT"; fi
