#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# memscope-run under programs that do what strangers' programs do (tests/run/strange.cpp,
# tests/run/own_new.cpp; docs/run.md, "What a program may do under it"): each gives the
# same output and status under memscope-run as alone, with a summary, and nothing hangs.
#
# usage: run_strangers.sh MEMSCOPE_RUN STRANGE OWN_NEW
# Exit 77 (skipped) without python3, unless MEMSCOPE_REQUIRE_E2E=1: then 1.
set -uo pipefail
ulimit -c 0  # the programs that abort or crash on purpose leave no core file

run=$(realpath "${1:?memscope-run binary}")
strange=$(realpath "${2:?memscope_strange binary}")
own_new=$(realpath "${3:?memscope_own_new binary}")

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

if ! command -v python3 >/dev/null; then
  echo "memscope_run_strangers: python3 is not installed" >&2
  [[ ${MEMSCOPE_REQUIRE_E2E:-0} == 1 ]] && fail "MEMSCOPE_REQUIRE_E2E=1 and python3 is missing"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/memscope-strangers.XXXXXX")
holder=
cleanup() {
  [[ -n $holder ]] && kill "$holder" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1

summary='^memscope-run: [a-z_]+ (exited with status [0-9]+|was killed by signal [0-9]+ \([A-Za-z ]+\)) after [0-9.]+ s; peak [0-9.]+ [KMG]?B;'

# Runs "$@" alone and under memscope-run (30 s at most each: a hang fails). The outputs
# and statuses must be the same, and memscope-run must print its summary, from the exit
# handlers ("at exit") or, when the program skips them, from its last report.
same_as_alone() {
  local expect_status=$1 when=$2
  shift 2
  timeout 30 "$@" >alone.out 2>alone.err
  local alone=$?
  [[ $alone == "$expect_status" ]] || fail "$* alone: status $alone, not $expect_status: $(cat alone.out alone.err)"
  timeout 30 "$run" --port 0 -- "$@" >run.out 2>run.err
  local under=$?
  [[ $under != 124 ]] || fail "$* hung under memscope-run: $(cat run.out run.err)"
  [[ $under == "$alone" ]] || fail "$*: status $under under memscope-run, $alone alone: $(cat run.out run.err)"
  cmp -s alone.out run.out || fail "$*: the output differs under memscope-run: $(diff alone.out run.out)"
  grep -Eq "$summary $when" run.err || fail "$*: no summary '$when': $(cat run.err)"
  if [[ $when == "at exit" ]]; then
    grep -q "without running its exit handlers" run.err && fail "$*: $(cat run.err)"
  else
    grep -q "ended without running its exit handlers (_exit or a signal): these figures are from memscope's last report" run.err ||
      fail "$*: the summary does not say where its figures come from: $(cat run.err)"
  fi
  echo "ok: $* ($(head -c 60 run.out | tr '\n' ' '))"
}

# --- Programs that end normally ------------------------------------------------------------
for mode in early libc threads fork close-fds signals; do
  same_as_alone 0 "at exit" "$strange" "$mode"
done
same_as_alone 0 "at exit" "$own_new"
grep -q "every block came back to it" run.out || fail "own operator new: $(cat run.out)"

# --- Programs that end without returning from main -----------------------------------------
same_as_alone 5 "[0-9.]+ s before the end," "$strange" exit _exit
same_as_alone 6 "[0-9.]+ s before the end," "$strange" exit _Exit
same_as_alone 7 "at exit" "$strange" exit quick_exit
same_as_alone 8 "at exit" "$strange" exit thread
same_as_alone 134 "[0-9.]+ s before the end," "$strange" exit abort
same_as_alone 137 "[0-9.]+ s before the end," "$strange" exit kill
same_as_alone 139 "[0-9.]+ s before the end," "$strange" exit segv

# --- The port is taken: no descriptor of memscope's stays, one thread follows the heap -----
# The holder listens on a port of its own choosing (port 0) and writes it down when it holds it.
python3 -c '
import os, socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
with open("holding.tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename("holding.tmp", "holding")
time.sleep(60)
' &
holder=$!
for _ in $(seq 200); do [[ -e holding ]] && break; sleep 0.05; done
port=$(cat holding) || fail "busy port: the holder did not start"
"$strange" count >alone.out
"$run" --port "$port" -- "$strange" count >busy.out 2>busy.err || fail "busy port: $(cat busy.err)"
grep -q "no dashboard for memscope_strange: cannot listen on 127.0.0.1:$port" busy.err ||
  fail "busy port: no message: $(cat busy.err)"
read -r _ alone_fds _ alone_threads <alone.out
read -r _ busy_fds _ busy_threads <busy.out
[[ $busy_fds == "$alone_fds" ]] || fail "busy port: $busy_fds descriptors under memscope-run, $alone_fds alone"
[[ $busy_threads == $((alone_threads + 1)) ]] ||
  fail "busy port: $busy_threads threads under memscope-run, $alone_threads alone (one more expected: ms-run-heap)"
"$run" --port "$port" -- sh -c 'cat /proc/$$/task/*/comm' >comm.out 2>busy.err
[[ $(sort comm.out | tr '\n' ' ') == "ms-run-heap sh " ]] || fail "busy port: threads $(cat comm.out)"
echo "ok: busy port ($busy_fds descriptors, $busy_threads threads)"

echo "memscope_run_strangers: all checks passed"
