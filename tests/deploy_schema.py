"""Offline schema check of the Kubernetes objects dbcanary's manifests render.

kubectl's client-side validation downloads the schemas from an API server (there is none on the
CI machines, and Debian 12 packages no kubectl that works without one), so the fields are listed
here: for each kind the project renders, every field it may set, with its type, the required
ones and the enum values, as the Kubernetes API reference (apps/v1, core/v1, rbac/v1,
networking/v1) and the prometheus-operator (monitoring.coreos.com/v1) and VictoriaMetrics
operator (operator.victoriametrics.com/v1beta1) CRDs define them. Unknown fields are errors
(kubectl --validate=strict), so a misspelt field fails instead of being dropped by the server.
The tables cover the fields these manifests use and their usual neighbours, not whole APIs: a
new field needs a line here.

Used by tests/check-deploy.sh: validate(docs) -> list of error strings; self_test(docs) plants
one broken object per kind and checks that each is caught.
"""
import copy
import re

# ---- type language: a Python type name, a nested dict (object; "!" suffix = required), a
# one-element list (array of), or one of the strings below.
STR, INT, BOOL, ANY = "str", "int", "bool", "any"
INT_OR_STR = "int-or-str"
MAP_STR = "map[str]str"
QUANTITY = "quantity"
DURATION = "duration"  # Prometheus duration (operator CRDs): 30s, 1m30s, 1h
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUANTITY_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i?|[mnuk])?$")
DURATION_RE = re.compile(r"^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")


def enum(*values):
    return ("enum", values)


LABEL_SELECTOR = {
    "matchLabels": MAP_STR,
    "matchExpressions": [{"key!": STR, "operator!": enum("In", "NotIn", "Exists", "DoesNotExist"),
                          "values": [STR]}],
}
OBJECT_META = {
    "name": STR, "generateName": STR, "namespace": STR, "labels": MAP_STR, "annotations": MAP_STR,
}
SECCOMP = {"type!": enum("RuntimeDefault", "Localhost", "Unconfined"), "localhostProfile": STR}
CONTAINER_SECURITY = {
    "runAsNonRoot": BOOL, "runAsUser": INT, "runAsGroup": INT, "allowPrivilegeEscalation": BOOL,
    "readOnlyRootFilesystem": BOOL, "privileged": BOOL,
    "capabilities": {"add": [STR], "drop": [STR]}, "seccompProfile": SECCOMP,
    "procMount": enum("Default", "Unmasked"), "seLinuxOptions": ANY, "appArmorProfile": ANY,
}
POD_SECURITY = {
    "runAsNonRoot": BOOL, "runAsUser": INT, "runAsGroup": INT, "fsGroup": INT,
    "fsGroupChangePolicy": enum("OnRootMismatch", "Always"), "seccompProfile": SECCOMP,
    "supplementalGroups": [INT], "sysctls": [{"name!": STR, "value!": STR}],
    "seLinuxOptions": ANY, "appArmorProfile": ANY,
}
PROBE = {
    "httpGet": {"path": STR, "port!": INT_OR_STR, "host": STR, "scheme": enum("HTTP", "HTTPS"),
                "httpHeaders": [{"name!": STR, "value!": STR}]},
    "tcpSocket": {"port!": INT_OR_STR, "host": STR},
    "exec": {"command": [STR]},
    "grpc": {"port!": INT, "service": STR},
    "initialDelaySeconds": INT, "periodSeconds": INT, "timeoutSeconds": INT,
    "failureThreshold": INT, "successThreshold": INT, "terminationGracePeriodSeconds": INT,
}
CONTAINER = {
    "name!": STR, "image!": STR, "imagePullPolicy": enum("Always", "IfNotPresent", "Never"),
    "command": [STR], "args": [STR], "workingDir": STR,
    "env": [{"name!": STR, "value": STR, "valueFrom": ANY}], "envFrom": ANY,
    "ports": [{"name": STR, "containerPort!": INT, "protocol": enum("TCP", "UDP", "SCTP"),
               "hostPort": INT, "hostIP": STR}],
    "readinessProbe": PROBE, "livenessProbe": PROBE, "startupProbe": PROBE,
    "resources": {"requests": {"cpu": QUANTITY, "memory": QUANTITY, "ephemeral-storage": QUANTITY},
                  "limits": {"cpu": QUANTITY, "memory": QUANTITY, "ephemeral-storage": QUANTITY}},
    "securityContext": CONTAINER_SECURITY,
    "volumeMounts": [{"name!": STR, "mountPath!": STR, "readOnly": BOOL, "subPath": STR,
                      "subPathExpr": STR,
                      "mountPropagation": enum("None", "HostToContainer", "Bidirectional")}],
    "terminationMessagePath": STR,
    "terminationMessagePolicy": enum("File", "FallbackToLogsOnError"),
    "stdin": BOOL, "tty": BOOL, "lifecycle": ANY,
}
KEY_TO_PATH = [{"key!": STR, "path!": STR, "mode": INT}]
VOLUME = {
    "name!": STR,
    "configMap": {"name": STR, "items": KEY_TO_PATH, "defaultMode": INT, "optional": BOOL},
    "secret": {"secretName": STR, "items": KEY_TO_PATH, "defaultMode": INT, "optional": BOOL},
    "emptyDir": {"medium": enum("", "Memory"), "sizeLimit": QUANTITY},
    "projected": ANY,
}
POD_SPEC = {
    "containers!": [CONTAINER], "initContainers": [CONTAINER], "volumes": [VOLUME],
    "serviceAccountName": STR, "automountServiceAccountToken": BOOL, "enableServiceLinks": BOOL,
    "terminationGracePeriodSeconds": INT, "securityContext": POD_SECURITY,
    "nodeSelector": MAP_STR, "affinity": ANY, "tolerations": ANY,
    "topologySpreadConstraints": ANY, "priorityClassName": STR,
    "imagePullSecrets": [{"name": STR}], "restartPolicy": enum("Always", "OnFailure", "Never"),
    "dnsPolicy": enum("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"),
    "hostNetwork": BOOL, "hostPID": BOOL, "hostIPC": BOOL, "shareProcessNamespace": BOOL,
}
POLICY_PEER = {"podSelector": LABEL_SELECTOR, "namespaceSelector": LABEL_SELECTOR,
               "ipBlock": {"cidr!": STR, "except": [STR]}}
