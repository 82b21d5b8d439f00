#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end test of examples/headless_server: binds through MEMSCOPE_BIND/MEMSCOPE_PORT,
# serves /healthz, JSON and Prometheus metrics that promtool accepts, stops on SIGTERM; and
# the example prometheus.yml is a valid Prometheus configuration.
# usage: headless_server_test.sh HEADLESS_SERVER_BINARY PROMETHEUS_YML
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

server=${1:?headless_server binary}
config=${2:?prometheus.yml}
unset MEMSCOPE_TOKEN MEMSCOPE_DISABLE

if command -v promtool >/dev/null; then
    promtool check config "$config" || fail "promtool check config $config"
else
    note "promtool not installed: prometheus.yml not checked"
fi

MEMSCOPE_BIND=127.0.0.1 MEMSCOPE_PORT=0 start_bg "$scratch/log" "$server"
wait_for_pattern "$scratch/log" "^memscope dashboard: " 20
if grep -q "^memscope dashboard: not started: .*without the dashboard" "$scratch/log"; then
    kill -TERM "$bg_pid"
    wait_exit "$bg_pid" 10
    expect_status 0 "$exit_status" "SIGTERM (headless build)"
    echo "built without the dashboard server"
    exit "$SKIP"
fi
port=$(dashboard_port "$scratch/log")
[[ -n $port ]] || fail "no port in the dashboard line"
base="http://127.0.0.1:$port"
sleep 0.5  # a few ticks, so every subsystem has reported
curl -fsS "$base/healthz" >/dev/null || fail "GET /healthz"
curl -fsS "$base/api/v1/subsystems" >"$scratch/subsystems.json" || fail "GET /api/v1/subsystems"
curl -fsS "$base/metrics" >"$scratch/metrics.txt" || fail "GET /metrics"
curl -fsS "$base/api/v1/verdict" >"$scratch/verdict.json" || fail "GET /api/v1/verdict"
for name in World Sessions Network; do
    jq_true "$scratch/subsystems.json" ".subsystems | any(.name == \"$name\" and .current_bytes > 0)" \
        "$name in /api/v1/subsystems"
    grep -q "^memscope_subsystem_current_bytes{subsystem=\"$name\"}" "$scratch/metrics.txt" || fail "$name in /metrics"
done
jq_true "$scratch/verdict.json" '.pass == true' "the headless server's verdict"
if command -v promtool >/dev/null; then
    promtool check metrics <"$scratch/metrics.txt" || fail "promtool check metrics"
fi
kill -TERM "$bg_pid"
wait_exit "$bg_pid" 10
expect_status 0 "$exit_status" "SIGTERM"
grep -q "Peak memory of all subsystems" "$scratch/log" || fail "no peak summary after SIGTERM"
echo "PASS: headless_server"
