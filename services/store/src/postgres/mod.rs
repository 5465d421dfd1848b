//! The PostgreSQL backend: several palier processes share one store, chosen with
//! `PALIER_STORE=postgres://…` (or `postgresql://…`).
//!
//! - Appends go through one writer task per process that group-commits every append waiting
//!   into one transaction; transactions of all processes are serialised by an advisory lock,
//!   so positions commit in order and readers never see a gap that later fills (see
//!   [`writer`](self) docs in `writer.rs`). Groups commit asynchronously and a fence then
//!   flushes them, outside the lock, so that several processes' commits share WAL flushes.
//! - Reads go through a connection pool (deadpool-postgres), and never past the durable head
//!   (`durable.rs`): a reader never sees an event a crash could take back.
//! - Subscriptions are fed by a tailer woken by `LISTEN`/`NOTIFY`, with polling as a safety
//!   net, so a commit of another process reaches this one's subscribers in a round trip.
//! - The schema is created or migrated on first start; a store of a newer format is refused.
//!
//! Connections are made without TLS (`sslmode=disable` or the default `prefer`).
mod durable;
mod reader;
mod schema;
mod tailer;
pub mod testing;
mod writer;

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::EventStore;
use crate::append::{AppendResult, ExpectedRevision};
use crate::commit_stats::{CommitFigures, CommitStats};
use crate::error::StoreError;
use crate::event::{EventData, RecordedEvent};
use crate::filter::EventFilter;
use crate::fold::FoldPage;
use crate::names::StreamName;
use crate::read::{AllSlice, Direction, LogHead, StreamFrom, StreamInfo};
use crate::reply_home::ReplyTo;
use crate::sqlite::{MAX_BYTES_PER_APPEND, MAX_EVENTS_PER_APPEND};
use crate::subscription::{LIVE_FEED_CAPACITY, LiveBatch, Subscription};

pub use schema::FORMAT_VERSION;

/// The advisory lock class of palier ("Palr"), with the two locks in it.
pub(crate) const LOCK_CLASS: i32 = 0x5061_6c72;
/// Serialises appends (transaction-scoped).
pub(crate) const LOCK_APPEND: i32 = 1;
/// Serialises schema migrations (transaction-scoped).
pub(crate) const LOCK_MIGRATE: i32 = 2;
/// The channel every commit notifies, with its last position as payload.
pub(crate) const NOTIFY_CHANNEL: &str = "palier_events";

/// Settings of the PostgreSQL backend.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Connections in the read pool.
    pub pool_size: usize,
    /// Appends waiting for the writer before callers wait to enqueue (back-pressure).
    pub queue_depth: usize,
    /// How often the live feed looks for commits it was not notified of (safety net).
    pub poll_interval: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            pool_size: 8,
            queue_depth: 8192,
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// Maps PostgreSQL failures onto the store's error policy: a full disk is `StorageFull`,
/// anything else `Storage`, with the server's message.
pub(crate) fn map_pg(e: tokio_postgres::Error) -> StoreError {
    let message = match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("PostgreSQL: {} ({detail})", db.message()),
            None => format!("PostgreSQL: {}", db.message()),
        },
        None => format!("PostgreSQL: {e}"),
    };
    if e.code() == Some(&SqlState::DISK_FULL) {
        StoreError::StorageFull(message)
    } else {
        StoreError::Storage(message)
    }
}

/// Opens connections to the store's database.
#[derive(Clone)]
pub(crate) struct Connector {
    config: tokio_postgres::Config,
}

impl Connector {
    /// A client whose connection is driven by a task of its own.
    pub(crate) async fn connect(&self) -> Result<tokio_postgres::Client, StoreError> {
        let (client, connection) = self.connect_raw().await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "a store connection ended");
            }
        });
        Ok(client)
    }

    /// A client and the connection the caller must drive.
    pub(crate) async fn connect_raw(
        &self,
    ) -> Result<
        (
            tokio_postgres::Client,
            tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
        ),
        StoreError,
    > {
        self.config.connect(NoTls).await.map_err(map_pg)
    }
}

/// The store's address without credentials, for messages.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_default();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("");
    format!("postgres://{host}:{port}/{db}")
}

/// The PostgreSQL event store. Cheap to clone: clones share one writer and one pool.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    describe: String,
    pool: deadpool_postgres::Pool,
    /// `None` when opened read-only.
    writer: Option<mpsc::Sender<writer::Request>>,
    live: broadcast::Sender<LiveBatch>,
    /// The last position known durable: every read stops there.
    durable: Arc<durable::DurableHead>,
    /// The tailer and the listener, stopped with the store.
    tasks: Vec<JoinHandle<()>>,
    /// What this process's writer's commits cost (zero when read-only).
    commits: Arc<CommitStats>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("store", &self.inner.describe)
            .finish()
    }
}

