//! One of better-auth's API keys as stored ([`Record`]), and the decisions its verification
//! makes on it, as `@better-auth/api-key` 1.7 makes them (`validateApiKey`,
//! `evaluateRateLimit`, `claimUsageInSecondaryStorage`): which refusals come before any
//! write, and how the counters move. Times are epoch milliseconds, as JavaScript counts.

use std::time::Duration;

use crate::{Rejection, RejectionKind};

/// The columns (or JSON members) verification reads. `Debug` leaves out `start`, the key's
/// first characters.
#[derive(Clone, Default, PartialEq)]
pub(super) struct Record {
    pub(super) id: String,
    pub(super) config_id: Option<String>,
    pub(super) reference_id: String,
    pub(super) name: Option<String>,
    pub(super) prefix: Option<String>,
    pub(super) start: Option<String>,
    /// `None` passes: better-auth refuses only `enabled === false`.
    pub(super) enabled: Option<bool>,
    pub(super) expires_at: Option<i64>,
    pub(super) remaining: Option<i64>,
    pub(super) refill_amount: Option<i64>,
    pub(super) refill_interval: Option<i64>,
    pub(super) last_refill_at: Option<i64>,
    pub(super) rate_limit_enabled: Option<bool>,
    pub(super) rate_limit_time_window: Option<i64>,
    pub(super) rate_limit_max: Option<i64>,
    pub(super) request_count: Option<i64>,
    pub(super) last_request: Option<i64>,
    pub(super) created_at: i64,
    /// `JSON.stringify` of a record of string lists, as stored.
    pub(super) permissions: Option<String>,
    /// The metadata, as JSON.
    pub(super) metadata: Option<serde_json::Value>,
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("id", &self.id)
            .field("config_id", &self.config_id)
            .field("enabled", &self.enabled)
            .field("expires_at", &self.expires_at)
            .field("remaining", &self.remaining)
            .field("last_refill_at", &self.last_refill_at)
            .field("request_count", &self.request_count)
            .field("last_request", &self.last_request)
            .finish_non_exhaustive()
    }
}

/// What verification does with a key before it claims a use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Gate {
    /// A key of another configuration than the one accepted: unknown (401), nothing written.
    OtherConfig,
    /// `enabled === false`: 401, nothing written.
    Disabled,
    /// Past `expiresAt`: the key is deleted, then 401.
    Expired,
    /// `remaining === 0` without a refill: the key is deleted, then 429 `USAGE_EXCEEDED`.
    Exhausted,
    /// On to the claim.
    Claim,
}

impl Record {
    /// The checks `validateApiKey` makes before it claims a use, in its order. `config_id`:
    /// the only configuration whose keys are accepted, if one is set.
    pub(super) fn gate(&self, now: i64, config_id: Option<&str>) -> Gate {
        let default = |id: Option<&str>| id.is_none_or(|id| id == "default");
        if let Some(expected) = config_id {
            let same = (default(Some(expected)) && default(self.config_id.as_deref()))
                || self.config_id.as_deref() == Some(expected);
            if !same {
                return Gate::OtherConfig;
            }
        }
        if self.enabled == Some(false) {
            return Gate::Disabled;
        }
        // `if (apiKey.expiresAt)`: epoch 0 is falsy.
        if self.expires_at.is_some_and(|at| at != 0 && now > at) {
            return Gate::Expired;
        }
        if self.remaining == Some(0) && self.refill_amount.is_none() {
            return Gate::Exhausted;
        }
        Gate::Claim
    }

    /// `refillInterval && refillAmount` and `now - (lastRefillAt ?? createdAt) > refillInterval`.
    pub(super) fn refill_due(&self, now: i64) -> Option<i64> {
        let interval = self.refill_interval.filter(|&i| i != 0)?;
        let amount = self.refill_amount.filter(|&a| a != 0)?;
        let last = self.last_refill_at.unwrap_or(self.created_at);
        (now - last > interval).then_some(amount)
    }

    /// When a used-up key with a refill may be used again, if it has one.
    pub(super) fn next_refill(&self, now: i64) -> Option<Duration> {
        let interval = self.refill_interval.filter(|&i| i > 0)?;
        self.refill_amount.filter(|&a| a != 0)?;
        let last = self.last_refill_at.unwrap_or(self.created_at);
        Some(millis(last + interval + 1 - now))
    }

