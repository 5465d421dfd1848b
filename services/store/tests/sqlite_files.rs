//! What the SQLite backend does with files it did not write, with a full disk, and with a
//! second process: refuse clearly, never overwrite, stay readable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palier_store::sqlite::{APPLICATION_ID, FORMAT_VERSION};
use palier_store::{
    EventData, EventFilter, EventStore, ExpectedRevision, SqliteOptions, SqliteStore, StoreError,
    StreamName, verify,
};
use serde_json::json;

// For the checks an upgraded store shares with the other backend (not the whole suite).
#[allow(unused_macros)]
mod contract;

fn stream(name: &str) -> StreamName {
    StreamName::parse(name).unwrap()
}

async fn open(path: &std::path::Path) -> Result<SqliteStore, StoreError> {
    SqliteStore::open(path, SqliteOptions::default()).await
}

#[tokio::test]
async fn a_file_that_is_not_sqlite_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let content = b"these are someone's notes, not a database\n".repeat(100);
    std::fs::write(&path, &content).unwrap();
    let err = open(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err:?}");
    assert!(err.to_string().contains("not an SQLite database"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), content);
}

#[tokio::test]
async fn another_applications_sqlite_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me');")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = open(&path).await.unwrap_err();
    assert!(err.to_string().contains("another application"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[tokio::test]
async fn a_store_of_a_newer_format_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {}; CREATE TABLE future (x);",
            FORMAT_VERSION + 1
        ))
        .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = open(&path).await.unwrap_err();
    assert!(
        matches!(err, StoreError::UnsupportedFormat { found, .. } if found == FORMAT_VERSION + 1),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade palier"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[tokio::test]
async fn an_empty_file_becomes_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    std::fs::write(&path, b"").unwrap();
    let store = open(&path).await.unwrap();
    store
        .append_to_stream(
            &stream("s-1"),
            ExpectedRevision::NoStream,
            vec![EventData::json("Happened", &json!({})).unwrap()],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_second_opener_is_refused_while_the_first_holds_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let first = open(&path).await.unwrap();
    let err = open(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    drop(first);
    open(&path).await.unwrap();
}

#[tokio::test]
async fn an_opener_waits_briefly_for_an_owner_that_is_closing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let first = open(&path).await.unwrap();
    let no_wait = SqliteOptions {
        lock_wait: std::time::Duration::ZERO,
        ..SqliteOptions::default()
    };
    let err = SqliteStore::open(&path, no_wait).await.unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    let closing = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        drop(first);
    });
    let patient = SqliteOptions {
        lock_wait: std::time::Duration::from_secs(10),
        ..SqliteOptions::default()
    };
    SqliteStore::open(&path, patient).await.unwrap();
    closing.await.unwrap();
}

#[tokio::test]
async fn invalid_names_and_payloads_are_refused_before_reaching_the_store() {
    assert!(StreamName::parse("").is_err());
    assert!(StreamName::parse("a".repeat(201)).is_err());
    assert!(StreamName::parse("bad\u{7}name").is_err());
    let err = EventData::json("not valid", &json!({})).unwrap_err();
    assert!(err.to_string().contains("event type"), "{err}");
    let err = EventData::from_json_bytes("Fine", b"{oops").unwrap_err();
    assert!(err.to_string().contains("not valid JSON"), "{err}");
}

