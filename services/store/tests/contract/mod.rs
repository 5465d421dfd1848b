//! The store contract, as tests generic over the backend. Each backend's test file provides a
//! [`Harness`] and expands [`store_contract_tests!`]; the PostgreSQL backend runs these very
//! same cases.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use palier_store::{
    AppendResult, CurrentRevision, Direction, EventData, EventFilter, EventStore, ExpectedRevision,
    Metadata, RecordedEvent, StoreError, StreamFrom, StreamName, verify,
};
use serde_json::json;
use uuid::Uuid;

/// What a backend provides to the suite.
pub trait Harness: Send {
    /// The backend under test.
    type Store: EventStore + Clone;
    /// The open store.
    fn store(&self) -> Self::Store;
    /// Closes and reopens the same store (a restart).
    fn reopen(&mut self) -> impl std::future::Future<Output = ()> + Send;
    /// Another, empty store of the same backend.
    fn another(&mut self) -> impl std::future::Future<Output = Self::Store> + Send;
}

/// Expands every contract case as a `#[tokio::test]` using `$factory().await` as harness
/// (`optional $factory`: the factory returns an `Option`, `None` when the backend is not
/// available here, and the case passes without checking anything).
macro_rules! store_contract_tests {
    ($factory:path) => {
        store_contract_tests!(@list $factory; (|h| Some(h)));
    };
    (optional $factory:path) => {
        store_contract_tests!(@list $factory; (|h| h));
    };
    (@list $factory:path; $wrap:tt) => {
        store_contract_tests!(@cases $factory; $wrap;
            expected_any_appends_whatever_the_state,
            expected_no_stream_conflicts_on_existing_stream,
            expected_stream_exists_conflicts_on_missing_stream,
            expected_exact_revision,
            a_conflict_writes_nothing,
            idempotent_retry_for_every_expectation,
            idempotent_retry_survives_restart,
            id_reused_for_a_different_event_is_a_conflict,
            the_same_id_in_another_stream_is_another_event,
            partial_retry_is_a_conflict,
            duplicate_id_inside_one_append_is_a_conflict,
            faulty_appends_in_one_group_fail_alone,
            concurrent_appenders_to_one_stream_one_wins_each_revision,
            concurrent_appenders_to_many_streams_all_persisted,
            subscription_from_zero_while_writers_run_sees_each_event_once,
            subscription_resumes_after_checkpoint,
            subscription_started_as_the_last_append_commits_sees_it,
            slow_subscriber_blocks_nobody_and_loses_nothing,
            reading_a_missing_stream,
            empty_append_checks_expectation_only,
            one_mebibyte_event_round_trips,
            read_all_filters_by_prefix_and_type,
            the_fold_read_agrees_with_read_all,
            filtered_subscription,
            read_stream_directions_and_limits,
            recorded_fields_and_stream_info,
            hash_chain_verifies_and_checkpoint_is_checked,
            data_survives_restart,
            export_then_import_reproduces_the_log,
            import_refuses_altered_or_incomplete_exports,
            position_at_maps_store_time_to_positions,
            large_appends_keep_every_field_and_the_chain,
            commits_are_counted_with_what_they_wrote);
    };
    (@cases $factory:path; $wrap:tt; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                #[allow(clippy::redundant_closure_call)]
                let Some(mut harness) = $wrap($factory().await) else {
                    return; // the backend is not available here (and not required)
                };
                contract::$case(&mut harness).await;
            }
        )*
    };
}

fn stream(name: &str) -> StreamName {
    StreamName::parse(name).unwrap()
}

fn unique_stream(prefix: &str) -> StreamName {
    stream(&format!("{prefix}-{}", Uuid::new_v4()))
}

fn event(kind: &str, n: u64) -> EventData {
    EventData::json(kind, &json!({ "n": n })).unwrap()
}

fn events(n: u64) -> Vec<EventData> {
    (0..n).map(|i| event("ThingHappened", i)).collect()
}

async fn all_events<S: EventStore>(store: &S) -> Vec<RecordedEvent> {
    let mut out = Vec::new();
    let mut from = 1;
    loop {
        let slice = store
            .read_all(from, &EventFilter::all(), 1000)
            .await
            .unwrap();
        out.extend(slice.events);
        from = slice.scanned_to + 1;
        if slice.is_end {
            return out;
        }
    }
}

async fn read_whole_stream<S: EventStore>(store: &S, s: &StreamName) -> Vec<RecordedEvent> {
    store
        .read_stream(s, StreamFrom::Start, Direction::Forwards, usize::MAX)
        .await
        .unwrap()
}

fn assert_wrong_expected(result: Result<AppendResult, StoreError>, want_actual: CurrentRevision) {
    match result {
        Err(StoreError::WrongExpectedRevision { actual, .. }) => assert_eq!(actual, want_actual),
        other => panic!("expected a WrongExpectedRevision conflict, got {other:?}"),
    }
}

pub async fn expected_any_appends_whatever_the_state<H: Harness>(h: &mut H) {
    let store = h.store();
    let s = unique_stream("any");
    let r1 = store
        .append_to_stream(&s, ExpectedRevision::Any, events(2))
        .await
        .unwrap();
    assert_eq!(r1.current_revision, CurrentRevision::Current(1));
    assert_eq!(r1.positions, Some(1..=2));
    let r2 = store
        .append_to_stream(&s, ExpectedRevision::Any, events(1))
        .await
        .unwrap();
    assert_eq!(r2.current_revision, CurrentRevision::Current(2));
    assert_eq!(r2.positions, Some(3..=3));
    let revisions: Vec<u64> = read_whole_stream(&store, &s)
        .await
        .iter()
        .map(|e| e.revision)
        .collect();
    assert_eq!(revisions, vec![0, 1, 2]);
}

pub async fn expected_no_stream_conflicts_on_existing_stream<H: Harness>(h: &mut H) {
    let store = h.store();
    let s = unique_stream("nostream");
    store
        .append_to_stream(&s, ExpectedRevision::NoStream, events(1))
        .await
        .unwrap();
    assert_wrong_expected(
        store
            .append_to_stream(&s, ExpectedRevision::NoStream, events(1))
            .await,
        CurrentRevision::Current(0),
    );
    assert_eq!(read_whole_stream(&store, &s).await.len(), 1);
}

