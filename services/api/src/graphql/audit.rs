//! What auditors read: the global log as a connection, one stream with its events, the hash
//! chain check, and read models as they stood at a past position or time (rebuilt from the
//! log, with a small cache so that repeated audits of the same point are fast, concurrent
//! audits of one point share one rebuild, and only a bounded number of rebuilds run at once).
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OnceCell, Semaphore};

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use palier_projections::Projection;
use palier_store::{
    Direction, EventFilter, EventStore, Hash, LogHead, RecordedEvent, SharedStore, StreamFrom,
    StreamName,
};

use super::scalars::Position;
use super::{auditor, state};
use crate::error::ApiError;

/// Largest page of events.
pub const MAX_EVENTS_PAGE: usize = 1000;

/// A recorded event, as auditors see it.
pub struct EventGql(pub RecordedEvent);

/// Who and what caused an event.
#[derive(SimpleObject)]
#[graphql(name = "EventMetadata")]
pub struct MetadataGql {
    /// The authenticated principal that caused it.
    pub actor: Option<String>,
    /// Groups the events of one request.
    pub correlation_id: Option<String>,
    /// The event or command that caused it.
    pub causation_id: Option<String>,
    /// W3C trace id of the request.
    pub trace_id: Option<String>,
    /// Tenant (académie).
    pub tenant: Option<String>,
    /// Business time, when given.
    pub occurred_at: Option<DateTime<Utc>>,
}

#[Object(name = "Event")]
impl EventGql {
    /// Global position.
    async fn position(&self) -> Position {
        Position(self.0.position)
    }
    /// Stream.
    async fn stream(&self) -> &str {
        &self.0.stream
    }
    /// Revision in the stream (from 0).
    async fn revision(&self) -> Position {
        Position(self.0.revision)
    }
    /// Event id.
    async fn event_id(&self) -> String {
        self.0.event_id.to_string()
    }
    /// Past-tense type name.
    async fn r#type(&self) -> &str {
        &self.0.event_type
    }
    /// Payload schema version.
    async fn schema_version(&self) -> i32 {
        i32::try_from(self.0.schema_version).unwrap_or(i32::MAX)
    }
    /// The payload as recorded.
    async fn data(&self) -> async_graphql::Result<Json<serde_json::Value>> {
        Ok(Json(
            self.0.data_json().map_err(|e| ApiError::internal(&e))?,
        ))
    }
    /// Who, why, when.
    async fn metadata(&self) -> MetadataGql {
        let m = &self.0.metadata;
        MetadataGql {
            actor: m.actor.clone(),
            correlation_id: m.correlation_id.map(|u| u.to_string()),
            causation_id: m.causation_id.map(|u| u.to_string()),
            trace_id: m.trace_id.clone(),
            tenant: m.tenant.clone(),
            occurred_at: m.occurred_at,
        }
    }
    /// When the store recorded it.
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.recorded_at
    }
    /// SHA-256 chaining it to the previous event (hex).
    async fn hash(&self) -> String {
        self.0.hash.to_hex()
    }
}

/// A point in history: a position, or a time (the state after every event recorded at or
/// before it).
#[derive(InputObject, Clone, Copy)]
pub struct AsOf {
    /// Position (inclusive): the state right after that event, on its day.
    pub position: Option<Position>,
    /// Time (inclusive): the state after every event recorded at or before it, on its day
    /// (for establishments, facts dated up to that day have taken effect, as the live model
    /// has them on that day; a time ahead of the clock reads as now).
    pub time: Option<DateTime<Utc>>,
}

/// A log head to check against: what an auditor kept outside Palier.
#[derive(InputObject)]
pub struct CheckpointInput {
    /// Its position.
    pub position: Position,
    /// Its hash (hex).
    pub hash: String,
}

/// The last event of the log.
#[derive(SimpleObject)]
#[graphql(name = "LogHead")]
pub struct LogHeadGql {
    /// Position.
    pub position: Position,
    /// Hash (hex): keep it outside Palier to check later that history up to here holds.
    pub hash: String,
}

/// The first broken link.
#[derive(SimpleObject)]
pub struct BrokenLinkGql {
    /// Position of the first event that fails.
    pub position: Position,
    /// What failed.
    pub reason: String,
}

