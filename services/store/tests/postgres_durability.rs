//! What a crash of PostgreSQL may take back, and what readers may see before the WAL is
//! flushed. Append groups commit asynchronously and a fence flushes them before anyone hears of
//! them (see `services/store/src/postgres/writer.rs`): an acknowledged append survives a crash,
//! and no reader or subscriber ever sees an event past its process's durable head.
//!
//! Without PostgreSQL installed these say so on one line and pass, unless
//! `PALIER_REQUIRE_POSTGRES=1` (CI).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palier_store::postgres::testing::TestServer;
use palier_store::{
    Direction, EventData, EventFilter, EventStore, ExpectedRevision, PostgresOptions,
    PostgresStore, StreamFrom, StreamName, verify,
};
use serde_json::json;
use uuid::Uuid;

/// Concurrent appending tasks on each store instance.
const WRITERS_PER_INSTANCE: usize = 16;

async fn open(url: &str, poll: Duration) -> PostgresStore {
    PostgresStore::open(
        url,
        PostgresOptions {
            pool_size: 3,
            poll_interval: poll,
            ..PostgresOptions::default()
        },
    )
    .await
    .unwrap()
}

/// Position → event id, as some observer saw it.
type Seen = Arc<Mutex<Vec<(u64, Uuid)>>>;

/// Every event of the log, by position.
async fn whole_log(store: &PostgresStore) -> HashMap<u64, Uuid> {
    let mut log = HashMap::new();
    let mut from = 1;
    loop {
        let slice = store
            .read_all(from, &EventFilter::all(), 4096)
            .await
            .unwrap();
        for e in &slice.events {
            log.insert(e.position, e.event_id);
        }
        from = slice.scanned_to + 1;
        if slice.is_end {
            return log;
        }
    }
}

