#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The fleet kit's alerts in a real Prometheus (Debian's package): three headless servers on
# loopback, one of them given a budget file that puts its Network subsystem over budget;
# Prometheus scrapes the three every second with fleet/prometheus/alerts.yml, and the test
# asks its HTTP API until MemscopeSubsystemOverBudget fires, then checks that it fires for
# that instance and subsystem alone, and that it was pending first. Last, every metric the
# rules and the Grafana dashboard name must be among those scraped, and every dashboard
# query must run.
#
# The rules Prometheus loads are the shipped ones with one substitution: every line
# `for: <duration>` becomes `for: 3s`, so the expressions tested are the shipped ones and
# the test takes seconds, not minutes.
#
# usage: fleet_prometheus_test.sh HEADLESS_SERVER FLEET_DIR
# Exit 77 (skipped) without prometheus, promtool, curl or jq, unless MEMSCOPE_REQUIRE_E2E=1:
# then 1.
set -euo pipefail

server=$(realpath "${1:?headless_server binary}")
fleet=$(realpath "${2:?the fleet/ folder}")
deadline=$((SECONDS + 45))  # the whole test; CTest's timeout is 60 s

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

for tool in prometheus promtool curl jq python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "fleet_prometheus: $tool is not installed (apt-get install prometheus curl jq python3)" >&2
    if [[ ${MEMSCOPE_REQUIRE_E2E:-0} == 1 ]]; then
      fail "MEMSCOPE_REQUIRE_E2E=1 and $tool is missing"
    fi
    echo "fleet_prometheus: skipped (set MEMSCOPE_REQUIRE_E2E=1 to make this a failure)" >&2
    exit 77
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/memscope-fleet.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    # Give each a few seconds to stop, then kill it.
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

