#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end tests of examples/voxel_demo, one case per CTest test.
# usage: voxel_demo_test.sh CASE VOXEL_DEMO_BINARY
#   usage         --help, bad flags and an unwritable verdict give the documented statuses
#   verdict-pass  default budgets: the verdict passes, exit status 0, periodic lines logged
#   verdict-fail  --scale-budgets 0.1: warnings, Chunks over budget (its read-ahead widens past
#                 it), exit status 1
#   leak          --leak: leak_suspect events for Meshes; --fail-on-leak turns them into a failure
#   leak-free     the same run without --leak has no leak suspect
#   baseline      a second run against the first (--baseline, --junit) passes and its JUnit
#                 report validates (xmllint, tests/junit.xsd); a lowered baseline fails it
#                 (exit 1), a missing one is exit 2
#   config        --config sets budgets (and --scale-budgets scales them); a bad file is exit 2
#   ground-truth  each subsystem's reported bytes are within 1% of what the allocator freed
#   signal        a real-time run stops cleanly on SIGINT with the peak summary
#   api           (server builds) the JSON API, /metrics and the verdict route against the
#                 allocator's ground truth, and a warning event in a scaled-budget run
#   api-leak      (server builds) a leak_suspect event on /api/v1/events
#   busy-port     (server builds) a taken port is reported and the demo runs on without it
#   churn         (server builds) --churn: the particle bursts break the Entities and total
#                 frame budgets; /api/v1/frames marks those frames, /api/v1/events has
#                 frame_over_budget events with their frame numbers, /metrics counts them
#   forecast      (server builds) a real-time --scale-budgets 0.1 run: Chunks, whose read-ahead
#                 widens, is forecast at least 10 s before its first over_budget event; no
#                 subsystem that holds still or waves gets a forecast; rows carry the forecast
#                 keys; /metrics has the forecast gauges
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

case_name=${1:?case}
demo=${2:?voxel_demo binary}
fast=(--no-pacing)
# No test may depend on an environment variable left over from the caller's shell, and
# none may take port 9090 (a developer's demo may be running): port 0 unless --port says.
unset MEMSCOPE_BIND MEMSCOPE_TOKEN MEMSCOPE_DISABLE MEMSCOPE_CONFIG
export MEMSCOPE_PORT=0

# check_verdict_shape FILE: every subsystem is in the report with the documented fields.
check_verdict_shape() {
    local name
    jq_true "$1" '.version == 1 and (.pass | type == "boolean") and (.events | type == "array")' \
        "verdict document shape"
    for name in "${SUBSYSTEMS[@]}"; do
        jq_true "$1" "any(.subsystems[]; .name == \"$name\" and .peak_bytes > 0 and .budget_bytes > 0)" \
            "subsystem $name in the verdict"
    done
}

# ground_truth LOG: "name freed_bytes" lines from the demo's exit report.
ground_truth() {
    sed -n 's/^ground truth: \([A-Za-z]*\) reported \([0-9]*\) B, allocator freed \([0-9]*\) B.*/\1 \2 \3/p' "$1"
}

case $case_name in
usage)
    "$demo" --help >"$scratch/help" || fail "--help exited non-zero"
    grep -q -- "--scale-budgets" "$scratch/help" || fail "--help does not list --scale-budgets"
    for bad in "--bogus" "--frames" "--frames abc" "--frames 0" "--port 70000" \
        "--scale-budgets -1" "--frames 10 --seconds 1" "--leak=yes" "--linger 5"; do
        status=0
        # shellcheck disable=SC2086  # split the flags on purpose
        "$demo" $bad >"$scratch/out" 2>&1 || status=$?
        expect_status 2 "$status" "voxel_demo $bad"
        grep -q "Try 'voxel_demo --help'" "$scratch/out" || fail "no usage hint for '$bad'"
    done
    status=0
    "$demo" --frames 10 "${fast[@]}" --verdict "$scratch/no/such/dir/v.json" >"$scratch/out" 2>&1 || status=$?
    expect_status 2 "$status" "unwritable --verdict"
    grep -q "cannot write the verdict" "$scratch/out" || fail "no message for an unwritable verdict"
    ;;