#[tokio::test]
async fn a_full_disk_is_an_error_and_the_store_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    // A size cap behaves exactly like a full disk for SQLite (SQLITE_FULL).
    let options = SqliteOptions {
        max_page_count: Some(64),
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&path, options).await.unwrap();
    let s = stream("filling-1");
    let chunk = "x".repeat(8 * 1024);
    let mut acknowledged = 0u64;
    let full = loop {
        let e = EventData::json("Filled", &json!({ "chunk": chunk })).unwrap();
        match store
            .append_to_stream(&s, ExpectedRevision::Any, vec![e])
            .await
        {
            Ok(_) => acknowledged += 1,
            Err(e) => break e,
        }
        assert!(acknowledged < 10_000, "the cap never triggered");
    };
    assert!(matches!(full, StoreError::StorageFull(_)), "{full:?}");
    assert!(acknowledged > 0);
    // Everything acknowledged is there, the chain holds, small writes that fit still work
    // or fail cleanly, and reads go on.
    let slice = store
        .read_all(1, &EventFilter::all(), 100_000)
        .await
        .unwrap();
    assert_eq!(slice.events.len() as u64, acknowledged);
    assert!(verify::verify(&store, None).await.unwrap().is_ok());
    let again = store
        .append_to_stream(
            &s,
            ExpectedRevision::Any,
            vec![EventData::json("Filled", &json!({ "chunk": chunk })).unwrap()],
        )
        .await;
    assert!(
        matches!(again, Err(StoreError::StorageFull(_))),
        "{again:?}"
    );
    assert_eq!(store.head().await.unwrap().unwrap().position, acknowledged);
    drop(store);
    // Reopened without the cap, it takes writes again where it stopped.
    let store = open(&path).await.unwrap();
    let r = store
        .append_to_stream(
            &s,
            ExpectedRevision::Exact(acknowledged - 1),
            vec![EventData::json("Filled", &json!({})).unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(r.positions.unwrap(), acknowledged + 1..=acknowledged + 1);
    assert!(verify::verify(&store, None).await.unwrap().is_ok());
}

#[tokio::test]
async fn a_read_only_opener_reads_beside_the_writer_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let s = stream("audited-1");
    let event = |n: u64| EventData::json("ThingHappened", &json!({ "n": n })).unwrap();

    // Nothing there: refused, and nothing created.
    let err = SqliteStore::open_read_only(&path, SqliteOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err:?}");
    assert!(!path.exists());

    let writer = open(&path).await.unwrap();
    writer
        .append_to_stream(&s, ExpectedRevision::NoStream, vec![event(0), event(1)])
        .await
        .unwrap();
    // While the writer holds the store (a second writer would be refused).
    let reader = SqliteStore::open_read_only(&path, SqliteOptions::default())
        .await
        .unwrap();
    assert_eq!(reader.head().await.unwrap().unwrap().position, 2);
    let err = reader
        .append_to_stream(&s, ExpectedRevision::Any, vec![event(2)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
    assert!(err.to_string().contains("read-only"), "{err}");
    // Later commits of the writer are seen by later reads.
    writer
        .append_to_stream(&s, ExpectedRevision::Exact(1), vec![event(2)])
        .await
        .unwrap();
    let all = reader.read_all(1, &EventFilter::all(), 100).await.unwrap();
    assert_eq!(all.events.len(), 3);
    let report = verify::verify(&reader, None).await.unwrap();
    assert!(report.broken.is_none(), "{report:?}");
    assert_eq!(report.checked, 3);
    assert_eq!(
        report.head.unwrap().hash,
        writer.head().await.unwrap().unwrap().hash
    );

    // And after the writer has closed the store cleanly.
    drop(writer);
    drop(reader);
    let reader = SqliteStore::open_read_only(&path, SqliteOptions::default())
        .await
        .unwrap();
    assert_eq!(reader.head().await.unwrap().unwrap().position, 3);
    // The writer can come back while a read-only opener is there.
    let writer = open(&path).await.unwrap();
    writer
        .append_to_stream(&s, ExpectedRevision::Exact(2), vec![event(3)])
        .await
        .unwrap();
    assert_eq!(reader.head().await.unwrap().unwrap().position, 4);
}

#[tokio::test]
async fn closing_commits_what_was_accepted_checkpoints_and_refuses_later_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let s = stream("closing-1");
    let store = open(&path).await.unwrap();
    // Appends in flight while the store is asked to close: every one accepted before the
    // close is committed, none is lost.
    let appends: Vec<_> = (0..50u64)
        .map(|n| {
            let store = store.clone();
            let s = s.clone();
            tokio::spawn(async move {
                let data = EventData::json("ThingHappened", &json!({ "n": n })).unwrap();
                store
                    .append_to_stream(&s, ExpectedRevision::Any, vec![data])
                    .await
            })
        })
        .collect();
    tokio::task::yield_now().await;
    store.close().await.unwrap();
    let mut committed = 0;
    for append in appends {
        match append.await.unwrap() {
            Ok(_) => committed += 1,
            Err(e) => assert!(matches!(e, StoreError::Closed), "{e:?}"),
        }
    }
    let late = EventData::json("ThingHappened", &json!({ "n": 99 })).unwrap();
    let err = store
        .append_to_stream(&s, ExpectedRevision::Any, vec![late])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Closed), "{err:?}");
    // Reads still work, and see exactly what was acknowledged.
    assert_eq!(
        store.head().await.unwrap().map_or(0, |h| h.position),
        committed
    );
    // The WAL was checkpointed into the file: it is empty (or gone).
    let wal = dir.path().join("events.db-wal");
    assert_eq!(std::fs::metadata(&wal).map_or(0, |m| m.len()), 0);
    // Closing twice is harmless; a new owner finds every acknowledged event.
    store.close().await.unwrap();
    drop(store);
    let reopened = open(&path).await.unwrap();
    assert_eq!(
        reopened.head().await.unwrap().map_or(0, |h| h.position),
        committed
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_store_and_its_wal_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let store = open(&path).await.unwrap();
    let data = EventData::json("ThingHappened", &json!({ "n": 1 })).unwrap();
    store
        .append_to_stream(&stream("perm-1"), ExpectedRevision::Any, vec![data])
        .await
        .unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("events.db-wal")), 0o600);
    drop(store);
    // A store created world-readable by an older version is tightened when opened.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = open(&path).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    drop(store);
}

