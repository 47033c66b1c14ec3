//! [`CallBudget`]: how many introspection calls may start per interval, so that a flood of
//! distinct made-up tokens (each a cache miss) cannot spend the authorization server's rate
//! limit and lock real users out with it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket: `calls` in a burst, refilled at `calls` per `per`. Taken only when a call
/// would start (a cache miss that joins no call under way), so hits and waiters cost nothing.
pub(super) struct CallBudget {
    calls: f64,
    per: Duration,
    bucket: Mutex<(f64, Instant)>,
}

impl CallBudget {
    pub(super) fn new(calls: u32, per: Duration) -> Self {
        let calls = f64::from(calls);
        CallBudget {
            calls,
            per,
            bucket: Mutex::new((calls, Instant::now())),
        }
    }

    /// Spends one call, if one is left.
    pub(super) fn take(&self) -> bool {
        self.take_at(Instant::now())
    }

    fn take_at(&self, now: Instant) -> bool {
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let (left, since) = *bucket;
        let refill = match self.per.is_zero() {
            true => self.calls,
            false => {
                now.saturating_duration_since(since).as_secs_f64() / self.per.as_secs_f64()
                    * self.calls
            }
        };
        let left = (left + refill).min(self.calls);
        match left >= 1.0 {
            true => {
                *bucket = (left - 1.0, now);
                true
            }
            false => {
                *bucket = (left, now);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_refill_rate() {
        let budget = CallBudget::new(3, Duration::from_secs(1));
        let t0 = Instant::now();
        assert!(budget.take_at(t0) && budget.take_at(t0) && budget.take_at(t0));
        assert!(!budget.take_at(t0), "the burst is spent");
        assert!(
            !budget.take_at(t0 + Duration::from_millis(100)),
            "a third of a call"
        );
        assert!(
            budget.take_at(t0 + Duration::from_millis(340)),
            "one call back"
        );
        assert!(!budget.take_at(t0 + Duration::from_millis(350)));
        // Never more than the burst, however long it rested.
        let later = t0 + Duration::from_secs(3600);
        assert!((0..3).all(|_| budget.take_at(later)));
        assert!(!budget.take_at(later));
    }

    #[test]
    fn zero_calls_means_none() {
        let budget = CallBudget::new(0, Duration::from_secs(1));
        assert!(!budget.take());
    }
}
