//! The projection engine: one task per read model, catching up on the store's lean read path
//! ([`EventStore::read_all_for_fold`]), then following its subscription, applying events in
//! chunks under a short write lock and publishing the position reached. A read model that
//! implements [`Snapshot`] may start from its last snapshot and fold only what came after
//! ([`ProjectionHandle::spawn_with_snapshots`]).
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use palier_store::{
    EventChunk, EventFilter, EventStore, FoldEvent, FoldPage, RecordedEvent, StoreError,
};
use tokio::sync::watch;

use crate::Projection;
use crate::error::ProjectionError;
use crate::snapshot::{self, Restored, Snapshot, SnapshotError, SnapshotSettings};

/// Most events applied under one write lock, so readers never wait long.
const CHUNK: usize = 1024;

struct Shared<P> {
    state: RwLock<P>,
    position: watch::Sender<u64>,
    /// The store's head when the engine started: reaching it means "caught up".
    start_head: AtomicU64,
    caught_up: AtomicBool,
    stopped: Mutex<Option<String>>,
    /// Events folded since the engine started (a restart from a snapshot folds only those
    /// after it).
    folded: AtomicU64,
    /// The position of the snapshot the model started from (0: it was rebuilt from the log).
    restored_from: AtomicU64,
    /// The position of the last snapshot written (0: none).
    snapshot_written: AtomicU64,
}

/// Reads a model's snapshot file, given the settings it must have been taken under.
type ReadSnapshot<P> = fn(&std::path::Path, &str) -> Result<Option<Restored<P>>, SnapshotError>;

