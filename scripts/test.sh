#!/usr/bin/env bash
# Install what the tests need (Python packages, Debian's Chromium when missing, axe-core), then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -r requirements-test.txt
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver
fi
# axe-core, which the browser tests inject into pages to check accessibility (pinned in tests/e2e/package.json)
(cd tests/e2e && npm ci --no-audit --no-fund --silent)
python -m pytest "$@"
