//! Framework integrations, each behind its feature.
