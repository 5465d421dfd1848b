//! The projections' error type.

/// Why a read model could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectionError {
    /// The position asked for was not reached in time.
    #[error("the read models reached position {reached}, not {wanted}, in the time allowed")]
    Timeout {
        /// Position asked for.
        wanted: u64,
        /// Position reached.
        reached: u64,
    },
    /// The engine stopped (the store failed or closed); the read model no longer moves.
    #[error("the projection stopped: {0}")]
    Stopped(String),
}
