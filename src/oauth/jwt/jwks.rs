//! The JWKS cache: keys fetched from an issuer, kept and refreshed so that no request waits on
//! a routine fetch, refetched when a token names a `kid` nobody has seen, and kept through an
//! outage.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::fetch::JwksFetcher;
use super::keyset::KeySet;
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
    /// When the last fetch (successful or not) ended, and whether it succeeded.
    last_attempt: Option<(Instant, bool)>,
    /// Bumped by every fetch: a waiter that sees it moved knows a fetch ended meanwhile.
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

pub(crate) struct Jwks {
    fetcher: Arc<dyn JwksFetcher>,
    settings: JwksSettings,
    state: RwLock<State>,
    /// Held by the one fetch in flight: concurrent requests share it.
    flight: tokio::sync::Mutex<()>,
    refreshing: AtomicBool,
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
                last_attempt: None,
                generation: 0,
            }),
            flight: tokio::sync::Mutex::new(()),
            refreshing: AtomicBool::new(false),
        })
    }

    /// Keys that can decide a token with this `kid` now, without waiting: the cached set when
    /// it holds the `kid` (or the token names none) and is not past its stale bound. Starts a
    /// background refresh when the keys are due.
    pub(crate) fn at_hand(self: &Arc<Self>, kid: Option<&str>) -> Option<Arc<KeySet>> {
        let now = Instant::now();
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let keys = state.keys.as_ref()?;
        if now >= state.fresh_until + self.settings.max_stale {
            return None;
        }
        let usable = kid.is_none_or(|kid| keys.has_kid(kid));
        // Ahead of expiry (the last fifth of the freshness), or past it: refresh in the
        // background; the request is decided by the keys at hand.
        let ttl_left = state.fresh_until.saturating_duration_since(now);
        if ttl_left <= self.settings.ttl / 5 {
            self.refresh_in_background();
        }
        usable.then(|| keys.clone())
    }

    fn refresh_in_background(self: &Arc<Self>) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.refreshing.store(false, Ordering::Release);
            return;
        };
        let jwks = self.clone();
        runtime.spawn(async move {
            let generation = jwks.generation();
            let _ = jwks.refetch(generation, "refresh").await;
            jwks.refreshing.store(false, Ordering::Release);
        });
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
            Err(error) => Lookup::Unavailable(error),
        }
    }

    /// A fetch, unless one ended since `seen` (then its result) or the cooldown forbids it
    /// (then the last result: the keys after a success, an error after a failure). Background
    /// refreshes obey the cooldown too, so an outage is not met with a fetch per request.
    async fn refetch(&self, seen: u64, cause: &'static str) -> Result<Arc<KeySet>, BoxError> {
        let _flight = self.flight.lock().await;
        let now = Instant::now();
        {
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            let recent = state
                .last_attempt
                .filter(|(at, _)| now.saturating_duration_since(*at) < self.settings.cooldown);
            if state.generation != seen || recent.is_some() {
                let succeeded = state.last_attempt.is_some_and(|(_, ok)| ok);
                return match (&state.keys, succeeded) {
                    (Some(keys), true) => Ok(keys.clone()),
                    _ => Err("the JWKS could not be fetched (within the cooldown)".into()),
                };
            }
        }
        let fetched = tokio::time::timeout(self.settings.timeout, self.fetcher.fetch()).await;
        let parsed = match fetched {
            Ok(Ok(fetched)) => KeySet::from_jwks(&fetched.body)
                .map(|keys| (keys, fetched.max_age))
                .map_err(BoxError::from),
            Ok(Err(error)) => Err(error),
            Err(_) => Err("the JWKS fetch timed out".into()),
        };
        crate::metrics::jwks_fetch(cause, parsed.is_ok());
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        let ended = Instant::now();
        state.generation += 1;
        match parsed {
            Ok((keys, max_age)) => {
                let ttl = max_age.map_or(self.settings.ttl, |age| {
                    age.clamp(Duration::from_secs(30), Duration::from_secs(86_400))
                });
                let keys = Arc::new(keys);
                state.keys = Some(keys.clone());
                state.fresh_until = ended + ttl;
                state.last_attempt = Some((ended, true));
                Ok(keys)
            }
            Err(error) => {
                tracing::warn!(error = %error, "bearer: the JWKS could not be fetched");
                state.last_attempt = Some((ended, false));
                Err(error)
            }
        }
    }
}
