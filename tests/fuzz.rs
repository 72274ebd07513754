//! The fuzzer's bounded budget, run by `cargo test` (and so by `.ci/run`): a few thousand
//! seeded inputs per entry point that reads outside input, and every kept regression input
//! under `tests/fixtures/fuzz/`. `FUZZ_CASES=n` sets the cases per target; `FUZZ_SEED=n` the
//! seed (default: a new one each run, printed, so a failure can be replayed). The long run
//! is `cargo run --release --example fuzz -- TARGET CASES`.

mod fuzz_support;

use fuzz_support::{cases_from_env, execute, regressions, run};

fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..))
}

fn budget(target: &str, default_cases: u64) {
    let seed = seed();
    let stats = run(target, cases_from_env(default_cases), seed);
    println!(
        "{target}: {} inputs ({} accepted, {} refused) in {:?}, slowest {:?}, seed {seed}",
        stats.cases, stats.accepted, stats.refused, stats.elapsed, stats.slowest
    );
    assert!(
        stats.failures.is_empty(),
        "{target} (FUZZ_SEED={seed}): {} failing inputs:\n{}",
        stats.failures.len(),
        stats
            .failures
            .iter()
            .map(|(why, path)| format!("  {}: {why}", path.display()))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // A target whose every input is refused tests only the refusal path.
    assert!(
        stats.accepted > 0 || stats.cases < 50,
        "{target}: no input was accepted in {} cases",
        stats.cases
    );
}

#[test]
fn fuzz_decode() {
    budget("decode", 3_000);
}

#[test]
fn fuzz_cloudevents() {
    budget("cloudevents", 5_000);
}

#[test]
fn fuzz_ingest() {
    budget("ingest", 1_000);
}

#[test]
fn fuzz_schema() {
    budget("schema", 40);
}

#[test]
fn fuzz_compat() {
    budget("compat", 200);
}

/// Every input that once broke an invariant stays fixed.
#[test]
fn kept_regressions_pass() {
    for (path, case) in regressions() {
        let verdict = std::panic::catch_unwind(|| execute(&case));
        match verdict {
            Ok(Ok(_)) => {}
            Ok(Err(why)) => panic!("{}: {why}", path.display()),
            Err(_) => panic!("{}: panics again", path.display()),
        }
    }
}
