//! Several palier processes on one PostgreSQL store: appends from separate OS processes and
//! independent store instances (each with its own pool and writer) interleave while
//! subscribers and plain readers follow the log, and every reader sees every event exactly
//! once, in order, never a gap that later fills. Also: the schema is created once when many
//! start together, and a store of a newer format, or a foreign `palier` schema, is refused.
//!
//! Without PostgreSQL installed these say so on one line and pass, unless
//! `PALIER_REQUIRE_POSTGRES=1` (CI).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use palier_store::postgres::testing::TestServer;

// For the checks an upgraded store shares with the other backend (not the whole suite).
#[allow(unused_macros)]
mod contract;
use palier_store::{
    EventData, EventFilter, EventStore, ExpectedRevision, PostgresOptions, PostgresStore,
    RecordedEvent, StoreError, StreamName, verify,
};
use serde_json::json;
use uuid::Uuid;

/// Appending tasks in each child process, appends per task.
const CHILD_TASKS: u64 = 16;
const CHILD_APPENDS: u64 = 40;
/// Child processes, and in-process store instances that also append.
const CHILDREN: u64 = 3;
const LOCAL_WRITERS: u64 = 2;

fn events_of_append(a: u64) -> u64 {
    1 + a % 3
}

fn events_per_writer() -> u64 {
    CHILD_TASKS * (0..CHILD_APPENDS).map(events_of_append).sum::<u64>()
}

async fn open(url: &str) -> PostgresStore {
    PostgresStore::open(
        url,
        PostgresOptions {
            pool_size: 3,
            ..PostgresOptions::default()
        },
    )
    .await
    .unwrap()
}

/// Waits until `store`'s readers see the log up to `position`.
async fn head_reaches(store: &PostgresStore, position: u64) {
    palier_store::postgres::testing::wait_for_head(store, position, Duration::from_secs(10))
        .await
        .unwrap();
}

/// The load one writer (a child process or an in-process store instance) puts on the store.
async fn append_load(store: PostgresStore, writer: u64) {
    let tasks: Vec<_> = (0..CHILD_TASKS)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let s = StreamName::parse(format!("load-{writer}-{t}-{}", Uuid::new_v4())).unwrap();
                for a in 0..CHILD_APPENDS {
                    let expected = if a == 0 {
                        ExpectedRevision::NoStream
                    } else {
                        ExpectedRevision::StreamExists
                    };
                    let events = (0..events_of_append(a))
                        .map(|i| {
                            EventData::json(
                                "LoadAppended",
                                &json!({"w": writer, "t": t, "a": a, "i": i}),
                            )
                            .unwrap()
                        })
                        .collect();
                    store.append_to_stream(&s, expected, events).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// Not a test of its own: the body of each child process of
/// [`several_processes_append_while_subscribers_read_every_event_once_in_order`], which runs
/// this test binary again with `PALIER_PG_CHILD_URL` set. Without it, it does nothing.
#[test]
fn child_appender_process() {
    let Ok(url) = std::env::var("PALIER_PG_CHILD_URL") else {
        return;
    };
    let writer: u64 = std::env::var("PALIER_PG_CHILD_ID")
        .unwrap()
        .parse()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = open(&url).await;
        append_load(store.clone(), writer).await;
        store.close().await.unwrap();
    });
}

