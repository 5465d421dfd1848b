//! The writer of one palier process: a task with its own connection that group-commits
//! whatever appends are waiting into one transaction, so that many single-event writers share
//! each round trip and each WAL flush.
//!
//! **Why readers never see a gap.** Every write transaction (of every palier process sharing
//! the database) first takes one transaction-scoped advisory lock, then reads the head of the
//! log, assigns the next positions, chains the hashes onto the head's hash and commits. The
//! lock is released only after the commit is visible to every new snapshot, so transactions
//! commit in position order: a snapshot that sees position `p` sees every position below it,
//! and a reader that moved past a position can never have skipped one still in flight.
//! Serialising caps write concurrency at one transaction at a time; group commit makes that
//! transaction carry every append waiting, which is where the throughput comes from.
//!
//! **Durability: commit asynchronously, fence, then answer** (Palier's rule for what a
//! reader may see). A group's transaction commits with `synchronous_commit = off`: `COMMIT`
//! returns, and the lock is released, once the commit record is in the WAL buffers, before the
//! WAL is flushed, so another process may take the lock and chain its group onto this one at
//! once, and the two groups' flushes can be one. The WAL is written in order, so the groups'
//! commit records are in position order in it and a crash of PostgreSQL loses a suffix of the
//! log, never a hole. Right after `COMMIT`, on the same connection and outside the lock, the
//! writer runs a *fence* (`durable.rs`): a transaction that writes a WAL record and commits
//! synchronously, so that its commit flushes the WAL past the group's commit record, and that
//! notifies the group's last position. Only once the fence returned does the writer advance
//! the process's durable head, hand the events to the live feed and answer the appends. Readers
//! (of every process) stop at their durable head, so no reader, subscriber or caller ever sees
//! an event that a crash could take back: an acknowledged append survives a crash, an
//! unacknowledged one may or may not (its caller retries it with the same event ids). The
//! price: a process's readers see another process's appends once they hear its notification
//! (milliseconds), not the instant that process answers. The writer's own reads under the lock
//! (head, streams, retries) are not capped: they must see every commit, durable or not, to
//! chain onto it. An answer that reports what the writer saw (a conflict's current revision, a
//! retry's original positions) also waits for a fence covering it, so that its caller can read
//! it back.
//!
//! A group of one append (a batch, an import, a lone writer) commits synchronously instead,
//! with its notification inside and no fence (`finish`): nothing of its process waits behind
//! it, and the fence's extra transaction cost batches a few hundredths of their ceiling.
//!
//! The writer waits for its fence before it forms the next group. Tried and dropped: fencing
//! on a second connection while the writer commits the next groups (one fence for all the
//! groups waiting); groups then held half as many appends (24 against 50 for 64 writers on one
//! instance), and on this 2-core machine one instance lost more than two gained.
//!
//! **Round trips.** A group costs two: (1) `BEGIN` (with `synchronous_commit = off`), the lock,
//! the head and the state of the streams appended to, pipelined; (2) the insert of new streams,
//! one multi-row insert of every event (arrays through `unnest`), `COMMIT` and the fence,
//! pipelined. Expectations, revisions, positions and hashes are decided in between, in memory.
//! Both tables are insert-only (a stream's last revision is its last event's), so no row is
//! updated at every commit.
//!
//! **Idempotent retries** are recognised by their first event id, looked up only where it
//! matters: when an append's expectation fails (a retry of an append that succeeded no longer
//! meets it), and when an append's insert fails on the (stream, event id) index (a retry that
//! meets its expectation, or an id reused). Such a failure fails the group as a whole; its
//! appends are then written one transaction each, so that only the faulty one fails, and that
//! one is resolved as a retry (the original positions) or a conflict.
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

use crate::append::{AppendResult, CurrentRevision, ExpectedRevision};
use crate::commit_stats::CommitStats;
use crate::error::StoreError;
use crate::event::{EventData, RecordedEvent};
use crate::hash::{self, Hash};
use crate::names::StreamName;
use crate::reply_home::{Replies, ReplyTo};

use super::durable::{self, DurableHead};
use super::reader::{EVENT_COLUMNS, decode, to_i64};
use super::tailer::Feed;
use super::{Connector, LOCK_APPEND, LOCK_CLASS, NOTIFY_CHANNEL, map_pg};

/// Starts a group's transaction, whose commit does not wait for the WAL flush (the fence
/// that follows it does; see the module docs).
const BEGIN_ASYNC: &str = "BEGIN; SET LOCAL synchronous_commit = off";

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

/// Events recorded elsewhere, to be written exactly as they are.
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
    /// Close: everything queued before this is committed first; later appends find the store
    /// closed.
    Close(oneshot::Sender<Result<(), StoreError>>),
}

/// The writer's connection and its prepared statements.
struct Conn {
    client: Client,
    try_lock: Statement,
    head: Statement,
    streams: Statement,
    find_ids: Statement,
    stream_events: Statement,
    insert_streams: Statement,
    insert_events: Statement,
    fence: Statement,
    notify: Statement,
}

