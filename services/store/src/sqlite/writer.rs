//! The single writer: one thread owns the read-write connection and group-commits whatever
//! appends are waiting into one transaction (one fsync), while each append keeps its own
//! savepoint so that its expectation is checked on its own and its failure touches no other.
//! Replies go out only after the commit is durable; the committed events are then published
//! on the live feed.
use std::sync::Arc;

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::append::{AppendResult, CurrentRevision, ExpectedRevision};
use crate::error::StoreError;
use crate::event::{EventData, RecordedEvent};
use crate::hash::{self, Hash, HashInput};
use crate::names::StreamName;
use crate::subscription::LiveBatch;

use super::map_sql;
use super::reader::{EVENT_COLUMNS, decode};

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
    pub reply: oneshot::Sender<Result<AppendResult, StoreError>>,
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

/// Runs the writer loop until every sender is gone.
pub fn run(
    mut conn: Connection,
    mut state: ChainState,
    mut requests: mpsc::Receiver<Request>,
    live: broadcast::Sender<LiveBatch>,
) {
    let mut group = Vec::with_capacity(64);
    let mut pending = None;
    loop {
        let Some(first) = pending.take().or_else(|| requests.blocking_recv()) else {
            return;
        };
        match first {
            Request::Close(reply) => {
                // TRUNCATE leaves the whole log in the main file (and an empty WAL), so a
                // stopped store is one self-contained file to copy or inspect.
                let outcome = conn
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                    .map_err(map_sql);
                drop(conn);
                let _ = reply.send(outcome);
                return;
            }
            Request::Import(import) => import_events(&mut conn, &mut state, import, &live),
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
                commit_group(&mut conn, &mut state, &mut group, &live);
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
        let existing: Option<StreamRow> = tx
            .prepare_cached("SELECT id, last_revision FROM streams WHERE name = ?1")
            .map_err(map_sql)?
            .query_row([stream.as_str()], |r| {
                Ok(StreamRow {
                    id: r.get(0)?,
                    last_revision: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                })
            })
            .optional()
            .map_err(map_sql)?;
        let next_revision = existing.as_ref().map_or(0, |s| s.last_revision + 1);
        if event.revision != next_revision {
            return Err(refuse(format!(
                "revision {} does not continue the stream (next is {next_revision})",
                event.revision
            )));
        }
        let recorded_at = event.recorded_at.timestamp_micros();
        let stream_id = match &existing {
            Some(row) => {
                tx.prepare_cached("UPDATE streams SET last_revision = ?1, last_position = ?2, updated_at = ?3 WHERE id = ?4")
                    .map_err(map_sql)?
                    .execute(rusqlite::params![to_i64(event.revision), to_i64(event.position), recorded_at, row.id])
                    .map_err(map_sql)?;
                row.id
            }
            None => {
                tx.prepare_cached(
                    "INSERT INTO streams (name, last_revision, first_position, last_position, created_at, updated_at) \
                     VALUES (?1, 0, ?2, ?2, ?3, ?3)",
                )
                .map_err(map_sql)?
                .execute(rusqlite::params![stream.as_str(), to_i64(event.position), recorded_at])
                .map_err(map_sql)?;
                tx.last_insert_rowid()
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

type Outcome = Result<(AppendResult, Vec<RecordedEvent>), StoreError>;

fn commit_group(
    conn: &mut Connection,
    state: &mut ChainState,
    group: &mut Vec<AppendRequest>,
    live: &broadcast::Sender<LiveBatch>,
) {
    let before_group = *state;
    // Copies for the live feed are only worth building when someone listens.
    let publish = live.receiver_count() > 0;
    let outcomes = match write_group(conn, state, group, publish) {
        Ok(outcomes) => outcomes,
        Err(e) => {
            tracing::error!(error = %e, appends = group.len(), "group commit failed");
            // The transaction rolled back; re-read where the chain stands rather than trust
            // the in-memory copy.
            *state = ChainState::load(conn).unwrap_or(before_group);
            for request in group.drain(..) {
                let _ = request.reply.send(Err(clone_error(&e)));
            }
            return;
        }
    };
    let mut published: Vec<RecordedEvent> = Vec::new();
    for (request, outcome) in group.drain(..).zip(outcomes) {
        let reply = match outcome {
            Ok((result, recorded)) => {
                published.extend(recorded);
                Ok(result)
            }
            Err(e) => Err(e),
        };
        // A caller that gave up waiting still had its append made durable; that is what
        // idempotent retries are for.
        let _ = request.reply.send(reply);
    }
    if !published.is_empty() {
        // No subscriber is not an error.
        let _ = live.send(Arc::from(published));
    } else if !publish && live.receiver_count() > 0 {
        // Someone subscribed while the group committed: their read of storage may have
        // missed it and there are no copies to send. An empty batch tells them to read
        // storage again (without it they would wait for a later commit, maybe forever).
        let _ = live.send(Arc::from(Vec::new()));
    }
}

fn write_group(
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

struct StreamRow {
    id: i64,
    last_revision: u64,
}

fn append_one(
    tx: &Connection,
    state: &mut ChainState,
    request: &AppendRequest,
    publish: bool,
) -> Result<(AppendResult, Vec<RecordedEvent>), StoreError> {
    let stream = request.stream.as_str();
    let existing: Option<StreamRow> = tx
        .prepare_cached("SELECT id, last_revision FROM streams WHERE name = ?1")
        .map_err(map_sql)?
        .query_row([stream], |r| {
            Ok(StreamRow {
                id: r.get(0)?,
                last_revision: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            })
        })
        .optional()
        .map_err(map_sql)?;
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
    if request.events.is_empty() {
        return Ok((
            AppendResult {
                current_revision: current,
                positions: None,
                deduplicated: false,
            },
            Vec::new(),
        ));
    }

    let now = Utc::now()
        .timestamp_micros()
        .max(state.last_recorded_micros);
    let stream_id = match &existing {
        Some(row) => row.id,
        None => {
            tx.prepare_cached(
                "INSERT INTO streams (name, last_revision, first_position, last_position, created_at, updated_at) \
                 VALUES (?1, 0, ?2, ?2, ?3, ?3)",
            )
            .map_err(map_sql)?
            .execute(rusqlite::params![stream, to_i64(state.next_position), now])
            .map_err(map_sql)?;
            tx.last_insert_rowid()
        }
    };
    let mut revision = existing.as_ref().map_or(0, |s| s.last_revision + 1);
    let first_position = state.next_position;
    let mut recorded = Vec::with_capacity(if publish { request.events.len() } else { 0 });
    {
        let mut insert = tx.prepare_cached(INSERT_EVENT).map_err(map_sql)?;
        for event in &request.events {
            let position = state.next_position;
            let m = event.metadata();
            let hash = hash::chain(
                &state.last_hash,
                &HashInput {
                    position,
                    stream,
                    revision,
                    event_id: event.event_id().as_bytes(),
                    event_type: event.event_type(),
                    schema_version: event.schema_version(),
                    data: event.data(),
                    metadata: m,
                    recorded_at_micros: now,
                },
            );
            let inserted = insert.execute(rusqlite::params![
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
            ]);
            if let Err(e) = inserted {
                if is_unique_violation(&e) {
                    return Err(StoreError::IdempotencyConflict {
                        stream: stream.to_owned(),
                        event_id: event.event_id(),
                        reason:
                            "this id is already used in the stream (or twice in this append) by \
                                 another event; a retry must resend exactly the original events"
                                .into(),
                    });
                }
                return Err(map_sql(e));
            }
            if publish {
                recorded.push(RecordedEvent {
                    position,
                    stream: stream.to_owned(),
                    revision,
                    event_id: event.event_id(),
                    event_type: event.event_type().to_owned(),
                    schema_version: event.schema_version(),
                    data: event.data().clone(),
                    metadata: m.clone(),
                    recorded_at: chrono::DateTime::from_timestamp_micros(now).unwrap_or_default(),
                    hash,
                });
            }
            state.last_hash = hash;
            state.next_position += 1;
            revision += 1;
        }
    }
    let last_revision = revision - 1;
    let last_position = state.next_position - 1;
    tx.prepare_cached(
        "UPDATE streams SET last_revision = ?1, last_position = ?2, updated_at = ?3 WHERE id = ?4",
    )
    .map_err(map_sql)?
    .execute(rusqlite::params![
        to_i64(last_revision),
        to_i64(last_position),
        now,
        stream_id
    ])
    .map_err(map_sql)?;
    state.last_recorded_micros = now;
    Ok((
        AppendResult {
            current_revision: CurrentRevision::Current(last_revision),
            positions: Some(first_position..=last_position),
            deduplicated: false,
        },
        recorded,
    ))
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
