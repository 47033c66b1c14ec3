//! A short-lived local cache of resolved sessions, positive and negative, for the resolvers
//! that cross the network ([`HttpResolver`](super::HttpResolver),
//! [`RedisStorageResolver`](super::RedisStorageResolver)).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use dashmap::DashMap;

use super::model::expired;
use super::BetterAuthSession;

/// How long answers are kept, and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheSettings {
    /// How long a live session is served from memory: the longest a revocation can go unseen
    /// when nothing invalidates entries. Never past the session's own expiry.
    pub positive: Duration,
    /// How long an unknown token is remembered as unknown.
    pub negative: Duration,
    /// At most this many tokens are held.
    pub max_entries: usize,
}

impl Default for CacheSettings {
    /// 5 s positive and negative, 100,000 entries.
    fn default() -> Self {
        CacheSettings {
            positive: Duration::from_secs(5),
            negative: Duration::from_secs(5),
            max_entries: 100_000,
        }
    }
}

pub(crate) struct Cache {
    entries: DashMap<String, Entry>,
    settings: CacheSettings,
    /// Bumped by every invalidation: a lookup that started before one is not cached.
    generation: AtomicU64,
    /// Hits are served only before this instant (milliseconds since `origin`): the invalidation
    /// feed's last sign of life, plus its allowance. `u64::MAX` when nothing feeds it.
    alive_until: AtomicU64,
    origin: Instant,
}

struct Entry {
    value: Option<BetterAuthSession>,
    until: Instant,
}

impl Cache {
    pub(crate) fn new(settings: CacheSettings) -> Self {
        Cache {
            entries: DashMap::new(),
            settings,
            generation: AtomicU64::new(0),
            alive_until: AtomicU64::new(u64::MAX),
            origin: Instant::now(),
        }
    }

    /// A cache whose hits need an invalidation feed that is alive (see [`Cache::alive_for`]).
    pub(crate) fn fed(settings: CacheSettings) -> Self {
        let cache = Self::new(settings);
        cache.alive_until.store(0, Ordering::Release);
        cache
    }

    /// `Some(answer)` on a hit, `None` on a miss.
    pub(crate) fn get(&self, key: &str) -> Option<Option<BetterAuthSession>> {
        let now = Instant::now();
        if self.millis(now) >= self.alive_until.load(Ordering::Acquire) {
            return None;
        }
        let entry = self.entries.get(key)?;
        if entry.until <= now {
            return None;
        }
        match &entry.value {
            Some(found) if expired(&found.session, SystemTime::now()) => None,
            value => Some(value.clone()),
        }
    }

    /// The generation to hand back to [`Cache::put`].
    pub(crate) fn start(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps an answer, unless something was invalidated since the lookup began.
    pub(crate) fn put(&self, key: &str, value: Option<BetterAuthSession>, started: u64) {
        let now = Instant::now();
        let ttl = match value {
            Some(_) => self.settings.positive,
            None => self.settings.negative,
        };
        if ttl.is_zero() {
            return;
        }
        if self.entries.len() >= self.settings.max_entries {
            self.entries.retain(|_, e| e.until > now);
            if self.entries.len() >= self.settings.max_entries {
                self.entries.clear();
            }
        }
        let entry = Entry {
            value,
            until: now + ttl,
        };
        self.entries.insert(key.to_owned(), entry);
        // Inserted, then checked: an invalidation that ran in between is not missed.
        if self.generation.load(Ordering::Acquire) != started {
            self.entries.remove(key);
        }
    }

    pub(crate) fn remove(&self, key: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.remove(key);
    }

    /// Drops every entry of one user.
    pub(crate) fn remove_user(&self, user_id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.retain(|_, e| {
            e.value
                .as_ref()
                .is_none_or(|found| found.session.user_id != user_id)
        });
    }

    pub(crate) fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
    }

    /// The feed answered: hits may be served for `allowance` more.
    pub(crate) fn alive_for(&self, allowance: Duration) {
        let until = self.millis(Instant::now()) + allowance.as_millis() as u64;
        self.alive_until.store(until, Ordering::Release);
    }

    /// The feed is lost: no hits, and nothing kept.
    pub(crate) fn dead(&self) {
        self.alive_until.store(0, Ordering::Release);
        self.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn millis(&self, now: Instant) -> u64 {
        now.duration_since(self.origin).as_millis() as u64
    }
}
