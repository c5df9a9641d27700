#!/usr/bin/env bash
# Smoke test of the OCI image deploy/image/build-oci.sh writes, without a container engine: the
# image's rootfs (umoci unpack) runs in a chroot as the image's user, on the host's network, against
# a local stack of its own (deploy/local/stack.sh), like the container would in a pod:
#  - the image config: user 65532:65532, entrypoint, the OCI labels; the rootfs has the trust store;
#  - `dbcanary --version` inside shows the revision of the image's label (not "unknown");
#  - HTTPS verified with the system trust store only: the monitoring probe queries the stack's
#    VictoriaMetrics through a TLS front whose CA is not in the store (the run must fail: proves
#    verification happens), then with that CA added by update-ca-certificates (must succeed);
#  - `serve` scrapes green: every dbcanary_probe_success sample is 1.
# Usage: tests/image-smoke.sh LAYOUT:TAG   (root; needs umoci, python3-yaml, openssl, curl)
# Environment: DBCANARY_SMOKE_PORT_BASE (the stack's ports, default 16400; the exporter and
# the TLS front use BASE+90 and BASE+91), DBCANARY_SMOKE_DEADLINE (seconds, default 120).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
image=${1:?usage: tests/image-smoke.sh LAYOUT:TAG}
base=${DBCANARY_SMOKE_PORT_BASE:-16400}
listen_port=$((base + 90))
tls_port=$((base + 91))
deadline=${DBCANARY_SMOKE_DEADLINE:-120}
[ "$(id -u)" -eq 0 ] || { echo "image-smoke: needs root (umoci unpack, chroot)" >&2; exit 2; }
started=$SECONDS
fail() { echo "image-smoke: FAIL: $*" >&2; exit 1; }

work=$(mktemp -d /tmp/dbcanary-image-smoke.XXXXXX)
chmod 0755 "$work"  # the stack's PostgreSQL runs as the postgres user
rootfs=$work/bundle/rootfs
stack_dir=$work/stack
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for m in proc dev; do umount -l "$rootfs/$m" 2>/dev/null || true; done
  DBCANARY_STACK_DIR=$stack_dir "$root/deploy/local/stack.sh" down --purge >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- the image: config and rootfs
umoci unpack --image "$image" "$work/bundle" >/dev/null
python3 - "$work/bundle/config.json" "$image" <<'PY'
import json, sys
runtime = json.load(open(sys.argv[1]))  # the OCI runtime spec umoci derived from the image config
proc = runtime["process"]
errors = []
if (proc["user"]["uid"], proc["user"]["gid"]) != (65532, 65532):
    errors.append(f"user {proc['user']} is not 65532:65532")
if proc["args"][:2] != ["/usr/local/bin/dbcanary", "serve"]:
    errors.append(f"entrypoint/cmd {proc['args']}")
ann = runtime.get("annotations", {})
for k in ("source", "revision", "version", "licenses"):
    if not ann.get(f"org.opencontainers.image.{k}"):
        errors.append(f"label org.opencontainers.image.{k} missing")
if ann.get("org.opencontainers.image.version") != sys.argv[2].rsplit(":", 1)[-1]:
    errors.append("label version differs from the tag")
for e in errors:
    print("image-smoke: FAIL:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
revision=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["annotations"]["org.opencontainers.image.revision"])' "$work/bundle/config.json")
[ -s "$rootfs/etc/ssl/certs/ca-certificates.crt" ] || fail "no system trust store in the image"
grep -q '^nonroot:x:65532:65532:' "$rootfs/etc/passwd" || fail "no passwd entry for 65532"

# What a container runtime provides: /proc, /dev, /etc/hosts.
mount -t proc proc "$rootfs/proc"
mount --bind /dev "$rootfs/dev"
cp /etc/hosts "$rootfs/etc/hosts"
# The environment a runtime gives the container: the image's PATH, HOME from its passwd entry
# (not the caller's: libpq would try to read /root/.postgresql/ and fail on permissions).
in_image() {
  exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/nonexistent \
    "$(command -v chroot)" --userspec=65532:65532 "$rootfs" "$@"
}

