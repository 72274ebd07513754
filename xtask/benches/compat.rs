//! Whole-catalog compatibility check time against baselines measured in the same process.
//!
//! ```sh
//! cargo bench -p xtask --bench compat            # against HEAD
//! COMPAT_BENCH_REV=main cargo bench -p xtask --bench compat
//! COMPAT_BENCH_REPO=/other/checkout COMPAT_BENCH_ITERATIONS=20 cargo bench -p xtask --bench compat
//! ```
//!
//! Baselines: reading both catalogs (git at the revision + the working tree), and parsing
//! both (serde_json, then with the line:column map the findings need). Checks: the working
//! tree against the revision as it is, against a catalog where every event schema changed
//! (one optional property added everywhere, one required property added to every other event,
//! so half the events break and need a counterexample), and the whole `compat --against` command
//! (git, check, allow-list, text rendering) in process. Prints the median in ms and the ratio
//! to the parse baseline.

use std::hint::black_box;
use std::time::{Duration, Instant};

use event_contracts_codegen::source::SourceFile;
use event_contracts_compat as engine;
use serde_json::Value;
use xtask::compat::{self, ModeArg, SemanticsArg};

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time<T>(iterations: usize, mut f: impl FnMut() -> T) -> Duration {
    black_box(f()); // warm up
    median(
        (0..iterations)
            .map(|_| {
                let t = Instant::now();
                black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

/// Every event schema changed: `bench_extra` (optional) everywhere, `bench_required` required
/// in every other event file.
fn mutate(files: &[(String, String)]) -> Vec<(String, String)> {
    let mut n = 0;
    files
        .iter()
        .map(|(path, text)| {
            if !path.contains("/events/") {
                return (path.clone(), text.clone());
            }
            let Ok(mut v) = serde_json::from_str::<Value>(text) else {
                return (path.clone(), text.clone());
            };
            if let Some(props) = v.get_mut("properties").and_then(Value::as_object_mut) {
                props.insert(
                    "bench_extra".into(),
                    serde_json::json!({ "type": "string", "maxLength": 64 }),
                );
                n += 1;
                if n % 2 == 0 {
                    props.insert(
                        "bench_required".into(),
                        serde_json::json!({ "type": "integer" }),
                    );
                    match v.get_mut("required").and_then(Value::as_array_mut) {
                        Some(req) => req.push("bench_required".into()),
                        None => {
                            v["required"] = serde_json::json!(["bench_required"]);
                        }
                    }
                }
            }
            let mut out = serde_json::to_string_pretty(&v).expect("JSON serializes");
            out.push('\n');
            (path.clone(), out)
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let root = std::env::var_os("COMPAT_BENCH_REPO")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(compat::workspace_root);
    let rev = std::env::var("COMPAT_BENCH_REV").unwrap_or_else(|_| "HEAD".into());
    let iterations: usize = std::env::var("COMPAT_BENCH_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);

    let loaded = match compat::load(&root, &rev, None, "schemas-v*") {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bench: cannot read the catalogs: {e:#}");
            std::process::exit(1);
        }
    };
    let (old, new) = (&loaded.old, &loaded.new);
    let changed = mutate(old);
    let options = compat::options(SemanticsArg::Generated, None);
    let events: usize = old.iter().filter(|(p, _)| p.contains("/events/")).count();
    println!(
        "catalog: {} files ({events} event schemas) at {} ({}), {} in the working tree; median of {iterations} runs",
        old.len(),
        loaded.rev.name,
        loaded.rev.short(),
        new.len()
    );

    let read = time(iterations, || {
        compat::load(&root, &rev, None, "schemas-v*").expect("loads")
    });
    let parse_json = time(iterations * 3, || {
        old.iter()
            .chain(new.iter())
            .filter(|(_, t)| serde_json::from_str::<Value>(t).is_ok())
            .count()
    });
    let parse_located = time(iterations * 3, || {
        old.iter()
            .chain(new.iter())
            .filter(|(p, t)| SourceFile::parse(p.clone(), t.clone()).is_ok())
            .count()
    });
    let check = |new: &[(String, String)]| {
        let r = engine::check_catalogs(old, new, &loaded.history, &options);
        if let Err(e) = &r {
            eprintln!("bench: the check failed: {e}");
            std::process::exit(1);
        }
        r
    };
    let check_tree = time(iterations, || check(new));
    let check_all = time(iterations, || check(&changed));
    let full_report = check(&changed).expect("checked");
    let render = time(iterations, || {
        engine::render::text(&full_report).len() + engine::render::markdown(&full_report).len()
    });
    let root_arg = root.display().to_string();
    let command = time(iterations, || {
        compat::run_cli(["--repo", &root_arg, "--against", &rev, "--no-allow"]).code
    });
    let full = time(iterations, || {
        engine::check_catalogs(
            old,
            &changed,
            &loaded.history,
            &compat::options(SemanticsArg::Generated, Some(ModeArg::Full)),
        )
        .map(|r| r.findings.len())
        .ok()
    });

    // Three earlier releases (copies of the revision: the engine checks each one).
    let history: Vec<(String, Vec<(String, String)>)> = (1..=3)
        .map(|i| (format!("schemas-v{i}"), old.clone()))
        .collect();
    let transitive = time(iterations, || {
        engine::check_catalogs(
            old,
            &changed,
            &history,
            &compat::options(SemanticsArg::Generated, Some(ModeArg::FullTransitive)),
        )
        .map(|r| r.findings.len())
        .ok()
    });

    let base = parse_located;
    let row = |name: &str, d: Duration| {
        println!(
            "{name:<58} {:>9.2} ms {:>8.1}x",
            ms(d),
            ms(d) / ms(base).max(1e-9)
        );
    };
    println!("{:<58} {:>12} {:>9}", "", "median", "vs parse");
    row(
        "baseline: read both catalogs (git cat-file + working tree)",
        read,
    );
    row(
        "baseline: parse both catalogs (serde_json only)",
        parse_json,
    );
    row(
        "baseline: parse both catalogs (with line:col map)",
        parse_located,
    );
    row("check_catalogs: working tree vs rev", check_tree);
    row(
        "check_catalogs: every event changed (half breaking)",
        check_all,
    );
    row("check_catalogs: every event changed, --mode full", full);
    row(
        "check_catalogs: every event changed, FULL_TRANSITIVE x3",
        transitive,
    );
    row("render text + markdown (every event changed)", render);
    row(
        "`compat --against REV` in process (read+check+render)",
        command,
    );
    println!(
        "every-event-changed report: {} findings, {} events",
        full_report.findings.len(),
        full_report.events.len()
    );
}
