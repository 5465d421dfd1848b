//! The store's error type: the one enum callers match on at the store boundary.
use std::path::PathBuf;

use uuid::Uuid;

use crate::append::{CurrentRevision, ExpectedRevision};

/// Everything that can go wrong at the store boundary.
///
/// `WrongExpectedRevision` and `IdempotencyConflict` are the caller's concern (optimistic
/// concurrency); `InvalidInput` means nothing was written because the request was malformed;
/// the others are operational.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stream's current revision did not satisfy the expectation; nothing was appended.
    #[error("wrong expected revision on stream {stream}: expected {expected}, actual {actual}")]
    WrongExpectedRevision {
        /// The stream appended to.
        stream: String,
        /// What the caller expected.
        expected: ExpectedRevision,
        /// What the stream actually was.
        actual: CurrentRevision,
    },
    /// An event id already in the stream was sent again with different content or in a
    /// different place (a retry that only partly matches); nothing was appended.
    #[error("event id {event_id} conflicts in stream {stream}: {reason}")]
    IdempotencyConflict {
        /// The stream appended to.
        stream: String,
        /// The conflicting event id.
        event_id: Uuid,
        /// What differs.
        reason: String,
    },
    /// The request was malformed (bad stream name, event type, JSON...); nothing was written.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which input was wrong.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The file at `path` is not a palier store; it was left untouched.
    #[error("{path} is not a palier event store: {reason}")]
    NotAStore {
        /// The file refused.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// The store was written by a newer palier; it was left untouched.
    #[error(
        "{path} uses store format {found}, newer than this build understands (up to {supported}); upgrade palier"
    )]
    UnsupportedFormat {
        /// The file refused.
        path: PathBuf,
        /// The format version found in the file.
        found: i64,
        /// The newest format version this build reads.
        supported: i64,
    },
    /// Another process holds the store.
    #[error("{path} is in use by another palier process")]
    Locked {
        /// The store file.
        path: PathBuf,
    },
    /// The disk (or the configured size limit) is full; nothing of the failed call was written.
    #[error("storage full: {0}")]
    StorageFull(String),
    /// A stored event could not be decoded: the file was damaged or altered.
    #[error("stored event at position {position} is unreadable: {reason}")]
    Corrupt {
        /// Position of the damaged event.
        position: u64,
        /// What could not be decoded.
        reason: String,
    },
    /// Any other I/O or database failure; the store stays readable.
    #[error("storage error: {0}")]
    Storage(String),
    /// The store was opened read-only (beside the process that writes it); nothing was
    /// written.
    #[error("{path} is open read-only here; appends go through the palier process that holds it")]
    ReadOnly {
        /// The store file.
        path: PathBuf,
    },
    /// The store has been shut down.
    #[error("the event store is closed")]
    Closed,
    /// The person's key was destroyed (the person was forgotten): no new key is given.
    #[error("person {person} was forgotten: their key is destroyed")]
    KeyDestroyed {
        /// The person.
        person: Uuid,
    },
}

impl StoreError {
    /// Builds an [`StoreError::InvalidInput`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        StoreError::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    /// True for errors that mean the caller's expectation or ids conflicted with the log.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            StoreError::WrongExpectedRevision { .. } | StoreError::IdempotencyConflict { .. }
        )
    }
}
