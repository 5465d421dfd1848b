//! Tier projection benchmark (issue 16): rebuilds the establishments read model from a log of
//! establishments (registration, a bandwidth measure, attestations), the same log as the API's
//! `establishments` bench; beside it the lean read alone and the fold alone over pages already
//! in memory, which tell whether reading or folding bounds the rebuild.
//!
//! Run: `cargo bench -p palier-projections --bench tiers` (PALIER_BENCH_ESTABLISHMENTS, default
//! 10,000, with 20 events each; PALIER_BENCH_EXTRA_FOLDS folds that many more times, for a
//! profiler). Prints a Markdown table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Instant;

use palier_projections::establishments::Establishments;
use palier_projections::{Projection, rebuild};
use palier_store::{EventStore, FoldPage};
use support::{env_u64, lean_pages, runtime};

/// Events per second of the best of 5 runs.
fn best_of_5(total: u64, mut run: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            run();
            total as f64 / start.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

fn main() {
    let count = env_u64("PALIER_BENCH_ESTABLISHMENTS", 10_000) as u32;
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = runtime.block_on(support::establishments(dir.path(), count, 20));
    let total = runtime.block_on(store.head()).unwrap().unwrap().position;
    // Models are kept until the end, so that their drop is not timed (a server never drops
    // its model; the API's bench times `rebuild` the same way).
    let mut kept = Vec::new();
    let rebuilt = best_of_5(total, || {
        let model = runtime.block_on(async {
            let (model, last) = rebuild(&store, Establishments::default(), None)
                .await
                .unwrap();
            assert_eq!(last, total);
            model
        });
        assert_eq!(model.count() as u32, count);
        kept.push(model);
    });
    let mut pages: Vec<FoldPage> = Vec::new();
    let read = best_of_5(total, || {
        pages = runtime.block_on(lean_pages(&store));
    });
    // For a profiler: fold the pages this many more times, alone.
    for _ in 0..env_u64("PALIER_BENCH_EXTRA_FOLDS", 0) {
        let mut model = Establishments::default();
        for page in &pages {
            for event in page.iter() {
                model.apply(event);
            }
        }
    }
    let folded = best_of_5(total, || {
        let mut model = Establishments::default();
        for page in &pages {
            for event in page.iter() {
                model.apply(event);
            }
        }
        assert_eq!(model.count() as u32, count);
        kept.push(model);
    });
    println!("| benchmark ({total} events, {count} establishments) | events/s | time | aim |");
    println!("|---|---:|---:|---|");
    let row = |name: &str, rate: f64, aim: &str| {
        println!(
            "| {name} | {rate:.0} | {:.0} ms | {aim} |",
            total as f64 / rate * 1e3
        );
    };
    row(
        "tier projection rebuild from the log",
        rebuilt,
        "≥ 1,000,000 events/s",
    );
    row(
        "the lean read alone (`read_all_for_fold`, pages of 4096)",
        read,
        "",
    );
    row("the fold alone, events already in memory", folded, "");
}
