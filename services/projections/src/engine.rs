//! The projection engine: one task per read model, catching up on the store's lean read path
//! ([`EventStore::read_all_for_fold`]), then following its subscription, applying events in
//! chunks under a short write lock and publishing the position reached.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::FutureExt;
use palier_store::{EventFilter, EventStore, FoldEvent, FoldPage, RecordedEvent, StoreError};
use tokio::sync::watch;

use crate::Projection;
use crate::error::ProjectionError;

/// Most events applied under one write lock, so readers never wait long.
const CHUNK: usize = 1024;

struct Shared<P> {
    state: RwLock<P>,
    position: watch::Sender<u64>,
    /// The store's head when the engine started: reaching it means "caught up".
    start_head: AtomicU64,
    caught_up: AtomicBool,
    stopped: Mutex<Option<String>>,
}

/// A read model kept up to date by a background task. Cheap to clone.
pub struct ProjectionHandle<P> {
    shared: Arc<Shared<P>>,
}

impl<P> Clone for ProjectionHandle<P> {
    fn clone(&self) -> Self {
        ProjectionHandle {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<P: Projection> ProjectionHandle<P> {
    /// Starts the engine over `store` from position 0 (the whole log, unfiltered, so that the
    /// position follows the log even through events this model ignores).
    pub fn spawn<S: EventStore + Clone>(store: S, initial: P) -> Self {
        Self::spawn_inner(store, initial)
    }

    /// Like [`ProjectionHandle::spawn`], for a read model whose facts take effect on their own
    /// dates: a scheduler reads `clock` every `tick` (and on [`ProjectionHandle::tick`]) and
    /// lets the model apply what fell due ([`Projection::advance_clock`]), waking every waiter
    /// of [`ProjectionHandle::watch`] when that changed it.
    pub fn spawn_with_clock<S: EventStore + Clone>(
        store: S,
        initial: P,
        clock: crate::Clock,
        tick: Duration,
    ) -> Self {
        let handle = Self::spawn_inner(store, initial);
        let weak = Arc::downgrade(&handle.shared);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Only once caught up: before, the model's own day follows the events' dates. The
            // first advance comes as soon as it is, the next ones at every tick.
            loop {
                let Some(shared) = weak.upgrade() else {
                    return; // every handle is gone
                };
                if shared.caught_up.load(Ordering::Acquire) {
                    advance(&shared, clock.now());
                    break;
                }
                drop(shared);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            loop {
                interval.tick().await;
                let Some(shared) = weak.upgrade() else {
                    return;
                };
                advance(&shared, clock.now());
            }
        });
        handle
    }

    /// Applies what fell due by `now` at once (the scheduler does it on its next tick anyway):
    /// for a test clock just moved, or a read model that must be current before answering.
    pub fn tick(&self, now: chrono::DateTime<chrono::Utc>) {
        advance(&self.shared, now);
    }

    /// A receiver woken whenever the model changes: at each new position, and when the clock
    /// makes facts take effect. Take it before reading, then wait on it.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.shared.position.subscribe()
    }

    fn spawn_inner<S: EventStore + Clone>(store: S, initial: P) -> Self {
        let (position, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            state: RwLock::new(initial),
            position,
            start_head: AtomicU64::new(u64::MAX),
            caught_up: AtomicBool::new(false),
            stopped: Mutex::new(None),
        });
        let engine = Arc::clone(&shared);
        tokio::spawn(async move {
            if let Err(e) = run(&engine, store).await {
                tracing::error!(projection = P::NAME, error = %e, "projection stopped");
                if let Ok(mut stopped) = engine.stopped.lock() {
                    *stopped = Some(e.to_string());
                }
                // Wake every waiter so they see the stop.
                engine.position.send_modify(|_| {});
            }
        });
        ProjectionHandle { shared }
    }

    /// Runs `f` on the current state under a read lock.
    pub fn read<R>(&self, f: impl FnOnce(&P) -> R) -> R {
        let state = self
            .shared
            .state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&state)
    }

    /// The last position applied (0: nothing yet).
    pub fn position(&self) -> u64 {
        *self.shared.position.borrow()
    }

    /// Whether everything that was in the log when the engine started has been applied.
    pub fn is_caught_up(&self) -> bool {
        self.shared.caught_up.load(Ordering::Acquire)
    }

    fn stopped(&self) -> Option<String> {
        self.shared.stopped.lock().ok().and_then(|s| s.clone())
    }

    /// Read-your-writes: resolves once `position` has been applied, or fails after `timeout`.
    pub async fn wait_for(&self, position: u64, timeout: Duration) -> Result<(), ProjectionError> {
        let mut rx = self.shared.position.subscribe();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            let reached = *rx.borrow_and_update();
            if reached >= position {
                return Ok(());
            }
            if let Some(reason) = self.stopped() {
                return Err(ProjectionError::Stopped(reason));
            }
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return Err(ProjectionError::Stopped("engine gone".into()));
                    }
                }
                () = &mut deadline => return Err(ProjectionError::Timeout { wanted: position, reached }),
            }
        }
    }

    /// Resolves the next time the position moves, with the new position.
    pub async fn changed(&self) -> Result<u64, ProjectionError> {
        let mut rx = self.shared.position.subscribe();
        rx.borrow_and_update();
        if let Some(reason) = self.stopped() {
            return Err(ProjectionError::Stopped(reason));
        }
        rx.changed()
            .await
            .map_err(|_| ProjectionError::Stopped("engine gone".into()))?;
        match self.stopped() {
            Some(reason) => Err(ProjectionError::Stopped(reason)),
            None => Ok(*rx.borrow()),
        }
    }
}

