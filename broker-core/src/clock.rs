//! Where "now" comes from, wherever time decides behaviour (session expiry, scheduling,
//! simulators), so that tests and simulations can move time instead of waiting for it.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, Duration, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A shared handle to a clock, the system's unless a test or simulation says otherwise.
pub type SharedClock = Arc<dyn Clock>;

/// The system clock as a [`SharedClock`].
pub fn system_clock() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that stands still until it is set or advanced; clones share one time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<RwLock<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(RwLock::new(start)),
        }
    }

    /// Sets the time.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.write().unwrap_or_else(PoisonError::into_inner) = now;
    }

    /// Moves the time forward (or back, for a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.write().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.read().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let start: DateTime<Utc> = "2026-12-01T09:40:00Z".parse().unwrap();
        let clock = ManualClock::new(start);
        let shared: SharedClock = Arc::new(clock.clone());
        assert_eq!(shared.now(), start);
        clock.advance(Duration::minutes(5));
        assert_eq!(shared.now(), start + Duration::minutes(5));
        clock.set(start);
        assert_eq!(shared.now(), start);
    }

    #[test]
    fn the_system_clock_follows_utc_now() {
        let before = Utc::now();
        let now = SystemClock.now();
        assert!(now >= before && now <= Utc::now());
    }
}