verdict-pass)
    status=0
    "$demo" --seconds 20 "${fast[@]}" --verdict "$scratch/v.json" >"$scratch/log" 2>&1 || status=$?
    expect_status 0 "$status" "default budgets"
    check_verdict_shape "$scratch/v.json"
    jq_true "$scratch/v.json" '.pass and (.failures | length == 0) and .frames == 1200' "passing verdict"
    jq_true "$scratch/v.json" '[.subsystems[] | select(.exceeded)] | length == 0' "nothing exceeded"
    # Frame work times: one per frame, the histogram adds up, the percentiles are ordered.
    jq_true "$scratch/v.json" '.frame_time as $t | $t.frames == 1200
        and ([$t.histogram[].count] | add) == 1200
        and $t.p50_ms <= $t.p99_ms and $t.p99_ms <= $t.worst_ms and $t.mean_ms <= $t.worst_ms
        and $t.worst_frame >= 1 and $t.worst_frame <= 1200' "frame_time figures"
    # Less the waits for a CPU: the same frames, none longer.
    jq_true "$scratch/v.json" '.frame_time_without_cpu_wait as $o | $o.frames == 1200
        and ([$o.histogram[].count] | add) == 1200
        and $o.worst_ms <= .frame_time.worst_ms and $o.mean_ms <= .frame_time.mean_ms' \
        "frame_time_without_cpu_wait figures"
    grep -q "frame work time over 1200 frames" "$scratch/log" || fail "no frame time line"
    grep -q "Frame 300: Memory" "$scratch/log" || fail "no periodic line at frame 300"
    grep -q "Frame 1200: Memory" "$scratch/log" || fail "no periodic line at frame 1200"
    grep -q "Peak memory of Chunks" "$scratch/log" || fail "no peak summary"
    # '--verdict -': standard output carries the document and nothing else.
    "$demo" --frames 60 "${fast[@]}" --verdict - 2>/dev/null >"$scratch/stdout.json"
    jq_true "$scratch/stdout.json" '.pass and .frames == 60' "--verdict - writes only JSON to stdout"
    ;;

verdict-fail)
    status=0
    # Chunks crosses its budget about 37 s in, as its read-ahead widens.
    # 90 simulated seconds: Chunks crosses its scaled budget about 37 s in, about 60 s in a
    # build without tracking (it reports its footprint, smaller than what it measures).
    "$demo" --seconds 90 "${fast[@]}" --scale-budgets 0.1 --verdict "$scratch/v.json" >"$scratch/log" 2>&1 || status=$?
    expect_status 1 "$status" "--scale-budgets 0.1"
    check_verdict_shape "$scratch/v.json"
    jq_true "$scratch/v.json" '.pass == false' "failing verdict"
    jq_true "$scratch/v.json" '.subsystems[] | select(.name == "Chunks") | .exceeded and .seconds_over_budget > 0 and .peak_usage > 1' \
        "Chunks exceeded its budget"
    jq_true "$scratch/v.json" 'any(.events[]; .kind == "warning" and .subsystem == "Chunks")' "a warning event"
    jq_true "$scratch/v.json" 'any(.events[]; .kind == "over_budget" and .subsystem == "Chunks")' "an over_budget event"
    jq_true "$scratch/v.json" 'any(.failures[]; startswith("Chunks exceeded its budget"))' "the failure names Chunks"
    grep -q "Subsystem 'Chunks' at 8[5-9]% of memory budget" "$scratch/log" || fail "no warning line in the log"
    ;;

