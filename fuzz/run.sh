#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 330), one after another
# on one core. Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable
# toolchain RUSTC_BOOTSTRAP=1 enables the sanitizer flags it uses.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${1:-330}
for target in duration rate backoff header_template scenario; do
  mkdir -p "corpus/$target"
  echo "== $target ($SECONDS_EACH s)"
  RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$target" "corpus/$target" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -print_final_stats=1 2>&1 | grep -E "^(==|Done|stat::number_of_executed_units|stat::peak_rss_mb|.*(crash|panicked|ERROR|SUMMARY).*)" || true
done
