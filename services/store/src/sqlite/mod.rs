//! The embedded SQLite backend, the default: one file under the data directory, WAL,
//! `synchronous=FULL`, one writer thread that group-commits, reader threads of its own (each
//! with a read-only connection) so that reads never wait for tokio's blocking pool.
//!
//! Opening never damages what it finds: a file that is not a palier store, or a store of a
//! newer format, is refused before anything is written to it.
mod checkpointer;
mod known;
mod reader;
mod schema;
mod writer;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::Connection;
use tokio::sync::{broadcast, mpsc, oneshot};

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
use crate::subscription::{LIVE_FEED_CAPACITY, LiveBatch, Subscription};

pub use schema::{APPLICATION_ID, FORMAT_VERSION};

/// Most events one append may carry.
pub const MAX_EVENTS_PER_APPEND: usize = 10_000;
/// Most payload bytes one append may carry.
pub const MAX_BYTES_PER_APPEND: usize = 64 * 1024 * 1024;

/// Settings of the SQLite backend.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Reader threads, each with its read-only connection. Reads run there, never on tokio's
    /// blocking pool, so nothing that fills that pool can keep the store from being read.
    pub reader_threads: usize,
    /// Appends waiting for the writer before callers wait to enqueue (back-pressure).
    pub queue_depth: usize,
    /// Caps the database size in pages (`PRAGMA max_page_count`); reaching it behaves like a
    /// full disk. `None`: no cap beyond the disk.
    pub max_page_count: Option<u64>,
    /// How long opening waits for the store's lock before reporting it `Locked`. A short wait
    /// covers a previous owner that is still closing, and a process that forked (to spawn a
    /// child) at the instant the lock's descriptor was open: the child holds a copy of it
    /// until its `exec`, which keeps the lock taken for that moment.
    pub lock_wait: std::time::Duration,
    /// WAL pages after which the checkpointer thread copies the WAL back into the file (see
    /// `checkpointer`); past four times this, the writer copies it itself, which bounds the
    /// WAL file. Larger: fewer, bigger checkpoints, so pages rewritten by many groups (index
    /// interiors, the log's tail) are copied once; but a bigger WAL file (4 KiB a page).
    pub checkpoint_pages: u32,
}

/// Default of [`SqliteOptions::checkpoint_pages`]: 4,000 pages (16 MiB of WAL). When the
/// writer checkpointed inside its commits, through the server (one-element writes, 3,000
/// persons, 64 connections): SQLite's default of 1,000 made 17,300–18,700 req/s at p99 10–12
/// ms, 4,000 made 22,100–22,200 at p99 19–20 ms, 16,000 made 23,900–25,100 at p99 24–25 ms.
/// With the checkpointer thread, 16,000 made no more than 4,000 (17,900–18,200 against
/// 16,900–18,400 req/s, alternated) and its p99 jumped to 36–365 ms (the file's larger fsyncs).
pub const DEFAULT_CHECKPOINT_PAGES: u32 = 4000;

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            reader_threads: 4,
            queue_depth: 8192,
            max_page_count: None,
            lock_wait: std::time::Duration::from_millis(1500),
            checkpoint_pages: DEFAULT_CHECKPOINT_PAGES,
        }
    }
}

/// The embedded SQLite event store. Cheap to clone: clones share one writer and one pool.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// `None` only while dropping.
    writer: Option<mpsc::Sender<writer::Request>>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
    readers: reader::ReadPool,
    live: broadcast::Sender<LiveBatch>,
    /// Held for the store's lifetime so a second process cannot open the same file for
    /// writing; `None` when opened read-only.
    lock: Option<File>,
    /// What the writer's commits cost (zero when read-only).
    commits: Arc<CommitStats>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

/// Maps SQLite failures onto the store's error policy: a full disk (or size cap) is
/// `StorageFull`, anything else `Storage`; neither panics nor poisons the store.
pub(crate) fn map_sql(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull => {
            StoreError::StorageFull(e.to_string())
        }
        _ => StoreError::Storage(e.to_string()),
    }
}