baseline)
    run=("$demo" --seconds 10 "${fast[@]}")
    "${run[@]}" --verdict "$scratch/base.json" >"$scratch/log" 2>&1 || fail "the first run failed"
    status=0
    "${run[@]}" --baseline "$scratch/base.json" --baseline-tolerance 0.05 --junit "$scratch/j.xml" \
        --verdict "$scratch/v.json" >"$scratch/log2" 2>&1 || status=$?
    expect_status 0 "$status" "a run against its own baseline"
    jq_true "$scratch/v.json" '.pass and .baseline.error == null
        and ([.baseline.subsystems[] | select(.status == "rose")] | length == 0)' "within the baseline"
    if command -v xmllint >/dev/null; then
        xmllint --noout --schema "$here/../../tests/junit.xsd" "$scratch/j.xml" ||
            fail "the JUnit report does not validate"
    elif [[ ${MEMSCOPE_REQUIRE_E2E:-0} == 1 ]]; then
        fail "xmllint is missing and MEMSCOPE_REQUIRE_E2E=1 (install libxml2-utils)"
    else
        note "xmllint is missing: the JUnit report is not validated (install libxml2-utils)"
    fi
    grep -q '<testcase name="baseline: Meshes" classname="memscope.rule"' "$scratch/j.xml" ||
        fail "no baseline test case for Meshes"
    # A baseline where Meshes peaked at half: this run's Meshes rose, the verdict fails.
    jq '(.subsystems[] | select(.name == "Meshes") | .peak_bytes) |= (. / 2 | floor)' \
        "$scratch/base.json" >"$scratch/lower.json"
    status=0
    "${run[@]}" --baseline "$scratch/lower.json" --junit "$scratch/j2.xml" >"$scratch/log3" 2>&1 || status=$?
    expect_status 1 "$status" "a run over a lowered baseline"
    grep -q "verdict: Meshes peak rose 100% over the baseline" "$scratch/log3" || fail "no rise message"
    grep -q '<failure message="Meshes peak rose' "$scratch/j2.xml" || fail "no JUnit failure for Meshes"
    status=0
    "${run[@]}" --baseline "$scratch/absent.json" >"$scratch/log4" 2>&1 || status=$?
    expect_status 2 "$status" "a missing baseline"
    grep -q "absent.json' cannot be read" "$scratch/log4" || fail "no message for a missing baseline"
    ;;

leak)
    # 70 s of simulated time: the transition check fires at the first sector change, the
    # sampler's floor test once its 60-sample window is full.
    status=0
    "$demo" --seconds 70 "${fast[@]}" --leak --verdict "$scratch/v.json" >"$scratch/log" 2>&1 || status=$?
    expect_status 0 "$status" "--leak without --fail-on-leak"
    jq_true "$scratch/v.json" '.leak_suspects == ["Meshes"]' "Meshes is the only leak suspect"
    jq_true "$scratch/v.json" 'any(.events[]; .kind == "leak_suspect" and .subsystem == "Meshes" and (.message | test("baseline")))' \
        "leak_suspect from the transition check"
    jq_true "$scratch/v.json" 'any(.events[]; .kind == "leak_suspect" and .subsystem == "Meshes" and (.message | test("floor")))' \
        "leak_suspect from the sampler's floor test"
    status=0
    "$demo" --seconds 20 "${fast[@]}" --leak --fail-on-leak --verdict "$scratch/v2.json" >"$scratch/log2" 2>&1 || status=$?
    expect_status 1 "$status" "--leak --fail-on-leak"
    jq_true "$scratch/v2.json" 'any(.failures[]; test("Meshes is a leak suspect"))' "the failure names Meshes"
    ;;

leak-free)
    # The same length of run without --leak has no suspect at all: the sawtooth of sector
    # transitions and the population cycles must not pass for a leak.
    "$demo" --seconds 70 "${fast[@]}" --verdict "$scratch/v3.json" >"$scratch/log3" 2>&1
    jq_true "$scratch/v3.json" '.leak_suspects == [] and ([.events[] | select(.kind == "leak_suspect")] | length == 0)' \
        "no leak suspect without --leak"
    ;;