fn parse_url(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    let mut config = tokio_postgres::Config::from_str(url)
        .map_err(|e| StoreError::invalid("PALIER_STORE", format!("not a PostgreSQL URL: {e}")))?;
    // Durability rests on fences whose commit flushes the WAL (`durable.rs`): every session
    // asks for `synchronous_commit = on` itself rather than inherit the server's or the
    // role's setting (`ALTER ROLE … SET synchronous_commit = off`, a common tuning, would
    // make fences flush nothing and acknowledged appends losable). Options the URL gives are
    // kept; a later `-c` wins, so this one is last.
    let options = match config.get_options() {
        Some(given) if !given.trim().is_empty() => format!("{given} {SYNCHRONOUS_COMMIT}"),
        _ => SYNCHRONOUS_COMMIT.to_owned(),
    };
    config.options(options);
    Ok(config)
}

/// The session option every store connection starts with (see [`parse_url`]).
const SYNCHRONOUS_COMMIT: &str = "-c synchronous_commit=on";

fn pool(
    config: &tokio_postgres::Config,
    size: usize,
) -> Result<deadpool_postgres::Pool, StoreError> {
    let manager = deadpool_postgres::Manager::from_config(
        config.clone(),
        NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    deadpool_postgres::Pool::builder(manager)
        .max_size(size.max(1))
        .build()
        .map_err(|e| StoreError::Storage(format!("cannot build the connection pool: {e}")))
}

impl PostgresStore {
    /// Opens the store in the database at `url` (`postgres://user:password@host:port/db`),
    /// creating or migrating its schema. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`StoreError::UnsupportedFormat`] for a store written by a newer palier (left
    /// untouched), [`StoreError::NotAStore`] for a foreign `palier` schema, `Storage` when the
    /// server cannot be reached.
    pub async fn open(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let config = parse_url(url)?;
        let describe = describe(&config);
        let connector = Connector { config };
        let mut client = connector.connect().await?;
        schema::migrate(&mut client, &describe).await?;
        // What an earlier process committed may not be on disk yet.
        let durable = Arc::new(durable::DurableHead::default());
        durable::refresh(&client, &durable).await?;
        drop(client);
        let pool = pool(&connector.config, options.pool_size)?;
        let (live, _) = broadcast::channel(LIVE_FEED_CAPACITY);
        let (feed, local) = tailer::Feed::new(live.clone(), Arc::clone(&durable));
        let (notified_tx, notified_rx) = mpsc::channel(1024);
        let (tx, rx) = mpsc::channel(options.queue_depth.max(1));
        let commits = Arc::new(CommitStats::default());
        tokio::spawn(writer::run(
            connector.clone(),
            rx,
            feed.clone(),
            Arc::clone(&commits),
        ));
        let tasks = vec![
            tokio::spawn(tailer::run(
                pool.clone(),
                feed.clone(),
                local,
                notified_rx,
                options.poll_interval,
            )),
            tokio::spawn(tailer::listen(
                connector,
                notified_tx,
                tailer::wake_of(&feed),
                Arc::clone(&durable),
            )),
        ];
        tracing::info!(store = %describe, "event store opened (PostgreSQL)");
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                describe,
                pool,
                writer: Some(tx),
                live,
                durable,
                tasks,
                commits,
            }),
        })
    }

    /// Opens an existing store for reading only (`verify`, `export`, `replay` beside running
    /// servers): nothing is created or migrated; appends fail with [`StoreError::ReadOnly`].
    /// It reads the log as it was durable when opened (a fence then), and no further.
    pub async fn open_read_only(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let config = parse_url(url)?;
        let describe = describe(&config);
        let pool = pool(&config, options.pool_size)?;
        let durable = Arc::new(durable::DurableHead::default());
        {
            let client = pool.get().await.map_err(pool_error)?;
            schema::check_existing(&client, &describe).await?;
            durable::refresh(&client, &durable).await?;
        }
        let (live, _) = broadcast::channel(1);
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                describe,
                pool,
                writer: None,
                live,
                durable,
                tasks: Vec::new(),
                commits: Arc::default(),
            }),
        })
    }

    /// The store's address (without credentials).
    pub fn describe(&self) -> &str {
        &self.inner.describe
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.inner.pool.get().await.map_err(pool_error)
    }

    /// Where reads stop: the last position known durable.
    fn cap(&self) -> u64 {
        self.inner.durable.get()
    }

    fn writer(&self) -> Result<&mpsc::Sender<writer::Request>, StoreError> {
        self.inner
            .writer
            .as_ref()
            .ok_or_else(|| StoreError::ReadOnly {
                path: self.inner.describe.clone().into(),
            })
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => map_pg(e),
        other => StoreError::Storage(format!("PostgreSQL connection pool: {other}")),
    }
}

