//! Session lifetimes, the sliding refresh and the per-user cap: better-auth's rules, shared by
//! every store and its builder.

use std::time::Duration;

use super::Timestamp;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// A store's lifetime settings, set through its builder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lifetimes {
    /// With remember-me: better-auth's `expiresIn`, 7 days.
    pub(crate) expires_in: Duration,
    /// Without remember-me: 1 day.
    pub(crate) expires_in_short: Duration,
    /// better-auth's `updateAge`, 1 day.
    pub(crate) update_age: Duration,
    /// At most this many live sessions per user; none by default.
    pub(crate) max_per_user: Option<usize>,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            expires_in: 7 * DAY,
            expires_in_short: DAY,
            update_age: DAY,
            max_per_user: None,
        }
    }
}

impl Lifetimes {
    /// How long a session lives from its issue or its last refresh.
    #[inline]
    pub(crate) fn lifetime(&self, remember_me: bool) -> Duration {
        if remember_me {
            self.expires_in
        } else {
            self.expires_in_short
        }
    }

    /// `update_age - lifetime` in milliseconds: a session is due for refresh once its expiry
    /// plus this is not after now (the same rule as [`refresh_due`](Self::refresh_due)).
    #[cfg_attr(not(feature = "memory-store"), allow(dead_code))]
    pub(crate) fn refresh_shift(&self, remember_me: bool) -> i64 {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        ms(self.update_age).saturating_sub(ms(self.lifetime(remember_me)))
    }

    /// better-auth's sliding refresh: due once `update_age` has passed since the last one.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    #[inline]
    pub(crate) fn refresh_due(
        &self,
        expires_at: Timestamp,
        lifetime: Duration,
        now: Timestamp,
    ) -> bool {
        expires_at - lifetime + self.update_age <= now
    }
}

/// The lifetime setters every store builder has, over its `lifetimes` field.
macro_rules! lifetime_setters {
    () => {
        /// Session lifetime with remember-me. Default: 7 days.
        pub fn expires_in(mut self, d: Duration) -> Self {
            self.lifetimes.expires_in = d;
            self
        }

        /// Session lifetime without remember-me. Default: 1 day.
        pub fn expires_in_short(mut self, d: Duration) -> Self {
            self.lifetimes.expires_in_short = d;
            self
        }

        /// How long after the last refresh a resolve moves the expiry on again. Default: 1 day.
        pub fn update_age(mut self, d: Duration) -> Self {
            self.lifetimes.update_age = d;
            self
        }

        /// At most this many live sessions per user; issuing one more revokes the oldest.
        pub fn max_sessions_per_user(mut self, max: usize) -> Self {
            self.lifetimes.max_per_user = Some(max.max(1));
            self
        }
    };
}
pub(crate) use lifetime_setters;

#[cfg(test)]
mod shift_tests {
    use super::*;
    use crate::store::Timestamp;

    /// The precomputed shift decides exactly as `refresh_due`, around every boundary.
    #[test]
    fn the_refresh_shift_decides_as_refresh_due() {
        let lifetimes = Lifetimes::default();
        for remember in [false, true] {
            let lifetime = lifetimes.lifetime(remember);
            let shift = lifetimes.refresh_shift(remember);
            let expires = Timestamp::from_millis(1_800_000_000_000);
            let boundary = expires.as_millis() + shift;
            for now in [boundary - 1, boundary, boundary + 1, 0, i64::MAX / 2] {
                let now = Timestamp::from_millis(now);
                assert_eq!(
                    expires.as_millis().saturating_add(shift) <= now.as_millis(),
                    lifetimes.refresh_due(expires, lifetime, now),
                    "{remember} {now:?}"
                );
            }
        }
    }
}
