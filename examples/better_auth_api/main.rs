//! An axum API behind a better-auth server: it accepts the bearer tokens better-auth hands out,
//! reading better-auth's database, its Redis secondary storage, or asking its get-session.
//!
//! ```text
//! cargo run --example better_auth_api --features better-auth-sqlite,axum -- \
//!     --addr 127.0.0.1:4000 --secret "$BETTER_AUTH_SECRET" --database sqlite:///path/to/auth.db
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:4000/api/data
//! ```
//!
//! `GET /api/data` answers `200 {"session": …, "user": …}` (better-auth's JSON) for a live
//! session, `401` with the challenge for a missing, unknown, expired, revoked or badly signed
//! token, and `503` when the backend fails.
//!
//! With `--jwks-url` (or `--issuer-url`, OpenID discovery) and feature `jwt`, it accepts the
//! JWTs of better-auth's `jwt` plugin (or any issuer's) instead, verified against the JWKS, and
//! `GET /api/data` answers the verified token's claims:
//!
//! ```text
//! cargo run --example better_auth_api --all-features -- --addr 127.0.0.1:4000 \
//!     --jwks-url http://127.0.0.1:3000/api/auth/jwks \
//!     --issuer http://127.0.0.1:3000 --audience http://127.0.0.1:3000
//! ```
//!
//! With `--introspection-url` (feature `introspection`) it checks opaque access tokens at an
//! RFC 7662 endpoint instead, and with `--dpop allowed|required` (feature `dpop`, an
//! `--origin` that proofs name) it takes DPoP-bound tokens with their proofs (`oauth.rs`).
//! With `--oauth-resource URL --issuer ISS` it accepts better-auth's OAuth provider's access
//! tokens for that resource (JWTs, and with `--client-id`/`--client-secret` opaque ones).
//!
//! With `--api-keys` (and `--database` or `--redis`, no secret needed) it accepts better-auth's
//! API keys from `x-api-key` instead, and `GET /api/data` answers the key's
//! `{"keyId", "referenceId", "permissions"}`: `401` for an unknown, disabled or expired key,
//! `429` for one used up or over its rate limit, as better-auth answers (`api_keys.rs`):
//!
//! ```text
//! cargo run --example better_auth_api --features better-auth-sqlite,axum -- \
//!     --api-keys --database sqlite:///path/to/auth.db
//! curl -H "x-api-key: $KEY" http://127.0.0.1:4000/api/data
//! ```

// Built without some backend's feature, that backend's code is unused.
#![cfg_attr(
    not(all(
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql",
        feature = "better-auth-redis",
        feature = "better-auth-http"
    )),
    allow(unused, dead_code)
)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use tower_bearer::better_auth::{BetterAuthSession, Signatures};
use tower_bearer::integrations::axum::Authenticated;
use tower_bearer::{BearerLayer, BoxResolver, TokenChars};

