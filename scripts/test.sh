#!/usr/bin/env bash
# The test command of README.md: installs what is missing, then configures, builds and
# runs every test in every configuration CI checks. Exits non-zero on the first failure.
#
# usage: scripts/test.sh [CONFIG...]
#   CONFIGs (default: all, in this order):
#     default   RelWithDebInfo, mimalloc, tracking on: unit tests, consumer projects,
#               benchmark smoke runs
#     notrack   MEMSCOPE_TRACKING=OFF: mimalloc with the counting compiled out
#     asan      ASan + UBSan (system-malloc backend)
#     tsan      TSan (system-malloc backend)
# Build trees go to build/ci-<config>; set MEMSCOPE_JOBS to change the build parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."

configs=("$@")
((${#configs[@]})) || configs=(default notrack asan tsan)

scripts/install-deps.sh test

jobs=${MEMSCOPE_JOBS:-$(nproc)}
declare -A flags=(
  [default]=""
  [notrack]="-DMEMSCOPE_TRACKING=OFF -DMEMSCOPE_BUILD_BENCH=OFF"
  [asan]="-DMEMSCOPE_SANITIZE=address,undefined"
  [tsan]="-DMEMSCOPE_SANITIZE=thread"
)

for config in "${configs[@]}"; do
  [[ -v flags[$config] ]] || { echo "unknown configuration '$config'" >&2; exit 2; }
  dir=build/ci-$config
  echo "=== memscope: $config ==="
  start=$SECONDS
  # shellcheck disable=SC2086  # the flags are meant to split
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMSCOPE_WERROR=ON ${flags[$config]} >/dev/null
  cmake --build "$dir" -j "$jobs"
  # The consumer projects rebuild the library from scratch twice; once (default) is enough.
  exclude=()
  [[ $config == default ]] || exclude=(-E '^consumer_')
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" "${exclude[@]}"
  echo "=== memscope: $config passed in $((SECONDS - start)) s ==="
done
echo "memscope: all configurations passed: ${configs[*]}"
