//! Time as it enters the machine (ARCHITECTURE.md §2: two clocks travel together).
//!
//! The core never reads a clock. Each input carries a [`Now`]: a monotonic instant for deadlines
//! (immune to wall-clock jumps) and the wall clock for token expiry, which is stored as an absolute
//! Unix time in the session because sessions outlive processes and laptops sleep.

use std::time::Duration;

/// The current time, supplied by the adapter (or a virtual clock in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Now {
    /// Monotonic time since an origin the adapter chooses (e.g. its start).
    pub instant: Duration,
    /// Wall-clock seconds since the Unix epoch.
    pub wall: u64,
}

impl Now {
    /// Builds a `Now` from a monotonic offset and Unix seconds.
    pub fn new(instant: Duration, wall: u64) -> Self {
        Self { instant, wall }
    }

    /// This time moved forward by `d` on both clocks (virtual clocks in tests and simulations).
    pub fn advance(self, d: Duration) -> Self {
        Self {
            instant: self.instant + d,
            wall: self.wall + d.as_secs(),
        }
    }
}

/// A moment the machine wants to be woken at, with the reason (for tracing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// Monotonic instant (same origin as [`Now::instant`]).
    pub at: Duration,
    /// Why the machine wants to wake up.
    pub reason: DeadlineReason,
}

/// Why a [`Deadline`] exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadlineReason {
    /// The user has not completed the browser step in time.
    AuthorizationTimeout,
}
