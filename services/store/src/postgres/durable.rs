//! The durable head of one palier process: the last position known to be on disk, below which
//! (and only below which) every read of this process's readers stays; and the fences that
//! advance it.
//!
//! Append groups commit asynchronously (`synchronous_commit = off`, see `writer.rs`), so a
//! committed group is visible to every snapshot before its commit record is flushed. A reader
//! that saw it could pass on an event that a crash of PostgreSQL then takes back. So readers
//! page only up to this head, which advances only once a *fence* has flushed the WAL past the
//! commit records of everything it covers:
//!
//! - a fence is a transaction that writes a WAL record of its own (a transactional logical
//!   message) and commits with the session's `synchronous_commit` (on by default): its commit
//!   flushes the WAL up to its own commit record, so every commit record written before it
//!   is on disk too. A transaction that only takes a transaction id (`pg_current_xact_id()`,
//!   `pg_notify`) is not one: PostgreSQL commits a transaction that wrote no WAL of its own
//!   without a flush, whatever `synchronous_commit` says (measured: the flush LSN does not
//!   move, and the crash test in `tests/postgres_durability.rs` loses acknowledged appends);
//! - the writer fences after each group (`writer.rs`) and advances the head to the group's
//!   last position before it answers anyone;
//! - the writer's fence notifies the group's last position, and a notification is delivered
//!   only once its transaction committed, so after the flush: a listener that hears `p`
//!   advances its head to `p` (every position below `p` committed before `p`'s group took the
//!   append lock, so its commit record comes earlier in the WAL);
//! - the poll safety net reads the highest committed position, then fences ([`refresh`]):
//!   whatever that read saw committed before the fence began.
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::StoreError;

use super::map_pg;

/// A fence on its own: a WAL record, then a synchronous commit, which flushes the WAL up to
/// it. Nothing to flush on a standby (it replays only what its primary flushed), where no
/// transaction may write.
pub(crate) const FENCE: &str = "SELECT CASE WHEN pg_is_in_recovery() THEN NULL \
     ELSE pg_logical_emit_message(true, 'palier', '') END";

/// The last position known durable; only ever moves forward.
#[derive(Debug, Default)]
pub(crate) struct DurableHead(AtomicU64);

impl DurableHead {
    /// The last durable position (0: nothing is).
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Everything up to `position` is durable.
    pub(crate) fn advance(&self, position: u64) {
        self.0.fetch_max(position, Ordering::AcqRel);
    }
}

/// The highest position committed, made durable: reads it, then fences when it is past what
/// `head` already knows, and advances `head` to it.
///
/// # Errors
/// When the server fails; `head` is then left as it was.
pub(crate) async fn refresh(
    client: &tokio_postgres::Client,
    head: &DurableHead,
) -> Result<u64, StoreError> {
    let row = client
        .query_one("SELECT coalesce(max(position), 0) FROM palier.events", &[])
        .await
        .map_err(map_pg)?;
    let committed: i64 = row.try_get(0).map_err(map_pg)?;
    let committed = u64::try_from(committed).unwrap_or(0);
    if committed > head.get() {
        // Everything that read saw had written its commit record before the fence began.
        client.batch_execute(FENCE).await.map_err(map_pg)?;
        head.advance(committed);
    }
    Ok(head.get())
}

/// The position a notification carries, when it is one (anything else on the channel is not
/// trusted to advance the durable head).
pub(crate) fn notified_position(payload: &str) -> Option<u64> {
    payload.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_never_moves_back() {
        let head = DurableHead::default();
        assert_eq!(head.get(), 0);
        head.advance(5);
        head.advance(3);
        assert_eq!(head.get(), 5);
        head.advance(9);
        assert_eq!(head.get(), 9);
        head.advance(9);
        head.advance(0);
        assert_eq!(head.get(), 9);
    }

    #[test]
    fn only_a_position_is_trusted_from_a_notification() {
        assert_eq!(notified_position("42"), Some(42));
        assert_eq!(notified_position(""), None);
        assert_eq!(notified_position("-1"), None);
        assert_eq!(notified_position("18446744073709551616"), None);
        assert_eq!(notified_position("4 2"), None);
    }
}
