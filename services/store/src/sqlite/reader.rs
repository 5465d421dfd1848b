//! Reads: a pool of reader threads, each with its read-only connection, and the row-to-event
//! decoding. Readers never take the writer's lock; WAL gives each read a consistent snapshot.
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension as _, Row, params_from_iter, types::Value,
};
use uuid::Uuid;

use crate::error::StoreError;
use crate::event::{Metadata, RecordedEvent};
use crate::filter::EventFilter;
use crate::fold::{FoldEvent, FoldPage};
use crate::hash::Hash;
use crate::read::{AllSlice, Direction, LogHead, StreamFrom, StreamInfo};

use super::map_sql;

/// The columns of `events`, in the order [`decode`] expects.
pub const EVENT_COLUMNS: &str = "position, stream, revision, event_id, event_type, schema_version, \
     data, actor, correlation_id, causation_id, trace_id, tenant, occurred_at, recorded_at, hash";

/// A read job: runs on a reader thread with that thread's connection (or the error of opening
/// it).
pub type ReadJob = Box<dyn FnOnce(Result<&Connection, StoreError>) + Send>;

/// Read-only connections, each owned by a dedicated reader thread of this pool.
///
/// Readers have threads of their own rather than tokio's blocking pool: a fold waiting for
/// pages, or anything else that fills the blocking pool, can never keep a page from being read
/// (issue 17: rebuilds whose folds held every blocking thread while waiting for pages read on
/// that same pool froze the service). Jobs go to the reader that became idle last (its
/// connection's page cache is the warmest, as the old pool reused the last connection
/// returned), else queue without bound in order; each job reads one bounded page, so none
/// holds a reader long.
pub struct ReadPool {
    shared: Arc<Shared>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

struct Shared {
    state: Mutex<State>,
    /// One per reader: woken when a job is put in its slot, or at close.
    wake: Vec<Condvar>,
}

struct State {
    /// Jobs waiting for a reader; only non-empty while no reader is idle.
    queue: VecDeque<ReadJob>,
    /// Idle readers, the last one to become idle on top.
    idle: Vec<usize>,
    /// A job handed to an idle reader, per reader.
    slots: Vec<Option<ReadJob>>,
    closed: bool,
}

impl ReadPool {
    /// A pool of `threads` readers (at least one) over the store file at `path`. Each opens its
    /// connection at its first job, and again after a failure.
    pub fn new(path: PathBuf, threads: usize) -> Result<Self, StoreError> {
        let count = threads.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                idle: Vec::with_capacity(count),
                slots: (0..count).map(|_| None).collect(),
                closed: false,
            }),
            wake: (0..count).map(|_| Condvar::new()).collect(),
        });
        let pool = ReadPool {
            shared: Arc::clone(&shared),
            threads: Mutex::new(Vec::with_capacity(count)),
        };
        for n in 0..count {
            let shared = Arc::clone(&shared);
            let path = path.clone();
            let handle = std::thread::Builder::new()
                .name(format!("palier-store-reader-{n}"))
                .spawn(move || reader_thread(&path, &shared, n))
                .map_err(|e| StoreError::Storage(format!("cannot start a reader thread: {e}")))?;
            if let Ok(mut threads) = pool.threads.lock() {
                threads.push(handle);
            }
        }
        Ok(pool)
    }

    /// Hands `job` to the reader that became idle last, or queues it.
    pub fn submit(&self, job: ReadJob) -> Result<(), StoreError> {
        let mut state = self
            .shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.closed {
            return Err(StoreError::Closed);
        }
        match state.idle.pop() {
            Some(reader) => {
                state.slots[reader] = Some(job);
                self.shared.wake[reader].notify_one();
            }
            None => state.queue.push_back(job),
        }
        Ok(())
    }

    /// Runs `f` on a reader and waits for it (blocking: call from a blocking thread).
    pub fn with<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        self.submit(Box::new(move |conn| {
            let _ = reply.send(conn.and_then(f));
        }))?;
        answer
            .recv()
            .map_err(|_| StoreError::Storage("a read panicked".into()))?
    }

    /// Stops the readers and waits until their connections are closed (so that the writer,
    /// closing after them, is the last connection and can checkpoint and remove the WAL).
    /// Queued jobs still run; later submissions fail with [`StoreError::Closed`].
    pub fn close(&self) {
        if let Ok(mut state) = self.shared.state.lock() {
            state.closed = true;
        }
        for wake in &self.shared.wake {
            wake.notify_one();
        }
        let handles = match self.threads.lock() {
            Ok(mut threads) => std::mem::take(&mut *threads),
            Err(_) => return,
        };
        let me = std::thread::current().id();
        for handle in handles {
            // A reader never joins itself (the last handle dropped inside a read job).
            if handle.thread().id() != me && handle.join().is_err() {
                tracing::error!("a store reader thread panicked");
            }
        }
    }
}

