#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# memscope-run on programs no one here wrote, from Debian packages (docs/run.md, "Proven
# on"): python3, perl, sqlite3, gzip, sort, xz and git, each with its own allocation habits.
# For each: the output under memscope-run is byte for byte the plain run's; the dashboard is
# scraped while the program runs (JSON and /metrics) and shows what it holds; and the books
# at exit (memscope-run --report) are checked against what the program is known to hold:
# a program that frees everything comes back to its start-up figure exactly, one that
# keeps its work until exit shows it.
#
# usage: run_programs.sh MEMSCOPE_RUN
# Exit 77 (skipped) when a program is missing, unless MEMSCOPE_REQUIRE_E2E=1: then 1.
set -uo pipefail

run=$(realpath "${1:?memscope-run binary}")

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

for tool in python3 perl sqlite3 gzip sort xz git curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "memscope_run_programs: $tool is not installed" >&2
    [[ ${MEMSCOPE_REQUIRE_E2E:-0} == 1 ]] && fail "MEMSCOPE_REQUIRE_E2E=1 and $tool is missing"
    exit 77
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/memscope-programs.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

# A scraper that polls the dashboard while PID lives, at the URL memscope-run prints on
# ERR_FILE (it serves on port 0: no port chosen here can be taken by another test first):
# it keeps the largest total_allocated_bytes seen, the number of good answers, and whether
# /metrics answered.
scrape() {
  python3 - "$1" "$2" <<'PY'
import json, os, re, sys, time, urllib.request
err_file, pid = sys.argv[1], int(sys.argv[2])
best, answers, metrics, url = 0, 0, "", None
def alive():
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False
while alive():
    if url is None:
        found = re.search(r"dashboard of \S+ \(pid \d+\) on (http://\S+/)", open(err_file).read())
        url = found.group(1) if found else None
    try:
        if url is not None:
            with urllib.request.urlopen(url + "api/v1/allocator", timeout=2) as r:
                doc = json.load(r)
            assert doc["tracking_enabled"] and doc["sources"]["malloc_counted"], doc
            best = max(best, doc["total_allocated_bytes"])
            answers += 1
            if not metrics:
                with urllib.request.urlopen(url + "metrics", timeout=2) as r:
                    metrics = r.read().decode()
    except Exception:
        pass
    time.sleep(0.02)
print(json.dumps({"answers": answers, "largest": best,
                  "metrics_ok": "memscope_allocated_bytes " in metrics}))
PY
}

# check NAME BOOKS -- PROGRAM ARGS...: runs it alone and under memscope-run with a scraper,
# compares the outputs, and checks the books at exit with BOOKS, a Python expression over
# startup, exit and peak (the program's bytes at start-up and at exit, its peak) and
# largest (the largest figure the dashboard showed while it ran).
check() {
  local name=$1 books=$2
  shift 3
  "$@" >"$name.alone" 2>"$name.alone.err" || fail "$name alone failed: $(cat "$name.alone.err")"
  "$run" --port 0 --report "$name.report" -- "$@" >"$name.run" 2>"$name.run.err" &
  local pid=$!
  scrape "$name.run.err" "$pid" >"$name.scrape"
  wait "$pid" || fail "$name under memscope-run failed: $(cat "$name.run.err")"
  cmp -s "$name.alone" "$name.run" || fail "$name: the output differs under memscope-run"
  python3 - "$name" "$books" <<'PY' || fail "$name: $(cat "$name.report" "$name.scrape")"
import json, sys
name, books = sys.argv[1], sys.argv[2]
report = json.load(open(name + ".report"))
scraped = json.load(open(name + ".scrape"))
assert report["final"], "the report is not the exit handlers' one"
assert scraped["answers"] > 0, "the dashboard never answered while it ran"
assert scraped["metrics_ok"], "/metrics had no memscope_allocated_bytes"
figures = dict(startup=report["startup_program_bytes"], exit=report["program_bytes"],
               peak=report["peak_allocated_bytes"], largest=scraped["largest"])
ok = eval(books, {}, figures)
print("%-8s start-up %9d B, at exit %10d B, peak %10d B, dashboard up to %10d B in %d answers: %s"
      % (name, figures["startup"], figures["exit"], figures["peak"], figures["largest"],
         scraped["answers"], "ok" if ok else "WRONG: " + books))
sys.exit(0 if ok else 1)
PY
}

