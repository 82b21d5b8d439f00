#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# memscope-run's own behaviour (docs/run.md), on python3, perl and sh: a running
# program's dashboard answers JSON and /metrics; the summary is printed; the exit status is
# the program's (or the verdict's with --gate); a busy port, the program's children and an
# exec failure behave as documented.
#
# usage: run_test.sh MEMSCOPE_RUN [BUILD_DIR]
# With BUILD_DIR, also installs it to a temporary prefix and runs the installed copy,
# which must find its library there.
# Exit 77 (skipped) without python3, perl or curl, unless MEMSCOPE_REQUIRE_E2E=1: then 1.
set -uo pipefail

run=$(realpath "${1:?memscope-run binary}")
build=${2:+$(realpath "$2")}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

for tool in python3 perl curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "memscope_run: $tool is not installed" >&2
    [[ ${MEMSCOPE_REQUIRE_E2E:-0} == 1 ]] && fail "MEMSCOPE_REQUIRE_E2E=1 and $tool is missing"
    exit 77
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/memscope-run-test.XXXXXX")
background=()
cleanup() {
  local pid
  for pid in "${background[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1

# Runs memscope-run on a free port, stderr to $work/err; the program's output to stdout.
run_quietly() {
  "$run" --port 0 "$@" 2>"$work/err"
}

expect_summary() {
  grep -Eq "^memscope-run: $1 exited with status $2 after [0-9.]+ s; peak [0-9.]+ [KMG]?B; at exit [0-9.]+ [KMG]?B still live in [0-9]+ blocks \(malloc family [0-9.]+ [KMG]?B, C\+\+ operators [0-9.]+ [KMG]?B, memscope's own [0-9.]+ [KMG]?B\)$" "$work/err" ||
    { cat "$work/err" >&2; fail "no summary line for $1 (status $2)"; }
}

# --- The library's constructor runs after its static initializers ------------------------
# (tools/run/CMakeLists.txt links it last; a shared library runs them in link order.)
preload=$(dirname "$run")/libmemscope_preload.so
if command -v objdump >/dev/null && command -v nm >/dev/null && [[ -f $preload ]]; then
  python3 - "$preload" <<'PY' || fail "the preload library's constructor is not its last initializer"
import re, subprocess, sys
lib = sys.argv[1]
dump = subprocess.run(["objdump", "-s", "-j", ".init_array", lib], capture_output=True,
                      text=True, check=True).stdout
data = b"".join(bytes.fromhex("".join(m.group(1).split()))
                for m in re.finditer(r"^ [0-9a-f]+ ((?:[0-9a-f]{8} ?){1,4})", dump, re.M))
entries = [int.from_bytes(data[i:i + 8], "little") for i in range(0, len(data), 8)]
symbols = subprocess.run(["nm", lib], capture_output=True, text=True, check=True).stdout
start = [int(l.split()[0], 16) for l in symbols.splitlines() if "start_when_loaded" in l]
sys.exit(0 if start and entries and entries[-1] == start[0] else 1)
PY
fi

# --- The summary (tests/run_programs.sh compares real programs' output and books) ----------
run_quietly -- python3 -c 'blocks = [bytes(1000) for _ in range(3000)]; print(len(blocks))' >run.out ||
  fail "python3 under memscope-run failed"
[[ $(cat run.out) == 3000 ]] || fail "python3's output under memscope-run: $(cat run.out)"
expect_summary python3 0
grep -Eq "peak [0-9.]+ (MB|GB)" err || fail "python3's peak is not in megabytes: $(cat err)"
sed -n '/exited/p' err

# --- A running program's dashboard, and a second one on the same port -------------------
# On port 0: the port is read from the line memscope-run prints (no port chosen here can be
# taken by another test first).
"$run" --port 0 -- python3 -c '
import time
held = []
for _ in range(80):
    held.append(bytearray(200000))
    time.sleep(0.05)
print("done")
' >long.out 2>long.err &
long_pid=$!
background+=("$long_pid")
# Until it answers, while it runs (a loaded machine may take seconds to start python3).
port=
for _ in $(seq 200); do
  [[ -n $port ]] || port=$(sed -n 's|^memscope-run: dashboard of python3 (pid [0-9]*) on http://127.0.0.1:\([0-9]*\)/$|\1|p' long.err)
  [[ -n $port ]] && curl -sf "http://127.0.0.1:$port/api/v1/allocator" >allocator.json 2>/dev/null && break
  kill -0 "$long_pid" 2>/dev/null || break
  sleep 0.1
done
[[ -s allocator.json ]] || { cat long.err >&2; fail "no /api/v1/allocator on port ${port:-(none printed)}"; }
sleep 1  # the program holds 200 KB more every 50 ms
curl -sf "http://127.0.0.1:$port/api/v1/allocator" >allocator.json || fail "no second /api/v1/allocator"
python3 - allocator.json <<'PY' || fail "/api/v1/allocator: $(cat allocator.json)"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["tracking_enabled"] and doc["backend"] == "mimalloc"
assert doc["total_allocated_bytes"] > 4 << 20, "python3's bytearrays are not counted"
PY
curl -sf "http://127.0.0.1:$port/metrics" >metrics.txt || fail "no /metrics"
grep -q '^memscope_allocated_bytes ' metrics.txt || fail "/metrics has no memscope_allocated_bytes"
grep -q 'subsystem="Heap"' metrics.txt || fail "/metrics has no Heap subsystem"
# The port is taken: the program runs anyway, with one clear line.
"$run" --port "$port" -- sh -c 'echo busy-ok' >busy.out 2>busy.err || fail "busy port: the program failed"
[[ $(cat busy.out) == busy-ok ]] || fail "busy port: output $(cat busy.out)"
grep -q "^memscope-run: no dashboard for sh: .*$port.*; it runs on, counted$" busy.err ||
  fail "busy port: no clear message: $(cat busy.err)"
wait "$long_pid" || fail "the long program failed: $(cat long.err)"
[[ $(cat long.out) == done ]] || fail "the long program's output: $(cat long.out)"
grep -q "^memscope-run: dashboard of python3 (pid [0-9]*) on http://127.0.0.1:$port/$" long.err ||
  fail "no dashboard line: $(cat long.err)"
grep -Eq "peak (1[5-9]|[2-9][0-9])\.[0-9] MB" long.err || fail "the long program's peak: $(cat long.err)"

# --- Exit status ---------------------------------------------------------------------------
run_quietly -- sh -c 'exit 3'
[[ $? == 3 ]] || fail "sh -c 'exit 3' did not give 3"
run_quietly -- python3 -c 'import sys; sys.exit(3)'
[[ $? == 3 ]] || fail "python3's sys.exit(3) did not give 3"
expect_summary python3 3
run_quietly -- sh -c 'kill -TERM $$'
[[ $? == 143 ]] || fail "a program killed by SIGTERM did not give 143"
grep -q "sh ended without running its exit handlers (_exit or a signal): these figures are from memscope's last report" err ||
  fail "no line saying where the figures come from: $(cat err)"
"$run" --port 0 -- python3 -c 'import time; time.sleep(20)' 2>err &
sigterm_pid=$!
background+=("$sigterm_pid")
sleep 1
kill -TERM "$sigterm_pid"
wait "$sigterm_pid"
[[ $? == 143 ]] || fail "SIGTERM sent to memscope-run did not end the program with 143: $(cat err)"
run_quietly -q -- python3 -c 'print("quiet")' >quiet.out || fail "-q: $(cat err)"
[[ $(cat quiet.out) == quiet && ! -s err ]] || fail "-q printed: $(cat err)"
run_quietly -- ./no-such-program
[[ $? == 127 ]] || fail "a missing program did not give 127"
grep -q "cannot run './no-such-program'" err || fail "no exec failure message: $(cat err)"
run_quietly --budget nonsense -- true
[[ $? == 125 ]] || fail "a bad --budget was not a usage error"

# --- The verdict and --gate ----------------------------------------------------------------
run_quietly --budget 1KiB --verdict verdict.json -- python3 -c pass || fail "without --gate, the program's status"
grep -q "memscope-run: verdict: FAIL" err || fail "no verdict failure: $(cat err)"
python3 -c 'import json, sys; d = json.load(open("verdict.json")); sys.exit(0 if d["pass"] is False else 1)' ||
  fail "verdict.json does not fail"
run_quietly --budget 1KiB --gate -- python3 -c pass
[[ $? == 1 ]] || fail "--gate with a failed verdict did not give 1"
run_quietly --budget 1GiB --gate -- python3 -c pass || fail "--gate with a passing verdict failed"
run_quietly --budget 1KiB --gate -- sh -c 'exit 4'
[[ $? == 4 ]] || fail "--gate: the program's failure must win"

# --- Children, fork ------------------------------------------------------------------------
"$run" --port 0 -- sh -c 'python3 -c "print(1)"; perl -e "print 2, qq(\n)"; echo ok' >children.out 2>err ||
  fail "children: $(cat err)"
[[ $(tr '\n' ' ' <children.out) == "1 2 ok " ]] || fail "children's output: $(cat children.out)"
# On port 0 a child that tried to serve would get a port of its own: one dashboard line only.
grep -q "no dashboard" err && fail "a child tried to serve: $(cat err)"
[[ $(grep -c "^memscope-run: dashboard of" err) == 1 ]] || fail "children: $(cat err)"
# A child that only counts loads the counting library alone, not the dashboard's (and with
# it cpp-httplib and OpenSSL): the one that serves loads both.
cat >maps.py <<'PY'
import subprocess, sys
m = open("/proc/self/maps").read()
print(*[name if lib in m else "-" for name, lib in
        (("preload", "libmemscope_preload.so"), ("session", "libmemscope_run_session.so"),
         ("httplib", "libcpp-httplib"))])
if len(sys.argv) == 1:
    subprocess.run([sys.executable, __file__, "child"], check=True)
PY
run_quietly -- python3 maps.py >maps.out || fail "maps: $(cat err)"
[[ $(tr '\n' ' ' <maps.out) == "preload session httplib preload - - " ]] ||
  fail "the libraries loaded (served, then child): $(cat maps.out)"
run_quietly --children serve -- sh -c 'perl -e 1; true' || fail "--children serve: $(cat err)"
grep -q "^memscope-run: dashboard of sh " err || fail "--children serve: no dashboard of sh: $(cat err)"
grep -q "^memscope-run: dashboard of perl " err || fail "--children serve: no dashboard of perl: $(cat err)"
run_quietly -- python3 -c '
import os, sys
pid = os.fork()
if pid == 0:
    sys.exit(0)
os.waitpid(pid, 0)
print("parent")
' >fork.out || fail "fork: $(cat err)"
[[ $(cat fork.out) == parent ]] || fail "fork's output"
expect_summary python3 0
# --- Installed ----------------------------------------------------------------------------
if [[ -n $build ]]; then
  cmake --install "$build" --prefix "$work/prefix" >/dev/null || fail "cmake --install failed"
  env -u MEMSCOPE_PRELOAD "$work/prefix/bin/memscope-run" --port 0 -- python3 -c 'print("installed")' \
    >installed.out 2>err || fail "the installed memscope-run: $(cat err)"
  [[ $(cat installed.out) == installed ]] || fail "the installed memscope-run's output"
  expect_summary python3 0
fi
echo "memscope_run: all checks passed"