impl Conn {
    async fn open(connector: &Connector) -> Result<Conn, StoreError> {
        let client = connector.connect().await?;
        let prepare = |sql: String| {
            let client = &client;
            async move { client.prepare(&sql).await.map_err(map_pg) }
        };
        Ok(Conn {
            // Prepared, so that its execution is sent at once: pipelined statements run in
            // the order sent, and the head must be read after the lock is taken.
            try_lock: prepare(format!(
                "SELECT pg_try_advisory_xact_lock({LOCK_CLASS}, {LOCK_APPEND})"
            ))
            .await?,
            // Not in the statement that takes the lock: a statement's snapshot is taken
            // before it runs, so only a later statement sees what the previous holder of the
            // lock committed.
            head: prepare(
                "SELECT (SELECT coalesce(max(id), 0) FROM palier.streams), \
                   h.position, h.hash, h.recorded_at \
                 FROM (SELECT 1) one LEFT JOIN LATERAL \
                   (SELECT position, hash, recorded_at FROM palier.events \
                    ORDER BY position DESC LIMIT 1) h ON true"
                    .into(),
            )
            .await?,
            streams: prepare(
                "SELECT s.id, s.name, (SELECT e.revision FROM palier.events e \
                   WHERE e.stream_id = s.id ORDER BY e.revision DESC LIMIT 1) \
                 FROM palier.streams s WHERE s.name = ANY($1::text[])"
                    .into(),
            )
            .await?,
            // One index probe per pair, whatever the table's size: the LIMIT keeps the
            // planner from turning the lateral lookup into a join (a generic plan may then
            // scan the whole events table).
            find_ids: prepare(
                "SELECT k.name, k.eid, f.revision \
                 FROM unnest($1::text[], $2::uuid[]) AS k(name, eid) \
                 CROSS JOIN LATERAL (SELECT e.revision FROM palier.streams s \
                   JOIN palier.events e ON e.stream_id = s.id \
                   WHERE s.name = k.name AND e.event_id = k.eid LIMIT 1) f"
                    .into(),
            )
            .await?,
            stream_events: prepare(format!(
                "SELECT {EVENT_COLUMNS} FROM palier.events WHERE stream_id = $1 \
                 AND revision >= $2 ORDER BY revision ASC LIMIT $3"
            ))
            .await?,
            insert_streams: prepare(
                "INSERT INTO palier.streams (id, name, first_position, created_at) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[])"
                    .into(),
            )
            .await?,
            insert_events: prepare(
                "INSERT INTO palier.events (position, stream_id, stream, revision, event_id, \
                   event_type, schema_version, data, actor, correlation_id, causation_id, \
                   trace_id, tenant, occurred_at, recorded_at, hash) \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], \
                   $5::uuid[], $6::text[], $7::bigint[], $8::bytea[], $9::text[], $10::uuid[], \
                   $11::uuid[], $12::text[], $13::text[], $14::bigint[], $15::bigint[], \
                   $16::bytea[])"
                    .into(),
            )
            .await?,
            // The fence (see the module docs and `durable.rs`): a WAL record of its own, so that
            // its synchronous commit flushes; the notification of a position committed (when
            // the group's COMMIT failed, that position is not, unless another group wrote it
            // since, which the flush then covers too). A notification is delivered only once
            // its transaction committed, hence after the flush.
            notify: prepare(format!("SELECT pg_notify('{NOTIFY_CHANNEL}', $1)")).await?,
            fence: prepare(format!(
                "SELECT pg_logical_emit_message(true, 'palier', ''), \
                   pg_notify('{NOTIFY_CHANNEL}', $1) \
                 WHERE EXISTS (SELECT 1 FROM palier.events WHERE position = $2)"
            ))
            .await?,
            client,
        })
    }

    /// Ends a failed transaction; `false` when the connection is gone.
    async fn rollback(&self) -> bool {
        let _ = self.client.batch_execute("ROLLBACK").await;
        !self.client.is_closed()
    }
}

/// Where the chain stood when the group's transaction took the lock.
struct Head {
    next_position: u64,
    last_hash: Hash,
    last_recorded_micros: i64,
    max_stream_id: i64,
}

fn read_head(row: &tokio_postgres::Row) -> Result<Head, StoreError> {
    let max_stream_id: i64 = row.try_get(0).map_err(map_pg)?;
    let position: Option<i64> = row.try_get(1).map_err(map_pg)?;
    let Some(position) = position else {
        return Ok(Head {
            next_position: 1,
            last_hash: Hash::GENESIS,
            last_recorded_micros: 0,
            max_stream_id,
        });
    };
    let position = u64::try_from(position).unwrap_or(0);
    let hash: &[u8] = row.try_get(2).map_err(map_pg)?;
    let hash: [u8; 32] = hash.try_into().map_err(|_| StoreError::Corrupt {
        position,
        reason: "hash is not 32 bytes".into(),
    })?;
    Ok(Head {
        next_position: position + 1,
        last_hash: Hash(hash),
        last_recorded_micros: row.try_get(3).map_err(map_pg)?,
        max_stream_id,
    })
}

/// A stream as the group sees it.
struct StreamState {
    id: i64,
    /// `None`: no events (yet).
    last_revision: Option<u64>,
    /// Whether the stream existed before this group.
    existed: bool,
    first_position: i64,
    created_at: i64,
    /// Whether this group writes to it.
    touched: bool,
    /// Event ids this group writes to it.
    pending: HashSet<Uuid>,
}

impl StreamState {
    fn current(&self) -> CurrentRevision {
        self.last_revision
            .map_or(CurrentRevision::NoStream, CurrentRevision::Current)
    }
}

