#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Scrapes /metrics from a real server (tests/demo_server.cpp) and checks it with
# `promtool check metrics` (Debian package `prometheus`). Without promtool the test is
# skipped (exit 77, CTest's SKIP_RETURN_CODE), saying so.
# usage: promtool_check.sh <memscope_demo_server>
set -euo pipefail

server=$1
if ! command -v promtool >/dev/null; then
  echo "SKIPPED: promtool is not installed (apt-get install prometheus)"
  exit 77
fi
command -v curl >/dev/null || { echo "curl is needed"; exit 1; }

work=$(mktemp -d)
"$server" --port 0 --seconds 120 >"$work/out" 2>"$work/err" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

url=""
for _ in $(seq 1 300); do
  url=$(sed -n 's/^listening on //p' "$work/out")
  [[ -n $url ]] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/err"; exit 1; }
  sleep 0.1
done
[[ -n $url ]] || { echo "the server did not start"; cat "$work/err"; exit 1; }

sleep 0.5  # a few samples and reports
curl -fsS "${url}metrics" -o "$work/metrics"
echo "scraped $(wc -l <"$work/metrics") lines from ${url}metrics"
# promtool prints lint problems and exits non-zero on any of them.
promtool check metrics <"$work/metrics"
echo "promtool check metrics: OK"
