#!/usr/bin/env bash
# Make headless Chromium and its chromedriver available for the HTML catalog's browser test
# (xtask/tests/docs_browser.rs), idempotently. Both come from Debian's own packages
# (`chromium`, `chromium-driver`), installed with apt-get only when missing; other jobs may hold
# the dpkg lock, so apt waits for it (bounded) instead of failing. Prints the two paths.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "chromium/chromedriver missing, and neither root nor sudo: install the Debian packages chromium and chromium-driver" >&2
            exit 1
        fi
        SUDO=(sudo -n)
    fi
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        --no-install-recommends chromium chromium-driver >/dev/null
fi
command -v chromium
command -v chromedriver
