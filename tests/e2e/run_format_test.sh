#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CTest entry of the formatter test: runs format.test.mjs (node's own test runner, no
# npm package) against the table the C++ formatters print.
#   run_format_test.sh <memscope_format_table>
# Exit 77 (skipped) without a node that loads web/static/format.js as a module (20.19+
# or 22.7+, which detect module syntax), unless MEMSCOPE_REQUIRE_E2E=1: then 1.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

node_ok=0
if command -v node >/dev/null; then
  node_ok=$(node -e 'const [a, b] = process.versions.node.split(".").map(Number);
    console.log(a > 22 || (a === 22 && b >= 7) || (a === 20 && b >= 19) ? 1 : 0)')
fi
if [[ $node_ok != 1 ]]; then
  echo "page_format: missing node 20.19+ or 22.7+ (Debian package nodejs)" >&2
  if [[ ${MEMSCOPE_REQUIRE_E2E:-0} == 1 ]]; then
    echo "page_format: FAILED: MEMSCOPE_REQUIRE_E2E=1 and the formatter test cannot run" >&2
    exit 1
  fi
  echo "page_format: skipped (set MEMSCOPE_REQUIRE_E2E=1 to make this a failure)" >&2
  exit 77
fi
MEMSCOPE_FORMAT_TABLE=$1 exec node --test "$here/format.test.mjs"
