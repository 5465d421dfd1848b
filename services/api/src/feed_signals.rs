//! Who to wake when a read model's change feed grows: one follower per model watches the
//! model and signals its feed's subscribers (`establishmentTierChanged`, `ticketChanged`,
//! `activityRecorded`) only when the feed gained something.
//!
//! Why: these subscribers used to wait on the model's position, which moves with every event
//! appended — almost all of them knowledge elements that change no tier, no ticket, no
//! activity. Every write then woke every connected dashboard, each took the model's read lock
//! to find nothing; with thousands of dashboards that is thousands of wake-ups per write (the
//! cause `level_signals` removed for `personLevelChanged`, issue 16). Now a write wakes one
//! follower per model, and a subscriber wakes when its feed grew.
//!
//! A signal says "read the feed again", never what changed: the model stays the only source.
//! A subscriber marks the signal seen *before* it reads the feed; the follower signals only
//! *after* the change is in the model (it reads the model once the model published the
//! position); so a change is either in what the subscriber read or announced by a signal it has
//! not seen yet — never lost.
use palier_projections::{Projection, ProjectionHandle};
use tokio::sync::watch;

/// Signals that a model's change feed grew. Cheap to clone.
#[derive(Clone, Debug)]
pub struct FeedSignal {
    newest: watch::Receiver<u64>,
}

impl FeedSignal {
    /// Follows `model`, reading `newest` (a marker of the feed's end that grows with every
    /// change added: a count, or the newest change's position when changes of one event come
    /// together) each time the model moves. Must be called inside a tokio runtime.
    pub fn spawn<P: Projection>(model: ProjectionHandle<P>, newest: fn(&P) -> u64) -> Self {
        let mut moved = model.watch();
        moved.borrow_and_update();
        let (tx, rx) = watch::channel(model.read(newest));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    next = moved.changed() => {
                        if next.is_err() {
                            return; // the model stopped: subscribers see the signal close
                        }
                    }
                    () = tx.closed() => return,
                }
                moved.borrow_and_update();
                let now = model.read(newest);
                tx.send_if_modified(|seen| {
                    let grew = now != *seen;
                    *seen = now;
                    grew
                });
            }
        });
        FeedSignal { newest: rx }
    }

    /// A receiver for one subscriber: mark it seen (`borrow_and_update`) before reading the
    /// feed, wait on `changed` when the feed had nothing more; `changed` fails once the model
    /// stopped.
    pub fn receiver(&self) -> watch::Receiver<u64> {
        self.newest.clone()
    }
}