impl Drop for ReadPool {
    fn drop(&mut self) {
        self.close();
    }
}

/// The next job of reader `me`: one handed to it, else one queued; `None` once the pool is
/// closed and nothing is left.
fn next_job(shared: &Shared, me: usize) -> Option<ReadJob> {
    let mut state = shared
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        if let Some(job) = state.slots[me].take() {
            return Some(job);
        }
        if let Some(job) = state.queue.pop_front() {
            return Some(job);
        }
        if state.closed {
            return None;
        }
        if !state.idle.contains(&me) {
            state.idle.push(me);
        }
        state = shared.wake[me]
            .wait(state)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
    }
}

fn reader_thread(path: &std::path::Path, shared: &Shared, me: usize) {
    let mut conn: Option<Connection> = None;
    while let Some(job) = next_job(shared, me) {
        if conn.is_none() {
            match open(path) {
                Ok(opened) => conn = Some(opened),
                Err(e) => {
                    job(Err(e));
                    continue;
                }
            }
        }
        let Some(c) = conn.as_ref() else { continue };
        // A panicking job loses its answer (its caller sees the reply dropped), not the reader;
        // the connection is reopened in case the panic left it mid-statement.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Ok(c))));
        if ran.is_err() {
            tracing::error!("a store read panicked; its reader reopens its connection");
            conn = None;
        }
    }
}

fn open(path: &std::path::Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(map_sql)?;
    conn.execute_batch("PRAGMA busy_timeout = 5000;")
        .map_err(map_sql)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn micros_to_time(position: u64, micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| StoreError::Corrupt {
        position,
        reason: format!("timestamp {micros} out of range"),
    })
}

fn uuid_from(position: u64, field: &str, bytes: &[u8]) -> Result<Uuid, StoreError> {
    Uuid::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        position,
        reason: format!("{field}: {e}"),
    })
}

/// The position in column 0 of an `events` row.
fn position_of(row: &Row<'_>) -> Result<u64, StoreError> {
    let position: i64 = row.get(0).map_err(map_sql)?;
    u64::try_from(position).map_err(|_| StoreError::Corrupt {
        position: 0,
        reason: format!("negative position {position}"),
    })
}

/// A stored schema version, checked to fit.
fn schema_version_of(position: u64, raw: i64) -> Result<u32, StoreError> {
    u32::try_from(raw).map_err(|_| StoreError::Corrupt {
        position,
        reason: format!("schema version {raw} out of range"),
    })
}