version_out=$(in_image /usr/local/bin/dbcanary --version)  # a subshell: exec is fine
echo "image-smoke: --version: $(echo "$version_out" | head -n 1)"
[ "$revision" != unknown ] || fail "the image's revision label is 'unknown'"
grep -qF "$revision" <<<"$version_out" || fail "--version does not show the revision $revision"

# --- the stack, and a TLS front for its VictoriaMetrics (CA unknown to the image so far)
echo "image-smoke: stack up ($stack_dir, ports from $base)"
DBCANARY_STACK_DIR=$stack_dir DBCANARY_STACK_PORT_BASE=$base DBCANARY_LISTEN_PORT=$listen_port \
  "$root/deploy/local/stack.sh" up >"$work/stack-up.log" 2>&1 || { cat "$work/stack-up.log" >&2; fail "stack up"; }
set -a; . "$stack_dir/stack.env"; set +a
vm_url=$(python3 -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["monitoring"][0]["prometheus"]["url"])' "$DBCANARY_STACK_CONFIG")

tls=$work/tls
mkdir -m 0700 "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=dbcanary image smoke CA" \
  -keyout "$tls/ca.key" -out "$tls/ca.crt" -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$tls/server.key" \
  -out "$tls/server.csr" 2>/dev/null
openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
  -days 2 -out "$tls/server.crt" -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') 2>/dev/null
python3 - "$tls_port" "$tls/server.crt" "$tls/server.key" "$vm_url" >"$work/tls-front.log" 2>&1 <<'PY' &
# HTTPS in front of the stack's VictoriaMetrics: forwards GET and POST as they come.
import http.server, ssl, sys, urllib.request
port, cert, key, upstream = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
class Front(http.server.BaseHTTPRequestHandler):
    def forward(self, body=None):
        req = urllib.request.Request(upstream + self.path, data=body, method=self.command)
        if self.headers.get("Content-Type"):
            req.add_header("Content-Type", self.headers["Content-Type"])
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, data, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, data, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        self.forward()
    def do_POST(self):
        self.forward(self.rfile.read(int(self.headers.get("Content-Length", 0))))
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Front)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
PY
pids+=($!)
for _ in $(seq 50); do
  curl -sf --cacert "$tls/ca.crt" -o /dev/null "https://localhost:$tls_port/health" && break
  sleep 0.2
done
curl -sf --cacert "$tls/ca.crt" -o /dev/null "https://localhost:$tls_port/health" ||
  { cat "$work/tls-front.log" >&2; fail "the TLS front does not answer"; }