#[tokio::test]
async fn a_format_1_store_is_upgraded_when_opened_and_keeps_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let a = stream("person-a");
    let event = |n: u64| EventData::json("ThingHappened", &json!({ "n": n })).unwrap();
    {
        let store = open(&path).await.unwrap();
        store
            .append_to_stream(&a, ExpectedRevision::NoStream, vec![event(0), event(1)])
            .await
            .unwrap();
        store
            .append_to_stream(&stream("person-b"), ExpectedRevision::Any, vec![event(2)])
            .await
            .unwrap();
        store
            .append_to_stream(&a, ExpectedRevision::Exact(1), vec![event(3)])
            .await
            .unwrap();
        store.close().await.unwrap();
    }
    // Make it what format 1 wrote: stream columns rewritten at every append.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "ALTER TABLE streams ADD COLUMN last_revision INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE streams ADD COLUMN last_position INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE streams ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
             UPDATE streams SET
               last_revision = (SELECT max(revision) FROM events WHERE stream_id = streams.id),
               last_position = (SELECT max(position) FROM events WHERE stream_id = streams.id),
               updated_at = (SELECT max(recorded_at) FROM events WHERE stream_id = streams.id);
             DROP INDEX events_by_event_id;
             CREATE UNIQUE INDEX events_by_stream_event_id ON events (stream_id, event_id);
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let store = open(&path).await.unwrap();
    assert_eq!(format_version(&path), FORMAT_VERSION);
    // The stream's state is its last event's: the next append expects revision 2.
    let info = store.stream_info(&a).await.unwrap().unwrap();
    assert_eq!(
        (info.last_revision, info.first_position, info.last_position),
        (2, 1, 4)
    );
    let stale = store
        .append_to_stream(&a, ExpectedRevision::Exact(1), vec![event(4)])
        .await
        .unwrap_err();
    assert!(
        matches!(stale, StoreError::WrongExpectedRevision { .. }),
        "{stale:?}"
    );
    let next = store
        .append_to_stream(&a, ExpectedRevision::Exact(2), vec![event(5)])
        .await
        .unwrap();
    assert_eq!(next.positions, Some(5..=5));
    let info = store.stream_info(&a).await.unwrap().unwrap();
    assert_eq!((info.last_revision, info.last_position), (3, 5));
    assert!(info.updated_at >= info.created_at);
    let report = verify::verify(&store, None).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.checked, 5);
}

