//! Palier's event store: an append-only, hash-chained log of events with an API modelled on
//! the EventStoreDB/KurrentDB client (`append_to_stream`, `read_stream`, `read_all`,
//! `subscribe_to_all`), so that a KurrentDB backend could later slot in without touching callers.
//!
//! The crate owns the storage contract; it knows nothing of competences or establishments.
//! Backends implement [`EventStore`]; the embedded SQLite backend ([`SqliteStore`]) is the
//! default, the PostgreSQL backend ([`PostgresStore`]) lets several processes share a store. Every backend must pass the contract suite in `tests/contract/`.
#![forbid(unsafe_code)]

pub mod append;
pub mod canonical;
pub mod commit_stats;
pub mod error;
pub mod event;
pub mod filter;
pub mod fold;
pub mod hash;
pub mod keys;
pub mod names;
pub mod ndjson;
pub mod postgres;
pub mod read;
pub mod reply_home;
pub mod shared;
pub mod sqlite;
pub mod subscription;
pub mod verify;

pub use append::{AppendResult, CurrentRevision, ExpectedRevision};
pub use commit_stats::{CommitFigures, CommitStats};
pub use error::StoreError;
pub use event::{EventData, Metadata, RecordedEvent};
pub use filter::EventFilter;
pub use fold::{FoldEvent, FoldPage};
pub use hash::Hash;
pub use keys::{KeyStore, PostgresKeyStore, SqliteKeyStore};
pub use names::{EventType, StreamName};
pub use postgres::{PostgresOptions, PostgresStore};
pub use read::{AllSlice, Direction, LogHead, StreamFrom, StreamInfo};
pub use reply_home::serve_replies_on_this_thread;
pub use shared::SharedStore;
pub use sqlite::{SqliteOptions, SqliteStore};
pub use subscription::{EventChunk, Subscription};
pub use verify::{BrokenLink, VerifyReport};

use async_trait::async_trait;

/// The store contract every backend fulfils (see `tests/contract/` for the executable version).
///
/// Positions are global, start at 1 and have no gaps visible to readers; stream revisions
/// start at 0. All methods are cancel-safe from the caller's side: an append whose future is
/// dropped either happened entirely or not at all, and retrying it with the same event ids is
/// idempotent.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends `events` to `stream` atomically if the stream's current revision satisfies
    /// `expected`. Re-appending events whose ids are already in that stream, in the same order
    /// and with the same content, returns the original positions without writing anything.
    async fn append_to_stream(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
        events: Vec<EventData>,
    ) -> Result<AppendResult, StoreError>;

    /// Writes events exactly as another store recorded them (same positions, revisions, store
    /// times and hashes) if they continue this log: each must take the next position, the next
    /// revision of its stream, and chain onto the current head's hash. All or nothing; returns
    /// the last position. This is how an export is restored and a log copied between backends.
    async fn append_recorded(&self, events: Vec<RecordedEvent>) -> Result<u64, StoreError>;

    /// Reads up to `limit` events of one stream, starting at `from`, in `direction`.
    /// A stream that does not exist reads as empty; use [`EventStore::stream_info`] to tell.
    async fn read_stream(
        &self,
        stream: &StreamName,
        from: StreamFrom,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Reads up to `limit` events of the global log matching `filter`, from position `from`
    /// (inclusive), in position order. `scanned_to` in the answer says how far the log was
    /// examined, so filtered readers can resume without rescanning.
    async fn read_all(
        &self,
        from: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<AllSlice, StoreError>;

    /// The same read as [`EventStore::read_all`], in the lean form read models fold
    /// ([`FoldPage`]: no metadata, ids or hashes). Backends that can select fewer columns
    /// override this; the default goes through `read_all`.
    async fn read_all_for_fold(
        &self,
        from: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<FoldPage, StoreError> {
        let slice = self.read_all(from, filter, limit).await?;
        Ok(FoldPage::from_events(
            &slice.events,
            slice.scanned_to,
            slice.is_end,
        ))
    }

    /// What the store knows of one stream, or `None` when it has no events.
    async fn stream_info(&self, stream: &StreamName) -> Result<Option<StreamInfo>, StoreError>;

    /// The first position recorded at or after `time` (store time, which never decreases
    /// along the log), or the head + 1 when none was. Lets auditors ask "as it stood then".
    async fn position_at(&self, time: chrono::DateTime<chrono::Utc>) -> Result<u64, StoreError>;

    /// The last event of the log (its position and hash), or `None` when the log is empty.
    async fn head(&self) -> Result<Option<LogHead>, StoreError>;

    /// A catch-up subscription over the whole log: every event after position `after`
    /// (exclusive, as in KurrentDB: pass your last checkpoint, or 0 for the beginning) that
    /// matches `filter`, first from history then live, in position order, with no gap and no
    /// duplicate. A slow consumer never blocks writers: it falls back to reading storage.
    fn subscribe_to_all(&self, after: u64, filter: EventFilter) -> Subscription;

    /// The first event that the store's stream index (what [`EventStore::read_stream`] and the
    /// appends' expectations go by) files under another stream than the one its hash covers,
    /// with both names; `None` when the index agrees with the log. The hash chain covers each
    /// event's stream name, not the index beside it, so [`verify::verify`] asks this after
    /// its walk. A backend without a separate index has nothing to check.
    async fn stream_index_mismatch(&self) -> Result<Option<(u64, String, String)>, StoreError> {
        Ok(None)
    }

    /// What this process's group commits have cost so far (see [`commit_stats`]); all zero
    /// for a backend that does not write.
    fn commit_figures(&self) -> CommitFigures {
        CommitFigures::default()
    }

    /// Closes the store for writing, for a graceful shutdown: appends already accepted are
    /// committed first, later ones fail with [`StoreError::Closed`]; reads keep working.
    /// A backend with nothing to close does nothing.
    async fn close(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
