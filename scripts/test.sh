#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test command of README.md: installs what is missing, then configures, builds and
# runs every test in every configuration CI checks. Stops at the first failure.
#
# usage: scripts/test.sh [CONFIG...]
#   CONFIGs (default: all, in this order):
#     default    clang-format leaves the tree unchanged (scripts/check-format.sh); then
#                RelWithDebInfo, mimalloc, tracking and server on: unit and server tests,
#                the browser test of the page, the examples, promtool, the consumer
#                projects (add_subdirectory and find_package), benchmark smoke runs,
#                then the soak: bench/soak.sh for MEMSCOPE_SOAK_SECONDS (default 60) s,
#                alone, after the tests (the long form is bench/soak.sh 300)
#     notrack    MEMSCOPE_TRACKING=OFF: mimalloc with the counting compiled out
#     headless   MEMSCOPE_WITH_SERVER=OFF: no cpp-httplib nor Chart.js
#     asan       AddressSanitizer + UndefinedBehaviorSanitizer (system-malloc backend)
#     tsan       ThreadSanitizer (system-malloc backend)
#     container  scripts/container-build.sh, the Dockerfile's build steps, run natively,
#                with its smoke test of the installed headless server
#     fuzz       scripts/fuzz.sh: the libFuzzer targets built with clang (build/fuzz),
#                each run for MEMSCOPE_FUZZ_SECONDS (default 25) s, two at a time; the
#                long form is scripts/fuzz.sh 3600. (Every other build replays the corpus.)
# Build trees go to build/ci-<config>; MEMSCOPE_JOBS sets the build parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."

configs=("$@")
((${#configs[@]})) || configs=(default notrack headless asan tsan container fuzz)

scripts/install-deps.sh test
# playwright-core for the browser test, from tests/e2e/package-lock.json (no browser
# download: it drives Debian's chromium). The fuzz configuration alone does not need it.
if [[ " ${configs[*]} " != " fuzz " ]]; then
  npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error >/dev/null
fi
# A missing browser, node or node_modules must fail the browser test here, not skip it.
export MEMSCOPE_REQUIRE_E2E=1

jobs=${MEMSCOPE_JOBS:-$(nproc)}
# Only the default build is optimized (RelWithDebInfo: what a game ships, and what the
# timing-bound tests and the soak need). The others are Debug (-O0): they compile in a
# third of the time of -O2 ones; at -O0 the sanitizers miss nothing the tests exercise,
# and the builds without tracking or without the server test what is compiled in or out,
# not speed.
declare -A flags=(
  [default]="-DCMAKE_BUILD_TYPE=RelWithDebInfo"
  [notrack]="-DCMAKE_BUILD_TYPE=Debug -DMEMSCOPE_TRACKING=OFF -DMEMSCOPE_BUILD_BENCH=OFF"
  [headless]="-DCMAKE_BUILD_TYPE=Debug -DMEMSCOPE_WITH_SERVER=OFF -DMEMSCOPE_BUILD_BENCH=OFF"
  [asan]="-DCMAKE_BUILD_TYPE=Debug -DMEMSCOPE_SANITIZE=address,undefined"
  [tsan]="-DCMAKE_BUILD_TYPE=Debug -DMEMSCOPE_SANITIZE=thread"
  [container]=""
  [fuzz]=""
)

started=$SECONDS
for config in "${configs[@]}"; do
  [[ -v flags[$config] ]] || { echo "unknown configuration '$config'" >&2; exit 2; }
  dir=build/ci-$config
  echo "=== memscope: $config ==="
  start=$SECONDS
  if [[ $config == container ]]; then
    scripts/container-build.sh --build-dir "$dir" --prefix "$PWD/$dir/prefix" --smoke-test
  elif [[ $config == fuzz ]]; then
    MEMSCOPE_FUZZ_BUILD_DIR=$dir scripts/fuzz.sh "${MEMSCOPE_FUZZ_SECONDS:-25}"
  else
    [[ $config != default ]] || scripts/check-format.sh
    # shellcheck disable=SC2086  # the flags are meant to split
    cmake -S . -B "$dir" -G Ninja --log-level=WARNING -DMEMSCOPE_WERROR=ON ${flags[$config]}
    cmake --build "$dir" -j "$jobs"
    # The consumer projects rebuild the library from scratch twice: the default build
    # checks packaging; the others would only repeat it.
    exclude=()
    [[ $config == default ]] || exclude=(-E '^consumer_')
    ctest --test-dir "$dir" --output-on-failure -j "$jobs" "${exclude[@]}"
    # The soak loads the machine (8 storm threads, two wrk) for a minute: it runs after
    # the tests, not beside them, so that neither slows the other into a timeout.
    if [[ $config == default ]]; then
      bench/soak.sh --build-dir "$dir" "${MEMSCOPE_SOAK_SECONDS:-60}"
    fi
  fi
  echo "=== memscope: $config passed in $((SECONDS - start)) s ==="
done
echo "memscope: all configurations passed (${configs[*]}) in $((SECONDS - started)) s"
