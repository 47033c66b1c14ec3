//! Time, injected: [`Clock`], the wall clock and a hand-driven one for tests.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
#[cfg(any(
    test,
    not(all(
        any(feature = "memory-store", feature = "redis"),
        any(target_os = "linux", target_os = "android")
    ))
))]
use std::time::SystemTime;

use super::Timestamp;

/// Where a store reads the time. Inject a [`ManualClock`] to test expiry without sleeping.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
///
/// On Linux it reads `CLOCK_REALTIME_COARSE` (through rustix, no `unsafe` here): a few
/// nanoseconds instead of the ~40 of a precise read, at the price of a resolution of a few
/// milliseconds, which session lifetimes of hours and days do not notice. Elsewhere it reads
/// [`SystemTime::now`](std::time::SystemTime::now).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[cfg(all(
        any(feature = "memory-store", feature = "redis"),
        any(target_os = "linux", target_os = "android")
    ))]
    #[inline]
    fn now(&self) -> Timestamp {
        let ts = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
        Timestamp::from_millis(ts.tv_sec as i64 * 1_000 + ts.tv_nsec as i64 / 1_000_000)
    }

    #[cfg(not(all(
        any(feature = "memory-store", feature = "redis"),
        any(target_os = "linux", target_os = "android")
    )))]
    fn now(&self) -> Timestamp {
        Timestamp::from(SystemTime::now())
    }
}

/// A clock that moves only when told; clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use tower_bearer::store::{Clock, ManualClock, Timestamp};
///
/// let clock = ManualClock::new(Timestamp::from_millis(1_000));
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(clock.now().as_millis(), 2_000);
/// ```
#[derive(Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock(Arc::new(AtomicI64::new(start.as_millis())))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, to: Timestamp) {
        self.0.store(to.as_millis(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ManualClock").field(&self.now()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_agrees_with_system_time() {
        let precise = Timestamp::from(SystemTime::now()).as_millis();
        let coarse = SystemClock.now().as_millis();
        // The coarse clock lags by at most a few ticks.
        assert!((precise - coarse).abs() < 1_000, "{precise} vs {coarse}");
    }
}
