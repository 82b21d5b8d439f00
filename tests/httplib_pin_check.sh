#!/usr/bin/env bash
# Configures memscope against a cpp-httplib that claims to be 0.14.0 (a pkg-config file
# placed first on PKG_CONFIG_PATH) and expects CMake to stop at once with a message that
# names the version found and the one memscope is written for.
# usage: httplib_pin_check.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1 work=$2
rm -rf "$work"
mkdir -p "$work/pc"
sed 's/^Version: .*/Version: 0.14.0/' "$(pkg-config --variable=pcfiledir cpp-httplib)/cpp-httplib.pc" \
  > "$work/pc/cpp-httplib.pc"
if PKG_CONFIG_PATH="$work/pc" cmake -S "$src" -B "$work/build" -DMEMSCOPE_BUILD_TESTS=OFF \
     -DMEMSCOPE_BUILD_EXAMPLES=OFF -DMEMSCOPE_BUILD_BENCH=OFF >"$work/log" 2>&1; then
  echo "FAIL: configuring against cpp-httplib 0.14.0 succeeded" >&2
  exit 1
fi
if ! grep -q "cpp-httplib 0.14.0 is installed, but memscope's" "$work/log" ||
   ! grep -q "written for cpp-httplib 0.11.x" "$work/log"; then
  echo "FAIL: the configure error does not say which versions:" >&2
  cat "$work/log" >&2
  exit 1
fi
echo "ok: CMake refuses cpp-httplib 0.14.0 and says it needs 0.11.x"
