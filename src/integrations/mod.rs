//! Framework integrations, each behind its cargo feature.
//!
//! The layer itself needs none of them: it works with any tower service, hyper included.

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;

#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub mod tonic;
