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

  --addr HOST:PORT          where to listen (default 127.0.0.1:4000)
  --secret SECRET           better-auth's secret (or BETTER_AUTH_SECRET)
  --require-signature       refuse raw tokens (the Bearer plugin's requireSignature)
  --database URL            better-auth's database: postgres://… (feature better-auth-postgres),
                            mysql://… (feature better-auth-mysql) or sqlite://PATH
                            (feature better-auth-sqlite)
  --redis URL               better-auth's Redis secondary storage (feature better-auth-redis)
  --redis-prefix PREFIX     the storage's key prefix (default better-auth:)
  --better-auth-url URL     a better-auth server's base URL, asked through its get-session
                            (feature better-auth-http)";

enum Backend {
    Database(String),
    Redis(String),
    Http(String),
}

struct Args {
    addr: SocketAddr,
    secret: Option<String>,
    require_signature: bool,
    backend: Backend,
    redis_prefix: String,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 4000));
    let mut secret = std::env::var("BETTER_AUTH_SECRET").ok();
    let (mut require_signature, mut backends) = (false, Vec::new());
    let mut redis_prefix = "better-auth:".to_string();
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
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let backend = match backends.len() {
        1 => backends.pop().unwrap(),
        _ => return Err("give exactly one of --database, --redis, --better-auth-url".into()),
    };
    Ok(Args {
        addr,
        secret,
        require_signature,
        backend,
        redis_prefix,
    })
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

/// The session and user, in better-auth's JSON shape.
async fn data(
    Authenticated(signed_in): Authenticated<BetterAuthSession>,
) -> Json<BetterAuthSession> {
    Json(signed_in)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
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
    let resolver = match resolver(&args).await {
        Ok(resolver) => resolver,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let auth = BearerLayer::new(resolver)
        .realm("api")
        // better-auth also accepts the signed token percent-encoded.
        .token_chars(TokenChars::Visible)
        .timeout(Duration::from_secs(5));
    let app = Router::new().route("/api/data", get(data)).layer(auth);
    let listener = tokio::net::TcpListener::bind(args.addr).await.unwrap();
    println!("listening on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}
