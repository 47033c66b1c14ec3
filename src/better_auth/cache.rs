//! The better-auth resolvers' view of the crate's one [cache](crate::cache): answers keyed by
//! the token's digest, positive and negative, for the resolvers that cross the network or a
//! database ([`HttpResolver`](super::HttpResolver),
//! [`RedisStorageResolver`](super::RedisStorageResolver), [`SqlResolver`](super::SqlResolver)).

use std::time::{Duration, SystemTime};

use super::model::expired;
use super::BetterAuthSession;
use crate::cache;
use crate::digest::{Tag, TokenDigest};

/// How long answers are kept, and how many.
///
/// ```
/// use std::time::Duration;
/// use tower_bearer::better_auth::CacheSettings;
///
/// let settings = CacheSettings::default()
///     .positive(Duration::from_secs(2))
///     .negative(Duration::from_secs(1))
///     .max_entries(10_000);
/// assert_eq!(settings.positive, Duration::from_secs(2));
/// ```
#[non_exhaustive]
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

impl CacheSettings {
    /// Sets [`positive`](Self::positive).
    pub fn positive(mut self, ttl: Duration) -> Self {
        self.positive = ttl;
        self
    }

    /// Sets [`negative`](Self::negative).
    pub fn negative(mut self, ttl: Duration) -> Self {
        self.negative = ttl;
        self
    }

    /// Sets [`max_entries`](Self::max_entries).
    pub fn max_entries(mut self, max: usize) -> Self {
        self.max_entries = max;
        self
    }
}

pub(crate) struct Cache {
    cache: cache::Cache<Option<BetterAuthSession>>,
    digest: TokenDigest,
    settings: CacheSettings,
}

// Each resolver uses a subset: a build with one backend's feature lacks the others' calls.
#[allow(dead_code)]
impl Cache {
    /// A cache whose entries end by their deadlines alone; `name` labels its metrics.
    pub(crate) fn new(name: &'static str, settings: CacheSettings) -> Self {
        Self::over(cache::Cache::new(name, settings.max_entries), settings)
    }

    /// A cache whose hits need an invalidation feed that is alive (see [`Cache::alive_for`]).
    pub(crate) fn fed(name: &'static str, settings: CacheSettings) -> Self {
        Self::over(cache::Cache::fed(name, settings.max_entries), settings)
    }

    fn over(cache: cache::Cache<Option<BetterAuthSession>>, settings: CacheSettings) -> Self {
        Cache {
            cache,
            // As `HashMap::new`: the OS random source does not fail once the kernel's pool is
            // initialised at boot.
            digest: TokenDigest::new().expect("the OS random number generator failed"),
            settings,
        }
    }

    /// The key of `token`'s entry, for work keyed like the cache (a call in flight).
    pub(crate) fn tag(&self, token: &str) -> Tag {
        self.digest.tag(token.as_bytes())
    }

    /// `Some(answer)` on a hit, `None` on a miss.
    pub(crate) fn get(&self, token: &str) -> Option<Option<BetterAuthSession>> {
        match self.cache.get(self.digest.tag(token.as_bytes()))? {
            Some(found) if expired(&found.session, SystemTime::now()) => None,
            value => Some(value),
        }
    }

    /// The generation to hand back to [`Cache::put`].
    pub(crate) fn start(&self) -> u64 {
        self.cache.start()
    }

    /// Keeps an answer, unless something was invalidated since the lookup began; a live
    /// session never past its own expiry.
    pub(crate) fn put(&self, token: &str, value: Option<BetterAuthSession>, started: u64) {
        let ttl = match &value {
            Some(found) => {
                let left = found
                    .session
                    .expires_at
                    .duration_since(SystemTime::now())
                    .unwrap_or_default();
                self.settings.positive.min(left)
            }
            None => self.settings.negative,
        };
        let tag = self.digest.tag(token.as_bytes());
        self.cache.put(tag, None, value, ttl, started);
    }

    pub(crate) fn remove(&self, token: &str) {
        self.cache.invalidate(self.digest.tag(token.as_bytes()));
    }

    /// Drops every entry of one user.
    pub(crate) fn remove_user(&self, user_id: &str) {
        self.cache.invalidate_where(|value| {
            value
                .as_ref()
                .is_some_and(|found| found.session.user_id == user_id)
        });
    }

    pub(crate) fn clear(&self) {
        self.cache.clear();
    }

    /// The feed answered: hits may be served for `allowance` more.
    pub(crate) fn alive_for(&self, allowance: Duration) {
        self.cache.alive_for(allowance);
    }

    /// The feed is lost: no hits, and nothing kept.
    pub(crate) fn dead(&self) {
        self.cache.dead();
    }

    pub(crate) fn len(&self) -> usize {
        self.cache.len()
    }

    pub(crate) fn is_live(&self) -> bool {
        self.cache.is_live()
    }
}
