//! An axum API that speaks enough of better-auth's HTTP API for better-auth's own JS client:
//! sign up, sign in (the token comes back in `set-auth-token`), then bearer-authenticated calls,
//! from Node or from a browser on another origin.
//!
//! ```text
//! cargo run --example server                      # http://127.0.0.1:3000
//! cargo run --example server -- --help            # every option
//! ```
//!
//! Sessions live in tower-bearer's `MemoryStore`, or with `--redis URL` (feature `redis`) in a
//! `RedisStore` behind a `CachedStore`, with the users in Redis too, so that several servers on
//! one Redis serve the same users. The routes are written against the `SessionStore` trait and
//! do not change. A demo user, user@example.com / securepassword, is seeded at start-up.
//! `RUST_LOG` sets the log level.

mod accounts;
mod args;
mod cors;
mod email;
mod limits;
mod metrics;
mod routes;
mod users;
mod ws;

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use axum::{middleware, Router};
use tower_bearer::store::{MemoryStore, SessionStore};
use tower_bearer::RedactedUri;
use tower_http::trace::TraceLayer;
use tracing_subscriber::EnvFilter;

use crate::accounts::{Accounts, Hashing};
use crate::args::Args;
use crate::limits::RateLimits;
use crate::routes::AppState;
use crate::users::Users;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}\n\n{}", args::USAGE);
            std::process::exit(2);
        }
    };

    // Before any layer counts anything: the recorder the layers' metrics go to.
    if let Some(addr) = args.metrics_addr {
        if let Err(message) = metrics::serve(addr).await {
            eprintln!("{message}");
            std::process::exit(2);
        }
    }

    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let hashing = Hashing::new(cores, 2 * cores);
    let app = match &args.redis {
        None => {
            let sessions = MemoryStore::builder()
                .max_sessions_per_user(args.max_sessions_per_user)
                .build();
            let sweeper = sessions.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    sweeper.sweep();
                }
            });
            app(sessions, Accounts::new(Users::memory(), hashing)).await
        }
        Some(url) => redis_app(url, &args, hashing).await,
    };
    let (app, seeded) = app;
    let app = layered(app, &args);

    let listener = match tokio::net::TcpListener::bind(args.addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", args.addr);
            std::process::exit(1);
        }
    };
    let addr = listener.local_addr().expect("a bound address");
    println!("listening on http://{addr}");
    println!("{}", args::walkthrough(addr, seeded));
    use std::io::Write;
    let _ = std::io::stdout().flush();
    limits::serve(listener, app, args.connection_limits()).await;
}

/// The API over `sessions`, and whether the demo user is there (seeded now or before).
async fn app<S>(sessions: S, accounts: Accounts) -> (Router, bool)
where
    S: SessionStore<()> + Clone + Send + Sync + 'static,
    S::Future: Send,
{
    let seeded = match accounts
        .seed("Demo User", "user@example.com", "securepassword")
        .await
    {
        Ok(()) => true,
        Err(unavailable) => {
            eprintln!(
                "could not seed the demo user user@example.com: {}\n\
                 The server runs without it: sign-up and sign-in answer 503 until the user \
                 store answers. Start Redis (redis-server) or correct --redis, then restart \
                 this server to seed the demo user.",
                unavailable.0
            );
            false
        }
    };
    let app = routes::app(AppState {
        sessions,
        accounts: Arc::new(accounts),
    });
    (app, seeded)
}

#[cfg(feature = "redis")]
async fn redis_app(url: &str, args: &Args, hashing: Hashing) -> (Router, bool) {
    use tower_bearer::store::{CachedStore, RedisStore};
    let fail = |what: &str, e: &dyn std::fmt::Display| -> ! {
        eprintln!("{what}: {e}");
        std::process::exit(1)
    };
    let store = RedisStore::builder()
        .prefix("tower-bearer-example:")
        .max_sessions_per_user(args.max_sessions_per_user)
        .connect(url)
        .await
        .unwrap_or_else(|e| fail("--redis", &e));
    let sessions = CachedStore::new(store, url)
        .await
        .unwrap_or_else(|e| fail("--redis", &e));
    let users = Users::redis(url, "tower-bearer-example:").unwrap_or_else(|e| fail("--redis", &e));
    app(sessions, Accounts::new(users, hashing)).await
}

#[cfg(not(feature = "redis"))]
async fn redis_app(_: &str, _: &Args, _: Hashing) -> (Router, bool) {
    eprintln!(
        "this build has no Redis: cargo run --example server --features redis -- --redis URL"
    );
    std::process::exit(2)
}

/// The layers around the API: rate limits, bodies read whole, CORS, request logs.
fn layered(mut app: Router, args: &Args) -> Router {
    if args.rate_limit {
        let limits = Arc::new(RateLimits::better_auth());
        app = app.layer(middleware::from_fn_with_state(limits, limits::rate_limit));
    }
    app.layer(middleware::from_fn_with_state(
        args.body_timeout,
        limits::read_body,
    ))
    .layer(cors::layer(&args.trusted_origins))
    // Request spans at debug level (`RUST_LOG=tower_http=debug`). The layer is outermost: it
    // sees each request before the bearer layers, with `/api/ws?access_token=…` still in the
    // URI, so its span shows the URI redacted (`RedactedUri`: every query value `***`), never
    // tower-http's default `uri=` in clear. It logs no headers (the default), so neither the
    // `Authorization` header nor a subprotocol entry reaches the log.
    .layer(TraceLayer::new_for_http().make_span_with(request_span))
}

/// tower-http's default request span (`DefaultMakeSpan`: DEBUG, "request", method, uri,
/// version), with the URI redacted.
fn request_span(request: &Request<Body>) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        uri = %RedactedUri::new(request.uri()),
        version = ?request.version(),
    )
}