fn check_append(events: &[EventData]) -> Result<(), StoreError> {
    if events.len() > MAX_EVENTS_PER_APPEND {
        return Err(StoreError::invalid(
            "events",
            format!(
                "{} events in one append, at most {MAX_EVENTS_PER_APPEND}",
                events.len()
            ),
        ));
    }
    let bytes: usize = events.iter().map(|e| e.data().len()).sum();
    if bytes > MAX_BYTES_PER_APPEND {
        return Err(StoreError::invalid(
            "events",
            format!("{bytes} payload bytes in one append, at most {MAX_BYTES_PER_APPEND}"),
        ));
    }
    for event in events {
        event.metadata().validate()?;
    }
    Ok(())
}

#[async_trait]
impl EventStore for PostgresStore {
    fn commit_figures(&self) -> CommitFigures {
        self.inner.commits.figures()
    }

    async fn append_to_stream(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
        events: Vec<EventData>,
    ) -> Result<AppendResult, StoreError> {
        check_append(&events)?;
        let (reply, outcome) = ReplyTo::here();
        self.writer()?
            .send(writer::Request::Append(writer::AppendRequest {
                stream: stream.clone(),
                expected,
                events,
                reply,
            }))
            .await
            .map_err(|_| StoreError::Closed)?;
        outcome.await.map_err(|_| StoreError::Closed)?
    }

    async fn append_recorded(&self, events: Vec<RecordedEvent>) -> Result<u64, StoreError> {
        if events.len() > MAX_EVENTS_PER_APPEND {
            return Err(StoreError::invalid(
                "events",
                format!(
                    "{} events in one import call, at most {MAX_EVENTS_PER_APPEND}",
                    events.len()
                ),
            ));
        }
        for event in &events {
            crate::names::EventType::parse(event.event_type.clone())?;
            event.metadata.validate()?;
        }
        let (reply, outcome) = oneshot::channel();
        self.writer()?
            .send(writer::Request::Import(writer::ImportRequest {
                events,
                reply,
            }))
            .await
            .map_err(|_| StoreError::Closed)?;
        outcome.await.map_err(|_| StoreError::Closed)?
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        from: StreamFrom,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let client = self.client().await?;
        reader::read_stream(&client, self.cap(), stream.as_str(), from, direction, limit).await
    }

    async fn read_all(
        &self,
        from: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<AllSlice, StoreError> {
        let client = self.client().await?;
        reader::read_all(&client, self.cap(), from, filter, limit).await
    }

    async fn read_all_for_fold(
        &self,
        from: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<FoldPage, StoreError> {
        let client = self.client().await?;
        reader::read_all_for_fold(&client, self.cap(), from, filter, limit).await
    }

    async fn stream_info(&self, stream: &StreamName) -> Result<Option<StreamInfo>, StoreError> {
        let client = self.client().await?;
        reader::stream_info(&client, self.cap(), stream.as_str()).await
    }

    async fn position_at(&self, time: chrono::DateTime<chrono::Utc>) -> Result<u64, StoreError> {
        let client = self.client().await?;
        reader::position_at(&client, self.cap(), time.timestamp_micros()).await
    }

    async fn head(&self) -> Result<Option<LogHead>, StoreError> {
        let client = self.client().await?;
        reader::head(&client, self.cap()).await
    }

    async fn stream_index_mismatch(&self) -> Result<Option<(u64, String, String)>, StoreError> {
        let client = self.client().await?;
        reader::stream_index_mismatch(&client, self.cap()).await
    }

    fn subscribe_to_all(&self, after: u64, filter: EventFilter) -> Subscription {
        Subscription::start(self.clone(), &self.inner.live, after, filter)
    }

    async fn close(&self) -> Result<(), StoreError> {
        let Some(writer) = self.inner.writer.as_ref() else {
            return Ok(()); // read-only: nothing to close
        };
        let (reply, done) = oneshot::channel();
        if writer.send(writer::Request::Close(reply)).await.is_err() {
            return Ok(()); // already closed
        }
        done.await.map_err(|_| StoreError::Closed)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_session_asks_for_synchronous_commit_after_the_urls_own_options() {
        let plain = parse_url("postgres://palier@localhost/palier").expect("url");
        assert_eq!(plain.get_options(), Some(SYNCHRONOUS_COMMIT));
        let tuned = parse_url(
            "postgres://palier@localhost/palier?options=-c%20synchronous_commit%3Doff%20-c%20statement_timeout%3D5s",
        )
        .expect("url");
        assert_eq!(
            tuned.get_options(),
            Some("-c synchronous_commit=off -c statement_timeout=5s -c synchronous_commit=on")
        );
    }
}