POLICY_PORT = {"port": INT_OR_STR, "protocol": enum("TCP", "UDP", "SCTP"), "endPort": INT}
POLICY_RULE = {"apiGroups": [STR], "resources": [STR], "verbs!": [STR], "resourceNames": [STR],
               "nonResourceURLs": [STR]}
SUBJECT = {"kind!": enum("ServiceAccount", "User", "Group"), "name!": STR, "namespace": STR,
           "apiGroup": STR}
ROLE_REF = {"apiGroup!": enum("rbac.authorization.k8s.io"), "kind!": enum("Role", "ClusterRole"),
            "name!": STR}
SAFE_AUTH = ANY  # secrets references of scrape endpoints: not used here
PROM_ENDPOINT = {
    "port": STR, "targetPort": INT_OR_STR, "path": STR, "scheme": enum("http", "https"),
    "interval": DURATION, "scrapeTimeout": DURATION, "honorLabels": BOOL,
    "honorTimestamps": BOOL, "relabelings": ANY, "metricRelabelings": ANY, "params": ANY,
    "tlsConfig": SAFE_AUTH, "basicAuth": SAFE_AUTH, "bearerTokenSecret": SAFE_AUTH,
    "authorization": SAFE_AUTH, "followRedirects": BOOL, "enableHttp2": BOOL,
}
VM_ENDPOINT = {
    "port": STR, "targetPort": INT_OR_STR, "path": STR, "scheme": enum("http", "https"),
    "interval": DURATION, "scrapeTimeout": DURATION, "honorLabels": BOOL,
    "honorTimestamps": BOOL, "relabelConfigs": ANY, "metricRelabelConfigs": ANY, "params": ANY,
    "tlsConfig": SAFE_AUTH, "basicAuth": SAFE_AUTH, "bearerTokenSecret": SAFE_AUTH,
    "authorization": SAFE_AUTH, "follow_redirects": BOOL, "sampleLimit": INT,
}
NAMESPACE_SELECTOR = {"any": BOOL, "matchNames": [STR]}
PROM_RULE = {"alert": STR, "record": STR, "expr!": INT_OR_STR, "for": DURATION,
             "keep_firing_for": DURATION, "labels": MAP_STR, "annotations": MAP_STR}
VM_RULE = {"alert": STR, "record": STR, "expr!": STR, "for": DURATION,
           "keep_firing_for": DURATION, "labels": MAP_STR, "annotations": MAP_STR, "debug": BOOL,
           "update_entries_limit": INT}

