//! The `metrics` side: names, labels, and the handles kept per layer and per cache.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics::{Counter, Histogram, Label as Pair, Unit};

use super::{all_outcomes, index, Outcome, Resolved};

pub(super) const DECISIONS: &str = "tower_bearer.decisions";
pub(super) const RESOLVE_DURATION: &str = "tower_bearer.resolve.duration";
pub(super) const RESOLUTIONS: &str = "tower_bearer.resolutions";
pub(super) const CACHE_LOOKUPS: &str = "tower_bearer.cache.lookups";
pub(super) const CACHE_EVICTIONS: &str = "tower_bearer.cache.evictions";
pub(super) const CACHE_INVALIDATIONS: &str = "tower_bearer.cache.invalidations";
pub(super) const JWKS_FETCHES: &str = "tower_bearer.jwks.fetches";
pub(super) const JWT_ISSUER: &str = "tower_bearer.jwt_issuer";
pub(super) const REDIS_INVALIDATIONS: &str = "tower_bearer.redis.invalidations";
pub(super) const REDIS_RECONNECTS: &str = "tower_bearer.redis.reconnects";
pub(super) const REDIS_CLUSTER_CHANGES: &str = "tower_bearer.redis.cluster_changes";

/// Says what each metric means, once per recorder that asks.
pub(super) fn describe() {
    metrics::describe_counter!(
        DECISIONS,
        Unit::Count,
        "requests decided by the bearer layer"
    );
    metrics::describe_histogram!(
        RESOLVE_DURATION,
        Unit::Seconds,
        "time to resolve a token, for resolvers that wait"
    );
    metrics::describe_counter!(RESOLUTIONS, Unit::Count, "tokens resolved");
    metrics::describe_counter!(
        CACHE_LOOKUPS,
        Unit::Count,
        "lookups in a cache of resolved tokens"
    );
    metrics::describe_counter!(CACHE_EVICTIONS, Unit::Count, "entries dropped to make room");
    metrics::describe_counter!(
        CACHE_INVALIDATIONS,
        Unit::Count,
        "entries dropped by invalidation"
    );
    metrics::describe_counter!(JWKS_FETCHES, Unit::Count, "JWKS fetches");
    metrics::describe_counter!(
        JWT_ISSUER,
        Unit::Count,
        "JWTs decided by oauth::Issuers, by configured issuer"
    );
    metrics::describe_counter!(
        REDIS_INVALIDATIONS,
        Unit::Count,
        "invalidation messages applied"
    );
    metrics::describe_counter!(
        REDIS_RECONNECTS,
        Unit::Count,
        "invalidation channel reconnects"
    );
    metrics::describe_counter!(
        REDIS_CLUSTER_CHANGES,
        Unit::Count,
        "Cluster changes seen by the invalidation channel's node (each clears the cache)"
    );
}

/// A layer's counters and histograms.
#[derive(Clone, Debug)]
pub(crate) struct LayerMetrics {
    /// The `layer` label, when the layer has a name.
    name: Option<Arc<str>>,
    /// The `resolver` label: the resolver's type name, without its path and parameters.
    resolver: &'static str,
    handles: OnceLock<Handles>,
}

#[derive(Clone, Debug)]
struct Handles {
    decisions: Vec<Counter>,
    /// By [`Resolved`]: session, none, error.
    resolved: [Histogram; 3],
    resolutions: [Counter; 3],
}

impl LayerMetrics {
    pub(crate) fn new(name: Option<Arc<str>>, resolver: &'static str) -> Self {
        LayerMetrics {
            name,
            resolver,
            handles: OnceLock::new(),
        }
    }

    pub(crate) fn is_named(&self) -> bool {
        self.name.is_some()
    }

    fn labels(&self, pairs: &[(&'static str, &'static str)]) -> Vec<Pair> {
        let mut labels: Vec<Pair> = pairs.iter().map(|&(k, v)| Pair::new(k, v)).collect();
        if let Some(name) = &self.name {
            labels.push(Pair::new("layer", name.to_string()));
        }
        labels
    }

    #[inline]
    fn handles(&self) -> &Handles {
        self.handles.get_or_init(|| {
            describe();
            let decisions = all_outcomes()
                .map(|outcome| {
                    if !outcome.possible() {
                        return Counter::noop();
                    }
                    let mut pairs = vec![("outcome", outcome.as_str())];
                    pairs.extend(outcome.reason().map(|reason| ("reason", reason)));
                    metrics::counter!(DECISIONS, self.labels(&pairs))
                })
                .collect();
            let histogram = |result| {
                let pairs = [("resolver", self.resolver), ("result", result)];
                metrics::histogram!(RESOLVE_DURATION, self.labels(&pairs))
            };
            let counter = |result| {
                let pairs = [("resolver", self.resolver), ("result", result)];
                metrics::counter!(RESOLUTIONS, self.labels(&pairs))
            };
            Handles {
                decisions,
                resolved: [histogram("session"), histogram("none"), histogram("error")],
                resolutions: [counter("session"), counter("none"), counter("error")],
            }
        })
    }

    #[inline]
    pub(crate) fn decision(&self, outcome: Outcome) {
        self.handles().decisions[index(outcome)].increment(1);
    }

    /// A resolution; timed (`took`) when the resolver had to wait.
    #[inline]
    pub(crate) fn resolved(&self, result: Resolved, took: Option<Duration>) {
        let i = match result {
            Resolved::Session => 0,
            Resolved::None => 1,
            Resolved::Error => 2,
        };
        let handles = self.handles();
        handles.resolutions[i].increment(1);
        if let Some(took) = took {
            handles.resolved[i].record(took.as_secs_f64());
        }
    }
}

/// A cache's counters, labelled with its name.
#[derive(Debug)]
pub(crate) struct CacheMetrics {
    name: &'static str,
    handles: OnceLock<[Counter; 5]>,
}

#[allow(dead_code)] // each cache's user needs a subset
impl CacheMetrics {
    pub(crate) fn new(name: &'static str) -> Self {
        CacheMetrics {
            name,
            handles: OnceLock::new(),
        }
    }

    fn handles(&self) -> &[Counter; 5] {
        self.handles.get_or_init(|| {
            describe();
            let cache = self.name;
            [
                metrics::counter!(CACHE_LOOKUPS, "cache" => cache, "result" => "hit"),
                metrics::counter!(CACHE_LOOKUPS, "cache" => cache, "result" => "miss"),
                metrics::counter!(CACHE_EVICTIONS, "cache" => cache),
                metrics::counter!(CACHE_INVALIDATIONS, "cache" => cache),
                metrics::counter!(CACHE_LOOKUPS, "cache" => cache, "result" => "fenced"),
            ]
        })
    }

    #[inline]
    pub(crate) fn hit(&self) {
        self.handles()[0].increment(1);
    }

    #[inline]
    pub(crate) fn miss(&self) {
        self.handles()[1].increment(1);
    }

    /// A lookup the staleness fence turned away: the invalidation feed is not known alive.
    #[inline]
    pub(crate) fn fenced(&self) {
        self.handles()[4].increment(1);
    }

    pub(crate) fn evicted(&self, n: usize) {
        if n > 0 {
            self.handles()[2].increment(n as u64);
        }
    }

    pub(crate) fn invalidated(&self, n: usize) {
        if n > 0 {
            self.handles()[3].increment(n as u64);
        }
    }
}