/// How the engine saves and restores a model: the snapshot functions of `P`, bound where `P`
/// is known to implement [`Snapshot`], so that the engine itself serves models without.
struct Snapshots<P> {
    settings: SnapshotSettings,
    fingerprint: String,
    read: ReadSnapshot<P>,
    encode: fn(&P, u64, &palier_store::Hash) -> Result<Vec<u8>, SnapshotError>,
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
        Self::start(store, initial, None)
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
        let handle = Self::start(store, initial, None);
        handle.follow_clock(clock, tick);
        handle
    }

    /// [`ProjectionHandle::spawn_with_clock`] starting from the model's last snapshot, as
    /// [`ProjectionHandle::spawn_with_snapshots`] does (the model's own day and what it still
    /// waits for are part of its snapshot).
    pub fn spawn_with_clock_and_snapshots<S: EventStore + Clone>(
        store: S,
        initial: P,
        clock: crate::Clock,
        tick: Duration,
        settings: SnapshotSettings,
    ) -> Self
    where
        P: Snapshot,
    {
        let handle = Self::spawn_with_snapshots(store, initial, settings);
        handle.follow_clock(clock, tick);
        handle
    }

    /// The scheduler of [`ProjectionHandle::spawn_with_clock`].
    fn follow_clock(&self, clock: crate::Clock, tick: Duration) {
        let weak = Arc::downgrade(&self.shared);
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

    /// Starts the engine from the model's last snapshot in `settings.dir` when it is usable
    /// (see [`crate::snapshot`]), else from position 0 with a warning, and writes snapshots as
    /// `settings` say while it runs.
    pub fn spawn_with_snapshots<S: EventStore + Clone>(
        store: S,
        initial: P,
        settings: SnapshotSettings,
    ) -> Self
    where
        P: Snapshot,
    {
        let snapshots = Snapshots {
            fingerprint: initial.fingerprint(),
            settings,
            read: snapshot::read_file::<P>,
            encode: snapshot::encode::<P>,
        };
        Self::start(store, initial, Some(snapshots))
    }

    fn start<S: EventStore + Clone>(store: S, initial: P, snapshots: Option<Snapshots<P>>) -> Self {
        let (position, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            state: RwLock::new(initial),
            position,
            start_head: AtomicU64::new(u64::MAX),
            caught_up: AtomicBool::new(false),
            stopped: Mutex::new(None),
            folded: AtomicU64::new(0),
            restored_from: AtomicU64::new(0),
            snapshot_written: AtomicU64::new(0),
        });
        let engine = Arc::clone(&shared);
        tokio::spawn(async move {
            if let Err(e) = run(&engine, store, snapshots).await {
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

    /// Events folded since the engine started: the whole log after a rebuild, only what came
    /// after the snapshot after a restore.
    pub fn events_folded(&self) -> u64 {
        self.shared.folded.load(Ordering::Acquire)
    }

    /// The position of the snapshot the model was restored from (0: rebuilt from the log).
    pub fn restored_from(&self) -> u64 {
        self.shared.restored_from.load(Ordering::Acquire)
    }

    /// The position of the last snapshot written since start (0: none).
    pub fn last_snapshot(&self) -> u64 {
        self.shared.snapshot_written.load(Ordering::Acquire)
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
    shared: &Arc<Shared<P>>,
    store: S,
    snapshots: Option<Snapshots<P>>,
) -> Result<(), StoreError> {
    let head = store.head().await?.map_or(0, |h| h.position);
    shared.start_head.store(head, Ordering::Release);
    let mut last = 0;
    if let Some(snapshots) = &snapshots {
        last = restore(shared, &store, snapshots).await;
    }
    if head <= last {
        shared.caught_up.store(true, Ordering::Release);
    }
    // Catch up on the lean read path, then follow the subscription from where that ended
    // (its start is exclusive, so nothing is applied twice or skipped).
    let mut pages = read_pages(&store, last + 1, Some(head), CHUNK);
    while let Some(page) = pages.recv().await {
        let page = page?;
        if let Some(position) = page.last_position() {
            apply_chunk(shared, page.iter());
            shared.folded.fetch_add(page.len() as u64, Ordering::AcqRel);
            last = position;
            publish(shared, last);
        }
    }
    let mut saved = Saved {
        position: shared.restored_from.load(Ordering::Acquire),
        at: Instant::now(),
    };
    if let Some(snapshots) = &snapshots {
        saved.maybe_save(shared, &store, snapshots, last).await;
    }
    let mut subscription = store.subscribe_to_all(last, EventFilter::all());
    // The subscription's chunks as they came (live batches shared with the other models, not
    // copied), folded together under one lock.
    let mut chunks: Vec<EventChunk> = Vec::new();
    loop {
        match subscription.next_chunk().await {
            Some(Ok(chunk)) => chunks.push(chunk),
            Some(Err(e)) => return Err(e),
            None => return Err(StoreError::Closed),
        }
        // Take what is already there without waiting, up to about a chunk.
        let mut count = chunks[0].len();
        while count < CHUNK {
            match subscription.try_next_chunk() {
                Some(Some(Ok(chunk))) => {
                    count += chunk.len();
                    chunks.push(chunk);
                }
                Some(Some(Err(e))) => return Err(e),
                Some(None) => return Err(StoreError::Closed),
                None => break,
            }
        }
        let last = chunks
            .last()
            .and_then(|c| c.last())
            .map_or(0, |e| e.position);
        apply_chunk(
            shared,
            chunks
                .iter()
                .flat_map(|c| c.iter())
                .map(RecordedEvent::as_fold),
        );
        shared.folded.fetch_add(count as u64, Ordering::AcqRel);
        chunks.clear();
        publish(shared, last);
        if let Some(snapshots) = &snapshots {
            saved.maybe_save(shared, &store, snapshots, last).await;
        }
    }
}

/// Loads the model's snapshot into `shared` when it is usable; returns the position it was
/// taken at (0 when the model starts from the log).
async fn restore<P: Projection, S: EventStore>(
    shared: &Arc<Shared<P>>,
    store: &S,
    snapshots: &Snapshots<P>,
) -> u64 {
    let path = snapshots.settings.path(P::NAME);
    let (read, fingerprint) = (snapshots.read, snapshots.fingerprint.clone());
    let file = path.clone();
    let loaded = tokio::task::spawn_blocking(move || read(&file, &fingerprint))
        .await
        .unwrap_or_else(|e| Err(SnapshotError::State(format!("the load stopped: {e}"))));
    let checked = match loaded {
        Ok(None) => {
            tracing::info!(projection = P::NAME, path = %path.display(), "no snapshot yet: folding the whole log");
            return 0;
        }
        Ok(Some(restored)) => check_against_log(store, restored).await,
        Err(e) => Err(e),
    };
    match checked {
        Ok(restored) => {
            let position = restored.position;
            *shared
                .state
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = restored.model;
            shared.restored_from.store(position, Ordering::Release);
            publish(shared, position);
            tracing::info!(
                projection = P::NAME,
                position,
                "restored from its snapshot: folding only the events after it"
            );
            position
        }
        Err(error) => {
            tracing::warn!(projection = P::NAME, path = %path.display(), %error, "snapshot ignored: rebuilding the read model from the log");
            0
        }
    }
}

/// The snapshot is of this log only if the event at its position still has its hash.
async fn check_against_log<P, S: EventStore>(
    store: &S,
    restored: Restored<P>,
) -> Result<Restored<P>, SnapshotError> {
    match hash_at(store, restored.position).await? {
        Some(hash) if hash == restored.hash => Ok(restored),
        Some(_) => Err(SnapshotError::Log(format!(
            "the event at position {} has another hash",
            restored.position
        ))),
        None => Err(SnapshotError::Log(format!(
            "the log does not reach position {}",
            restored.position
        ))),
    }
}

async fn hash_at<S: EventStore>(
    store: &S,
    position: u64,
) -> Result<Option<palier_store::Hash>, SnapshotError> {
    let slice = store
        .read_all(position, &EventFilter::all(), 1)
        .await
        .map_err(|e| SnapshotError::Log(e.to_string()))?;
    Ok(slice
        .events
        .first()
        .filter(|e| e.position == position)
        .map(|e| e.hash))
}

/// When the last snapshot was written (or the model restored).
struct Saved {
    position: u64,
    at: Instant,
}

impl Saved {
    /// Writes a snapshot at `position` when enough events or time went by since the last.
    ///
    /// The engine waits while the state is encoded (under a read lock: queries go on, nothing
    /// moves the state meanwhile) and written; a failure is logged and retried at the next
    /// occasion, never stops the engine.
    async fn maybe_save<P: Projection, S: EventStore>(
        &mut self,
        shared: &Arc<Shared<P>>,
        store: &S,
        snapshots: &Snapshots<P>,
        position: u64,
    ) {
        let settings = &snapshots.settings;
        let due = position > self.position
            && (position - self.position >= settings.every_events
                || self.at.elapsed() >= settings.every);
        if !due {
            return;
        }
        self.position = position;
        self.at = Instant::now();
        let started = Instant::now();
        let written = async {
            let hash = hash_at(store, position)
                .await?
                .ok_or_else(|| SnapshotError::Log(format!("no event at position {position}")))?;
            let engine = Arc::clone(shared);
            let (encode, path) = (snapshots.encode, settings.path(P::NAME));
            tokio::task::spawn_blocking(move || {
                let bytes = {
                    let state = engine
                        .state
                        .read()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    encode(&state, position, &hash)?
                };
                snapshot::write_file(&path, &bytes).map(|()| bytes.len())
            })
            .await
            .unwrap_or_else(|e| Err(SnapshotError::State(format!("the write stopped: {e}"))))
        }
        .await;
        match written {
            Ok(bytes) => {
                shared.snapshot_written.store(position, Ordering::Release);
                tracing::info!(
                    projection = P::NAME,
                    position,
                    bytes,
                    took_ms = started.elapsed().as_millis() as u64,
                    "snapshot written"
                );
            }
            Err(error) => {
                tracing::warn!(projection = P::NAME, position, %error, "snapshot not written (the model keeps running; next try later)");
            }
        }
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

/// Publishes the position reached (caught up first, so that whoever waited for this position
/// sees it caught up too).
fn publish<P>(shared: &Shared<P>, position: u64) {
    if position >= shared.start_head.load(Ordering::Acquire) {
        shared.caught_up.store(true, Ordering::Release);
    }
    shared.position.send_replace(position);
}

/// Pages of the log from position `from` up to `until` (the last page may go past it), read
/// by a task of their own so that reading the next page overlaps folding this one. Dropping
/// the receiver stops the reader.
fn read_pages<S: EventStore + Clone>(
    store: &S,
    from: u64,
    until: Option<u64>,
    page_size: usize,
) -> tokio::sync::mpsc::Receiver<Result<FoldPage, StoreError>> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let store = store.clone();
    tokio::spawn(async move {
        let all = EventFilter::all();
        let mut next = from;
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
    let mut pages = read_pages(store, 1, until, 4096);
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