/// The rows one transaction inserts, column by column (for `unnest`).
#[derive(Default)]
struct Rows<'a> {
    position: Vec<i64>,
    stream_id: Vec<i64>,
    stream: Vec<&'a str>,
    revision: Vec<i64>,
    event_id: Vec<Uuid>,
    event_type: Vec<&'a str>,
    schema_version: Vec<i64>,
    data: Vec<&'a [u8]>,
    actor: Vec<Option<&'a str>>,
    correlation_id: Vec<Option<Uuid>>,
    causation_id: Vec<Option<Uuid>>,
    trace_id: Vec<Option<&'a str>>,
    tenant: Vec<Option<&'a str>>,
    occurred_at: Vec<Option<i64>>,
    recorded_at: Vec<i64>,
    hash: Vec<Vec<u8>>,
}

impl<'a> Rows<'a> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        position: u64,
        stream_id: i64,
        stream: &'a str,
        revision: u64,
        event_id: Uuid,
        event_type: &'a str,
        schema_version: u32,
        data: &'a [u8],
        metadata: &'a crate::event::Metadata,
        recorded_at: i64,
        hash: Hash,
    ) {
        self.position.push(to_i64(position));
        self.stream_id.push(stream_id);
        self.stream.push(stream);
        self.revision.push(to_i64(revision));
        self.event_id.push(event_id);
        self.event_type.push(event_type);
        self.schema_version.push(i64::from(schema_version));
        self.data.push(data);
        self.actor.push(metadata.actor.as_deref());
        self.correlation_id.push(metadata.correlation_id);
        self.causation_id.push(metadata.causation_id);
        self.trace_id.push(metadata.trace_id.as_deref());
        self.tenant.push(metadata.tenant.as_deref());
        self.occurred_at
            .push(metadata.occurred_at.map(|t| t.timestamp_micros()));
        self.recorded_at.push(recorded_at);
        self.hash.push(hash.0.to_vec());
    }

    fn is_empty(&self) -> bool {
        self.position.is_empty()
    }
}

/// Why a group's transaction failed.
struct GroupError {
    error: StoreError,
    /// The connection is gone (the outcome of a commit in flight is unknown).
    connection_lost: bool,
    /// A unique violation on (stream, event id): an append reused an id.
    id_reused: bool,
}

/// Runs the writer until every sender is gone or it is closed.
pub async fn run(
    connector: Connector,
    mut requests: mpsc::Receiver<Request>,
    feed: Feed,
    commits: Arc<CommitStats>,
) {
    let mut conn: Option<Conn> = None;
    let mut deferred: VecDeque<AppendRequest> = VecDeque::new();
    let mut pending: Option<Request> = None;
    loop {
        let mut group: Vec<AppendRequest> = deferred.drain(..).collect();
        if group.is_empty() {
            let next = match pending.take() {
                Some(request) => Some(request),
                None => requests.recv().await,
            };
            match next {
                None => return,
                Some(Request::Close(reply)) => {
                    requests.close();
                    // Appends that were queued behind the close are refused.
                    while let Ok(request) = requests.try_recv() {
                        refuse_closed(request);
                    }
                    let _ = reply.send(Ok(()));
                    return;
                }
                Some(Request::Import(import)) => {
                    let outcome = match ensure(&mut conn, &connector).await {
                        Ok(c) => import_events(c, &import.events, &feed).await,
                        Err(e) => Err(e),
                    };
                    drop_if_lost(&mut conn);
                    let _ = import.reply.send(outcome);
                    continue;
                }
                Some(Request::Append(append)) => group.push(append),
            }
        }
        let mut events: usize = group.iter().map(|a| a.events.len()).sum();
        while pending.is_none() && group.len() < MAX_GROUP_APPENDS && events < MAX_GROUP_EVENTS {
            match requests.try_recv() {
                Ok(Request::Append(next)) => {
                    events += next.events.len();
                    group.push(next);
                }
                Ok(other) => pending = Some(other),
                Err(_) => break,
            }
        }
        let c = match ensure(&mut conn, &connector).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "the store writer cannot connect");
                for request in group {
                    request.reply.send_now(Err(clone_error(&e)));
                }
                // Do not spin on a database that is down.
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
        };
        let mut more = |group: &mut Vec<AppendRequest>| {
            let mut events: usize = group.iter().map(|a| a.events.len()).sum();
            while pending.is_none() && group.len() < MAX_GROUP_APPENDS && events < MAX_GROUP_EVENTS
            {
                match requests.try_recv() {
                    Ok(Request::Append(next)) => {
                        events += next.events.len();
                        group.push(next);
                    }
                    Ok(other) => pending = Some(other),
                    Err(_) => break,
                }
            }
        };
        deferred = commit_group(c, group, &feed, &commits, &mut more).await;
        // Let the callers just answered send their next appends before the next group forms.
        tokio::task::yield_now().await;
        drop_if_lost(&mut conn);
    }
}

fn refuse_closed(request: Request) {
    match request {
        Request::Append(a) => a.reply.send_now(Err(StoreError::Closed)),
        Request::Import(i) => {
            let _ = i.reply.send(Err(StoreError::Closed));
        }
        Request::Close(reply) => {
            let _ = reply.send(Ok(()));
        }
    }
}

