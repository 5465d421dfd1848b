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
//!
//! A live batch reaches every subscriber as the one shared copy the writer published
//! ([`EventChunk`]), not cloned per subscriber: the server's five read models each follow the
//! log, and copying every event five times (its stream, type, payload and metadata) was about
//! a sixth of their thread's time under one-element writes (`perf`, `scripts/bench-writes.sh`).
use std::collections::VecDeque;
use std::ops::{Deref, Range};
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

type Chunk = Result<EventChunk, StoreError>;

/// Consecutive events of a subscription, in position order: a page read from storage, or the
/// part of a committed batch the subscriber had not seen, shared with every other subscriber.
/// Dereferences to the events.
#[derive(Debug)]
pub struct EventChunk(Repr);

#[derive(Debug)]
enum Repr {
    Owned(Vec<RecordedEvent>),
    Shared(LiveBatch, Range<usize>),
}

impl EventChunk {
    fn owned(events: Vec<RecordedEvent>) -> Self {
        EventChunk(Repr::Owned(events))
    }
}

/// What is left of the last chunk received, for [`Subscription::next`]: events read from
/// storage are handed out by moving them, a shared batch's by copying.
#[derive(Debug)]
enum Ready {
    Owned(VecDeque<RecordedEvent>),
    Shared(LiveBatch, Range<usize>),
}

impl Ready {
    fn from_chunk(chunk: EventChunk) -> Self {
        match chunk.0 {
            Repr::Owned(events) => Ready::Owned(events.into()),
            Repr::Shared(batch, range) => Ready::Shared(batch, range),
        }
    }

    fn pop(&mut self) -> Option<RecordedEvent> {
        match self {
            Ready::Owned(events) => events.pop_front(),
            Ready::Shared(batch, range) => range.next().and_then(|i| batch.get(i).cloned()),
        }
    }

    /// The rest as a chunk, if anything is left.
    fn into_chunk(self) -> Option<EventChunk> {
        let chunk = match self {
            Ready::Owned(events) if !events.is_empty() => Repr::Owned(events.into()),
            Ready::Shared(batch, range) if range.start < range.end => Repr::Shared(batch, range),
            _ => return None,
        };
        Some(EventChunk(chunk))
    }
}

impl Deref for EventChunk {
    type Target = [RecordedEvent];

    fn deref(&self) -> &[RecordedEvent] {
        match &self.0 {
            Repr::Owned(events) => events,
            Repr::Shared(batch, range) => &batch[range.clone()],
        }
    }
}

/// A running catch-up subscription: a stream of events (or one final error).
///
/// Dropping it stops the background task.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<Chunk>,
    /// What [`Subscription::next`] has not yet handed out of the last chunk received; events
    /// travel in chunks so that a catch-up over millions of events does not pay a channel hop
    /// per event.
    ready: Option<Ready>,
    task: Option<JoinHandle<()>>,
}

impl Subscription {
    /// The next event; `None` once the store is closed, after an error has been delivered.
    pub async fn next(&mut self) -> Option<Result<RecordedEvent, StoreError>> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    /// The next events, as many as have arrived together (at least one), without copying
    /// them; `None` once the store is closed, after an error has been delivered. What
    /// [`Subscription::next`] handed out of a chunk is not handed out again.
    pub async fn next_chunk(&mut self) -> Option<Result<EventChunk, StoreError>> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// [`Subscription::next_chunk`] if one has arrived, without waiting.
    pub fn try_next_chunk(&mut self) -> Option<Option<Result<EventChunk, StoreError>>> {
        let waker = futures::task::noop_waker();
        match self.poll_chunk(&mut Context::from_waker(&waker)) {
            Poll::Ready(chunk) => Some(chunk),
            Poll::Pending => None,
        }
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<EventChunk, StoreError>>> {
        if let Some(rest) = self.ready.take().and_then(Ready::into_chunk) {
            return Poll::Ready(Some(Ok(rest)));
        }
        self.rx.poll_recv(cx)
    }

    fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<RecordedEvent, StoreError>>> {
        loop {
            if let Some(event) = self.ready.as_mut().and_then(Ready::pop) {
                return Poll::Ready(Some(Ok(event)));
            }
            self.ready = None;
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(chunk))) => self.ready = Some(Ready::from_chunk(chunk)),
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
                ready: None,
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
            ready: None,
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
            if !slice.events.is_empty()
                && tx.send(Ok(EventChunk::owned(slice.events))).await.is_err()
            {
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
            // Every subscriber of the whole log takes the unseen tail of the batch as it is.
            if filter.is_all() {
                let start = batch.partition_point(|e| e.position <= seen);
                let Some(first) = batch.get(start) else {
                    continue; // all seen already
                };
                let (end, last) = (batch.len(), batch[batch.len() - 1].position);
                // Contiguous from the position after `seen` (a batch is contiguous; checked
                // anyway, as the per-event path below does), else a batch went missing.
                if first.position != seen.saturating_add(1)
                    || last - first.position != (end - start - 1) as u64
                {
                    continue 'resync;
                }
                seen = last;
                if tx
                    .send(Ok(EventChunk(Repr::Shared(batch, start..end))))
                    .await
                    .is_err()
                {
                    return Ok(());
                }
                continue;
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
            if !chunk.is_empty() && tx.send(Ok(EventChunk::owned(chunk))).await.is_err() {
                return Ok(());
            }
            if gap {
                continue 'resync;
            }
        }
    }
}
