#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fuzzing in one command: builds the libFuzzer targets of fuzz/ with clang (ASan + UBSan,
# system-malloc backend) in build/fuzz, then runs every target for SECONDS, two at a time.
# Exits non-zero, naming the crash file, if any target crashed, leaked, hung or broke one
# of its checks.
#
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   run each target that long (default 60);
#                                                CI runs a short form, the long form is
#                                                e.g. scripts/fuzz.sh 3600
#        scripts/fuzz.sh --merge                 after a run: add to fuzz/corpus/<target>/
#                                                the inputs it found that reach new code
#                                                (libFuzzer -merge=1, so only those)
# environment:
#   MEMSCOPE_FUZZ_TARGETS   targets to run (default: config size body router)
#   MEMSCOPE_FUZZ_JOBS      targets run at once (default 2: one per core of a CI runner)
#   MEMSCOPE_JOBS           build parallelism (default: nproc)
#   MEMSCOPE_FUZZ_BUILD_DIR the build tree (default build/fuzz; scripts/test.sh fuzz uses
#                           build/ci-fuzz)
#
# Each target reads fuzz/corpus/<target>/ and fuzz/regressions/<target>/ (every input that
# ever failed, so a regression shows at once) and writes what it finds to
# <build>/corpus/<target>/, never to the repository. A failing input is saved under
# <build>/artifacts/<target>/ and named in the output: fix the code, copy the input to
# fuzz/regressions/<target>/, and the replay test of every build keeps it fixed
# (fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

read -r -a targets <<<"${MEMSCOPE_FUZZ_TARGETS:-config size body router}"
parallel=${MEMSCOPE_FUZZ_JOBS:-2}
build=${MEMSCOPE_FUZZ_BUILD_DIR:-build/fuzz}

# The longest input worth trying, per surface: a config file and a request are a few KiB
# at most to be interesting (the router refuses targets over 2 KiB, so 4 KiB reaches that
# too); a body past the 32-byte limit mode reaches the 413; a size is a short string.
declare -A max_len=([config]=4096 [size]=64 [body]=2048 [router]=4096)

merge=0
seconds=60
case ${1:-} in
  --merge) merge=1 ;;
  '') ;;
  *[!0-9]* | 0) echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] | --merge" >&2; exit 2 ;;
  *) seconds=$1 ;;
esac

for t in "${targets[@]}"; do
  [[ -v max_len[$t] ]] || { echo "fuzz: unknown target '$t'" >&2; exit 2; }
done
command -v clang++ >/dev/null || {
  echo "fuzz: clang++ not found; install it with scripts/install-deps.sh test" >&2
  exit 1
}

started=$SECONDS
# -O1: the usual libFuzzer trade-off, quick to build and still fast to run. The sanitizer
# flags (and -g) come from MEMSCOPE_FUZZ, which implies MEMSCOPE_SANITIZE=address,undefined.
cmake -S . -B "$build" -G Ninja --log-level=WARNING \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -DMEMSCOPE_FUZZ=ON -DMEMSCOPE_WERROR=ON \
  -DMEMSCOPE_BUILD_TESTS=OFF -DMEMSCOPE_BUILD_EXAMPLES=OFF -DMEMSCOPE_BUILD_BENCH=OFF \
  -DMEMSCOPE_INSTALL=OFF
cmake --build "$build" -j "${MEMSCOPE_JOBS:-$(nproc)}" --target memscope_fuzzers
echo "fuzz: built in $((SECONDS - started)) s"

if ((merge)); then
  for t in "${targets[@]}"; do
    [[ -d $build/corpus/$t ]] || continue
    before=$(find "fuzz/corpus/$t" -type f | wc -l)
    "$build/fuzz/fuzz_$t" -merge=1 -max_len="${max_len[$t]}" -rss_limit_mb=2048 \
      "fuzz/corpus/$t" "$build/corpus/$t" >"$build/logs/merge-$t.log" 2>&1
    echo "fuzz: $t: fuzz/corpus/$t has $(find "fuzz/corpus/$t" -type f | wc -l) inputs" \
         "($before before the merge)"
  done
  exit 0
fi

mkdir -p "$build/logs"
run() {  # one target; its exit status is libFuzzer's
  local t=$1
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
  # -timeout: an input taking 10 s is a hang. -rss_limit_mb (and the malloc limit it
  # implies): 2 GiB is an out-of-memory bug for any of these inputs. The dictionary names
  # the surface's keywords; -use_value_profile helps with the comparisons of parsers.
  local inputs=("$build/corpus/$t" "fuzz/corpus/$t")
  # regressions/<target>/ exists once a failing input was kept (git keeps no empty folder).
  if [[ -d fuzz/regressions/$t ]]; then inputs+=("fuzz/regressions/$t"); fi
  "$build/fuzz/fuzz_$t" "${inputs[@]}" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="${max_len[$t]}" \
    -dict="fuzz/dict/$t.dict" -use_value_profile=1 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$t/" >"$build/logs/$t.log" 2>&1
}

# A final summary line per target: executions, coverage, what it found.
report() {
  local t=$1 status=$2 log=$build/logs/$1.log
  local execs cov
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -ao 'cov: [0-9]* ft: [0-9]* corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 || true)
  if ((status == 0)); then
    echo "fuzz: $t passed: ${execs:-?} executions, ${cov:-no coverage line} (log $log)"
    return
  fi
  echo "fuzz: $t FAILED (exit $status), log $log:" >&2
  grep -aE -A6 'fuzz check failed|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' \
    "$log" | head -40 >&2 || tail -30 "$log" >&2
  local files
  files=$(find "$build/artifacts/$t" -type f -newer "$build/logs/.start" 2>/dev/null || true)
  for f in $files; do
    echo "fuzz: $t: failing input $f" >&2
    echo "      reproduce: $build/fuzz/fuzz_$t $f" >&2
  done
}

touch "$build/logs/.start"
declare -A pid_of=()
failed=()
wait_one() {  # waits for any running target, reports it
  local done_pid status=0 t
  wait -n -p done_pid "${pid_of[@]}" || status=$?
  for t in "${!pid_of[@]}"; do
    if [[ ${pid_of[$t]} == "$done_pid" ]]; then
      unset "pid_of[$t]"
      report "$t" "$status"
      ((status == 0)) || failed+=("$t")
    fi
  done
}
echo "fuzz: ${targets[*]}, $seconds s each, $parallel at a time"
for t in "${targets[@]}"; do
  while ((${#pid_of[@]} >= parallel)); do wait_one; done
  run "$t" &
  pid_of[$t]=$!
done
while ((${#pid_of[@]} > 0)); do wait_one; done

echo "fuzz: done in $((SECONDS - started)) s"
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (failing inputs under $build/artifacts/)" >&2
  exit 1
fi