async fn ensure<'a>(
    conn: &'a mut Option<Conn>,
    connector: &Connector,
) -> Result<&'a mut Conn, StoreError> {
    if conn.is_none() {
        *conn = Some(Conn::open(connector).await?);
    }
    conn.as_mut()
        .ok_or_else(|| StoreError::Storage("no writer connection".into()))
}

fn drop_if_lost(conn: &mut Option<Conn>) {
    if conn.as_ref().is_some_and(|c| c.client.is_closed()) {
        tracing::warn!("the store writer lost its connection; it reconnects at the next append");
        *conn = None;
    }
}

fn clone_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::StorageFull(m) => StoreError::StorageFull(m.clone()),
        StoreError::Closed => StoreError::Closed,
        other => StoreError::Storage(other.to_string()),
    }
}

/// Commits one group and replies; returns the appends deferred to the next group.
async fn commit_group(
    c: &Conn,
    mut group: Vec<AppendRequest>,
    feed: &Feed,
    commits: &CommitStats,
    more: &mut (dyn FnMut(&mut Vec<AppendRequest>) + Send),
) -> VecDeque<AppendRequest> {
    let publish = feed.wants_events();
    let started = Instant::now();
    match write_group(c, &mut group, publish, feed.durable(), more).await {
        Ok(written) => {
            let mut deferred = VecDeque::new();
            let (mut appends, mut events) = (0, 0);
            let mut replies = Replies::default();
            for (request, outcome) in group.into_iter().zip(written.outcomes) {
                match outcome {
                    Some(reply) => {
                        // Refusals and retries of appends that had landed wrote nothing.
                        if reply.as_ref().is_ok_and(|r| !r.deduplicated) {
                            appends += 1;
                            events += request.events.len();
                        }
                        replies.push(request.reply, reply);
                    }
                    None => deferred.push_back(request),
                }
            }
            replies.deliver();
            if appends > 0 {
                commits.record(appends, events, started.elapsed());
            }
            feed.committed(written.published);
            deferred
        }
        Err(failed) if !failed.connection_lost && group.len() > 1 => {
            // One append spoiled the group (most likely an event id reused): write each on its
            // own so that only that one fails.
            let mut deferred = VecDeque::new();
            for request in group {
                let single = vec![request];
                deferred
                    .extend(Box::pin(commit_group(c, single, feed, commits, &mut |_| {})).await);
            }
            deferred
        }
        Err(failed) => {
            if failed.id_reused
                && let Some(request) = group.first()
            {
                let outcome = resolve_reused(c, request, feed.durable()).await;
                for request in group {
                    request.reply.send_now(match &outcome {
                        Ok(result) => Ok(result.clone()),
                        Err(e) => Err(clone_error_keep_conflict(e)),
                    });
                }
                return VecDeque::new();
            }
            let error = if failed.id_reused {
                failed.error
            } else {
                if failed.connection_lost {
                    tracing::error!(error = %failed.error, "group commit failed: connection lost");
                }
                failed.error
            };
            for request in group {
                request
                    .reply
                    .send_now(Err(clone_error_keep_conflict(&error)));
            }
            VecDeque::new()
        }
    }
}

fn clone_error_keep_conflict(e: &StoreError) -> StoreError {
    match e {
        StoreError::IdempotencyConflict {
            stream,
            event_id,
            reason,
        } => StoreError::IdempotencyConflict {
            stream: stream.clone(),
            event_id: *event_id,
            reason: reason.clone(),
        },
        other => clone_error(other),
    }
}

/// An append one of whose event ids the stream already holds (its insert failed): a retry of
/// an earlier append when it starts with that append's first event and resends it exactly
/// (then the original positions), a conflict otherwise.
async fn resolve_reused(
    c: &Conn,
    request: &AppendRequest,
    durable: &DurableHead,
) -> Result<AppendResult, StoreError> {
    let outcome = resolve_reused_unfenced(c, request).await;
    // What that read (outside the lock) may not be durable yet: fence it before answering.
    durable::refresh(&c.client, durable).await?;
    outcome
}

async fn resolve_reused_unfenced(
    c: &Conn,
    request: &AppendRequest,
) -> Result<AppendResult, StoreError> {
    let names = [request.stream.as_str()];
    let params: [&(dyn ToSql + Sync); 1] = [&&names[..]];
    let rows = c.client.query(&c.streams, &params).await.map_err(map_pg)?;
    let states = stream_states(&rows)?;
    if let (Some(state), Some(first)) =
        (states.get(request.stream.as_str()), request.events.first())
        && let Some(outcome) = earlier_append(c, request, state, first)
            .await
            .map_err(map_pg)?
    {
        return outcome;
    }
    Err(reused_id_error(c, request).await)
}

/// The conflict of an append one of whose event ids the stream already holds.
async fn reused_id_error(c: &Conn, request: &AppendRequest) -> StoreError {
    let names: Vec<&str> = request
        .events
        .iter()
        .map(|_| request.stream.as_str())
        .collect();
    let ids: Vec<Uuid> = request.events.iter().map(EventData::event_id).collect();
    let found = c.client.query(&c.find_ids, &[&names, &ids]).await;
    let event_id = match found {
        Ok(rows) => rows.first().and_then(|r| r.try_get::<_, Uuid>(1).ok()),
        Err(e) => return map_pg(e),
    };
    StoreError::IdempotencyConflict {
        stream: request.stream.to_string(),
        event_id: event_id.unwrap_or_default(),
        reason: "this id is already used in the stream by another event; a retry must resend \
                 exactly the original events"
            .into(),
    }
}