/// One round: two instances append from 16 tasks each, each followed by a subscription and a
/// `read_all` poller, until PostgreSQL stops as a crash would; then every append acknowledged,
/// and every event any reader saw, is in the log after the restart, at the same position, and
/// the chain verifies.
async fn crash_round(server: &TestServer, url: &str, round: usize) -> usize {
    let stores = [
        open(url, Duration::from_millis(200)).await,
        open(url, Duration::from_millis(200)).await,
    ];
    let acked: Seen = Arc::default();
    let seen: Seen = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut followers = Vec::new();
    for store in &stores {
        let after = store.head().await.unwrap().map_or(0, |h| h.position);
        let mut subscription = store.subscribe_to_all(after, EventFilter::all());
        let seen_by_sub = Arc::clone(&seen);
        followers.push(tokio::spawn(async move {
            let mut last = after;
            while let Some(Ok(event)) = subscription.next().await {
                assert_eq!(
                    event.position,
                    last + 1,
                    "a subscription skipped a position"
                );
                last = event.position;
                seen_by_sub
                    .lock()
                    .unwrap()
                    .push((event.position, event.event_id));
            }
        }));
        let reader = store.clone();
        let seen_by_reader = Arc::clone(&seen);
        let stop_reading = Arc::clone(&stop);
        followers.push(tokio::spawn(async move {
            let mut from = after + 1;
            while !stop_reading.load(Ordering::Relaxed) {
                let Ok(slice) = reader.read_all(from, &EventFilter::all(), 512).await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                for e in &slice.events {
                    assert_eq!(e.position, from, "a reader skipped a position");
                    from += 1;
                    seen_by_reader
                        .lock()
                        .unwrap()
                        .push((e.position, e.event_id));
                }
                if slice.is_end {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }));
    }
    let mut writers = Vec::new();
    for (i, store) in stores.iter().enumerate() {
        for t in 0..WRITERS_PER_INSTANCE {
            let store = store.clone();
            let acked = Arc::clone(&acked);
            writers.push(tokio::spawn(async move {
                let stream = StreamName::parse(format!("crash-{round}-{i}-{t}")).unwrap();
                for n in 0u64.. {
                    let event = EventData::json("Written", &json!({"n": n})).unwrap();
                    let id = event.event_id();
                    match store
                        .append_to_stream(&stream, ExpectedRevision::Any, vec![event])
                        .await
                    {
                        Ok(result) => {
                            let position = result.last_position().unwrap();
                            acked.lock().unwrap().push((position, id));
                        }
                        // The server is gone: this append's outcome is unknown.
                        Err(_) => return,
                    }
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.crash().unwrap();
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(30), writer)
            .await
            .expect("every writer hears that the server is gone")
            .unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for follower in followers {
        follower.abort();
        // A follower's assertion failure surfaces here.
        if let Err(e) = follower.await
            && e.is_panic()
        {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    drop(stores);
    server.restart().unwrap();

    let store = open(url, Duration::from_secs(1)).await;
    let log = whole_log(&store).await;
    let acked = acked.lock().unwrap().clone();
    let seen = seen.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "round {round}: only {} appends acknowledged",
        acked.len()
    );
    for (position, id) in &acked {
        assert_eq!(
            log.get(position),
            Some(id),
            "round {round}: the acknowledged append at {position} is lost or changed after the crash ({} acknowledged, log of {})",
            acked.len(),
            log.len()
        );
    }
    for (position, id) in &seen {
        assert_eq!(
            log.get(position),
            Some(id),
            "round {round}: a reader saw position {position}, lost or changed after the crash"
        );
    }
    let report = verify::verify(&store, None).await.unwrap();
    assert!(report.is_ok(), "round {round}: {:?}", report.broken);
    assert_eq!(report.checked, log.len() as u64);
    eprintln!(
        "round {round}: {} appends acknowledged, {} observations by readers, log of {} after the restart",
        acked.len(),
        seen.len(),
        log.len()
    );
    acked.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_of_postgresql_takes_back_no_acknowledged_append_and_nothing_a_reader_saw() {
    // A server of its own: this test stops it.
    let Some(server) = TestServer::available() else {
        return;
    };
    let url = server.create_database().await.unwrap();
    for round in 0..3 {
        crash_round(&server, &url, round).await;
    }
}

/// Waits until `store`'s readers see the log up to `position`.
async fn head_reaches(store: &PostgresStore, position: u64) {
    palier_store::postgres::testing::wait_for_head(store, position, Duration::from_secs(10))
        .await
        .unwrap();
}

/// Every read of `store` shows the log up to `head` and nothing after.
async fn reads_stop_at(store: &PostgresStore, stream: &StreamName, head: u64) {
    assert_eq!(store.head().await.unwrap().unwrap().position, head);
    let slice = store.read_all(1, &EventFilter::all(), 100).await.unwrap();
    assert_eq!(slice.events.len() as u64, head);
    assert_eq!(slice.scanned_to, head);
    assert!(slice.is_end);
    let page = store
        .read_all_for_fold(1, &EventFilter::all(), 100)
        .await
        .unwrap();
    assert_eq!(page.len() as u64, head);
    assert_eq!(page.scanned_to, head);
    let forwards = store
        .read_stream(stream, StreamFrom::Start, Direction::Forwards, 100)
        .await
        .unwrap();
    assert_eq!(forwards.len() as u64, head);
    let last = store
        .read_stream(stream, StreamFrom::End, Direction::Backwards, 1)
        .await
        .unwrap();
    assert_eq!(last[0].position, head);
    let info = store.stream_info(stream).await.unwrap().unwrap();
    assert_eq!(info.last_position, head);
    assert_eq!(info.last_revision, head - 1);
    let future = chrono::Utc::now() + chrono::Duration::days(1);
    assert_eq!(store.position_at(future).await.unwrap(), head + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_never_pass_the_durable_head() {
    let Some(server) = TestServer::shared() else {
        return;
    };
    let url = server.create_database().await.unwrap();
    // No poll (in practice): only their own fences and notifications move these two.
    let a = open(&url, Duration::from_secs(3600)).await;
    let b = open(&url, Duration::from_secs(3600)).await;
    let stream = StreamName::parse("capped-1").unwrap();
    for n in 0..3 {
        let event = EventData::json("Written", &json!({"n": n})).unwrap();
        a.append_to_stream(&stream, ExpectedRevision::Any, vec![event])
            .await
            .unwrap();
        // Acknowledged, hence durable and readable on this instance at once.
        reads_stop_at(&a, &stream, n + 1).await;
    }
    head_reaches(&b, 3).await;
    let mut subscription = a.subscribe_to_all(0, EventFilter::all());
    for position in 1..=3 {
        let event = subscription.next().await.unwrap().unwrap();
        assert_eq!(event.position, position);
    }
    // A safety-net poller on a third instance, opened before the next commit.
    let c = open(&url, Duration::from_millis(100)).await;
    reads_stop_at(&c, &stream, 3).await;

    // Behind palier's back, what a process that died between its commit and its fence leaves:
    // position 4 committed asynchronously, never fenced, never notified.
    server
        .execute(
            &url,
            "BEGIN; SET LOCAL synchronous_commit = off; \
             INSERT INTO palier.events (position, stream_id, stream, revision, event_id, \
               event_type, schema_version, data, actor, correlation_id, causation_id, trace_id, \
               tenant, occurred_at, recorded_at, hash) \
             SELECT 4, stream_id, stream, revision + 1, gen_random_uuid(), event_type, \
               schema_version, data, actor, correlation_id, causation_id, trace_id, tenant, \
               occurred_at, recorded_at, hash FROM palier.events WHERE position = 3; \
             COMMIT",
        )
        .await
        .unwrap();
    // The poller fences it and lets it in; the others have not heard of it.
    head_reaches(&c, 4).await;
    reads_stop_at(&c, &stream, 4).await;
    reads_stop_at(&a, &stream, 3).await;
    reads_stop_at(&b, &stream, 3).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), subscription.next())
            .await
            .is_err(),
        "a subscription went past the durable head"
    );

    // An append on b chains onto position 4 (the writer's reads are not capped), fences and
    // notifies: b reads it at once, a once it hears of it, with everything below.
    let event = EventData::json("Written", &json!({"n": 4})).unwrap();
    let result = b
        .append_to_stream(&stream, ExpectedRevision::Exact(3), vec![event])
        .await
        .unwrap();
    assert_eq!(result.last_position(), Some(5));
    reads_stop_at(&b, &stream, 5).await;
    head_reaches(&a, 5).await;
    reads_stop_at(&a, &stream, 5).await;
    for position in 4..=5 {
        let event = tokio::time::timeout(Duration::from_secs(5), subscription.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(event.position, position);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_conflict_reports_a_revision_the_readers_of_its_instance_already_see() {
    let Some(server) = TestServer::shared() else {
        return;
    };
    let url = server.create_database().await.unwrap();
    let a = open(&url, Duration::from_secs(3600)).await;
    let b = open(&url, Duration::from_secs(3600)).await;
    let stream = StreamName::parse("conflict-1").unwrap();
    let event = EventData::json("Written", &json!({"n": 0})).unwrap();
    a.append_to_stream(&stream, ExpectedRevision::NoStream, vec![event])
        .await
        .unwrap();
    // b has not necessarily heard of it; its append conflicts, and once the conflict is
    // reported, b's readers see the revision it reports (how a command decides again).
    let event = EventData::json("Written", &json!({"n": 1})).unwrap();
    let refused = b
        .append_to_stream(&stream, ExpectedRevision::NoStream, vec![event])
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            palier_store::StoreError::WrongExpectedRevision { .. }
        ),
        "{refused:?}"
    );
    let read = b
        .read_stream(&stream, StreamFrom::Start, Direction::Forwards, 10)
        .await
        .unwrap();
    assert_eq!(read.len(), 1);
}
