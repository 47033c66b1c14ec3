//! axum with tower-bearer: the `Authenticated` extractor on required and optional routes, and a
//! JSON rejection body.
//!
//! ```text
//! cargo run --example axum --features axum
//! TOKEN=$(curl -s -X POST http://127.0.0.1:3001/login)
//! curl -s http://127.0.0.1:3001/me -H "Authorization: Bearer $TOKEN"
//! curl -s http://127.0.0.1:3001/hello
//! ```

use std::sync::Arc;

use axum::routing::{get, post};
use axum::{extract::State, Router};
use bytes::Bytes;
use tower_bearer::integrations::axum::Authenticated;
use tower_bearer::store::{CreateOptions, MemoryStore, Session};
use tower_bearer::{BearerLayer, Mode};

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
        .with_state(store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001")
        .await
        .expect("bind 127.0.0.1:3001");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("bound")
    );
    axum::serve(listener, app).await.expect("server error");
}
