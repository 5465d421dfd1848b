//! Projection rebuild benchmark: folds a log of knowledge-element events into the persons
//! read model, against the store's own `read_all` over the same log (the ceiling).
//!
//! The rebuild reads the lean way (`read_all_for_fold`: only the columns a fold uses, into
//! one buffer per page); two more lines time that read alone and the fold alone over pages
//! already in memory, which tells whether reading or folding bounds the rebuild.
//!
//! Run: `cargo bench -p palier-projections --bench rebuild` (PALIER_BENCH_EVENTS, default
//! 1,000,000; PALIER_BENCH_PERSONS, default 10,000). Prints a Markdown table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Instant;

use palier_projections::persons::Persons;
use palier_projections::rebuild;
use palier_store::{EventFilter, EventStore, SqliteOptions, SqliteStore};

use support::env_u64;

fn best_of_3(mut run: impl FnMut() -> f64) -> f64 {
    (0..3).map(|_| run()).fold(0.0, f64::max)
}

fn main() {
    let events = env_u64("PALIER_BENCH_EVENTS", 1_000_000);
    let persons = env_u64("PALIER_BENCH_PERSONS", 10_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = runtime
        .block_on(SqliteStore::open(
            dir.path().join("events.db"),
            SqliteOptions::default(),
        ))
        .unwrap();
    eprintln!("filling {events} events for {persons} persons ...");
    runtime
        .block_on(palier_projections::workload::knowledge_elements(
            &store, "0750655E", events, persons,
        ))
        .unwrap();
    let total = runtime.block_on(store.head()).unwrap().unwrap().position;
    let read_all = best_of_3(|| {
        runtime.block_on(async {
            let start = Instant::now();
            let (mut next, mut n) = (1, 0u64);
            loop {
                let slice = store
                    .read_all(next, &EventFilter::all(), 4096)
                    .await
                    .unwrap();
                n += slice.events.len() as u64;
                next = slice.scanned_to + 1;
                if slice.is_end {
                    break;
                }
            }
            n as f64 / start.elapsed().as_secs_f64()
        })
    });
    let folded = best_of_3(|| {
        runtime.block_on(async {
            let start = Instant::now();
            let (persons_model, last) = rebuild(&store, Persons::default(), None).await.unwrap();
            assert_eq!(last, total);
            assert_eq!(persons_model.count() as u64, persons);
            total as f64 / start.elapsed().as_secs_f64()
        })
    });
    // The lean read alone, keeping the pages for the fold-alone line.
    let mut pages: Vec<palier_store::FoldPage> = Vec::new();
    let lean_read = best_of_3(|| {
        let start = Instant::now();
        pages = runtime.block_on(support::lean_pages(&store));
        let n: usize = pages.iter().map(palier_store::FoldPage::len).sum();
        n as f64 / start.elapsed().as_secs_f64()
    });
    let fold_only = best_of_3(|| {
        use palier_projections::Projection;
        let start = Instant::now();
        let mut model = Persons::default();
        for page in &pages {
            for event in page.iter() {
                model.apply(event);
            }
        }
        total as f64 / start.elapsed().as_secs_f64()
    });
    println!("| benchmark | palier (events/s) | ceiling (events/s) | ratio | aim |");
    println!("|---|---:|---:|---:|---|");
    println!(
        "| persons projection rebuild over {total} events ({persons} persons) | {folded:.0} | {read_all:.0} | {:.2}× | ≥ 1,500,000 events/s |",
        folded / read_all
    );
    println!(
        "| the lean read alone (`read_all_for_fold`, pages of 4096) | {lean_read:.0} | {read_all:.0} | {:.2}× | |",
        lean_read / read_all
    );
    println!("| the fold alone, events already in memory | {fold_only:.0} | | | |");
}
