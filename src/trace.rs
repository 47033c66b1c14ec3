//! One request's decision as operators see it: the `tower_bearer.authenticate` span (at
//! `DEBUG`, so quiet by default) and the layer's metrics (feature `metrics`).

#[cfg(feature = "metrics")]
use quanta::Instant;
#[cfg(not(feature = "metrics"))]
use std::time::Instant;

use tracing::field::Empty;
use tracing::level_filters::LevelFilter;
use tracing::{Level, Span};

use crate::metrics::{LayerMetrics, Outcome, Resolved};

/// The span of one decision, and when its resolver started; nothing at all when no subscriber
/// wants the span and the `metrics` feature is off, so the hit path pays one check.
pub(crate) struct Trace(Option<Active>);

struct Active {
    span: Span,
    /// Set when a resolver starts.
    started: Option<Instant>,
}

impl Trace {
    /// The decision's span, with the resolver's name; its other fields come with the decision.
    #[inline]
    pub(crate) fn start(resolver: &'static str) -> Self {
        // The global level first: one load when no subscriber wants `DEBUG`, which skips the
        // span's callsite check on the hit path (callgrind: benches/README.md).
        let span = match LevelFilter::current() >= Level::DEBUG {
            true => tracing::debug_span!(
                "tower_bearer.authenticate",
                resolver,
                outcome = Empty,
                reason = Empty,
                duration_us = Empty,
            ),
            false if cfg!(feature = "metrics") => Span::none(),
            false => return Trace(None),
        };
        Trace(Some(Active {
            span,
            started: None,
        }))
    }

    /// The span to run the resolver in: none when there is none.
    pub(crate) fn span(&self) -> Option<&Span> {
        self.0.as_ref().map(|active| &active.span)
    }

    /// The resolver has to wait, and starts now: its time is measured. (An answer at hand is
    /// counted, not timed: it takes about a hundred nanoseconds, below what a latency
    /// histogram is for, and two clock reads would cost more than the answer.)
    #[inline]
    pub(crate) fn resolving(&mut self) {
        if let Some(active) = &mut self.0 {
            active.started = Some(Instant::now());
        }
    }

    /// The resolver answered: counted, and its time (if it waited) goes to the histogram and
    /// the span.
    #[inline]
    pub(crate) fn resolved(&self, metrics: &LayerMetrics, result: Resolved) {
        let Some(Active { span, started }) = &self.0 else {
            return;
        };
        let took = started.map(|started| started.elapsed());
        metrics.resolved(result, took);
        if let (false, Some(took)) = (span.is_disabled(), took) {
            span.record("duration_us", took.as_micros() as u64);
        }
    }

    /// What was decided.
    #[inline]
    pub(crate) fn decided(&self, metrics: &LayerMetrics, outcome: Outcome) {
        let Some(Active { span, .. }) = &self.0 else {
            return;
        };
        metrics.decision(outcome);
        if !span.is_disabled() {
            span.record("outcome", outcome.as_str());
            if let Some(reason) = outcome.reason() {
                span.record("reason", reason);
            }
        }
    }
}

/// The resolver's type name without its path or generic parameters: a bounded label.
pub(crate) fn short_type_name<R>() -> &'static str {
    let full = std::any::type_name::<R>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// A resolver's reason to refuse a token, at `DEBUG` (`RUST_LOG=tower_bearer=debug`): never
/// the token, a part of one, nor a secret.
#[cfg_attr(
    not(any(
        feature = "memory-store",
        feature = "redis",
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql",
        feature = "better-auth-http"
    )),
    allow(dead_code)
)]
#[cold]
#[inline(never)]
pub(crate) fn refused(resolver: &'static str, why: &str) {
    tracing::debug!(resolver, why, "bearer: the resolver refuses the token");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(short_type_name::<String>(), "String");
        assert_eq!(short_type_name::<Vec<u8>>(), "Vec");
        assert_eq!(short_type_name::<std::sync::Arc<Vec<u8>>>(), "Arc");
    }
}
