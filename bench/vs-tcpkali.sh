#!/usr/bin/env bash
# wsprobe storm against tcpkali, side by side against the same server: one
# `wsprobe serve` process for the whole run, rounds alternating wsprobe and
# tcpkali (at an exact-count connect rate of 20,000/s, and at 40,000/s and
# 80,000/s, where it opens more connections than asked), each client in its
# own process under GNU time.
#
# - Connection rate: timed by the server, not by either client: /health is
#   polled every ~2 ms and the rate is (N-1) / (time of the Nth accepted
#   upgrade - time of the 1st), both interpolated between samples
#   (bench/health-poll.py). "opened" is every upgrade the server accepted in
#   the round (tcpkali's flat-out mode opens more than -c asks for).
# - Memory: GNU time's peak RSS of the whole client process / N.
# - CPU: user + system seconds of the client process for the whole run
#   (connect, hold, close) / N.
# - Echo: both tools at the same offered rate (100 connections x 4,000
#   messages/s) for the same time; delivered messages/s, client CPU per
#   message and the latency each tool reports (wsprobe: HdrHistogram from the
#   intended send time, corrected for coordinated omission; tcpkali: from the
#   actual send, its --latency-marker).
#
# tcpkali is not part of this repository: build tcpkali 1.2 from its source
# (the GitHub repository satori-com/tcpkali, autotools: see its README;
# newer glibc has no <sys/sysctl.h>, which its src/tcpkali_syslimits.c
# includes, so give configure an include directory holding an empty one)
# outside this repository, then put it on PATH or set TCPKALI=/path/to/tcpkali.
#
# Every client run starts once the server's port has no TIME_WAIT sockets
# left (at most 90 s): tcpkali closes first, leaving its 10,000 ports in
# TIME_WAIT for 60 s, and as it binds before connecting, those ports make
# every later connect() on the machine scan the port range (a wsprobe run
# right after tcpkali spent 22 s of CPU in the kernel's __inet_hash_connect).
#
# Usage: bench/vs-tcpkali.sh [CLIENTS] [ROUNDS]   (defaults: 10000, 3)
# Env:   TCPKALI, TK_RATES (default "20000 40000 80000": tcpkali --connect-rate per
#        mode), HOLD (default 2: seconds each client holds its connections),
#        WSPROBE_BIN (another wsprobe build to measure; default: this
#        checkout's release build, built first)
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${1:-10000}
ROUNDS=${2:-3}
HOLD=${HOLD:-2}
TK_RATES=${TK_RATES:-"20000 40000 80000"}
ECHO_CONNS=100
ECHO_RATE=4000 # messages per second per connection
ECHO_SECS=5
BIN=${WSPROBE_BIN:-target/release/wsprobe}
POLL=bench/health-poll.py
TCPKALI=${TCPKALI:-$(command -v tcpkali || true)}
if [ -z "$TCPKALI" ] || [ ! -x "$TCPKALI" ]; then
  echo "bench/vs-tcpkali.sh: skipped: tcpkali not found (set TCPKALI=/path/to/tcpkali or put it on PATH)."
  echo "  Build tcpkali 1.2 from its source, the GitHub repository satori-com/tcpkali (autotools, see its README), outside this repository."
  exit 0
fi
command -v ss >/dev/null || { echo "bench/vs-tcpkali.sh needs ss (iproute2): apt-get install iproute2" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "bench/vs-tcpkali.sh needs GNU time (/usr/bin/time): apt-get install time" >&2; exit 2; }
[ -n "${WSPROBE_BIN:-}" ] || cargo build --release --quiet
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

"$BIN" serve --addr 127.0.0.1:0 > "$WORK/serve.out" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do grep -q "listening on" "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(grep -o 'ws://127.0.0.1:[0-9]*' "$WORK/serve.out" | head -1 | sed 's/.*://')
[ -n "$PORT" ] || { echo "wsprobe serve did not start: $(cat "$WORK/serve.out")" >&2; exit 2; }
URL="ws://127.0.0.1:$PORT/ws"