/// Decodes one `events` row selected with [`EVENT_COLUMNS`].
///
/// Fixed-size blobs are read by reference (no temporary allocation): this is the hot loop of
/// every projection rebuild.
pub fn decode(row: &Row<'_>) -> Result<RecordedEvent, StoreError> {
    let position = position_of(row)?;
    let corrupt = |e: rusqlite::Error| StoreError::Corrupt {
        position,
        reason: e.to_string(),
    };
    let blob = |i: usize| -> Result<&[u8], StoreError> {
        row.get_ref(i)
            .map_err(corrupt)?
            .as_blob()
            .map_err(|e| StoreError::Corrupt {
                position,
                reason: format!("column {i}: {e}"),
            })
    };
    let opt_uuid = |i: usize, field: &str| -> Result<Option<Uuid>, StoreError> {
        match row.get_ref(i).map_err(corrupt)?.as_blob_or_null() {
            Ok(Some(b)) => uuid_from(position, field, b).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(StoreError::Corrupt {
                position,
                reason: format!("{field}: {e}"),
            }),
        }
    };
    let revision: i64 = row.get(2).map_err(corrupt)?;
    let schema_version: i64 = row.get(5).map_err(corrupt)?;
    let occurred_at: Option<i64> = row.get(12).map_err(corrupt)?;
    let recorded_at: i64 = row.get(13).map_err(corrupt)?;
    let hash: [u8; 32] = blob(14)?.try_into().map_err(|_| StoreError::Corrupt {
        position,
        reason: "hash is not 32 bytes".into(),
    })?;
    Ok(RecordedEvent {
        position,
        stream: row.get(1).map_err(corrupt)?,
        revision: u64::try_from(revision).map_err(|_| StoreError::Corrupt {
            position,
            reason: format!("negative revision {revision}"),
        })?,
        event_id: uuid_from(position, "event id", blob(3)?)?,
        event_type: row.get(4).map_err(corrupt)?,
        schema_version: schema_version_of(position, schema_version)?,
        data: Bytes::copy_from_slice(blob(6)?),
        metadata: Metadata {
            actor: row.get(7).map_err(corrupt)?,
            correlation_id: opt_uuid(8, "correlation id")?,
            causation_id: opt_uuid(9, "causation id")?,
            trace_id: row.get(10).map_err(corrupt)?,
            tenant: row.get(11).map_err(corrupt)?,
            occurred_at: occurred_at
                .map(|t| micros_to_time(position, t))
                .transpose()?,
        },
        recorded_at: micros_to_time(position, recorded_at)?,
        hash: Hash(hash),
    })
}

fn collect(
    stmt: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
    capacity: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut rows = stmt.query(params).map_err(map_sql)?;
    let mut out = Vec::with_capacity(capacity);
    while let Some(row) = rows.next().map_err(map_sql)? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// Reads one stream.
pub fn read_stream(
    conn: &Connection,
    stream: &str,
    from: StreamFrom,
    direction: Direction,
    limit: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let start = match from {
        StreamFrom::Start => 0,
        StreamFrom::End => i64::MAX,
        StreamFrom::Revision(r) => to_i64(r),
    };
    let sql = match direction {
        Direction::Forwards => format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = (SELECT id FROM streams WHERE name = ?1) \
             AND revision >= ?2 ORDER BY revision ASC LIMIT ?3"
        ),
        Direction::Backwards => format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = (SELECT id FROM streams WHERE name = ?1) \
             AND revision <= ?2 ORDER BY revision DESC LIMIT ?3"
        ),
    };
    let mut stmt = conn.prepare_cached(&sql).map_err(map_sql)?;
    collect(
        &mut stmt,
        rusqlite::params![stream, start, to_i64(limit as u64)],
        limit.min(1024),
    )
}

/// Reads the global log from `from` (inclusive).
pub fn read_all(
    conn: &Connection,
    from: u64,
    filter: &EventFilter,
    limit: usize,
) -> Result<AllSlice, StoreError> {
    let (head, query) = all_query(conn, EVENT_COLUMNS, from, filter, limit)?;
    let Some((sql, params)) = query else {
        let (scanned_to, is_end) = empty_end(head, from);
        return Ok(AllSlice {
            events: Vec::new(),
            scanned_to,
            is_end,
        });
    };
    let mut stmt = conn.prepare_cached(&sql).map_err(map_sql)?;
    let events = collect(&mut stmt, params_from_iter(params), limit.min(8192))?;
    let (scanned_to, is_end) =
        page_end(events.len(), limit, events.last().map(|e| e.position), head);
    Ok(AllSlice {
        events,
        scanned_to,
        is_end,
    })
}

/// The columns of `events` a fold reads, in the order [`read_all_for_fold`] expects.
const FOLD_COLUMNS: &str = "position, stream, event_type, schema_version, data, recorded_at";

