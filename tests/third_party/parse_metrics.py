"""Parses a metrics exposition read from stdin with the official Prometheus
Python client's parsers (prometheus-client, pinned in requirements.txt),
so the test judges wsprobe's /metrics with a parser that is not wsprobe's.

Usage: parse_metrics.py openmetrics|prometheus < exposition
Prints one JSON object: {"families": {NAME: {"type": T, "samples":
[{"name": N, "labels": {...}, "value": V}, ...]}}}. A text the parser
refuses exits 1 with the parser's error on stderr.
"""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as prometheus

parse = openmetrics if sys.argv[1] == "openmetrics" else prometheus
families = {}
try:
    for family in parse(sys.stdin.read()):
        samples = [{"name": s.name, "labels": dict(s.labels), "value": s.value} for s in family.samples]
        families[family.name] = {"type": family.type, "samples": samples}
except Exception as exc:  # the parser's refusal is the test's finding
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(1)
print(json.dumps({"families": families}))
