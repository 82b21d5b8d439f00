#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The soak: bench/soak.cpp's allocation storm (8 threads, cross-thread frees, a
# MemoryBudget the server serves) for SECONDS, under load from outside the process:
#  - wrk (Debian package `wrk`) on /api/v1/snapshot and on /metrics, 3 connections each,
#    from before the storm starts until after it ends;
#  - curl holding the live stream /api/v1/stream open from before the storm to the end.
# The program judges the allocator's books and the resident memory (see bench/soak.cpp);
# this script judges the clients:
#  - wrk, each endpoint: requests were made, no non-2xx response, no socket error
#    (connect, read, write, timeout; a request counts as timed out after 10 s);
#  - stream: curl ends normally after the server's `event: end`; a snapshot arrived at
#    least every 5 s (the sampler sends one a second); the first before the storm, the
#    last after it.
# Writes OUT/summary.md beside the raw outputs and prints it; exits 1 if a criterion failed.
#
# usage: bench/soak.sh [--build-dir DIR] [--out DIR] [SECONDS]
#   SECONDS   storm duration, default 60 (what CI runs); the long form is 300
#   DIR       build tree, default build/soak; configured (RelWithDebInfo) and built if needed
#   OUT       where the outputs go, default DIR/soak-SECONDS
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/soak
out=
seconds=60
while (($#)); do
  case $1 in
    --build-dir) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) [[ $1 =~ ^[0-9]+$ ]] || { echo "usage: bench/soak.sh [--build-dir DIR] [--out DIR] [SECONDS]" >&2; exit 2; }
       seconds=$1; shift ;;
  esac
done
out=${out:-$build/soak-$seconds}
for tool in wrk curl; do
  command -v $tool >/dev/null || { echo "soak: $tool is not installed (scripts/install-deps.sh test)" >&2; exit 2; }
done

if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S . -B "$build" -G Ninja --log-level=WARNING -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DMEMSCOPE_BUILD_TESTS=OFF -DMEMSCOPE_BUILD_EXAMPLES=OFF -DMEMSCOPE_BUILD_BENCH=ON
fi
cmake --build "$build" --target soak >/dev/null
exe=$build/bench/soak

mkdir -p "$out"
rm -f "$out"/{soak.log,soak.err,rss.txt,sse.txt,sse.err,wrk-snapshot.txt,wrk-metrics.txt,summary.md}
pids=()
# Whatever happens, nothing started here outlives the script.
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

