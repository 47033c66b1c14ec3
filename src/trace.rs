//! One request's decision as operators see it: the `tower_bearer.authenticate` span (at
//! `DEBUG`, so quiet by default) and the layer's metrics (feature `metrics`).

use std::time::Instant;

use tracing::field::Empty;
use tracing::Span;

use crate::metrics::{LayerMetrics, Outcome, Resolved};

/// The span of one decision, and when its resolver started.
pub(crate) struct Trace {
    span: Span,
    /// Set when a resolver starts and something will read it: the `metrics` feature, or an
    /// enabled span.
    started: Option<Instant>,
}

impl Trace {
    /// The decision's span, with the resolver's name; its other fields come with the decision.
    #[inline]
    pub(crate) fn start(resolver: &'static str) -> Self {
        let span = tracing::debug_span!(
            "tower_bearer.authenticate",
            resolver,
            outcome = Empty,
            reason = Empty,
            duration_us = Empty,
        );
        Trace {
            span,
            started: None,
        }
    }

    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// The resolver starts now.
    #[inline]
    pub(crate) fn resolving(&mut self) {
        if cfg!(feature = "metrics") || !self.span.is_disabled() {
            self.started = Some(Instant::now());
        }
    }

    /// The resolver answered: its time goes to the histogram and the span.
    #[inline]
    pub(crate) fn resolved(&self, metrics: &LayerMetrics, result: Resolved) {
        let Some(started) = self.started else {
            return;
        };
        let took = started.elapsed();
        metrics.resolved(result, took);
        if !self.span.is_disabled() {
            self.span.record("duration_us", took.as_micros() as u64);
        }
    }

    /// What was decided.
    #[inline]
    pub(crate) fn decided(&self, metrics: &LayerMetrics, outcome: Outcome) {
        metrics.decision(outcome);
        if !self.span.is_disabled() {
            self.span.record("outcome", outcome.as_str());
            if let Some(reason) = outcome.reason() {
                self.span.record("reason", reason);
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