struct Written {
    /// Per append: its reply, or `None` when deferred to the next group.
    outcomes: Vec<Option<Result<AppendResult, StoreError>>>,
    published: Vec<RecordedEvent>,
}

fn group_error(e: tokio_postgres::Error, c: &Conn) -> GroupError {
    let id_reused = e.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && e.as_db_error()
            .and_then(|d| d.constraint())
            .is_some_and(|name| name == "events_by_event_id");
    GroupError {
        error: map_pg(e),
        connection_lost: c.client.is_closed(),
        id_reused,
    }
}

async fn fail(c: &Conn, e: tokio_postgres::Error) -> GroupError {
    let mut failed = group_error(e, c);
    if !c.rollback().await {
        failed.connection_lost = true;
    }
    failed
}

/// Starts the group's transaction: `BEGIN`, the lock, the head, the streams named, and where
/// the given (stream, event id) pairs already are; one pipelined round trip.
async fn begin(
    c: &Conn,
    names: &[&str],
    id_streams: &[&str],
    ids: &[Uuid],
) -> Result<(Head, Vec<tokio_postgres::Row>, Vec<tokio_postgres::Row>), GroupError> {
    let begin_and_lock =
        format!("{BEGIN_ASYNC}; SELECT pg_advisory_xact_lock({LOCK_CLASS}, {LOCK_APPEND})");
    let streams_params: [&(dyn ToSql + Sync); 1] = [&names];
    let ids_params: [&(dyn ToSql + Sync); 2] = [&id_streams, &ids];
    let (begun, head, streams, found) = futures::join!(
        c.client.batch_execute(&begin_and_lock),
        c.client.query_one(&c.head, &[]),
        c.client.query(&c.streams, &streams_params),
        c.client.query(&c.find_ids, &ids_params),
    );
    let outcome = begun.and(head).and_then(|h| Ok((h, streams?, found?)));
    match outcome {
        Ok((head, streams, found)) => match read_head(&head) {
            Ok(head) => Ok((head, streams, found)),
            Err(error) => {
                let lost = !c.rollback().await;
                Err(GroupError {
                    error,
                    connection_lost: lost,
                    id_reused: false,
                })
            }
        },
        Err(e) => Err(fail(c, e).await),
    }
}

/// Starts an append group's transaction: `BEGIN`, a *try* of the lock, the head and the streams
/// named, in one pipelined round trip. `None` when another instance holds the lock: then the
/// transaction is open without it, and the head and streams read are not to be trusted.
async fn try_begin(
    c: &Conn,
    names: &[&str],
) -> Result<Option<(Head, Vec<tokio_postgres::Row>)>, GroupError> {
    let streams_params: [&(dyn ToSql + Sync); 1] = [&names];
    let (begun, locked, head, streams) = futures::join!(
        c.client.batch_execute(BEGIN_ASYNC),
        c.client.query_one(&c.try_lock, &[]),
        c.client.query_one(&c.head, &[]),
        c.client.query(&c.streams, &streams_params),
    );
    let outcome = begun
        .and(locked)
        .and_then(|l| Ok((l.try_get::<_, bool>(0)?, head?, streams?)));
    match outcome {
        Ok((false, _, _)) => Ok(None),
        Ok((true, head, streams)) => match read_head(&head) {
            Ok(head) => Ok(Some((head, streams))),
            Err(error) => {
                let lost = !c.rollback().await;
                Err(GroupError {
                    error,
                    connection_lost: lost,
                    id_reused: false,
                })
            }
        },
        Err(e) => Err(fail(c, e).await),
    }
}

/// Waits for the lock inside the open transaction, then reads the head and the streams.
async fn lock_then_read(
    c: &Conn,
    names: &[&str],
) -> Result<(Head, Vec<tokio_postgres::Row>), GroupError> {
    let lock = format!("SELECT pg_advisory_xact_lock({LOCK_CLASS}, {LOCK_APPEND})");
    let streams_params: [&(dyn ToSql + Sync); 1] = [&names];
    let (locked, head, streams) = futures::join!(
        c.client.batch_execute(&lock),
        c.client.query_one(&c.head, &[]),
        c.client.query(&c.streams, &streams_params),
    );
    match locked.and(head).and_then(|h| Ok((h, streams?))) {
        Ok((head, streams)) => match read_head(&head) {
            Ok(head) => Ok((head, streams)),
            Err(error) => {
                let lost = !c.rollback().await;
                Err(GroupError {
                    error,
                    connection_lost: lost,
                    id_reused: false,
                })
            }
        },
        Err(e) => Err(fail(c, e).await),
    }
}

fn stream_states(rows: &[tokio_postgres::Row]) -> Result<HashMap<String, StreamState>, StoreError> {
    let mut states = HashMap::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.try_get(0).map_err(map_pg)?;
        let name: String = row.try_get(1).map_err(map_pg)?;
        let last: Option<i64> = row.try_get(2).map_err(map_pg)?;
        states.insert(
            name,
            StreamState {
                id,
                last_revision: last.map(|r| u64::try_from(r).unwrap_or(0)),
                existed: true,
                first_position: 0,
                created_at: 0,
                touched: false,
                pending: HashSet::new(),
            },
        );
    }
    Ok(states)
}

