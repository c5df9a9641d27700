#!/usr/bin/env bash
# Photographs every HTML evidence page the integration tests left in the artifacts directory
# (the failover and benchmark drill reports, validate's summary.html) with headless Chromium:
# <page>.png beside each <page>.html, kept by CI as artifacts with the status page's screenshot.
# Usage: tests/screenshots.sh [DIR]   (default build/exporter/artifacts, beside the binary the
# tests ran). Needs Debian's chromium.
set -euo pipefail
dir=${1:-build/exporter/artifacts}
command -v chromium >/dev/null || { echo "screenshots: chromium not installed (Debian: chromium)" >&2; exit 2; }
shopt -s nullglob
pages=("$dir"/*.html)
[ ${#pages[@]} -gt 0 ] || { echo "screenshots: no HTML page in $dir" >&2; exit 1; }
for page in "${pages[@]}"; do
  png=${page%.html}.png
  rm -f "$png"
  profile=$(mktemp -d /tmp/dbcanary-chromium-XXXXXX)
  # Offline and quiet: the pages are self-contained (no script, no external asset).
  timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --user-data-dir="$profile" --hide-scrollbars \
    --window-size=1280,2400 --screenshot="$png" "file://$(realpath "$page")" >/dev/null 2>&1 || true
  rm -rf "$profile"
  [ -s "$png" ] || { echo "screenshots: chromium made no screenshot of $page" >&2; exit 1; }
  echo "screenshots: $png"
done
