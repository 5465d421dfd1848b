//! Integrity check: walks the log in position order, recomputes every hash and reports the
//! first broken link, then asks the store whether its stream index agrees with the log.
//! Works over any [`EventStore`], through its public API only.
use crate::EventStore;
use crate::error::StoreError;
use crate::filter::EventFilter;
use crate::hash::{self, Hash};
use crate::read::LogHead;

/// The first place where the log is not what its hash chain says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// Position of the first event that fails.
    pub position: u64,
    /// What failed.
    pub reason: String,
}

/// The outcome of a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Events examined.
    pub checked: u64,
    /// The last event verified (position and hash), when the log is not empty.
    pub head: Option<LogHead>,
    /// The first broken link, or `None` when the whole chain holds.
    pub broken: Option<BrokenLink>,
}

impl VerifyReport {
    /// True when no link is broken.
    pub fn is_ok(&self) -> bool {
        self.broken.is_none()
    }
}

const PAGE: usize = 4096;

/// Walks the whole log. With `checkpoint`, also checks that the event at that position still
/// has that hash (an external anchor: a rewrite that re-chains every later hash passes a plain
/// walk but not this).
pub async fn verify<S: EventStore + ?Sized>(
    store: &S,
    checkpoint: Option<LogHead>,
) -> Result<VerifyReport, StoreError> {
    // The chain covers each event's stream name; the index `read_stream` and the appends go
    // by is beside it, and must say the same. Its check is one scan of its own, run beside
    // the walk (another reader) rather than after it.
    let (walked, index) = futures::join!(walk(store, checkpoint), store.stream_index_mismatch());
    let report = walked?;
    if report.broken.is_some() {
        return Ok(report);
    }
    if let Some((position, stream, indexed)) = index? {
        return Ok(VerifyReport {
            broken: Some(BrokenLink {
                position,
                reason: format!("the stream index files this event of {stream} under {indexed}"),
            }),
            ..report
        });
    }
    Ok(report)
}

/// The hash-chain walk of [`verify`].
async fn walk<S: EventStore + ?Sized>(
    store: &S,
    checkpoint: Option<LogHead>,
) -> Result<VerifyReport, StoreError> {
    let mut previous = Hash::GENESIS;
    let mut expected_position = 1u64;
    let mut checked = 0u64;
    let mut head = None;
    let all = EventFilter::all();
    let broken = |position: u64, reason: String, checked: u64, head: Option<LogHead>| {
        Ok(VerifyReport {
            checked,
            head,
            broken: Some(BrokenLink { position, reason }),
        })
    };
    loop {
        let slice = match store.read_all(expected_position, &all, PAGE).await {
            Ok(slice) => slice,
            Err(StoreError::Corrupt { position, reason }) => {
                return broken(position, format!("unreadable: {reason}"), checked, head);
            }
            Err(e) => return Err(e),
        };
        for event in &slice.events {
            if event.position != expected_position {
                return broken(
                    expected_position,
                    format!(
                        "position {expected_position} is missing (next event is at {})",
                        event.position
                    ),
                    checked,
                    head,
                );
            }
            let computed = hash::recompute(&previous, event);
            if computed != event.hash {
                return broken(
                    event.position,
                    format!(
                        "stored hash {} does not match recomputed {}",
                        event.hash, computed
                    ),
                    checked,
                    head,
                );
            }
            if let Some(cp) = checkpoint
                && cp.position == event.position
                && cp.hash != event.hash
            {
                return broken(
                    event.position,
                    format!(
                        "checkpoint hash {} does not match the log's {}",
                        cp.hash, event.hash
                    ),
                    checked,
                    head,
                );
            }
            previous = computed;
            checked += 1;
            expected_position += 1;
            head = Some(LogHead {
                position: event.position,
                hash: computed,
            });
        }
        if slice.is_end {
            break;
        }
    }
    if let Some(cp) = checkpoint
        && head.is_none_or(|h| h.position < cp.position)
    {
        return broken(
            cp.position,
            format!(
                "checkpoint position {} is beyond the log's head",
                cp.position
            ),
            checked,
            head,
        );
    }
    Ok(VerifyReport {
        checked,
        head,
        broken: None,
    })
}
