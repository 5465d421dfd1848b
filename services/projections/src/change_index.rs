//! An index of entities by their last change, for "what changed since" pages: append-only,
//! so folding an event costs a push instead of a remove and an insert in an ordered set.
//!
//! Each change appends `(position, id)`. Positions only grow, so the entries stay sorted. An
//! entity's older entries go stale when it changes again; readers skip them by asking the
//! model whether an entry is still the entity's last change, and the index drops them in one
//! pass once they outnumber the live ones (amortised O(1) per change, at most about twice
//! the live size in memory). A change by the entity that changed last just moves its entry,
//! which keeps a batch of one person's events from leaving stale entries behind.
/// Entities of id `I` ordered by (position of their last change, id).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ChangeIndex<I> {
    entries: Vec<(u64, I)>,
    live: usize,
}

impl<I> Default for ChangeIndex<I> {
    fn default() -> Self {
        ChangeIndex {
            entries: Vec::new(),
            live: 0,
        }
    }
}

impl<I: Copy + Ord> ChangeIndex<I> {
    /// Records that `id` changed at `position`, greater than every position recorded so far;
    /// `previous` is its last change before this one (`None` for a new entity). `is_live`
    /// tells whether an entry is still its entity's last change, once the model has been
    /// updated to `position`.
    pub fn record(
        &mut self,
        id: I,
        previous: Option<u64>,
        position: u64,
        is_live: impl Fn(u64, &I) -> bool,
    ) {
        if let (Some(previous), Some(last)) = (previous, self.entries.last_mut())
            && *last == (previous, id)
        {
            last.0 = position;
            return;
        }
        if previous.is_none() {
            self.live += 1;
        }
        self.entries.push((position, id));
        if self.entries.len() > 2 * self.live + 64 {
            self.entries.retain(|(p, i)| is_live(*p, i));
        }
    }

    /// Live entries strictly after `start` in (position, id) order, skipping stale ones.
    pub fn after<'a>(
        &'a self,
        start: (u64, I),
        is_live: impl Fn(u64, &I) -> bool + 'a,
    ) -> impl Iterator<Item = (u64, I)> + 'a {
        let from = self.entries.partition_point(|entry| *entry <= start);
        self.entries[from..]
            .iter()
            .copied()
            .filter(move |(p, i)| is_live(*p, i))
    }

    /// An entity left the index (moved elsewhere); its entries go stale as it changes, since
    /// the caller records its next change elsewhere.
    pub fn left(&mut self) {
        self.live = self.live.saturating_sub(1);
    }

    /// Number of entities indexed.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no entity is indexed.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Entries held, stale ones included (for tests of the compaction bound).
    pub fn held(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// The model the index is checked against: each entity's last change.
    #[derive(Default)]
    struct Model {
        last: BTreeMap<u8, u64>,
        index: ChangeIndex<u8>,
    }

    impl Model {
        fn change(&mut self, id: u8, position: u64) {
            let previous = self.last.insert(id, position);
            let last = &self.last;
            self.index
                .record(id, previous, position, |p, i| last.get(i) == Some(&p));
        }

        fn page(&self, start: (u64, u8)) -> Vec<(u64, u8)> {
            let last = &self.last;
            self.index
                .after(start, move |p, i| last.get(i) == Some(&p))
                .collect()
        }

        fn expected(&self, start: (u64, u8)) -> Vec<(u64, u8)> {
            let mut all: Vec<(u64, u8)> = self.last.iter().map(|(i, p)| (*p, *i)).collect();
            all.sort_unstable();
            all.into_iter().filter(|e| *e > start).collect()
        }
    }

    #[test]
    fn a_batch_of_one_entity_moves_its_entry() {
        let mut model = Model::default();
        model.change(1, 1);
        model.change(2, 2);
        for position in 3..100 {
            model.change(2, position);
        }
        assert_eq!(model.index.held(), 2);
        assert_eq!(model.page((0, 0)), vec![(1, 1), (99, 2)]);
        assert_eq!(model.page((1, u8::MAX)), vec![(99, 2)]);
    }

    proptest! {
        #[test]
        fn pages_match_a_sorted_set_and_memory_stays_bounded(
            ids in proptest::collection::vec(0u8..40, 1..600),
            start_at in 0u64..700,
        ) {
            let mut model = Model::default();
            for (k, id) in ids.iter().enumerate() {
                model.change(*id, k as u64 + 1);
                prop_assert!(model.index.held() <= 2 * model.index.len() + 65);
            }
            prop_assert_eq!(model.index.len(), model.last.len());
            for start in [(0, 0), (start_at, 0), (start_at, 20), (start_at, u8::MAX)] {
                prop_assert_eq!(model.page(start), model.expected(start));
            }
        }
    }
}
