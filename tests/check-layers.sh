#!/usr/bin/env bash
# Checks that the tree is the dependency graph: every #include "..." of a project header names a
# folder of the same layer or a lower one, in the link order
#   core <- config <- clients <- probes <- drills <- exporter
# (tests/ may include anything). Also: core/ includes no network library, and the client
# folders (clients/pg, clients/redis, clients/kube, clients/http) do not include each other,
# except that the Kubernetes client speaks HTTP through clients/http.
# Prints every offending line and fails. Usage: tests/check-layers.sh [ROOT]
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$root"
exec python3 - <<'PY'
import os, re, sys

layers = ["core", "config", "clients", "probes", "drills", "exporter"]
rank = {name: i for i, name in enumerate(layers)}
allowed_clients = {("kube", "http")}
network_headers = re.compile(r"^(libpq-fe\.h|hiredis/|civetweb\.h|curl/|openssl/)")
include = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
problems = []
count = 0
for layer in layers:
    for dirpath, _, files in os.walk(layer):
        for name in files:
            if not name.endswith((".h", ".cc")):
                continue
            path = os.path.join(dirpath, name)
            count += 1
            for number, line in enumerate(open(path, encoding="utf-8"), 1):
                m = include.match(line)
                if not m:
                    continue
                kind, target = m.groups()
                where = f"{path}:{number}: {line.strip()}"
                if kind == "<":
                    if layer == "core" and network_headers.match(target):
                        problems.append(f"{where}  (core does no I/O: no network library)")
                    continue
                top = target.split("/", 1)[0]
                if top not in rank:
                    problems.append(f"{where}  (not a path from the project root)")
                elif rank[top] > rank[layer]:
                    problems.append(f"{where}  ({layer} may not include the higher layer {top})")
                elif layer == top == "clients":
                    mine, theirs = path.split("/")[1], target.split("/")[1]
                    if mine != theirs and (mine, theirs) not in allowed_clients:
                        problems.append(f"{where}  (clients/{mine} may not include clients/{theirs})")
for problem in problems:
    print(problem)
print(f"check-layers: {count} files, {len(problems)} upward or stray includes")
sys.exit(1 if problems else 0)
PY