    /// `evaluateRateLimit`. `plugin_enabled` is the plugin's `rateLimit.enabled`.
    pub(super) fn rate_limit(&self, now: i64, plugin_enabled: bool) -> RateLimit {
        if !plugin_enabled || self.rate_limit_enabled == Some(false) {
            return RateLimit::Skip { touch: true };
        }
        let (Some(window), Some(max)) = (self.rate_limit_time_window, self.rate_limit_max) else {
            return RateLimit::Skip { touch: false };
        };
        let Some(last) = self.last_request else {
            return RateLimit::Start;
        };
        let since = now - last;
        if since > window {
            return RateLimit::Reset {
                window_start: now - window,
            };
        }
        if self.request_count.unwrap_or(0) >= max {
            return RateLimit::Deny {
                try_again_in: millis(window - since),
            };
        }
        RateLimit::Increment {
            window_start: now - window,
            max,
        }
    }

    #[cfg_attr(not(feature = "better-auth-redis"), allow(dead_code))]
    /// `claimUsageInSecondaryStorage`'s new counters, computed from this snapshot (the Redis
    /// storage, where the whole record is swapped): `Err` is the refusal, before any write.
    pub(super) fn claimed(&self, now: i64, plugin_enabled: bool) -> Result<Record, Refusal> {
        let mut next = self.clone();
        if let Some(mut remaining) = self.remaining {
            if let Some(amount) = self.refill_due(now) {
                remaining = amount;
                next.last_refill_at = Some(now);
            }
            if remaining == 0 {
                return Err(Refusal::UsageExceeded(self.next_refill(now)));
            }
            next.remaining = Some(remaining - 1);
        }
        match self.rate_limit(now, plugin_enabled) {
            RateLimit::Deny { try_again_in } => return Err(Refusal::RateLimited(try_again_in)),
            RateLimit::Skip { touch } => {
                if touch {
                    next.last_request = Some(now);
                }
            }
            RateLimit::Start | RateLimit::Reset { .. } => {
                next.last_request = Some(now);
                next.request_count = Some(1);
            }
            RateLimit::Increment { .. } => {
                next.last_request = Some(now);
                next.request_count = Some(self.request_count.unwrap_or(0) + 1);
            }
        }
        Ok(next)
    }
}

/// A non-negative number of milliseconds as a duration.
fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// `evaluateRateLimit`'s decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RateLimit {
    /// No rate limit: `lastRequest` still moves to now when `touch` (the plugin's or the key's
    /// rate limit is off), nothing is written when not (no window or no maximum).
    Skip { touch: bool },
    /// The first request: `requestCount = 1` where `lastRequest` is still null.
    Start,
    /// The window passed: `requestCount = 1` where `lastRequest <= window_start` still.
    Reset { window_start: i64 },
    /// One more in the window: where `lastRequest > window_start` and `requestCount < max`.
    Increment { window_start: i64, max: i64 },
    /// Over the limit: 429 `RATE_LIMITED`, nothing written.
    Deny { try_again_in: Duration },
}

/// A key refused with 429, as better-auth refuses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// `USAGE_EXCEEDED`; when the key refills, how long until it does.
    UsageExceeded(Option<Duration>),
    /// `RATE_LIMITED`, and better-auth's `tryAgainIn`.
    RateLimited(Duration),
}

impl Refusal {
    /// The layer's answer: 429 with better-auth's message and a `Retry-After`.
    pub(super) fn rejection(self) -> Rejection {
        let rejection = Rejection::new(RejectionKind::TooManyRequests);
        match self {
            Refusal::UsageExceeded(refill) => {
                let rejection =
                    rejection.with_description("the API key has reached its usage limit");
                match refill {
                    Some(wait) => rejection.with_retry_after(wait),
                    None => rejection,
                }
            }
            Refusal::RateLimited(wait) => rejection
                .with_description("the API key's rate limit is exceeded")
                .with_retry_after(wait),
        }
    }

    /// Why, for the DEBUG line.
    pub(super) fn why(self) -> &'static str {
        match self {
            Refusal::UsageExceeded(_) => "the API key is used up (USAGE_EXCEEDED)",
            Refusal::RateLimited(_) => "the API key is over its rate limit (RATE_LIMITED)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Record {
        Record {
            id: "k".into(),
            reference_id: "u".into(),
            created_at: 1_000,
            request_count: Some(0),
            ..Record::default()
        }
    }

