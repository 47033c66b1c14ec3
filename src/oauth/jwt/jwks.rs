//! The JWKS cache: keys fetched from an issuer, kept and refreshed so that no request waits on
//! a routine fetch, refetched when a token names a `kid` nobody has seen, and kept through an
//! outage.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::fetch::JwksFetcher;
use super::keyset::KeySet;
use crate::flight::Flights;
use crate::BoxError;

/// How the JWKS is cached and refetched.
///
/// ```
/// use std::time::Duration;
/// use tower_bearer::oauth::JwksSettings;
///
/// let settings = JwksSettings::default().cooldown(Duration::from_secs(2));
/// assert_eq!(settings.ttl, Duration::from_secs(300));
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JwksSettings {
    /// How long fetched keys are fresh when the server sends no `Cache-Control: max-age`.
    /// Default 5 minutes. A `max-age` is honoured between 30 s and 1 day.
    pub ttl: Duration,
    /// The least time between two fetches caused by unknown `kid`s (clamped to 1–30 s):
    /// a flood of made-up `kid`s costs at most one fetch per cooldown. Default 5 s.
    pub cooldown: Duration,
    /// How long one fetch may take. Default 5 s.
    pub timeout: Duration,
    /// How long keys keep verifying past their freshness while the JWKS cannot be fetched
    /// (stale-if-error). Default 1 hour; past it, tokens get `503` until a fetch succeeds.
    pub max_stale: Duration,
}

impl Default for JwksSettings {
    fn default() -> Self {
        JwksSettings {
            ttl: Duration::from_secs(300),
            cooldown: Duration::from_secs(5),
            timeout: Duration::from_secs(5),
            max_stale: Duration::from_secs(3600),
        }
    }
}

impl JwksSettings {
    /// Sets [`ttl`](Self::ttl).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }
    /// Sets [`cooldown`](Self::cooldown).
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }
    /// Sets [`timeout`](Self::timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// Sets [`max_stale`](Self::max_stale).
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }
}

/// What the last fetch left.
struct State {
    keys: Option<Arc<KeySet>>,
    /// When the keys stop being fresh.
    fresh_until: Instant,
    /// When the last fetch started: the cooldown counts from a start, so a fetch whose
    /// requests were all dropped before it ended still counts.
    last_start: Option<Instant>,
    /// Whether the last fetch that ended succeeded.
    last_ok: bool,
    /// Bumped by every fetch that ends: a request that sees it moved knows a fetch ended
    /// since it looked, and takes that fetch's result.
    generation: u64,
}

/// What a request can learn from the cache about its `kid`.
pub(crate) enum Lookup {
    /// Keys to verify with (the `kid` is among them, or the token names none).
    Keys(Arc<KeySet>),
    /// The JWKS was fetched and the `kid` is not in it: the token is refused (`401`).
    Unknown,
    /// The JWKS cannot be fetched and no key decides: `503`.
    Unavailable(BoxError),
}

/// A fetch's outcome, shared by every request that waited on it.
type Fetch = Result<Arc<KeySet>, String>;

pub(crate) struct Jwks {
    fetcher: Arc<dyn JwksFetcher>,
    settings: JwksSettings,
    state: RwLock<State>,
    /// The one fetch in flight: it runs in a task of its own, which every request that needs
    /// it waits on, so a request dropped while it waits (its client gone, the layer's
    /// `timeout`) neither cancels the fetch nor gets around the cooldown.
    fetches: Flights<(), Fetch>,
}

impl Jwks {
    pub(crate) fn new(fetcher: Arc<dyn JwksFetcher>, settings: JwksSettings) -> Arc<Self> {
        let settings = JwksSettings {
            cooldown: settings
                .cooldown
                .clamp(Duration::from_secs(1), Duration::from_secs(30)),
            ..settings
        };
        Arc::new(Jwks {
            fetcher,
            settings,
            state: RwLock::new(State {
                keys: None,
                fresh_until: Instant::now(),
                last_start: None,
                last_ok: false,
                generation: 0,
            }),
            fetches: Flights::new(),
        })
    }

