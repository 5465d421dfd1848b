//! Who to wake when a competence level changes: one follower reads each new level change of
//! the persons model once and signals the subscribers of `personLevelChanged` it concerns —
//! those of the person's establishment, and those watching every establishment.
//!
//! Why not let every subscriber wait on the model's position, as they first did: every event
//! appended — a knowledge element that changes no level, a write in another académie — then
//! woke every subscriber, each took the model's read lock to find nothing for it, and with
//! thousands of dashboards connected one write cost thousands of wake-ups (issue 16). Now a
//! write wakes one task; a level change wakes the subscribers of its establishment.
//!
//! A signal carries the position of the last level change it announces; it says "read the
//! model again", never what changed: the model stays the only source (so the window and its
//! `RESYNC_REQUIRED` work as before). A subscriber marks the signal seen *before* it reads the
//! model; the follower signals only *after* the change is in the model; so a change is either
//! in what the subscriber read or announced by a signal it has not seen yet — never lost.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use palier_domain::Uai;
use palier_projections::persons::Persons;
use palier_projections::{ProjectionError, ProjectionHandle};
use tokio::sync::watch;

/// Changes read per look at the model.
const PAGE: usize = 4096;
/// How long the follower waits for news before it looks again.
const IDLE_WAIT: Duration = Duration::from_secs(300);

/// Signals per establishment (and for all of them) that level changes were added to the
/// persons model.
#[derive(Clone)]
pub struct LevelSignals {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    /// `None` once the follower stopped: receivers made then are closed at once.
    all: Option<watch::Sender<u64>>,
    /// Only establishments someone watches: an entry nobody holds a receiver of is dropped at
    /// the next change of that establishment, so the map stays as large as the audience.
    by_establishment: HashMap<Uai, watch::Sender<u64>>,
}

impl LevelSignals {
    /// Signals fed by a follower of `persons`, spawned on the current runtime. It stops when
    /// the model stops; the receivers then see their channel closed.
    pub fn spawn(persons: ProjectionHandle<Persons>) -> Self {
        let (all, _) = watch::channel(0);
        let signals = LevelSignals {
            inner: Arc::new(Mutex::new(Inner {
                all: Some(all),
                by_establishment: HashMap::new(),
            })),
        };
        let follower = signals.clone();
        tokio::spawn(async move {
            let reason = follower.follow(&persons).await;
            tracing::debug!(%reason, "level change signals stopped");
            // Closing the channels ends every subscriber's wait.
            follower.close();
        });
        signals
    }

    /// A receiver signalled when level changes of `establishment` (or of any, for `None`) are
    /// in the model. Mark it seen (`borrow_and_update`) before reading the model.
    pub fn receiver(&self, establishment: Option<&Uai>) -> watch::Receiver<u64> {
        let mut inner = self.lock();
        let Some(all) = &inner.all else {
            // Stopped: a closed channel ends the subscriber's wait at once.
            return watch::channel(0).1;
        };
        match establishment {
            None => all.subscribe(),
            Some(uai) => inner
                .by_establishment
                .entry(uai.clone())
                .or_insert_with(|| watch::channel(0).0)
                .subscribe(),
        }
    }

    /// Establishments with someone listening.
    pub fn watched_establishments(&self) -> usize {
        self.lock()
            .by_establishment
            .values()
            .filter(|s| s.receiver_count() > 0)
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads every level change once, in position order, and signals who it concerns. Returns
    /// why it stopped.
    async fn follow(&self, persons: &ProjectionHandle<Persons>) -> ProjectionError {
        let mut last = persons.position();
        loop {
            // The position before the read: a change applied after it wakes the wait below.
            let seen = persons.position();
            match persons.read(|p| p.level_changes_after(last, None, PAGE)) {
                Ok(changes) if !changes.is_empty() => {
                    let mut touched: Vec<&Uai> = changes.iter().map(|c| &c.establishment).collect();
                    touched.sort_unstable();
                    touched.dedup();
                    if let Some(newest) = changes.last() {
                        last = newest.position;
                    }
                    self.signal(last, touched);
                    continue;
                }
                Ok(_) => {}
                Err(trimmed) => {
                    // The window moved past what this follower read (it was starved): wake
                    // everyone, each finds out from the model whether it fell behind too.
                    last = trimmed.trimmed_through.max(seen);
                    self.signal_everyone(last);
                    continue;
                }
            }
            match persons.wait_for(seen.saturating_add(1), IDLE_WAIT).await {
                Ok(()) | Err(ProjectionError::Timeout { .. }) => {}
                Err(stopped) => return stopped,
            }
        }
    }

    fn signal(&self, position: u64, establishments: Vec<&Uai>) {
        let mut inner = self.lock();
        for uai in establishments {
            if let Some(sender) = inner.by_establishment.get(uai) {
                if sender.receiver_count() == 0 {
                    inner.by_establishment.remove(uai);
                } else {
                    sender.send_replace(position);
                }
            }
        }
        if let Some(all) = &inner.all {
            all.send_replace(position);
        }
    }

    fn signal_everyone(&self, position: u64) {
        let mut inner = self.lock();
        inner.by_establishment.retain(|_, s| s.receiver_count() > 0);
        for sender in inner.by_establishment.values() {
            sender.send_replace(position);
        }
        if let Some(all) = &inner.all {
            all.send_replace(position);
        }
    }

    fn close(&self) {
        // Dropping the senders closes every receiver: their waits end with an error.
        let mut inner = self.lock();
        inner.all = None;
        inner.by_establishment.clear();
    }
}
