#!/usr/bin/env bash
# The two image builds install one package list: deploy/Dockerfile's runtime stage and
# deploy/image/build-oci.sh both read deploy/image/runtime-packages.txt. Fails when either
# carries a list of its own, or when what they would install differs; prints the list (minus
# ca-certificates, which nothing links) for tests/check-deploy.sh's ldd comparison.
# Usage: tests/check-image-packages.sh [DOCKERFILE]   (default deploy/Dockerfile; a test plants
# a broken copy to show the check fails)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
df=${1:-$root/deploy/Dockerfile}
list=deploy/image/runtime-packages.txt
fail() { echo "check-image-packages: $*" >&2; exit 1; }

runtime_stage=$(sed -n '/^FROM debian:bookworm-slim/,$p' "$df")
[ -n "$runtime_stage" ] || fail "$df has no debian:bookworm-slim runtime stage"
copy_dest=$(sed -n "s#^COPY $list \(/[^ ]*\)\$#\1#p" <<<"$runtime_stage")
[ -n "$copy_dest" ] || fail "$df's runtime stage does not COPY $list"
# The Dockerfile's install: the RUN (continuation lines joined) that pipes the copied list into
# apt-get install. Its parse of the list is taken from the Dockerfile and run here on the file.
run=$(sed -e ':a' -e '/\\$/{N;s/\\\n/ /;ba' -e '}' <<<"$runtime_stage" |
  grep "^RUN .*$copy_dest.*apt-get install" || true)
[ -n "$run" ] || fail "$df installs nothing from $copy_dest"
parse=$(grep -o "sed '[^']*' $copy_dest" <<<"$run" | head -n 1 || true)
[ -n "$parse" ] || fail "$df reads $copy_dest other than with sed"
grep -q "xargs apt-get install" <<<"$run" || fail "$df does not pass $copy_dest to apt-get install"
# words after `apt-get install` that are not options: a second, inline list
args=${run#*apt-get install}
inline=$(tr ' ' '\n' <<<"${args%%&&*}" | grep -E '^[a-z0-9]' || true)
[ -z "$inline" ] || fail "$df's runtime stage installs packages of its own: $(echo $inline)"
[ "$(grep -c 'apt-get install' <<<"$runtime_stage")" -eq 1 ] ||
  fail "$df's runtime stage runs apt-get install more than once"
dockerfile_pkgs=$(eval "${parse/$copy_dest/$root/$list}" | tr -s ' \t' '\n\n' | grep . | sort -u)
script_pkgs=$("$root/deploy/image/build-oci.sh" --print-packages | sort -u)
if [ "$dockerfile_pkgs" != "$script_pkgs" ]; then
  echo "check-image-packages: $df and deploy/image/build-oci.sh install different packages (< Dockerfile, > script):" >&2
  diff <(echo "$dockerfile_pkgs") <(echo "$script_pkgs") >&2 || true
  exit 1
fi
grep -qx ca-certificates <<<"$script_pkgs" || fail "$list lacks ca-certificates (the system trust store)"
grep -vx ca-certificates <<<"$script_pkgs"
