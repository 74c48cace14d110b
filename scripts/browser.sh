#!/usr/bin/env bash
# The page's browser tests need a Chromium: Debian's package (Playwright cannot download its
# own browsers here, and does not need to: the tests pass executable_path). Installed when
# missing and this runs as root (CI does); otherwise it says what to run, and the browser
# tests are skipped outside CI.
set -euo pipefail
CHROMIUM=${IMPORTER_CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the page's browser tests (once)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
  exit 0
fi
echo "note: no Chromium at $CHROMIUM: the page's browser tests will be skipped." >&2
echo "      install it with: sudo apt-get install chromium   (or set IMPORTER_CHROMIUM)" >&2
