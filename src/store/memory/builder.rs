//! [`MemoryStoreBuilder`]: lifetimes, the per-user cap, the clock, and the store's secret key.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;

use super::{Inner, MemoryStore};
use crate::digest::TokenDigest;
use crate::store::lifetimes::{lifetime_setters, Lifetimes};
use crate::store::{Clock, SystemClock};

/// The store's clock: the system clock called directly (every resolve reads it), or an
/// injected one behind a trait object.
pub(super) enum StoreClock {
    System,
    Injected(Arc<dyn Clock>),
}

impl StoreClock {
    #[inline]
    pub(super) fn now(&self) -> crate::store::Timestamp {
        match self {
            StoreClock::System => SystemClock.now(),
            StoreClock::Injected(clock) => clock.now(),
        }
    }
}

/// Configures a [`MemoryStore`].
pub struct MemoryStoreBuilder {
    clock: StoreClock,
    lifetimes: Lifetimes,
}

impl MemoryStoreBuilder {
    lifetime_setters!();

    /// The clock the store reads (a [`ManualClock`](crate::store::ManualClock) in tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = StoreClock::Injected(Arc::new(clock));
        self
    }

    /// Builds the store, drawing its tag key from the OS CSPRNG.
    ///
    /// # Panics
    ///
    /// If the OS random number generator fails, as `std`'s `HashMap::new` does; on Linux that
    /// cannot happen once the kernel's pool is initialised at boot.
    pub fn build<D>(self) -> MemoryStore<D> {
        MemoryStore {
            inner: Arc::new(Inner {
                tokens: DashMap::default(),
                tagger: TokenDigest::new().expect("the OS random number generator failed"),
                users: DashMap::new(),
                user_hasher: RandomState::new(),
                clock: self.clock,
                refresh_shift: [false, true].map(|remember| self.lifetimes.refresh_shift(remember)),
                lifetimes: self.lifetimes,
            }),
        }
    }
}

impl fmt::Debug for MemoryStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStoreBuilder")
            .field("lifetimes", &self.lifetimes)
            .finish_non_exhaustive()
    }
}

impl MemoryStore<()> {
    /// A store with better-auth's defaults and the system clock.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder, to change lifetimes, the per-user cap or the clock. The app data type is
    /// chosen at [`build`](MemoryStoreBuilder::build).
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder {
            clock: StoreClock::System,
            lifetimes: Lifetimes::default(),
        }
    }
}

impl Default for MemoryStore<()> {
    fn default() -> Self {
        Self::new()
    }
}