const USAGE: &str = "\
usage: better_auth_api --secret SECRET (--database URL | --redis URL | --better-auth-url URL) [OPTIONS]
       better_auth_api --api-keys (--database URL | --redis URL) [--api-key-header NAME]…
       better_auth_api --oauth-resource URL --issuer ISS [--client-id ID --client-secret SECRET]

  --addr HOST:PORT          where to listen (default 127.0.0.1:4000)
  --secret SECRET           better-auth's secret (or BETTER_AUTH_SECRET)
  --require-signature       refuse raw tokens (the Bearer plugin's requireSignature)
  --database URL            better-auth's database: postgres://… (feature better-auth-postgres),
                            mysql://… (feature better-auth-mysql) or sqlite://PATH
                            (feature better-auth-sqlite)
  --redis URL               better-auth's Redis secondary storage (feature better-auth-redis)
  --redis-prefix PREFIX     the storage's key prefix (default better-auth:)
  --better-auth-url URL     a better-auth server's base URL, asked through its get-session
                            (feature better-auth-http)
  --jwks-url URL            JWTs (better-auth's jwt plugin, any issuer) verified against this
                            JWKS (feature jwt; no secret needed)
  --issuer-url URL          the same, the JWKS found by OpenID discovery from this issuer
  --issuer ISS              with a JWKS: the iss every token must carry
  --audience AUD            with a JWKS or introspection (required): the audience every
                            token's aud must contain
  --introspection-url URL   opaque access tokens checked at this RFC 7662 endpoint
                            (feature introspection)
  --client-id ID            with introspection: the client it authenticates as
  --client-secret SECRET    with introspection: that client's secret (HTTP Basic)
  --api-keys                better-auth's API keys (@better-auth/api-key) instead of sessions,
                            in its database or Redis storage; no secret needed
  --api-key-header NAME     where the key is (default x-api-key; give several to read each)
  --oauth-resource URL      better-auth's OAuth provider's access tokens for this resource
                            (feature jwt; with --client-id and --client-secret, opaque
                            tokens too, feature introspection); --issuer is its issuer,
                            e.g. http://127.0.0.1:3000/api/auth
  --dpop allowed|required   DPoP (RFC 9449) beside Bearer, or alone (feature dpop)
  --dpop-nonce              server nonces (shared by instances with DPOP_NONCE_SECRET set)
  --dpop-replay-redis URL   the proofs' jti remembered in this Redis, shared by instances
  --origin URL              the external origin proofs name in htu (behind a load balancer,
                            the balancer's, not the listening address)";

#[cfg_attr(
    not(all(feature = "jwt", feature = "introspection", feature = "dpop")),
    allow(dead_code)
)]
enum Backend {
    Database(String),
    Redis(String),
    Http(String),
    Jwks(String),
    Discovery(String),
    Introspection(String),
    OAuthResource(String),
}

struct Args {
    addr: SocketAddr,
    secret: Option<String>,
    require_signature: bool,
    backend: Backend,
    redis_prefix: String,
    issuer: Option<String>,
    audience: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    api_keys: bool,
    api_key_headers: Vec<String>,
    #[cfg_attr(not(feature = "dpop"), allow(dead_code))]
    dpop: DpopArgs,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 4000));
    let mut secret = std::env::var("BETTER_AUTH_SECRET").ok();
    let (mut require_signature, mut backends) = (false, Vec::new());
    let mut redis_prefix = "better-auth:".to_string();
    let (mut issuer, mut audience) = (None, None);
    let (mut client_id, mut client_secret) = (None, None);
    let mut dpop = DpopArgs::default();
    let (mut api_keys, mut api_key_headers) = (false, Vec::new());
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => addr = value()?.parse().map_err(|e| format!("--addr: {e}"))?,
            "--secret" => secret = Some(value()?),
            "--require-signature" => require_signature = true,
            "--database" => backends.push(Backend::Database(value()?)),
            "--redis" => backends.push(Backend::Redis(value()?)),
            "--redis-prefix" => redis_prefix = value()?,
            "--better-auth-url" => backends.push(Backend::Http(value()?)),
            "--jwks-url" => backends.push(Backend::Jwks(value()?)),
            "--issuer-url" => backends.push(Backend::Discovery(value()?)),
            "--issuer" => issuer = Some(value()?),
            "--audience" => audience = Some(value()?),
            "--introspection-url" => backends.push(Backend::Introspection(value()?)),
            "--client-id" => client_id = Some(value()?),
            "--client-secret" => client_secret = Some(value()?),
            "--api-keys" => api_keys = true,
            "--api-key-header" => api_key_headers.push(value()?),
            "--oauth-resource" => backends.push(Backend::OAuthResource(value()?)),
            "--dpop" => dpop.mode = Some(value()?),
            "--dpop-nonce" => dpop.nonce = true,
            "--dpop-replay-redis" => dpop.replay_redis = Some(value()?),
            "--origin" => dpop.origin = Some(value()?),
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let backend = match backends.len() {
        1 => backends.pop().unwrap(),
        _ => {
            return Err(
                "give exactly one of --database, --redis, --better-auth-url, --jwks-url, \
                 --issuer-url, --introspection-url, --oauth-resource"
                    .into(),
            )
        }
    };
    Ok(Args {
        addr,
        secret,
        require_signature,
        backend,
        redis_prefix,
        issuer,
        audience,
        client_id,
        client_secret,
        api_keys,
        api_key_headers,
        dpop,
    })
}

/// The start-up check's verdict: a backend that is not there yet is logged, with its address
/// and the cause, and the server starts anyway (answering 503 until the backend is up).
#[allow(dead_code)]
fn checked(ping: Result<(), tower_bearer::BoxError>) {
    let Err(error) = ping else { return };
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    tracing::warn!("{text}; serving anyway, with 503s until it answers");
}

