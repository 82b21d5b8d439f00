#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Prints every PromQL query of a Grafana dashboard, one a line as a JSON string, with the
# dashboard's variables replaced: panel targets, annotation queries, and the PromQL inside
# the query variables' label_values(). A variable without a value is an error, so that no
# `$name` can reach promtool or Prometheus unnoticed.
#   queries.py [--set NAME=VALUE ...] [--titles] DASHBOARD.json
# --titles prints "title [refId]: query" instead, for people.
import argparse
import json
import re
import sys

# Sample values for the dashboard's variables and the built-in ones a query may use.
DEFAULTS = {"instance": "127.0.0.1:9090", "job": "memscope", "datasource": "prometheus",
            "__rate_interval": "1m", "__interval": "15s", "__range": "1h"}


def substitute(expr, values):
    def one(m):
        name = m.group(1) or m.group(2)
        if name not in values:
            sys.exit(f"queries.py: unknown variable ${name} in: {expr}")
        return values[name]
    # $name, ${name} and ${name:format}.
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", one, expr)


def queries(dashboard):
    def panel_queries(panel):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield panel.get("title", "?"), target.get("refId", "?"), target["expr"]
        for inner in panel.get("panels", []):  # rows hold their panels
            yield from panel_queries(inner)

    for panel in dashboard.get("panels", []):
        yield from panel_queries(panel)
    for anno in dashboard.get("annotations", {}).get("list", []):
        expr = anno.get("target", {}).get("expr") or anno.get("expr")
        if expr:
            yield "annotation " + anno.get("name", "?"), "expr", expr
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        q = var["query"]
        q = q.get("query", "") if isinstance(q, dict) else q
        # label_values(selector, label) is Grafana's; the selector is PromQL.
        m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", q)
        yield "variable " + var["name"], "query", m.group(1) if m else q


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--titles", action="store_true")
    parser.add_argument("dashboard")
    args = parser.parse_args()
    values = dict(DEFAULTS)
    for item in args.set:
        name, _, value = item.partition("=")
        values[name] = value
    with open(args.dashboard) as f:
        found = list(queries(json.load(f)))
    if not found:
        sys.exit("queries.py: no query in the dashboard")
    for title, ref, expr in found:
        expr = substitute(expr, values)
        print(f"{title} [{ref}]: {expr}" if args.titles else json.dumps(expr))


main()
