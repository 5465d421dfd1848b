//! Decided aggregate state kept between commands, so that a command costs the same on the
//! 10th and the 10,000th event of its stream: the state and the revision it stands at are
//! cached, and a command reads only the events after that revision.
//!
//! Each stream has one slot with an async mutex: commands on one aggregate queue on this
//! instance instead of racing each other into conflicts, and the state is decided on in place
//! (no copy). Instances sharing a store still race; the store's expected revision settles it
//! and the loser reads the events it missed. The cache is never a source of truth: a slot is
//! only ever a prefix of its stream (events never change), and a conflict drops the slot so
//! that the next command rebuilds it from the store.
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use palier_domain::aggregate::Aggregate;

/// State and revision of one stream.
#[derive(Debug, Default)]
pub struct Loaded<A> {
    /// The folded state.
    pub state: A,
    /// The revision of the last event folded (`None`: nothing yet).
    pub revision: Option<u64>,
}

/// One stream's slot: its state behind a lock, and its weight for eviction.
#[derive(Debug)]
pub struct Slot<A> {
    /// The state; held for the whole of a command.
    pub loaded: tokio::sync::Mutex<Loaded<A>>,
    bytes: AtomicU32,
}

impl<A: Aggregate> Slot<A> {
    /// Records the state's size after a command (read by the cache's weigher on re-insert).
    pub fn weigh(&self, loaded: &Loaded<A>) {
        let bytes = u32::try_from(loaded.state.approx_bytes()).unwrap_or(u32::MAX);
        self.bytes.store(bytes, Ordering::Relaxed);
    }
}

/// A bounded cache of aggregate slots, by stream name.
pub struct AggregateCache<A: Aggregate + 'static> {
    slots: moka::sync::Cache<String, Arc<Slot<A>>>,
}

impl<A: Aggregate + 'static> Clone for AggregateCache<A> {
    fn clone(&self) -> Self {
        AggregateCache {
            slots: self.slots.clone(),
        }
    }
}

impl<A: Aggregate + 'static> AggregateCache<A> {
    /// A cache holding at most about `max_bytes` of state (0: keep nothing between commands).
    pub fn new(max_bytes: u64) -> Self {
        AggregateCache {
            slots: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|key: &String, slot: &Arc<Slot<A>>| {
                    slot.bytes
                        .load(Ordering::Relaxed)
                        .saturating_add(u32::try_from(key.len()).unwrap_or(u32::MAX))
                })
                .build(),
        }
    }

    /// The slot of `stream`, created empty when absent.
    pub fn slot(&self, stream: &str) -> Arc<Slot<A>> {
        self.slots.get_with(stream.to_owned(), || {
            Arc::new(Slot {
                loaded: tokio::sync::Mutex::new(Loaded {
                    state: A::default(),
                    revision: None,
                }),
                bytes: AtomicU32::new(0),
            })
        })
    }

    /// Puts the slot back after a command, so that its new weight counts.
    pub fn reweigh(&self, stream: &str, slot: &Arc<Slot<A>>) {
        if self.slots.contains_key(stream) {
            self.slots.insert(stream.to_owned(), Arc::clone(slot));
        }
    }

    /// Forgets `stream` (after a conflict).
    pub fn invalidate(&self, stream: &str) {
        self.slots.invalidate(stream);
    }

    /// Slots held (approximate, for metrics and tests).
    pub fn len(&self) -> u64 {
        self.slots.run_pending_tasks();
        self.slots.entry_count()
    }

    /// Whether it holds no slot.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
