//! The single writer: one thread owns the read-write connection and group-commits whatever
//! appends are waiting into one transaction (one fsync). Replies go out only after the commit
//! is durable; the committed events are then published on the live feed.
//!
//! **Two paths.** Each append's expectation is decided on its own, and one append's failure
//! touches no other. The common path decides every append in memory (stream rows from
//! [`KnownStreams`], or one indexed lookup) and writes only event rows (and the rows of new
//! streams): no savepoint, no read of the events before inserting them. Only an insert can then
//! fail, on the (event id, stream) index: a retry of an append that landed, or an id reused.
//! That rolls the group back, and the group is written again on the careful path, where each
//! append has its own savepoint and is first looked up as a possible retry, so that only the
//! faulty append fails (or is answered with its original positions).
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::append::{AppendResult, CurrentRevision, ExpectedRevision};
use crate::commit_stats::CommitStats;
use crate::error::StoreError;
use crate::event::{EventData, RecordedEvent};
use crate::hash::{self, Hash};
use crate::names::StreamName;
use crate::subscription::LiveBatch;

use super::checkpointer::WalPolicy;
use super::known::{KnownStreams, StreamRow};
use super::map_sql;
use super::reader::{EVENT_COLUMNS, decode};
use crate::reply_home::{Replies, ReplyTo};

/// Most appends one group commit takes.
const MAX_GROUP_APPENDS: usize = 1024;
/// A group stops growing once it holds this many events.
const MAX_GROUP_EVENTS: usize = 20_000;

/// One append waiting for the writer.
pub struct AppendRequest {
    /// Target stream.
    pub stream: StreamName,
    /// Expected revision.
    pub expected: ExpectedRevision,
    /// Events, already validated.
    pub events: Vec<EventData>,
    /// Where the outcome goes once durable.
    pub reply: ReplyTo,
}

/// Events recorded elsewhere, to be written exactly as they are (import, replication).
pub struct ImportRequest {
    /// The events, in position order, continuing this log.
    pub events: Vec<RecordedEvent>,
    /// Where the outcome goes once durable: the last position written.
    pub reply: oneshot::Sender<Result<u64, StoreError>>,
}

/// What the writer is asked to do.
pub enum Request {
    /// An ordinary append; group-committed with its neighbours.
    Append(AppendRequest),
    /// An import; committed on its own.
    Import(ImportRequest),
    /// Close: everything queued before this has been committed; checkpoint the WAL into the
    /// file, stop, then reply. Later appends find the store closed.
    Close(oneshot::Sender<Result<(), StoreError>>),
}

/// Where the chain stands: the next position, the last hash and the last store time.
#[derive(Debug, Clone, Copy)]
pub struct ChainState {
    next_position: u64,
    last_hash: Hash,
    last_recorded_micros: i64,
}