pub async fn expected_stream_exists_conflicts_on_missing_stream<H: Harness>(h: &mut H) {
    let store = h.store();
    let s = unique_stream("exists");
    assert_wrong_expected(
        store
            .append_to_stream(&s, ExpectedRevision::StreamExists, events(1))
            .await,
        CurrentRevision::NoStream,
    );
    assert!(store.stream_info(&s).await.unwrap().is_none());
    store
        .append_to_stream(&s, ExpectedRevision::Any, events(1))
        .await
        .unwrap();
    let r = store
        .append_to_stream(&s, ExpectedRevision::StreamExists, events(1))
        .await
        .unwrap();
    assert_eq!(r.current_revision, CurrentRevision::Current(1));
}

pub async fn expected_exact_revision<H: Harness>(h: &mut H) {
    let store = h.store();
    let s = unique_stream("exact");
    assert_wrong_expected(
        store
            .append_to_stream(&s, ExpectedRevision::Exact(0), events(1))
            .await,
        CurrentRevision::NoStream,
    );
    store
        .append_to_stream(&s, ExpectedRevision::NoStream, events(2))
        .await
        .unwrap();
    let r = store
        .append_to_stream(&s, ExpectedRevision::Exact(1), events(1))
        .await
        .unwrap();
    assert_eq!(r.current_revision, CurrentRevision::Current(2));
    let err = store
        .append_to_stream(&s, ExpectedRevision::Exact(1), events(1))
        .await;
    assert_wrong_expected(err, CurrentRevision::Current(2));
    assert_wrong_expected(
        store
            .append_to_stream(&s, ExpectedRevision::Exact(7), events(1))
            .await,
        CurrentRevision::Current(2),
    );
    let message = store
        .append_to_stream(&s, ExpectedRevision::Exact(7), events(1))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("revision 7") && message.contains("revision 2"),
        "{message}"
    );
}

pub async fn a_conflict_writes_nothing<H: Harness>(h: &mut H) {
    let store = h.store();
    let s = unique_stream("noop");
    store
        .append_to_stream(&s, ExpectedRevision::NoStream, events(1))
        .await
        .unwrap();
    let head = store.head().await.unwrap();
    let _ = store
        .append_to_stream(&s, ExpectedRevision::Exact(5), events(3))
        .await;
    let _ = store
        .append_to_stream(&s, ExpectedRevision::NoStream, events(3))
        .await;
    assert_eq!(store.head().await.unwrap(), head);
    assert_eq!(
        store.stream_info(&s).await.unwrap().unwrap().last_revision,
        0
    );
}

pub async fn idempotent_retry_for_every_expectation<H: Harness>(h: &mut H) {
    let store = h.store();
    for (i, expected) in [
        ExpectedRevision::NoStream,
        ExpectedRevision::Any,
        ExpectedRevision::StreamExists,
        ExpectedRevision::Exact(0),
    ]
    .into_iter()
    .enumerate()
    {
        let s = unique_stream(&format!("retry{i}"));
        if matches!(
            expected,
            ExpectedRevision::StreamExists | ExpectedRevision::Exact(0)
        ) {
            store
                .append_to_stream(&s, ExpectedRevision::NoStream, events(1))
                .await
                .unwrap();
        }
        let batch = events(3);
        let first = store
            .append_to_stream(&s, expected, batch.clone())
            .await
            .unwrap();
        assert!(!first.deduplicated);
        // Other writers move the stream on before the retry arrives.
        store
            .append_to_stream(&s, ExpectedRevision::Any, events(1))
            .await
            .unwrap();
        let head = store.head().await.unwrap();
        let retry = store
            .append_to_stream(&s, expected, batch.clone())
            .await
            .unwrap();
        assert!(retry.deduplicated, "{expected:?}");
        assert_eq!(retry.positions, first.positions, "{expected:?}");
        assert_eq!(
            store.head().await.unwrap(),
            head,
            "a retry must write nothing"
        );
        let ids: Vec<Uuid> = read_whole_stream(&store, &s)
            .await
            .iter()
            .map(|e| e.event_id)
            .collect();
        let unique: HashSet<&Uuid> = ids.iter().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "duplicates after retry with {expected:?}"
        );
        // A retry of a prefix of the original append writes nothing either.
        let prefix = store
            .append_to_stream(&s, expected, batch[..1].to_vec())
            .await
            .unwrap();
        assert!(prefix.deduplicated);
    }
}

pub async fn idempotent_retry_survives_restart<H: Harness>(h: &mut H) {
    let s = unique_stream("restart-retry");
    let batch = events(2);
    let first = h
        .store()
        .append_to_stream(&s, ExpectedRevision::NoStream, batch.clone())
        .await
        .unwrap();
    h.reopen().await;
    let retry = h
        .store()
        .append_to_stream(&s, ExpectedRevision::NoStream, batch)
        .await
        .unwrap();
    assert!(retry.deduplicated);
    assert_eq!(retry.positions, first.positions);
    assert_eq!(read_whole_stream(&h.store(), &s).await.len(), 2);
}

