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
//!
//! The cache itself is a few lines over `indexmap`, not `moka` (which it was until
//! 2026-12-06): every command looks its slot up once, and moka's lookup (its concurrent hash
//! table, the read it records for its admission policy, the maintenance it runs) was 5.3% of
//! the HTTP workers' time under one-element writes (`perf`, `scripts/bench-writes.sh`), where a
//! lookup here is a short lock of one of [`SHARDS`] maps. Eviction is CLOCK (a slot used since
//! the hand last passed gets another turn; one a command holds is never taken), which is what
//! an aggregate cache needs: streams written recently stay.
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use indexmap::IndexMap;
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
    /// The weight the cache last counted.
    counted: AtomicU32,
}

impl<A: Aggregate> Slot<A> {
    fn new() -> Self {
        Slot {
            loaded: tokio::sync::Mutex::new(Loaded {
                state: A::default(),
                revision: None,
            }),
            bytes: AtomicU32::new(0),
            counted: AtomicU32::new(0),
        }
    }

    /// Records the state's size after a command (counted by [`AggregateCache::reweigh`]).
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
/// command usually adds a few dozen bytes to a state of kilobytes, and counting it after
/// every command would take the shard's lock twice per command. The cache may so hold up to
/// 1/8 more than its cap says.
const DRIFT_DIVISOR: u32 = 8;

/// Independent maps, each with its share of the cap, so that commands on different streams
/// rarely wait for one another's lookup.
pub const SHARDS: usize = 16;

type Hasher = foldhash::fast::RandomState;

/// One slot in its shard, with what the cache counted for it.
struct Entry<A> {
    slot: Arc<Slot<A>>,
    /// Its stream name's length plus the state's bytes, as last counted.
    weight: u64,
    /// Used since the clock's hand last passed it.
    used: bool,
}

struct Shard<A> {
    slots: IndexMap<Box<str>, Entry<A>, Hasher>,
    /// Sum of the entries' weights.
    weight: u64,
    /// Where the clock's hand stands in `slots`.
    hand: usize,
}

impl<A> Shard<A> {
    /// Takes slots out until the shard is within `cap`, sparing those used since the hand last
    /// passed (once) and those a command holds.
    fn evict(&mut self, cap: u64) {
        // Two turns at most: the first clears every `used` mark.
        let mut budget = 2 * self.slots.len();
        while self.weight > cap && budget > 0 && !self.slots.is_empty() {
            budget -= 1;
            if self.hand >= self.slots.len() {
                self.hand = 0;
            }
            let Some((_, entry)) = self.slots.get_index_mut(self.hand) else {
                break;
            };
            if entry.used || Arc::strong_count(&entry.slot) > 1 {
                entry.used = false;
                self.hand += 1;
                continue;
            }
            // The last slot takes this one's place: the hand stays to look at it next.
            if let Some((_, gone)) = self.slots.swap_remove_index(self.hand) {
                self.weight -= gone.weight;
            }
        }
    }
}

/// A bounded cache of aggregate slots, by stream name. Cheap to clone (the clones share it).
pub struct AggregateCache<A: Aggregate + 'static> {
    shards: Arc<[Mutex<Shard<A>>]>,
    /// Each shard's share of the cap.
    shard_cap: u64,
    hasher: Hasher,
}

impl<A: Aggregate + 'static> Clone for AggregateCache<A> {
    fn clone(&self) -> Self {
        AggregateCache {
            shards: Arc::clone(&self.shards),
            shard_cap: self.shard_cap,
            hasher: self.hasher.clone(),
        }
    }
}

