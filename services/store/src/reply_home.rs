//! Append outcomes carried from the store's writer (SQLite's writer thread, PostgreSQL's writer
//! task) back to single-threaded runtimes (the HTTP server's workers) with one wake-up of each
//! runtime per group commit, instead of one per append.
//!
//! Completing a oneshot from the writer wakes the task waiting on it; when that task
//! lives on a current-thread runtime, tokio wakes the runtime with a write to its eventfd, one
//! system call per append: 54 `write`s per commit beside 133 `pwrite64`s (`strace -c` on the
//! writer thread, 64 connections), about 4% of the writer's time (`perf`), and the writer is
//! the one thread every write passes through. A thread that runs such a runtime for its whole
//! life calls [`serve_replies_on_this_thread`]: a task of its own then takes the outcomes of
//! a group together from a queue and completes them from inside the runtime, where a wake-up
//! is a push on a local queue. Appends from any other thread are answered directly.
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Notify, oneshot};

use crate::append::AppendResult;
use crate::error::StoreError;

/// What an append waits for.
pub type AppendOutcome = Result<AppendResult, StoreError>;

type Delivery = (oneshot::Sender<AppendOutcome>, AppendOutcome);

/// A runtime that takes its appends' outcomes in batches.
#[derive(Debug)]
struct Home {
    queue: Mutex<Vec<Delivery>>,
    notify: Notify,
    /// False once the task that empties `queue` is gone (its runtime stopped).
    serving: AtomicBool,
}

thread_local! {
    static HOME: RefCell<Option<Arc<Home>>> = const { RefCell::new(None) };
}

/// Makes appends started on this thread take their outcomes through a task on this thread's
/// runtime, one wake-up per group commit (see the module documentation).
///
/// Call it from a task of a current-thread runtime that this thread drives for as long as it
/// appends (an actix worker's app factory); elsewhere it does nothing. Calling it again does
/// nothing while the task it started still runs, and starts a new one once that runtime is
/// gone.
pub fn serve_replies_on_this_thread() {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread {
        return; // a multi-thread runtime wakes its workers sparingly already
    }
    HOME.with(|home| {
        let mut home = home.borrow_mut();
        if home
            .as_ref()
            .is_some_and(|h| h.serving.load(Ordering::Acquire))
        {
            return;
        }
        let fresh = Arc::new(Home {
            queue: Mutex::new(Vec::new()),
            notify: Notify::new(),
            serving: AtomicBool::new(true),
        });
        runtime.spawn(serve(Arc::clone(&fresh)));
        *home = Some(fresh);
    });
}

/// Completes what the writer queued for this runtime, until the runtime drops the task.
async fn serve(home: Arc<Home>) {
    /// Marks the home as no longer served when the task is dropped with its runtime.
    struct Serving(Arc<Home>);
    impl Drop for Serving {
        fn drop(&mut self) {
            self.0.serving.store(false, Ordering::Release);
        }
    }
    let serving = Serving(home);
    let home = &serving.0;
    let mut batch = Vec::new();
    loop {
        home.notify.notified().await;
        std::mem::swap(
            &mut batch,
            &mut *home.queue.lock().unwrap_or_else(PoisonError::into_inner),
        );
        for (reply, outcome) in batch.drain(..) {
            // A caller that gave up waiting still had its append made durable.
            let _ = reply.send(outcome);
        }
    }
}

/// Where one append's outcome goes: its oneshot, and the runtime that takes it in batches
/// when the append was started on a thread that serves replies.
#[derive(Debug)]
pub struct ReplyTo {
    reply: oneshot::Sender<AppendOutcome>,
    home: Option<Arc<Home>>,
}

impl ReplyTo {
    /// A reply for an append started on this thread, and the receiver its caller waits on.
    pub fn here() -> (Self, oneshot::Receiver<AppendOutcome>) {
        let (reply, outcome) = oneshot::channel();
        let home = HOME.with(|home| {
            home.borrow()
                .as_ref()
                .filter(|h| h.serving.load(Ordering::Acquire))
                .cloned()
        });
        (ReplyTo { reply, home }, outcome)
    }

    /// Answers at once, from whichever thread (a group that failed as a whole).
    pub fn send_now(self, outcome: AppendOutcome) {
        let _ = self.reply.send(outcome);
    }
}

/// The outcomes of one group commit, gathered by runtime and handed over together by
/// [`Replies::deliver`].
#[derive(Debug, Default)]
pub struct Replies {
    /// Few: one per HTTP worker.
    homes: Vec<(Arc<Home>, Vec<Delivery>)>,
}

impl Replies {
    /// Queues `outcome` for its runtime, or answers at once when the append's thread does not
    /// serve replies (or its runtime stopped).
    pub fn push(&mut self, to: ReplyTo, outcome: AppendOutcome) {
        let ReplyTo { reply, home } = to;
        let Some(home) = home.filter(|h| h.serving.load(Ordering::Acquire)) else {
            let _ = reply.send(outcome);
            return;
        };
        let delivery = (reply, outcome);
        match self.homes.iter_mut().find(|(h, _)| Arc::ptr_eq(h, &home)) {
            Some((_, deliveries)) => deliveries.push(delivery),
            None => self.homes.push((home, vec![delivery])),
        }
    }

    /// Hands each runtime its outcomes and wakes it once.
    pub fn deliver(&mut self) {
        for (home, deliveries) in self.homes.drain(..) {
            home.queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(deliveries);
            home.notify.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::append::CurrentRevision;

    fn outcome(revision: u64) -> AppendOutcome {
        Ok(AppendResult {
            current_revision: CurrentRevision::Current(revision),
            positions: None,
            deduplicated: false,
        })
    }

    fn revision(outcome: AppendOutcome) -> u64 {
        match outcome.unwrap().current_revision {
            CurrentRevision::Current(r) => r,
            CurrentRevision::NoStream => panic!("no stream"),
        }
    }

    /// The writer's side, on a thread of its own.
    fn answer_from_another_thread(replies: Vec<(ReplyTo, u64)>) {
        std::thread::spawn(move || {
            let mut batch = Replies::default();
            for (to, r) in replies {
                batch.push(to, outcome(r));
            }
            batch.deliver();
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_serving_thread_gets_every_outcome_of_a_batch_and_a_new_runtime_serves_again() {
        for round in 0..3u64 {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                serve_replies_on_this_thread();
                let (tos, outcomes): (Vec<_>, Vec<_>) = (0..50).map(|_| ReplyTo::here()).unzip();
                assert!(tos.iter().all(|to| to.home.is_some()), "round {round}");
                answer_from_another_thread(tos.into_iter().zip(round * 100..).collect());
                for (i, outcome) in (round * 100..).zip(outcomes) {
                    assert_eq!(revision(outcome.await.unwrap()), i);
                }
            });
            // The runtime is gone with its task: the next one on this thread must not send
            // its outcomes there.
            drop(runtime);
            let (to, _) = ReplyTo::here();
            assert!(to.home.is_none(), "a stopped runtime's home is not used");
        }
    }

    #[test]
    fn threads_that_do_not_serve_replies_are_answered_directly() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        runtime.block_on(async {
            serve_replies_on_this_thread(); // a multi-thread runtime: nothing to do
            let (to, outcome) = ReplyTo::here();
            assert!(to.home.is_none());
            answer_from_another_thread(vec![(to, 7)]);
            assert_eq!(revision(outcome.await.unwrap()), 7);
        });
    }
}