pub async fn id_reused_for_a_different_event_is_a_conflict<H: Harness>(h: &mut H) {
    let store = h.store();
    let s = unique_stream("reuse");
    let original = event("ThingHappened", 1);
    store
        .append_to_stream(&s, ExpectedRevision::Any, vec![original.clone()])
        .await
        .unwrap();
    let head = store.head().await.unwrap();
    let impostor = event("ThingHappened", 2).with_id(original.event_id());
    match store
        .append_to_stream(&s, ExpectedRevision::Any, vec![impostor])
        .await
    {
        Err(StoreError::IdempotencyConflict { event_id, .. }) => {
            assert_eq!(event_id, original.event_id())
        }
        other => panic!("expected an idempotency conflict, got {other:?}"),
    }
    let other_type = event("OtherThingHappened", 1).with_id(original.event_id());
    assert!(matches!(
        store
            .append_to_stream(&s, ExpectedRevision::Any, vec![other_type])
            .await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    assert_eq!(store.head().await.unwrap(), head);
}

/// An event id identifies an event within its stream (the idempotency of retries is per
/// stream, as in EventStoreDB): the same id in another stream is another event.
pub async fn the_same_id_in_another_stream_is_another_event<H: Harness>(h: &mut H) {
    let store = h.store();
    let (a, b) = (unique_stream("id-a"), unique_stream("id-b"));
    let original = event("ThingHappened", 1);
    let first = store
        .append_to_stream(&a, ExpectedRevision::Any, vec![original.clone()])
        .await
        .unwrap();
    let other = event("ThingHappened", 2).with_id(original.event_id());
    let second = store
        .append_to_stream(&b, ExpectedRevision::Any, vec![other])
        .await
        .unwrap();
    assert!(!second.deduplicated);
    assert_ne!(second.positions, first.positions);
    assert_eq!(read_whole_stream(&store, &b).await.len(), 1);
}

/// After a store's format was upgraded (its event-id index rebuilt): a retry of `first`,
/// appended to `a` as the stream's first events before the upgrade, is recognised; its id
/// reused in `a` by another event is refused; the same id in another stream (`b`, new) is
/// another event, written next.
pub async fn event_ids_keep_their_meaning_after_an_upgrade<S: EventStore>(
    store: &S,
    a: &StreamName,
    b: &StreamName,
    first: &[EventData],
) {
    let head = store.head().await.unwrap().map_or(0, |h| h.position);
    let retry = store
        .append_to_stream(a, ExpectedRevision::NoStream, first.to_vec())
        .await
        .unwrap();
    assert!(retry.deduplicated);
    assert_eq!(retry.positions, Some(1..=first.len() as u64));
    let impostor = event("ThingHappened", 9).with_id(first[0].event_id());
    let refused = store
        .append_to_stream(a, ExpectedRevision::Any, vec![impostor.clone()])
        .await
        .unwrap_err();
    assert!(
        matches!(refused, StoreError::IdempotencyConflict { .. }),
        "{refused:?}"
    );
    let elsewhere = store
        .append_to_stream(b, ExpectedRevision::Any, vec![impostor])
        .await
        .unwrap();
    assert_eq!(elsewhere.positions, Some(head + 1..=head + 1));
}

pub async fn partial_retry_is_a_conflict<H: Harness>(h: &mut H) {
    let store = h.store();
    let s = unique_stream("partial");
    let batch = events(2);
    store
        .append_to_stream(&s, ExpectedRevision::NoStream, batch.clone())
        .await
        .unwrap();
    let head = store.head().await.unwrap();
    // Known first event followed by a new one.
    let mixed = vec![batch[0].clone(), event("ThingHappened", 9)];
    assert!(matches!(
        store
            .append_to_stream(&s, ExpectedRevision::Any, mixed)
            .await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    // New first event followed by a known one.
    let mixed = vec![event("ThingHappened", 9), batch[1].clone()];
    assert!(matches!(
        store
            .append_to_stream(&s, ExpectedRevision::Any, mixed)
            .await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    // Known events in the wrong order.
    let swapped = vec![batch[1].clone(), batch[0].clone()];
    assert!(matches!(
        store
            .append_to_stream(&s, ExpectedRevision::Any, swapped)
            .await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    assert_eq!(store.head().await.unwrap(), head);
}

pub async fn duplicate_id_inside_one_append_is_a_conflict<H: Harness>(h: &mut H) {
    let store = h.store();
    let s = unique_stream("dup");
    let e = event("ThingHappened", 1);
    let twice = vec![e.clone(), event("ThingHappened", 2).with_id(e.event_id())];
    assert!(matches!(
        store
            .append_to_stream(&s, ExpectedRevision::Any, twice)
            .await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    assert!(store.stream_info(&s).await.unwrap().is_none());
}

/// Appends sent together share a group commit; retries, reused ids and duplicates among them
/// get their own answer and nothing else of the group is lost or changed.
pub async fn faulty_appends_in_one_group_fail_alone<H: Harness>(h: &mut H) {
    let store = h.store();
    let s = unique_stream("group");
    let original = events(2);
    let first = store
        .append_to_stream(&s, ExpectedRevision::NoStream, original.clone())
        .await
        .unwrap();
    let head = store.head().await.unwrap().map_or(0, |h| h.position);
    let good: Vec<StreamName> = (0..40).map(|_| unique_stream("good")).collect();
    let mut appends = Vec::new();
    for (i, name) in good.iter().enumerate() {
        let writer = store.clone();
        let (name, batch) = (name.clone(), events(1 + i as u64 % 3));
        appends.push(tokio::spawn(async move {
            writer
                .append_to_stream(&name, ExpectedRevision::NoStream, batch)
                .await
        }));
        let writer = store.clone();
        let s = s.clone();
        let (expected, faulty) = match i {
            // A retry of the first append, with an expectation it still meets.
            5 => (ExpectedRevision::Any, original.clone()),
            // An impostor reusing the original's first id.
            15 => (
                ExpectedRevision::Any,
                vec![event("ThingHappened", 7).with_id(original[0].event_id())],
            ),
            // The same impostor with the original's expectation, which it no longer meets:
            // looked at as a retry, it only partly matches.
            20 => (
                ExpectedRevision::NoStream,
                vec![event("ThingHappened", 11).with_id(original[0].event_id())],
            ),
            // New first event, known second one.
            25 => (
                ExpectedRevision::Any,
                vec![event("ThingHappened", 8), original[1].clone()],
            ),
            // One id twice in one append.
            35 => {
                let e = event("ThingHappened", 9);
                (
                    ExpectedRevision::Any,
                    vec![e.clone(), event("ThingHappened", 10).with_id(e.event_id())],
                )
            }
            _ => continue,
        };
        appends.push(tokio::spawn(async move {
            writer.append_to_stream(&s, expected, faulty).await
        }));
    }
    let outcomes: Vec<_> = futures::future::join_all(appends)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mut written = 0;
    let mut retried = 0;
    let mut conflicts = 0;
    for outcome in outcomes {
        match outcome {
            Ok(result) if result.deduplicated => {
                assert_eq!(result.positions, first.positions);
                retried += 1;
            }
            Ok(result) => written += result.positions.map_or(0, |p| p.count()),
            Err(StoreError::IdempotencyConflict { .. }) => conflicts += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((retried, conflicts), (1, 4));
    let expected: usize = (0..40).map(|i| 1 + i % 3).sum();
    assert_eq!(written, expected);
    assert_eq!(
        store.head().await.unwrap().map_or(0, |h| h.position),
        head + expected as u64
    );
    for (i, name) in good.iter().enumerate() {
        let info = store.stream_info(name).await.unwrap().unwrap();
        assert_eq!(info.last_revision, (i % 3) as u64, "{name}");
    }
    let info = store.stream_info(&s).await.unwrap().unwrap();
    assert_eq!(info.last_revision, 1, "nothing faulty was written to {s}");
    assert!(verify::verify(&store, None).await.unwrap().is_ok());
}

pub async fn concurrent_appenders_to_one_stream_one_wins_each_revision<H: Harness>(h: &mut H) {
    let store = h.store();
    let s = unique_stream("race");
    store
        .append_to_stream(&s, ExpectedRevision::NoStream, events(1))
        .await
        .unwrap();
    let writers = 16;
    let rounds = 10;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let (mut wins, mut conflicts) = (0u32, 0u32);
            for r in 0..rounds {
                let current = store.stream_info(&s).await.unwrap().unwrap().last_revision;
                // Two events per append, so a half-written append would show.
                let pair = vec![
                    EventData::json("PairStarted", &json!({"w": w, "r": r})).unwrap(),
                    EventData::json("PairEnded", &json!({"w": w, "r": r})).unwrap(),
                ];
                match store
                    .append_to_stream(&s, ExpectedRevision::Exact(current), pair)
                    .await
                {
                    Ok(_) => wins += 1,
                    Err(StoreError::WrongExpectedRevision { .. }) => conflicts += 1,
                    Err(e) => panic!("unexpected error {e}"),
                }
            }
            (wins, conflicts)
        }));
    }
    let mut total_wins = 0;
    let mut total_conflicts = 0;
    for t in tasks {
        let (w, c) = t.await.unwrap();
        total_wins += w;
        total_conflicts += c;
    }
    assert_eq!(total_wins + total_conflicts, writers * rounds);
    assert!(
        total_wins >= 1 && total_conflicts >= 1,
        "wins {total_wins}, conflicts {total_conflicts}"
    );
    let recorded = read_whole_stream(&store, &s).await;
    assert_eq!(recorded.len() as u32, 1 + 2 * total_wins);
    for (i, e) in recorded.iter().enumerate() {
        assert_eq!(e.revision, i as u64);
    }
    for pair in recorded[1..].chunks(2) {
        assert_eq!(pair[0].event_type, "PairStarted");
        assert_eq!(pair[1].event_type, "PairEnded");
        assert_eq!(
            pair[0].data, pair[1].data,
            "an append was interleaved with another"
        );
    }
}

pub async fn concurrent_appenders_to_many_streams_all_persisted<H: Harness>(h: &mut H) {
    let store = h.store();
    let before = store.head().await.unwrap().map_or(0, |h| h.position);
    let writers = 32u64;
    let appends = 10u64;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let s = unique_stream(&format!("many{w}"));
            let mut positions = Vec::new();
            for a in 0..appends {
                let r = store
                    .append_to_stream(&s, ExpectedRevision::Any, events(1 + a % 3))
                    .await
                    .unwrap();
                positions.extend(r.positions.unwrap());
            }
            (s, positions)
        }));
    }
    let mut acknowledged = Vec::new();
    for t in tasks {
        let (s, positions) = t.await.unwrap();
        let recorded = read_whole_stream(&store, &s).await;
        let expected_len: u64 = (0..appends).map(|a| 1 + a % 3).sum();
        assert_eq!(recorded.len() as u64, expected_len);
        assert!(recorded.windows(2).all(|w| w[0].position < w[1].position));
        acknowledged.extend(positions);
    }
    acknowledged.sort_unstable();
    let total = acknowledged.len() as u64;
    assert_eq!(
        acknowledged,
        (before + 1..=before + total).collect::<Vec<_>>()
    );
    let log = all_events(&store).await;
    let positions: Vec<u64> = log.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=before + total).collect::<Vec<_>>());
}

/// What a subscription hands out next (an event or a chunk), failing the test if it stalls,
/// ends or fails.
async fn arrived<T>(
    next: impl std::future::Future<Output = Option<Result<T, palier_store::StoreError>>>,
) -> T {
    tokio::time::timeout(Duration::from_secs(30), next)
        .await
        .expect("subscription stalled")
        .expect("subscription ended")
        .expect("subscription failed")
}

async fn collect_subscription(
    sub: &mut palier_store::Subscription,
    want: usize,
) -> Vec<RecordedEvent> {
    let mut got = Vec::with_capacity(want);
    while got.len() < want {
        got.push(arrived(sub.next()).await);
    }
    got
}

/// Like [`collect_subscription`], by chunks ([`palier_store::Subscription::next_chunk`], as
/// the projection engine reads); with `mixed`, one event by `next` between chunks.
async fn collect_chunks(
    sub: &mut palier_store::Subscription,
    want: usize,
    mixed: bool,
) -> Vec<RecordedEvent> {
    let mut got = Vec::with_capacity(want);
    while got.len() < want {
        let chunk = arrived(sub.next_chunk()).await;
        assert!(!chunk.is_empty(), "an empty chunk");
        got.extend(chunk.iter().cloned());
        if mixed && got.len() < want {
            got.extend(collect_subscription(sub, 1).await);
        }
    }
    got
}

pub async fn subscription_from_zero_while_writers_run_sees_each_event_once<H: Harness>(h: &mut H) {
    let store = h.store();
    // Some history before the subscription starts, more racing with its switch to live.
    for _ in 0..50 {
        store
            .append_to_stream(&unique_stream("pre"), ExpectedRevision::Any, events(3))
            .await
            .unwrap();
    }
    let before = store.head().await.unwrap().unwrap().position;
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let s = unique_stream("live");
                for _ in 0..100 {
                    store
                        .append_to_stream(&s, ExpectedRevision::Any, events(2))
                        .await
                        .unwrap();
                    // Paced, so the subscription's switch from history to live happens while
                    // appends are still landing.
                    tokio::time::sleep(Duration::from_micros(500)).await;
                }
            })
        })
        .collect();
    // Subscriptions started at different moments of the write load, so that some switch from
    // history to live while appends are landing.
    let mut subs = Vec::new();
    for _ in 0..12 {
        subs.push(store.subscribe_to_all(0, EventFilter::all()));
        tokio::time::sleep(Duration::from_millis(4)).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    let total = store.head().await.unwrap().unwrap().position;
    assert_eq!(total, before + 8 * 100 * 2);
    // A third read event by event, a third by chunks, a third both ways in turn.
    for (i, sub) in subs.iter_mut().enumerate() {
        let got = match i % 3 {
            0 => collect_subscription(sub, total as usize).await,
            n => collect_chunks(sub, total as usize, n == 2).await,
        };
        let positions: Vec<u64> = got.iter().map(|e| e.position).collect();
        assert_eq!(positions, (1..=total).collect::<Vec<_>>());
        // Nothing more arrives: no duplicate after the end.
        assert!(
            tokio::time::timeout(Duration::from_millis(100), sub.next_chunk())
                .await
                .is_err()
        );
    }
}

