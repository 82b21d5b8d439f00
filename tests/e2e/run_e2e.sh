#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CTest entry of the browser test: checks that node, chromium and playwright-core are
# there, then runs page.test.mjs against the fixture.
#   run_e2e.sh <memscope_page_fixture> <screenshot dir>
# Exit 77 (skipped) when something is missing, unless MEMSCOPE_REQUIRE_E2E=1: then 1.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fixture=$1
out=$2
chromium=${MEMSCOPE_CHROMIUM:-/usr/bin/chromium}

missing=()
command -v node >/dev/null || missing+=("node (Debian package nodejs)")
[[ -x $chromium ]] || missing+=("$chromium (Debian package chromium)")
[[ -f $here/node_modules/playwright-core/package.json ]] ||
  missing+=("tests/e2e/node_modules (run: npm ci --prefix tests/e2e)")
if ((${#missing[@]})); then
  printf 'page_e2e: missing %s\n' "${missing[@]}" >&2
  if [[ ${MEMSCOPE_REQUIRE_E2E:-0} == 1 ]]; then
    echo "page_e2e: FAILED: MEMSCOPE_REQUIRE_E2E=1 and the browser test cannot run" >&2
    exit 1
  fi
  echo "page_e2e: skipped (set MEMSCOPE_REQUIRE_E2E=1 to make this a failure)" >&2
  exit 77
fi
exec node "$here/page.test.mjs" --fixture "$fixture" --out "$out" --chromium "$chromium"
