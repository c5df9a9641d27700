#!/usr/bin/env bash
# Builds the dbcanary image without a Docker engine: a Debian bookworm root filesystem from
# mmdebstrap (variant apt, like bookworm-slim) with the packages of runtime-packages.txt (the same
# list deploy/Dockerfile installs), the Release binary in /usr/local/bin, uid/gid 65532, written by
# umoci as one layer into an OCI image layout, with the OCI labels and the Dockerfile's
# entrypoint, user and port. tests/image-smoke.sh runs it against the local stack.
#
# Usage: deploy/image/build-oci.sh [--binary PATH] [--out DIR] [--mirror URL] | --print-packages
#   --binary PATH   use this built binary instead of building one (it must report the source
#                   tree's revision); default: a Release build of the dbcanary target in
#                   DIR/build-release, configured with -DDBCANARY_REVISION
#   --out DIR       output directory (default build-image); the layout is DIR/oci, tag = version
#   --mirror URL    Debian mirror (default: mmdebstrap's, deb.debian.org)
#   --print-packages  print the packages the image gets, one a line, and exit
# Needs root (mmdebstrap root mode; umoci keeps the files' owners), mmdebstrap and umoci
# (Debian 12 packages), network access to the mirror. Prints DIR/oci:TAG on its last line.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
packages_file="$root/deploy/image/runtime-packages.txt"
out="$root/build-image"
binary=""
mirror=""
source_url="https://github.com/dbcanary/dbcanary"
# The repository carries no licence file yet: SPDX "NOASSERTION" until it does.
licenses="NOASSERTION"

# The one parser of runtime-packages.txt (the Dockerfile's RUN does the same: strip comments).
runtime_packages() { sed 's/#.*//' "$packages_file" | tr -s ' \t' '\n\n' | grep .; }

while [ $# -gt 0 ]; do
  case $1 in
    --binary) binary=$(realpath "$2"); shift 2 ;;
    --out) out=$(realpath -m "$2"); shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    --print-packages) runtime_packages; exit 0 ;;
    *) echo "build-oci: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "build-oci: needs root (mmdebstrap, umoci)" >&2; exit 2; }
for tool in mmdebstrap umoci; do
  command -v "$tool" >/dev/null || { echo "build-oci: $tool missing (Debian: apt-get install $tool)" >&2; exit 2; }
done
started=$SECONDS

version=$(sed -n 's/^project(dbcanary VERSION \([0-9.]*\) .*/\1/p' "$root/CMakeLists.txt")
[ -n "$version" ] || { echo "build-oci: no version in CMakeLists.txt" >&2; exit 1; }
# Same order as CMakeLists.txt: the git checkout, else a REVISION file (a source tarball).
revision=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || head -n 1 "$root/REVISION" 2>/dev/null || true)
[ -n "$revision" ] || { echo "build-oci: no revision (neither git nor a REVISION file)" >&2; exit 1; }
# Reproducible file times: the commit's time when there is one.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

mkdir -p "$out"
if [ -z "$binary" ]; then
  cmake -S "$root" -B "$out/build-release" -DCMAKE_BUILD_TYPE=Release -DDBCANARY_BUILD_TESTS=OFF \
    -DDBCANARY_WERROR=ON -DDBCANARY_REVISION="$revision" 2>&1 | tee "$out/build-release.log" >&2
  # The log is kept: CI fails on any warning in it (tests/run-all.sh).
  cmake --build "$out/build-release" -j"$(nproc)" --target dbcanary 2>&1 | tee -a "$out/build-release.log" >&2
  binary="$out/build-release/exporter/dbcanary"
fi
"$binary" --version | grep -qF "$revision" || {
  echo "build-oci: $binary reports '$("$binary" --version | head -n 1)', not revision $revision" >&2
  exit 1
}
staging="$out/staging"
rm -rf "$staging" && mkdir -p "$staging"
install -m 0755 "$binary" "$staging/dbcanary"
strip "$staging/dbcanary"

echo "build-oci: root filesystem (mmdebstrap bookworm, $(runtime_packages | wc -l) packages)"
# The path excludes are bookworm-slim's (/etc/dpkg/dpkg.cfg.d/docker): no docs, man pages, locales.
mmdebstrap --variant=apt --mode=root --format=tar \
  --include="$(runtime_packages | paste -sd, -)" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --customize-hook="copy-in $staging/dbcanary /usr/local/bin" \
  --customize-hook='echo "nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin" >>"$1/etc/passwd"' \
  --customize-hook='echo "nonroot:x:65532:" >>"$1/etc/group"' \
  --customize-hook='rm -f "$1/etc/hostname" "$1/etc/resolv.conf"' \
  bookworm "$staging/rootfs.tar" ${mirror:+"$mirror"}

echo "build-oci: OCI layout $out/oci:$version"
rm -rf "$out/oci"
umoci init --layout "$out/oci"
umoci new --image "$out/oci:$version"
umoci raw add-layer --image "$out/oci:$version" --history.created "$created" \
  --history.created_by "deploy/image/build-oci.sh (mmdebstrap bookworm + dbcanary $revision)" \
  "$staging/rootfs.tar"
labels=(
  "org.opencontainers.image.title=dbcanary"
  "org.opencontainers.image.source=$source_url"
  "org.opencontainers.image.revision=$revision"
  "org.opencontainers.image.version=$version"
  "org.opencontainers.image.licenses=$licenses"
  "org.opencontainers.image.created=$created"
)
label_args=()
for l in "${labels[@]}"; do label_args+=(--config.label "$l" --manifest.annotation "$l"); done
umoci config --image "$out/oci:$version" --created "$created" --no-history \
  --config.user 65532:65532 --config.workingdir / \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.entrypoint /usr/local/bin/dbcanary \
  --config.cmd serve --config.cmd=--config --config.cmd /etc/dbcanary/config/dbcanary.yaml \
  --config.exposedports 9750/tcp "${label_args[@]}"
umoci gc --layout "$out/oci"
rm -rf "$staging"
echo "build-oci: done in $((SECONDS - started)) s, $(du -sh "$out/oci" | cut -f1) (layout)"
echo "$out/oci:$version"