    /// Keys that can decide a token with this `kid` now, without waiting: the cached set when
    /// it holds the `kid` (or the token names none) and is not past its stale bound. Starts a
    /// background refresh when the keys are due.
    pub(crate) fn at_hand(self: &Arc<Self>, kid: Option<&str>) -> Option<Arc<KeySet>> {
        let now = Instant::now();
        let (keys, due) = {
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            let keys = state.keys.as_ref()?;
            if now >= state.fresh_until + self.settings.max_stale {
                return None;
            }
            let usable = kid.is_none_or(|kid| keys.has_kid(kid));
            // Ahead of expiry (the last fifth of the freshness), or past it, and no fetch
            // started within the cooldown: refresh in the background; the request is decided
            // by the keys at hand.
            let ttl_left = state.fresh_until.saturating_duration_since(now);
            let due = ttl_left <= self.settings.ttl / 5 && !self.cooling(&state, now);
            (usable.then(|| keys.clone()), due)
        };
        if due {
            // Started now, and left to run: nobody waits on a background refresh.
            drop(self.refetch(self.generation(), "refresh"));
        }
        keys
    }

    fn cooling(&self, state: &State, now: Instant) -> bool {
        state
            .last_start
            .is_some_and(|at| now.saturating_duration_since(at) < self.settings.cooldown)
    }

    fn generation(&self) -> u64 {
        self.state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .generation
    }

    /// Decides what a token with this `kid` can be verified with, fetching when the keys at
    /// hand cannot decide it: one fetch at a time, shared by every request waiting on it, and
    /// at most one per cooldown.
    pub(crate) async fn lookup(self: &Arc<Self>, kid: Option<&str>) -> Lookup {
        if let Some(keys) = self.at_hand(kid) {
            return Lookup::Keys(keys);
        }
        let (seen, cause) = {
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            let cause = match &state.keys {
                None => "initial",
                Some(keys) if kid.is_some_and(|kid| !keys.has_kid(kid)) => "unknown_kid",
                Some(_) => "expired",
            };
            (state.generation, cause)
        };
        match self.refetch(seen, cause).await {
            Ok(keys) => match kid.is_none_or(|kid| keys.has_kid(kid)) {
                true => Lookup::Keys(keys),
                false => Lookup::Unknown,
            },
            Err(error) => Lookup::Unavailable(error.into()),
        }
    }

    /// Joins the fetch in flight, or starts one, unless one ended since `seen` (then its
    /// result) or one started within the cooldown (then the last result: the keys after a
    /// success, an error after a failure). Background refreshes obey the cooldown too, so an
    /// outage is not met with a fetch per request. The fetch starts before the returned
    /// future is polled, and runs to its end whether or not anyone waits for it.
    fn refetch(
        self: &Arc<Self>,
        seen: u64,
        cause: &'static str,
    ) -> impl std::future::Future<Output = Fetch> + Send + use<> {
        let fetch = self.fetches.join_or((), || {
            let now = Instant::now();
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            if state.generation != seen || self.cooling(&state, now) {
                return Err(match (&state.keys, state.last_ok) {
                    (Some(keys), true) => Ok(keys.clone()),
                    _ => Err("the JWKS could not be fetched (within the cooldown)".to_owned()),
                });
            }
            // Recorded as it starts, so no dropped request can skip the cooldown.
            state.last_start = Some(now);
            Ok(self.clone().fetch(cause))
        });
        async move {
            fetch
                .await
                .unwrap_or_else(|| Err("the JWKS fetch was lost".to_owned()))
        }
    }

    /// One fetch, and what it leaves in the state; run in a task of its own.
    async fn fetch(self: Arc<Self>, cause: &'static str) -> Fetch {
        let fetched = tokio::time::timeout(self.settings.timeout, self.fetcher.fetch()).await;
        let parsed = match fetched {
            Ok(Ok(fetched)) => KeySet::from_jwks(&fetched.body)
                .map(|keys| (keys, fetched.max_age))
                .map_err(|e| e.to_string()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("the JWKS fetch timed out".to_owned()),
        };
        crate::metrics::jwks_fetch(cause, parsed.is_ok());
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        let ended = Instant::now();
        state.generation += 1;
        state.last_ok = parsed.is_ok();
        match parsed {
            Ok((keys, max_age)) => {
                let ttl = max_age.map_or(self.settings.ttl, |age| {
                    age.clamp(Duration::from_secs(30), Duration::from_secs(86_400))
                });
                let keys = Arc::new(keys);
                state.keys = Some(keys.clone());
                state.fresh_until = ended + ttl;
                Ok(keys)
            }
            Err(error) => {
                tracing::warn!(error = %error, "bearer: the JWKS could not be fetched");
                Err(error)
            }
        }
    }
}