/// Follows the log with plain `read_all` pages (small ones, so it reads often while writers
/// run): each page must start exactly where the previous one ended. A reader that moved past
/// a position still in flight would fail here.
async fn poll_without_gaps(store: PostgresStore, total: u64) -> Vec<u64> {
    let mut seen = Vec::with_capacity(total as usize);
    let mut next = 1;
    let deadline = Instant::now() + Duration::from_secs(120);
    while next <= total {
        assert!(Instant::now() < deadline, "the poller stalled at {next}");
        let slice = store.read_all(next, &EventFilter::all(), 7).await.unwrap();
        for e in &slice.events {
            assert_eq!(e.position, next, "a reader saw a gap before {}", e.position);
            seen.push(e.position);
            next += 1;
        }
        assert!(
            slice.scanned_to < next,
            "scanned_to {} passed the events read (next {next})",
            slice.scanned_to
        );
        if slice.events.is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    seen
}

async fn collect(mut sub: palier_store::Subscription, total: u64) -> Vec<RecordedEvent> {
    let mut got = Vec::with_capacity(total as usize);
    while (got.len() as u64) < total {
        let next = tokio::time::timeout(Duration::from_secs(60), sub.next())
            .await
            .expect("a subscription stalled")
            .expect("a subscription ended")
            .expect("a subscription failed");
        got.push(next);
    }
    // Nothing more: no duplicate after the end.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sub.next())
            .await
            .is_err()
    );
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_processes_append_while_subscribers_read_every_event_once_in_order() {
    let Some(server) = TestServer::shared() else {
        return;
    };
    let url = server.create_database().await.unwrap();
    // Readers on two instances of their own (one of which also writes), from position 0.
    let reader_a = open(&url).await;
    let reader_b = open(&url).await;
    let total = (CHILDREN + LOCAL_WRITERS) * events_per_writer();
    let subscribers: Vec<_> = [&reader_a, &reader_b, &reader_a, &reader_b]
        .iter()
        .map(|store| {
            tokio::spawn(collect(
                store.subscribe_to_all(0, EventFilter::all()),
                total,
            ))
        })
        .collect();
    let pollers: Vec<_> = (0..2)
        .map(|_| {
            let store = reader_b.clone();
            tokio::spawn(poll_without_gaps(store, total))
        })
        .collect();

    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..CHILDREN)
        .map(|i| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "child_appender_process",
                    "--test-threads=1",
                    "--quiet",
                ])
                .env("PALIER_PG_CHILD_URL", &url)
                .env("PALIER_PG_CHILD_ID", i.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut local = Vec::new();
    for w in 0..LOCAL_WRITERS {
        // Independent instances: each its own pool, writer and live feed. The first is
        // `reader_a` itself, so its subscribers get its own commits and the others' mixed.
        let store = if w == 0 {
            reader_a.clone()
        } else {
            open(&url).await
        };
        local.push(tokio::spawn(append_load(store, CHILDREN + w)));
    }
    for mut child in children {
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "a child appender failed: {status}");
    }
    for l in local {
        l.await.unwrap();
    }
    // Each instance's readers see the others' appends once they hear of them (the appenders'
    // fences notify; readers stop at what they know durable): a few milliseconds.
    head_reaches(&reader_a, total).await;
    head_reaches(&reader_b, total).await;

    // Every event exactly once, in order, for every subscriber, and what read_all says.
    let mut log = Vec::new();
    let mut from = 1;
    loop {
        let slice = reader_b
            .read_all(from, &EventFilter::all(), 1000)
            .await
            .unwrap();
        log.extend(slice.events);
        from = slice.scanned_to + 1;
        if slice.is_end {
            break;
        }
    }
    let ids: Vec<Uuid> = log.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len() as u64, total);
    for s in subscribers {
        let got = s.await.unwrap();
        let positions: Vec<u64> = got.iter().map(|e| e.position).collect();
        assert_eq!(positions, (1..=total).collect::<Vec<_>>());
        assert_eq!(got.iter().map(|e| e.event_id).collect::<Vec<_>>(), ids);
    }
    for p in pollers {
        assert_eq!(p.await.unwrap(), (1..=total).collect::<Vec<_>>());
    }
    // One hash chain across all writers.
    let report = verify::verify(&reader_b, None).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.checked, total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_on_one_instance_reaches_a_subscriber_of_another_within_100_ms() {
    let Some(server) = TestServer::shared() else {
        return;
    };
    let url = server.create_database().await.unwrap();
    let writer = open(&url).await;
    let reader = open(&url).await;
    let mut sub = reader.subscribe_to_all(0, EventFilter::all());
    let s = StreamName::parse("latency-1").unwrap();
    // Let the listener connect.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut latencies = Vec::new();
    for n in 0..20u64 {
        let started = Instant::now();
        writer
            .append_to_stream(
                &s,
                ExpectedRevision::Any,
                vec![EventData::json("Pinged", &json!({ "n": n })).unwrap()],
            )
            .await
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(got.position, n + 1);
        latencies.push(started.elapsed());
    }
    // The poll interval is 1 s: only LISTEN/NOTIFY gets under 100 ms (all but a couple, which
    // a busy CI machine may delay).
    let fast = latencies
        .iter()
        .filter(|l| **l < Duration::from_millis(100))
        .count();
    assert!(fast >= 18, "{latencies:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_create_the_schema_once() {
    let Some(server) = TestServer::shared() else {
        return;
    };
    let url = server.create_database().await.unwrap();
    let opened = futures::future::join_all((0..6).map(|_| open(&url))).await;
    for (i, store) in opened.iter().enumerate() {
        store
            .append_to_stream(
                &StreamName::parse(format!("start-{i}")).unwrap(),
                ExpectedRevision::NoStream,
                vec![EventData::json("Started", &json!({ "i": i })).unwrap()],
            )
            .await
            .unwrap();
    }
    // The others' appends reach the first instance's readers once it hears of them (their
    // fences notify; readers stop at what they know durable).
    head_reaches(&opened[0], 6).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_of_a_newer_format_is_refused_untouched() {
    let Some(server) = TestServer::shared() else {
        return;
    };
    let url = server.create_database().await.unwrap();
    let store = open(&url).await;
    store
        .append_to_stream(
            &StreamName::parse("kept-1").unwrap(),
            ExpectedRevision::NoStream,
            vec![EventData::json("Kept", &json!({})).unwrap()],
        )
        .await
        .unwrap();
    store.close().await.unwrap();
    drop(store);
    server
        .execute(&url, "UPDATE palier.store_format SET version = 99")
        .await
        .unwrap();
    let refused = PostgresStore::open(&url, PostgresOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            StoreError::UnsupportedFormat {
                found: 99,
                supported: palier_store::postgres::FORMAT_VERSION,
                ..
            }
        ),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("newer than this build"),
        "{refused}"
    );
    assert!(
        !refused.to_string().contains("postgres@"),
        "credentials in {refused}"
    );
    let read_only = PostgresStore::open_read_only(&url, PostgresOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(read_only, StoreError::UnsupportedFormat { .. }));
    // Untouched: back to its format, the event is still there.
    server
        .execute(
            &url,
            &format!(
                "UPDATE palier.store_format SET version = {}",
                palier_store::postgres::FORMAT_VERSION
            ),
        )
        .await
        .unwrap();
    let store = open(&url).await;
    assert_eq!(store.head().await.unwrap().unwrap().position, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_foreign_palier_schema_or_an_empty_database_read_only_is_refused() {
    let Some(server) = TestServer::shared() else {
        return;
    };
    let url = server.create_database().await.unwrap();
    let nothing = PostgresStore::open_read_only(&url, PostgresOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(nothing, StoreError::NotAStore { .. }),
        "{nothing:?}"
    );
    server
        .execute(
            &url,
            "CREATE SCHEMA palier; CREATE TABLE palier.events (x int)",
        )
        .await
        .unwrap();
    let foreign = PostgresStore::open(&url, PostgresOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(foreign, StoreError::NotAStore { .. }),
        "{foreign:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_format_1_store_gets_its_event_id_constraint_keyed_by_id_and_keeps_idempotency() {
    let Some(server) = TestServer::shared() else {
        return;
    };
    let url = server.create_database().await.unwrap();
    let a = StreamName::parse("person-a").unwrap();
    let event = |n: u64| EventData::json("ThingHappened", &json!({ "n": n })).unwrap();
    let first = vec![event(0), event(1)];
    let store = open(&url).await;
    store
        .append_to_stream(&a, ExpectedRevision::NoStream, first.clone())
        .await
        .unwrap();
    store.close().await.unwrap();
    drop(store);
    // Make it what format 1 wrote: the event-id constraint keyed by the stream first.
    server
        .execute(
            &url,
            "ALTER TABLE palier.events DROP CONSTRAINT events_by_event_id; \
             ALTER TABLE palier.events ADD CONSTRAINT events_by_stream_event_id UNIQUE (stream_id, event_id); \
             UPDATE palier.store_format SET version = 1",
        )
        .await
        .unwrap();
    let store = open(&url).await;
    server
        .execute(
            &url,
            "DO $$ BEGIN \
               IF (SELECT version FROM palier.store_format) <> 2 \
                  OR EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'events_by_stream_event_id') \
                  OR (SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'events_by_event_id') \
                     IS DISTINCT FROM 'UNIQUE (event_id, stream_id)' \
               THEN RAISE EXCEPTION 'not upgraded'; END IF; \
             END $$",
        )
        .await
        .unwrap();
    contract::event_ids_keep_their_meaning_after_an_upgrade(
        &store,
        &a,
        &StreamName::parse("person-b").unwrap(),
        &first,
    )
    .await;
}