config)
    cat >"$scratch/memscope.json" <<'JSON'
{
  "warning_threshold": 0.9,
  "budgets": { "Chunks": "200 MiB", "Meshes": "64 MiB" }
}
JSON
    status=0
    "$demo" --config "$scratch/memscope.json" --scale-budgets 0.5 --seconds 90 "${fast[@]}" \
        --verdict "$scratch/v.json" >"$scratch/log" 2>&1 || status=$?
    expect_status 1 "$status" "Chunks budget of 200 MiB scaled by 0.5"
    jq_true "$scratch/v.json" '.warning_threshold == 0.9' "threshold from the file"
    jq_true "$scratch/v.json" '.subsystems[] | select(.name == "Chunks") | .budget_bytes == 104857600 and .exceeded' \
        "Chunks budget 100 MiB, exceeded"
    jq_true "$scratch/v.json" '.subsystems[] | select(.name == "Meshes") | .budget_bytes == 33554432' "Meshes 32 MiB"
    jq_true "$scratch/v.json" '.subsystems[] | select(.name == "Audio") | .budget_bytes == 67108864' \
        "Audio keeps its default, scaled"
    echo '{ "budgets": { "Chunks": "12 XB" } }' >"$scratch/bad.json"
    status=0
    "$demo" --config "$scratch/bad.json" --frames 10 "${fast[@]}" >"$scratch/log" 2>&1 || status=$?
    expect_status 2 "$status" "a bad config file"
    grep -q "bad.json:1:.*budgets.Chunks" "$scratch/log" || { cat "$scratch/log"; fail "no file:line: key message"; }
    status=0
    "$demo" --config "$scratch/missing.json" --frames 10 "${fast[@]}" >"$scratch/log" 2>&1 || status=$?
    expect_status 2 "$status" "a missing config file"
    ;;

ground-truth)
    "$demo" --seconds 20 "${fast[@]}" >"$scratch/log" 2>&1
    if grep -q "ground truth: unavailable" "$scratch/log"; then
        echo "allocation tracking is compiled out: nothing to compare"
        exit "$SKIP"
    fi
    [[ $(ground_truth "$scratch/log" | wc -l) -eq 6 ]] || { cat "$scratch/log"; fail "expected 6 ground-truth lines"; }
    while read -r name reported freed; do
        note "$name: reported $reported, allocator freed $freed"
        [[ $reported -gt 0 ]] || fail "$name reported nothing"
        within_percent "$reported" "$freed" 1 || fail "$name: reported $reported is not within 1% of $freed"
    done < <(ground_truth "$scratch/log")
    ;;

signal)
    start_bg "$scratch/log" "$demo" --port 0
    wait_for_pattern "$scratch/log" "running; Ctrl-C to stop" 20
    sleep 1
    kill -INT "$bg_pid"
    wait_exit "$bg_pid" 10
    expect_status 0 "$exit_status" "SIGINT"
    grep -q "stopping after" "$scratch/log" || fail "no stop line"
    grep -q "Peak memory of all subsystems" "$scratch/log" || fail "no peak summary after SIGINT"
    ;;