impl ChainState {
    /// Reads the chain's end from the database.
    pub fn load(conn: &Connection) -> Result<ChainState, StoreError> {
        let last = conn
            .query_row(
                "SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(map_sql)?;
        Ok(match last {
            None => ChainState {
                next_position: 1,
                last_hash: Hash::GENESIS,
                last_recorded_micros: 0,
            },
            Some((position, hash, recorded)) => {
                let position = u64::try_from(position).unwrap_or(0);
                let hash: [u8; 32] = hash.try_into().map_err(|_| StoreError::Corrupt {
                    position,
                    reason: "hash is not 32 bytes".into(),
                })?;
                ChainState {
                    next_position: position + 1,
                    last_hash: Hash(hash),
                    last_recorded_micros: recorded,
                }
            }
        })
    }
}

/// Runs the writer loop until every sender is gone. `wal` decides when the WAL is copied
/// back into the file (see [`super::checkpointer`]).
pub fn run(
    mut conn: Connection,
    mut state: ChainState,
    mut requests: mpsc::Receiver<Request>,
    live: broadcast::Sender<LiveBatch>,
    mut wal: WalPolicy,
    commits: &CommitStats,
) {
    let mut group = Vec::with_capacity(64);
    let mut pending = None;
    let mut known = KnownStreams::default();
    loop {
        let Some(first) = pending.take().or_else(|| requests.blocking_recv()) else {
            // Before the connection closes: the last connection to close checkpoints the
            // WAL, and it must be this one.
            wal.stop();
            return;
        };
        match first {
            Request::Close(reply) => {
                wal.stop();
                // TRUNCATE leaves the whole log in the main file (and an empty WAL), so a
                // stopped store is one self-contained file to copy or inspect.
                let outcome = conn
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                    .map_err(map_sql);
                drop(conn);
                let _ = reply.send(outcome);
                return;
            }
            Request::Import(import) => {
                known.forget();
                import_events(&mut conn, &mut state, import, &live);
                wal.after_commit(&conn);
            }
            Request::Append(append) => {
                let mut events = append.events.len();
                group.push(append);
                while group.len() < MAX_GROUP_APPENDS && events < MAX_GROUP_EVENTS {
                    match requests.try_recv() {
                        Ok(Request::Append(next)) => {
                            events += next.events.len();
                            group.push(next);
                        }
                        Ok(other) => {
                            pending = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let started = Instant::now();
                let written = commit_group(&mut conn, &mut state, &mut known, &mut group, &live);
                if written.appends > 0 {
                    commits.record(written.appends, written.events, started.elapsed());
                }
                wal.after_commit(&conn);
            }
        }
    }
}

fn import_events(
    conn: &mut Connection,
    state: &mut ChainState,
    request: ImportRequest,
    live: &broadcast::Sender<LiveBatch>,
) {
    let before = *state;
    let outcome = write_imported(conn, state, &request.events);
    match outcome {
        Ok(last) => {
            if live.receiver_count() > 0 && !request.events.is_empty() {
                let _ = live.send(Arc::from(request.events));
            }
            let _ = request.reply.send(Ok(last));
        }
        Err(e) => {
            *state = ChainState::load(conn).unwrap_or(before);
            let _ = request.reply.send(Err(e));
        }
    }
}

fn write_imported(
    conn: &mut Connection,
    state: &mut ChainState,
    events: &[RecordedEvent],
) -> Result<u64, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_sql)?;
    for event in events {
        let refuse = |reason: String| StoreError::IdempotencyConflict {
            stream: event.stream.clone(),
            event_id: event.event_id,
            reason,
        };
        if event.position != state.next_position {
            return Err(refuse(format!(
                "position {} does not continue this log (next is {})",
                event.position, state.next_position
            )));
        }
        let computed = hash::recompute(&state.last_hash, event);
        if computed != event.hash {
            return Err(refuse(format!(
                "the event at position {} does not chain: its hash {} should be {computed}; the source was altered",
                event.position, event.hash
            )));
        }
        let stream = crate::names::StreamName::parse(event.stream.clone())?;
        let existing = stream_row(&tx, stream.as_str())?;
        let next_revision = existing.as_ref().map_or(0, |s| s.last_revision + 1);
        if event.revision != next_revision {
            return Err(refuse(format!(
                "revision {} does not continue the stream (next is {next_revision})",
                event.revision
            )));
        }
        let recorded_at = event.recorded_at.timestamp_micros();
        let stream_id = match &existing {
            Some(row) => row.id,
            None => {
                insert_stream(&tx, stream.as_str(), event.position, recorded_at).map_err(map_sql)?
            }
        };
        insert_event(&tx, stream_id, event).map_err(|e| {
            if is_unique_violation(&e) {
                refuse("this event id is already in the stream".into())
            } else {
                map_sql(e)
            }
        })?;
        state.next_position += 1;
        state.last_hash = event.hash;
        state.last_recorded_micros = state.last_recorded_micros.max(recorded_at);
    }
    tx.commit().map_err(map_sql)?;
    Ok(state.next_position - 1)
}

/// The stream's row and last revision as stored (`None`: no such stream).
fn stream_row(tx: &Connection, stream: &str) -> Result<Option<StreamRow>, StoreError> {
    tx.prepare_cached(
        "SELECT s.id, (SELECT max(e.revision) FROM events e WHERE e.stream_id = s.id) \
         FROM streams s WHERE s.name = ?1",
    )
    .map_err(map_sql)?
    .query_row([stream], |r| {
        Ok(StreamRow {
            id: r.get(0)?,
            last_revision: u64::try_from(r.get::<_, Option<i64>>(1)?.unwrap_or(0)).unwrap_or(0),
        })
    })
    .optional()
    .map_err(map_sql)
}

/// Inserts a new stream's row; returns its id.
fn insert_stream(
    tx: &Connection,
    stream: &str,
    first_position: u64,
    created_at: i64,
) -> Result<i64, rusqlite::Error> {
    tx.prepare_cached(
        "INSERT INTO streams (name, first_position, created_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(rusqlite::params![
        stream,
        to_i64(first_position),
        created_at
    ])?;
    Ok(tx.last_insert_rowid())
}

const INSERT_EVENT: &str = "INSERT INTO events (position, stream_id, stream, revision, event_id, event_type, \
     schema_version, data, actor, correlation_id, causation_id, trace_id, tenant, \
     occurred_at, recorded_at, hash) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

fn insert_event(
    tx: &Connection,
    stream_id: i64,
    e: &RecordedEvent,
) -> Result<usize, rusqlite::Error> {
    let m = &e.metadata;
    tx.prepare_cached(INSERT_EVENT)?.execute(rusqlite::params![
        to_i64(e.position),
        stream_id,
        e.stream,
        to_i64(e.revision),
        &e.event_id.as_bytes()[..],
        e.event_type,
        e.schema_version,
        &e.data[..],
        m.actor,
        m.correlation_id.as_ref().map(|u| &u.as_bytes()[..]),
        m.causation_id.as_ref().map(|u| &u.as_bytes()[..]),
        m.trace_id,
        m.tenant,
        m.occurred_at.map(|t| t.timestamp_micros()),
        e.recorded_at.timestamp_micros(),
        &e.hash.0[..],
    ])
}

/// An append's answer, and the copies of its events for the live feed.
type Written = (AppendResult, Vec<RecordedEvent>);
type Outcome = Result<Written, StoreError>;

fn commit_group(
    conn: &mut Connection,
    state: &mut ChainState,
    known: &mut KnownStreams,
    group: &mut Vec<AppendRequest>,
    live: &broadcast::Sender<LiveBatch>,
) -> Landed {
    let before_group = *state;
    // Copies for the live feed are only worth building when someone listens.
    let publish = live.receiver_count() > 0;
    let outcomes = match write_group(conn, state, known, group, publish) {
        Ok(Some(outcomes)) => outcomes,
        Ok(None) => {
            // An insert failed on the (event id, stream) index: write the group again, each
            // append on its own savepoint, so that only the faulty one fails.
            *state = before_group;
            known.forget();
            match write_group_carefully(conn, state, group, publish) {
                Ok(outcomes) => outcomes,
                Err(e) => {
                    fail_group(conn, state, before_group, group, &e);
                    return Landed::default();
                }
            }
        }
        Err(e) => {
            known.forget();
            fail_group(conn, state, before_group, group, &e);
            return Landed::default();
        }
    };
    let mut published: Vec<RecordedEvent> = Vec::new();
    let mut written = Landed::default();
    let mut replies = Replies::default();
    for (request, outcome) in group.drain(..).zip(outcomes) {
        let reply = match outcome {
            Ok((result, recorded)) => {
                if !result.deduplicated {
                    written.appends += 1;
                    written.events += request.events.len();
                }
                published.extend(recorded);
                Ok(result)
            }
            Err(e) => Err(e),
        };
        // A caller that gave up waiting still had its append made durable; that is what
        // idempotent retries are for.
        replies.push(request.reply, reply);
    }
    replies.deliver();
    if !published.is_empty() {
        // No subscriber is not an error.
        let _ = live.send(Arc::from(published));
    } else if !publish && live.receiver_count() > 0 {
        // Someone subscribed while the group committed: their read of storage may have
        // missed it and there are no copies to send. An empty batch tells them to read
        // storage again (without it they would wait for a later commit, maybe forever).
        let _ = live.send(Arc::from(Vec::new()));
    }
    written
}

/// What a group commit wrote: the appends that landed (not the refused ones, nor the retries
/// of appends that had landed before) and their events.
#[derive(Debug, Default)]
struct Landed {
    appends: usize,
    events: usize,
}

/// The group's transaction rolled back: every append of it fails with `e`.
fn fail_group(
    conn: &Connection,
    state: &mut ChainState,
    before_group: ChainState,
    group: &mut Vec<AppendRequest>,
    e: &StoreError,
) {
    tracing::error!(error = %e, appends = group.len(), "group commit failed");
    // Re-read where the chain stands rather than trust the in-memory copy.
    *state = ChainState::load(conn).unwrap_or(before_group);
    for request in group.drain(..) {
        request.reply.send_now(Err(clone_error(e)));
    }
}

/// The common path (see the module documentation). `Ok(None)`: an insert failed on the
/// (event id, stream) index and the transaction was rolled back; the group is to be written
/// carefully. On success, `known` holds what the group wrote.
fn write_group(
    conn: &mut Connection,
    state: &mut ChainState,
    known: &mut KnownStreams,
    group: &[AppendRequest],
    publish: bool,
) -> Result<Option<Vec<Outcome>>, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_sql)?;
    // The streams this group wrote, as they will be once it commits.
    let mut written: Vec<(&str, StreamRow)> = Vec::new();
    let mut outcomes = Vec::with_capacity(group.len());
    for request in group {
        let stream = request.stream.as_str();
        if let Some(twice) = used_twice(request) {
            outcomes.push(Err(twice));
            continue;
        }
        let existing = match written.iter().rev().find(|(name, _)| *name == stream) {
            Some((_, row)) => Some(*row),
            None => match known.get(stream) {
                Some(row) => Some(row),
                None => stream_row(&tx, stream)?,
            },
        };
        let current = existing.map_or(CurrentRevision::NoStream, |s| {
            CurrentRevision::Current(s.last_revision)
        });
        if !current.satisfies(request.expected) {
            // A retry of an append that landed no longer meets its expectation.
            let retried = match (request.events.first(), existing.as_ref()) {
                (Some(first), Some(row)) => retry_of_earlier_append(&tx, request, row, first),
                _ => Ok(None),
            };
            outcomes.push(match retried {
                Ok(Some(result)) => Ok((result, Vec::new())),
                Ok(None) => Err(StoreError::WrongExpectedRevision {
                    stream: stream.to_owned(),
                    expected: request.expected,
                    actual: current,
                }),
                // A retry that only partly matches is this append's refusal, not the
                // group's: the other appends commit.
                Err(conflict @ StoreError::IdempotencyConflict { .. }) => Err(conflict),
                Err(e) => return Err(e),
            });
            continue;
        }
        match insert_append(&tx, state, request, existing, publish) {
            Ok((outcome, row)) => {
                if let Some(row) = row {
                    written.push((stream, row));
                }
                outcomes.push(Ok(outcome));
            }
            Err(_) => {
                // Most likely an id already in the stream; whatever it is, the careful path
                // confines it to its append.
                drop(tx);
                return Ok(None);
            }
        }
    }
    tx.commit().map_err(map_sql)?;
    for (stream, row) in written {
        known.record(stream, row);
    }
    Ok(Some(outcomes))
}