# --- the stack's config as a pod would mount it: files under /etc/dbcanary owned by 65532, the
# monitoring URL on the TLS front without ca_file (the system store), no host-only probes.
etc=$rootfs/etc/dbcanary
mkdir -p "$etc/config" "$etc/secrets" "$etc/tls"
cp "$DBCANARY_STACK_SECRETS_DIR"/*.password "$etc/secrets/"
cp "$DBCANARY_STACK_CA_CERT" "$etc/tls/ca.crt"
python3 - "$DBCANARY_STACK_CONFIG" "$etc/config/dbcanary.yaml" "$DBCANARY_STACK_SECRETS_DIR" \
  "$DBCANARY_STACK_TLS_DIR" "https://localhost:$tls_port" <<'PY'
import sys, yaml
src, dst, secrets, tls, url = sys.argv[1:]
config = yaml.safe_load(open(src))
def rewrite(node):
    if isinstance(node, dict):
        return {k: rewrite(v) for k, v in node.items()}
    if isinstance(node, list):
        return [rewrite(v) for v in node]
    if isinstance(node, str):
        return node.replace(secrets + "/", "/etc/dbcanary/secrets/").replace(tls + "/", "/etc/dbcanary/tls/")
    return node
config = rewrite(config)
for cluster in config["postgres"]["clusters"]:
    # the backup directory is the host's (owned by the postgres user), not a pod's volume
    cluster["probes"].pop("backup_directory", None)
config["monitoring"][0]["prometheus"]["url"] = url
config["drills"]["reports_dir"] = "/tmp/dbcanary-reports"
yaml.safe_dump(config, open(dst, "w"), sort_keys=False)
PY
chown -R 65532:65532 "$etc"
chmod -R go-rwx "$etc/secrets"

metrics() { curl -sf --max-time 5 "http://127.0.0.1:$listen_port/metrics" || true; }
# Runs serve in the image until every probe has a result (or the deadline); leaves the last
# scrape in $work/metrics.txt.
run_serve() {
  local name=$1
  # exec in the background subshell: $! is the exporter itself, not a shell around it
  (in_image /usr/local/bin/dbcanary serve --config /etc/dbcanary/config/dbcanary.yaml \
    >"$work/serve-$name.log" 2>&1) &
  local pid=$! t0=$SECONDS want
  pids+=("$pid")
  while [ $((SECONDS - t0)) -lt "$deadline" ]; do
    sleep 2
    kill -0 "$pid" 2>/dev/null || { tail -20 "$work/serve-$name.log" >&2; fail "serve ($name) exited"; }
    metrics >"$work/metrics.txt"
    want=$(grep -c '^dbcanary_probe_runs_total{' "$work/metrics.txt" || true)
    [ "$want" -gt 0 ] || continue
    # wait until every probe has a first result; the trusted run also waits while any is 0
    # (a first run can fail for the stack's own reasons, e.g. no scrape in VictoriaMetrics yet)
    [ "$(grep -c '^dbcanary_probe_success{' "$work/metrics.txt" || true)" -ge "$want" ] || continue
    [ "$name" = untrusted ] && break
    grep -q '^dbcanary_probe_success{.*} 0$' "$work/metrics.txt" || break
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
probe_success() { grep "^dbcanary_probe_success{.*probe=\"$1\"" "$work/metrics.txt" | awk '{print $NF}'; }

echo "image-smoke: serve with the TLS front's CA not in the system store (must fail verification)"
run_serve untrusted
[ "$(probe_success monitoring_pipeline)" = 0 ] ||
  fail "monitoring over HTTPS succeeded although its CA is not trusted: $(probe_success monitoring_pipeline)"
grep -q '^dbcanary_probe_failures_total{.*probe="monitoring_pipeline".*reason="tls".*} [1-9]' "$work/metrics.txt" ||
  grep -q '^dbcanary_probe_failures_total{.*reason="tls".*probe="monitoring_pipeline".*} [1-9]' "$work/metrics.txt" ||
  fail "the monitoring probe failed, but not for TLS: $(grep '^dbcanary_probe_failures_total{.*monitoring_pipeline' "$work/metrics.txt" | grep -v ' 0$')"

echo "image-smoke: serve with the CA added to the image's system store"
cp "$tls/ca.crt" "$rootfs/usr/local/share/ca-certificates/dbcanary-smoke.crt"
chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
run_serve trusted
failed=$(grep '^dbcanary_probe_success{' "$work/metrics.txt" | grep -v ' 1$' || true)
total=$(grep -c '^dbcanary_probe_success{' "$work/metrics.txt" || true)
if [ -n "$failed" ] || [ "$total" -eq 0 ]; then
  echo "$failed" >&2
  tail -20 "$work/serve-trusted.log" >&2
  fail "probes not green in the image ($total results)"
fi
[ "$(probe_success monitoring_pipeline)" = 1 ] || fail "no monitoring_pipeline result over HTTPS"
grep -q "^dbcanary_build_info{.*revision=\"$revision\"" "$work/metrics.txt" ||
  fail "dbcanary_build_info does not carry revision $revision"
echo "image-smoke: OK: $total probes green in the image, HTTPS verified with the system store," \
  "revision $revision ($((SECONDS - started)) s)"
