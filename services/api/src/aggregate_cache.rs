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
    /// The weight the cache last counted (the weigher runs on insert only).
    counted: AtomicU32,
}

impl<A: Aggregate> Slot<A> {
    /// Records the state's size after a command (read by the cache's weigher on re-insert).
    pub fn weigh(&self, loaded: &Loaded<A>) {
        let bytes = u32::try_from(loaded.state.approx_bytes()).unwrap_or(u32::MAX);
        self.bytes.store(bytes, Ordering::Relaxed);
    }

    /// Whether the size moved enough since the cache last counted it to count it again.
    fn drifted(&self) -> bool {
        let (now, counted) = (
            self.bytes.load(Ordering::Relaxed),
            self.counted.load(Ordering::Relaxed),
        );
        now.abs_diff(counted) > counted / DRIFT_DIVISOR
    }
}

/// A slot is counted again once its size moved by more than 1/8 of what was counted: a
/// command usually adds a few dozen bytes to a state of kilobytes, and re-inserting the slot
/// after every command (so that the weigher runs) cost about 4% of a one-element write's CPU
/// (moka's write queue and its maintenance, `perf` under `scripts/bench-writes.sh`). The cache
/// may so hold up to 1/8 more than its cap says.
const DRIFT_DIVISOR: u32 = 8;

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
        // Looked up by the borrowed name first: the owned key is only made for a new slot.
        if let Some(slot) = self.slots.get(stream) {
            return slot;
        }
        self.slots.get_with(stream.to_owned(), || {
            Arc::new(Slot {
                loaded: tokio::sync::Mutex::new(Loaded {
                    state: A::default(),
                    revision: None,
                }),
                bytes: AtomicU32::new(0),
                counted: AtomicU32::new(0),
            })
        })
    }

    /// Puts the slot back after a command when its size moved enough (see [`DRIFT_DIVISOR`]),
    /// so that its new weight counts.
    pub fn reweigh(&self, stream: &str, slot: &Arc<Slot<A>>) {
        if slot.drifted() && self.slots.contains_key(stream) {
            slot.counted
                .store(slot.bytes.load(Ordering::Relaxed), Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use palier_domain::person::DecodeError;

    use super::*;

    /// A state of a chosen size.
    #[derive(Default)]
    struct Sized(usize);

    impl Aggregate for Sized {
        type Command = ();
        type Event = ();
        type Error = ();
        fn handle(&self, (): ()) -> Result<Vec<()>, ()> {
            Ok(Vec::new())
        }
        fn apply(&mut self, (): &()) {}
        fn decode(_: &str, _: u32, _: &[u8]) -> Result<(), DecodeError> {
            Ok(())
        }
        fn event_type((): &()) -> &'static str {
            "Nothing"
        }
        fn schema_version((): &()) -> u32 {
            1
        }
        fn to_json((): &()) -> serde_json::Value {
            serde_json::Value::Null
        }
        fn approx_bytes(&self) -> usize {
            self.0
        }
    }

    async fn grow(cache: &AggregateCache<Sized>, stream: &str, bytes: usize) {
        let slot = cache.slot(stream);
        let mut loaded = slot.loaded.lock().await;
        loaded.state.0 = bytes;
        slot.weigh(&loaded);
        drop(loaded);
        cache.reweigh(stream, &slot);
    }

    #[tokio::test]
    async fn a_slot_is_the_same_between_commands_and_counted_again_once_it_grew_by_an_eighth() {
        let cache = AggregateCache::<Sized>::new(1 << 20);
        let first = cache.slot("person-a");
        assert!(Arc::ptr_eq(&first, &cache.slot("person-a")));
        grow(&cache, "person-a", 8_000).await;
        assert_eq!(first.counted.load(Ordering::Relaxed), 8_000);
        // Small growth is not counted again...
        grow(&cache, "person-a", 8_900).await;
        assert_eq!(first.counted.load(Ordering::Relaxed), 8_000);
        // ...more than an eighth is.
        grow(&cache, "person-a", 9_100).await;
        assert_eq!(first.counted.load(Ordering::Relaxed), 9_100);
    }

    #[tokio::test]
    async fn the_cache_stays_within_its_cap_and_an_eighth() {
        let cap = 100_000u64;
        let cache = AggregateCache::<Sized>::new(cap);
        for i in 0..1_000 {
            let stream = format!("person-{i}");
            // Each state grows by steps smaller than an eighth, as commands make it grow.
            for bytes in [1_000, 1_100, 1_200, 1_300, 1_400, 1_500] {
                grow(&cache, &stream, bytes).await;
            }
        }
        cache.slots.run_pending_tasks();
        assert!(cache.len() < 1_000, "eviction ran");
        assert!(
            cache.slots.weighted_size() <= cap + cap / 8,
            "{} counted for a cap of {cap}",
            cache.slots.weighted_size()
        );
        // What the slots really hold is at most an eighth more than what was counted.
        let held: u64 = cache
            .slots
            .iter()
            .map(|(_, slot)| u64::from(slot.bytes.load(Ordering::Relaxed)))
            .sum();
        assert!(held <= cap + cap / 4, "{held} held for a cap of {cap}");
    }
}
