#!/usr/bin/env bash
# wsprobe fanout benchmark: one publisher broadcasting to N clients, against
# the embedded reference server (same process) and against a `wsprobe serve`
# process (separate process, like a real server). Prints, per target and
# round, messages delivered per second (receipts / time from the first
# publish to the last receipt), the publish → receipt latency percentiles
# and the fan-out spread (first to last receipt of one broadcast).
#
# Publishers: `--messages M` rounds, round m published by client m mod N,
# so with M <= N each of the first M clients publishes one broadcast and
# every broadcast goes to all N clients.
#
# Usage: bench/fanout.sh [CLIENTS] [MESSAGES] [ROUNDS]   (defaults: 5000, 20, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${1:-5000}
MESSAGES=${2:-20}
ROUNDS=${3:-3}
BIN=target/release/wsprobe
cargo build --release --quiet
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

"$BIN" serve --addr 127.0.0.1:0 > "$WORK/serve.out" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do grep -q "listening on" "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
URL="$(grep -o 'ws://[0-9.:]*' "$WORK/serve.out" | head -1)/ws?device=dev-{client}"

# summary FILE LABEL ROUND: one line from a fanout --json report
summary() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
lat, spread = d.get("latency_ms") or {}, d.get("spread_ms") or {}
print(f"{sys.argv[2]:<9} {sys.argv[3]:<5} {d['verdict']:<5} {d['delivered']:>7}/{d['expected']:<7} "
      f"{d.get('deliveries_per_s') or 0:>10,.0f}/s  "
      f"p50 {lat.get('p50', 0):7.2f} p90 {lat.get('p90', 0):7.2f} p99 {lat.get('p99', 0):7.2f} "
      f"p99.9 {lat.get('p999', 0):7.2f} max {lat.get('max', 0):7.2f} ms  spread p99 {spread.get('p99', 0):7.2f} ms")
PY
}

echo "wsprobe fanout benchmark: $CLIENTS clients, $MESSAGES broadcasts per run, $ROUNDS rounds, $(nproc) cores"
echo "deliveries/s = receipts / (last receipt - first publish), as wsprobe measures it; latency publish -> receipt"
for round in $(seq "$ROUNDS"); do
  for target in embedded serve; do
    out="$WORK/$target-$round.json"
    if [ "$target" = serve ]; then
      "$BIN" fanout "$URL" --publish '{"type":"broadcast","data":"{nonce}"}' \
        --clients "$CLIENTS" --messages "$MESSAGES" --wait 2s --settle 500ms --json > "$out" || true
    else
      "$BIN" fanout --clients "$CLIENTS" --messages "$MESSAGES" --wait 2s --settle 500ms --json > "$out" || true
    fi
    summary "$out" "$target" "$round"
  done
done
echo
for target in embedded serve; do
  python3 - "$target" "$WORK"/"$target"-*.json <<'PY'
import json, statistics, sys
runs = [json.load(open(p)) for p in sys.argv[2:]]
rates = [d["deliveries_per_s"] for d in runs if d.get("deliveries_per_s")]
p99 = [d["latency_ms"]["p99"] for d in runs if d.get("latency_ms")]
if rates:
    print(f"{sys.argv[1]:<9} median {statistics.median(rates):,.0f} deliveries/s, median p99 {statistics.median(p99):.2f} ms")
PY
done