pub async fn subscription_resumes_after_checkpoint<H: Harness>(h: &mut H) {
    let store = h.store();
    let s = unique_stream("resume");
    store
        .append_to_stream(&s, ExpectedRevision::Any, events(10))
        .await
        .unwrap();
    let head = store.head().await.unwrap().unwrap().position;
    let checkpoint = head - 4;
    let mut sub = store.subscribe_to_all(checkpoint, EventFilter::all());
    let got = collect_subscription(&mut sub, 4).await;
    assert_eq!(got.first().unwrap().position, checkpoint + 1);
    store
        .append_to_stream(&s, ExpectedRevision::Any, events(1))
        .await
        .unwrap();
    let live = collect_subscription(&mut sub, 1).await;
    assert_eq!(live[0].position, head + 1);
}

/// The race a projection meets at start: it subscribes while the one append that follows is
/// being committed, and nothing is appended after it. The subscriber must see that event
/// without a later one to reveal the gap (a lost wake-up would leave it waiting forever).
pub async fn subscription_started_as_the_last_append_commits_sees_it<H: Harness>(h: &mut H) {
    let store = h.store();
    let s = unique_stream("race");
    for round in 0..200u64 {
        let start = store.head().await.unwrap().map_or(0, |h| h.position);
        let append = {
            let store = store.clone();
            let s = s.clone();
            tokio::spawn(async move {
                store
                    .append_to_stream(&s, ExpectedRevision::Any, events(1))
                    .await
                    .unwrap()
            })
        };
        // Vary where the subscription starts relative to the commit.
        if round % 3 == 1 {
            tokio::task::yield_now().await;
        }
        let mut sub = store.subscribe_to_all(start, EventFilter::all());
        let got = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap_or_else(|_| panic!("round {round}: the event after {start} never arrived"))
            .unwrap()
            .unwrap();
        assert_eq!(got.position, start + 1, "round {round}");
        append.await.unwrap();
    }
}

