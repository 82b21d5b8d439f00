#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs the allocator overhead benchmarks and prints the ratio table of BENCHMARKS.md.

bench_allocators (raw mimalloc, memscope, the specification's design) and bench_glibc
(glibc malloc, in its own process because linking mimalloc replaces malloc process-wide)
are each run ROUNDS times. Within a run, Google Benchmark's random interleaving spreads the
REPETITIONS of every benchmark over the whole run, so a burst of noise on this 2-core
machine hits every allocator alike. Each figure is the median over all repetitions.

Figures are nanoseconds per allocate+free pair *per thread* (threads x wall time /
operations): with perfect scaling, a workload costs the same per thread at 2 threads as
at 1.

usage: bench/ratio_table.py [--build BUILD_DIR] [--rounds N] [--repetitions N] [--min-time S]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

COLUMNS = [("glibc", "glibc"), ("mimalloc", "mimalloc"), ("mimalloc_call", "mimalloc + call"),
           ("memscope", "memscope"), ("memscope_scoped", "memscope, in a scope"),
           ("memscope_unsized", "memscope, unsized delete"), ("spec_design", "spec design")]
WORKLOADS = ["tight_loop_64", "mixed_sizes", "mixed_touch", "producer_consumer", "tagged_mixed"]
# Targets of the core and scopes issues, as memscope / raw mimalloc (outside and inside a
# scope alike; tagged_mixed switches among 8 tags itself).
TARGETS = {"tight_loop_64": 1.40, "mixed_sizes": 1.10, "tagged_mixed": 1.10}


def run(program, args, env=None):
    cmd = [program, f"--benchmark_min_time={args.min_time}",
           f"--benchmark_repetitions={args.repetitions}",
           "--benchmark_enable_random_interleaving=true", "--benchmark_format=json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        m = re.match(r"(\w+)/(\w+)/real_time/threads:(\d+)$", b["run_name"])
        if m:
            threads = int(m.group(3))
            yield (m.group(1), m.group(2), threads), threads * 1e9 / b["items_per_second"]
        elif b["run_name"].startswith("scope_enter_leave/"):
            scale = {"ns": 1.0, "us": 1e3, "ms": 1e6}[b["time_unit"]]
            yield ("scope_enter_leave", b["run_name"].split("/")[1], 1), b["real_time"] * scale


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build/bench", help="CMake build directory")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repetitions", type=int, default=15)
    ap.add_argument("--min-time", type=float, default=0.05)
    ap.add_argument("--probe", action="store_true",
                    help="instead: option A's probe (arena_tags_probe) beside raw mimalloc and memscope")
    ap.add_argument("--probe-count", choices=("class", "request"), default="class",
                    help="what the probe counts: the size class (as memscope) or the bytes asked for")
    args = ap.parse_args()
    if args.probe:
        return probe(args)
    programs = [os.path.join(args.build, "bench", p) for p in ("bench_glibc", "bench_allocators")]
    samples = {}
    for r in range(args.rounds):
        for program in programs:
            print(f"round {r + 1}/{args.rounds}: {os.path.basename(program)}", file=sys.stderr)
            for key, value in run(program, args):
                samples.setdefault(key, []).append(value)
    med = {k: statistics.median(v) for k, v in samples.items()}

    n = min(len(v) for v in samples.values())
    print(f"ns per allocate+free pair per thread; median of {n} samples per cell "
          f"({args.rounds} runs x {args.repetitions} interleaved repetitions, "
          f"--benchmark_min_time={args.min_time})\n")
    print("| workload | threads | " + " | ".join(c[1] for c in COLUMNS) +
          " | memscope / mimalloc | in a scope / mimalloc | spec / mimalloc | memscope / glibc |")
    print("|---|---|" + "---|" * (len(COLUMNS) + 4))
    verdicts = []
    for w in WORKLOADS:
        for t in (1, 2):
            row = {a: med.get((w, a, t)) for a, _ in COLUMNS}
            if None in row.values():
                continue
            ms, mi, glibc = row["memscope"], row["mimalloc"], row["glibc"]
            ratio = ms / mi
            scoped = row["memscope_scoped"] / mi
            cells = " | ".join(f"{row[a]:.1f}" for a, _ in COLUMNS)
            print(f"| {w} | {t} | {cells} | **{ratio:.2f}** | **{scoped:.2f}** | "
                  f"{row['spec_design'] / mi:.2f} | {ms / glibc:.2f} |")
            if w in TARGETS:
                for label, r in (("memscope", ratio), ("memscope in a scope", scoped)):
                    ok = r <= TARGETS[w]
                    verdicts.append(f"{w}, {t} thread(s): {label} / mimalloc = {r:.2f} "
                                    f"(target <= {TARGETS[w]:.2f}): {'met' if ok else 'missed'}")
            if w == "mixed_sizes":
                verdicts.append(f"{w}, {t} thread(s): memscope / glibc = {ms / glibc:.2f} "
                                f"(target < 1.00): {'met' if ms < glibc else 'missed'}")
    print()
    for v in verdicts:
        print(f"- {v}")
    for kind in ("by_id", "by_name"):
        if ("scope_enter_leave", kind, 1) in med:
            print(f"- scope enter + leave, {kind.replace('_', ' ')}: "
                  f"{med[('scope_enter_leave', kind, 1)]:.2f} ns")


PROBE_COLUMNS = ("mimalloc", "memscope", "memscope_scoped", "arena_tags_probe",
                 "arena_tags_probe_scoped")


def probe(args):
    """The table of docs/design/scoped-attribution.md's option A probe (bench/arena_tags_probe.cpp):
    ratios against raw mimalloc of the same run."""
    program = os.path.join(args.build, "bench", "arena_tags_probe")
    env = dict(os.environ, ARENA_TAGS_PROBE_COUNT=args.probe_count)
    samples = {}
    for r in range(args.rounds):
        print(f"round {r + 1}/{args.rounds}: arena_tags_probe", file=sys.stderr)
        for key, value in run(program, args, env):
            samples.setdefault(key, []).append(value)
    med = {k: statistics.median(v) for k, v in samples.items()}
    n = min(len(v) for v in samples.values())
    print(f"ns per allocate+free pair per thread; median of {n} samples per cell; "
          f"the probe counts the {args.probe_count}\n")
    print("| workload | threads | " + " | ".join(PROBE_COLUMNS) +
          " | memscope / mimalloc | in a scope / mimalloc | probe / mimalloc | probe in a tag / mimalloc |")
    print("|---|---|" + "---|" * (len(PROBE_COLUMNS) + 4))
    for w in ("tight_loop_64", "mixed_sizes", "mixed_touch", "producer_consumer", "tagged_mixed"):
        for t in (1, 2):
            row = {a: med.get((w, a, t)) for a in PROBE_COLUMNS}
            if None in row.values():
                continue
            mi = row["mimalloc"]
            cells = " | ".join(f"{row[a]:.1f}" for a in PROBE_COLUMNS)
            ratios = " | ".join(f"{row[a] / mi:.2f}" for a in PROBE_COLUMNS[1:])
            print(f"| {w} | {t} | {cells} | {ratios} |")


if __name__ == "__main__":
    main()
