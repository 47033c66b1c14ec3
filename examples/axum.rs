//! axum with tower-bearer: the `Authenticated` extractor on required and optional routes, and a
//! JSON rejection body.
//!
//! ```text
//! cargo run --example axum --features axum    # or -- --addr HOST:PORT
//! TOKEN=$(curl -s -X POST http://127.0.0.1:3001/login)
//! curl -s http://127.0.0.1:3001/me -H "Authorization: Bearer $TOKEN"
//! curl -s http://127.0.0.1:3001/hello
//! ```

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use axum::routing::{get, post};
use axum::{extract::State, Router};
use bytes::Bytes;
use tower_bearer::integrations::axum::Authenticated;
use tower_bearer::store::{CreateOptions, MemoryStore, Session};
use tower_bearer::{BearerLayer, Mode, RedactedUri};
use tower_http::trace::TraceLayer;

/// Issues a session for a fixed demo user and answers with its token.
async fn login(State(store): State<MemoryStore>) -> String {
    store
        .create_now("demo-user", (), CreateOptions::default())
        .map(|issued| issued.token.as_str().to_string())
        .unwrap_or_default()
}

async fn me(Authenticated(session): Authenticated<Arc<Session>>) -> String {
    format!("you are {} (session {})\n", session.user_id, session.id)
}

async fn hello(session: Option<Authenticated<Arc<Session>>>) -> String {
    match session {
        Some(Authenticated(s)) => format!("hello {}\n", s.user_id),
        None => "hello stranger\n".to_string(),
    }
}

/// tower-http's default request span, with every query value shown as `***`.
fn request_span(request: &Request<Body>) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        uri = %RedactedUri::new(request.uri()),
        version = ?request.version(),
    )
}

#[tokio::main]
async fn main() {
    // A 503's cause (a failing backend) is logged at WARN: without a subscriber it is lost.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let store = MemoryStore::new();
    let json_rejection = |r: &tower_bearer::Rejection| {
        let body = format!(
            r#"{{"error":"{}"}}"#,
            r.kind().error_code().unwrap_or("unauthorized")
        );
        http::Response::builder()
            .status(r.status())
            .header("content-type", "application/json")
            .body(Bytes::from(body))
            .expect("valid response")
    };
    let app = Router::new()
        .route("/me", get(me))
        .route_layer(BearerLayer::new(store.clone()).on_rejection(json_rejection))
        .merge(
            Router::new()
                .route("/hello", get(hello))
                .route_layer(BearerLayer::new(store.clone()).mode(Mode::Optional)),
        )
        .route("/login", post(login))
        .with_state(store)
        // Request logs (`RUST_LOG=tower_http=debug`), outermost: the URI through `RedactedUri`,
        // so that a token in the query (`?access_token=…`) is never logged in clear.
        .layer(TraceLayer::new_for_http().make_span_with(request_span));
    let listener = tokio::net::TcpListener::bind(addr())
        .await
        .expect("bind the address");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("bound")
    );
    axum::serve(listener, app).await.expect("server error");
}

/// `--addr HOST:PORT` from the command line, else 127.0.0.1:3001.
fn addr() -> std::net::SocketAddr {
    let mut args = std::env::args().skip(1);
    let addr = match (args.next().as_deref(), args.next()) {
        (None, _) => "127.0.0.1:3001".to_string(),
        (Some("--addr"), Some(addr)) => addr,
        _ => {
            eprintln!("usage: axum [--addr HOST:PORT]");
            std::process::exit(2);
        }
    };
    addr.parse().unwrap_or_else(|e| {
        eprintln!("--addr {addr:?}: {e}");
        std::process::exit(2)
    })
}
