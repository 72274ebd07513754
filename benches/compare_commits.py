#!/usr/bin/env python3
"""Compare one benchmark between two commits: old and new binaries run alternately.

    python3 benches/compare_commits.py --before <rev> --bench <name> [--rounds 7]

Benches: `decode`, `transport_engine` (suite crate), `generate` (codegen), `compat` (xtask).
The "after" side is this checkout as it is; the "before" side is `<rev>` checked out in a
detached git worktree (default `target/bench-compare/<rev>`, or `--before-dir`) with its own
target dir. Both are built with `cargo bench --no-run` (release profile, CARGO_INCREMENTAL=0);
`--bins BEFORE AFTER` skips building and runs two binaries given by path.

The binaries run in interleaved rounds: round 1 before then after, round 2 after then before,
and so on, so that whatever else the (shared, 2-core) machine does at the time, a slow drift or
a burst of other work falls on both sides alike; a ratio of two numbers measured hours apart,
or one side's rounds run back to back, would mostly measure the neighbours. Every figure the
bench prints is parsed per case; the table gives each side's median over the rounds, its spread
(min-max and the interquartile range) and the ratio after/before of the medians. A difference
counts as outside noise only when the two min-max ranges do not overlap (and needs at least
three rounds a side). The figures in
parentheses that benches compute against their own in-process baseline (validated/bare,
binding/raw, generate/parse, vs parse) are the least sensitive to machine load.

Each round's raw output is kept in `--out` (default `target/bench-compare/<bench>-<time>/`)
with the table as `table.md`. `--env KEY=VALUE` is passed to both binaries (e.g.
`COMPAT_BENCH_REPO=/path` so both compat binaries read one catalog).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

# bench name -> cargo package that owns it
PACKAGES = {
    "decode": "event-contracts-suite",
    "transport_engine": "event-contracts-suite",
    "generate": "event-contracts-codegen",
    "compat": "xtask",
}

NUM = r"([0-9]+(?:\.[0-9]+)?)"


def parse(bench, text):
    """Figures of one run: {(case, metric): value}, and {case: input description}.

    Metric names end in the unit; `higher_is_better` says which way is faster."""
    figures, inputs = {}, {}
    if bench == "decode":
        # Two formats: throughputs with one ratio (before issue 15's rounds), and the bare time
        # with each path's median ratio over the bench's own rounds [min–max]. Both give the
        # same figures: the bare and validated time per message and the ratios to bare.
        old_re = re.compile(
            rf"^(?P<case>.+?)\s+(?P<bytes>\d+) B  bare\s+{NUM} msg/s  validated\s+{NUM} msg/s "
            rf"\({NUM}x bare time\)  naive\s+{NUM} msg/s \({NUM}x bare time\)"
        )
        new_re = re.compile(rf"^(?P<case>.+?)\s+(?P<bytes>\d+) B  bare\s+{NUM} ns\s+{NUM} MB/s(?P<rest>.*)$")
        path_re = re.compile(rf"(\w+) {NUM}x \[")
        for line in text.splitlines():
            m = old_re.match(line)
            if m:
                case = m["case"].strip()
                bare, val, val_x, naive, naive_x = (float(m.group(i)) for i in range(3, 8))
                inputs[case] = f"{m['bytes']} B"
                figures[(case, "bare ns/msg")] = 1e9 / bare
                figures[(case, "validated ns/msg")] = 1e9 / val
                figures[(case, "validated/bare time x")] = val_x
                figures[(case, "naive/bare time x")] = naive_x
                continue
            m = new_re.match(line)
            if m:
                case = m["case"].strip()
                bare_ns = float(m.group(3))
                inputs[case] = f"{m['bytes']} B"
                figures[(case, "bare ns/msg")] = bare_ns
                for name, ratio in path_re.findall(m["rest"]):
                    figures[(case, f"{name}/bare time x")] = float(ratio)
                    if name == "validated":
                        figures[(case, "validated ns/msg")] = bare_ns * float(ratio)
    elif bench == "transport_engine":
        # Figures print bare (one median) or with their interquartile range after them.
        SPREAD = r"(?: \[[^\]]*\])?"
        case = "livepeer stream_trace"
        m = re.search(r"messages of (\d+) bytes", text)
        if m:
            inputs[case] = f"{m[1]} B"
        for name, label in (("binding", "binding ns/msg"), ("raw", "raw ns/msg")):
            m = re.search(rf"^\s+{name} \([^)]*\)\s+{NUM}{SPREAD} ns/message", text, re.M)
            if m:
                figures[(case, label)] = float(m[1])
        m = re.search(rf"binding/raw throughput {NUM}{SPREAD}; the engine adds (-?[0-9.]+){SPREAD} ns", text)
        if m:
            figures[(case, "binding/raw throughput x")] = float(m[1])
            figures[(case, "engine overhead ns/msg")] = float(m[2])
        for m in re.finditer(rf"^\s+binding \+ (\w+) \([^)]*\)\s+adds (-?[0-9.]+){SPREAD} ns per message "
                             rf"over the binding \(throughput x{NUM}", text, re.M):
            figures[(case, f"{m[1]} adds ns/msg")] = float(m[2])
    elif bench == "generate":
        case = None
        for line in text.splitlines():
            m = re.match(r"^(\S.*?): (\d+) files, ([0-9.]+) MB in, (\d+) types, ([0-9.]+) MB out", line)
            if m:
                case = m[1]
                inputs[case] = f"{m[2]} files {m[3]} MB, {m[4]} types, {m[5]} MB out"
                continue
            m = re.match(rf"^\s+(parse|check|generate)\s+{NUM} ms", line)
            if m and case:
                figures[(case, f"{m[1]} ms")] = float(m[2])
                continue
            m = re.match(rf"^\s+generate / parse: {NUM}x", line)
            if m and case:
                figures[(case, "generate/parse x")] = float(m[1])
    elif bench == "compat":
        m = re.search(r"^catalog: (\d+) files \((\d+) event schemas\)", text, re.M)
        f = re.search(r"^every-event-changed report: (\d+) findings, (\d+) events", text, re.M)
        if m:
            inputs["catalog"] = f"{m[1]} files, {m[2]} events" + (
                f"; {f[1]} findings" if f else ""
            )
        for line in text.splitlines():
            m = re.match(rf"^(\S.*?)\s+{NUM} ms\s+{NUM}x$", line)
            if m:
                figures[(m[1], "ms")] = float(m[2])
                if not m[1].startswith("baseline: parse both catalogs (with"):
                    figures[(m[1], "vs parse x")] = float(m[3])
    else:
        raise SystemExit(f"unknown bench {bench!r}; one of {', '.join(PACKAGES)}")
    return figures, inputs


def higher_is_better(metric):
    return metric.endswith("msg/s") or metric.startswith("binding/raw throughput")


def build(checkout, bench):
    """Builds the bench in `checkout` with its own target dir; returns the binary's path."""
    env = dict(os.environ, CARGO_INCREMENTAL="0", CARGO_TARGET_DIR=str(checkout / "target"))
    cmd = ["cargo", "bench", "--no-run", "-p", PACKAGES[bench], "--bench", bench,
           "--message-format=json-render-diagnostics"]
    print(f"building {bench} in {checkout}", file=sys.stderr)
    out = subprocess.run(cmd, cwd=checkout, env=env, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {checkout}")
    for line in out.stdout.splitlines():
        msg = json.loads(line)
        if (msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == bench
                and msg.get("executable")):
            return Path(msg["executable"])
    raise SystemExit(f"cargo built no executable for bench {bench} in {checkout}")


def before_checkout(repo, rev, directory):
    if directory.exists():
        head = subprocess.run(["git", "-C", str(directory), "rev-parse", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        want = subprocess.run(["git", "-C", str(repo), "rev-parse", rev + "^{commit}"],
                              capture_output=True, text=True, check=True).stdout.strip()
        if head != want:
            raise SystemExit(f"{directory} is at {head[:10]}, not {rev} ({want[:10]})")
        return directory
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(directory), rev],
                   check=True)
    return directory


def spread(values):
    values = sorted(values)
    if len(values) >= 4:
        q = statistics.quantiles(values, n=4, method="inclusive")
        iqr = (q[0], q[2])
    else:
        iqr = (values[0], values[-1])
    return statistics.median(values), values[0], values[-1], iqr


def fmt(x):
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}" if x < 1 else f"{x:.2f}"


