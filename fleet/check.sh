#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks the fleet kit with promtool (Debian package `prometheus`):
#   rules      promtool check config on the example prometheus.yml (which loads the rules),
#              promtool check rules on alerts.yml and recording.yml (syntax, PromQL,
#              templates, duplicates), then promtool test rules on prometheus/tests/*.yml
#   dashboard  every query of grafana/memscope.json parsed by promtool: the expressions,
#              with the dashboard's variables replaced by sample values
#              (grafana/queries.py), are written as recording rules into a scratch file
#              that promtool check rules reads
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
  promtool check config "$here/prometheus/prometheus.yml"
  promtool check rules "$here/prometheus/alerts.yml" "$here/prometheus/recording.yml"
  promtool test rules "$here"/prometheus/tests/*.yml
}

check_dashboard() {
  command -v python3 >/dev/null || { echo "fleet/check.sh: python3 is needed" >&2; exit 1; }
  local work dashboard=$here/grafana/memscope.json
  work=$(mktemp -d)
  # shellcheck disable=SC2064  # expand now: $work is local
  trap "rm -rf '$work'" RETURN
  python3 "$here/grafana/queries.py" --titles "$dashboard"
  {
    printf 'groups:\n  - name: dashboard\n    rules:\n'
    local i=0 expr
    while IFS= read -r expr; do
      printf '      - record: dashboard_query_%d\n        expr: %s\n' $((i++)) "$expr"
    done < <(python3 "$here/grafana/queries.py" "$dashboard")
  } >"$work/queries.yml"
  promtool check rules "$work/queries.yml"
}

case $what in
  rules) check_rules ;;
  dashboard) check_dashboard ;;
  all) check_rules && check_dashboard ;;
  *) echo "usage: fleet/check.sh [rules|dashboard]" >&2; exit 2 ;;
esac
