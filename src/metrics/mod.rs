//! What the layer and its caches count, over the `metrics` facade (feature `metrics`): every
//! function here compiles to nothing without the feature.
//!
//! Handles are registered once (on first use, with the recorder installed then) and kept, so a
//! request pays an atomic add per counter, not a registry lookup.

use crate::rejection::reason::Reason;

/// What the layer did with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Authenticated,
    /// Passed without a session; the reason it had none.
    Anonymous(Label),
    Rejected(Label),
    Exempt,
    Preflight,
}

/// The `reason` label of a refusal: bounded, and never the token or the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Label {
    Missing,
    Malformed,
    TooLong,
    InvalidToken,
    InsufficientScope,
    Unavailable,
    Timeout,
    UntrustedOrigin,
    InsufficientUserAuthentication,
    TooManyRequests,
}

impl Label {
    const COUNT: usize = 10;

    pub(crate) fn of(reason: Reason) -> Self {
        match reason {
            Reason::Missing => Label::Missing,
            Reason::Empty
            | Reason::Grammar
            | Reason::Repeated
            | Reason::Methods
            | Reason::QueryMethod => Label::Malformed,
            Reason::TooLong => Label::TooLong,
            Reason::Unknown => Label::InvalidToken,
            Reason::UntrustedOrigin => Label::UntrustedOrigin,
        }
    }

    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    fn as_str(self) -> &'static str {
        match self {
            Label::Missing => "missing",
            Label::Malformed => "malformed",
            Label::TooLong => "too_long",
            Label::InvalidToken => "invalid_token",
            Label::InsufficientScope => "insufficient_scope",
            Label::Unavailable => "unavailable",
            Label::Timeout => "timeout",
            Label::UntrustedOrigin => "untrusted_origin",
            Label::InsufficientUserAuthentication => "insufficient_user_authentication",
            Label::TooManyRequests => "too_many_requests",
        }
    }
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Authenticated => "authenticated",
            Outcome::Anonymous(_) => "anonymous",
            Outcome::Rejected(_) => "rejected",
            Outcome::Exempt => "exempt",
            Outcome::Preflight => "preflight",
        }
    }

    /// Whether a layer can decide this: a failing backend, a timeout and a refused scope are
    /// never anonymous. The others get a series each, zero until counted.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn possible(self) -> bool {
        !matches!(
            self,
            Outcome::Anonymous(
                Label::InsufficientScope
                    | Label::Unavailable
                    | Label::Timeout
                    | Label::TooManyRequests
            )
        )
    }

    pub(crate) fn reason(self) -> Option<&'static str> {
        match self {
            Outcome::Anonymous(label) | Outcome::Rejected(label) => Some(label.as_str()),
            _ => None,
        }
    }
}

/// What a resolver answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    Session,
    None,
    Error,
}

#[cfg(feature = "metrics")]
mod on;
#[cfg(feature = "metrics")]
#[cfg_attr(
    not(any(
        feature = "redis",
        feature = "better-auth",
        feature = "jwt",
        feature = "introspection"
    )),
    allow(unused_imports)
)]
pub(crate) use on::{CacheMetrics, LayerMetrics};

/// Without the feature: nothing to keep, nothing to count.
#[cfg(not(feature = "metrics"))]
#[derive(Clone, Debug, Default)]
pub(crate) struct LayerMetrics;

#[cfg(not(feature = "metrics"))]
impl LayerMetrics {
    /// A layer named for its metrics, in a build that has none: said once, at `WARN`, as an
    /// app that installs a recorder would otherwise scrape an empty page forever.
    pub(crate) fn new(name: Option<std::sync::Arc<str>>, _: &'static str) -> Self {
        if let Some(name) = name {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                tracing::warn!(
                    layer = &*name,
                    "bearer: BearerLayer::name is for metrics, and tower-bearer is built without \
                     its `metrics` feature: nothing is counted, a recorder shows no \
                     tower_bearer series. Enable it: tower-bearer = {{ features = [\"metrics\"] }}"
                );
            });
        }
        LayerMetrics
    }

    pub(crate) fn is_named(&self) -> bool {
        false
    }

    #[inline(always)]
    pub(crate) fn decision(&self, _: Outcome) {}

    #[inline(always)]
    pub(crate) fn resolved(&self, _: Resolved, _: Option<std::time::Duration>) {}
}

#[cfg(not(feature = "metrics"))]
#[derive(Debug, Default)]
pub(crate) struct CacheMetrics;

#[cfg(not(feature = "metrics"))]
#[allow(dead_code)]
impl CacheMetrics {
    pub(crate) fn new(_: &'static str) -> Self {
        CacheMetrics
    }
    #[inline(always)]
    pub(crate) fn hit(&self) {}
    #[inline(always)]
    pub(crate) fn miss(&self) {}
    #[inline(always)]
    pub(crate) fn fenced(&self) {}
    #[inline(always)]
    pub(crate) fn evicted(&self, _: usize) {}
    #[inline(always)]
    pub(crate) fn invalidated(&self, _: usize) {}
}

/// One fetch of a JWKS: why (`startup`, `refresh`, `unknown_kid`) and whether it worked.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
#[allow(dead_code)]
pub(crate) fn jwks_fetch(cause: &'static str, ok: bool) {
    #[cfg(feature = "metrics")]
    metrics::counter!(
        on::JWKS_FETCHES,
        "cause" => cause,
        "result" => if ok { "ok" } else { "error" }
    )
    .increment(1);
}

