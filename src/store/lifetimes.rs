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

    /// better-auth's sliding refresh: due once `update_age` has passed since the last one.
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
