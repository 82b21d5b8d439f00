#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages memscope builds and tests with, if any is missing.
# usage: scripts/install-deps.sh [build|test|demo]   (default: test)
set -euo pipefail

want=${1:-test}
# Building the library, its tests and benchmarks.
# Chart.js is embedded into the dashboard from Debian's libjs-chart.js, so building
# memscope never needs Node.
packages=(g++ cmake ninja-build pkg-config python3 curl jq
          libmimalloc-dev libcpp-httplib-dev nlohmann-json3-dev libjs-chart.js
          doctest-dev libbenchmark-dev)
if [[ $want == test ]]; then
  # clang (libFuzzer) for the fuzzers; promtool (prometheus) checks /metrics; chromium for
  # the browser test (driven by playwright-core from npm); wrk loads the server in the soak.
  # clang-format checks that the tree is formatted (scripts/check-format.sh); xmllint
  # (libxml2-utils) checks the verdict's JUnit report against tests/junit.xsd. memscope-run
  # is proven on programs of these packages (tests/run_programs.sh; the others are in
  # every Debian: perl, gzip, sort).
  packages+=(clang libclang-rt-14-dev clang-format prometheus chromium wrk libxml2-utils
             sqlite3 git xz-utils)
  command -v npm >/dev/null || packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "memscope: installing missing packages: ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
