#!/usr/bin/env python3
"""Polls a `wsprobe serve` process's /health while a client runs, so the
connection rate is timed by the server rather than by either client.

Usage: health-poll.py HOST PORT OUT STOPFILE [MAX_SECONDS]

Writes one line per sample to OUT: "<monotonic s> <accepted_total>
<open_connections> <closed_total>", each sample timed when its answer
arrived (the server counts when it answers, and under a connection storm a
request waits in the accept queue first, so the start of a request says
little). Creates OUT.ready after the first sample, so a client can start
after the baseline is known. Stops when STOPFILE exists or after
MAX_SECONDS (default 60).
"""
import json
import os
import socket
import sys
import time

POLL_GAP = 0.002  # seconds between samples: ~2 ms resolution on the rate


def sample(host, port):
    with socket.create_connection((host, port), timeout=2) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    t1 = time.monotonic()
    body = json.loads(data.split(b"\r\n\r\n", 1)[1])
    return t1, body["accepted_total"], body["open_connections"], body["closed_total"]


def main():
    host, port, out, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    limit = time.monotonic() + (float(sys.argv[5]) if len(sys.argv) > 5 else 60.0)
    rows = []
    while not os.path.exists(stop) and time.monotonic() < limit:
        try:
            rows.append(sample(host, port))
            if len(rows) == 1:
                open(out + ".ready", "w").close()
        except (OSError, ValueError, KeyError, IndexError):
            pass
        time.sleep(POLL_GAP)
    with open(out, "w") as f:
        for row in rows:
            f.write("%.6f %d %d %d\n" % row)


def rate(path, count):
    """Connections per second from the 1st to the `count`th accepted upgrade
    after the first sample, each crossing interpolated between samples;
    also the peak of open connections seen and the upgrades accepted in all."""
    rows = [tuple(float(x) for x in line.split()) for line in open(path)]
    if len(rows) < 2:
        return None, 0, 0
    base = rows[0][1]
    peak = max(r[2] for r in rows)
    total = rows[-1][1] - base

    def crossing(k):
        for prev, cur in zip(rows, rows[1:]):
            if cur[1] - base >= k:
                done = prev[1] - base
                frac = (k - done) / (cur[1] - prev[1]) if cur[1] > prev[1] else 1.0
                return prev[0] + (cur[0] - prev[0]) * frac
        return None

    first, last = crossing(1), crossing(count)
    if first is None or last is None or last <= first:
        return None, int(peak), int(total)
    return (count - 1) / (last - first), int(peak), int(total)


if __name__ == "__main__":
    if sys.argv[1] == "--rate":
        r, peak, total = rate(sys.argv[2], int(sys.argv[3]))
        print("%s %d %d" % ("none" if r is None else "%.0f" % r, peak, total))
    else:
        main()