    #[test]
    fn the_gates_in_better_auths_order() {
        let now = 10_000;
        assert_eq!(key().gate(now, None), Gate::Claim);
        assert_eq!(key().gate(now, Some("default")), Gate::Claim);
        assert_eq!(key().gate(now, Some("partners")), Gate::OtherConfig);
        let partners = Record {
            config_id: Some("partners".into()),
            ..key()
        };
        assert_eq!(partners.gate(now, Some("partners")), Gate::Claim);
        assert_eq!(partners.gate(now, None), Gate::Claim);
        let disabled = Record {
            enabled: Some(false),
            expires_at: Some(1),
            ..key()
        };
        assert_eq!(disabled.gate(now, None), Gate::Disabled);
        let expired = Record {
            expires_at: Some(now - 1),
            remaining: Some(0),
            ..key()
        };
        assert_eq!(expired.gate(now, None), Gate::Expired);
        // `Date.now() > expiresAt`: the very millisecond still passes.
        let expiring = Record {
            expires_at: Some(now),
            ..key()
        };
        assert_eq!(expiring.gate(now, None), Gate::Claim);
        let used_up = Record {
            remaining: Some(0),
            ..key()
        };
        assert_eq!(used_up.gate(now, None), Gate::Exhausted);
        // With a refill, a used-up key waits for it rather than being deleted.
        let refilling = Record {
            remaining: Some(0),
            refill_amount: Some(5),
            refill_interval: Some(60_000),
            ..key()
        };
        assert_eq!(refilling.gate(now, None), Gate::Claim);
        assert_eq!(
            refilling.claimed(now, true),
            Err(Refusal::UsageExceeded(Some(Duration::from_millis(51_001))))
        );
    }

    #[test]
    fn a_refill_resets_remaining_once_its_interval_has_passed() {
        let key = Record {
            remaining: Some(0),
            refill_amount: Some(3),
            refill_interval: Some(1_000),
            last_refill_at: Some(5_000),
            ..key()
        };
        assert_eq!(
            key.refill_due(6_000),
            None,
            "strictly more than the interval"
        );
        assert_eq!(key.refill_due(6_001), Some(3));
        let next = key.claimed(6_001, true).unwrap();
        assert_eq!(next.remaining, Some(2));
        assert_eq!(next.last_refill_at, Some(6_001));
        // Without lastRefillAt, the interval runs from createdAt.
        let fresh = Record {
            last_refill_at: None,
            ..key
        };
        assert_eq!(fresh.refill_due(2_001), Some(3));
    }

    #[test]
    fn the_rate_limit_window_runs_from_the_last_request() {
        let limited = Record {
            rate_limit_time_window: Some(60_000),
            rate_limit_max: Some(2),
            ..key()
        };
        assert_eq!(limited.rate_limit(10_000, true), RateLimit::Start);
        let once = limited.claimed(10_000, true).unwrap();
        assert_eq!(
            (once.request_count, once.last_request),
            (Some(1), Some(10_000))
        );
        let twice = once.claimed(20_000, true).unwrap();
        assert_eq!(
            (twice.request_count, twice.last_request),
            (Some(2), Some(20_000))
        );
        assert_eq!(
            twice.claimed(30_000, true),
            Err(Refusal::RateLimited(Duration::from_millis(50_000)))
        );
        // The window is measured from the last request (20 000), not from the first.
        assert_eq!(
            twice.rate_limit(80_001, true),
            RateLimit::Reset {
                window_start: 20_001
            }
        );
        // Off for the key, or for the plugin: lastRequest still moves; no window: nothing.
        let off = Record {
            rate_limit_enabled: Some(false),
            ..twice.clone()
        };
        assert_eq!(
            off.rate_limit(30_000, true),
            RateLimit::Skip { touch: true }
        );
        assert_eq!(
            twice.rate_limit(30_000, false),
            RateLimit::Skip { touch: true }
        );
        let unbounded = Record {
            rate_limit_max: None,
            ..twice
        };
        assert_eq!(
            unbounded.rate_limit(30_000, true),
            RateLimit::Skip { touch: false }
        );
    }

    #[test]
    fn refusals_are_429_with_retry_after() {
        let r = Refusal::RateLimited(Duration::from_millis(59_875)).rejection();
        assert_eq!(r.status(), 429);
        assert_eq!(r.retry_after(), Some(60));
        let r = Refusal::UsageExceeded(None).rejection();
        assert_eq!(r.retry_after(), None);
        assert_eq!(r.message(), "the API key has reached its usage limit");
    }
}