/// Like [`read_all`], selecting only what a fold reads, into one [`FoldPage`].
pub fn read_all_for_fold(
    conn: &Connection,
    from: u64,
    filter: &EventFilter,
    limit: usize,
) -> Result<FoldPage, StoreError> {
    let (head, query) = all_query(conn, FOLD_COLUMNS, from, filter, limit)?;
    let Some((sql, params)) = query else {
        let (scanned_to, is_end) = empty_end(head, from);
        return Ok(FoldPage::from_events(&[], scanned_to, is_end));
    };
    let mut stmt = conn.prepare_cached(&sql).map_err(map_sql)?;
    let mut rows = stmt.query(params_from_iter(params)).map_err(map_sql)?;
    let mut page = FoldPage::with_capacity(limit.min(8192), limit.min(8192) * 256);
    while let Some(row) = rows.next().map_err(map_sql)? {
        let position = position_of(row)?;
        let corrupt = |e: rusqlite::types::FromSqlError| StoreError::Corrupt {
            position,
            reason: e.to_string(),
        };
        let column = |i: usize| row.get_ref(i).map_err(map_sql);
        page.push(FoldEvent {
            position,
            stream: column(1)?.as_str().map_err(corrupt)?,
            event_type: column(2)?.as_str().map_err(corrupt)?,
            schema_version: schema_version_of(position, column(3)?.as_i64().map_err(corrupt)?)?,
            data: column(4)?.as_blob().map_err(corrupt)?,
            recorded_at: micros_to_time(position, column(5)?.as_i64().map_err(corrupt)?)?,
        });
    }
    let (scanned_to, is_end) = page_end(page.len(), limit, page.last_position(), head);
    page.scanned_to = scanned_to;
    page.is_end = is_end;
    Ok(page)
}

/// How far a read of the global log (whose head was `head`) that selects nothing examined
/// it, and whether it is at the end: `from` lies past the head, or the limit is 0.
fn empty_end(head: u64, from: u64) -> (u64, bool) {
    (head.max(from.saturating_sub(1)), from > head)
}

fn head_position(conn: &Connection) -> Result<u64, StoreError> {
    let head: i64 = conn
        .query_row("SELECT coalesce(max(position), 0) FROM events", [], |r| {
            r.get(0)
        })
        .map_err(map_sql)?;
    Ok(u64::try_from(head).unwrap_or(0))
}

/// How far a page of `got` events (of at most `limit`) examined the log, and whether it
/// reached the head.
fn page_end(got: usize, limit: usize, last: Option<u64>, head: u64) -> (u64, bool) {
    let full = got == limit;
    let scanned_to = match (full, last) {
        (true, Some(last)) => last,
        _ => head,
    };
    (scanned_to, !full || scanned_to == head)
}

/// The head a read of the global log from `from` is bounded by, and the query selecting
/// `columns` for it (`None` when there is nothing to select).
type AllQuery = (u64, Option<(String, Vec<Value>)>);

fn all_query(
    conn: &Connection,
    columns: &str,
    from: u64,
    filter: &EventFilter,
    limit: usize,
) -> Result<AllQuery, StoreError> {
    // Bounding the scan by the head read first means every row up to it is committed (one
    // writer, commits in position order), so `scanned_to` can safely be the head.
    let head = head_position(conn)?;
    if limit == 0 || from > head {
        return Ok((head, None));
    }
    let mut sql = format!("SELECT {columns} FROM events WHERE position BETWEEN ?1 AND ?2");
    let mut params: Vec<Value> = vec![Value::Integer(to_i64(from)), Value::Integer(to_i64(head))];
    if !filter.prefixes().is_empty() {
        sql.push_str(" AND (");
        for (i, prefix) in filter.prefixes().iter().enumerate() {
            if i > 0 {
                sql.push_str(" OR ");
            }
            params.push(Value::Text(prefix.clone()));
            sql.push_str(&format!(
                "substr(stream, 1, {}) = ?{}",
                prefix.chars().count(),
                params.len()
            ));
        }
        sql.push(')');
    }
    if !filter.types().is_empty() {
        sql.push_str(" AND event_type IN (");
        for (i, t) in filter.types().iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            params.push(Value::Text(t.clone()));
            sql.push_str(&format!("?{}", params.len()));
        }
        sql.push(')');
    }
    params.push(Value::Integer(to_i64(limit as u64)));
    sql.push_str(&format!(" ORDER BY position ASC LIMIT ?{}", params.len()));
    Ok((head, Some((sql, params))))
}

