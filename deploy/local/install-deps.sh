#!/usr/bin/env bash
# Installs every Debian 12 package dbcanary needs to build, test and run its local stack.
# Idempotent; skips apt entirely when everything is already installed.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config git
  libpq-dev libhiredis-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libcivetweb-dev civetweb libgtest-dev libgmock-dev libssl-dev
  libcurl4-openssl-dev nlohmann-json3-dev prometheus-cpp-dev
  libcrypt-dev  # bcrypt for --web.config.file basic_auth_users (libxcrypt's crypt_rn)
  clang libclang-rt-14-dev  # tests/fuzz/run.sh: libFuzzer and the sanitizer runtimes for clang
  clang-format clang-tidy  # tests/check-format.sh, tests/check-tidy.sh (version 14 in Debian 12)
  # local platform stack and the tests' real servers
  postgresql-15 postgresql-client-15 pgbouncer redis-server redis-tools openssl
  prometheus victoria-metrics prometheus-alertmanager  # amtool checks alerts/alertmanager.example.yml
  # tools the tests and benchmarks use
  curl procps psmisc locales wrk prometheus-postgres-exporter prometheus-redis-exporter
  chromium  # the status page test loads / headless and takes a phone-size screenshot
  python3-yaml  # alerts/generate.py, tests/check-deploy.sh
  mmdebstrap umoci  # deploy/image/build-oci.sh and tests/image-smoke.sh: the OCI image without Docker
)
# tests/check-deploy.sh renders the kustomize files with `kubectl kustomize`. Debian's
# kubernetes-client only when no kubectl is installed: its kustomize (v2) predates components,
# and check-deploy needs kubectl >= 1.21 (kustomize >= v4).
command -v kubectl >/dev/null || packages+=(kubernetes-client)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
# Debian's server packages would try to start services; these machines have no systemd
# and the stack starts its own instances, so refuse service starts during install.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod +x "$policy"
  trap '"${sudo_cmd[@]}" rm -f "$policy"' EXIT
fi
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
# The locale test checks numbers stay "0.5" under a comma-decimal locale.
if ! locale -a 2>/dev/null | grep -qi '^de_DE.utf8$'; then
  "${sudo_cmd[@]}" sed -i 's/^# *de_DE.UTF-8 UTF-8/de_DE.UTF-8 UTF-8/' /etc/locale.gen
  "${sudo_cmd[@]}" locale-gen >/dev/null
fi
echo "install-deps: done"
