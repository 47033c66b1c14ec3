//! Nothing to use: this crate holds tower-bearer's peer benchmarks (`benches/`) and the
//! conformance vectors its signature verification is held to (`tests/`), apart from the
//! published crate so that `cargo run --example …` never compiles them.
