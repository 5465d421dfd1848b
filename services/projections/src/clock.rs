//! The clock that read models with dated facts follow: the system's, or, for tests only, one
//! that is set by hand. It is passed by value (settings, application state, the engine); there
//! is no global one.
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

/// Where the time comes from. Cheap to clone: clones of a settable clock share its time.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A clock set by hand (tests, and a server started with a test clock).
    Settable(Arc<RwLock<DateTime<Utc>>>),
}

/// A clock that cannot be set was asked to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this clock is the system clock and cannot be set")]
pub struct NotSettable;

impl Clock {
    /// A clock that reads `start` until it is set.
    pub fn settable(start: DateTime<Utc>) -> Self {
        Clock::Settable(Arc::new(RwLock::new(start)))
    }

    /// The time now.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Settable(time) => *time
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        }
    }

    /// Whether [`Clock::set`] works.
    pub fn is_settable(&self) -> bool {
        matches!(self, Clock::Settable(_))
    }

    /// Sets a settable clock (every clone of it) to `now`.
    ///
    /// # Errors
    /// [`NotSettable`] on the system clock.
    pub fn set(&self, now: DateTime<Utc>) -> Result<(), NotSettable> {
        match self {
            Clock::System => Err(NotSettable),
            Clock::Settable(time) => {
                *time
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = now;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_of_a_settable_clock_share_its_time() {
        let start = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        let clock = Clock::settable(start);
        let copy = clock.clone();
        let later = start + chrono::Duration::days(3);
        assert_eq!(copy.set(later), Ok(()));
        assert_eq!(clock.now(), later);
        assert_eq!(Clock::System.set(later), Err(NotSettable));
        assert!(!Clock::System.is_settable());
    }
}