MiB=$((1 << 20))

# Deterministic input: 7.5 MB of lines.
python3 -c '
import random
random.seed(7)
with open("lines.txt", "w") as f:
    for i in range(150000):
        f.write("%08d %s\n" % (random.randrange(10**8), "x" * random.randrange(80)))
'

# gzip works in static buffers and frees every block it takes: back to start-up exactly.
check gzip "exit == startup and peak > startup" -- gzip -9 -c -n lines.txt

# xz -6 keeps its encoder (94 MiB by xz's documentation) until exit.
check xz "exit - startup >= 94 * 2**20 and largest >= 94 * 2**20" -- xz -6 -c lines.txt

# sort holds the text (22 MB: long enough to be scraped) in a buffer and frees it; glibc
# keeps stdout's buffer until exit.
check sort "0 <= exit - startup <= 32 * 1024 and peak > 20 * 2**20" -- sort lines.txt lines.txt lines.txt

# perl, told to free everything at exit (PERL_DESTRUCT_LEVEL=2, as its leak checkers do):
# a hash of 200,000 strings, then back down to stdio's buffers.
export PERL_DESTRUCT_LEVEL=2
check perl "0 <= exit - startup <= 32 * 1024 and peak > 20 * 2**20" -- perl -e '
  my %h; $h{$_} = ($_ x 7) . "-" . length($_) for 1 .. 200000;
  my $n = 0; $n += length $h{$_} for keys %h; select(undef, undef, undef, 0.3);
  print scalar(keys %h), " $n\n";'
unset PERL_DESTRUCT_LEVEL

# sqlite3 builds a 300,000-row database in a file, indexes and queries it, and closes it.
check sqlite3 "0 <= exit - startup <= 32 * 1024 and peak > 2**20" -- sqlite3 "$work/test.db" "
  drop table if exists t;
  create table t(id integer primary key, name text, weight real);
  with recursive c(x) as (select 1 union all select x + 1 from c where x < 300000)
    insert into t select x, printf('name-%08d', (x * 7919) % 100003), x * 0.25 from c;
  create index t_name on t(name);
  select count(*), sum(weight), min(name), max(name) from t where name like 'name-0001%';"
rm -f "$work/test.db"

# python3 holds 64 MiB for a moment while the dashboard looks, then lets it go.
check python3 "largest >= 64 * 2**20 and exit < peak - 60 * 2**20" -- python3 -c '
import hashlib, time
table = {i: str(i) * 3 for i in range(200000)}
held = bytearray(64 << 20)
time.sleep(0.5)
del held
text = "".join(table[i] for i in range(0, 200000, 7))
print(len(table), hashlib.sha256(text.encode()).hexdigest())'

# git reads a history made here, the same on every machine (the source tree's own history
# depends on how it was cloned: a short one made a 0.2 s run that ended before the
# dashboard answered): 800 commits of 40 files through fast-import, then a log with every
# patch, read back through pack deltas.
python3 - >history.stream <<'PY'
import random, sys
random.seed(11)
files = {"f%02d.txt" % i: ["%08d %s" % (random.randrange(10**8), "y" * random.randrange(60))
                           for _ in range(400)] for i in range(40)}
for c in range(800):
    message = "change %d\n" % c
    sys.stdout.write("commit refs/heads/main\ncommitter Memscope Test <test@example.invalid> %d +0000\n"
                     "data %d\n%s" % (1700000000 + 60 * c, len(message), message))
    for name in sorted(files) if c == 0 else random.sample(sorted(files), 4):
        lines = files[name]
        for _ in range(20):
            lines[random.randrange(len(lines))] = "%08d %s" % (random.randrange(10**8), "z" * random.randrange(60))
        body = "\n".join(lines) + "\n"
        sys.stdout.write("M 644 inline %s\ndata %d\n%s\n" % (name, len(body), body))
PY
git init -q history && git -C history fast-import --quiet <history.stream || fail "git fast-import failed"
rm -f history.stream
check git "exit >= startup and peak > startup" -- git -C "$work/history" log -p --stat --no-color main

echo "memscope_run_programs: all checks passed"
