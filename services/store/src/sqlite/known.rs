//! What the writer thread knows of the streams it appended to: each one's row id and last
//! revision, so that an append to a known stream reads nothing before writing its events.
//!
//! Exact by construction: the writer thread is the only writer of the file (the store's lock
//! keeps other processes out), it records here only what a committed transaction wrote, and it
//! forgets everything whenever a transaction rolls back or an import writes. Bounded: past
//! [`MAX_KNOWN_STREAMS`] entries it starts over, and a stream it does not know costs one
//! indexed lookup.
use std::collections::HashMap;

/// Most streams remembered (about 100 bytes each).
pub const MAX_KNOWN_STREAMS: usize = 200_000;

/// A stream as stored: its row id and its last event's revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamRow {
    /// `streams.id`.
    pub id: i64,
    /// Revision of the stream's last event (a stream row exists only with events).
    pub last_revision: u64,
}

/// The writer's memory of streams; see the module documentation.
#[derive(Debug, Default)]
pub struct KnownStreams {
    rows: HashMap<String, StreamRow>,
}

impl KnownStreams {
    /// The row of `name`, when known.
    pub fn get(&self, name: &str) -> Option<StreamRow> {
        self.rows.get(name).copied()
    }

    /// Records what a committed transaction wrote.
    pub fn record(&mut self, name: &str, row: StreamRow) {
        if let Some(known) = self.rows.get_mut(name) {
            *known = row;
            return;
        }
        if self.rows.len() >= MAX_KNOWN_STREAMS {
            self.rows.clear();
        }
        self.rows.insert(name.to_owned(), row);
    }

    /// Forgets everything (after a rollback or an import).
    pub fn forget(&mut self) {
        self.rows.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_updates_and_starts_over_past_its_bound() {
        let mut known = KnownStreams::default();
        let row = |r| StreamRow {
            id: 1,
            last_revision: r,
        };
        known.record("a", row(0));
        known.record("a", row(4));
        assert_eq!(known.get("a"), Some(row(4)));
        for i in 0..MAX_KNOWN_STREAMS {
            known.record(&format!("s{i}"), row(0));
        }
        assert!(known.rows.len() <= MAX_KNOWN_STREAMS);
        assert_eq!(known.get("a"), None, "started over once full");
        known.forget();
        assert!(known.rows.is_empty());
    }
}
