#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What memscope-run costs a real program (BENCHMARKS.md, "memscope-run").

Runs each allocation-heavy program of Debian packages three ways, side by side in one run,
the three interleaved round after round so that a change in the machine's load touches all
three alike:

  glibc     the program as it is (glibc's malloc)
  mimalloc  LD_PRELOAD of Debian's libmimalloc.so.2 alone: the baseline memscope-run is
            judged against (the same allocator underneath, without counting or dashboard)
  memscope  memscope-run -q --port 0 -- PROGRAM (counting, dashboard, report at exit)

and prints wall-time medians, the ratios memscope/mimalloc and memscope/glibc, and their
geometric means, as a Markdown table.

usage: bench/run_overhead.py --run BUILD/tools/run/memscope-run [--rounds 7]
"""

import argparse
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

MIMALLOC = "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"


def workloads(work):
    """(name, command, what it does), each about a second or more with glibc."""
    lines = os.path.join(work, "lines.txt")
    rng = random.Random(7)
    with open(lines, "w") as f:
        for _ in range(600000):
            f.write("%08d %s\n" % (rng.randrange(10**8), "x" * rng.randrange(80)))
    db = os.path.join(work, "bench.db")
    return [
        ("python3", ["python3", "-c",
                     "d = {i: str(i) * 3 for i in range(10**6)}\n"
                     "l = [[j] * 5 for j in range(300000)]\n"
                     "s = sorted(d.values())\n"
                     "print(len(s), len(l))"],
         "dicts, lists and strings of a million objects"),
        ("perl", ["perl", "-e",
                  "my %h; $h{$_} = ($_ x 7) . length($_) for 1 .. 600000;"
                  " my @k = sort keys %h; print scalar(@k), qq(\\n);"],
         "a hash of 600,000 strings, sorted keys"),
        ("sqlite3", ["sqlite3", db,
                     "drop table if exists t; create table t(id integer primary key, name text);"
                     " with recursive c(x) as (select 1 union all select x + 1 from c"
                     " where x < 400000) insert into t select x, printf('n-%08d', (x * 7919)"
                     " % 100003) from c; create index t_name on t(name);"
                     " select count(distinct name) from t;"],
         "400,000 rows inserted and indexed"),
        ("sort", ["sort", "-S", "100M", lines], "600,000 lines, a 100 MB buffer"),
        ("gzip", ["gzip", "-6", "-c", lines], "30 MB of text"),
        ("git", ["git", "-C", os.path.dirname(os.path.abspath(__file__)), "pack-objects",
                 "--all", "--stdout", "-q", "--no-reuse-delta", "--no-reuse-object",
                 "--window=50", "--threads=1"],
         "this repository packed anew (delta search)"),
    ]


def timed(command, env):
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit("%s failed (%d): %s" % (" ".join(command[:3]), done.returncode,
                                         done.stderr.decode(errors="replace")[-400:]))
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="the memscope-run binary")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if not os.path.exists(MIMALLOC):
        sys.exit("%s is missing (apt-get install libmimalloc2.0)" % MIMALLOC)
    run = os.path.abspath(args.run)
    plain = dict(os.environ)
    plain.pop("LD_PRELOAD", None)
    preloaded = dict(plain, LD_PRELOAD=MIMALLOC)

    work = tempfile.mkdtemp(prefix="memscope-overhead.")
    try:
        rows = []
        for name, command, what in workloads(work):
            if shutil.which(command[0]) is None:
                print("%s: not installed, skipped" % command[0], file=sys.stderr)
                continue
            ways = {
                "glibc": (command, plain),
                "mimalloc": (command, preloaded),
                "memscope": ([run, "-q", "--port", "0", "--"] + command, plain),
            }
            for way in ways.values():  # warm the page cache and the program's files
                timed(*way)
            times = {way: [] for way in ways}
            for _ in range(args.rounds):
                for way, (cmd, env) in ways.items():
                    times[way].append(timed(cmd, env))
            medians = {way: statistics.median(t) for way, t in times.items()}
            rows.append((name, what, medians))
            print("%s: %s" % (name, ", ".join("%s %.3f s" % kv for kv in medians.items())),
                  file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("| program | workload | glibc | mimalloc alone | memscope-run | memscope-run / mimalloc"
          " | memscope-run / glibc |")
    print("|---|---|---|---|---|---|---|")
    against_mi, against_glibc = [], []
    for name, what, m in rows:
        r_mi = m["memscope"] / m["mimalloc"]
        r_gl = m["memscope"] / m["glibc"]
        against_mi.append(r_mi)
        against_glibc.append(r_gl)
        print("| %s | %s | %.3f s | %.3f s | %.3f s | %.3f | %.3f |"
              % (name, what, m["glibc"], m["mimalloc"], m["memscope"], r_mi, r_gl))

    def geomean(values):
        return math.exp(sum(math.log(v) for v in values) / len(values))

    print("| **geometric mean** | | | | | **%.3f** | **%.3f** |"
          % (geomean(against_mi), geomean(against_glibc)))

    # What starting one process costs: a program's children load the counting library
    # only; the process memscope-run starts also loads the session and serves.
    preload = os.path.join(os.path.dirname(run), "libmemscope_preload.so")
    starts = {
        "glibc": (["/bin/true"], plain),
        "mimalloc alone": (["/bin/true"], preloaded),
        "a child under memscope-run (counting only)": (["/bin/true"], dict(plain, LD_PRELOAD=preload)),
        "memscope-run -- /bin/true (served)": ([run, "-q", "--port", "0", "--", "/bin/true"], plain),
    }
    per_start = {}
    for way, (cmd, env) in starts.items():
        samples = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            for _ in range(50):
                subprocess.run(cmd, env=env, check=True)
            samples.append((time.perf_counter() - start) / 50)
        per_start[way] = statistics.median(samples)
    print("\n| one process | start and exit |")
    print("|---|---|")
    for way, seconds in per_start.items():
        print("| %s | %.2f ms |" % (way, seconds * 1000))
    print("\n%d rounds, medians; load average %s" % (args.rounds, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
