//! The SQLite file format: what a palier store looks like on disk, how an existing file is
//! recognised (and anything else refused untouched), and the connection settings that make
//! appends durable.
use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::error::StoreError;

/// `PRAGMA application_id` of a palier store ("Palr").
pub const APPLICATION_ID: i64 = 0x5061_6c72;
/// The store format this build writes and the newest it reads (`PRAGMA user_version`).
///
/// - 1: streams kept their last revision, last position and update time, rewritten at every
///   append.
/// - 2: streams are insert-only (name, id, first position, creation time); a stream's last
///   revision, last position and update time are its last event's. An append then writes its
///   event rows and nothing else, one page fewer per append at scale. A format-1 store is
///   brought to 2 when opened for writing ([`migrate`]).
/// - 3: the index that finds an event id in a stream is keyed by the event id first, then the
///   stream (`events_by_event_id`), instead of the stream first. Both refuse the same rows; but
///   event ids are UUIDv7 (time first), so new entries land on the index's last page, shared
///   by a whole group commit, where the stream-first key put each append on a page of its own:
///   a third of the pages a group of one-element appends wrote to the WAL. Formats 1 and 2
///   are brought to 3 when opened for writing (the index is rebuilt once).
pub const FORMAT_VERSION: i64 = 3;

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

const SCHEMA: &str = "
CREATE TABLE streams (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    first_position  INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;
CREATE TABLE events (
    position        INTEGER PRIMARY KEY,
    stream_id       INTEGER NOT NULL,
    stream          TEXT    NOT NULL,
    revision        INTEGER NOT NULL,
    event_id        BLOB    NOT NULL,
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    data            BLOB    NOT NULL,
    actor           TEXT,
    correlation_id  BLOB,
    causation_id    BLOB,
    trace_id        TEXT,
    tenant          TEXT,
    occurred_at     INTEGER,
    recorded_at     INTEGER NOT NULL,
    hash            BLOB    NOT NULL
) STRICT;
CREATE UNIQUE INDEX events_by_stream_revision ON events (stream_id, revision);
CREATE UNIQUE INDEX events_by_event_id ON events (event_id, stream_id);
";

/// What was found at the store path before opening it for writing.
#[derive(Debug, PartialEq, Eq)]
pub enum Existing {
    /// No file, or an empty one: a new store will be created.
    Nothing,
    /// A palier store of a format this build reads, with its format version.
    Store(i64),
}

/// Inspects `path` without writing to it, refusing anything that is not a palier store this
/// build can read.
pub fn inspect(path: &Path) -> Result<Existing, StoreError> {
    let not_a_store = |reason: String| StoreError::NotAStore {
        path: path.to_owned(),
        reason,
    };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Nothing),
        Err(e) => {
            return Err(StoreError::Storage(format!(
                "cannot open {}: {e}",
                path.display()
            )));
        }
    };
    let mut header = Vec::with_capacity(16);
    (&mut file)
        .take(16)
        .read_to_end(&mut header)
        .map_err(|e| StoreError::Storage(format!("cannot read {}: {e}", path.display())))?;
    if header.is_empty() {
        return Ok(Existing::Nothing);
    }
    if header.as_slice() != SQLITE_MAGIC {
        return Err(not_a_store("it is not an SQLite database".into()));
    }
    drop(file);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| not_a_store(format!("SQLite cannot open it: {e}")))?;
    let read_i64 = |sql: &str| -> Result<i64, StoreError> {
        conn.query_row(sql, [], |r| r.get(0))
            .map_err(|e| not_a_store(format!("SQLite cannot read it: {e}")))
    };
    let app_id = read_i64("PRAGMA application_id")?;
    let version = read_i64("PRAGMA user_version")?;
    let tables = read_i64("SELECT count(*) FROM sqlite_schema")?;
    if app_id == APPLICATION_ID {
        if version > FORMAT_VERSION {
            return Err(StoreError::UnsupportedFormat {
                path: path.to_owned(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if version < 1 {
            return Err(not_a_store(format!("unknown store format {version}")));
        }
        return Ok(Existing::Store(version));
    }
    if app_id == 0 && tables == 0 {
        // An empty SQLite database (e.g. touched by the sqlite3 shell): nothing to lose.
        return Ok(Existing::Nothing);
    }
    Err(not_a_store(format!(
        "it is an SQLite database of another application (application_id {app_id:#x}, {tables} schema objects)"
    )))
}

/// Settings every read-write connection gets: WAL for concurrent readers, `synchronous=FULL`
/// so that a commit is on disk (WAL fsynced) before the append is acknowledged.
pub fn configure_writer(
    conn: &Connection,
    max_page_count: Option<u64>,
    checkpoint_pages: u32,
) -> Result<(), StoreError> {
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(super::map_sql)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Storage(format!(
            "the file system refused WAL mode (journal_mode is {mode})"
        )));
    }
    // SQLite's own checkpoints serve while the store is opened (a format upgrade); the writer
    // then replaces them with its own policy (`checkpointer`).
    conn.execute_batch(&format!(
        "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; \
         PRAGMA wal_autocheckpoint = {};",
        checkpoint_pages.max(1)
    ))
    .map_err(super::map_sql)?;
    if let Some(pages) = max_page_count {
        conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
            .map_err(super::map_sql)?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Creates the tables of a new store, in one transaction.
pub fn create(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction().map_err(super::map_sql)?;
    tx.execute_batch(SCHEMA).map_err(super::map_sql)?;
    tx.execute_batch(&format!(
        "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {FORMAT_VERSION};"
    ))
    .map_err(super::map_sql)?;
    tx.commit().map_err(super::map_sql)
}

/// Brings a store of an older format to [`FORMAT_VERSION`], in one transaction (a failure
/// leaves it as it was). Format 1 to 2 drops the stream columns that every append rewrote; what
/// they held is read from each stream's last event. Format 2 to 3 rebuilds the event-id index
/// keyed by the event id first.
pub fn migrate(conn: &mut Connection, from: i64) -> Result<(), StoreError> {
    if from >= FORMAT_VERSION {
        return Ok(());
    }
    let tx = conn.transaction().map_err(super::map_sql)?;
    if from < 2 {
        tx.execute_batch(
            "ALTER TABLE streams DROP COLUMN last_revision; \
             ALTER TABLE streams DROP COLUMN last_position; \
             ALTER TABLE streams DROP COLUMN updated_at;",
        )
        .map_err(super::map_sql)?;
    }
    if from < 3 {
        tx.execute_batch(
            "DROP INDEX IF EXISTS events_by_stream_event_id; \
             CREATE UNIQUE INDEX IF NOT EXISTS events_by_event_id ON events (event_id, stream_id);",
        )
        .map_err(super::map_sql)?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {FORMAT_VERSION};"))
        .map_err(super::map_sql)?;
    tx.commit().map_err(super::map_sql)?;
    tracing::info!(from, to = FORMAT_VERSION, "store format upgraded");
    Ok(())
}
