#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks the fleet kit with promtool (Debian package `prometheus`):
#   rules      promtool check rules on alerts.yml and recording.yml (syntax, PromQL,
#              templates, duplicates), then promtool test rules on prometheus/tests/*.yml
#   dashboard  every query of grafana/memscope.json parsed by promtool: the expressions,
#              with the dashboard's variables replaced by sample values, are written as
#              recording rules into a scratch file that promtool check rules reads
#   (none)     both
# Without promtool: exit 77 (CTest's skip), unless MEMSCOPE_REQUIRE_E2E=1: then 1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
what=${1:-all}

if ! command -v promtool >/dev/null; then
  echo "fleet/check.sh: promtool is not installed (apt-get install prometheus)" >&2
  if [[ ${MEMSCOPE_REQUIRE_E2E:-0} == 1 ]]; then
    echo "fleet/check.sh: FAILED: MEMSCOPE_REQUIRE_E2E=1 and promtool is missing" >&2
    exit 1
  fi
  echo "fleet/check.sh: skipped (set MEMSCOPE_REQUIRE_E2E=1 to make this a failure)" >&2
  exit 77
fi

check_rules() {
  promtool check rules "$here/prometheus/alerts.yml" "$here/prometheus/recording.yml"
  promtool test rules "$here"/prometheus/tests/*.yml
}

check_dashboard() {
  command -v python3 >/dev/null || { echo "fleet/check.sh: python3 is needed" >&2; exit 1; }
  local work
  work=$(mktemp -d)
  # shellcheck disable=SC2064  # expand now: $work is local
  trap "rm -rf '$work'" RETURN
  python3 - "$here/grafana/memscope.json" "$work/queries.yml" <<'PY'
import json, re, sys

dashboard = json.load(open(sys.argv[1]))
# Sample values for Grafana's variables: the dashboard's own and the built-in ones a query
# may use. A variable left in a query would make promtool fail, which is the point.
values = {"instance": "127.0.0.1:9090", "job": "memscope", "subsystem": "World",
          "__rate_interval": "1m", "__interval": "15s", "__range": "1h"}

def substitute(expr):
    def one(m):
        name = m.group(1) or m.group(2)
        if name not in values:
            sys.exit(f"unknown variable ${name} in: {expr}")
        return values[name]
    # $name, ${name} and ${name:format}; regex matchers use the value as it is.
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", one, expr)

queries = []
def collect(panel):
    for target in panel.get("targets", []):
        if target.get("expr"):
            queries.append((panel.get("title", "?"), target.get("refId", "?"), target["expr"]))
    for inner in panel.get("panels", []):
        collect(inner)
for panel in dashboard["panels"]:
    collect(panel)
for var in dashboard.get("templating", {}).get("list", []):
    if var.get("type") == "query":
        q = var["query"]
        q = q["query"] if isinstance(q, dict) else q
        # label_values(metric, label) is Grafana's; its metric argument is PromQL.
        m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", q)
        queries.append(("variable " + var["name"], "query", m.group(1) if m else q))
if not queries:
    sys.exit("no query found in the dashboard")
with open(sys.argv[2], "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (title, ref, expr) in enumerate(queries):
        print(f"{title} [{ref}]: {expr}")
        out.write(f"      - record: dashboard_query_{i}\n")
        out.write(f"        expr: {json.dumps(substitute(expr))}\n")
print(f"{len(queries)} queries")
PY
  promtool check rules "$work/queries.yml"
}

case $what in
  rules) check_rules ;;
  dashboard) check_dashboard ;;
  all) check_rules && check_dashboard ;;
  *) echo "usage: fleet/check.sh [rules|dashboard]" >&2; exit 2 ;;
esac
