//! The lean read path for read models: an event as a fold sees it ([`FoldEvent`]: position,
//! stream, type, schema version, payload, store time; no metadata, id or hash) and a page of
//! them held in two buffers ([`FoldPage`]) instead of one allocation per field per event.
//!
//! Rebuilding a read model over a million events is bounded by reading: decoding every column
//! of [`RecordedEvent`] into owned fields costs about as much as the fold itself. Backends
//! that can select fewer columns implement [`crate::EventStore::read_all_for_fold`] directly;
//! the others get [`FoldPage::from_events`] over `read_all`, which gives the same answer.
use std::ops::Range;

use chrono::{DateTime, Utc};

use crate::event::RecordedEvent;

/// One event, borrowed, with only what a read model folds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoldEvent<'a> {
    /// Global position.
    pub position: u64,
    /// Its stream.
    pub stream: &'a str,
    /// Past-tense type name.
    pub event_type: &'a str,
    /// Version of the payload schema.
    pub schema_version: u32,
    /// Canonical JSON payload.
    pub data: &'a [u8],
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
}

impl RecordedEvent {
    /// This event as a fold sees it.
    #[must_use]
    pub fn as_fold(&self) -> FoldEvent<'_> {
        FoldEvent {
            position: self.position,
            stream: &self.stream,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            data: &self.data,
            recorded_at: self.recorded_at,
        }
    }
}

/// Where one event's parts lie in a page's buffers.
#[derive(Debug, Clone)]
struct Entry {
    position: u64,
    recorded_at: DateTime<Utc>,
    schema_version: u32,
    stream: Range<usize>,
    event_type: Range<usize>,
    data: Range<usize>,
}

/// A page of the global log for folding, like [`crate::AllSlice`] but lean: names go into one
/// text buffer (a stream or type equal to the previous event's is stored once), payloads into
/// one byte buffer.
#[derive(Debug, Clone, Default)]
pub struct FoldPage {
    text: String,
    data: Vec<u8>,
    entries: Vec<Entry>,
    /// Every position up to this one has been examined; the next read starts after it.
    pub scanned_to: u64,
    /// True when the read reached the head of the log.
    pub is_end: bool,
}

impl FoldPage {
    /// An empty page with room for `events` events of about `bytes` payload bytes in all.
    #[must_use]
    pub fn with_capacity(events: usize, bytes: usize) -> Self {
        FoldPage {
            text: String::with_capacity(events * 16),
            data: Vec::with_capacity(bytes),
            entries: Vec::with_capacity(events),
            scanned_to: 0,
            is_end: false,
        }
    }

    /// The same page as `read_all` would give, for backends without a lean read.
    #[must_use]
    pub fn from_events(events: &[RecordedEvent], scanned_to: u64, is_end: bool) -> Self {
        let bytes = events.iter().map(|e| e.data.len()).sum();
        let mut page = FoldPage::with_capacity(events.len(), bytes);
        for event in events {
            page.push(event.as_fold());
        }
        page.scanned_to = scanned_to;
        page.is_end = is_end;
        page
    }

    /// Appends one event (events must come in position order).
    pub fn push(&mut self, event: FoldEvent<'_>) {
        let stream = self.intern(event.stream, |e| e.stream.clone());
        let event_type = self.intern(event.event_type, |e| e.event_type.clone());
        let start = self.data.len();
        self.data.extend_from_slice(event.data);
        self.entries.push(Entry {
            position: event.position,
            recorded_at: event.recorded_at,
            schema_version: event.schema_version,
            stream,
            event_type,
            data: start..self.data.len(),
        });
    }

    /// Stores `text` unless the previous event's field (picked by `field`) is the same text.
    fn intern(&mut self, text: &str, field: impl Fn(&Entry) -> Range<usize>) -> Range<usize> {
        if let Some(previous) = self.entries.last().map(field)
            && self.text.get(previous.clone()) == Some(text)
        {
            return previous;
        }
        let start = self.text.len();
        self.text.push_str(text);
        start..self.text.len()
    }

    /// Number of events.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the page holds no event.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The position of the last event, if any.
    #[must_use]
    pub fn last_position(&self) -> Option<u64> {
        self.entries.last().map(|e| e.position)
    }

    /// The events, in position order.
    pub fn iter(&self) -> impl Iterator<Item = FoldEvent<'_>> + '_ {
        self.entries.iter().map(|e| FoldEvent {
            position: e.position,
            // Ranges were cut from these very buffers at char boundaries, so they are in
            // bounds; `get` keeps that a checked fact rather than an assumption.
            stream: self.text.get(e.stream.clone()).unwrap_or_default(),
            event_type: self.text.get(e.event_type.clone()).unwrap_or_default(),
            schema_version: e.schema_version,
            data: self.data.get(e.data.clone()).unwrap_or_default(),
            recorded_at: e.recorded_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(position: u64, stream: &'static str, data: &'static [u8]) -> FoldEvent<'static> {
        FoldEvent {
            position,
            stream,
            event_type: "Happened",
            schema_version: 1,
            data,
            recorded_at: DateTime::from_timestamp_micros(1_700_000_000_000_000 + position as i64)
                .unwrap_or_default(),
        }
    }

    #[test]
    fn a_page_gives_back_what_was_pushed_and_stores_repeated_names_once() {
        let pushed = [
            event(1, "person-a", b"{\"x\":1}"),
            event(2, "person-a", b"{}"),
            event(3, "établissement-b", b""),
            event(4, "person-a", b"[1,2]"),
        ];
        let mut page = FoldPage::default();
        for e in pushed {
            page.push(e);
        }
        assert_eq!(page.iter().collect::<Vec<_>>(), pushed);
        assert_eq!(page.len(), 4);
        assert_eq!(page.last_position(), Some(4));
        // "person-a" twice (not three times), "Happened" once, "établissement-b" once.
        assert_eq!(
            page.text.len(),
            2 * "person-a".len() + "Happened".len() + "établissement-b".len()
        );
    }
}
