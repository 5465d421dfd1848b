//! The vocabulary of reads: where to start, which way to go, and what comes back.
use chrono::{DateTime, Utc};

use crate::event::RecordedEvent;
use crate::hash::Hash;

/// Direction of a stream read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Oldest first.
    Forwards,
    /// Newest first.
    Backwards,
}

/// Where a stream read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFrom {
    /// The first event.
    Start,
    /// The last event.
    End,
    /// This revision (inclusive).
    Revision(u64),
}

/// A page of the global log.
#[derive(Debug, Clone, Default)]
pub struct AllSlice {
    /// The matching events, in position order.
    pub events: Vec<RecordedEvent>,
    /// Every position up to this one has been examined (matched or not); the next read
    /// starts after it. Equals the log's head when the page was not full.
    pub scanned_to: u64,
    /// True when the read reached the head of the log (the page was not full).
    pub is_end: bool,
}

/// What the store knows of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// The stream's name.
    pub stream: String,
    /// Revision of its last event.
    pub last_revision: u64,
    /// Global position of its first event.
    pub first_position: u64,
    /// Global position of its last event.
    pub last_position: u64,
    /// When its first event was recorded.
    pub created_at: DateTime<Utc>,
    /// When its last event was recorded.
    pub updated_at: DateTime<Utc>,
}

/// The last event of the log: what an auditor keeps outside the store to check later that
/// history up to there was not rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogHead {
    /// Its position.
    pub position: u64,
    /// Its hash.
    pub hash: Hash,
}
