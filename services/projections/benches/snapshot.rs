//! Restart benchmark (issue 16): how long the server's read models (persons, establishments,
//! maintenance, API keys) take to be caught up with a store of a million events, rebuilt from
//! the log (cold) against restored from their snapshots; then restored from snapshots taken
//! `PALIER_BENCH_AFTER` events before the head (the most a restart folds with snapshots every
//! that many events).
//!
//! Each start opens the store anew on a runtime of its own, dropped afterwards, as a process
//! restart would. The log is seeded through the store directly: establishments first (20
//! events each: registration, a bandwidth measure, attestations), then knowledge elements.
//!
//! Run: `cargo bench -p palier-projections --bench snapshot` (PALIER_BENCH_EVENTS, default
//! 1,000,000; PALIER_BENCH_PERSONS, default 10,000; PALIER_BENCH_AFTER, default 100,000;
//! PALIER_BENCH_ESTABLISHMENTS, default 5,000, × 20 events, part of the events).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use palier_projections::api_keys::ApiKeys;
use palier_projections::establishments::Establishments;
use palier_projections::maintenance::Maintenance;
use palier_projections::persons::Persons;
use palier_projections::{Projection, ProjectionHandle, Snapshot, SnapshotSettings};
use palier_store::{EventStore, SqliteOptions, SqliteStore};

use support::{env_u64, runtime};

async fn open(dir: &Path) -> SqliteStore {
    // The previous start's store may still be closing on its runtime's threads.
    for _ in 0..200 {
        if let Ok(store) = SqliteStore::open(dir.join("events.db"), SqliteOptions::default()).await
        {
            return store;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the store did not reopen");
}

struct Started {
    /// Until every model was caught up.
    ready: Duration,
    /// Events folded, all models together.
    folded: u64,
    /// Snapshot positions restored from (persons).
    restored_from: u64,
}

fn spawn<P: Snapshot>(
    store: &SqliteStore,
    model: P,
    snapshots: Option<&SnapshotSettings>,
) -> ProjectionHandle<P> {
    match snapshots {
        Some(s) => ProjectionHandle::spawn_with_snapshots(store.clone(), model, s.clone()),
        None => ProjectionHandle::spawn(store.clone(), model),
    }
}

async fn ready<P: Projection>(handle: &ProjectionHandle<P>, head: u64) {
    handle
        .wait_for(head, Duration::from_secs(600))
        .await
        .unwrap();
}

/// Starts the four models over the store in `dir`; with `write`, waits until each wrote its
/// snapshot at the head too.
fn start(dir: &Path, snapshots: Option<&SnapshotSettings>, write: bool) -> Started {
    let runtime = runtime();
    let started = runtime.block_on(async {
        let store = open(dir).await;
        let head = store.head().await.unwrap().map_or(0, |h| h.position);
        let start = Instant::now();
        let persons = spawn(&store, Persons::default(), snapshots);
        let establishments = spawn(&store, Establishments::default(), snapshots);
        let maintenance = spawn(&store, Maintenance::default(), snapshots);
        let api_keys = spawn(&store, ApiKeys::default(), snapshots);
        ready(&persons, head).await;
        ready(&establishments, head).await;
        ready(&maintenance, head).await;
        ready(&api_keys, head).await;
        let elapsed = start.elapsed();
        if write {
            while persons.last_snapshot() < head
                || establishments.last_snapshot() < head
                || maintenance.last_snapshot() < head
                || api_keys.last_snapshot() < head
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        Started {
            ready: elapsed,
            folded: persons.events_folded()
                + establishments.events_folded()
                + maintenance.events_folded()
                + api_keys.events_folded(),
            restored_from: persons.restored_from(),
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(10));
    started
}

fn best_of_3(mut run: impl FnMut() -> Started) -> Started {
    let mut best: Option<Started> = None;
    for _ in 0..3 {
        let this = run();
        if best.as_ref().is_none_or(|b| this.ready < b.ready) {
            best = Some(this);
        }
    }
    best.unwrap()
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let events = env_u64("PALIER_BENCH_EVENTS", 1_000_000);
    let persons = env_u64("PALIER_BENCH_PERSONS", 10_000);
    let after = env_u64("PALIER_BENCH_AFTER", 100_000);
    let establishments = env_u64("PALIER_BENCH_ESTABLISHMENTS", 5_000);
    let dir = tempfile::tempdir().unwrap();
    let settings = SnapshotSettings {
        dir: dir.path().join("snapshots"),
        every_events: 1,
        every: Duration::from_secs(3600),
    };
    let never = SnapshotSettings {
        every_events: u64::MAX,
        ..settings.clone()
    };
    eprintln!(
        "filling {} events: {establishments} establishments × 20, the rest for {persons} persons ...",
        events - after
    );
    runtime().block_on(async {
        let store = open(dir.path()).await;
        palier_projections::workload::establishments(&store, establishments as u32, 20, 30)
            .await
            .unwrap();
        palier_projections::workload::knowledge_elements(
            &store,
            "0750655E",
            events - after - establishments * 20,
            persons,
        )
        .await
        .unwrap();
        store.close().await.unwrap();
    });
    // Snapshots at (head - after), then `after` more events.
    eprintln!("snapshots at the head, then {after} more events ...");
    start(dir.path(), Some(&settings), true);
    let snapshot_bytes: u64 = std::fs::read_dir(&settings.dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    runtime().block_on(async {
        let store = open(dir.path()).await;
        palier_projections::workload::knowledge_elements(&store, "0750656F", after, persons / 10)
            .await
            .unwrap();
        store.close().await.unwrap();
    });
    eprintln!("restoring with {after} events after the snapshots ...");
    let behind = best_of_3(|| start(dir.path(), Some(&never), false));
    eprintln!("cold rebuilds ...");
    let cold = best_of_3(|| start(dir.path(), None, false));
    // Snapshots at the head now.
    start(dir.path(), Some(&settings), true);
    eprintln!("restoring from snapshots at the head ...");
    let warm = best_of_3(|| start(dir.path(), Some(&never), false));
    // Four models count in `folded`.
    let total = cold.folded / 4;
    assert_eq!(warm.folded, 0);
    assert_eq!(warm.restored_from, total);
    println!(
        "| start of the four read models over {total} events | ready in | events folded per model | ratio to the cold start | aim |"
    );
    println!("|---|---:|---:|---:|---|");
    println!(
        "| cold: rebuilt from the log | {} | {} | 1.00× | |",
        ms(cold.ready),
        cold.folded / 4
    );
    println!(
        "| restored from snapshots at the head ({:.1} MB) | {} | {} | {:.2}× | < 1 s ({:.2}× of it) |",
        snapshot_bytes as f64 / 1e6,
        ms(warm.ready),
        warm.folded / 4,
        warm.ready.as_secs_f64() / cold.ready.as_secs_f64(),
        warm.ready.as_secs_f64()
    );
    println!(
        "| restored from snapshots {after} events behind, folding the rest | {} | {} | {:.2}× | |",
        ms(behind.ready),
        behind.folded / 4,
        behind.ready.as_secs_f64() / cold.ready.as_secs_f64()
    );
}