timev() { grep "$2" "$1" | awk -F': ' '{print $2}'; }
cpu_s() { python3 -c "print(round($(timev "$1" 'User time')+$(timev "$1" 'System time'),2))"; }
TICKS=$(getconf CLK_TCK)
server_cpu() { awk -v t="$TICKS" '{printf "%.2f", ($14+$15)/t}' "/proc/$SERVER_PID/stat"; }
health() { python3 -c "import json,urllib.request; print(json.load(urllib.request.urlopen('http://127.0.0.1:$PORT/health', timeout=2))['$1'])"; }
# Waits (at most 30 s) until the server holds no connection, then (at most
# 90 s) until its port has fewer than 100 TIME_WAIT sockets.
drained() {
  for _ in $(seq 300); do [ "$(health open_connections)" = 0 ] && break; sleep 0.1; done
  [ "$(health open_connections)" = 0 ] || echo "  (the server still holds $(health open_connections) connections)"
  for _ in $(seq 90); do
    [ "$(ss -Htan state time-wait "( sport = :$PORT or dport = :$PORT )" | wc -l)" -lt 100 ] && return
    sleep 1
  done
}

# measured NAME CMD...: runs one client under GNU time while the poller
# watches /health; prints one table row and remembers rate, KiB, us.
declare -A RATE KIB US BASE_KB
measured() {
  local name=$1; shift
  drained
  rm -f "$WORK/stop" "$WORK/poll.ready"
  python3 "$POLL" 127.0.0.1 "$PORT" "$WORK/poll" "$WORK/stop" 120 &
  local poller=$!
  for _ in $(seq 100); do [ -e "$WORK/poll.ready" ] && break; sleep 0.05; done
  local cpu0; cpu0=$(server_cpu)
  /usr/bin/time -v "$@" > "$WORK/out" 2> "$WORK/time" || true
  local cpu1; cpu1=$(server_cpu)
  touch "$WORK/stop"; wait "$poller"
  read -r rate peak opened < <(python3 "$POLL" --rate "$WORK/poll" "$CLIENTS")
  local rss; rss=$(timev "$WORK/time" "Maximum resident")
  local cpu; cpu=$(cpu_s "$WORK/time")
  local kib; kib=$(python3 -c "print(round($rss/$CLIENTS,2))")
  local us; us=$(python3 -c "print(round($cpu/$CLIENTS*1e6,1))")
  local scpu; scpu=$(python3 -c "print(round($cpu1-$cpu0,2))")
  printf '%-6s %-16s %9s %8s %8s %10s KiB %9s %11s %8s %10s\n' "$ROUND" "$name" "$rate" "$opened" "$peak" "$rss" "$kib" "$cpu" "$us" "$scpu"
  RATE[$name]+="$rate "; KIB[$name]+="$kib "; US[$name]+="$us "
}

wsprobe_storm() { measured "wsprobe" "$BIN" storm "$URL" --clients "$CLIENTS" --hold "${HOLD}s" --disrupt none --json; }
tcpkali_at() {
  measured "tcpkali@$1" "$TCPKALI" --ws -c "$CLIENTS" --connect-rate "$1" -T "$((HOLD + 1))s" "127.0.0.1:$PORT/ws"
}

echo "wsprobe storm vs $("$TCPKALI" --version 2>&1 | head -1): $CLIENTS connections, $ROUNDS rounds, one wsprobe serve, $(nproc) cores, $(uname -r)"
# Process baselines: one connection each.
/usr/bin/time -v "$BIN" storm "$URL" --clients 1 --hold 100ms --disrupt none --json > /dev/null 2> "$WORK/base.time" || true
BASE_KB[wsprobe]=$(timev "$WORK/base.time" "Maximum resident")
/usr/bin/time -v "$TCPKALI" --ws -c 1 -T 1s "127.0.0.1:$PORT/ws" > /dev/null 2> "$WORK/base.time" || true
BASE_KB[tcpkali]=$(timev "$WORK/base.time" "Maximum resident")
echo "process baseline (1 connection): wsprobe ${BASE_KB[wsprobe]} KiB, tcpkali ${BASE_KB[tcpkali]} KiB"
echo
printf '%-6s %-16s %9s %8s %8s %14s %9s %11s %8s %10s\n' round client "conn/s" opened "peak" "client RSS" "KiB/conn" "client CPU s" "us/conn" "server CPU s"
for ROUND in $(seq "$ROUNDS"); do
  wsprobe_storm
  for r in $TK_RATES; do tcpkali_at "$r"; done
done

