//! The long-run fuzzer: `cargo run --release --example fuzz -- TARGET CASES [SEED]` (targets:
//! decode, cloudevents, ingest, schema, compat). Prints the count, time and every failing
//! input (written under `target/fuzz-failures/`); exits 1 when one was found. Runs one worker
//! per core, each from its own seed.

#[path = "../tests/fuzz_support/mod.rs"]
mod fuzz_support;

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: fuzz TARGET CASES [SEED]; targets: decode cloudevents ingest schema compat";
    let target = args.next().unwrap_or_else(|| {
        eprintln!("{usage}");
        std::process::exit(2)
    });
    if !fuzz_support::TARGETS.contains(&target.as_str()) {
        eprintln!("unknown target `{target}`; {usage}");
        std::process::exit(2);
    }
    let cases: u64 = args
        .next()
        .and_then(|c| c.replace('_', "").parse().ok())
        .unwrap_or(100_000);
    let seed: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let workers = std::env::var("FUZZ_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1) as u64;
    // Seeds and examples are read once, before the workers start.
    fuzz_support::Corpus::get();
    let started = std::time::Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let target = target.clone();
            let share = cases / workers + u64::from(w < cases % workers);
            std::thread::spawn(move || fuzz_support::run(&target, share, seed.wrapping_add(w)))
        })
        .collect();
    let mut total = fuzz_support::Stats::default();
    for handle in handles {
        let stats = handle
            .join()
            .expect("a worker does not panic outside a case");
        total.cases += stats.cases;
        total.accepted += stats.accepted;
        total.refused += stats.refused;
        total.slowest = total.slowest.max(stats.slowest);
        total.failures.extend(stats.failures);
    }
    let elapsed = started.elapsed();
    println!(
        "{target}: {} inputs ({} accepted, {} refused) in {:.1?} ({:.0}/s) with {workers} workers from seed {seed}; slowest input {:?}; {} failures",
        total.cases,
        total.accepted,
        total.refused,
        elapsed,
        total.cases as f64 / elapsed.as_secs_f64(),
        total.slowest,
        total.failures.len()
    );
    for (why, path) in &total.failures {
        println!("  {}: {why}", path.display());
    }
    if !total.failures.is_empty() {
        std::process::exit(1);
    }
}