/// A route's refusal (`require(…)`'s `403`) of a session an unnamed layer authenticated: the
/// layer's own `rejected`/`insufficient_scope` series, which has no `layer` label.
#[allow(dead_code)]
pub(crate) fn route_refused() {
    #[cfg(feature = "metrics")]
    metrics::counter!(
        on::DECISIONS,
        "outcome" => "rejected",
        "reason" => "insufficient_scope"
    )
    .increment(1);
}

/// One DPoP proof checked by a `DpopLayer`: `accepted`, `invalid`, `replayed`, `nonce` (a
/// `use_dpop_nonce` answer) or `unavailable` (the replay store failed).
#[allow(dead_code)]
pub(crate) fn dpop_proof(result: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("tower_bearer.dpop_proofs", "result" => result).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = result;
}

/// What `oauth::Issuers` did with a token, counted per issuer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)]
pub(crate) enum IssuerResult {
    Accepted,
    Refused,
    Error,
}

/// The counters of one issuer of an `oauth::Issuers`: the `issuer` label is one of the
/// configured list (or `unknown`, see [`jwt_issuer_unknown`]), never a token's own `iss`.
#[derive(Debug)]
#[allow(dead_code)]
pub(crate) struct IssuerMetrics {
    #[cfg(feature = "metrics")]
    issuer: String,
    #[cfg(feature = "metrics")]
    handles: std::sync::OnceLock<[metrics::Counter; 3]>,
}

#[allow(dead_code)]
impl IssuerMetrics {
    pub(crate) fn new(issuer: &str) -> Self {
        #[cfg(not(feature = "metrics"))]
        let _ = issuer;
        IssuerMetrics {
            #[cfg(feature = "metrics")]
            issuer: issuer.to_owned(),
            #[cfg(feature = "metrics")]
            handles: std::sync::OnceLock::new(),
        }
    }

    #[inline]
    pub(crate) fn count(&self, result: IssuerResult) {
        #[cfg(feature = "metrics")]
        {
            let handles = self.handles.get_or_init(|| {
                on::describe();
                let counter = |result: &'static str| {
                    metrics::counter!(
                        on::JWT_ISSUER,
                        "issuer" => self.issuer.clone(),
                        "result" => result
                    )
                };
                [counter("accepted"), counter("refused"), counter("error")]
            });
            handles[result as usize].increment(1);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = result;
    }
}

/// `oauth::Issuers` refused a token whose `iss` is not on its list (or that has none).
#[allow(dead_code)]
pub(crate) fn jwt_issuer_unknown() {
    #[cfg(feature = "metrics")]
    metrics::counter!(on::JWT_ISSUER, "issuer" => "unknown", "result" => "refused").increment(1);
}

/// Redis: an invalidation message applied to a local cache.
#[allow(dead_code)]
pub(crate) fn redis_invalidation() {
    #[cfg(feature = "metrics")]
    metrics::counter!(on::REDIS_INVALIDATIONS).increment(1);
}

/// Redis: the invalidation channel's connection was made again.
#[allow(dead_code)]
pub(crate) fn redis_reconnect() {
    #[cfg(feature = "metrics")]
    metrics::counter!(on::REDIS_RECONNECTS).increment(1);
}

/// Redis: the Cluster as the invalidation channel's node sees it changed (a failover, a node
/// lost or back), and the cache forgot everything.
#[allow(dead_code)]
pub(crate) fn redis_cluster_change() {
    #[cfg(feature = "metrics")]
    metrics::counter!(on::REDIS_CLUSTER_CHANGES).increment(1);
}

/// The outcome index of a decision in a layer's table of counters.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
fn index(outcome: Outcome) -> usize {
    match outcome {
        Outcome::Authenticated => 0,
        Outcome::Exempt => 1,
        Outcome::Preflight => 2,
        Outcome::Anonymous(label) => 3 + label as usize,
        Outcome::Rejected(label) => 3 + Label::COUNT + label as usize,
    }
}

/// Every outcome, in [`index`] order.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
fn all_outcomes() -> impl Iterator<Item = Outcome> {
    const LABELS: [Label; Label::COUNT] = [
        Label::Missing,
        Label::Malformed,
        Label::TooLong,
        Label::InvalidToken,
        Label::InsufficientScope,
        Label::Unavailable,
        Label::Timeout,
        Label::UntrustedOrigin,
        Label::InsufficientUserAuthentication,
        Label::TooManyRequests,
    ];
    [Outcome::Authenticated, Outcome::Exempt, Outcome::Preflight]
        .into_iter()
        .chain(LABELS.map(Outcome::Anonymous))
        .chain(LABELS.map(Outcome::Rejected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_indexed_in_order() {
        for (i, outcome) in all_outcomes().enumerate() {
            assert_eq!(index(outcome), i, "{outcome:?}");
        }
        assert_eq!(all_outcomes().count(), 3 + 2 * Label::COUNT);
    }

    /// Without the feature, naming a layer (which only metrics read) warns, once.
    #[cfg(not(feature = "metrics"))]
    #[test]
    fn a_named_layer_without_the_feature_warns_once() {
        #[derive(Clone, Default)]
        struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            LayerMetrics::new(Some("api".into()), "MemoryStore");
            LayerMetrics::new(Some("admin".into()), "MemoryStore");
            LayerMetrics::new(None, "MemoryStore");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text.matches("without its `metrics` feature").count(),
            1,
            "{text}"
        );
        assert!(text.contains("WARN"), "{text}");
        assert!(text.contains("layer=\"api\""), "{text}");
    }
}