impl<A: Aggregate + 'static> AggregateCache<A> {
    /// A cache holding at most about `max_bytes` of state (0: keep nothing between commands).
    pub fn new(max_bytes: u64) -> Self {
        let hasher = Hasher::default();
        AggregateCache {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        slots: IndexMap::with_hasher(hasher.clone()),
                        weight: 0,
                        hand: 0,
                    })
                })
                .collect(),
            shard_cap: max_bytes / SHARDS as u64,
            hasher,
        }
    }

    fn shard(&self, stream: &str) -> MutexGuard<'_, Shard<A>> {
        use std::hash::BuildHasher;
        // The shard from the hash's high bits: the map inside uses the low ones.
        let index = (self.hasher.hash_one(stream) >> 40) as usize % SHARDS;
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The slot of `stream`, created empty when absent.
    pub fn slot(&self, stream: &str) -> Arc<Slot<A>> {
        let mut shard = self.shard(stream);
        if let Some(entry) = shard.slots.get_mut(stream) {
            entry.used = true;
            return Arc::clone(&entry.slot);
        }
        let slot = Arc::new(Slot::new());
        let weight = stream.len() as u64;
        shard.weight += weight;
        shard.slots.insert(
            stream.into(),
            Entry {
                slot: Arc::clone(&slot),
                weight,
                used: false,
            },
        );
        shard.evict(self.shard_cap);
        slot
    }

    /// Counts the slot's new size after a command when it moved enough (see
    /// [`DRIFT_DIVISOR`]), taking other slots out if the cache is now over its cap.
    pub fn reweigh(&self, stream: &str, slot: &Arc<Slot<A>>) {
        if !slot.drifted() {
            return;
        }
        let bytes = slot.bytes.load(Ordering::Relaxed);
        let mut shard = self.shard(stream);
        let Some(entry) = shard.slots.get_mut(stream) else {
            return; // evicted or invalidated meanwhile
        };
        if !Arc::ptr_eq(&entry.slot, slot) {
            return; // another slot took its place
        }
        slot.counted.store(bytes, Ordering::Relaxed);
        let (old, new) = (entry.weight, stream.len() as u64 + u64::from(bytes));
        entry.weight = new;
        shard.weight = shard.weight - old + new;
        shard.evict(self.shard_cap);
    }

    /// Forgets `stream` (after a conflict).
    pub fn invalidate(&self, stream: &str) {
        let mut shard = self.shard(stream);
        if let Some(gone) = shard.slots.swap_remove(stream) {
            shard.weight -= gone.weight;
        }
    }

    /// Slots held.
    pub fn len(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).slots.len() as u64)
            .sum()
    }

    /// Whether it holds no slot.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The weight counted over every shard.
    #[cfg(test)]
    fn weighted_size(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).weight)
            .sum()
    }

    /// What the slots hold now, by their last weighing.
    #[cfg(test)]
    fn held_bytes(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .slots
                    .values()
                    .map(|e| u64::from(e.slot.bytes.load(Ordering::Relaxed)))
                    .sum::<u64>()
            })
            .sum()
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
    async fn a_slot_a_command_holds_is_never_taken_and_an_invalidated_one_is_new_next_time() {
        let cache = AggregateCache::<Sized>::new(SHARDS as u64 * 4_000);
        let held = cache.slot("person-held");
        let guard = held.loaded.lock().await;
        // Far more than the cap, through every shard.
        for i in 0..2_000 {
            grow(&cache, &format!("person-{i}"), 1_000).await;
        }
        assert!(cache.len() < 2_000, "eviction ran");
        assert!(Arc::ptr_eq(&held, &cache.slot("person-held")));
        drop(guard);
        cache.invalidate("person-held");
        assert!(!Arc::ptr_eq(&held, &cache.slot("person-held")));
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
        assert!(cache.len() < 1_000, "eviction ran");
        assert!(cache.len() > 30, "{} slots kept", cache.len());
        assert!(
            cache.weighted_size() <= cap,
            "{} counted for a cap of {cap}",
            cache.weighted_size()
        );
        // What the slots really hold is at most an eighth more than what was counted.
        let held = cache.held_bytes();
        assert!(held <= cap + cap / 8, "{held} held for a cap of {cap}");
    }
}
