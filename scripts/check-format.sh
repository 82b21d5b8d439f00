#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fails when clang-format (Debian 12's clang-format 14, the version .clang-format is written
# for) would change any C++ file git tracks, and lists the files. With --fix, formats them.
# usage: scripts/check-format.sh [--fix]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format is not installed (apt-get install clang-format)" >&2; exit 2; }
version=$(clang-format --version | grep -o 'version [0-9]*' | grep -o '[0-9]*')
if [[ $version != 14 ]]; then
  echo "memscope: clang-format $version found; the tree is formatted with clang-format 14" >&2
  exit 2
fi
mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
if [[ ${1:-} == --fix ]]; then
  clang-format -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  echo "memscope: clang-format would change ${#bad[@]} file(s); run scripts/check-format.sh --fix:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "memscope: clang-format leaves all ${#files[@]} C++ files unchanged"