/// The careful path: each append on its own savepoint, looked up first as a possible retry.
fn write_group_carefully(
    conn: &mut Connection,
    state: &mut ChainState,
    group: &[AppendRequest],
    publish: bool,
) -> Result<Vec<Outcome>, StoreError> {
    let mut tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_sql)?;
    let mut outcomes = Vec::with_capacity(group.len());
    for request in group {
        let before = *state;
        let mut savepoint = tx.savepoint().map_err(map_sql)?;
        match append_one(&savepoint, state, request, publish) {
            Ok(outcome) => {
                savepoint.commit().map_err(map_sql)?;
                outcomes.push(Ok(outcome));
            }
            Err(e) => {
                if savepoint.is_autocommit() {
                    // SQLite already rolled the whole transaction back (a full disk or an I/O
                    // error does that): every append of the group failed with it.
                    return Err(e);
                }
                savepoint.rollback().map_err(map_sql)?;
                drop(savepoint);
                *state = before;
                outcomes.push(Err(e));
            }
        }
    }
    tx.commit().map_err(map_sql)?;
    Ok(outcomes)
}

fn clone_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::StorageFull(m) => StoreError::StorageFull(m.clone()),
        other => StoreError::Storage(other.to_string()),
    }
}

/// An id used twice within one append: refused before anything is written.
fn used_twice(request: &AppendRequest) -> Option<StoreError> {
    if request.events.len() < 2 {
        return None;
    }
    let mut seen = std::collections::HashSet::with_capacity(request.events.len());
    let twice = request.events.iter().find(|e| !seen.insert(e.event_id()))?;
    Some(StoreError::IdempotencyConflict {
        stream: request.stream.to_string(),
        event_id: twice.event_id(),
        reason: "this id is used twice in this append; a retry must resend exactly the \
                 original events"
            .into(),
    })
}

