#!/usr/bin/env bash
# Checks the dbcanary alert rules: syntax (promtool check rules), unit tests (promtool test rules),
# and that every alert has docs/runbooks/<alert>.md and a runbook_url pointing at it.
# Also checks that the generated PrometheusRule/VMRule and the kustomize copies are in sync
# (alerts/generate.py --check).
# Usage: tests/check-rules.sh   (needs promtool and python3 with PyYAML; PROMTOOL=... to override)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
promtool="${PROMTOOL:-promtool}"
rules=alerts/dbcanary.rules.yml
tests=alerts/dbcanary.rules.test.yml
url_prefix='https://github.com/dbcanary/dbcanary/blob/main/docs/runbooks/'

command -v "$promtool" >/dev/null || { echo "check-rules: promtool not found" >&2; exit 2; }

"$promtool" check rules "$rules"
"$promtool" test rules "$tests"

# The PrometheusRule, the VMRule and the kustomize copies (rules, dashboard) are generated from
# the plain rule file and the dashboard: regenerate into a temp dir and diff.
python3 alerts/generate.py --check
# The scaled variant the live Prometheus test loads must stay a valid rule file.
live_tmp=$(mktemp -d)
trap 'rm -rf "$live_tmp"' EXIT
python3 alerts/generate.py --live-rules "$live_tmp/live.rules.yml"
"$promtool" check rules "$live_tmp/live.rules.yml" >/dev/null

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
  if ! grep -qE "^[[:space:]]*alertname:[[:space:]]*$a\$" "$tests"; then
    echo "check-rules: $a has no unit test in $tests" >&2; fail=1
  fi
done
n=$(echo "$alerts" | wc -l)
if [ "$fail" -ne 0 ]; then echo "check-rules: FAILED" >&2; exit 1; fi
echo "check-rules: OK ($n alerts, each with a runbook and tests)"
