#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every build step of the Docker image (see Dockerfile), in one script that CI also runs
# natively: the steps the image runs are the steps CI tested.
#
# usage: scripts/container-build.sh [--prefix DIR] [--build-dir DIR] [--smoke-test]
#        scripts/container-build.sh --runtime-setup
#        scripts/container-build.sh --runtime-packages
#
#   (default)           installs the build packages (scripts/install-deps.sh build),
#                       configures a Release build with the dashboard server and the
#                       examples, builds it, and installs the library and the examples into
#                       --prefix (default /opt/memscope; build tree: --build-dir, default
#                       build/container)
#   --smoke-test        then checks the installed headless_server: every shared library it
#                       loads comes from a package of the runtime list (or of the base
#                       image), and it serves /healthz and /metrics on a free port
#   --runtime-setup     the runtime stage: installs the runtime packages and creates the
#                       non-root user memscope (uid 10001). Only for the image.
#   --runtime-packages  prints the runtime package list
set -euo pipefail

# What the runtime image installs: the shared libraries of a server build, and curl for
# the HEALTHCHECK. The smoke test proves the list covers what the binary loads.
runtime_packages=(libmimalloc2.0 libcpp-httplib0.11 libssl3 libbrotli1 zlib1g curl)
# In debian:12 already (Priority: required), so not installed explicitly.
base_packages=(libc6 libstdc++6 libgcc-s1)
runtime_uid=10001

src=$(cd "$(dirname "$0")/.." && pwd)
prefix=/opt/memscope
build_dir=$src/build/container
smoke=0
mode=build
while (($#)); do
  case $1 in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift 2 ;;
    --smoke-test) smoke=1; shift ;;
    --runtime-setup) mode=runtime; shift ;;
    --runtime-packages) echo "${runtime_packages[*]}"; exit 0 ;;
    -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "container-build.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

if [[ $mode == runtime ]]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${runtime_packages[@]}" >/dev/null
  rm -rf /var/lib/apt/lists/*
  groupadd --system --gid "$runtime_uid" memscope
  useradd --system --uid "$runtime_uid" --gid memscope --no-create-home \
          --home-dir /nonexistent --shell /usr/sbin/nologin memscope
  exit 0
fi

echo "=== container-build: packages"
"$src/scripts/install-deps.sh" build

echo "=== container-build: configure and build ($build_dir)"
cmake -S "$src" -B "$build_dir" -G Ninja --log-level=WARNING \
      -DCMAKE_BUILD_TYPE=Release \
      -DMEMSCOPE_WITH_SERVER=ON \
      -DMEMSCOPE_BUILD_EXAMPLES=ON \
      -DMEMSCOPE_BUILD_TESTS=OFF \
      -DMEMSCOPE_BUILD_BENCH=OFF \
      -DMEMSCOPE_INSTALL=ON
cmake --build "$build_dir" -j "${MEMSCOPE_JOBS:-$(nproc)}"

echo "=== container-build: install into $prefix"
cmake --install "$build_dir" --prefix "$prefix" >/dev/null
cmake --install "$build_dir" --prefix "$prefix" --component examples >/dev/null
server=$prefix/bin/headless_server
[[ -x $server ]] || { echo "container-build: $server was not installed" >&2; exit 1; }

((smoke)) || exit 0

echo "=== container-build: smoke test"
# Every shared library the server loads must come from a runtime or base package.
missing=0
while read -r lib; do
  owner=""
  for path in "$lib" "/usr$lib" "${lib#/usr}"; do
    owner=$(dpkg -S "$path" 2>/dev/null | head -n1 | cut -d: -f1) && [[ -n $owner ]] && break
  done
  if [[ -z $owner ]]; then
    echo "container-build: no Debian package owns $lib" >&2
    missing=1
  elif [[ " ${runtime_packages[*]} ${base_packages[*]} " != *" $owner "* ]]; then
    echo "container-build: $lib comes from $owner, which is not in the runtime list" >&2
    missing=1
  fi
done < <(ldd "$server" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p')
((missing == 0)) || exit 1

log=$(mktemp)
MEMSCOPE_BIND=127.0.0.1 MEMSCOPE_PORT=0 "$server" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
port=""
for _ in $(seq 100); do
  port=$(sed -n 's#^memscope dashboard: http://[^ ]*:\([0-9][0-9]*\)/$#\1#p' "$log")
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n $port ]] || { cat "$log" >&2; echo "container-build: the server did not start" >&2; exit 1; }
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null
# The server answers before the first tick has reported: give it a moment.
metrics=""
for _ in $(seq 50); do
  metrics=$(curl -fsS "http://127.0.0.1:$port/metrics")
  [[ $metrics == *'memscope_subsystem_current_bytes{subsystem="World"}'* ]] && break
  sleep 0.1
done
[[ $metrics == *'memscope_subsystem_current_bytes{subsystem="World"}'* ]] || {
  echo "container-build: /metrics lacks the World subsystem" >&2
  exit 1
}
if command -v promtool >/dev/null; then
  promtool check metrics <<<"$metrics"
fi
kill -TERM "$pid"
wait "$pid"
echo "=== container-build: smoke test passed (port $port)"
