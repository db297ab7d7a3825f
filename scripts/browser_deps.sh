#!/usr/bin/env bash
# Installs what the end-to-end browser test of the describe page needs: Debian's chromium, Node.js with npm, and
# playwright-core (drives the browser) and axe-core (the accessibility checks), both pinned by
# tests/browser/package-lock.json, under tests/browser/node_modules. After this, configuring the build adds the
# ctest entry "browser_describe_page" (label browser).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for p in chromium nodejs npm; do
  command -v "$([ "$p" = nodejs ] && echo node || echo "$p")" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "libnn: installing ${missing[*]} for the browser test" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
  else
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
  fi
fi
(cd tests/browser && npm ci --no-audit --no-fund >&2)