/// One append on the careful path.
fn append_one(
    tx: &Connection,
    state: &mut ChainState,
    request: &AppendRequest,
    publish: bool,
) -> Result<Written, StoreError> {
    let stream = request.stream.as_str();
    if let Some(twice) = used_twice(request) {
        return Err(twice);
    }
    let existing = stream_row(tx, stream)?;
    let current = existing.as_ref().map_or(CurrentRevision::NoStream, |s| {
        CurrentRevision::Current(s.last_revision)
    });

    if let (Some(first), Some(row)) = (request.events.first(), existing.as_ref())
        && let Some(result) = retry_of_earlier_append(tx, request, row, first)?
    {
        return Ok((result, Vec::new()));
    }
    if !current.satisfies(request.expected) {
        return Err(StoreError::WrongExpectedRevision {
            stream: stream.to_owned(),
            expected: request.expected,
            actual: current,
        });
    }
    match insert_append(tx, state, request, existing, publish) {
        Ok((outcome, _)) => Ok(outcome),
        Err(failed) if is_unique_violation(&failed.error) => Err(StoreError::IdempotencyConflict {
            stream: stream.to_owned(),
            event_id: failed.event_id.unwrap_or_default(),
            reason: "this id is already used in the stream by another event; a retry must \
                         resend exactly the original events"
                .into(),
        }),
        Err(failed) => Err(map_sql(failed.error)),
    }
}

