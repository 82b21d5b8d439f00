#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Load figures of the dashboard server for BENCHMARKS.md:
#  1. wrk (Debian package `wrk`), 10 s on loopback, against /api/v1/snapshot and /metrics
#     of a running server (tests/memscope_demo_server: the six default subsystems moving);
#  2. bench_scrape: allocation throughput of a running workload with and without a 10 Hz
#     scrape, at 1 and at 2 worker threads.
# usage: bench/server_load.sh [BUILD_DIR] [--workers "N..."]
#   (a Release build with tests and benchmarks). With --workers, only the wrk table, once
#   per worker-thread count (the server's default thread count is chosen from it).
set -euo pipefail
build=${1:-build/bench}
workers_list=""
if [[ ${2:-} == --workers ]]; then workers_list=$3; fi
server=$build/tests/memscope_demo_server
[[ -x $server && -x $build/bench/bench_scrape ]] || {
  echo "build $build first: cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build $build" >&2
  exit 2
}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }

log=$(mktemp)
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT

# The wrk table of one server started with `$@` (e.g. --workers 4).
wrk_table() {
  MEMSCOPE_PORT=0 "$server" --port 0 --seconds 120 "$@" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
  url=$(grep -o 'http://[^ ]*' "$log" | head -n 1)
  url=${url%/}
  for path in /api/v1/snapshot /metrics; do
    out=$(wrk -t2 -c8 -d10s --latency "$url$path")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
    echo "| ${label:-}\`$path\` | $rps | $p50 | $p99 | ${errors:-none} |"
  done
  kill $pid; wait $pid 2>/dev/null || true
}

if [[ -n $workers_list ]]; then
  echo "| workers | endpoint | requests/s | p50 | p99 | errors |"
  echo "|---|---|---|---|---|---|"
  for n in $workers_list; do label="$n | " wrk_table --workers "$n"; done
  exit 0
fi
echo "| endpoint | requests/s | p50 | p99 | errors |"
echo "|---|---|---|---|---|"
wrk_table
echo
for threads in 1 2; do
  "$build/bench/bench_scrape" --threads "$threads" --rounds 20 --phase-ms 1000 2>/dev/null
  echo
done