def table(bench, rounds_before, rounds_after, inputs_before, inputs_after):
    keys = []
    for run in rounds_before + rounds_after:
        for k in run:
            if k not in keys:
                keys.append(k)
    lines = [
        "| bench | case | figure | before median | after median | after/before | "
        "before min–max (IQR) | after min–max (IQR) | rounds | verdict |",
        "|---|---|---|---:|---:|---:|---|---|---|---|",
    ]
    for case, metric in keys:
        b = [r[(case, metric)] for r in rounds_before if (case, metric) in r]
        a = [r[(case, metric)] for r in rounds_after if (case, metric) in r]
        if not b or not a:
            lines.append(f"| {bench} | {case} | {metric} | {'–' if not b else fmt(spread(b)[0])} "
                         f"| {'–' if not a else fmt(spread(a)[0])} | not comparable | | | "
                         f"{len(b)}/{len(a)} | only one side prints it |")
            continue
        bm, bmin, bmax, biqr = spread(b)
        am, amin, amax, aiqr = spread(a)
        ratio = am / bm if bm else float("nan")
        if min(len(a), len(b)) < 3:
            # One or two runs a side say nothing about the spread: an A/A run of one binary
            # against itself on the loaded machine differed fourfold in a single round.
            verdict = "too few rounds"
        elif amin > bmax or amax < bmin:
            faster = (am > bm) == higher_is_better(metric)
            verdict = "**faster**" if faster else "**slower**"
        else:
            verdict = "within noise"
        lines.append(
            f"| {bench} | {case} | {metric} | {fmt(bm)} | {fmt(am)} | {ratio:.3f} | "
            f"{fmt(bmin)}–{fmt(bmax)} ({fmt(biqr[0])}–{fmt(biqr[1])}) | "
            f"{fmt(amin)}–{fmt(amax)} ({fmt(aiqr[0])}–{fmt(aiqr[1])}) | "
            f"{len(b)}+{len(a)} | {verdict} |"
        )
    notes = []
    for case in sorted(set(inputs_before) | set(inputs_after)):
        ib, ia = inputs_before.get(case), inputs_after.get(case)
        if ib != ia:
            notes.append(f"- input differs for `{case}`: before {ib}, after {ia}")
    return "\n".join(lines) + ("\n\n" + "\n".join(notes) if notes else "") + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", required=True, choices=sorted(PACKAGES))
    ap.add_argument("--before", help="git revision of the before side")
    ap.add_argument("--before-dir", type=Path, help="worktree for --before")
    ap.add_argument("--bins", nargs=2, type=Path, metavar=("BEFORE", "AFTER"),
                    help="run these two binaries instead of building")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    repo = Path(__file__).resolve().parent.parent
    if args.bins:
        before_bin, after_bin = args.bins
    else:
        if not args.before:
            ap.error("--before REV (or --bins BEFORE AFTER) is required")
        directory = args.before_dir or repo / "target" / "bench-compare" / args.before
        before_bin = build(before_checkout(repo, args.before, directory.resolve()), args.bench)
        after_bin = build(repo, args.bench)

    env = dict(os.environ)
    for kv in args.env:
        key, _, value = kv.partition("=")
        env[key] = value
    out = args.out or repo / "target" / "bench-compare" / f"{args.bench}-{time.strftime('%Y%m%dT%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "binaries.txt").write_text(f"before {before_bin}\nafter {after_bin}\n")

    runs = {"before": [], "after": []}
    inputs = {"before": {}, "after": {}}
    for i in range(args.rounds):
        order = ("before", "after") if i % 2 == 0 else ("after", "before")
        for side in order:
            binary = before_bin if side == "before" else after_bin
            t = time.time()
            # `--bench` as cargo bench passes it (decode runs its full budget only then).
            proc = subprocess.run([str(binary), "--bench"], env=env, capture_output=True, text=True)
            (out / f"round{i + 1}-{side}.txt").write_text(proc.stdout + proc.stderr)
            if proc.returncode != 0:
                raise SystemExit(f"{binary} failed (exit {proc.returncode}); see {out}")
            figures, ins = parse(args.bench, proc.stdout)
            if not figures:
                raise SystemExit(f"no figures parsed from {binary}'s output; see {out}")
            runs[side].append(figures)
            inputs[side].update(ins)
            print(f"round {i + 1}/{args.rounds} {side}: {time.time() - t:.1f} s", file=sys.stderr)

    result = table(args.bench, runs["before"], runs["after"], inputs["before"], inputs["after"])
    (out / "table.md").write_text(result)
    print(result)
    print(f"raw output: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