/// The outcome of a hash-chain walk.
#[derive(SimpleObject)]
#[graphql(name = "VerifyReport")]
pub struct VerifyReportGql {
    /// True when every link holds (and the checkpoint, if given, matches).
    pub ok: bool,
    /// Events checked.
    pub checked: Position,
    /// The last event verified.
    pub head: Option<LogHeadGql>,
    /// The first broken link.
    pub broken: Option<BrokenLinkGql>,
}

/// One stream.
pub struct StreamGql {
    name: StreamName,
    info: palier_store::StreamInfo,
}

#[Object(name = "Stream")]
impl StreamGql {
    /// Its name.
    async fn name(&self) -> &str {
        self.name.as_str()
    }
    /// Revision of its last event.
    async fn revision(&self) -> Position {
        Position(self.info.last_revision)
    }
    /// Position of its first event.
    async fn first_position(&self) -> Position {
        Position(self.info.first_position)
    }
    /// Position of its last event.
    async fn last_position(&self) -> Position {
        Position(self.info.last_position)
    }
    /// When its first event was recorded.
    async fn created_at(&self) -> DateTime<Utc> {
        self.info.created_at
    }
    /// When its last event was recorded.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.info.updated_at
    }
    /// Its events, oldest first (cursor: the revision).
    #[graphql(complexity = "super::list_cost(first, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 100)] first: i32,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, EventGql>> {
        stream_events(&state(ctx)?.store, &self.name, first, after).await
    }
}

fn page_size(first: i32) -> Result<usize, ApiError> {
    usize::try_from(first)
        .ok()
        .filter(|f| (1..=MAX_EVENTS_PAGE).contains(f))
        .ok_or_else(|| {
            ApiError::bad_input("first", format!("must be between 1 and {MAX_EVENTS_PAGE}"))
        })
}

/// The events of one stream as a connection (cursor: revision).
pub async fn stream_events(
    store: &SharedStore,
    stream: &StreamName,
    first: i32,
    after: Option<String>,
) -> async_graphql::Result<Connection<String, EventGql>> {
    let first = page_size(first)?;
    let from = match after {
        Some(cursor) => {
            let revision = cursor
                .parse::<u64>()
                .map_err(|_| ApiError::bad_input("after", "not a cursor of this connection"))?;
            // Nothing follows the greatest revision: an empty page, never a wrap to 0.
            match revision.checked_add(1) {
                Some(from) => from,
                None => return Ok(Connection::new(true, false)),
            }
        }
        None => 0,
    };
    let mut events = store
        .read_stream(
            stream,
            StreamFrom::Revision(from),
            Direction::Forwards,
            first + 1,
        )
        .await
        .map_err(ApiError::from)?;
    let has_next = events.len() > first;
    events.truncate(first);
    let mut connection = Connection::new(from > 0, has_next);
    connection.edges.extend(
        events
            .into_iter()
            .map(|e| Edge::new(e.revision.to_string(), EventGql(e))),
    );
    Ok(connection)
}

/// One cached point: filled once by the first request for it, awaited by the others.
type Slot<P> = Arc<OnceCell<Arc<P>>>;

/// A cached point's key: the position applied, and the day its clock was moved to, if any.
type Point = (u64, Option<chrono::NaiveDate>);

/// A read model as it stood at past positions, rebuilt from the log and kept for reuse.
///
/// Points are cached under the position actually applied (a point beyond the head is the
/// head, so a later append is never hidden behind a stale entry); concurrent requests for one
/// point wait for a single rebuild; rebuilds take a permit of a semaphore, possibly shared
/// with other caches, so only a bounded number fold the log at once.
pub struct AsOfCache<P> {
    /// Points by (position applied, day the model's clock was moved to).
    entries: Mutex<VecDeque<(Point, Slot<P>)>>,
    /// The greatest head read so far: positions up to it exist for good (the log only
    /// grows), so asking for one of them needs no read of the head.
    known_head: AtomicU64,
    capacity: usize,
    rebuilds: Arc<Semaphore>,
    empty: Box<dyn Fn() -> P + Send + Sync>,
}

/// Rebuilds one cache runs at once when it is given no shared limit.
const DEFAULT_CONCURRENT_REBUILDS: usize = 2;