/// Inserts the new streams and the rows, commits (asynchronously) and fences; one pipelined
/// round trip. `Ok` only once the rows are committed and flushed.
///
/// A group of one append (`solitary`: a batch, an import, a lone writer) commits
/// synchronously instead, with its notification inside: no other append of this process waits
/// behind it, so holding the lock through the flush costs nothing here, and it saves the
/// fence's transaction (measured: batches of 1,000 events 0.67–0.72× of the plain ceiling with
/// the fence, 0.73–0.76× without).
async fn finish(
    c: &Conn,
    states: &HashMap<String, StreamState>,
    rows: &Rows<'_>,
    last_position: u64,
    solitary: bool,
) -> Result<(), GroupError> {
    let mut ids = Vec::new();
    let mut names = Vec::new();
    let (mut first_pos, mut created) = (Vec::new(), Vec::new());
    for (name, s) in states.iter().filter(|(_, s)| s.touched && !s.existed) {
        ids.push(s.id);
        names.push(name.as_str());
        first_pos.push(s.first_position);
        created.push(s.created_at);
    }
    let payload = last_position.to_string();
    let last = to_i64(last_position);
    let stream_params: [&(dyn ToSql + Sync); 4] = [&ids, &names, &first_pos, &created];
    let event_params: [&(dyn ToSql + Sync); 16] = [
        &rows.position,
        &rows.stream_id,
        &rows.stream,
        &rows.revision,
        &rows.event_id,
        &rows.event_type,
        &rows.schema_version,
        &rows.data,
        &rows.actor,
        &rows.correlation_id,
        &rows.causation_id,
        &rows.trace_id,
        &rows.tenant,
        &rows.occurred_at,
        &rows.recorded_at,
        &rows.hash,
    ];
    if solitary {
        let notify_params: [&(dyn ToSql + Sync); 1] = [&payload];
        let (synchronous, upserted, inserted, notified, committed) = futures::join!(
            c.client.batch_execute("SET LOCAL synchronous_commit = on"),
            c.client.execute(&c.insert_streams, &stream_params),
            c.client.execute(&c.insert_events, &event_params),
            c.client.execute(&c.notify, &notify_params),
            c.client.batch_execute("COMMIT"),
        );
        // As below: only when every statement succeeded did the commit happen.
        return match synchronous
            .and(upserted.map(drop))
            .and(inserted.map(drop))
            .and(notified.map(drop))
            .and(committed)
        {
            Ok(()) => Ok(()),
            Err(e) => Err(fail(c, e).await),
        };
    }
    let fence_params: [&(dyn ToSql + Sync); 2] = [&payload, &last];
    // The fence runs after COMMIT, on its own (autocommit), whatever came before: each
    // statement of the pipeline is synced on its own, so an error does not skip the next.
    let (upserted, inserted, committed, fenced) = futures::join!(
        c.client.execute(&c.insert_streams, &stream_params),
        c.client.execute(&c.insert_events, &event_params),
        c.client.batch_execute("COMMIT"),
        c.client.query(&c.fence, &fence_params),
    );
    // A failed statement aborts the transaction, and COMMIT then rolls it back: only when
    // every statement succeeded did the commit happen.
    if let Err(e) = upserted.and(inserted).and(committed) {
        return Err(fail(c, e).await);
    }
    fence_outcome(fenced)
}

/// What a fence that followed a commit says: `Ok` when the commit is on disk. Otherwise the
/// group committed, but whether it survives a crash is unknown until a later fence: its
/// appends are answered with an error (as when a connection drops during a commit), and
/// their callers retry them with the same ids.
fn fence_outcome(
    fenced: Result<Vec<tokio_postgres::Row>, tokio_postgres::Error>,
) -> Result<(), GroupError> {
    let error = match fenced {
        Ok(rows) if rows.len() == 1 => return Ok(()),
        Ok(_) => StoreError::Storage(
            "the group committed, but its position is not in the log after the commit".into(),
        ),
        Err(e) => StoreError::Storage(format!(
            "the group committed, but its flush to disk was not confirmed: {}",
            map_pg(e)
        )),
    };
    Err(GroupError {
        error,
        connection_lost: true,
        id_reused: false,
    })
}

/// Commits a transaction that wrote nothing; then, when the head it saw (`seen`) is past the
/// durable head, fences so that answers reporting what it saw (a conflict's revision, a
/// retry's positions) are about durable events only.
async fn commit_empty(c: &Conn, durable: &DurableHead, seen: u64) -> Result<(), GroupError> {
    if let Err(e) = c.client.batch_execute("COMMIT").await {
        return Err(fail(c, e).await);
    }
    if seen <= durable.get() {
        return Ok(());
    }
    let payload = seen.to_string();
    let at = to_i64(seen);
    let params: [&(dyn ToSql + Sync); 2] = [&payload, &at];
    fence_outcome(c.client.query(&c.fence, &params).await)?;
    durable.advance(seen);
    Ok(())
}

