#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CMake refuses, at once and in words, what memscope cannot build for:
#  - a CPU other than x86-64 (configured as a cross build for aarch64), unless
#    MEMSCOPE_ALLOW_UNTESTED_CPU=ON;
#  - a cpp-httplib other than the 0.11 series the dashboard is written for (a pkg-config
#    file that claims 0.14.0, placed first on PKG_CONFIG_PATH).
# usage: configure_refusals.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1 work=$2
rm -rf "$work"
mkdir -p "$work/pc"
quick=(-G Ninja -DMEMSCOPE_BUILD_TESTS=OFF -DMEMSCOPE_BUILD_EXAMPLES=OFF -DMEMSCOPE_BUILD_BENCH=OFF)

# Configures into $work/$1 with the remaining arguments; expects failure with every
# message given after "--".
refused() {
  local name=$1; shift
  local args=() expect=()
  while [[ $1 != -- ]]; do args+=("$1"); shift; done
  shift
  expect=("$@")
  if cmake -S "$src" -B "$work/$name" "${quick[@]}" "${args[@]}" >"$work/$name.log" 2>&1; then
    echo "FAIL: $name: the configuration succeeded" >&2
    exit 1
  fi
  for text in "${expect[@]}"; do
    if ! grep -qF "$text" "$work/$name.log"; then
      echo "FAIL: $name: the error does not say \"$text\":" >&2
      cat "$work/$name.log" >&2
      exit 1
    fi
  done
  echo "ok: $name refused: ${expect[*]}"
}

refused cpu -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 -- \
  "memscope is tested on x86-64 only; this CPU is aarch64" "MEMSCOPE_ALLOW_UNTESTED_CPU=ON"

sed 's/^Version: .*/Version: 0.14.0/' "$(pkg-config --variable=pcfiledir cpp-httplib)/cpp-httplib.pc" \
  > "$work/pc/cpp-httplib.pc"
PKG_CONFIG_PATH="$work/pc" refused httplib -- \
  "cpp-httplib 0.14.0 is installed, but memscope's" "written for cpp-httplib 0.11.x"
