//! What the projections' bench binaries share: their settings from the environment, and the
//! whole log read on the lean path into pages kept in memory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use palier_store::{EventFilter, EventStore, FoldPage};

/// The number in the environment variable `name`, else `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A multi-threaded runtime with every driver on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A store in `dir` holding `count` establishments of `events` events each, in 30 académies.
pub async fn establishments(
    dir: &std::path::Path,
    count: u32,
    events: u32,
) -> palier_store::SqliteStore {
    let store = palier_store::SqliteStore::open(
        dir.join("events.db"),
        palier_store::SqliteOptions::default(),
    )
    .await
    .unwrap();
    eprintln!("filling {count} establishments × {events} events ...");
    palier_projections::workload::establishments(&store, count, events, 30)
        .await
        .unwrap();
    store
}

/// The whole log on the lean read path, pages of 4096.
pub async fn lean_pages<S: EventStore>(store: &S) -> Vec<FoldPage> {
    let (mut next, mut pages) = (1, Vec::new());
    loop {
        let page = store
            .read_all_for_fold(next, &EventFilter::all(), 4096)
            .await
            .unwrap();
        next = page.scanned_to + 1;
        let end = page.is_end;
        pages.push(page);
        if end {
            return pages;
        }
    }
}
