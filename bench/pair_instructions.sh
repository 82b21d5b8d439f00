#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Instructions per allocate+free pair under valgrind's callgrind, for raw mimalloc and
# memscope (sized delete, unsized delete, and tagged: the scope changing every 64 pairs),
# on the 64-byte loop and the mixed workload. Deterministic: the same binary gives the same
# counts on a busy machine. Prints a Markdown table.
# usage: bench/pair_instructions.sh [--build-dir DIR] [PAIRS]   (default build/bench, 200000)
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/bench
if [[ ${1:-} == --build-dir ]]; then build=$2; shift 2; fi
pairs=${1:-200000}
program=$build/bench/pair_instructions
[[ -x $program ]] || { echo "build $program first (see BENCHMARKS.md)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Instructions executed inside measured_loop() (and what it calls), per pair.
count() {
  local out=$work/cg.$1.$2
  valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect=measured_loop \
    "$program" "$1" "$2" "$pairs" >/dev/null 2>&1
  local total
  total=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$out")
  [[ -n $total ]] || total=$(sed -n 's/^totals: \([0-9]*\).*/\1/p' "$out")
  awk -v t="$total" -v n="$pairs" 'BEGIN { printf "%.1f", t / n }'
}

echo "| workload | mimalloc | memscope | memscope, unsized delete | memscope, tagged | memscope - mimalloc | tagged - mimalloc |"
echo "|---|---|---|---|---|---|---|"
for workload in tight64 mixed; do
  raw=$(count mimalloc "$workload")
  sized=$(count memscope "$workload")
  unsized=$(count memscope_unsized "$workload")
  tagged=$(count memscope_tagged "$workload")
  awk -v w="$workload" -v r="$raw" -v s="$sized" -v u="$unsized" -v t="$tagged" \
    'BEGIN { printf "| %s | %s | %s | %s | %s | %+.1f | %+.1f |\n", w, r, s, u, t, s - r, t - r }'
done
