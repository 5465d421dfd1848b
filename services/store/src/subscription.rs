//! Catch-up subscriptions over the global log, shared by every backend.
//!
//! The order of operations is what makes them gap-free (the lesson of Hasura's streaming
//! subscriptions, which missed rows committed late): first join the live feed, then read
//! history from storage up to the head, then take live batches, dropping what was already
//! read by position. Live batches are contiguous in position; if one is missing (the consumer
//! fell behind and the bounded feed overflowed), the subscriber goes back to storage from its
//! last position, so a slow consumer never blocks writers and never loses an event.
//!
//! A backend publishes copies of committed events only when someone listens; a subscriber that
//! joins while a commit is under way may find neither the events in storage (not yet
//! committed) nor copies on the feed (the writer decided before it joined). For that case the
//! backend sends an empty batch after the commit, which sends the subscriber back to storage.
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use crate::EventStore;
use crate::error::StoreError;
use crate::event::RecordedEvent;
use crate::filter::EventFilter;

/// Events committed together, in position order, as published on the live feed; an empty
/// batch means "something was committed: read it from storage".
pub type LiveBatch = Arc<[RecordedEvent]>;

/// How many committed batches the live feed buffers before slow subscribers fall back to
/// storage.
pub const LIVE_FEED_CAPACITY: usize = 1024;
/// How many events are read from storage at a time while catching up.
const CATCH_UP_PAGE: usize = 1024;
/// How many chunks (a page of history or a committed batch) wait for a consumer before the
/// subscriber stops pulling.
const CONSUMER_CHUNKS: usize = 4;

type Chunk = Result<Vec<RecordedEvent>, StoreError>;

/// A running catch-up subscription: a stream of events (or one final error).
///
/// Dropping it stops the background task.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<Chunk>,
    /// Events received in a chunk and not yet handed out; events travel in chunks so that a
    /// catch-up over millions of events does not pay a channel hop per event.
    ready: VecDeque<RecordedEvent>,
    task: Option<JoinHandle<()>>,
}

impl Subscription {
    /// The next event; `None` once the store is closed, after an error has been delivered.
    pub async fn next(&mut self) -> Option<Result<RecordedEvent, StoreError>> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<RecordedEvent, StoreError>>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(chunk))) => self.ready.extend(chunk),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Starts a subscription reading history from `store` and live batches from `live`.
    /// Must be called inside a tokio runtime; outside one it yields a single error.
    pub fn start<S>(
        store: S,
        live: &broadcast::Sender<LiveBatch>,
        after: u64,
        filter: EventFilter,
    ) -> Subscription
    where
        S: EventStore + Clone,
    {
        let (tx, rx) = mpsc::channel(CONSUMER_CHUNKS);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            let _ = tx.try_send(Err(StoreError::Storage(
                "subscribe_to_all needs a tokio runtime".into(),
            )));
            return Subscription {
                rx,
                ready: VecDeque::new(),
                task: None,
            };
        };
        let live = live.clone();
        let task = runtime.spawn(async move {
            if let Err(e) = run(store, live, after, filter, &tx).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        Subscription {
            rx,
            ready: VecDeque::new(),
            task: Some(task),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl futures::Stream for Subscription {
    type Item = Result<RecordedEvent, StoreError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_event(cx)
    }
}

async fn run<S: EventStore>(
    store: S,
    live: broadcast::Sender<LiveBatch>,
    after: u64,
    filter: EventFilter,
    tx: &mpsc::Sender<Chunk>,
) -> Result<(), StoreError> {
    // Every position up to `seen` has been examined.
    let mut seen = after;
    'resync: loop {
        let mut feed = live.subscribe();
        loop {
            // Saturating: a caller may resume after any position, the greatest included.
            let slice = store
                .read_all(seen.saturating_add(1), &filter, CATCH_UP_PAGE)
                .await?;
            if !slice.events.is_empty() && tx.send(Ok(slice.events)).await.is_err() {
                return Ok(()); // the consumer went away
            }
            seen = seen.max(slice.scanned_to);
            if slice.is_end {
                break;
            }
        }
        loop {
            let batch = match feed.recv().await {
                Ok(batch) => batch,
                Err(broadcast::error::RecvError::Lagged(_)) => continue 'resync,
                Err(broadcast::error::RecvError::Closed) => return Err(StoreError::Closed),
            };
            if batch.is_empty() {
                // The writer's "committed, read it from storage" (see the module docs).
                continue 'resync;
            }
            let mut chunk = Vec::new();
            let mut gap = false;
            for event in batch.iter() {
                if event.position <= seen {
                    continue;
                }
                if event.position != seen.saturating_add(1) {
                    gap = true; // a batch went missing: storage has it
                    break;
                }
                seen = event.position;
                if filter.matches(event) {
                    chunk.push(event.clone());
                }
            }
            if !chunk.is_empty() && tx.send(Ok(chunk)).await.is_err() {
                return Ok(());
            }
            if gap {
                continue 'resync;
            }
        }
    }
}
