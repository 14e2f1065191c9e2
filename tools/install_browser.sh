#!/usr/bin/env bash
# Install Debian's Chromium for the browser test (tests/test_browser.py), if it is missing.
# Playwright drives it through executable_path; `playwright install` is never run (it would
# download a browser of its own). Without root or sudo this only says what to do, and the
# browser test skips itself outside CI.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "chromium is not installed and this user cannot install it:" >&2
    echo "  sudo apt-get install -y chromium   (the browser test is skipped until then)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
chromium --version
