#!/usr/bin/env bash
# Checks the dbcanary alert rules: syntax (promtool check rules), unit tests (promtool test rules),
# and that every alert has docs/runbooks/<alert>.md and a runbook_url pointing at it.
# Also checks that the generated PrometheusRule/VMRule and the kustomize copies are in sync
# (alerts/generate.py --check), that every alert is routable (severity critical|warning|info, a
# component, the runbook stating the same severity), that every recording rule is evaluated by a
# unit test, and, when the tools are installed, that vmalert accepts the rules (the VMRule form)
# and amtool the example Alertmanager configuration (alerts/alertmanager.example.yml).
# Usage: tests/check-rules.sh   (needs promtool and python3 with PyYAML; PROMTOOL=... to override)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
promtool="${PROMTOOL:-promtool}"
rules=alerts/dbcanary.rules.yml
# The long SLO windows (3 d, 30 d) have their own file, evaluated every 30 minutes instead of 1.
tests=(alerts/dbcanary.rules.test.yml alerts/dbcanary.slo.test.yml)
url_prefix='https://github.com/dbcanary/dbcanary/blob/main/docs/runbooks/'

command -v "$promtool" >/dev/null || { echo "check-rules: promtool not found" >&2; exit 2; }

"$promtool" check rules "$rules"
"$promtool" test rules "${tests[@]}"

# The PrometheusRule, the VMRule and the kustomize copies (rules, dashboard) are generated from
# the plain rule file and the dashboard: regenerate into a temp dir and diff.
python3 alerts/generate.py --check
# The scaled variant the live Prometheus test loads must stay a valid rule file.
live_tmp=$(mktemp -d)
trap 'rm -rf "$live_tmp"' EXIT
python3 alerts/generate.py --live-rules "$live_tmp/live.rules.yml"
"$promtool" check rules "$live_tmp/live.rules.yml" >/dev/null

# vmalert evaluates the VMRule: its MetricsQL parser and template functions must accept every
# expression and label template (victoria-metrics package; tests/run-all.sh installs it).
if command -v vmalert >/dev/null; then
  if ! out=$(vmalert -rule="$rules" -dryRun -loggerLevel=ERROR 2>&1); then
    echo "$out" >&2; echo "check-rules: vmalert rejects $rules" >&2; exit 1
  fi
  echo "check-rules: vmalert -dryRun accepts $rules"
else
  echo "check-rules: vmalert not installed, VMRule dialect not checked"
fi
if command -v amtool >/dev/null; then
  amtool check-config alerts/alertmanager.example.yml >/dev/null
  echo "check-rules: amtool accepts alerts/alertmanager.example.yml"
else
  echo "check-rules: amtool not installed (Debian: prometheus-alertmanager), example Alertmanager config not checked"
fi

fail=0
alerts=$(sed -n 's/^[[:space:]]*-[[:space:]]*alert:[[:space:]]*\([A-Za-z0-9_]*\).*/\1/p' "$rules")
[ -n "$alerts" ] || { echo "check-rules: no alerts found in $rules" >&2; exit 1; }
for a in $alerts; do
  if [ ! -s "docs/runbooks/$a.md" ]; then
    echo "check-rules: missing runbook docs/runbooks/$a.md" >&2; fail=1
  fi
  if ! grep -qF "runbook_url: ${url_prefix}${a}.md" "$rules"; then
    echo "check-rules: $a has no runbook_url ${url_prefix}${a}.md" >&2; fail=1
  fi
  # every alert needs a firing test case in the unit tests
  if ! grep -qE "^[[:space:]]*alertname:[[:space:]]*$a\$" "${tests[@]}"; then
    echo "check-rules: $a has no unit test in ${tests[*]}" >&2; fail=1
  fi
done

# Routing labels, runbook severity, recording rules under test.
python3 - "$rules" "${tests[@]}" <<'PY' || fail=1
import re, sys, yaml
rules_file, test_files = sys.argv[1], sys.argv[2:]
SEVERITIES = {"critical", "warning", "info"}
COMPONENTS = {"postgres", "pooler", "dragonfly", "backup", "kubernetes", "monitoring", "exporter"}
groups = yaml.safe_load(open(rules_file, encoding="utf-8"))["groups"]
tested = set()
for path in test_files:
    for test in yaml.safe_load(open(path, encoding="utf-8"))["tests"]:
        for t in test.get("promql_expr_test", []):
            tested.update(re.findall(r"[a-z_]+:[a-z0-9_:]+", t["expr"]))
            for s in t.get("exp_samples", []):
                tested.update(re.findall(r"^[a-z_]+:[a-z0-9_:]+", s.get("labels", "")))
bad = 0
def err(msg):
    global bad
    bad += 1
    print("check-rules: " + msg, file=sys.stderr)
for group in groups:
    for rule in group["rules"]:
        if "record" in rule:
            if rule["record"] not in tested:
                err(f"recording rule {rule['record']} is evaluated by no promql_expr_test")
            continue
        name, labels = rule["alert"], rule.get("labels", {})
        if labels.get("severity") not in SEVERITIES:
            err(f"{name}: severity must be one of {sorted(SEVERITIES)}")
        component = labels.get("component")
        if component is None:
            # the SLO alerts take it from the objective (group_left (component))
            if "group_left (component)" not in rule["expr"]:
                err(f"{name}: no component label")
        else:
            values = re.findall(r"}}([^{]*){{", component) if "{{" in component else [component]
            for v in values:
                if v and v not in COMPONENTS:
                    err(f"{name}: component {v!r} is not one of {sorted(COMPONENTS)}")
        try:
            runbook = open(f"docs/runbooks/{name}.md", encoding="utf-8").read()
        except OSError:
            continue  # reported above
        m = re.search(r"^Severity: \*\*([a-z]+)\*\*", runbook, re.M)
        if not m or m.group(1) != labels.get("severity"):
            err(f"docs/runbooks/{name}.md must start its summary line with 'Severity: **{labels.get('severity')}**'")
sys.exit(1 if bad else 0)
PY

n=$(echo "$alerts" | wc -l)
if [ "$fail" -ne 0 ]; then echo "check-rules: FAILED" >&2; exit 1; fi
echo "check-rules: OK ($n alerts, each with a runbook, routing labels and tests; recording rules tested)"