median() { python3 -c "import statistics,sys; v=[float(x) for x in sys.argv[1:] if x!='none']; print(round(statistics.median(v),2) if v else 'none')" "$@"; }
ratio() { python3 -c "import sys; a,b=sys.argv[1:]; print('n/a' if 'none' in (a,b) else round(float(a)/float(b),2))" "$1" "$2"; }
echo
echo "medians over $ROUNDS rounds (ratio = wsprobe / tcpkali; rate: higher is better, memory and CPU: lower is better)"
printf '%-16s %9s %9s %9s\n' client "conn/s" "KiB/conn" "us/conn"
W_RATE=$(median ${RATE[wsprobe]}); W_KIB=$(median ${KIB[wsprobe]}); W_US=$(median ${US[wsprobe]})
printf '%-16s %9s %9s %9s\n' wsprobe "$W_RATE" "$W_KIB" "$W_US"
for r in $TK_RATES; do
  n="tcpkali@$r"
  T_RATE=$(median ${RATE[$n]}); T_KIB=$(median ${KIB[$n]}); T_US=$(median ${US[$n]})
  printf '%-16s %9s %9s %9s   ratios: rate %s, memory %s, CPU %s\n' "$n" "$T_RATE" "$T_KIB" "$T_US" \
    "$(ratio "$W_RATE" "$T_RATE")" "$(ratio "$W_KIB" "$T_KIB")" "$(ratio "$W_US" "$T_US")"
done

# Echo at a fixed offered rate: both tools get the same connections, rate and time.
echo
OFFERED=$((ECHO_CONNS * ECHO_RATE))
INTERVAL_US=$((1000000 / ECHO_RATE))
echo "echo: $ECHO_CONNS connections x $ECHO_RATE messages/s = $OFFERED offered, ${ECHO_SECS}s, 5-byte text message"
printf '%-6s %-8s %12s %10s %12s %12s   %s\n' round client "delivered/s" "of sent" "client CPU s" "us/message" "latency (ms)"
for ROUND in $(seq "$ROUNDS"); do
  drained
  /usr/bin/time -v "$BIN" storm "$URL" --clients "$ECHO_CONNS" --hold "${ECHO_SECS}s" --disrupt none \
    --message hello --message-interval "${INTERVAL_US}us" --json > "$WORK/echo.json" 2> "$WORK/echo.time" || true
  read -r got count share lat < <(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); m=d['messages']; r=d['round_trip_ms']
print(round(m['per_s']), m['received'], '%.4f' % (m['received'] / max(m['sent'], 1)), 'p50 %s p99 %s p99.9 %s max %s (from intended send, HdrHistogram)' % (r['p50'], r['p99'], r['p999'], r['max']))" "$WORK/echo.json" 2>/dev/null || echo "none none none none")
  cpu=$(cpu_s "$WORK/echo.time")
  per=$(python3 -c "print('none' if '$count'=='none' else round($cpu/$count*1e6,2))")
  printf '%-6s %-8s %12s %10s %12s %12s   %s\n' "$ROUND" wsprobe "$got" "$share" "$cpu" "$per" "$lat"
  ECHO_W+="$got "; ECHO_WUS+="$per "
  drained
  /usr/bin/time -v "$TCPKALI" --ws -c "$ECHO_CONNS" --connect-rate 10000 -r "$ECHO_RATE" -m hello \
    --latency-marker hello --latency-percentiles 50,99,99.9,100 -T "${ECHO_SECS}s" "127.0.0.1:$PORT/ws" > "$WORK/tk.out" 2> "$WORK/tk.time" || true
  # Each echo arrives as a 7-byte frame (2-byte header, 5-byte payload); each
# message leaves as an 11-byte one (2-byte header, 4-byte mask, payload).
  read -r got count share lat < <(python3 -c "import re,sys; t=open(sys.argv[1]).read()
b=int(re.search(r'Total data received:.*\((\d+) bytes\)', t).group(1)); o=int(re.search(r'Total data sent:.*\((\d+) bytes\)', t).group(1)); s=float(re.search(r'Test duration: ([\d.]+) s', t).group(1))
l=re.search(r'Message latency at percentiles: ([\d./]+) ms', t); p=l.group(1).split('/') if l else ['?']*4
print(round(b/7/s), b//7, '%.4f' % ((b/7) / max(o/11, 1)), 'p50 %s p99 %s p99.9 %s max %s (from actual send)' % tuple(p))" "$WORK/tk.out" 2>/dev/null || echo "none none none none")
  cpu=$(cpu_s "$WORK/tk.time")
  per=$(python3 -c "print('none' if '$count'=='none' else round($cpu/$count*1e6,2))")
  printf '%-6s %-8s %12s %10s %12s %12s   %s\n' "$ROUND" tcpkali "$got" "$share" "$cpu" "$per" "$lat"
  ECHO_T+="$got "; ECHO_TUS+="$per "
done
echo "median delivered/s: wsprobe $(median $ECHO_W), tcpkali $(median $ECHO_T), ratio $(ratio "$(median $ECHO_W)" "$(median $ECHO_T)")"
echo "median client CPU per delivered message (us): wsprobe $(median $ECHO_WUS), tcpkali $(median $ECHO_TUS)"
