# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034  # variables used by the scripts that source it
# Helpers for the examples' end-to-end tests (sourced by the *_test.sh scripts).
# Each test runs in its own scratch directory and kills what it started on exit.

set -euo pipefail

SKIP=77  # CTest's SKIP_RETURN_CODE for these tests

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

note() { echo "--- $*"; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/memscope-e2e.XXXXXX")
started_pids=()
cleanup() {
    local pid
    for pid in "${started_pids[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$scratch"
}
trap cleanup EXIT

# start_bg LOG CMD...: runs CMD in the background, stdout and stderr into LOG; sets $bg_pid.
start_bg() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 &
    bg_pid=$!
    started_pids+=("$bg_pid")
}

# wait_for_pattern LOG REGEX SECONDS: waits until LOG has a line matching REGEX.
wait_for_pattern() {
    local log=$1 regex=$2 seconds=$3 i
    for ((i = 0; i < seconds * 10; i++)); do
        if grep -qE "$regex" "$log" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "--- $log:" >&2
    cat "$log" >&2 || true
    fail "no line matching '$regex' in $seconds s"
}

# dashboard_port LOG: the port of the "memscope dashboard: http://host:port/" line.
dashboard_port() {
    sed -n 's#^memscope dashboard: http://[^ ]*:\([0-9][0-9]*\)/$#\1#p' "$1" | head -n1
}

# wait_exit PID SECONDS: waits for PID (a child of this shell) to exit and sets
# $exit_status; fails on timeout. Not for $(...): a subshell cannot wait for our children.
wait_exit() {
    local pid=$1 seconds=$2 i
    for ((i = 0; i < seconds * 10; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            exit_status=0
            wait "$pid" || exit_status=$?
            return 0
        fi
        sleep 0.1
    done
    fail "process $pid did not exit within $seconds s"
}

# expect_status WANT GOT WHAT
expect_status() {
    [[ $1 == "$2" ]] || fail "$3: exit status $2, expected $1"
}

# jq_true FILE FILTER WHAT: fails unless the jq filter yields true on FILE.
jq_true() {
    local result
    result=$(jq -e "$2" "$1" 2>&1) || fail "$3 (jq '$2' gave: ${result:-false})"
}

# within_percent A B PERCENT: true when |A - B| <= B * PERCENT / 100 (integers).
within_percent() {
    awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= b * p / 100) }'
}

SUBSYSTEMS=(Chunks Meshes Textures Entities Audio Physics)
