//! Projections: read models folded from the event log, and the engine that keeps them up to
//! date. A projection is a pure fold ([`Projection::apply`]); the engine ([`ProjectionHandle`])
//! feeds it from the store's catch-up subscription, publishes the position it reached (for
//! read-your-writes and live feeds) and can rebuild any read model from position 0
//! ([`rebuild`]), up to any past position (auditors' "as of").
#![forbid(unsafe_code)]

pub mod api_keys;
pub mod change_index;
pub mod clock;
pub mod engine;
pub mod error;
pub mod establishments;
pub mod inventory;
pub mod maintenance;
pub mod persons;
pub mod snapshot;
pub mod workload;
pub mod workshops;

pub use clock::Clock;
pub use engine::{ProjectionHandle, rebuild};
pub use error::ProjectionError;
pub use snapshot::{Snapshot, SnapshotSettings};

use palier_store::FoldEvent;

/// A read model: a pure fold over recorded events, seen as [`FoldEvent`]s (what a fold reads).
/// Events it does not care about are ignored cheaply (by stream prefix or type, before
/// decoding anything).
pub trait Projection: Send + Sync + 'static {
    /// Stable name, for logs.
    const NAME: &'static str;
    /// Folds one event in.
    fn apply(&mut self, event: FoldEvent<'_>);

    /// The clock reads `now`: a read model whose facts take effect on their own dates applies
    /// what fell due, even though no event arrived. Returns whether its state changed. Most
    /// read models have no dated facts and ignore it.
    fn advance_clock(&mut self, now: chrono::DateTime<chrono::Utc>) -> bool {
        let _ = now;
        false
    }
}
