//! Issue 17, item 1: concurrent requests for one past point share one rebuild.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use palier_api::graphql::audit::AsOfCache;
use palier_projections::persons::Persons;
use support::spawn_app;

#[tokio::test]
async fn concurrent_requests_for_one_point_share_one_rebuild() {
    let app = spawn_app().await;
    palier_projections::workload::knowledge_elements(&app.state.store, "0750655E", 300, 10)
        .await
        .unwrap();
    let head = app.head().await;
    app.state
        .persons
        .wait_for(head, Duration::from_secs(60))
        .await
        .unwrap();
    let folds = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&folds);
    let cache = Arc::new(AsOfCache::new(8, move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Persons::default()
    }));
    let asks = (0..16).map(|_| {
        let cache = Arc::clone(&cache);
        let store = app.state.store.clone();
        tokio::spawn(async move { cache.at(&store, head).await.map(|(_, at)| at) })
    });
    for at in futures::future::join_all(asks).await {
        assert_eq!(at.unwrap().ok(), Some(head));
    }
    assert_eq!(
        folds.load(Ordering::SeqCst),
        1,
        "16 concurrent asks for one point fold the log once"
    );
}