/// An insert that failed, and the event it was writing (`None`: the stream's row).
struct InsertFailed {
    error: rusqlite::Error,
    event_id: Option<uuid::Uuid>,
}

impl From<rusqlite::Error> for InsertFailed {
    fn from(error: rusqlite::Error) -> Self {
        InsertFailed {
            error,
            event_id: None,
        }
    }
}

/// Writes an append whose expectation is met: its stream's row when new, its events, chained
/// onto `state`. Returns the outcome and the stream as it then is (`None` for an empty
/// append, which writes nothing). On error the caller rolls back.
fn insert_append(
    tx: &Connection,
    state: &mut ChainState,
    request: &AppendRequest,
    existing: Option<StreamRow>,
    publish: bool,
) -> Result<(Written, Option<StreamRow>), InsertFailed> {
    let stream = request.stream.as_str();
    if request.events.is_empty() {
        let current = existing.map_or(CurrentRevision::NoStream, |s| {
            CurrentRevision::Current(s.last_revision)
        });
        let result = AppendResult {
            current_revision: current,
            positions: None,
            deduplicated: false,
        };
        return Ok(((result, Vec::new()), None));
    }
    let now = Utc::now()
        .timestamp_micros()
        .max(state.last_recorded_micros);
    let stream_id = match &existing {
        Some(row) => row.id,
        None => insert_stream(tx, stream, state.next_position, now)?,
    };
    let mut revision = existing.as_ref().map_or(0, |s| s.last_revision + 1);
    let first_position = state.next_position;
    let mut recorded = Vec::with_capacity(if publish { request.events.len() } else { 0 });
    let mut insert = tx.prepare_cached(INSERT_EVENT)?;
    for event in &request.events {
        let position = state.next_position;
        let m = event.metadata();
        let hash = event.chained(&state.last_hash, position, stream, revision, now);
        insert
            .execute(rusqlite::params![
                to_i64(position),
                stream_id,
                stream,
                to_i64(revision),
                &event.event_id().as_bytes()[..],
                event.event_type(),
                event.schema_version(),
                &event.data()[..],
                m.actor,
                m.correlation_id.as_ref().map(|u| &u.as_bytes()[..]),
                m.causation_id.as_ref().map(|u| &u.as_bytes()[..]),
                m.trace_id,
                m.tenant,
                m.occurred_at.map(|t| t.timestamp_micros()),
                now,
                &hash.0[..],
            ])
            .map_err(|error| InsertFailed {
                error,
                event_id: Some(event.event_id()),
            })?;
        if publish {
            recorded.push(event.recorded(position, stream, revision, now, hash));
        }
        state.last_hash = hash;
        state.next_position += 1;
        revision += 1;
    }
    let last_revision = revision - 1;
    let last_position = state.next_position - 1;
    state.last_recorded_micros = now;
    let result = AppendResult {
        current_revision: CurrentRevision::Current(last_revision),
        positions: Some(first_position..=last_position),
        deduplicated: false,
    };
    let row = StreamRow {
        id: stream_id,
        last_revision,
    };
    Ok(((result, recorded), Some(row)))
}

