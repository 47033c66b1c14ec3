//! The OAuth modes: JWTs verified against a JWKS (`--jwks-url`, `--issuer-url`) or opaque
//! tokens checked at an RFC 7662 endpoint (`--introspection-url`), and in either, DPoP
//! (`--dpop allowed|required`): `GET /api/data` answers the token's claims, and the proof's key
//! thumbprint in `x-dpop-thumbprint` when it came with one.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::Value;
use tower_bearer::integrations::axum::Authenticated;
use tower_bearer::oauth::{Claims, IntrospectionResolver, JwtResolver};
use tower_bearer::{BearerLayer, BoxResolver};

use crate::{Args, Backend};

/// DPoP's settings from the command line.
#[derive(Default)]
pub(crate) struct DpopArgs {
    /// `allowed` or `required`.
    pub(crate) mode: Option<String>,
    pub(crate) nonce: bool,
    pub(crate) replay_redis: Option<String>,
    pub(crate) origin: Option<String>,
}

/// The app for an OAuth mode; `None` in the better-auth session modes.
pub(crate) async fn app(args: &Args) -> Option<Result<Router, String>> {
    let resolver = match &args.backend {
        Backend::Jwks(url) | Backend::Discovery(url) => jwt(args, url),
        Backend::Introspection(url) => introspection(args, url),
        Backend::OAuthResource(resource) => return Some(provider(args, resource).await),
        _ => return None,
    };
    Some(build(args, resolver).await)
}

fn jwt(args: &Args, url: &str) -> Result<BoxResolver<Arc<Claims>>, String> {
    let mut builder = JwtResolver::<serde_json::Map<String, Value>>::builder();
    if let Some(issuer) = &args.issuer {
        builder = builder.issuer(issuer);
    }
    if let Some(audience) = &args.audience {
        builder = builder.audience(audience);
    }
    let resolver = match args.backend {
        Backend::Discovery(_) => builder.issuer_url(url),
        _ => builder.jwks_url(url),
    };
    resolver
        .map(BoxResolver::new)
        .map_err(|e| format!("{url}: {e}"))
}

fn introspection(args: &Args, url: &str) -> Result<BoxResolver<Arc<Claims>>, String> {
    let mut builder = IntrospectionResolver::builder(url);
    if let Some(issuer) = &args.issuer {
        builder = builder.issuer(issuer);
    }
    if let Some(audience) = &args.audience {
        builder = builder.audience(audience);
    }
    if let (Some(id), Some(secret)) = (&args.client_id, &args.client_secret) {
        builder = builder.client_basic(id, secret);
    }
    builder
        .build()
        .map(BoxResolver::new)
        .map_err(|e| format!("--introspection-url: {e}"))
}

/// `--oauth-resource`: better-auth's OAuth provider's tokens for `resource`, with its metadata
/// served and named in the challenges.
async fn provider(args: &Args, resource: &str) -> Result<Router, String> {
    let issuer = args.issuer.as_deref().ok_or(
        "--oauth-resource needs --issuer: better-auth's issuer (its base URL and /api/auth)",
    )?;
    let provider = tower_bearer::oauth::BetterAuthProvider::new(issuer, resource)
        .map_err(|e| format!("--oauth-resource: {e}"))?;
    let resolver = match (&args.client_id, &args.client_secret) {
        (Some(id), Some(secret)) => provider
            .resolver::<serde_json::Map<String, Value>>(id, secret)
            .map(BoxResolver::new)
            .map_err(|e| format!("--oauth-resource: {e}"))?,
        (None, None) => provider
            .jwt_resolver::<serde_json::Map<String, Value>>()
            .map(BoxResolver::new)
            .map_err(|e| format!("--oauth-resource: {e}"))?,
        _ => return Err("--client-id and --client-secret go together".into()),
    };
    let auth = provider
        .layer(resolver)
        .realm("api")
        .timeout(Duration::from_secs(10));
    let router = Router::new().route("/api/data", get(claims)).layer(auth);
    match dpop(&args.dpop).await? {
        Some(dpop) => Ok(router.layer(dpop)),
        None => Ok(router),
    }
}

/// The claims, as the token carries them; the DPoP key's thumbprint, when the token came with
/// a proof, in `x-dpop-thumbprint`.
async fn claims(
    Authenticated(claims): Authenticated<Arc<Claims>>,
    proof: Option<Extension<tower_bearer::dpop::DpopProof>>,
) -> impl axum::response::IntoResponse {
    let jkt = proof.map(|Extension(p)| p.thumbprint().to_owned());
    let headers = jkt.map(|jkt| [("x-dpop-thumbprint", jkt)]);
    (
        axum::response::AppendHeaders(headers.into_iter().flatten()),
        Json(claims),
    )
}

async fn build(
    args: &Args,
    resolver: Result<BoxResolver<Arc<Claims>>, String>,
) -> Result<Router, String> {
    let auth = BearerLayer::new(resolver?)
        .realm("api")
        // JWTs carrying a whole user record, or many roles, outgrow the default 4 KiB.
        .max_token_len(16 * 1024)
        .timeout(Duration::from_secs(10));
    let router = Router::new().route("/api/data", get(claims)).layer(auth);
    match dpop(&args.dpop).await? {
        Some(dpop) => Ok(router.layer(dpop)),
        None => Ok(router),
    }
}

async fn dpop(args: &DpopArgs) -> Result<Option<tower_bearer::dpop::DpopLayer>, String> {
    use tower_bearer::dpop::{DpopLayer, MemoryReplayStore, Nonces, ReplayStore};
    let Some(mode) = &args.mode else {
        return Ok(None);
    };
    if !matches!(mode.as_str(), "allowed" | "required") {
        return Err(format!("--dpop: {mode:?} is neither allowed nor required"));
    }
    fn layer(mode: &str, store: impl ReplayStore) -> DpopLayer {
        match mode {
            "required" => DpopLayer::required(store),
            _ => DpopLayer::allowed(store),
        }
    }
    // The replay store in Redis is shared by every instance behind one load balancer: a proof
    // seen by one is a replay on the others.
    let layer = match &args.replay_redis {
        None => layer(mode, MemoryReplayStore::new()),
        Some(url) => layer(
            mode,
            tower_bearer::dpop::RedisReplayStore::connect(url)
                .await
                .map_err(|e| format!("--dpop-replay-redis: {e}"))?,
        ),
    };
    let origin = args
        .origin
        .as_deref()
        .ok_or("--dpop needs --origin: the external origin proofs name (htu)")?;
    let mut dpop = layer.origin(origin).map_err(|e| format!("--origin: {e}"))?;
    if args.nonce {
        // Instances that share DPOP_NONCE_SECRET accept each other's nonces.
        let period = Duration::from_secs(60);
        dpop = dpop.nonces(match std::env::var("DPOP_NONCE_SECRET") {
            Ok(secret) => Nonces::new(secret, period),
            Err(_) => Nonces::random(period),
        });
    }
    Ok(Some(dpop))
}
