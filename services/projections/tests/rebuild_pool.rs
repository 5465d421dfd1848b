//! Rebuilds must not depend on the pool of threads their folds occupy (issue 17, item 1): many
//! concurrent rebuilds on a runtime with very few blocking threads all finish. Before the fix
//! each fold held a blocking thread while it waited for pages that were read on blocking
//! threads too, so once every blocking thread was a waiting fold nothing could move again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use palier_projections::establishments::Establishments;
use palier_projections::persons::Persons;
use palier_projections::rebuild;
use palier_store::{EventStore, SqliteOptions, SqliteStore};

#[test]
fn many_concurrent_rebuilds_finish_with_two_blocking_threads() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open(dir.path().join("events.db"), SqliteOptions::default())
            .await
            .unwrap();
        palier_projections::workload::knowledge_elements(&store, "0750655E", 1207, 40)
            .await
            .unwrap();
        let head = store.head().await.unwrap().unwrap().position;
        let rebuilds = (0..32u64).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let until = 1 + i * head / 32;
                let (model, last) = rebuild(&store, Persons::default(), Some(until)).await?;
                let (_, last_too) = rebuild(&store, Establishments::default(), Some(until)).await?;
                assert_eq!(last, until);
                assert_eq!(last_too, until);
                Ok::<usize, palier_store::StoreError>(model.count())
            })
        });
        let all = futures::future::join_all(rebuilds);
        let outcomes = tokio::time::timeout(Duration::from_secs(60), all)
            .await
            .expect("32 concurrent rebuilds on 2 blocking threads finish (no deadlock)");
        for outcome in outcomes {
            outcome.unwrap().unwrap();
        }
    });
}
