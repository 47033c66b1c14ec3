//! The API-key mode (`--api-keys`): better-auth's API keys, read from `x-api-key` (or the
//! `--api-key-header`s) and verified in its database (`--database`) or its Redis secondary
//! storage (`--redis`), exactly as better-auth verifies them, counters included. `GET /api/data`
//! answers `{"keyId", "referenceId", "permissions"}`.

use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tower_bearer::better_auth::{ApiKey, ApiKeyResolver};
use tower_bearer::integrations::axum::Authenticated;
use tower_bearer::{ApiKeyHeader, BearerLayer};

use crate::{checked, Args, Backend};

/// The app for `--api-keys`.
pub(crate) async fn app(args: &Args) -> Result<Router, String> {
    let builder = ApiKeyResolver::builder().prefix(&args.redis_prefix);
    let resolver = match &args.backend {
        #[cfg(any(
            feature = "better-auth-postgres",
            feature = "better-auth-sqlite",
            feature = "better-auth-mysql"
        ))]
        Backend::Database(url) => builder
            .connect_database(url)
            .await
            .map_err(|e| format!("--database: {e}"))?,
        #[cfg(feature = "better-auth-redis")]
        Backend::Redis(url) => builder
            .connect_storage(url)
            .await
            .map_err(|e| format!("--redis: {e}"))?,
        #[allow(unreachable_patterns)]
        _ => return Err("--api-keys needs --database URL or --redis URL".into()),
    };
    checked(resolver.ping().await);
    let header = header(&args.api_key_headers)?;
    let auth = BearerLayer::new(resolver)
        .realm("api")
        .api_key_header(header)
        .timeout(Duration::from_secs(5));
    Ok(Router::new().route("/api/data", get(data)).layer(auth))
}

/// `x-api-key`, or the names given, in their order.
fn header(names: &[String]) -> Result<ApiKeyHeader, String> {
    let parse = |name: &String| {
        http::HeaderName::try_from(name.as_str())
            .map_err(|_| format!("--api-key-header: {name:?} is not a header name"))
    };
    let Some((first, rest)) = names.split_first() else {
        return Ok(ApiKeyHeader::default());
    };
    let mut header = ApiKeyHeader::named(parse(first)?);
    for name in rest {
        header = header.or(parse(name)?);
    }
    Ok(header)
}

/// The key's id, owner and permissions, as better-auth stores them.
async fn data(Authenticated(key): Authenticated<ApiKey>) -> Json<Value> {
    Json(json!({
        "keyId": key.id,
        "referenceId": key.reference_id,
        "permissions": key.permissions,
    }))
}
