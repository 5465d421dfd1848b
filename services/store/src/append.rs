//! The vocabulary of appends: what the caller expects of a stream and what an append returns.
use std::fmt;
use std::ops::RangeInclusive;

/// The optimistic-concurrency condition of an append, as in KurrentDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedRevision {
    /// Append whatever the stream's state.
    Any,
    /// The stream must have no events.
    NoStream,
    /// The stream must have at least one event.
    StreamExists,
    /// The stream's last event must be at this revision (revisions start at 0).
    Exact(u64),
}

impl fmt::Display for ExpectedRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedRevision::Any => f.write_str("any"),
            ExpectedRevision::NoStream => f.write_str("no stream"),
            ExpectedRevision::StreamExists => f.write_str("stream exists"),
            ExpectedRevision::Exact(r) => write!(f, "revision {r}"),
        }
    }
}

/// The actual state of a stream, carried by conflicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurrentRevision {
    /// The stream has no events.
    NoStream,
    /// The stream's last event is at this revision.
    Current(u64),
}

impl CurrentRevision {
    /// Whether this state satisfies `expected`.
    pub fn satisfies(self, expected: ExpectedRevision) -> bool {
        match (expected, self) {
            (ExpectedRevision::Any, _) => true,
            (ExpectedRevision::NoStream, CurrentRevision::NoStream) => true,
            (ExpectedRevision::StreamExists, CurrentRevision::Current(_)) => true,
            (ExpectedRevision::Exact(e), CurrentRevision::Current(c)) => e == c,
            _ => false,
        }
    }

    /// The revision as an option.
    pub fn revision(self) -> Option<u64> {
        match self {
            CurrentRevision::NoStream => None,
            CurrentRevision::Current(r) => Some(r),
        }
    }
}

impl fmt::Display for CurrentRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CurrentRevision::NoStream => f.write_str("no stream"),
            CurrentRevision::Current(r) => write!(f, "revision {r}"),
        }
    }
}

/// What a successful append returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    /// The stream's state after the append: pass it as `ExpectedRevision::Exact` next time.
    pub current_revision: CurrentRevision,
    /// Global positions of the appended events (for an idempotent retry: the original ones);
    /// `None` for an empty append.
    pub positions: Option<RangeInclusive<u64>>,
    /// True when every event was already there (an idempotent retry) and nothing was written.
    pub deduplicated: bool,
}

impl AppendResult {
    /// The position of the last event this append wrote (or had written), if any.
    pub fn last_position(&self) -> Option<u64> {
        self.positions.as_ref().map(|p| *p.end())
    }
}