async fn resolver(args: &Args) -> Result<BoxResolver<BetterAuthSession>, String> {
    let signatures = args
        .secret
        .as_ref()
        .map(|secret| Signatures::new([secret]).require_signature(args.require_signature));
    let need_secret = || {
        signatures
            .clone()
            .ok_or("--secret or BETTER_AUTH_SECRET is required")
    };
    match &args.backend {
        #[cfg(any(
            feature = "better-auth-postgres",
            feature = "better-auth-sqlite",
            feature = "better-auth-mysql"
        ))]
        Backend::Database(url) => {
            let resolver = tower_bearer::better_auth::SqlResolver::builder(need_secret()?)
                .connect(url)
                .await
                .map_err(|e| format!("--database: {e}"))?;
            checked(resolver.ping().await);
            Ok(BoxResolver::new(resolver))
        }
        #[cfg(feature = "better-auth-redis")]
        Backend::Redis(url) => {
            let resolver = tower_bearer::better_auth::RedisStorageResolver::builder(need_secret()?)
                .prefix(&args.redis_prefix)
                .cache(Default::default())
                .connect(url)
                .await
                .map_err(|e| format!("--redis: {e}"))?;
            checked(resolver.ping().await);
            Ok(BoxResolver::new(resolver))
        }
        #[cfg(feature = "better-auth-http")]
        Backend::Http(url) => {
            let mut builder = tower_bearer::better_auth::HttpResolver::builder(url);
            // better-auth checks signatures itself; with the secret, bad ones cost no call.
            if let Some(signatures) = signatures.clone() {
                builder = builder.signatures(signatures);
            }
            let resolver = builder
                .build()
                .map_err(|e| format!("--better-auth-url: {e}"))?;
            checked(resolver.ping().await);
            Ok(BoxResolver::new(resolver))
        }
        #[allow(unreachable_patterns)]
        _ => Err(
            "this backend's feature is not enabled: better-auth-postgres, \
                  better-auth-sqlite, better-auth-redis or better-auth-http"
                .into(),
        ),
    }
}

#[cfg(any(
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite",
    feature = "better-auth-mysql",
    feature = "better-auth-redis"
))]
mod api_keys;
/// Without a database or Redis backend, `--api-keys` is refused.
#[cfg(not(any(
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite",
    feature = "better-auth-mysql",
    feature = "better-auth-redis"
)))]
mod api_keys {
    pub(crate) async fn app(_: &super::Args) -> Result<axum::Router, String> {
        Err("--api-keys needs a better-auth-postgres, -mysql, -sqlite or -redis feature".into())
    }
}
#[cfg(all(feature = "jwt", feature = "introspection", feature = "dpop"))]
mod oauth;
#[cfg(all(feature = "jwt", feature = "introspection", feature = "dpop"))]
use oauth::DpopArgs;

/// Without the OAuth features, their flags are refused.
#[cfg(not(all(feature = "jwt", feature = "introspection", feature = "dpop")))]
mod oauth {
    use super::{Args, Backend};

    #[derive(Default)]
    pub(crate) struct DpopArgs {
        pub(crate) mode: Option<String>,
        pub(crate) nonce: bool,
        pub(crate) replay_redis: Option<String>,
        pub(crate) origin: Option<String>,
    }

    pub(crate) async fn app(args: &Args) -> Option<Result<axum::Router, String>> {
        let oauth = matches!(
            args.backend,
            Backend::Jwks(_)
                | Backend::Discovery(_)
                | Backend::Introspection(_)
                | Backend::OAuthResource(_)
        );
        (oauth || args.dpop.mode.is_some()).then(|| {
            Err(
                "--jwks-url, --issuer-url, --introspection-url, --oauth-resource and --dpop \
                 need the jwt, introspection and dpop features"
                    .into(),
            )
        })
    }
}
#[cfg(not(all(feature = "jwt", feature = "introspection", feature = "dpop")))]
use oauth::DpopArgs;

/// The session and user, in better-auth's JSON shape.
async fn data(
    Authenticated(signed_in): Authenticated<BetterAuthSession>,
) -> Json<BetterAuthSession> {
    Json(signed_in)
}

#[tokio::main]
async fn main() {
    // Backend failures are logged at WARN: without a subscriber (or with RUST_LOG unset and no
    // default), a 503 would say nothing about its cause.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let exit = |e: String| -> ! {
        eprintln!("{e}");
        std::process::exit(2)
    };
    let app = match args.api_keys {
        true => Some(api_keys::app(&args).await),
        false => oauth::app(&args).await,
    };
    let app = match app {
        Some(app) => app.unwrap_or_else(|e| exit(e)),
        None => {
            let resolver = resolver(&args).await.unwrap_or_else(|e| exit(e));
            let auth = BearerLayer::new(resolver)
                .realm("api")
                // better-auth also accepts the signed token percent-encoded.
                .token_chars(TokenChars::Visible)
                .timeout(Duration::from_secs(5));
            Router::new().route("/api/data", get(data)).layer(auth)
        }
    };
    let listener = tokio::net::TcpListener::bind(args.addr).await.unwrap();
    println!("listening on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}
