//! Nothing to use: this crate holds tower-bearer's benchmarks (the repository's `benches/` and
//! its own), the conformance vectors its signature verification is held to, and the tests and
//! examples that need a heavy framework (tonic, rmcp, rcgen), apart from the published crate so
//! that `cargo run --example …` never compiles them.

/// The README's Rust examples, compiled as doctests so they cannot drift from the API. Here
/// rather than in the crate because its tonic client needs tonic's transport, which the crate's
/// dev-dependencies do not carry.
#[cfg(all(
    doctest,
    feature = "axum",
    feature = "tonic",
    feature = "memory-store",
    feature = "jwt"
))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