/// Metadata of one stream: its row, and its last event (whose revision, position and store
/// time are the stream's last and its update time). Reads format 1 and 2 alike.
pub fn stream_info(conn: &Connection, stream: &str) -> Result<Option<StreamInfo>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT e.revision, s.first_position, e.position, s.created_at, e.recorded_at \
             FROM streams s JOIN events e ON e.stream_id = s.id \
             WHERE s.name = ?1 ORDER BY e.revision DESC LIMIT 1",
        )
        .map_err(map_sql)?;
    let mut rows = stmt.query([stream]).map_err(map_sql)?;
    let Some(row) = rows.next().map_err(map_sql)? else {
        return Ok(None);
    };
    let get = |i: usize| -> Result<i64, StoreError> { row.get(i).map_err(map_sql) };
    let last_position = u64::try_from(get(2)?).unwrap_or(0);
    Ok(Some(StreamInfo {
        stream: stream.to_owned(),
        last_revision: u64::try_from(get(0)?).unwrap_or(0),
        first_position: u64::try_from(get(1)?).unwrap_or(0),
        last_position,
        created_at: micros_to_time(last_position, get(3)?)?,
        updated_at: micros_to_time(last_position, get(4)?)?,
    }))
}

/// The last event's position and hash.
/// See [`crate::EventStore::stream_index_mismatch`]: one scan of the log joined to its
/// streams.
pub fn stream_index_mismatch(
    conn: &Connection,
) -> Result<Option<(u64, String, String)>, StoreError> {
    conn.query_row(
        "SELECT e.position, e.stream, coalesce(s.name, '(none)') FROM events e \
         LEFT JOIN streams s ON s.id = e.stream_id \
         WHERE s.name IS NULL OR s.name <> e.stream ORDER BY e.position LIMIT 1",
        [],
        |r| {
            let position: i64 = r.get(0)?;
            Ok((u64::try_from(position).unwrap_or(0), r.get(1)?, r.get(2)?))
        },
    )
    .optional()
    .map_err(map_sql)
}

pub fn head(conn: &Connection) -> Result<Option<LogHead>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1")
        .map_err(map_sql)?;
    let mut rows = stmt.query([]).map_err(map_sql)?;
    let Some(row) = rows.next().map_err(map_sql)? else {
        return Ok(None);
    };
    let position: i64 = row.get(0).map_err(map_sql)?;
    let position = u64::try_from(position).unwrap_or(0);
    let hash: Vec<u8> = row.get(1).map_err(map_sql)?;
    let hash: [u8; 32] = hash.try_into().map_err(|_| StoreError::Corrupt {
        position,
        reason: "hash is not 32 bytes".into(),
    })?;
    Ok(Some(LogHead {
        position,
        hash: Hash(hash),
    }))
}

/// The first position whose store time is at or after `micros`: a binary search over
/// positions (store times never decrease along the log), about 20 point reads per million.
pub fn position_at(conn: &Connection, micros: i64) -> Result<u64, StoreError> {
    let head: i64 = conn
        .query_row("SELECT coalesce(max(position), 0) FROM events", [], |r| {
            r.get(0)
        })
        .map_err(map_sql)?;
    let mut stmt = conn
        .prepare_cached("SELECT recorded_at FROM events WHERE position = ?1")
        .map_err(map_sql)?;
    let (mut lo, mut hi) = (1i64, head + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let at: i64 = stmt.query_row([mid], |r| r.get(0)).map_err(map_sql)?;
        if at < micros {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(u64::try_from(lo).unwrap_or(1))
}