async fn run<P: Projection, S: EventStore + Clone>(
    shared: &Shared<P>,
    store: S,
) -> Result<(), StoreError> {
    let head = store.head().await?.map_or(0, |h| h.position);
    shared.start_head.store(head, Ordering::Release);
    if head == 0 {
        shared.caught_up.store(true, Ordering::Release);
    }
    // Catch up on the lean read path, then follow the subscription from where that ended
    // (its start is exclusive, so nothing is applied twice or skipped).
    let mut pages = read_pages(&store, Some(head), CHUNK);
    let mut last = 0;
    while let Some(page) = pages.recv().await {
        let page = page?;
        if let Some(position) = page.last_position() {
            apply_chunk(shared, page.iter());
            last = position;
            publish(shared, last);
        }
    }
    let mut subscription = store.subscribe_to_all(last, EventFilter::all());
    let mut chunk = Vec::with_capacity(CHUNK);
    loop {
        match subscription.next().await {
            Some(Ok(event)) => chunk.push(event),
            Some(Err(e)) => return Err(e),
            None => return Err(StoreError::Closed),
        }
        // Take what is already there without waiting, up to a chunk.
        while chunk.len() < CHUNK {
            match subscription.next().now_or_never() {
                Some(Some(Ok(event))) => chunk.push(event),
                Some(Some(Err(e))) => return Err(e),
                Some(None) => return Err(StoreError::Closed),
                None => break,
            }
        }
        let last = chunk.last().map_or(0, |e| e.position);
        apply_chunk(shared, chunk.iter().map(RecordedEvent::as_fold));
        chunk.clear();
        publish(shared, last);
    }
}

/// Lets the model apply what fell due by `now`; wakes the waiters when that changed it (the
/// position stays: no event was applied).
fn advance<P: Projection>(shared: &Shared<P>, now: chrono::DateTime<chrono::Utc>) {
    let changed = shared
        .state
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .advance_clock(now);
    if changed {
        shared.position.send_modify(|_| {});
    }
}

/// Applies events under one write lock.
fn apply_chunk<'a, P: Projection>(shared: &Shared<P>, events: impl Iterator<Item = FoldEvent<'a>>) {
    let mut state = shared
        .state
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for event in events {
        state.apply(event);
    }
}

/// Publishes the position reached.
fn publish<P>(shared: &Shared<P>, position: u64) {
    shared.position.send_replace(position);
    if position >= shared.start_head.load(Ordering::Acquire) {
        shared.caught_up.store(true, Ordering::Release);
    }
}

/// Pages of the whole log from position 1 up to `until` (the last page may go past it), read
/// by a task of their own so that reading the next page overlaps folding this one. Dropping
/// the receiver stops the reader.
fn read_pages<S: EventStore + Clone>(
    store: &S,
    until: Option<u64>,
    page_size: usize,
) -> tokio::sync::mpsc::Receiver<Result<FoldPage, StoreError>> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let store = store.clone();
    tokio::spawn(async move {
        let all = EventFilter::all();
        let mut next = 1;
        loop {
            if until.is_some_and(|u| next > u) {
                return;
            }
            let page = match store.read_all_for_fold(next, &all, page_size).await {
                Ok(page) => page,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            // A page that reached the greatest position is the last one (no wrap to 0).
            let done = page.is_end;
            let Some(following) = page.scanned_to.checked_add(1) else {
                let _ = tx.send(Ok(page)).await;
                return;
            };
            next = following;
            if tx.send(Ok(page)).await.is_err() || done {
                return;
            }
        }
    });
    rx
}

/// Folds the log from position 1 into `initial`, up to `until` (inclusive) when given; returns
/// the state and the last position applied. For audits "as of" a position, and benchmarks.
///
/// Reading and folding overlap: a reader task fetches the next pages while this one is folded.
/// Each page is folded on a blocking thread (a fold over a million events takes about a
/// second, which must not hold up an async worker serving other requests), and that thread is
/// held only while it folds: waiting for the next page is an async wait. A fold never occupies
/// a thread that the reading of its pages could need, however many rebuilds run at once
/// (issue 17: folds that held blocking threads while waiting for pages read on the same pool
/// froze the service once every blocking thread was a waiting fold).
pub async fn rebuild<P, S>(
    store: &S,
    initial: P,
    until: Option<u64>,
) -> Result<(P, u64), StoreError>
where
    P: Projection,
    S: EventStore + Clone,
{
    let mut pages = read_pages(store, until, 4096);
    let mut model = initial;
    let mut last = 0;
    while let Some(page) = pages.recv().await {
        let page = page?;
        let (folded, reached, done) = tokio::task::spawn_blocking(move || {
            let mut last = last;
            for event in page.iter() {
                if until.is_some_and(|u| event.position > u) {
                    return (model, last, true);
                }
                model.apply(event);
                last = event.position;
            }
            (model, last, false)
        })
        .await
        .map_err(|e| StoreError::Storage(format!("the fold stopped: {e}")))?;
        model = folded;
        last = reached;
        if done {
            break;
        }
    }
    Ok((model, last))
}
