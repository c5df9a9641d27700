#!/usr/bin/env bash
# Checks the Kubernetes deployment files without a cluster:
#  - the generated copies (rules, dashboard) under deploy/kustomize are in sync (alerts/generate.py);
#  - `kubectl kustomize` renders the base alone, the base with each component (as Flux adds
#    spec.components: to the base's kustomization), with all of them, the Flux example's
#    combination and the example overlay;
#  - every rendered object against tests/deploy_schema.py (field names, types, required fields,
#    enum values, namespaces; kubectl cannot validate offline), and that schema check against one
#    deliberately broken object per rendered kind (self-test; `--self-test` runs only that);
#  - no object under deploy/kustomize names its namespace (the namespace transformer sets it);
#  - docs/deploy.md and docs/validate.md cite only files in the repository;
#  - the rendered objects: kinds, namespaces, labels/selectors, Deployment hardening (non-root,
#    read-only root fs, no privilege escalation, capabilities drop ALL, seccomp RuntimeDefault,
#    resources), probe paths, volumes (config, Secret references, reports emptyDir), Service port,
#    no Secret object and no secret data, RBAC rules exactly as documented, the Grafana label,
#    rules equal to alerts/dbcanary.rules.yml;
#  - the base config passes `dbcanary check-config` (with its /etc/dbcanary paths pointed at dummies);
#  - deploy/flux parses and points at existing paths;
#  - deploy/Dockerfile: USER 65532, bookworm stages, build packages == install-deps' build group;
#    it and deploy/image/build-oci.sh install deploy/image/runtime-packages.txt
#    (tests/check-image-packages.sh), whose libraries == the Debian packages of the built binary's
#    DT_NEEDED libraries (ldd); the manifests' image tag == the project version.
# No Docker engine or hadolint is needed (neither is on the CI machines).
# Usage: tests/check-deploy.sh [--self-test]   (needs kubectl, python3 with PyYAML;
# DBCANARY_BINARY=path to the built binary for the check-config and ldd steps, default
# build/exporter/dbcanary)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
kubectl="${KUBECTL:-kubectl}"
binary="${DBCANARY_BINARY:-$root/build/exporter/dbcanary}"
command -v "$kubectl" >/dev/null || { echo "check-deploy: kubectl not found (Debian: kubernetes-client)" >&2; exit 2; }
python3 -c 'import yaml' 2>/dev/null || { echo "check-deploy: python3 yaml missing (Debian: python3-yaml)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

self_test_only=false
[ "${1:-}" = "--self-test" ] && self_test_only=true
$self_test_only || python3 alerts/generate.py --check

base=deploy/kustomize/base
components=(rbac-cnpg rbac-cnpg-operator rbac-dragonfly drills servicemonitor vmservicescrape
            rules-prometheus rules-vm dashboard networkpolicy node-zones webhook-dryrun)

# Renders the base with the given components the way Flux does: its spec.components are added
# to the kustomization at spec.path (a copy of the tree here), so the base's transformers (the
# namespace, the labels) run over the components' objects too.
render() {
  local name=$1; shift
  local tree="$tmp/tree-$name"
  cp -r "$root/deploy/kustomize" "$tree"
  if [ $# -gt 0 ]; then
    echo "components:" >>"$tree/base/kustomization.yaml"
    for c in "$@"; do echo "  - ../components/$c" >>"$tree/base/kustomization.yaml"; done
  fi
  "$kubectl" kustomize "$tree/base" >"$tmp/$name.yaml"
}

render base
for c in "${components[@]}"; do render "$c" "$c"; done
render all "${components[@]}"
# The Flux example's combination, read from deploy/flux/kustomization.yaml.
mapfile -t flux_components < <(python3 -c '
import sys, yaml
for c in yaml.safe_load(open("deploy/flux/kustomization.yaml"))["spec"].get("components", []):
    print(c.removeprefix("../components/"))')
render flux "${flux_components[@]}"
"$kubectl" kustomize deploy/kustomize/overlays/example >"$tmp/overlay.yaml"

python3 - "$tmp" "$self_test_only" "${components[@]}" <<'PY'
import json, os, sys, yaml

sys.path.insert(0, "tests")
import deploy_schema

tmp, self_test_only, components = sys.argv[1], sys.argv[2] == "true", sys.argv[3:]
errors = []

def err(msg):
    errors.append(msg)

def load(name):
    with open(os.path.join(tmp, name + ".yaml")) as f:
        return [d for d in yaml.safe_load_all(f) if d]

def key(o):
    return (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])

renders = ["base", "all", "flux", "overlay"] + components

# --- schema of every rendered object, and the schema check's own self-test
every_kind = {}
for name in renders:
    for o in load(name):
        every_kind.setdefault(o["kind"], o)
    for e in deploy_schema.validate(load(name)):
        err(f"{name}: {e}")
caught, failures = deploy_schema.self_test(list(every_kind.values()))
for f in failures:
    err(f"schema self-test: {f}")
print(f"check-deploy: schema self-test caught a broken {', '.join(caught)}")
if self_test_only:
    for e in errors:
        print("check-deploy:", e, file=sys.stderr)
    sys.exit(1 if errors else 0)

# --- namespaces come from the transformer, not from the objects' files
import glob
for path in sorted(glob.glob("deploy/kustomize/**/*.yaml", recursive=True)):
    if path == "deploy/kustomize/namespace/namespace.yaml":
        continue
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if isinstance(doc, dict) and "namespace" in (doc.get("metadata") or {}):
                err(f"{path}: {doc.get('kind')} {doc['metadata'].get('name')} names its namespace "
                    "(set it in deploy/kustomize/namespace or in the component's patches)")

base = load("base")
base_keys = {key(o) for o in base}

def one(docs, kind, name_prefix="dbcanary"):
    found = [o for o in docs if o["kind"] == kind and o["metadata"]["name"].startswith(name_prefix)]
    if len(found) != 1:
        err(f"expected one {kind} {name_prefix}*, found {len(found)}")
        return None
    return found[0]

# --- base: kinds and namespaces
want = {("ServiceAccount", "monitoring", "dbcanary"), ("Service", "monitoring", "dbcanary"),
        ("Deployment", "monitoring", "dbcanary")}
got = {k for k in base_keys if k[0] != "ConfigMap"}
if got != want:
    err(f"base objects {sorted(got)} != {sorted(want)}")
for o in base:
    labels = o["metadata"].get("labels", {})
    if labels.get("app.kubernetes.io/name") != "dbcanary":
        err(f"{key(o)} lacks label app.kubernetes.io/name=dbcanary")
    if not o["metadata"].get("namespace"):
        err(f"{key(o)} has no namespace")

# --- no Secret objects, no secret data anywhere
for name in renders:
    for o in load(name):
        if o["kind"] == "Secret":
            err(f"{name}: renders a Secret {o['metadata']['name']}: secrets must not be committed")
        if "data" in o and o["kind"] != "ConfigMap":
            err(f"{name}: {key(o)} carries data")

# --- ConfigMap with the config; password_file only
cm = one(base, "ConfigMap", "dbcanary-config")
config_text = cm["data"].get("dbcanary.yaml", "") if cm else ""
config = yaml.safe_load(config_text) if config_text else {}
if not config:
    err("ConfigMap dbcanary-config has no dbcanary.yaml")
def walk(node, path):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "password":
                err(f"config {path}.password: use password_file (a mounted Secret)")
            if k == "password_file" and not str(v).startswith("/etc/dbcanary/secrets/"):
                err(f"config {path}.password_file {v} is not under the mounted Secret")
            walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk(v, f"{path}[{i}]")
walk(config, "")
if config.get("exporter", {}).get("listen_address", "").rsplit(":", 1)[-1] != "9750":
    err("config listen_address is not on port 9750")

# --- Deployment
dep = one(base, "Deployment")
if dep:
    spec = dep["spec"]
    tpl = spec["template"]
    sel = spec["selector"]["matchLabels"]
    if sel.get("app.kubernetes.io/name") != "dbcanary" or any(
            tpl["metadata"]["labels"].get(k) != v for k, v in sel.items()):
        err("Deployment selector does not match its pod labels")
    pod = tpl["spec"]
    if pod.get("serviceAccountName") != "dbcanary":
        err("Deployment does not run as ServiceAccount dbcanary")
    psc = pod.get("securityContext", {})
    for k, v in {"runAsNonRoot": True, "runAsUser": 65532}.items():
        if psc.get(k) != v:
            err(f"pod securityContext.{k} != {v}")
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        err("pod seccompProfile is not RuntimeDefault")
    containers = pod["containers"]
    if len(containers) != 1:
        err("expected one container")
    c = containers[0]
    if not c["image"].endswith("dbcanary:latest") and "dbcanary" not in c["image"]:
        err(f"unexpected image {c['image']}")
    if c.get("args") != ["serve", "--config", "/etc/dbcanary/config/dbcanary.yaml"]:
        err(f"container args {c.get('args')}")
    sc = c.get("securityContext", {})
    for k, v in {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                 "readOnlyRootFilesystem": True}.items():
        if sc.get(k) != v:
            err(f"container securityContext.{k} != {v}")
    if sc.get("capabilities", {}).get("drop") != ["ALL"] or sc.get("capabilities", {}).get("add"):
        err("container capabilities must drop ALL and add none")
    if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        err("container seccompProfile is not RuntimeDefault")
    if sc.get("privileged"):
        err("container is privileged")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    if ports != {"http-metrics": 9750}:
        err(f"container ports {ports}")
    for probe, path in (("readinessProbe", "/-/ready"), ("livenessProbe", "/-/healthy")):
        get = c.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or get.get("port") != "http-metrics":
            err(f"{probe} is not GET {path} on http-metrics: {get}")
    res = c.get("resources", {})
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in res.get(part, {}):
                err(f"resources.{part}.{r} missing")
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
    if set(vols) != set(mounts):
        err(f"volumes {sorted(vols)} != mounts {sorted(mounts)}")
    cfg = vols.get("config", {}).get("configMap", {}).get("name", "")
    if not cm or cfg != cm["metadata"]["name"]:
        err(f"config volume refers to {cfg!r}, not the generated ConfigMap")
    if mounts.get("config", {}).get("mountPath") != "/etc/dbcanary/config":
        err("config is not mounted at /etc/dbcanary/config")
    # subPath mounts never see ConfigMap edits: a reload would re-read the old file
    if any("subPath" in m or "subPathExpr" in m for m in mounts.values()):
        err("a volume is mounted with subPath: ConfigMap/Secret edits would never arrive")
    # SIGTERM stops a running drill, which then has its cleanup budget (2 min) to remove its
    # scratch objects: the kubelet must not SIGKILL before that
    if pod.get("terminationGracePeriodSeconds", 30) <= 120:
        err(f"terminationGracePeriodSeconds {pod.get('terminationGracePeriodSeconds', 30)} is not "
            "longer than the drills' cleanup budget (120 s)")
    if vols.get("passwords", {}).get("secret", {}).get("secretName") != "dbcanary-passwords" or \
            mounts.get("passwords", {}).get("mountPath") != "/etc/dbcanary/secrets":
        err("Secret dbcanary-passwords is not mounted at /etc/dbcanary/secrets")
    if vols.get("pg-ca", {}).get("secret", {}).get("secretName") != "dbcanary-pg-ca" or \
            mounts.get("pg-ca", {}).get("mountPath") != "/etc/dbcanary/tls":
        err("Secret dbcanary-pg-ca is not mounted at /etc/dbcanary/tls")
    if "emptyDir" not in vols.get("reports", {}) or \
            mounts.get("reports", {}).get("mountPath") != "/var/lib/dbcanary/reports":
        err("no emptyDir at /var/lib/dbcanary/reports (drills.reports_dir)")
    for m in mounts.values():
        if m["name"] in ("config", "passwords", "pg-ca") and not m.get("readOnly"):
            err(f"mount {m['name']} is not readOnly")
    # every file the config reads comes from a mount
    def files(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("password_file", "sslrootcert", "sslcert", "sslkey") and isinstance(v, str):
                    yield v
                else:
                    yield from files(v)
        elif isinstance(node, list):
            for v in node:
                yield from files(v)
    dirs = [m["mountPath"] for m in mounts.values()]
    for f in files(config):
        if not any(f.startswith(d.rstrip("/") + "/") for d in dirs):
            err(f"config reads {f}, which no volume provides")

# --- Service
svc = one(base, "Service")
if svc:
    ports = svc["spec"]["ports"]
    if [(p["name"], p["port"], p["targetPort"]) for p in ports] != [("http-metrics", 9750, "http-metrics")]:
        err(f"Service ports {ports}")
    if dep and any(dep["spec"]["template"]["metadata"]["labels"].get(k) != v
                   for k, v in svc["spec"]["selector"].items()):
        err("Service selector does not match the pods")

# --- RBAC exactly as documented
def rules_of(docs, name, kind="Role"):
    role = [o for o in docs if o["kind"] == kind and o["metadata"]["name"] == name]
    if len(role) != 1:
        err(f"{kind} {name}: found {len(role)}")
        return None
    out = set()
    for r in role[0]["rules"]:
        for g in r["apiGroups"]:
            for res in r["resources"]:
                for v in r["verbs"]:
                    out.add((g, res, v))
    return out

def check_binding(docs, name, kind="RoleBinding"):
    rb = [o for o in docs if o["kind"] == kind and o["metadata"]["name"] == name]
    if len(rb) != 1:
        err(f"{kind} {name}: found {len(rb)}")
        return
    rb = rb[0]
    role_kind = kind.removesuffix("Binding")
    if rb["roleRef"] != {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name}:
        err(f"RoleBinding {name} roleRef {rb['roleRef']}")
    if rb["subjects"] != [{"kind": "ServiceAccount", "name": "dbcanary", "namespace": "monitoring"}]:
        err(f"RoleBinding {name} subjects {rb['subjects']}")

readonly = {("postgresql.cnpg.io", "clusters", "get"), ("postgresql.cnpg.io", "poolers", "get"),
            ("postgresql.cnpg.io", "backups", "list"), ("postgresql.cnpg.io", "scheduledbackups", "list"),
            ("barmancloud.cnpg.io", "objectstores", "get"), ("", "pods", "list"),
            ("", "persistentvolumeclaims", "list"), ("policy", "poddisruptionbudgets", "get")}
if any(o["kind"] in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding") for o in base):
    err("the base renders RBAC: every Role belongs in a component")
cnpg = load("rbac-cnpg")
if rules_of(cnpg, "dbcanary-readonly") != readonly:
    err(f"Role dbcanary-readonly rules {sorted(rules_of(cnpg, 'dbcanary-readonly') or [])} != documented")
check_binding(cnpg, "dbcanary-readonly")
# Read-only components: get/list only, every `get` pinned by resourceNames except the CNPG
# cluster namespace's (clusters, poolers: the names come from the config).
rbac_components = {"rbac-cnpg": {("Role", "db", "dbcanary-readonly")},
                   "rbac-cnpg-operator": {("Role", "cnpg-system", "dbcanary-cnpg-operator"),
                                          ("ClusterRole", None, "dbcanary-crds")},
                   "rbac-dragonfly": {("Role", "cache", "dbcanary-dragonfly"),
                                      ("Role", "dragonfly-operator-system",
                                       "dbcanary-dragonfly-operator")}}
# the opt-in node-zones component: the one other cluster-wide RBAC, list Nodes and nothing else
node_zones = {("ClusterRole", None, "dbcanary-nodes"), ("ClusterRoleBinding", None, "dbcanary-nodes")}
for o in load("node-zones"):
    if o["kind"] == "ClusterRole" and [(r["apiGroups"], r["resources"], r["verbs"])
                                       for r in o["rules"]] != [([""], ["nodes"], ["list"])]:
        err(f"ClusterRole {o['metadata']['name']} grants more than list nodes: {o['rules']}")
    if o["kind"] == "ClusterRoleBinding" and (
            o["roleRef"] != {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                             "name": "dbcanary-nodes"} or
            o["subjects"] != [{"kind": "ServiceAccount", "name": "dbcanary", "namespace": "monitoring"}]):
        err(f"ClusterRoleBinding dbcanary-nodes binds {o['roleRef']} to {o['subjects']}")
with open("deploy/rbac/dbcanary-readonly.yaml") as f:
    standalone = [d for d in yaml.safe_load_all(f) if d]
for comp, roles in rbac_components.items():
    docs = load(comp)
    bindings = {(k + "Binding", ns, n) for k, ns, n in roles}
    if {key(o) for o in docs} - base_keys != roles | bindings:
        err(f"component {comp} adds {sorted({key(o) for o in docs} - base_keys)}, expected "
            f"{sorted(roles | bindings)}")
    for kind, ns, name in roles:
        rules = rules_of(docs, name, kind)
        check_binding(docs, name, kind + "Binding")
        if rules is None:
            continue
        if {v for _, _, v in rules} - {"get", "list"}:
            err(f"{kind} {name} grants more than get/list: {sorted(rules)}")
        # the standalone RBAC file (kubectl apply without kustomize) carries the same rules
        if rules_of(standalone, name, kind) != rules:
            err(f"deploy/rbac/dbcanary-readonly.yaml and component {comp} differ on {kind} {name}")
        if kind == "ClusterRole":
            for r in next(o for o in docs if key(o) == (kind, ns, name))["rules"]:
                if not r.get("resourceNames") or set(r["verbs"]) != {"get"}:
                    err(f"ClusterRole {name}: a rule not limited to get by resourceNames: {r}")
cluster_wide = {key(o) for o in load("all") if o["kind"] in ("ClusterRole", "ClusterRoleBinding")}
if cluster_wide - node_zones != {("ClusterRole", None, "dbcanary-crds"),
                                 ("ClusterRoleBinding", None, "dbcanary-crds")}:
    err(f"cluster-wide RBAC {sorted(cluster_wide)}: only the CRD read of rbac-cnpg-operator "
        "(and node-zones' list of Nodes) is expected")

drills = load("drills")
# failover (kubernetes trigger) lists Pods by label, then deletes the primary's; restore creates,
# polls, lists and deletes its Backups, creates the scratch Cluster and reads/deletes only it.
drill_rules = {("", "pods", "list"), ("", "pods", "delete")} | \
    {("postgresql.cnpg.io", "backups", v) for v in ("create", "get", "list", "delete")} | \
    {("postgresql.cnpg.io", "clusters", v) for v in ("create", "get", "delete")}
if rules_of(drills, "dbcanary-drills") != drill_rules:
    err(f"Role dbcanary-drills rules {sorted(rules_of(drills, 'dbcanary-drills') or [])} != documented")
# deleting Clusters only by name: the scratch recovery Cluster, never a production one
for role in (o for o in drills if o["kind"] == "Role" and o["metadata"]["name"] == "dbcanary-drills"):
    for r in role["rules"]:
        if "clusters" in r["resources"] and set(r["verbs"]) & {"get", "delete", "update", "patch"}:
            names = r.get("resourceNames") or []
            if not names or not all(n.endswith("-dbcanary-restore") for n in names):
                err(f"Role dbcanary-drills: clusters {sorted(r['verbs'])} not limited to the scratch "
                    f"Cluster by resourceNames ({names})")
        if "clusters" in r["resources"] and "deletecollection" in r["verbs"]:
            err("Role dbcanary-drills: deletecollection on clusters")
check_binding(drills, "dbcanary-drills")
if {key(o) for o in drills} - base_keys != {("Role", "db", "dbcanary-drills"),
                                            ("RoleBinding", "db", "dbcanary-drills")}:
    err("the drills component adds more than its Role and RoleBinding")

# the webhook dry-run: create on clusters, nothing else (a dry run is authorized as a create)
webhook = load("webhook-dryrun")
if rules_of(webhook, "dbcanary-webhook-dryrun") != {("postgresql.cnpg.io", "clusters", "create")}:
    err(f"Role dbcanary-webhook-dryrun rules {sorted(rules_of(webhook, 'dbcanary-webhook-dryrun') or [])} != documented")
check_binding(webhook, "dbcanary-webhook-dryrun")
if any(o["kind"] == "Role" and o["metadata"]["name"] != "dbcanary-webhook-dryrun"
       and ("postgresql.cnpg.io", "clusters", "create") in (rules_of([o], o["metadata"]["name"]) or set())
       and o["metadata"]["name"] != "dbcanary-drills" for o in load("all")):
    err("create on clusters granted outside the webhook-dryrun and drills components")

# --- each component adds exactly its objects, in the monitoring namespace
expect_added = {
    "servicemonitor": {("ServiceMonitor", "monitoring", "dbcanary")},
    "vmservicescrape": {("VMServiceScrape", "monitoring", "dbcanary")},
    "rules-prometheus": {("PrometheusRule", "monitoring", "dbcanary")},
    "rules-vm": {("VMRule", "monitoring", "dbcanary")},
    "dashboard": {("ConfigMap", "monitoring", "dbcanary-dashboard")},
    "networkpolicy": {("NetworkPolicy", "monitoring", "dbcanary")},
    "node-zones": node_zones,
    "webhook-dryrun": {("Role", "db", "dbcanary-webhook-dryrun"),
                       ("RoleBinding", "db", "dbcanary-webhook-dryrun")},
}
for comp, added in expect_added.items():
    docs = load(comp)
    if {key(o) for o in docs} - base_keys != added:
        err(f"component {comp} adds {sorted({key(o) for o in docs} - base_keys)}, expected {sorted(added)}")
    for o in docs:
        if key(o) not in added:
            continue
        spec = o.get("spec", {})
        if o["kind"] in ("ServiceMonitor", "VMServiceScrape"):
            if spec.get("selector", {}).get("matchLabels") != {"app.kubernetes.io/name": "dbcanary"}:
                err(f"{o['kind']} selector {spec.get('selector')}")
            eps = spec.get("endpoints", [])
            if [(e.get("port"), e.get("path")) for e in eps] != [("http-metrics", "/metrics")]:
                err(f"{o['kind']} endpoints {eps}")
        if o["kind"] in ("PrometheusRule", "VMRule"):
            with open("alerts/dbcanary.rules.yml") as f:
                plain = yaml.safe_load(f)["groups"]
            if spec.get("groups") != plain:
                err(f"{o['kind']} groups differ from alerts/dbcanary.rules.yml")
        if o["kind"] == "ConfigMap":
            if o["metadata"].get("labels", {}).get("grafana_dashboard") != "1":
                err("dashboard ConfigMap lacks label grafana_dashboard: \"1\"")
            with open("dashboards/dbcanary-overview.json") as f:
                if json.loads(o["data"]["dbcanary-overview.json"]) != json.load(f):
                    err("dashboard ConfigMap differs from dashboards/dbcanary-overview.json")

all_keys = {key(o) for o in load("all")}
union = set(base_keys)
for comp in components:
    union |= {key(o) for o in load(comp)}
if all_keys != union:
    err("base + all components != union of the single renders")

# --- Flux
with open("deploy/flux/kustomization.yaml") as f:
    fk = yaml.safe_load(f)
with open("deploy/flux/gitrepository.yaml") as f:
    gr = yaml.safe_load(f)
if (fk["apiVersion"], fk["kind"]) != ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"):
    err("deploy/flux/kustomization.yaml is not a kustomize.toolkit.fluxcd.io/v1 Kustomization")
if (gr["apiVersion"], gr["kind"]) != ("source.toolkit.fluxcd.io/v1", "GitRepository"):
    err("deploy/flux/gitrepository.yaml is not a source.toolkit.fluxcd.io/v1 GitRepository")
if fk["spec"]["sourceRef"] != {"kind": "GitRepository", "name": gr["metadata"]["name"]}:
    err("Flux Kustomization does not reference the GitRepository")
path = os.path.normpath(fk["spec"]["path"])
if not os.path.isfile(os.path.join(path, "kustomization.yaml")):
    err(f"Flux path {path} has no kustomization.yaml")
flux_components = [os.path.basename(c) for c in fk["spec"].get("components", [])]
for comp in fk["spec"].get("components", []):
    if not os.path.isfile(os.path.join(path, comp, "kustomization.yaml")):
        err(f"Flux component {comp} does not exist")
# With wait: true a kind whose CRD is missing fails the whole Kustomization: one of each pair.
for pair in (("rules-prometheus", "rules-vm"), ("servicemonitor", "vmservicescrape")):
    if all(c in flux_components for c in pair):
        err(f"the Flux example applies both {pair[0]} and {pair[1]}")
# the base config's k8s_cnpg_* probes and discovery need the CNPG Role
if "rbac-cnpg" not in flux_components:
    err("the Flux example lacks rbac-cnpg, which the base config's kubernetes probes need")
flux = load("flux")
if {key(o) for o in flux} != base_keys.union(*({key(o) for o in load(c)} for c in flux_components)):
    err("the Flux render differs from the union of its components' renders")

# --- the example overlay: namespaces and subjects as in the Flux-style renders
overlay = load("overlay")
check_binding(overlay, "dbcanary-readonly")
for o in overlay:
    if o["kind"] not in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding") and \
            o["metadata"].get("namespace") != "monitoring":
        err(f"overlay: {key(o)} is not in monitoring")

# --- NetworkPolicy: dbcanary's pods; scrapers in on http-metrics; DNS, PostgreSQL, Dragonfly and
# the API server out
for o in load("networkpolicy"):
    if o["kind"] != "NetworkPolicy":
        continue
    spec = o["spec"]
    if spec["podSelector"].get("matchLabels") != {"app.kubernetes.io/name": "dbcanary"}:
        err(f"NetworkPolicy podSelector {spec['podSelector']} is not dbcanary's pods")
    if sorted(spec.get("policyTypes", [])) != ["Egress", "Ingress"]:
        err("NetworkPolicy does not restrict both directions")
    ingress_ports = {p.get("port") for r in spec.get("ingress", []) for p in r.get("ports", [])}
    if ingress_ports != {"http-metrics"}:
        err(f"NetworkPolicy ingress ports {ingress_ports} != {{http-metrics}}")
    for r in spec.get("ingress", []) + spec.get("egress", []):
        for peer in r.get("from", []) + r.get("to", []):
            # the label transformer would add dbcanary's label to a peer's matchLabels
            if peer.get("podSelector", {}).get("matchLabels"):
                err(f"NetworkPolicy peer {peer} selects pods by matchLabels")
    egress = {(p.get("protocol", "TCP"), p.get("port")) for r in spec.get("egress", [])
              for p in r.get("ports", [])}
    for want_port in (("UDP", 53), ("TCP", 53), ("TCP", 5432), ("TCP", 6379), ("TCP", 443)):
        if want_port not in egress:
            err(f"NetworkPolicy egress lacks {want_port[0]} {want_port[1]}")

for e in errors:
    print("check-deploy:", e, file=sys.stderr)
if errors:
    sys.exit(1)
print(f"check-deploy: rendered objects OK (base {len(base)} objects, {len(components)} components)")
PY
$self_test_only && { echo "check-deploy: self-test OK"; exit 0; }

# --- the deployment and validate docs cite only files that exist, and no stale "not wired"
python3 - <<'PY'
import os, re, sys
tops = ("alerts/", "deploy/", "docs/", "tests/", "exporter/", "core/", "config/", "clients/",
        "probes/", "drills/", "dashboards/", "shared/")
errors = []
for doc in ("docs/deploy.md", "docs/validate.md"):
    text = open(doc, encoding="utf-8").read()
    if "not wired" in text:
        errors.append(f"{doc}: says something is \"not wired\"")
    for path in re.findall(r"`([A-Za-z0-9_./-]+)`", text):
        if path.startswith(tops) and not os.path.exists(path.rstrip("/")):
            errors.append(f"{doc}: cites {path}, which is not in the repository")
for e in errors:
    print("check-deploy:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY

# --- the base config loads (paths under /etc/dbcanary pointed at dummy files)
if [ -x "$binary" ]; then
  etc="$tmp/etc"
  mkdir -p "$etc/secrets" "$etc/tls"
  for k in dbcanary gitlab harbor keycloak synergyflow dragonfly; do echo "dummy-$k" >"$etc/secrets/$k"; done
  cp "$root/deploy/kustomize/base/dbcanary.yaml" "$tmp/base-config.yaml"
  sed -i "s#/etc/dbcanary/#$etc/#g" "$tmp/base-config.yaml"
  : >"$etc/tls/ca.crt"
  "$binary" check-config "$tmp/base-config.yaml"
else
  echo "check-deploy: $binary not built: skipping check-config of the base config and the ldd check" >&2
fi

# --- Dockerfile
df=deploy/Dockerfile
grep -qE '^USER 65532(:65532)?$' "$df" || { echo "check-deploy: $df does not switch to USER 65532" >&2; exit 1; }
[ "$(grep -cE '^FROM debian:bookworm(-slim)?( |$)' "$df")" -eq 2 ] ||
  { echo "check-deploy: $df must have two debian:bookworm stages" >&2; exit 1; }
[ -f .dockerignore ] || { echo "check-deploy: .dockerignore missing" >&2; exit 1; }
# build stage packages == the "# build" group of install-deps.sh
build_pkgs=$(sed -n '/^FROM debian:bookworm AS build/,/^FROM /p' "$df" | sed -n '/apt-get install/,/rm -rf/p' |
  tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vE '^(apt-get|install|rm|rf|update)$' | sort -u)
deps_pkgs=$(sed -n '/^  # build$/,/^  # /p' deploy/local/install-deps.sh | grep -v '#' | tr ' ' '\n' | grep . | sort -u)
if [ "$build_pkgs" != "$deps_pkgs" ]; then
  echo "check-deploy: $df build packages differ from install-deps.sh's build group:" >&2
  diff <(echo "$deps_pkgs") <(echo "$build_pkgs") >&2 || true
  exit 1
fi
# one runtime package list for the Dockerfile and deploy/image/build-oci.sh; the checker must
# fail on a Dockerfile with a list of its own and on one that filters the shared list
runtime_pkgs=$(tests/check-image-packages.sh "$df" | sort -u)
sed 's/xargs apt-get install -y --no-install-recommends/& curl/' "$df" >"$tmp/Dockerfile.inline"
sed "s#sed 's/\#.\*//' /tmp/runtime-packages.txt#sed 's/\#.*//;/libpq5/d' /tmp/runtime-packages.txt#" "$df" \
  >"$tmp/Dockerfile.filtered"
for planted in inline filtered; do
  ! tests/check-image-packages.sh "$tmp/Dockerfile.$planted" >/dev/null 2>&1 ||
    { echo "check-deploy: check-image-packages.sh passes a Dockerfile with a $planted package list" >&2; exit 1; }
done
# the manifests pull the version the image is tagged with, never :latest
version=$(sed -n 's/^project(dbcanary VERSION \([0-9.]*\) .*/\1/p' CMakeLists.txt)
for f in deploy/kustomize/base/kustomization.yaml deploy/flux/kustomization.yaml; do
  tag=$(sed -n 's/^ *newTag: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$f")
  [ "$tag" = "$version" ] || { echo "check-deploy: $f pulls tag '$tag', not the version $version" >&2; exit 1; }
done
# runtime packages == packages owning the binary's DT_NEEDED libraries
if [ -x "$binary" ]; then
  needed_pkgs=$(
    for lib in $(readelf -d "$binary" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
      path=$(ldd "$binary" | awk -v n="$lib" '$1 == n { print $3 }')
      [ -n "$path" ] || { echo "?unresolved-$lib"; continue; }
      owner=$(dpkg -S "$path" 2>/dev/null) || owner=$(dpkg -S "$(realpath "$path")" 2>/dev/null) ||
        owner="?unowned-$path:"
      echo "${owner%%:*}"
    done | grep -vE '^lib(asan|ubsan|tsan)[0-9]+$' | sort -u)  # a sanitizer build's runtimes
  if [ "$runtime_pkgs" != "$needed_pkgs" ]; then
    echo "check-deploy: runtime-packages.txt differs from ldd of $binary (< ldd, > list):" >&2
    diff <(echo "$needed_pkgs") <(echo "$runtime_pkgs") >&2 || true
    exit 1
  fi
  echo "check-deploy: runtime packages match ldd ($(echo "$runtime_pkgs" | wc -l) packages)"
fi
echo "check-deploy: OK"
