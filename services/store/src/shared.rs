//! A type-erased, cloneable store handle, so the service can choose its backend at run time
//! (`sqlite://…` today, `postgres://…` later) while generic code keeps `EventStore + Clone`.
use std::sync::Arc;

use async_trait::async_trait;

use crate::EventStore;
use crate::append::{AppendResult, ExpectedRevision};
use crate::commit_stats::CommitFigures;
use crate::error::StoreError;
use crate::event::{EventData, RecordedEvent};
use crate::filter::EventFilter;
use crate::fold::FoldPage;
use crate::names::StreamName;
use crate::read::{AllSlice, Direction, LogHead, StreamFrom, StreamInfo};
use crate::subscription::Subscription;

/// Any backend behind one `Arc`.
#[derive(Clone)]
pub struct SharedStore(Arc<dyn EventStore>);

impl SharedStore {
    /// Wraps a backend.
    pub fn new<S: EventStore>(store: S) -> Self {
        SharedStore(Arc::new(store))
    }
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedStore")
    }
}

#[async_trait]
impl EventStore for SharedStore {
    async fn append_to_stream(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
        events: Vec<EventData>,
    ) -> Result<AppendResult, StoreError> {
        self.0.append_to_stream(stream, expected, events).await
    }

    async fn append_recorded(&self, events: Vec<RecordedEvent>) -> Result<u64, StoreError> {
        self.0.append_recorded(events).await
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        from: StreamFrom,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.0.read_stream(stream, from, direction, limit).await
    }

    async fn read_all(
        &self,
        from: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<AllSlice, StoreError> {
        self.0.read_all(from, filter, limit).await
    }

    async fn read_all_for_fold(
        &self,
        from: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<FoldPage, StoreError> {
        self.0.read_all_for_fold(from, filter, limit).await
    }

    async fn stream_info(&self, stream: &StreamName) -> Result<Option<StreamInfo>, StoreError> {
        self.0.stream_info(stream).await
    }

    fn commit_figures(&self) -> CommitFigures {
        self.0.commit_figures()
    }

    async fn position_at(&self, time: chrono::DateTime<chrono::Utc>) -> Result<u64, StoreError> {
        self.0.position_at(time).await
    }

    async fn head(&self) -> Result<Option<LogHead>, StoreError> {
        self.0.head().await
    }

    async fn stream_index_mismatch(&self) -> Result<Option<(u64, String, String)>, StoreError> {
        self.0.stream_index_mismatch().await
    }

    fn subscribe_to_all(&self, after: u64, filter: EventFilter) -> Subscription {
        self.0.subscribe_to_all(after, filter)
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.0.close().await
    }
}