show_logs() {
  local f
  for f in "$work"/*.log; do
    echo "--- $f:" >&2
    tail -n 20 "$f" >&2
  done
}

# Three servers, each in its own directory (no stray memscope.json is read); the third reads
# a budget file that gives Network 1 MiB, which it passes at its first tick (eight players
# hold 2.25 MiB of network buffers).
echo '{ "budgets": { "Network": "1 MiB" } }' >"$work/over.json"
ports=()
for i in 1 2 3; do
  mkdir "$work/game$i"
  config=""
  [[ $i == 3 ]] && config=$work/over.json
  (cd "$work/game$i" && exec env MEMSCOPE_BIND=127.0.0.1 MEMSCOPE_PORT=0 MEMSCOPE_CONFIG="$config" \
    MEMSCOPE_TOKEN= MEMSCOPE_DISABLE= "$server") >"$work/game$i.log" 2>&1 &
  pids+=($!)
done
for i in 1 2 3; do
  port=""
  while [[ -z $port ]]; do
    if ((SECONDS >= deadline)) || ! kill -0 "${pids[i - 1]}" 2>/dev/null; then
      show_logs
      fail "game $i did not start"
    fi
    port=$(sed -n 's#^memscope dashboard: http://127\.0\.0\.1:\([0-9][0-9]*\)/$#\1#p' "$work/game$i.log")
    [[ -n $port ]] || sleep 0.1
  done
  ports+=("$port")
done
over="127.0.0.1:${ports[2]}"
echo "games on 127.0.0.1:${ports[0]}, 127.0.0.1:${ports[1]} and $over (over budget)"

# The shipped rules with every `for:` shortened, and nothing else changed.
sed -E 's/^( *)for: [0-9a-z]+$/\1for: 3s/' "$fleet/prometheus/alerts.yml" >"$work/alerts.yml"
shipped=$(grep -cE '^ *for: ' "$fleet/prometheus/alerts.yml")
changed=$(diff "$fleet/prometheus/alerts.yml" "$work/alerts.yml" | grep -c '^>' || true)
shortened=$(grep -cE '^ *for: 3s$' "$work/alerts.yml")
[[ $shipped -gt 0 && $shortened == "$shipped" && $changed -le $shipped ]] ||
  fail "the for: substitution changed $changed lines, shortened $shortened of $shipped"
cp "$fleet/prometheus/recording.yml" "$work/recording.yml"

cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [alerts.yml, recording.yml]
scrape_configs:
  - job_name: memscope
    static_configs:
      - targets: ["127.0.0.1:${ports[0]}", "127.0.0.1:${ports[1]}", "$over"]
YML
promtool check config "$work/prometheus.yml" >/dev/null || fail "promtool check config"

# Prometheus on a free loopback port, never 9090: that one is memscope's by promise. The
# port is free when asked and may be taken before Prometheus binds it: then try another.
api=""
for attempt in 1 2 3; do
  pport=$(python3 -c 'import socket
while True:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    if p != 9090: print(p); break')
  prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
    --web.listen-address="127.0.0.1:$pport" --log.level=warn >"$work/prometheus.log" 2>&1 &
  ppid=$!
  pids+=("$ppid")
  until curl -fsS "http://127.0.0.1:$pport/-/ready" >/dev/null 2>&1; do
    kill -0 "$ppid" 2>/dev/null || break
    ((SECONDS < deadline)) || { show_logs; fail "Prometheus was not ready in time"; }
    sleep 0.2
  done
  if kill -0 "$ppid" 2>/dev/null; then
    api="http://127.0.0.1:$pport/api/v1"
    break
  fi
  echo "Prometheus did not start on port $pport (attempt $attempt)" >&2
done
[[ -n $api ]] || { show_logs; fail "Prometheus did not start"; }
echo "Prometheus on 127.0.0.1:$pport"

# query PROMQL: the result vector of an instant query, as JSON.
query() {
  curl -fsS --get "$api/query" --data-urlencode "query=$1" | jq -c '.data.result'
}

# Wait until the alert fires, for whichever instance.
firing=""
while [[ -z $firing ]]; do
  if ((SECONDS >= deadline)); then
    show_logs
    curl -fsS "$api/alerts" >&2 || true
    fail "MemscopeSubsystemOverBudget did not fire in time"
  fi
  sleep 0.5
  firing=$(curl -fsS "$api/alerts" | jq -c '[.data.alerts[] | select(.labels.alertname ==
    "MemscopeSubsystemOverBudget" and .state == "firing") | .labels] | select(length > 0)')
done
echo "firing: $firing"
firing_at=$SECONDS

# All three targets were scraped and their subsystems evaluated, so "no other" means what
# it says: the others were looked at and are under budget.
up=$(query 'sum(up{job="memscope"})' | jq -r '.[0].value[1]')
[[ $up == 3 ]] || fail "up: $up of 3 targets"
series=$(query 'count by (instance) (memscope_subsystem_usage_ratio)' | jq 'length')
[[ $series == 3 ]] || fail "usage ratios from $series instances, expected 3"

# Let a few more evaluations pass: nothing else may fire meanwhile.
sleep 3
alerts=$(curl -fsS "$api/alerts" | jq -c '[.data.alerts[] | select(.labels.alertname ==
  "MemscopeSubsystemOverBudget") | {instance: .labels.instance, subsystem: .labels.subsystem,
  state, severity: .labels.severity}]')
echo "over-budget alerts: $alerts"
expected=$(jq -cn --arg i "$over" '[{instance: $i, subsystem: "Network", state: "firing",
  severity: "warning"}]')
[[ $alerts == "$expected" ]] || fail "expected exactly $expected"

# The for: clause took effect: the alert was pending before it fired.
pending=$(query 'count_over_time(ALERTS{alertname="MemscopeSubsystemOverBudget",alertstate="pending"}[1m])' |
  jq -r '.[0].value[1] // 0')
((pending > 0)) || fail "the alert never was pending"

# Prometheus's own evaluation of the rules went without error.
bad=$(curl -fsS "$api/rules" | jq -r '[.data.groups[].rules[] | select(.health != "ok") |
  "\(.name): \(.lastError)"] | join("; ")')
[[ -z $bad ]] || fail "rules with errors: $bad"

# Every metric the rules and the dashboard name is one the games export (or Prometheus's
# own up), and every dashboard query runs in this Prometheus, for all instances.
mapfile -t queries < <(python3 "$fleet/grafana/queries.py" --set instance='.*' \
  "$fleet/grafana/memscope.json" | jq -r '.')
((${#queries[@]} > 0)) || fail "no query in the dashboard"
curl -fsS "$api/label/__name__/values" | jq -r '.data[]' >"$work/names"
for name in $( (printf '%s\n' "${queries[@]}"; grep -h 'expr:' "$work/alerts.yml" "$work/recording.yml") |
  grep -oP '(?<![\w:])(memscope_\w+|process_\w+|up)(?![\w:(])' | sort -u); do
  grep -qx "$name" "$work/names" || fail "$name is used by the fleet kit but no game exports it"
done
for q in "${queries[@]}"; do
  status=$(curl -sS --get "$api/query" --data-urlencode "query=$q" | jq -r '.status')
  [[ $status == success ]] || fail "dashboard query failed in Prometheus: $q"
done
echo "${#queries[@]} dashboard queries ran; every metric named exists"

echo "PASS: fleet_prometheus (firing after $firing_at s, done in $SECONDS s)"