impl SqliteStore {
    /// Opens (or creates) the store at `path`. Must be called inside a tokio runtime.
    pub async fn open(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(path, options))
            .await
            .map_err(|e| StoreError::Storage(format!("opening the store panicked: {e}")))?
    }

    fn open_blocking(path: PathBuf, options: SqliteOptions) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Storage(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        let lock = lock_file(&path, options.lock_wait)?;
        let existing = schema::inspect(&path)?;
        restrict_permissions(&path)?;
        let mut conn = Connection::open(&path).map_err(map_sql)?;
        schema::configure_writer(&conn, options.max_page_count, options.checkpoint_pages)?;
        match existing {
            schema::Existing::Nothing => schema::create(&mut conn)?,
            schema::Existing::Store(version) => schema::migrate(&mut conn, version)?,
        }
        let state = writer::ChainState::load(&conn)?;
        let wal = checkpointer::WalPolicy::start(&conn, &path, options.checkpoint_pages)?;
        let (tx, rx) = mpsc::channel(options.queue_depth.max(1));
        let (live, _) = broadcast::channel(LIVE_FEED_CAPACITY);
        let live_for_writer = live.clone();
        let commits = Arc::new(CommitStats::default());
        let writer_commits = Arc::clone(&commits);
        let writer_thread = std::thread::Builder::new()
            .name("palier-store-writer".into())
            .spawn(move || writer::run(conn, state, rx, live_for_writer, wal, &writer_commits))
            .map_err(|e| StoreError::Storage(format!("cannot start the writer thread: {e}")))?;
        tracing::info!(path = %path.display(), "event store opened");
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                readers: reader::ReadPool::new(path.clone(), options.reader_threads)?,
                path,
                writer: Some(tx),
                writer_thread: Some(writer_thread),
                live,
                lock: Some(lock),
                commits,
            }),
        })
    }

    /// Opens an existing store for reading only, without taking its lock, so that an auditor
    /// or an operator can verify, export or replay the log while a server writes it (WAL gives
    /// each read a consistent snapshot). Appends and imports fail with
    /// [`StoreError::ReadOnly`]; subscriptions see what was committed when they read storage,
    /// not later commits of the other process.
    ///
    /// # Errors
    /// [`StoreError::NotAStore`] when there is no store at `path` (nothing is created), or
    /// the refusals of [`SqliteStore::open`] for foreign or newer files.
    pub async fn open_read_only(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        tokio::task::spawn_blocking(move || {
            if schema::inspect(&path)? == schema::Existing::Nothing {
                return Err(StoreError::NotAStore {
                    path,
                    reason: "there is no store there (nothing was created)".into(),
                });
            }
            let (live, _) = broadcast::channel(1);
            let store = SqliteStore {
                inner: Arc::new(Inner {
                    readers: reader::ReadPool::new(path.clone(), options.reader_threads)?,
                    path,
                    writer: None,
                    writer_thread: None,
                    live,
                    lock: None,
                    commits: Arc::default(),
                }),
            };
            // Fail now, not at the first read, if the file cannot be read.
            store.inner.readers.with(reader::head)?;
            Ok(store)
        })
        .await
        .map_err(|e| StoreError::Storage(format!("opening the store panicked: {e}")))?
    }

    /// The error of a write through a store without a writer.
    fn no_writer(&self) -> StoreError {
        if self.inner.lock.is_none() {
            StoreError::ReadOnly {
                path: self.inner.path.clone(),
            }
        } else {
            StoreError::Closed
        }
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.inner.readers.submit(Box::new(move |conn| {
            // The caller may have gone (a dropped request): then nobody needs the answer.
            let _ = reply.send(conn.and_then(f));
        }))?;
        answer
            .await
            .map_err(|_| StoreError::Storage("a read panicked".into()))?
    }
}

impl Drop for Inner {
    /// Closes the writer and waits for it, so that when the last handle is gone the file is
    /// closed cleanly (WAL checkpointed) before the lock is released.
    fn drop(&mut self) {
        self.readers.close();
        self.writer.take();
        if let Some(thread) = self.writer_thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the store writer thread panicked");
        }
    }
}

/// The log holds personal data: its file is readable by its owner only (mode 0600). A new
/// store is created so; an older, more open one is tightened, with its WAL and shared-memory
/// files (SQLite gives those the main file's mode when it creates them).
pub(crate) fn restrict_permissions(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let denied = |what: &Path, e: std::io::Error| {
            StoreError::Storage(format!(
                "cannot restrict {} to its owner: {e}",
                what.display()
            ))
        };
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(denied(path, e)),
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            let file = Path::new(&file);
            let Ok(metadata) = std::fs::metadata(file) else {
                continue;
            };
            if metadata.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| denied(file, e))?;
                tracing::info!(file = %file.display(), "restricted the store file to its owner (0600)");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn lock_file(path: &Path, wait: std::time::Duration) -> Result<File, StoreError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| StoreError::Storage(format!("cannot open lock file: {e}")))?;
    let deadline = std::time::Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    path: path.to_owned(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::Storage(format!("cannot lock the store: {e}")));
            }
        }
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
impl EventStore for SqliteStore {
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
        let request = writer::AppendRequest {
            stream: stream.clone(),
            expected,
            events,
            reply,
        };
        let writer = self.inner.writer.as_ref().ok_or_else(|| self.no_writer())?;
        writer
            .send(writer::Request::Append(request))
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
        let writer = self.inner.writer.as_ref().ok_or_else(|| self.no_writer())?;
        writer
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
        let stream = stream.as_str().to_owned();
        self.read(move |c| reader::read_stream(c, &stream, from, direction, limit))
            .await
    }

    async fn read_all(
        &self,
        from: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<AllSlice, StoreError> {
        let filter = filter.clone();
        self.read(move |c| reader::read_all(c, from, &filter, limit))
            .await
    }

    async fn read_all_for_fold(
        &self,
        from: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<FoldPage, StoreError> {
        let filter = filter.clone();
        self.read(move |c| reader::read_all_for_fold(c, from, &filter, limit))
            .await
    }

    async fn stream_info(&self, stream: &StreamName) -> Result<Option<StreamInfo>, StoreError> {
        let stream = stream.as_str().to_owned();
        self.read(move |c| reader::stream_info(c, &stream)).await
    }

    async fn position_at(&self, time: chrono::DateTime<chrono::Utc>) -> Result<u64, StoreError> {
        let micros = time.timestamp_micros();
        self.read(move |c| reader::position_at(c, micros)).await
    }

    async fn head(&self) -> Result<Option<LogHead>, StoreError> {
        self.read(reader::head).await
    }

    async fn stream_index_mismatch(&self) -> Result<Option<(u64, String, String)>, StoreError> {
        self.read(reader::stream_index_mismatch).await
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
