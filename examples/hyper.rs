//! A plain hyper 1 server: hyper-util's `TowerToHyperService` and `auto::Builder`, with the
//! layer inside a `ServiceBuilder` that also limits concurrency and logs requests.
//!
//! ```text
//! cargo run --example hyper                   # or -- --addr HOST:PORT
//! TOKEN=$(curl -s -X POST http://127.0.0.1:3002/login)
//! curl -s http://127.0.0.1:3002/ -H "Authorization: Bearer $TOKEN"
//! ```
//!
//! `POST /login` stands in for a real sign-in: it is exempt from the layer (`exempt`) and
//! answers with a new session's token.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tower::{service_fn, ServiceBuilder};
use tower_bearer::store::{CreateOptions, MemoryStore, Session};
use tower_bearer::{BearerLayer, RedactedUri};
use tower_http::trace::TraceLayer;

async fn route(
    store: MemoryStore,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() == "/login" {
        let token = match store.create_now("hyper-user", (), CreateOptions::default()) {
            Ok(issued) => issued.token.as_str().to_owned(),
            Err(_) => String::new(),
        };
        return Ok(Response::new(Full::new(Bytes::from(token))));
    }
    // The layer put the session here; without one the request never got this far.
    let user = req
        .extensions()
        .get::<Arc<Session>>()
        .map(|s| s.user_id.to_string())
        .unwrap_or_default();
    Ok(Response::new(Full::new(Bytes::from(format!(
        "hello {user}\n"
    )))))
}

/// tower-http's default request span, with every query value shown as `***`.
fn request_span(request: &Request<Incoming>) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        uri = %RedactedUri::new(request.uri()),
        version = ?request.version(),
    )
}

#[tokio::main]
async fn main() -> Result<(), tower_bearer::BoxError> {
    // A 503's cause (a failing backend) is logged at WARN: without a subscriber it is lost.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let store = MemoryStore::new();
    let login_store = store.clone();
    let service =
        ServiceBuilder::new()
            // Request logs (`RUST_LOG=tower_http=debug`), outermost: the URI through
            // `RedactedUri`, so that a token in the query is never logged in clear.
            .layer(TraceLayer::new_for_http().make_span_with(request_span))
            .concurrency_limit(64)
            .layer(BearerLayer::new(store).exempt(|head| {
                head.method() == http::Method::POST && head.uri().path() == "/login"
            }))
            .service(service_fn(move |req| route(login_store.clone(), req)));

    let listener = tokio::net::TcpListener::bind(addr()).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            if let Err(e) = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("connection error: {e}");
            }
        });
    }
}

/// `--addr HOST:PORT` from the command line, else 127.0.0.1:3002.
fn addr() -> std::net::SocketAddr {
    let mut args = std::env::args().skip(1);
    let addr = match (args.next().as_deref(), args.next()) {
        (None, _) => "127.0.0.1:3002".to_string(),
        (Some("--addr"), Some(addr)) => addr,
        _ => {
            eprintln!("usage: hyper [--addr HOST:PORT]");
            std::process::exit(2);
        }
    };
    addr.parse().unwrap_or_else(|e| {
        eprintln!("--addr {addr:?}: {e}");
        std::process::exit(2)
    })
}