/// The store format recorded in the file.
fn format_version(path: &std::path::Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

/// The names of the indexes of the events table.
fn event_indexes(path: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut statement = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'events' ORDER BY name")
        .unwrap();
    statement
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn a_format_2_store_gets_its_event_id_index_keyed_by_id_and_keeps_idempotency() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let a = stream("person-a");
    let event = |n: u64| EventData::json("ThingHappened", &json!({ "n": n })).unwrap();
    let first = vec![event(0), event(1)];
    {
        let store = open(&path).await.unwrap();
        store
            .append_to_stream(&a, ExpectedRevision::NoStream, first.clone())
            .await
            .unwrap();
        store.close().await.unwrap();
    }
    // Make it what format 2 wrote: the event-id index keyed by the stream first.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP INDEX events_by_event_id;
             CREATE UNIQUE INDEX events_by_stream_event_id ON events (stream_id, event_id);
             PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let store = open(&path).await.unwrap();
    assert_eq!(
        event_indexes(&path),
        ["events_by_event_id", "events_by_stream_revision"]
    );
    contract::event_ids_keep_their_meaning_after_an_upgrade(
        &store,
        &a,
        &stream("person-b"),
        &first,
    )
    .await;
    assert_eq!(format_version(&path), FORMAT_VERSION);
}

#[tokio::test]
async fn the_checkpoint_threshold_bounds_the_wal() {
    // Appends without a close (which truncates the WAL): the WAL file is as big as the most
    // frames it held between two checkpoints.
    async fn wal_after_appends(checkpoint_pages: u32) -> u64 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let options = SqliteOptions {
            checkpoint_pages,
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open(&path, options).await.unwrap();
        for n in 0..300u64 {
            let data = EventData::json("ThingHappened", &json!({ "n": n })).unwrap();
            store
                .append_to_stream(
                    &stream(&format!("wal-{}", n % 50)),
                    ExpectedRevision::Any,
                    vec![data],
                )
                .await
                .unwrap();
        }
        let wal = std::fs::metadata(dir.path().join("events.db-wal"))
            .unwrap()
            .len();
        drop(store);
        wal
    }
    let small = wal_after_appends(8).await;
    let large = wal_after_appends(100_000).await;
    assert!(
        small * 4 < large,
        "WAL of {small} bytes at 8 pages, {large} at 100,000"
    );
}

/// The hash chain covers each event's stream name, not the index `read_stream` and the
/// appends go by: `verify` checks that the index says the same.
#[tokio::test]
async fn a_stream_index_rewritten_behind_the_log_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    {
        let store = open(&path).await.unwrap();
        for name in ["person-a", "person-b"] {
            store
                .append_to_stream(
                    &stream(name),
                    ExpectedRevision::NoStream,
                    vec![EventData::json("Happened", &json!({ "who": name })).unwrap()],
                )
                .await
                .unwrap();
        }
        assert!(verify::verify(&store, None).await.unwrap().is_ok());
        store.close().await.unwrap();
    }
    {
        // Someone with the file swaps the two streams' names in the index.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "UPDATE streams SET name = 'swap' WHERE name = 'person-a';
             UPDATE streams SET name = 'person-a' WHERE name = 'person-b';
             UPDATE streams SET name = 'person-b' WHERE name = 'swap';",
        )
        .unwrap();
    }
    let store = open(&path).await.unwrap();
    let report = verify::verify(&store, None).await.unwrap();
    let broken = report.broken.expect("the swap is found");
    assert_eq!(broken.position, 1);
    assert!(broken.reason.contains("person-a"), "{}", broken.reason);
    assert!(broken.reason.contains("person-b"), "{}", broken.reason);
}
