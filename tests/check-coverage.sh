#!/usr/bin/env bash
# Checks that the dashboard and the alert rules cover what dbcanary documents:
#  - every metric family in the tables of docs/metrics.md and docs/metrics/*.md (first column
#    `dbcanary_...`) appears in at least one dashboard panel query;
#  - every documented expectation check name (the `check` column of a check table, or the
#    backticked names of an "Expectation(s) ..."/"Checks:"/"Check:"/"Declared targets ..."
#    paragraph, parenthesised remarks left out) appears in the dashboard or in an alert rule;
#  - every documented check has a home among the named alerts (its name in the expression or the
#    annotations of an alert other than the catch-all DbcanaryExpectationFailed, which gives it a
#    severity and a component), and the catch-all excludes exactly the documented checks: it fires
#    only for a check the rules do not know, and one failure never fires two alerts.
# Prints the missing ones and fails. Usage: tests/check-coverage.sh   (needs python3)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
exec python3 - "$@" <<'PY'
import glob, json, re, sys

import yaml

docs = ["docs/metrics.md"] + sorted(glob.glob("docs/metrics/*.md"))
dashboards = sorted(glob.glob("dashboards/*.json"))
rules_file = "alerts/dbcanary.rules.yml"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")

families, checks = {}, {}

def add_checks(text, where):
    # Every code span in turn (a lookahead inside findall would let a rejected span's closing
    # backtick open the next match and pair the spans wrongly); spans followed by "=" (a label
    # value) or "'s" (a probe kind in the possessive) are not check names.
    for m in re.finditer(r"`([^`]+)`", text):
        token, rest = m.group(1), text[m.end():]
        if re.match(r"\s*=|'s", rest):
            continue
        if NAME.match(token) and not token.startswith("dbcanary_"):
            checks.setdefault(token, where)

def strip_parens(text):
    prev = None
    while prev != text:  # innermost first, so nested remarks go too
        prev = text
        text = re.sub(r"\([^()]*\)", "", text)
    return text

for doc in docs:
    lines = open(doc, encoding="utf-8").read().split("\n")
    table_first_col = None
    paragraph = []
    def flush():
        text = " ".join(paragraph)
        m = re.search(r"\bExpectations?\b|\bChecks?:|Declared targets", text)
        if m and not text.startswith("#"):
            body = text[m.start():]
            spans = re.findall(r"`[^`]*`", body)  # keep code spans intact while stripping remarks
            counter = iter(range(len(spans)))
            body = re.sub(r"`[^`]*`", lambda _: "\x00%d\x00" % next(counter), body)
            body = strip_parens(body)
            body = re.sub(r"\x00(\d+)\x00", lambda m: spans[int(m.group(1))], body)
            body = re.sub(r"passes when[^.]*\.|`?observed`? is one of[^.]*\.", "", body)
            add_checks(body, doc)
        paragraph.clear()
    for line in lines:
        if line.startswith("|"):
            flush()
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if table_first_col is None:
                table_first_col = cells[0].lower()
                continue
            if set(cells[0]) <= set("-: "):
                continue
            for name in re.findall(r"`(dbcanary_[a-z0-9_]+)`", cells[0]):
                families.setdefault(name, doc)
            if table_first_col == "check":
                add_checks(cells[0], doc)
            continue
        table_first_col = None
        if line.strip() == "" or line.startswith("#"):
            flush()
        else:
            paragraph.append(line.strip())
    flush()

queries = []
def walk(panels):
    for p in panels:
        queries.extend(t.get("expr", "") for t in p.get("targets", []))
        walk(p.get("panels", []))
dash_text = ""
for path in dashboards:
    d = json.load(open(path, encoding="utf-8"))
    walk(d.get("panels", []))
    dash_text += json.dumps(d)
query_text = "\n".join(queries)
rules_text = open(rules_file, encoding="utf-8").read()

def mentioned(name, text, suffixes=("",)):
    alternatives = "|".join(re.escape(name + s) for s in suffixes)
    return re.search(r"(?<![A-Za-z0-9_])(?:" + alternatives + r")(?![A-Za-z0-9_])", text) is not None

# A histogram is queried through its series (_bucket, _sum, _count), never by its bare name.
missing_families = sorted(f for f in families
                          if not mentioned(f, query_text, ("", "_bucket", "_sum", "_count")))
missing_checks = sorted(c for c in checks
                        if not mentioned(c, dash_text) and not mentioned(c, rules_text))
for f in missing_families:
    print(f"check-coverage: family {f} ({families[f]}) is in no dashboard panel query", file=sys.stderr)
for c in missing_checks:
    print(f"check-coverage: check {c} ({checks[c]}) is neither on the dashboard nor in an alert", file=sys.stderr)
# Routing: each check in a named alert, the catch-all's exclusion list = the documented checks.
catch_all, named_text = None, []
for group in yaml.safe_load(rules_text)["groups"]:
    for rule in group["rules"]:
        if rule.get("alert") == "DbcanaryExpectationFailed":
            catch_all = rule
        elif "alert" in rule:
            named_text.append(rule["expr"] + "\n" + "\n".join(rule.get("annotations", {}).values()))
named_text = "\n".join(named_text)
excluded = set()
if catch_all is None:
    print("check-coverage: no catch-all alert DbcanaryExpectationFailed in " + rules_file, file=sys.stderr)
else:
    m = re.search(r'check!~"([^"]*)"', catch_all["expr"])
    excluded = set(m.group(1).split("|")) if m else set()
unrouted = sorted(c for c in checks if not mentioned(c, named_text))
not_excluded = sorted(c for c in checks if c not in excluded)
unknown_excluded = sorted(c for c in excluded if c not in checks)
for c in unrouted:
    print(f"check-coverage: check {c} ({checks[c]}) has no named alert (only the catch-all would fire)", file=sys.stderr)
for c in not_excluded:
    print(f"check-coverage: check {c} ({checks[c]}) is missing from DbcanaryExpectationFailed's check!~ list", file=sys.stderr)
for c in unknown_excluded:
    print(f"check-coverage: DbcanaryExpectationFailed excludes {c}, which no metrics page documents", file=sys.stderr)
missing_checks += unrouted + not_excluded + unknown_excluded
if catch_all is None:
    missing_checks.append("DbcanaryExpectationFailed")

if "--list" in sys.argv:
    print("families:", " ".join(sorted(families)))
    print("checks:", " ".join(sorted(checks)))
if missing_families or missing_checks:
    print(f"check-coverage: FAILED ({len(missing_families)} families, {len(missing_checks)} checks missing)", file=sys.stderr)
    sys.exit(1)
print(f"check-coverage: OK ({len(families)} families, {len(checks)} checks covered)")
PY