# kind -> (apiVersion, namespaced, top-level fields besides apiVersion/kind/metadata)
KINDS = {
    "ServiceAccount": ("v1", True, {"automountServiceAccountToken": BOOL, "secrets": ANY,
                                    "imagePullSecrets": [{"name": STR}]}),
    "ConfigMap": ("v1", True, {"data": MAP_STR, "binaryData": MAP_STR, "immutable": BOOL}),
    "Service": ("v1", True, {"spec!": {
        "type": enum("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"),
        "selector": MAP_STR, "clusterIP": STR, "sessionAffinity": enum("None", "ClientIP"),
        "ports!": [{"name": STR, "port!": INT, "targetPort": INT_OR_STR, "nodePort": INT,
                    "protocol": enum("TCP", "UDP", "SCTP"), "appProtocol": STR}],
        "internalTrafficPolicy": enum("Cluster", "Local"), "publishNotReadyAddresses": BOOL}}),
    "Deployment": ("apps/v1", True, {"spec!": {
        "replicas": INT, "selector!": LABEL_SELECTOR,
        "template!": {"metadata": OBJECT_META, "spec!": POD_SPEC},
        "strategy": {"type": enum("Recreate", "RollingUpdate"),
                     "rollingUpdate": {"maxSurge": INT_OR_STR, "maxUnavailable": INT_OR_STR}},
        "revisionHistoryLimit": INT, "minReadySeconds": INT, "progressDeadlineSeconds": INT,
        "paused": BOOL}}),
    "Role": ("rbac.authorization.k8s.io/v1", True, {"rules": [POLICY_RULE]}),
    "ClusterRole": ("rbac.authorization.k8s.io/v1", False,
                    {"rules": [POLICY_RULE], "aggregationRule": ANY}),
    "RoleBinding": ("rbac.authorization.k8s.io/v1", True,
                    {"subjects": [SUBJECT], "roleRef!": ROLE_REF}),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io/v1", False,
                           {"subjects": [SUBJECT], "roleRef!": ROLE_REF}),
    "NetworkPolicy": ("networking.k8s.io/v1", True, {"spec!": {
        "podSelector!": LABEL_SELECTOR, "policyTypes": [enum("Ingress", "Egress")],
        "ingress": [{"from": [POLICY_PEER], "ports": [POLICY_PORT]}],
        "egress": [{"to": [POLICY_PEER], "ports": [POLICY_PORT]}]}}),
    "ServiceMonitor": ("monitoring.coreos.com/v1", True, {"spec!": {
        "selector!": LABEL_SELECTOR, "namespaceSelector": NAMESPACE_SELECTOR,
        "endpoints!": [PROM_ENDPOINT], "jobLabel": STR, "targetLabels": [STR],
        "podTargetLabels": [STR], "sampleLimit": INT, "attachMetadata": ANY}}),
    "VMServiceScrape": ("operator.victoriametrics.com/v1beta1", True, {"spec!": {
        "selector": LABEL_SELECTOR, "namespaceSelector": NAMESPACE_SELECTOR,
        "endpoints!": [VM_ENDPOINT], "jobLabel": STR, "targetLabels": [STR],
        "podTargetLabels": [STR], "sampleLimit": INT,
        "discoveryRole": enum("endpoints", "service", "endpointslices", "endpointslice")}}),
    "PrometheusRule": ("monitoring.coreos.com/v1", True, {"spec!": {"groups": [{
        "name!": STR, "interval": DURATION, "rules": [PROM_RULE], "limit": INT,
        "partial_response_strategy": STR, "query_offset": DURATION, "labels": MAP_STR}]}}),
    "VMRule": ("operator.victoriametrics.com/v1beta1", True, {"spec!": {"groups!": [{
        "name!": STR, "interval": DURATION, "rules!": [VM_RULE], "limit": INT,
        "concurrency": INT, "labels": MAP_STR, "type": STR, "eval_offset": DURATION,
        "eval_delay": DURATION, "params": ANY, "headers": [STR], "tenant": STR}]}}),
}


