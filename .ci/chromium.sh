#!/usr/bin/env bash
# Make headless Chromium and its chromedriver available for the HTML catalog's browser test
# (xtask/tests/docs_browser.rs), idempotently. Both come from Debian's own packages
# (`chromium`, `chromium-driver`), installed with apt-get only when missing; other jobs may hold
# the dpkg lock, so apt waits for it (bounded) instead of failing. Prints the two paths.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "chromium/chromedriver missing and not root: run as root or install the Debian packages chromium and chromium-driver" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi
command -v chromium
command -v chromedriver
