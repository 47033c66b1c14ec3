//! Framework integrations, each behind its cargo feature.
//!
//! The layer itself needs none of them: it works with any tower service, hyper included.

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;

#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub mod tonic;

/// Put into the extensions of requests the layer let through without a session (optional
/// mode, skipped paths, preflights), so extractors can tell "anonymous" from "no layer".
#[derive(Clone, Copy, Debug)]
pub(crate) struct Anonymous;