impl<P: Projection> AsOfCache<P> {
    /// A cache of `capacity` past states, each folded from `empty()`, running at most
    /// two rebuilds at once.
    pub fn new(capacity: usize, empty: impl Fn() -> P + Send + Sync + 'static) -> Self {
        Self::with_limit(
            capacity,
            Arc::new(Semaphore::new(DEFAULT_CONCURRENT_REBUILDS)),
            empty,
        )
    }

    /// A cache whose rebuilds each hold a permit of `rebuilds` while they run.
    pub fn with_limit(
        capacity: usize,
        rebuilds: Arc<Semaphore>,
        empty: impl Fn() -> P + Send + Sync + 'static,
    ) -> Self {
        AsOfCache {
            entries: Mutex::new(VecDeque::new()),
            known_head: AtomicU64::new(0),
            capacity: capacity.max(1),
            rebuilds,
            empty: Box::new(empty),
        }
    }

    /// The model after `position`, or after the head when `position` is beyond it (cached,
    /// else rebuilt), with the position actually applied.
    pub async fn at(&self, store: &SharedStore, position: u64) -> Result<(Arc<P>, u64), ApiError> {
        self.at_time(store, position, None).await
    }

    /// [`Self::at`], then, given a time, the model's clock moved to it
    /// ([`palier_projections::Projection::advance_clock`]: a model that follows the calendar
    /// takes into account what is dated up to that day). Cached per position and day.
    pub async fn at_time(
        &self,
        store: &SharedStore,
        position: u64,
        time: Option<DateTime<Utc>>,
    ) -> Result<(Arc<P>, u64), ApiError> {
        let applied = if position <= self.known_head.load(Ordering::Acquire) {
            position
        } else {
            let head = store.head().await?.map_or(0, |h| h.position);
            self.known_head.fetch_max(head, Ordering::AcqRel);
            position.min(head)
        };
        let key = (applied, time.map(|t| t.date_naive()));
        let slot = {
            let mut entries = self.lock();
            match entries.iter().find(|(k, _)| *k == key) {
                Some((_, slot)) => Arc::clone(slot),
                None => {
                    let slot: Slot<P> = Arc::new(OnceCell::new());
                    entries.push_front((key, Arc::clone(&slot)));
                    entries.truncate(self.capacity);
                    slot
                }
            }
        };
        // The first caller rebuilds; the others wait for its result (or, if it failed, the
        // next one tries again).
        let model = slot
            .get_or_try_init(|| async {
                let _permit = self
                    .rebuilds
                    .acquire()
                    .await
                    .map_err(|e| ApiError::internal(&e))?;
                let (mut model, _) =
                    palier_projections::rebuild(store, (self.empty)(), Some(applied)).await?;
                if let Some(time) = time {
                    model.advance_clock(time);
                }
                Ok::<_, ApiError>(Arc::new(model))
            })
            .await?;
        Ok((Arc::clone(model), applied))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Point, Slot<P>)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The position an `asOf` designates.
pub async fn resolve(store: &SharedStore, as_of: AsOf) -> Result<u64, ApiError> {
    match (as_of.position, as_of.time) {
        (Some(p), None) => Ok(p.0),
        (None, Some(time)) => {
            // Everything recorded at or before `time`: up to the first position after it. The
            // last representable instant has nothing after it: all of the log.
            match time.checked_add_signed(chrono::Duration::microseconds(1)) {
                Some(after) => Ok(store.position_at(after).await?.saturating_sub(1)),
                None => Ok(u64::MAX),
            }
        }
        _ => Err(ApiError::bad_input(
            "asOf",
            "give exactly one of position or time",
        )),
    }
}

/// Audit queries, merged into the query root.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The global log, oldest first, as a connection (cursor: the position). `after` and
    /// `before` bound positions (exclusive), `from` and `to` store times (inclusive).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::list_cost(first, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        after: Option<Position>,
        before: Option<Position>,
        stream_prefix: Option<String>,
        types: Option<Vec<String>>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        #[graphql(default = 100)] first: i32,
    ) -> async_graphql::Result<Connection<String, EventGql>> {
        auditor(ctx)?;
        let store = &state(ctx)?.store;
        let first = page_size(first)?;
        let mut filter = EventFilter::all();
        if let Some(prefix) = stream_prefix {
            filter = filter
                .and_stream_prefixes([prefix])
                .map_err(|e| ApiError::bad_input("streamPrefix", e.to_string()))?;
        }
        if let Some(types) = types {
            filter = filter
                .and_event_types(types)
                .map_err(|e| ApiError::bad_input("types", e.to_string()))?;
        }
        // Nothing follows the greatest position: an empty page, never a wrap to 1.
        let Some(mut start) = after.map_or(Some(1), |p| p.0.checked_add(1)) else {
            return Ok(Connection::new(true, false));
        };
        if let Some(from) = from {
            start = start.max(store.position_at(from).await.map_err(ApiError::from)?);
        }
        let mut end = before.map_or(u64::MAX, |p| p.0.saturating_sub(1));
        // `to` at the last representable instant bounds nothing.
        if let Some(after_to) =
            to.and_then(|t| t.checked_add_signed(chrono::Duration::microseconds(1)))
        {
            let after_to = store.position_at(after_to).await.map_err(ApiError::from)?;
            end = end.min(after_to.saturating_sub(1));
        }
        let mut events = Vec::with_capacity(first);
        let mut has_next = false;
        let mut next = start;
        while next <= end {
            let slice = store
                .read_all(next, &filter, first + 1 - events.len())
                .await
                .map_err(ApiError::from)?;
            for event in slice.events {
                if event.position > end {
                    break;
                }
                if events.len() == first {
                    has_next = true;
                    break;
                }
                events.push(event);
            }
            if has_next || slice.is_end || slice.scanned_to >= end {
                break;
            }
            match slice.scanned_to.checked_add(1) {
                Some(following) => next = following,
                None => break,
            }
        }
        let mut connection = Connection::new(start > 1, has_next);
        connection.edges.extend(
            events
                .into_iter()
                .map(|e| Edge::new(e.position.to_string(), EventGql(e))),
        );
        Ok(connection)
    }

    /// One stream (`person-<id>`, `establishment-<UAI>`, …); `null` if it has no events.
    async fn stream(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> async_graphql::Result<Option<StreamGql>> {
        auditor(ctx)?;
        let name =
            StreamName::parse(name).map_err(|e| ApiError::bad_input("name", e.to_string()))?;
        let info = state(ctx)?
            .store
            .stream_info(&name)
            .await
            .map_err(ApiError::from)?;
        Ok(info.map(|info| StreamGql { name, info }))
    }

    /// Walks the hash chain and reports the first broken link, and the head to keep. With a
    /// checkpoint kept from an earlier walk, also checks that history up to it was not
    /// rewritten (a rewrite that re-chains every later hash still fails this). Walks the whole
    /// log: weighs `AS_OF_COST` in the query's complexity, like a rebuild.
    #[graphql(complexity = "super::AS_OF_COST + child_complexity")]
    async fn verify_log(
        &self,
        ctx: &Context<'_>,
        checkpoint: Option<CheckpointInput>,
    ) -> async_graphql::Result<VerifyReportGql> {
        auditor(ctx)?;
        let checkpoint = checkpoint
            .map(|c| {
                Hash::from_hex(&c.hash)
                    .map(|hash| LogHead {
                        position: c.position.0,
                        hash,
                    })
                    .map_err(|e| ApiError::bad_input("checkpoint.hash", e))
            })
            .transpose()?;
        let report = palier_store::verify::verify(&state(ctx)?.store, checkpoint)
            .await
            .map_err(ApiError::from)?;
        Ok(VerifyReportGql {
            ok: report.is_ok(),
            checked: Position(report.checked),
            head: report.head.map(|h| LogHeadGql {
                position: Position(h.position),
                hash: h.hash.to_hex(),
            }),
            broken: report.broken.map(|b| BrokenLinkGql {
                position: Position(b.position),
                reason: b.reason,
            }),
        })
    }

    /// The log's head now.
    async fn log_head(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<LogHeadGql>> {
        auditor(ctx)?;
        let head = state(ctx)?.store.head().await.map_err(ApiError::from)?;
        Ok(head.map(|h| LogHeadGql {
            position: Position(h.position),
            hash: h.hash.to_hex(),
        }))
    }
}