api | api-leak)
    extra=(--scale-budgets 0.1)
    [[ $case_name == api-leak ]] && extra=(--leak)
    seconds=90  # Chunks crosses its scaled budget about 37 s in (about 60 s without tracking)
    [[ $case_name == api-leak ]] && seconds=70
    start_bg "$scratch/log" "$demo" --port 0 --seconds "$seconds" "${fast[@]}" --linger 60 \
        --verdict "$scratch/v.json" --token e2e-secret "${extra[@]}"
    wait_for_pattern "$scratch/log" "^memscope dashboard: " 20
    if grep -q "^memscope dashboard: off" "$scratch/log"; then
        echo "built without the dashboard server"
        exit "$SKIP"
    fi
    port=$(dashboard_port "$scratch/log")
    [[ -n $port ]] || fail "no port in the dashboard line"
    base="http://127.0.0.1:$port"
    wait_for_pattern "$scratch/log" "the dashboard stays up" 30
    curl -fsS "$base/healthz" >/dev/null || fail "GET /healthz"
    curl -fsS "$base/api/v1/subsystems" >"$scratch/subsystems.json" || fail "GET /api/v1/subsystems"
    curl -fsS "$base/api/v1/events" >"$scratch/events.json" || fail "GET /api/v1/events"
    curl -fsS "$base/api/v1/verdict" >"$scratch/verdict-live.json" || fail "GET /api/v1/verdict"
    curl -fsS "$base/api/v1/marks" >"$scratch/marks.json" || fail "GET /api/v1/marks"
    jq_true "$scratch/marks.json" \
        '.marks | any(.name | test("^sector-[0-9]+-(plains|forest|mountains)-loaded$")) and all(.frame > 0)' \
        "the demo's sector loads as marks with their frames on /api/v1/marks"
    curl -fsS "$base/metrics" >"$scratch/metrics.txt" || fail "GET /metrics"
    rows='.subsystems'  # GET /api/v1/subsystems: {"warning_threshold": ..., "subsystems": [...]}
    for name in "${SUBSYSTEMS[@]}"; do
        jq_true "$scratch/subsystems.json" "$rows | any(.name == \"$name\")" "$name in /api/v1/subsystems"
        grep -q "^memscope_subsystem_current_bytes{subsystem=\"$name\"}" "$scratch/metrics.txt" ||
            fail "$name in /metrics"
    done
    if command -v promtool >/dev/null; then
        promtool check metrics <"$scratch/metrics.txt" || fail "promtool check metrics"
    fi
    events='.events'  # GET /api/v1/events: {"last_sequence": ..., "events": [...]}
    if [[ $case_name == api ]]; then
        jq_true "$scratch/events.json" "$events | any(.kind == \"warning\" and .subsystem == \"Chunks\")" \
            "a Chunks warning event on /api/v1/events"
        # A normal run ends every frame and stays within its frame budgets.
        curl -fsS "$base/api/v1/frames" >"$scratch/frames.json" || fail "GET /api/v1/frames"
        jq_true "$scratch/frames.json" '(.stats.frames > 0 or .tracking_enabled == false) and (.budgets | length) == 3' \
            "frames recorded (with tracking) and the demo's three frame budgets on /api/v1/frames"
        jq_true "$scratch/events.json" "$events | all(.kind != \"frame_over_budget\")" \
            "no frame_over_budget event in a normal run"
        jq_true "$scratch/frames.json" 'all(.budgets[]; .frames_over == 0)' \
            "no frame over a frame budget in a normal run"
        jq_true "$scratch/verdict-live.json" '.pass == false and .version == 1' "the live verdict fails"
        # Simulated pressure arrives on a server thread: the demo's callback must only ask
        # the game thread to evict. Control endpoints need the --token.
        code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
            -d '{"status":"warning"}' "$base/api/v1/pressure/Chunks")
        [[ $code == 401 || $code == 403 ]] || fail "pressure without the token: HTTP $code"
        curl -fsS -X POST -H 'Content-Type: application/json' -H 'Authorization: Bearer e2e-secret' \
            -d '{"status":"warning"}' "$base/api/v1/pressure/Chunks" >"$scratch/pressure.json" ||
            fail "POST /api/v1/pressure/Chunks with the token"
        jq_true "$scratch/pressure.json" '.callbacks_called == 1' "the demo's Chunks callback was called"
    else
        jq_true "$scratch/events.json" "$events | any(.kind == \"leak_suspect\" and .subsystem == \"Meshes\")" \
            "a Meshes leak_suspect event on /api/v1/events"
    fi

    kill -INT "$bg_pid"
    wait_exit "$bg_pid" 20
    want=0
    [[ $case_name == api ]] && want=1
    expect_status $want "$exit_status" "exit after SIGINT"
    # The live verdict and the file written at exit agree (the simulation was frozen).
    live=$(jq -c 'del(.generated_at)' "$scratch/verdict-live.json")
    written=$(jq -c 'del(.generated_at)' "$scratch/v.json")
    [[ $live == "$written" ]] || fail "/api/v1/verdict differs from the --verdict file"
    if grep -q "ground truth: unavailable" "$scratch/log"; then
        echo "allocation tracking is compiled out: skipping the 1% comparison"
        exit 0
    fi
    # What the server says each subsystem holds, against what the allocator saw it free.
    while read -r name _ freed; do
        served=$(jq -r "$rows | map(select(.name == \"$name\"))[0].current_bytes" "$scratch/subsystems.json")
        note "$name: served $served, allocator freed $freed"
        within_percent "$served" "$freed" 1 || fail "$name: served $served is not within 1% of $freed"
    done < <(ground_truth "$scratch/log")
    ;;

