//! The one cache of resolved tokens, shared by every backend that keeps answers in memory:
//! [`CachedStore`](crate::store::CachedStore) and the better-auth resolvers.
//!
//! - Keys are [`Tag`]s, the keyed digest of the token: no token is held in memory.
//! - Expiry reads a monotonic clock (coarse on Linux, a few nanoseconds a read), so a wall-clock
//!   step never keeps an entry alive or kills it early. Each entry has its own deadline; callers
//!   bound it by what they know (a session's expiry, a JWT's `exp`).
//! - A generation counter guards the race between a miss and an invalidation: an answer whose
//!   lookup started before an invalidation is not kept, whatever the order of the two.
//! - A *fed* cache (one an invalidation feed keeps honest) serves hits only while the feed has
//!   shown a sign of life recently; when the feed is lost, it forgets everything.
//! - At most `max_entries`: a full cache first drops expired entries, then a tenth of the rest.
//! - An entry may also be found by an alias, a second tag for invalidations that name it another
//!   way (Redis publishes a revoked token's SHA-256, not its tag).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;

use crate::digest::{Tag, TagBuildHasher};
use crate::metrics::CacheMetrics;

/// Milliseconds on a monotonic clock: `CLOCK_MONOTONIC_COARSE` on Linux.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
pub(crate) fn now_ms() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
    ts.tv_sec as u64 * 1_000 + ts.tv_nsec as u64 / 1_000_000
}

/// Milliseconds on a monotonic clock: since the first read.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn now_ms() -> u64 {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    // Starts at one hour, so that `now - allowance` never underflows in practice.
    3_600_000
        + ORIGIN
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_millis() as u64
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) struct Cache<V> {
    entries: DashMap<Tag, Entry<V>, TagBuildHasher>,
    aliases: DashMap<Tag, Tag, TagBuildHasher>,
    max_entries: usize,
    /// Bumped by every invalidation: a lookup that started before one is not kept.
    generation: AtomicU64,
    /// Hits are served only before this instant (ms, [`now_ms`]): the feed's last sign of life
    /// plus its allowance; `u64::MAX` for a cache nothing feeds.
    alive_until: AtomicU64,
    metrics: CacheMetrics,
}

struct Entry<V> {
    value: V,
    /// Served until this instant (ms, [`now_ms`]).
    until: u64,
    alias: Option<Tag>,
}

// Each user (CachedStore, the better-auth resolvers, the JWT resolver) needs a subset: a build
// with one of their features lacks the others' calls.
#[allow(dead_code)]
impl<V: Clone> Cache<V> {
    /// A cache that is always live: its entries end by their deadlines alone. `name` is its
    /// `cache` label in the metrics.
    pub(crate) fn new(name: &'static str, max_entries: usize) -> Self {
        Cache {
            entries: DashMap::default(),
            aliases: DashMap::default(),
            max_entries,
            generation: AtomicU64::new(0),
            alive_until: AtomicU64::new(u64::MAX),
            metrics: CacheMetrics::new(name),
        }
    }

    /// A cache that serves hits only while its feed is alive (see [`Cache::alive_for`]); dead
    /// until the feed first answers.
    pub(crate) fn fed(name: &'static str, max_entries: usize) -> Self {
        let cache = Self::new(name, max_entries);
        cache.alive_until.store(0, Ordering::Release);
        cache
    }

    /// The value under `tag`, if its entry is within its deadline and the cache is live.
    #[inline]
    pub(crate) fn get(&self, tag: Tag) -> Option<V> {
        let now = now_ms();
        if now >= self.alive_until.load(Ordering::Acquire) {
            // The staleness fence: the feed has not been heard from, so no hit is trusted.
            self.metrics.fenced();
            return None;
        }
        let value = match self.entries.get(&tag) {
            Some(entry) if now < entry.until => Some(entry.value.clone()),
            _ => None,
        };
        match &value {
            Some(_) => self.metrics.hit(),
            None => self.metrics.miss(),
        }
        value
    }