def _check(value, schema, path, errors):
    if schema == ANY:
        return
    if isinstance(schema, tuple) and schema[0] == "enum":
        if value not in schema[1]:
            errors.append(f"{path}: {value!r} is not one of {', '.join(map(str, schema[1]))}")
        return
    if isinstance(schema, list):
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _check(item, schema[0], f"{path}[{i}]", errors)
        return
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object, got {type(value).__name__}")
            return
        fields = {k.rstrip("!"): v for k, v in schema.items()}
        for key in schema:
            if key.endswith("!") and key[:-1] not in value:
                errors.append(f"{path}.{key[:-1]}: required field missing")
        for key, item in value.items():
            if key not in fields:
                errors.append(f"{path}.{key}: unknown field")
                continue
            _check(item, fields[key], f"{path}.{key}", errors)
        return
    if schema == STR:
        ok = isinstance(value, str)
    elif schema == INT:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif schema == BOOL:
        ok = isinstance(value, bool)
    elif schema == INT_OR_STR:
        ok = isinstance(value, (int, str)) and not isinstance(value, bool)
    elif schema == MAP_STR:
        ok = isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    elif schema == QUANTITY:
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and QUANTITY_RE.match(value) is not None)
    elif schema == DURATION:
        ok = isinstance(value, str) and value != "" and DURATION_RE.match(value) is not None
    else:
        raise ValueError(f"unknown schema type {schema!r} at {path}")
    if not ok:
        errors.append(f"{path}: {value!r} is not a valid {schema}")


def validate_one(doc):
    """Errors of one rendered object, each prefixed with kind/namespace/name."""
    if not isinstance(doc, dict):
        return [f"document is a {type(doc).__name__}, not an object"]
    kind = doc.get("kind")
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    where = f"{kind}/{meta.get('namespace') or '-'}/{meta.get('name')}"
    if kind not in KINDS:
        return [f"{where}: kind {kind!r} has no schema in tests/deploy_schema.py"]
    api_version, namespaced, fields = KINDS[kind]
    errors = []
    if doc.get("apiVersion") != api_version:
        errors.append(f"apiVersion {doc.get('apiVersion')!r}, expected {api_version}")
    schema = {"apiVersion!": STR, "kind!": STR, "metadata!": dict(OBJECT_META, **{"name!": STR})}
    schema.update(fields)
    _check(doc, schema, "", errors)
    name = meta.get("name")
    if isinstance(name, str) and not DNS1123.match(name):
        errors.append(f".metadata.name: {name!r} is not a DNS-1123 name")
    if namespaced and not meta.get("namespace"):
        errors.append(".metadata.namespace: a namespaced object without a namespace")
    if not namespaced and "namespace" in meta:
        errors.append(".metadata.namespace: set on a cluster-scoped object")
    if kind == "Deployment" and isinstance(doc.get("spec"), dict):
        spec = doc["spec"]
        labels = (spec.get("template") or {}).get("metadata", {}).get("labels", {}) or {}
        for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items():
            if labels.get(k) != v:
                errors.append(f".spec.selector.matchLabels.{k}: not a label of the pod template")
    return [f"{where}: {e}" for e in errors]


def validate(docs):
    errors = []
    for doc in docs:
        errors.extend(validate_one(doc))
    return errors


# One breakage per kind: a wrong type, a misspelt field, a bad enum value or a missing
# required field, the mistakes a hand-edited manifest makes.
def _break(doc):
    kind = doc["kind"]
    if kind == "Deployment":
        doc["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "9750"
    elif kind == "Service":
        doc["spec"]["ports"][0]["port"] = "http-metrics"
    elif kind == "ServiceAccount":
        doc["automountServiceAccountToken"] = "yes"
    elif kind == "ConfigMap":
        doc["data"] = {k: 1 for k in doc.get("data", {"x": ""})}
    elif kind in ("Role", "ClusterRole"):
        doc["rules"][0]["verbs"] = "get"
    elif kind in ("RoleBinding", "ClusterRoleBinding"):
        del doc["roleRef"]["kind"]
    elif kind == "NetworkPolicy":
        doc["spec"]["policyTypes"] = ["Inbound"]
    elif kind == "ServiceMonitor":
        doc["spec"]["endpoints"][0]["interval"] = "15 seconds"
    elif kind == "VMServiceScrape":
        doc["spec"]["endpoint"] = doc["spec"].pop("endpoints")
    elif kind == "PrometheusRule":
        doc["spec"]["groups"][0]["rules"][0]["for"] = 5
    elif kind == "VMRule":
        rule = doc["spec"]["groups"][0]["rules"][0]
        rule["exprr"] = rule.pop("expr")
    else:
        doc["metadata"]["nmae"] = doc["metadata"].pop("name")
    return doc


def self_test(docs):
    """Plants one broken copy of each kind in `docs`; returns (kinds caught, failures)."""
    failures, caught = [], []
    if validate(docs):
        failures.append("the unbroken objects do not validate")
    seen = {}
    for doc in docs:
        seen.setdefault(doc["kind"], doc)
    for kind, doc in sorted(seen.items()):
        broken = _break(copy.deepcopy(doc))
        if validate_one(broken):
            caught.append(kind)
        else:
            failures.append(f"a broken {kind} passed the schema check")
    return caught, failures