wait_for_line() {  # FILE PATTERN SECONDS PID: true once FILE has a line matching PATTERN
  local tries=$(($3 * 10))
  until grep -q "$2" "$1" 2>/dev/null; do
    ((tries--)) && kill -0 "$4" 2>/dev/null || return 1  # no use waiting for the dead
    sleep 0.1
  done
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
"$exe" --seconds "$seconds" --wait-signals --rss-log "$out/rss.txt" \
       >"$out/soak.log" 2>"$out/soak.err" &
soak_pid=$!
pids+=("$soak_pid")
if ! wait_for_line "$out/soak.log" "dashboard on" 30 "$soak_pid"; then
  cat "$out/soak.err" >&2
  echo "soak: the program did not start" >&2
  exit 1
fi
url=$(grep -o 'http://[^ ]*' "$out/soak.log" | head -n 1)
url=${url%/}

# The stream first: it must see the storm from its first second.
curl -sS -N --max-time $((seconds + 300)) -o "$out/sse.txt" "$url/api/v1/stream" \
     2>"$out/sse.err" &
sse_pid=$!
pids+=("$sse_pid")
if ! wait_for_line "$out/sse.txt" "^event: snapshot" 30 "$sse_pid"; then
  echo "soak: the stream sent no snapshot" >&2
  exit 1
fi

# 3 + 3 connections and the stream leave one of the server's 8 workers free. wrk runs 5 s
# longer than the storm, so that it covers the storm's start, its end and the final frees.
wrk_seconds=$((seconds + 5))
endpoints=(/api/v1/snapshot /metrics)
wrk_pids=()
for path in "${endpoints[@]}"; do
  wrk -t1 -c3 -d"${wrk_seconds}s" --timeout 10s --latency "$url$path" \
      >"$out/wrk-$(basename "$path").txt" 2>&1 &
  wrk_pids+=($!)
  pids+=($!)
done
sleep 0.5
kill -USR1 "$soak_pid"
echo "soak: $seconds s storm under load from $url (outputs in $out)"

wrk_status=0
for p in "${wrk_pids[@]}"; do wait "$p" || wrk_status=$?; done
wait_for_line "$out/soak.log" "storm done" 120 "$soak_pid" || echo "soak: the storm did not finish" >&2
# memscope's own footprint as the dashboard reports it, with the history full of the run.
footprint=$(curl -s --max-time 5 "$url/api/v1/reconciliation" |
            jq -r '"\(.formatted.memscope_bytes) (\(.formatted.history_bytes) of history)"' \
            2>/dev/null || echo "unknown")
kill -TERM "$soak_pid" 2>/dev/null || true
soak_status=0
wait "$soak_pid" || soak_status=$?
sse_status=0
wait "$sse_pid" || sse_status=$?
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

failures=()
fail() { failures+=("$1"); }

storm_start=$(sed -n 's/.*from unix_ms \([0-9]*\).*/\1/p' "$out/soak.log")
storm_end=$(sed -n 's/.*storm done at unix_ms \([0-9]*\).*/\1/p' "$out/soak.log")
why=$(sed -n 's/^soak: FAILED: //p' "$out/soak.log" | paste -sd ';' -)
[[ $soak_status -eq 0 ]] || fail "the soak program failed (exit $soak_status): ${why:-see soak.err}"
[[ $wrk_status -eq 0 ]] || fail "wrk failed (exit $wrk_status)"

wrk_rows=()
for path in "${endpoints[@]}"; do
  f=$out/wrk-$(basename "$path").txt
  requests=$(awk '/requests in/ {print $1}' "$f")
  rps=$(awk '/^Requests\/sec/ {print $2}' "$f")
  p50=$(awk '$1 == "50%" {print $2}' "$f")
  p99=$(awk '$1 == "99%" {print $2}' "$f")
  non2xx=$(awk '/Non-2xx or 3xx responses/ {print $NF}' "$f")
  socket=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$f")
  non2xx=${non2xx:-0} socket=${socket:-0}
  [[ ${requests:-0} -gt 0 ]] || fail "wrk made no request to $path"
  [[ $non2xx -eq 0 ]] || fail "$non2xx non-2xx responses from $path"
  [[ $socket -eq 0 ]] || fail "$socket socket errors on $path ($(grep 'Socket errors' "$f" | xargs))"
  wrk_rows+=("| \`$path\` | ${requests:-0} | ${rps:-0} | ${p50:-?} | ${p99:-?} | $non2xx | $socket |")
done

# The stream: count the messages, and time the snapshots by their own unix_ms.
read -r snapshots budget_events ends last_event first_ms last_ms max_gap < <(
  awk '/^event: / { event = $2; count[event]++; last = event; next }
       /^data: \{"unix_ms":/ && event == "snapshot" {
         ms = substr($0, 18) + 0
         if (first == 0) first = ms
         if (previous != 0 && ms - previous > gap) gap = ms - previous
         previous = ms
       }
       END { printf "%d %d %d %s %.0f %.0f %.0f\n", count["snapshot"], count["budget_event"],
                    count["end"], (last == "" ? "none" : last), first, previous, gap }' "$out/sse.txt")
[[ $sse_status -eq 0 ]] || fail "the stream client failed (curl exit $sse_status: $(head -c 200 "$out/sse.err"))"
[[ $ends -eq 1 && $last_event == end ]] || fail "the stream did not end with the server's end message (last: $last_event)"
[[ $max_gap -le 5000 ]] || fail "the stream went $max_gap ms without a snapshot (allowed 5000)"
[[ -n $storm_start && $first_ms -le $storm_start ]] || fail "the stream's first snapshot came after the storm started"
[[ -n $storm_end && $last_ms -ge $storm_end ]] || fail "the stream's last snapshot came before the storm ended"

{
  echo "# memscope soak, $seconds s"
  echo
  echo "\`bench/soak.sh $seconds\`, started $started_at on $(nproc) CPUs; load average (1, 5, 15 min)"
  echo "$load_start at the start, $load_end at the end."
  echo
  echo "## Program (bench/soak.cpp)"
  echo
  echo '```'
  grep -v '^soak: dashboard on\|^soak: storm of\|^soak: storm done' "$out/soak.log" || true
  echo '```'
  echo
  echo "memscope's own footprint at the end (dashboard): $footprint"
  echo
  echo "## wrk, ${wrk_seconds} s, 3 connections per endpoint"
  echo
  echo "| endpoint | requests | requests/s | p50 | p99 | non-2xx | socket errors |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${wrk_rows[@]}"
  echo
  echo "## Live stream"
  echo
  echo "$snapshots snapshots and $budget_events budget events received; longest gap between"
  before='?' after='?'  # unknown when the storm did not run its course
  [[ -n $storm_start ]] && before=$((storm_start - first_ms))
  [[ -n $storm_end ]] && after=$((last_ms - storm_end))
  echo "snapshots $max_gap ms; first snapshot $before ms before the storm, last"
  echo "$after ms after it; ended with \`event: $last_event\` (curl exit $sse_status)."
  echo
  echo "## Result"
  echo
  if ((${#failures[@]})); then
    printf -- '- FAILED: %s\n' "${failures[@]}"
  else
    echo "passed: books balanced, no resident growth after warm-up, no failed request, stream unbroken"
  fi
} >"$out/summary.md"
cat "$out/summary.md"
((${#failures[@]} == 0))