/// If the request's first event id is already in the stream, decides whether the whole request
/// is a retry of that earlier append (same events, same order, same content): then the
/// original positions are returned; a partial or different match is a conflict.
fn retry_of_earlier_append(
    tx: &Connection,
    request: &AppendRequest,
    stream: &StreamRow,
    first: &EventData,
) -> Result<Option<AppendResult>, StoreError> {
    let found: Option<i64> = tx
        .prepare_cached("SELECT revision FROM events WHERE stream_id = ?1 AND event_id = ?2")
        .map_err(map_sql)?
        .query_row(
            rusqlite::params![stream.id, &first.event_id().as_bytes()[..]],
            |r| r.get(0),
        )
        .optional()
        .map_err(map_sql)?;
    let Some(start) = found else {
        return Ok(None);
    };
    let conflict = |event: &EventData, reason: String| StoreError::IdempotencyConflict {
        stream: request.stream.to_string(),
        event_id: event.event_id(),
        reason,
    };
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ?1 AND revision >= ?2 \
             ORDER BY revision ASC LIMIT ?3"
        ))
        .map_err(map_sql)?;
    let mut rows = stmt
        .query(rusqlite::params![
            stream.id,
            start,
            to_i64(request.events.len() as u64)
        ])
        .map_err(map_sql)?;
    let mut positions = None::<(u64, u64)>;
    for event in &request.events {
        let Some(row) = rows.next().map_err(map_sql)? else {
            return Err(conflict(
                event,
                format!(
                    "the first {} event(s) of this append are already in the stream but this one is not: a retry must resend exactly the original events",
                    positions.map_or(0, |(a, b)| b - a + 1)
                ),
            ));
        };
        let recorded = decode(row)?;
        if !event.same_fact_as(&recorded) {
            return Err(conflict(
                event,
                if recorded.event_id == event.event_id() {
                    format!(
                        "the id is already used at revision {} for a different event (type {}, version {})",
                        recorded.revision, recorded.event_type, recorded.schema_version
                    )
                } else {
                    format!(
                        "a retry must resend the original events in order; revision {} holds event {}",
                        recorded.revision, recorded.event_id
                    )
                },
            ));
        }
        positions = Some(
            positions.map_or((recorded.position, recorded.position), |(a, _)| {
                (a, recorded.position)
            }),
        );
    }
    Ok(positions.map(|(a, b)| AppendResult {
        current_revision: CurrentRevision::Current(stream.last_revision),
        positions: Some(a..=b),
        deduplicated: true,
    }))
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