pub async fn slow_subscriber_blocks_nobody_and_loses_nothing<H: Harness>(h: &mut H) {
    let store = h.store();
    let start = store.head().await.unwrap().map_or(0, |h| h.position);
    let mut slow = store.subscribe_to_all(start, EventFilter::all());
    let mut fast = store.subscribe_to_all(start, EventFilter::all());
    // More committed batches than the live feed buffers, while `slow` reads nothing.
    let n = palier_store::subscription::LIVE_FEED_CAPACITY + 600;
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let s = unique_stream("flood");
                for _ in 0..n / 4 {
                    store
                        .append_to_stream(&s, ExpectedRevision::Any, events(1))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let fast_got = collect_subscription(&mut fast, n).await;
    for w in writers {
        tokio::time::timeout(Duration::from_secs(60), w)
            .await
            .expect("a writer was blocked")
            .unwrap();
    }
    let slow_got = collect_chunks(&mut slow, n, false).await;
    let want: Vec<u64> = (start + 1..=start + n as u64).collect();
    assert_eq!(
        fast_got.iter().map(|e| e.position).collect::<Vec<_>>(),
        want
    );
    assert_eq!(
        slow_got.iter().map(|e| e.position).collect::<Vec<_>>(),
        want
    );
}

pub async fn reading_a_missing_stream<H: Harness>(h: &mut H) {
    let store = h.store();
    let s = unique_stream("missing");
    assert!(read_whole_stream(&store, &s).await.is_empty());
    assert!(
        store
            .read_stream(&s, StreamFrom::End, Direction::Backwards, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.stream_info(&s).await.unwrap().is_none());
}

pub async fn empty_append_checks_expectation_only<H: Harness>(h: &mut H) {
    let store = h.store();
    let s = unique_stream("empty");
    let head = store.head().await.unwrap();
    let r = store
        .append_to_stream(&s, ExpectedRevision::NoStream, vec![])
        .await
        .unwrap();
    assert_eq!(r.current_revision, CurrentRevision::NoStream);
    assert_eq!(r.positions, None);
    assert!(
        store.stream_info(&s).await.unwrap().is_none(),
        "an empty append created the stream"
    );
    assert_wrong_expected(
        store
            .append_to_stream(&s, ExpectedRevision::Exact(3), vec![])
            .await,
        CurrentRevision::NoStream,
    );
    assert_eq!(store.head().await.unwrap(), head);
}

pub async fn one_mebibyte_event_round_trips<H: Harness>(h: &mut H) {
    let store = h.store();
    let s = unique_stream("big");
    let blob: String = (0..1024 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let e = EventData::json("BlobStored", &json!({ "blob": blob })).unwrap();
    assert!(e.data().len() > 1024 * 1024);
    store
        .append_to_stream(&s, ExpectedRevision::NoStream, vec![e.clone()])
        .await
        .unwrap();
    let back = read_whole_stream(&store, &s).await;
    assert_eq!(back[0].data, e.data().clone());
    assert_eq!(
        back[0].data_json().unwrap()["blob"].as_str().unwrap().len(),
        1024 * 1024
    );
    assert!(verify::verify(&store, None).await.unwrap().is_ok());
}

pub async fn read_all_filters_by_prefix_and_type<H: Harness>(h: &mut H) {
    let store = h.store();
    let tag = Uuid::new_v4().simple().to_string();
    let person = stream(&format!("person{tag}-1"));
    let school = stream(&format!("school{tag}-1"));
    store
        .append_to_stream(
            &person,
            ExpectedRevision::Any,
            vec![event("Registered", 1), event("Scored", 2)],
        )
        .await
        .unwrap();
    store
        .append_to_stream(
            &school,
            ExpectedRevision::Any,
            vec![event("Registered", 3), event("Attested", 4)],
        )
        .await
        .unwrap();
    store
        .append_to_stream(&person, ExpectedRevision::Any, vec![event("Scored", 5)])
        .await
        .unwrap();

    let read = |filter: EventFilter| {
        let store = store.clone();
        async move {
            let slice = store.read_all(1, &filter, 1000).await.unwrap();
            assert!(slice.is_end);
            slice
                .events
                .iter()
                .map(|e| e.data_json().unwrap()["n"].as_u64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        read(EventFilter::stream_prefixes([format!("person{tag}")]).unwrap()).await,
        vec![1, 2, 5]
    );
    assert_eq!(
        read(
            EventFilter::stream_prefixes([format!("school{tag}")])
                .unwrap()
                .and_event_types(["Attested"])
                .unwrap()
        )
        .await,
        vec![4]
    );
    let registered = EventFilter::stream_prefixes([format!("person{tag}"), format!("school{tag}")])
        .unwrap()
        .and_event_types(["Registered"])
        .unwrap();
    assert_eq!(read(registered.clone()).await, vec![1, 3]);
    // Paging a filtered read: `scanned_to` lets the next page skip what was examined.
    let first = store.read_all(1, &registered, 1).await.unwrap();
    assert_eq!(first.events.len(), 1);
    assert!(!first.is_end);
    let second = store
        .read_all(first.scanned_to + 1, &registered, 1)
        .await
        .unwrap();
    assert_eq!(second.events[0].data_json().unwrap()["n"], 3);
    let third = store
        .read_all(second.scanned_to + 1, &registered, 1)
        .await
        .unwrap();
    assert!(third.events.is_empty() && third.is_end);
    assert!(EventFilter::event_types(["not a type"]).is_err());
    assert!(EventFilter::stream_prefixes([""]).is_err());
}

pub async fn the_fold_read_agrees_with_read_all<H: Harness>(h: &mut H) {
    let store = h.store();
    let tag = Uuid::new_v4().simple().to_string();
    let person = stream(&format!("person{tag}-1"));
    let school = stream(&format!("école{tag}-1"));
    for (s, kind, n) in [
        (&person, "Registered", 1),
        (&person, "Scored", 2),
        (&school, "Registered", 3),
        (&person, "Scored", 4),
        (&school, "Attested", 5),
        (&school, "Attested", 6),
    ] {
        store
            .append_to_stream(s, ExpectedRevision::Any, vec![event(kind, n)])
            .await
            .unwrap();
    }
    let both = [format!("person{tag}"), format!("école{tag}")];
    let filters = [
        EventFilter::all(),
        EventFilter::stream_prefixes(both.clone()).unwrap(),
        EventFilter::stream_prefixes([format!("école{tag}")]).unwrap(),
        EventFilter::stream_prefixes(both)
            .unwrap()
            .and_event_types(["Scored", "Attested"])
            .unwrap(),
    ];
    for filter in &filters {
        for limit in [1, 2, 5, 1000] {
            let (mut from, mut pages) = (1, 0);
            loop {
                let full = store.read_all(from, filter, limit).await.unwrap();
                let lean = store.read_all_for_fold(from, filter, limit).await.unwrap();
                let expected: Vec<_> = full.events.iter().map(|e| e.as_fold()).collect();
                assert_eq!(lean.iter().collect::<Vec<_>>(), expected, "limit {limit}");
                assert_eq!(lean.scanned_to, full.scanned_to);
                assert_eq!(lean.is_end, full.is_end);
                assert_eq!(lean.last_position(), full.events.last().map(|e| e.position));
                from = full.scanned_to + 1;
                pages += 1;
                if full.is_end {
                    break;
                }
                assert!(pages < 10_000, "paging never ended");
            }
        }
    }
    // Past the head: empty, at the end, nothing examined beyond the head.
    let head = store.head().await.unwrap().unwrap().position;
    let past = store
        .read_all_for_fold(head + 5, &EventFilter::all(), 10)
        .await
        .unwrap();
    assert!(past.is_empty() && past.is_end);
    assert_eq!(past.scanned_to, head + 4);
}

pub async fn filtered_subscription<H: Harness>(h: &mut H) {
    let store = h.store();
    let tag = Uuid::new_v4().simple().to_string();
    let wanted = stream(&format!("wanted{tag}"));
    let other = stream(&format!("other{tag}"));
    store
        .append_to_stream(&wanted, ExpectedRevision::Any, events(2))
        .await
        .unwrap();
    store
        .append_to_stream(&other, ExpectedRevision::Any, events(3))
        .await
        .unwrap();
    let mut sub = store.subscribe_to_all(
        0,
        EventFilter::stream_prefixes([format!("wanted{tag}")]).unwrap(),
    );
    let history = collect_subscription(&mut sub, 2).await;
    assert!(history.iter().all(|e| e.stream == wanted.as_str()));
    store
        .append_to_stream(&other, ExpectedRevision::Any, events(3))
        .await
        .unwrap();
    store
        .append_to_stream(&wanted, ExpectedRevision::Any, events(1))
        .await
        .unwrap();
    let live = collect_subscription(&mut sub, 1).await;
    assert_eq!(live[0].stream, wanted.as_str());
    assert_eq!(live[0].revision, 2);
}

pub async fn read_stream_directions_and_limits<H: Harness>(h: &mut H) {
    let store = h.store();
    let s = unique_stream("dir");
    store
        .append_to_stream(&s, ExpectedRevision::Any, events(5))
        .await
        .unwrap();
    let revs = |v: Vec<RecordedEvent>| v.iter().map(|e| e.revision).collect::<Vec<_>>();
    assert_eq!(
        revs(
            store
                .read_stream(&s, StreamFrom::Start, Direction::Forwards, 3)
                .await
                .unwrap()
        ),
        vec![0, 1, 2]
    );
    assert_eq!(
        revs(
            store
                .read_stream(&s, StreamFrom::Revision(3), Direction::Forwards, 10)
                .await
                .unwrap()
        ),
        vec![3, 4]
    );
    assert_eq!(
        revs(
            store
                .read_stream(&s, StreamFrom::End, Direction::Backwards, 2)
                .await
                .unwrap()
        ),
        vec![4, 3]
    );
    assert_eq!(
        revs(
            store
                .read_stream(&s, StreamFrom::Revision(1), Direction::Backwards, 10)
                .await
                .unwrap()
        ),
        vec![1, 0]
    );
    assert!(
        store
            .read_stream(&s, StreamFrom::Revision(9), Direction::Forwards, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .read_stream(&s, StreamFrom::Start, Direction::Forwards, 0)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn recorded_fields_and_stream_info<H: Harness>(h: &mut H) {
    let store = h.store();
    let s = unique_stream("fields");
    let correlation = Uuid::new_v4();
    let occurred = chrono::DateTime::parse_from_rfc3339("2025-06-30T08:00:00.123456Z")
        .unwrap()
        .to_utc();
    let metadata = Metadata {
        actor: Some("lms:moodle-academie-lyon".into()),
        correlation_id: Some(correlation),
        causation_id: Some(Uuid::new_v4()),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        tenant: Some("lyon".into()),
        occurred_at: Some(occurred),
    };
    let e = EventData::json("KnowledgeElementsRecorded", &json!({"b": 1, "a": [1, 2]}))
        .unwrap()
        .with_schema_version(2)
        .with_metadata(metadata.clone());
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let r = store
        .append_to_stream(&s, ExpectedRevision::NoStream, vec![e.clone()])
        .await
        .unwrap();
    let got = read_whole_stream(&store, &s).await.remove(0);
    assert_eq!(got.position, *r.positions.unwrap().start());
    assert_eq!(got.stream, s.as_str());
    assert_eq!(got.revision, 0);
    assert_eq!(got.event_id, e.event_id());
    assert_eq!(got.event_type, "KnowledgeElementsRecorded");
    assert_eq!(got.schema_version, 2);
    assert_eq!(&got.data[..], br#"{"a":[1,2],"b":1}"#);
    assert_eq!(got.metadata, metadata);
    assert!(got.recorded_at >= before && got.recorded_at <= chrono::Utc::now());
    store
        .append_to_stream(&s, ExpectedRevision::Exact(0), events(2))
        .await
        .unwrap();
    let info = store.stream_info(&s).await.unwrap().unwrap();
    assert_eq!(info.last_revision, 2);
    assert_eq!(info.first_position, got.position);
    assert_eq!(info.last_position, got.position + 2);
    assert!(info.created_at <= info.updated_at);
    let head = store.head().await.unwrap().unwrap();
    assert_eq!(head.position, info.last_position);
}

pub async fn hash_chain_verifies_and_checkpoint_is_checked<H: Harness>(h: &mut H) {
    let store = h.store();
    for i in 0..20 {
        store
            .append_to_stream(
                &unique_stream("chain"),
                ExpectedRevision::Any,
                events(1 + i % 4),
            )
            .await
            .unwrap();
    }
    let report = verify::verify(&store, None).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    let head = store.head().await.unwrap().unwrap();
    assert_eq!(report.head, Some(head));
    assert_eq!(report.checked, head.position);
    // Chain links: each hash follows from the previous one.
    let log = all_events(&store).await;
    let mut previous = palier_store::Hash::GENESIS;
    for e in &log {
        assert_eq!(palier_store::hash::recompute(&previous, e), e.hash);
        previous = e.hash;
    }
    let mid = &log[log.len() / 2];
    let good = palier_store::LogHead {
        position: mid.position,
        hash: mid.hash,
    };
    assert!(verify::verify(&store, Some(good)).await.unwrap().is_ok());
    let forged = palier_store::LogHead {
        position: mid.position,
        hash: palier_store::Hash([9; 32]),
    };
    let bad = verify::verify(&store, Some(forged)).await.unwrap();
    assert_eq!(bad.broken.unwrap().position, mid.position);
    let beyond = palier_store::LogHead {
        position: head.position + 10,
        hash: head.hash,
    };
    assert!(!verify::verify(&store, Some(beyond)).await.unwrap().is_ok());
}

pub async fn data_survives_restart<H: Harness>(h: &mut H) {
    let s = unique_stream("durable");
    h.store()
        .append_to_stream(&s, ExpectedRevision::Any, events(3))
        .await
        .unwrap();
    let before: BTreeMap<u64, RecordedEvent> = all_events(&h.store())
        .await
        .into_iter()
        .map(|e| (e.position, e))
        .collect();
    h.reopen().await;
    let after: BTreeMap<u64, RecordedEvent> = all_events(&h.store())
        .await
        .into_iter()
        .map(|e| (e.position, e))
        .collect();
    assert_eq!(before, after);
    let r = h
        .store()
        .append_to_stream(&s, ExpectedRevision::Exact(2), events(1))
        .await
        .unwrap();
    assert_eq!(r.positions.unwrap().start(), &(before.len() as u64 + 1));
    assert!(verify::verify(&h.store(), None).await.unwrap().is_ok());
}

async fn export_all<S: EventStore>(store: &S) -> Vec<u8> {
    let mut out = Vec::new();
    palier_store::ndjson::export(store, &mut out, 1, None, &EventFilter::all())
        .await
        .unwrap();
    out
}

pub async fn export_then_import_reproduces_the_log<H: Harness>(h: &mut H) {
    let store = h.store();
    let metadata = Metadata {
        actor: Some("lms".into()),
        correlation_id: Some(Uuid::new_v4()),
        tenant: Some("créteil".into()),
        occurred_at: Some(chrono::Utc::now()),
        ..Metadata::default()
    };
    for i in 0..30u64 {
        let s = stream(&format!("person-{}", i % 7));
        let payload =
            json!({"z": i, "a": [1.5, "é\u{1F600}", null], "nested": {"b": true, "a": 1e3}});
        let e = EventData::json("ThingHappened", &payload)
            .unwrap()
            .with_metadata(metadata.clone());
        store
            .append_to_stream(&s, ExpectedRevision::Any, vec![e, event("Other", i)])
            .await
            .unwrap();
    }
    let exported = export_all(&store).await;
    let target = h.another().await;
    let n = palier_store::ndjson::import(&target, exported.as_slice())
        .await
        .unwrap();
    assert_eq!(n, 60);
    assert_eq!(all_events(&target).await, all_events(&store).await);
    assert_eq!(target.head().await.unwrap(), store.head().await.unwrap());
    assert!(verify::verify(&target, None).await.unwrap().is_ok());
    // The imported log goes on like any other.
    let r = target
        .append_to_stream(
            &stream("person-1"),
            ExpectedRevision::StreamExists,
            events(1),
        )
        .await
        .unwrap();
    assert_eq!(*r.positions.unwrap().start(), 61);
    // A range export holds exactly that range.
    let mut part = Vec::new();
    let written =
        palier_store::ndjson::export(&store, &mut part, 10, Some(19), &EventFilter::all())
            .await
            .unwrap();
    assert_eq!(written, 10);
    assert_eq!(String::from_utf8(part).unwrap().lines().count(), 10);
}

pub async fn import_refuses_altered_or_incomplete_exports<H: Harness>(h: &mut H) {
    let store = h.store();
    for i in 0..5 {
        store
            .append_to_stream(
                &stream("s-1"),
                ExpectedRevision::Any,
                vec![event("ThingHappened", i)],
            )
            .await
            .unwrap();
    }
    let exported = String::from_utf8(export_all(&store).await).unwrap();
    // One payload value changed: the chain breaks at that event, nothing of its batch lands.
    let altered = exported.replacen("\"n\":2", "\"n\":7", 1);
    assert_ne!(altered, exported);
    let target = h.another().await;
    let err = palier_store::ndjson::import(&target, altered.as_bytes())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("position 3"), "{err}");
    assert!(target.head().await.unwrap().is_none());
    // A missing line: the next position does not continue the log.
    let gapped: String = exported
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let err = palier_store::ndjson::import(&target, gapped.as_bytes())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not continue"), "{err}");
    // Importing on top of a non-empty log does not continue it either.
    let err = palier_store::ndjson::import(&store, exported.as_bytes())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not continue"), "{err}");
    let garbage = palier_store::ndjson::import(&target, "{\"position\": 1}\n".as_bytes())
        .await
        .unwrap_err();
    assert!(garbage.to_string().contains("line 1"), "{garbage}");
}

pub async fn position_at_maps_store_time_to_positions<H: Harness>(h: &mut H) {
    let store = h.store();
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    assert_eq!(
        store.position_at(before).await.unwrap(),
        1,
        "empty log: head + 1"
    );
    let s = unique_stream("time");
    store
        .append_to_stream(&s, ExpectedRevision::Any, events(3))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let middle = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    store
        .append_to_stream(&s, ExpectedRevision::Any, events(2))
        .await
        .unwrap();
    assert_eq!(store.position_at(before).await.unwrap(), 1);
    assert_eq!(store.position_at(middle).await.unwrap(), 4);
    let after = chrono::Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(store.position_at(after).await.unwrap(), 6);
    let log = all_events(&store).await;
    assert_eq!(
        store.position_at(log[3].recorded_at).await.unwrap(),
        4,
        "inclusive of that instant"
    );
}

/// Appends of hundreds of events (which a backend may write by another path than small ones,
/// PostgreSQL's binary `COPY`): every field and NULL round-trips, the chain verifies, a retry
/// is recognised, a reused id is refused without writing anything, and the log imports.
pub async fn large_appends_keep_every_field_and_the_chain<H: Harness>(h: &mut H) {
    let store = h.store();
    store
        .append_to_stream(&unique_stream("small"), ExpectedRevision::Any, events(3))
        .await
        .unwrap();
    let s = unique_stream("large");
    let occurred = chrono::DateTime::parse_from_rfc3339("2025-06-30T08:00:00.123456Z")
        .unwrap()
        .to_utc();
    let batch: Vec<EventData> = (0..300u64)
        .map(|i| {
            let some = |k: u64| i % k == 0;
            let metadata = Metadata {
                actor: some(2).then(|| format!("lms:é-{i}")),
                correlation_id: some(3).then(Uuid::new_v4),
                causation_id: some(5).then(Uuid::new_v4),
                trace_id: some(7).then(|| "4bf92f3577b34da6a3ce929d0e0e4736".into()),
                tenant: some(11).then(|| "créteil".into()),
                occurred_at: some(13).then_some(occurred),
            };
            EventData::json("ThingHappened", &json!({"n": i, "text": "é\u{1F600}"}))
                .unwrap()
                .with_schema_version(1 + (i % 3) as u32)
                .with_metadata(metadata)
        })
        .collect();
    let first = store
        .append_to_stream(&s, ExpectedRevision::NoStream, batch.clone())
        .await
        .unwrap();
    assert_eq!(first.positions, Some(4..=303));
    assert_eq!(first.current_revision, CurrentRevision::Current(299));
    let got = read_whole_stream(&store, &s).await;
    assert_eq!(got.len(), 300);
    for (i, (sent, recorded)) in batch.iter().zip(&got).enumerate() {
        assert!(sent.same_fact_as(recorded), "event {i}: {recorded:?}");
        assert_eq!(recorded.event_id, sent.event_id());
        assert_eq!(recorded.metadata, *sent.metadata());
        assert_eq!(recorded.revision, i as u64);
        assert_eq!(recorded.position, 4 + i as u64);
    }
    let retry = store
        .append_to_stream(&s, ExpectedRevision::NoStream, batch.clone())
        .await
        .unwrap();
    assert!(retry.deduplicated);
    assert_eq!(retry.positions, first.positions);
    let head = store.head().await.unwrap();
    let mut reusing = events(200);
    reusing[150] = event("ThingHappened", 7).with_id(batch[42].event_id());
    assert!(matches!(
        store
            .append_to_stream(&s, ExpectedRevision::Any, reusing)
            .await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    assert_eq!(store.head().await.unwrap(), head);
    store
        .append_to_stream(&s, ExpectedRevision::Exact(299), events(200))
        .await
        .unwrap();
    let report = verify::verify(&store, None).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.checked, 503);
    let target = h.another().await;
    let n = palier_store::ndjson::import(&target, export_all(&store).await.as_slice())
        .await
        .unwrap();
    assert_eq!(n, 503);
    assert_eq!(all_events(&target).await, all_events(&store).await);
    assert!(verify::verify(&target, None).await.unwrap().is_ok());
}

/// The writer's commit figures count what landed: appends and events written, not refusals
/// nor retries of appends that had landed; every commit is in one duration bucket.
pub async fn commits_are_counted_with_what_they_wrote<H: Harness>(h: &mut H) {
    let store = h.another().await;
    assert_eq!(store.commit_figures().commits, 0);
    let s = unique_stream("commits");
    let first = events(3);
    store
        .append_to_stream(&s, ExpectedRevision::NoStream, first.clone())
        .await
        .unwrap();
    store
        .append_to_stream(&s, ExpectedRevision::Exact(2), events(2))
        .await
        .unwrap();
    // A conflict and a retry of the first append write nothing.
    store
        .append_to_stream(&s, ExpectedRevision::NoStream, events(1))
        .await
        .unwrap_err();
    let retried = store
        .append_to_stream(&s, ExpectedRevision::NoStream, first)
        .await
        .unwrap();
    assert!(retried.deduplicated);
    let figures = store.commit_figures();
    assert_eq!(
        (figures.commits, figures.appends, figures.events),
        (2, 2, 5),
        "{figures:?}"
    );
    assert_eq!(figures.buckets.iter().sum::<u64>(), 2);
    assert!(figures.seconds > 0.0);
}
