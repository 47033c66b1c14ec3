//! The JOSE matrix's helpers, shared by `tests/jwt.rs` and peers' `jwt_https.rs`: tokens
//! signed by panva's `jose` (`tests/interop/jose-tokens.mjs`), and a resolution that checks
//! `resolve_ready` and `resolve` agree.

use std::sync::Arc;

use serde_json::Value;
use tower_bearer::oauth::{Claims, JwtResolver};
use tower_bearer::{BearerToken, SessionResolver};

use super::node;

/// `node tests/interop/jose-tokens.mjs ALG…` with `KID_PREFIX`.
pub fn jose(kid_prefix: &str, algs: &[&str]) -> Value {
    node::ensure_packages();
    let output = std::process::Command::new("node")
        .arg(node::interop_dir().join("jose-tokens.mjs"))
        .args(algs)
        .env("KID_PREFIX", kid_prefix)
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

pub fn token(case: &Value) -> BearerToken<'_> {
    BearerToken::new(case["token"].as_str().unwrap())
}

pub async fn resolve(resolver: &JwtResolver, token: BearerToken<'_>) -> Option<Arc<Claims>> {
    let ready = resolver.resolve_ready(token).map(|a| a.unwrap());
    let waited = resolver.resolve(token).await.unwrap();
    if let Some(ready) = &ready {
        assert_eq!(
            ready.is_some(),
            waited.is_some(),
            "resolve_ready and resolve agree"
        );
    }
    waited
}

/// The first case's token: a valid one.
pub fn first_valid(doc: &Value) -> BearerToken<'_> {
    token(&doc["cases"][0])
}
