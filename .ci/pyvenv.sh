#!/usr/bin/env bash
# A Python venv under target/ holding exactly the pinned PyPI packages a check needs:
#
#   bash .ci/pyvenv.sh target/NAME-venv PKG==VERSION...
#
# Prints the venv's directory (absolute) on stdout. Idempotent: a venv that already has every
# pin is reused as it is; otherwise it is made anew. Concurrent callers wait for each other
# (flock). Fails loudly, with the end of pip's log, when an install fails.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -lt 2 ]]; then
    echo "usage: bash .ci/pyvenv.sh target/NAME-venv PKG==VERSION..." >&2
    exit 2
fi
venv=$1
shift
case $venv in
    target/*) ;;
    *) echo "pyvenv: $venv is not under target/" >&2; exit 2 ;;
esac
for spec in "$@"; do
    if [[ $spec != *==* ]]; then
        echo "pyvenv: $spec is not pinned: write NAME==VERSION" >&2
        exit 2
    fi
done
venv=$PWD/$venv
mkdir -p "$(dirname "$venv")"

# Whether every NAME==VERSION is installed in the venv (names compared as pip normalises them).
has_pins() {
    [[ -x $venv/bin/python ]] || return 1
    "$venv/bin/python" - "$@" <<'EOF' 2>/dev/null
import sys
from importlib import metadata
for spec in sys.argv[1:]:
    name, version = spec.split("==", 1)
    try:
        if metadata.version(name) != version:
            sys.exit(1)
    except metadata.PackageNotFoundError:
        sys.exit(1)
EOF
}

exec 9>"$venv.lock"
flock 9
if ! has_pins "$@"; then
    log=$venv.install.log
    rm -rf "$venv"
    if ! { python3 -m venv "$venv" &&
        "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"; } >"$log" 2>&1; then
        echo "pyvenv: could not install $* into $venv" >&2
        echo "--- last 30 lines of $log ---" >&2
        tail -n 30 "$log" >&2 || true
        exit 1
    fi
    has_pins "$@" || { echo "pyvenv: $venv does not have $* after installing them" >&2; exit 1; }
fi
echo "$venv"