async fn write_group(
    c: &Conn,
    group: &mut Vec<AppendRequest>,
    publish: bool,
    durable: &DurableHead,
    more: &mut (dyn FnMut(&mut Vec<AppendRequest>) + Send),
) -> Result<Written, GroupError> {
    let mut names: Vec<&str> = group.iter().map(|a| a.stream.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    // Retries are found by their first event id only where it matters before writing: when
    // the expectation fails (a retry of an append that succeeded no longer meets it). A retry
    // that meets its expectation fails the insert on the (stream, event id) index instead,
    // and is recognised then (see `commit_group`), so the common path looks nothing up.
    //
    // When another instance holds the lock, the appends that reach this one while it waits
    // join the group once the lock is held (`more`): otherwise instances sharing a store would
    // each commit small groups in turn.
    let (head, stream_rows) = match try_begin(c, &names).await? {
        Some(begun) => begun,
        None => {
            more(group);
            let mut names: Vec<&str> = group.iter().map(|a| a.stream.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            // The statements that read the head ran without the lock; with it, read again.
            lock_then_read(c, &names).await?
        }
    };
    let group: &[AppendRequest] = group;
    let lost = |error: StoreError| GroupError {
        error,
        connection_lost: false,
        id_reused: false,
    };
    let mut states = stream_states(&stream_rows).map_err(lost)?;

    let now = Utc::now().timestamp_micros().max(head.last_recorded_micros);
    let mut next_position = head.next_position;
    let mut last_hash = head.last_hash;
    let mut next_stream_id = head.max_stream_id + 1;
    let mut rows = Rows::default();
    let mut published = Vec::new();
    let mut outcomes = Vec::with_capacity(group.len());
    for request in group {
        let name = request.stream.as_str();
        let state = states
            .entry(name.to_owned())
            .or_insert_with(|| StreamState {
                id: 0,
                last_revision: None,
                existed: false,
                first_position: 0,
                created_at: 0,
                touched: false,
                pending: HashSet::new(),
            });
        let mut seen = HashSet::with_capacity(request.events.len());
        if let Some(twice) = request.events.iter().find(|e| !seen.insert(e.event_id())) {
            outcomes.push(Some(Err(StoreError::IdempotencyConflict {
                stream: name.to_owned(),
                event_id: twice.event_id(),
                reason: "this id is used twice in this append; a retry must resend exactly \
                         the original events"
                    .into(),
            })));
            continue;
        }
        if request
            .events
            .iter()
            .any(|e| state.pending.contains(&e.event_id()))
        {
            // It may be a retry of an append of this very group: decide once that is committed.
            outcomes.push(None);
            continue;
        }
        let current = state.current();
        if !current.satisfies(request.expected) {
            if let Some(first) = request.events.first()
                && state.existed
            {
                match earlier_append(c, request, state, first).await {
                    Ok(Some(result)) => {
                        outcomes.push(Some(result));
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => return Err(fail(c, e).await),
                }
            }
            outcomes.push(Some(Err(StoreError::WrongExpectedRevision {
                stream: name.to_owned(),
                expected: request.expected,
                actual: current,
            })));
            continue;
        }
        if request.events.is_empty() {
            outcomes.push(Some(Ok(AppendResult {
                current_revision: current,
                positions: None,
                deduplicated: false,
            })));
            continue;
        }
        if !state.existed && !state.touched {
            state.id = next_stream_id;
            next_stream_id += 1;
            state.first_position = to_i64(next_position);
            state.created_at = now;
        }
        let mut revision = state.last_revision.map_or(0, |r| r + 1);
        let first_position = next_position;
        for event in &request.events {
            let m = event.metadata();
            let hash = event.chained(&last_hash, next_position, name, revision, now);
            rows.push(
                next_position,
                state.id,
                name,
                revision,
                event.event_id(),
                event.event_type(),
                event.schema_version(),
                event.data(),
                m,
                now,
                hash,
            );
            if publish {
                published.push(event.recorded(next_position, name, revision, now, hash));
            }
            state.pending.insert(event.event_id());
            last_hash = hash;
            next_position += 1;
            revision += 1;
        }
        state.last_revision = Some(revision - 1);
        state.touched = true;
        outcomes.push(Some(Ok(AppendResult {
            current_revision: CurrentRevision::Current(revision - 1),
            positions: Some(first_position..=next_position - 1),
            deduplicated: false,
        })));
    }
    if rows.is_empty() {
        commit_empty(c, durable, head.next_position - 1).await?;
    } else {
        finish(c, &states, &rows, next_position - 1, group.len() == 1).await?;
        durable.advance(next_position - 1);
    }
    Ok(Written {
        outcomes,
        published,
    })
}

/// When the request's first event id is already in the stream, the outcome of the request
/// as a retry of that earlier append; `None` otherwise.
async fn earlier_append(
    c: &Conn,
    request: &AppendRequest,
    state: &StreamState,
    first: &EventData,
) -> Result<Option<Result<AppendResult, StoreError>>, tokio_postgres::Error> {
    let names = [request.stream.as_str()];
    let ids = [first.event_id()];
    let params: [&(dyn ToSql + Sync); 2] = [&&names[..], &&ids[..]];
    let rows = c.client.query(&c.find_ids, &params).await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let start: i64 = row.try_get(2)?;
    let start = u64::try_from(start).unwrap_or(0);
    Ok(Some(
        retry_of_earlier_append(c, request, state, start).await?,
    ))
}

/// The request's first event id is already in the stream, at revision `start`: the whole
/// request is a retry of that earlier append (same events, same order, same content), and
/// gets the original positions; a partial or different match is a conflict.
async fn retry_of_earlier_append(
    c: &Conn,
    request: &AppendRequest,
    state: &StreamState,
    start: u64,
) -> Result<Result<AppendResult, StoreError>, tokio_postgres::Error> {
    let rows = c
        .client
        .query(
            &c.stream_events,
            &[
                &state.id,
                &to_i64(start),
                &to_i64(request.events.len() as u64),
            ],
        )
        .await?;
    let conflict = |event: &EventData, reason: String| StoreError::IdempotencyConflict {
        stream: request.stream.to_string(),
        event_id: event.event_id(),
        reason,
    };
    let mut positions = None::<(u64, u64)>;
    for (i, event) in request.events.iter().enumerate() {
        let Some(row) = rows.get(i) else {
            return Ok(Err(conflict(
                event,
                format!(
                    "the first {i} event(s) of this append are already in the stream but this one is not: a retry must resend exactly the original events"
                ),
            )));
        };
        let recorded = match decode(row, 0) {
            Ok(recorded) => recorded,
            Err(e) => return Ok(Err(e)),
        };
        if !event.same_fact_as(&recorded) {
            return Ok(Err(conflict(
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
            )));
        }
        positions = Some(
            positions.map_or((recorded.position, recorded.position), |(a, _)| {
                (a, recorded.position)
            }),
        );
    }
    Ok(Ok(AppendResult {
        current_revision: state.current(),
        positions: positions.map(|(a, b)| a..=b),
        deduplicated: true,
    }))
}

/// Writes an import (events recorded elsewhere) in one transaction, if it continues the log.
async fn import_events(c: &Conn, events: &[RecordedEvent], feed: &Feed) -> Result<u64, StoreError> {
    let mut names: Vec<&str> = events.iter().map(|e| e.stream.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let id_streams: Vec<&str> = events.iter().map(|e| e.stream.as_str()).collect();
    let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
    let (head, stream_rows, found_rows) = begin(c, &names, &id_streams, &ids)
        .await
        .map_err(|f| f.error)?;
    let outcome = check_import(&head, &stream_rows, &found_rows, events);
    let (states, rows) = match outcome {
        Ok(checked) => checked,
        Err(e) => {
            c.rollback().await;
            return Err(e);
        }
    };
    let last = head.next_position + events.len() as u64 - 1;
    if rows.is_empty() {
        commit_empty(c, feed.durable(), head.next_position - 1)
            .await
            .map_err(|f| f.error)?;
        return Ok(head.next_position - 1);
    }
    finish(c, &states, &rows, last, true)
        .await
        .map_err(|f| f.error)?;
    feed.durable().advance(last);
    feed.committed(if feed.wants_events() {
        events.to_vec()
    } else {
        Vec::new()
    });
    Ok(last)
}

fn check_import<'a>(
    head: &Head,
    stream_rows: &[tokio_postgres::Row],
    found_rows: &[tokio_postgres::Row],
    events: &'a [RecordedEvent],
) -> Result<(HashMap<String, StreamState>, Rows<'a>), StoreError> {
    let mut states = stream_states(stream_rows)?;
    let mut last_hash = head.last_hash;
    let mut next_stream_id = head.max_stream_id + 1;
    let mut rows = Rows::default();
    for (next_position, event) in (head.next_position..).zip(events) {
        let refuse = |reason: String| StoreError::IdempotencyConflict {
            stream: event.stream.clone(),
            event_id: event.event_id,
            reason,
        };
        if event.position != next_position {
            return Err(refuse(format!(
                "position {} does not continue this log (next is {next_position})",
                event.position
            )));
        }
        let computed = hash::recompute(&last_hash, event);
        if computed != event.hash {
            return Err(refuse(format!(
                "the event at position {} does not chain: its hash {} should be {computed}; the source was altered",
                event.position, event.hash
            )));
        }
        let stream = StreamName::parse(event.stream.clone())?;
        let state = states
            .entry(stream.as_str().to_owned())
            .or_insert_with(|| StreamState {
                id: 0,
                last_revision: None,
                existed: false,
                first_position: 0,
                created_at: 0,
                touched: false,
                pending: HashSet::new(),
            });
        let next_revision = state.last_revision.map_or(0, |r| r + 1);
        if event.revision != next_revision {
            return Err(refuse(format!(
                "revision {} does not continue the stream (next is {next_revision})",
                event.revision
            )));
        }
        let recorded_at = event.recorded_at.timestamp_micros();
        if !state.existed && !state.touched {
            state.id = next_stream_id;
            next_stream_id += 1;
            state.first_position = to_i64(event.position);
            state.created_at = recorded_at;
        }
        let in_log = state.existed
            && found_rows.iter().any(|r| {
                r.try_get::<_, &str>(0).ok() == Some(stream.as_str())
                    && r.try_get::<_, Uuid>(1).ok() == Some(event.event_id)
            });
        if in_log || !state.pending.insert(event.event_id) {
            return Err(refuse("this event id is already in the stream".into()));
        }
        rows.push(
            event.position,
            state.id,
            &event.stream,
            event.revision,
            event.event_id,
            &event.event_type,
            event.schema_version,
            &event.data,
            &event.metadata,
            recorded_at,
            event.hash,
        );
        state.last_revision = Some(event.revision);
        state.touched = true;
        last_hash = event.hash;
    }
    Ok((states, rows))
}
