#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every command of README.md, so the README cannot drift from the project.
#
# usage: tests/readme_commands.sh SOURCE_DIR BUILD_DIR
#
# Each ```sh block of the README is preceded by a marker saying how it is run:
#   <!-- readme-test: run -->               as written, from the source directory
#   <!-- readme-test: with-demo ARGS -->    as written, while the voxel demo (from
#                                           BUILD_DIR, with ARGS) serves on localhost:9090
#   <!-- readme-test: after-demo-build -->  with build/demo/ replaced by BUILD_DIR/
#   <!-- readme-test: demo -->              scripts/demo.sh itself, as written, with
#                                           `--seconds 2 --no-pacing --port 0` appended so it ends
#   <!-- readme-test: ci -->                the test command: it is what runs this script
#   <!-- readme-test: equivalent: CMD -->   cannot run here (e.g. docker); CMD, run by CI
#                                           elsewhere, is the equivalent: checked to exist
# A block without a marker fails the test. The README's C++ example is compiled and run
# against the library, with stand-ins for the game's own objects.
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
readme=$src/README.md
work=$(mktemp -d)
demo_pid=
cleanup() {
  [[ -n $demo_pid ]] && kill "$demo_pid" 2>/dev/null && wait "$demo_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "readme: $*" >&2; exit 1; }

# Split the README into its marked sh blocks: work/block-N.sh and work/block-N.mode.
awk -v dir="$work" '
  /^<!-- readme-test: / { mode = $0; sub(/^<!-- readme-test: /, "", mode); sub(/ -->$/, "", mode); next }
  /^```sh$/ { n++; inblock = 1; print (mode == "" ? "UNMARKED" : mode) > (dir "/block-" n ".mode"); mode = ""; next }
  /^```/ && inblock { inblock = 0; next }
  inblock { print > (dir "/block-" n ".sh") }
  /^```[a-z]/ && !inblock { mode = "" }
' "$readme"

start_demo() {
  [[ -n $demo_pid ]] && return
  # shellcheck disable=SC2086  # the README's arguments are meant to split
  "$build/examples/voxel_demo" --port 9090 --seconds 90 --no-pacing --linger 0 $1 \
      >"$work/demo.log" 2>&1 &
  demo_pid=$!
  # Wait until its scripted frames are done (it then lingers with the figures frozen), so
  # the README's commands see the events those frames fired.
  for _ in $(seq 600); do
    grep -q "finished .* frames" "$work/demo.log" && curl -sf localhost:9090/healthz >/dev/null 2>&1 && return
    sleep 0.05
  done
  cat "$work/demo.log" >&2
  fail "the voxel demo did not finish its frames and serve on localhost:9090"
}

count=0
for mode_file in "$work"/block-*.mode; do
  block=${mode_file%.mode}.sh
  mode=$(cat "$mode_file")
  count=$((count + 1))
  echo "--- README block $(basename "$block" .sh) ($mode)"
  cat "$block"
  case $mode in
    run)
      (cd "$src" && bash -euo pipefail "$block") || fail "block failed: $(head -n 1 "$block")" ;;
    with-demo*)
      start_demo "${mode#with-demo}"
      # Every line must succeed and print something, as a user would expect.
      while IFS= read -r line; do
        [[ -z $line ]] && continue
        out=$(cd "$src" && bash -o pipefail -c "$line") || fail "command failed: $line"
        [[ -n $out ]] || fail "command printed nothing: $line"
        echo "$out" | head -n 3
      done <"$block" ;;
    after-demo-build)
      sed "s#build/demo/#$build/#g" "$block" >"$work/rewritten.sh"
      (cd "$work" && bash -euo pipefail "$work/rewritten.sh") || fail "block failed: $(head -n 1 "$block")" ;;
    demo)
      [[ $(grep -c . "$block") == 1 ]] || fail "the demo block must be the one command"
      cmd=$(sed 's/ *#.*//' "$block")
      (cd "$src" && timeout 600 bash -c "$cmd --seconds 2 --no-pacing --port 0") >"$work/demo-cmd.log" 2>&1 ||
        { tail -n 30 "$work/demo-cmd.log"; fail "the README's demo command failed"; }
      grep -q "memscope dashboard: http://" "$work/demo-cmd.log" || fail "the demo did not print its dashboard address" ;;
    ci)
      cmd=$(sed 's/ *#.*//' "$block")
      [[ $cmd == "scripts/test.sh" ]] || fail "the test command is '$cmd', not scripts/test.sh"
      grep -q '^exec scripts/test.sh$' "$src/.ci/run" || fail ".ci/run does not call the README's test command" ;;
    equivalent:*)
      equivalent=${mode#equivalent: }
      equivalent=${equivalent%% (*}
      script=${equivalent%% *}
      [[ -x $src/$script ]] || fail "the stated equivalent '$script' does not exist"
      grep -q "$script" "$src/scripts/test.sh" || fail "CI does not run the equivalent '$script'" ;;
    *)
      fail "block without a readme-test marker: $(head -n 1 "$block")" ;;
  esac
done
((count >= 6)) || fail "found only $count sh blocks in README.md"

# The C++ example: compiled against the installed-in-tree library and run, with small
# stand-ins for the game's world and meshes.
awk '/^```cpp$/ { inblock = 1; next } /^```/ && inblock { exit } inblock { print }' "$readme" \
    >"$work/example_body.inc"
grep -q "memscope::MemoryBudget budget;" "$work/example_body.inc" || fail "the README's C++ example is missing"
echo "--- README C++ example: compiled by the readme_example test program"
echo "readme: $count blocks and the C++ example checked"