churn)
    # 6 s of simulated play: bursts at frames 60, 180 and 300, each one frame of 30 000
    # allocations in Entities. The frame alarms run on the simulation's clock, so each
    # burst, 2 simulated seconds after the last, is announced.
    start_bg "$scratch/log" "$demo" --port 0 --seconds 6 "${fast[@]}" --linger 60 --churn
    wait_for_pattern "$scratch/log" "^memscope dashboard: " 20
    if grep -q "^memscope dashboard: off" "$scratch/log"; then
        echo "built without the dashboard server"
        exit "$SKIP"
    fi
    port=$(dashboard_port "$scratch/log")
    [[ -n $port ]] || fail "no port in the dashboard line"
    base="http://127.0.0.1:$port"
    wait_for_pattern "$scratch/log" "the dashboard stays up" 30
    curl -fsS "$base/api/v1/frames" >"$scratch/frames.json" || fail "GET /api/v1/frames"
    curl -fsS "$base/api/v1/events" >"$scratch/events.json" || fail "GET /api/v1/events"
    curl -fsS "$base/metrics" >"$scratch/metrics.txt" || fail "GET /metrics"
    kill -INT "$bg_pid"
    wait_exit "$bg_pid" 20
    expect_status 0 "$exit_status" "exit after SIGINT"
    if jq -e '.tracking_enabled == false' "$scratch/frames.json" >/dev/null; then
        echo "allocation tracking is compiled out: frames count nothing"
        exit 0
    fi
    jq_true "$scratch/frames.json" '.stats.frames == 361 and .stats.last_frame == 360' \
        "every frame recorded, and the loading screen as frame 0"
    jq_true "$scratch/frames.json" \
        '[.frames[] | select(any(.subsystems[]; .name == "Entities" and .over_budget)) | .frame] == [60, 180, 300]' \
        "the three burst frames, and only they, marked over the Entities frame budget"
    jq_true "$scratch/frames.json" \
        '[.frames[] | select(.over_budget) | .frame] == [60, 180, 300]' \
        "the burst frames marked over the total frame budget"
    jq_true "$scratch/frames.json" '.stats.worst_allocations >= 30000' \
        "the worst frame made the burst's 30 000 allocations"
    jq_true "$scratch/events.json" \
        '[.events[] | select(.kind == "frame_over_budget" and .subsystem == "Entities") | .frame] == [60, 180, 300]' \
        "a frame_over_budget event per burst with its frame number"
    grep -q '^memscope_frames_over_budget_total{subsystem="Entities"} 3$' "$scratch/metrics.txt" ||
        fail "memscope_frames_over_budget_total counts the three bursts"
    grep -q '^memscope_events_total{kind="frame_over_budget"} 6$' "$scratch/metrics.txt" ||
        fail "six frame_over_budget events (Entities and the total, three bursts)"
    if command -v promtool >/dev/null; then
        promtool check metrics <"$scratch/metrics.txt" || fail "promtool check metrics"
    fi
    ;;