    /// Where a lookup starts: hand it back to [`Cache::put`].
    pub(crate) fn start(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps `value` under `tag` (and `alias`) for `ttl`, unless an invalidation ran since
    /// `started` or the cache is not live. Whether it was kept.
    pub(crate) fn put(
        &self,
        tag: Tag,
        alias: Option<Tag>,
        value: V,
        ttl: Duration,
        started: u64,
    ) -> bool {
        let now = now_ms();
        if ttl.is_zero() || self.max_entries == 0 || now >= self.alive_until.load(Ordering::Acquire)
        {
            return false;
        }
        self.make_room(now);
        let until = now.saturating_add(millis(ttl));
        let entry = Entry {
            value,
            until,
            alias,
        };
        let replaced = self.entries.insert(tag, entry).and_then(|old| old.alias);
        if let Some(old_alias) = replaced.filter(|&old| Some(old) != alias) {
            self.aliases.remove(&old_alias);
        }
        if let Some(alias) = alias {
            self.aliases.insert(alias, tag);
        }
        // Inserted, then checked: an invalidation that ran in between is not missed, since it
        // bumps the generation before it removes.
        if self.generation.load(Ordering::Acquire) != started {
            self.remove(tag);
            return false;
        }
        true
    }

    /// Room for one more: expired entries go first, then a tenth of the rest (in the map's
    /// order, which the keyed tags make arbitrary).
    fn make_room(&self, now: u64) {
        if self.entries.len() < self.max_entries {
            return;
        }
        let aliases = &self.aliases;
        let drop_entry = |entry: &Entry<V>| {
            if let Some(alias) = entry.alias {
                aliases.remove(&alias);
            }
            false
        };
        let before = self.entries.len();
        self.entries
            .retain(|_, entry| entry.until > now || drop_entry(entry));
        let excess = self.entries.len().saturating_sub(self.max_entries * 9 / 10);
        if excess > 0 {
            let mut evicted = 0;
            self.entries.retain(|_, entry| {
                evicted += 1;
                evicted > excess || drop_entry(entry)
            });
        }
        self.metrics.evicted(before - self.entries.len());
    }

    /// Drops the entry under `tag`: whether there was one.
    fn remove(&self, tag: Tag) -> bool {
        let Some((_, entry)) = self.entries.remove(&tag) else {
            return false;
        };
        if let Some(alias) = entry.alias {
            self.aliases.remove(&alias);
        }
        true
    }

    /// Drops the entry under `tag`; a lookup under way is not kept.
    pub(crate) fn invalidate(&self, tag: Tag) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let removed = self.remove(tag);
        self.metrics.invalidated(usize::from(removed));
    }

    /// Drops the entry found by `alias`; a lookup under way is not kept.
    pub(crate) fn invalidate_alias(&self, alias: Tag) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some((_, tag)) = self.aliases.remove(&alias) {
            let removed = self.remove(tag);
            self.metrics.invalidated(usize::from(removed));
        }
    }

    /// Drops every entry whose value `stale` says so; a lookup under way is not kept.
    pub(crate) fn invalidate_where(&self, stale: impl Fn(&V) -> bool) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let aliases = &self.aliases;
        let before = self.entries.len();
        self.entries.retain(|_, entry| {
            if !stale(&entry.value) {
                return true;
            }
            if let Some(alias) = entry.alias {
                aliases.remove(&alias);
            }
            false
        });
        self.metrics
            .invalidated(before.saturating_sub(self.entries.len()));
    }

    /// Drops everything; a lookup under way is not kept.
    pub(crate) fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let before = self.entries.len();
        self.entries.clear();
        self.aliases.clear();
        self.metrics.invalidated(before);
    }

    /// The feed answered: hits may be served for `allowance` more.
    pub(crate) fn alive_for(&self, allowance: Duration) {
        let until = now_ms().saturating_add(millis(allowance));
        self.alive_until.store(until, Ordering::Release);
    }

    /// The feed is lost: no hits, and nothing kept.
    pub(crate) fn dead(&self) {
        self.alive_until.store(0, Ordering::Release);
        self.clear();
    }

    /// Whether hits are served now.
    pub(crate) fn is_live(&self) -> bool {
        now_ms() < self.alive_until.load(Ordering::Acquire)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    fn aliases(&self) -> usize {
        self.aliases.len()
    }
}

#[cfg(test)]
mod tests;
