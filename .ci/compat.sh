#!/usr/bin/env bash
# CI: schema compatibility of the working tree against the merge base with `main`.
#
#   bash .ci/compat.sh            # what CI runs (after the build)
#   COMPAT_AGAINST=v1.2 bash .ci/compat.sh   # compare against another revision
#
# The base is `git merge-base HEAD origin/main` (or `main` when there is no origin/main). When
# HEAD is on main itself (the merge base is HEAD) or there is no merge base, the base is HEAD~1;
# with no HEAD~1 either (first commit, shallow clone) the check is skipped with a message.
# Prints the findings as text and, when schemas/ changed, the changelog (`cargo xtask diff`) as
# Markdown; under GitHub Actions also the findings as annotations and the changelog in the job
# summary. Exits with `cargo xtask compat`'s code:
# 0 compatible, 1 incompatible, 2 unknown, 3 usage, git or parse error.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

if ! git rev-parse --git-dir >/dev/null 2>&1; then
    echo "compat: not a git repository: skipped"
    exit 0
fi

head=$(git rev-parse HEAD 2>/dev/null || true)
if [[ -z $head ]]; then
    echo "compat: no commit yet: skipped"
    exit 0
fi

against=${COMPAT_AGAINST:-}
how="COMPAT_AGAINST"
if [[ -z $against ]]; then
    for ref in origin/main main; do
        if git rev-parse --verify --quiet "$ref^{commit}" >/dev/null; then
            base=$(git merge-base HEAD "$ref" 2>/dev/null || true)
            if [[ -n $base && $base != "$head" ]]; then
                against=$base
                how="merge base with $ref"
            fi
            break
        fi
    done
fi
if [[ -z $against ]]; then
    if parent=$(git rev-parse --verify --quiet "HEAD~1^{commit}"); then
        against=$parent
        how="HEAD~1 (HEAD is on main, or no merge base with main)"
    else
        echo "compat: no merge base with main and no HEAD~1 (first commit or shallow clone): skipped"
        echo "  hint: fetch the history (actions/checkout with fetch-depth: 0) to check compatibility"
        exit 0
    fi
fi

echo "compat: schemas/ at ${against:0:12} ($how) -> working tree"
status=0
cargo xtask compat --against "$against" --format text || status=$?

# The reviewer's view: when schemas/ changed, the changelog in words (breaking findings first,
# each with its counterexample, then rollout advice) goes into the log of every CI run.
if [[ $status -ne 3 ]] && ! git diff --quiet "$against" -- schemas; then
    echo
    echo "compat: schema changes since ${against:0:12} (cargo xtask diff --against $against):"
    cargo xtask diff --against "$against" --format markdown || true
fi

if [[ -n ${GITHUB_ACTIONS:-} && $status -ne 3 ]]; then
    cargo xtask compat --against "$against" --format github 2>/dev/null || true
    if [[ -n ${GITHUB_STEP_SUMMARY:-} ]]; then
        cargo xtask diff --against "$against" --format markdown >>"$GITHUB_STEP_SUMMARY" 2>/dev/null || true
    fi
fi

case $status in
    0) echo "compat: compatible" ;;
    1) echo "compat: INCOMPATIBLE: fix the schemas, publish a new event version, or accept the break in compat-allow.json (cargo xtask compat --against $against --suggest-allow --write, then write each reason)" >&2 ;;
    2) echo "compat: UNDECIDED: some change could not be decided; review it and accept it in compat-allow.json if it is safe" >&2 ;;
    *) echo "compat: the check did not run (usage, git or parse error above)" >&2 ;;
esac
exit "$status"