forecast)
    # Real time: the sampler's trend is in real seconds, which --no-pacing would compress.
    # Chunks crosses its scaled budget about 38 s in; the run stops a few seconds later.
    start_bg "$scratch/log" "$demo" --port 0 --seconds 42 --scale-budgets 0.1 --linger 60 \
        --verdict "$scratch/v.json"
    wait_for_pattern "$scratch/log" "^memscope dashboard: " 20
    if grep -q "^memscope dashboard: off" "$scratch/log"; then
        echo "built without the dashboard server"
        exit "$SKIP"
    fi
    port=$(dashboard_port "$scratch/log")
    [[ -n $port ]] || fail "no port in the dashboard line"
    base="http://127.0.0.1:$port"
    # The scenario is timed on what Chunks measures; without tracking it reports a smaller
    # footprint and crosses about 60 s in, past this run.
    if curl -fsS "$base/api/v1/frames" | jq -e '.tracking_enabled == false' >/dev/null; then
        kill -INT "$bg_pid"
        wait_exit "$bg_pid" 20
        echo "allocation tracking is compiled out: the forecast scenario is timed for measured Chunks"
        exit "$SKIP"
    fi
    wait_for_pattern "$scratch/log" "the dashboard stays up" 60
    curl -fsS "$base/api/v1/events" >"$scratch/events.json" || fail "GET /api/v1/events"
    curl -fsS "$base/api/v1/subsystems" >"$scratch/subsystems.json" || fail "GET /api/v1/subsystems"
    curl -fsS "$base/metrics" >"$scratch/metrics.txt" || fail "GET /metrics"
    kill -INT "$bg_pid"
    wait_exit "$bg_pid" 20
    expect_status 1 "$exit_status" "exit after SIGINT (budgets exceeded)"
    jq_true "$scratch/events.json" 'any(.events[]; .kind == "over_budget" and .subsystem == "Chunks")' \
        "Chunks crosses its budget"
    for name in Meshes Textures Entities Audio Physics; do
        jq_true "$scratch/events.json" "all(.events[]; .kind != \"forecast\" or .subsystem != \"$name\")" \
            "no forecast for $name, which holds still or waves"
    done
    jq_true "$scratch/subsystems.json" \
        'all(.subsystems[]; has("forecast_seconds") and has("forecast_bytes_per_second"))' \
        "every row has the forecast keys"
    grep -q '^memscope_events_total{kind="forecast"} [1-9]' "$scratch/metrics.txt" ||
        fail "no forecast counted in memscope_events_total"
    grep -q '^memscope_subsystem_forecast_seconds{subsystem="Meshes"} 0$' "$scratch/metrics.txt" ||
        fail "no memscope_subsystem_forecast_seconds of 0 for Meshes"
    grep -q '^memscope_total_forecast_seconds ' "$scratch/metrics.txt" ||
        fail "no memscope_total_forecast_seconds"
    # The first Chunks forecast comes at least 10 s before the first Chunks over_budget event.
    lead=$(jq -r '[.events[] | select(.subsystem == "Chunks")] as $c
        | ([$c[] | select(.kind == "forecast")][0].unix_ms) as $f
        | ([$c[] | select(.kind == "over_budget")][0].unix_ms) as $o
        | if $f == null or $f > $o then "none" else (($o - $f) / 1000 | tostring) end' \
        "$scratch/events.json")
    note "Chunks: first forecast ahead of the first over_budget event by: $lead s"
    if [[ $lead == none ]] || ! awk -v l="$lead" 'BEGIN { exit !(l >= 10) }'; then
        fail "the Chunks forecast must lead its first over_budget event by 10 s or more, not $lead"
    fi
    ;;

busy-port)
    start_bg "$scratch/first" "$demo" --port 0
    wait_for_pattern "$scratch/first" "^memscope dashboard: " 20
    if grep -q "^memscope dashboard: off" "$scratch/first"; then
        echo "built without the dashboard server"
        exit "$SKIP"
    fi
    port=$(dashboard_port "$scratch/first")
    status=0
    "$demo" --port "$port" --frames 120 "${fast[@]}" >"$scratch/second" 2>&1 || status=$?
    expect_status 0 "$status" "second demo on a taken port"
    grep -q "^memscope dashboard: not started: .*$port" "$scratch/second" || {
        cat "$scratch/second"
        fail "no 'not started' line naming port $port"
    }
    grep -q "stopping after 120 frames" "$scratch/second" || fail "the second demo did not run on"
    kill -INT "$bg_pid"
    wait_exit "$bg_pid" 10
    expect_status 0 "$exit_status" "first demo after SIGINT"
    ;;

*)
    fail "unknown case '$case_name'"
    ;;
esac
echo "PASS: $case_name"
