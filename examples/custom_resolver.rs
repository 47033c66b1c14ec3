//! A library author's resolver over a real async backend: an OAuth 2.0 token introspection
//! endpoint (RFC 7662), called with hyper-util's client.
//!
//! - an active token resolves to its `sub` and `scope`;
//! - an inactive one is `Ok(None)`: the client gets `401 invalid_token`;
//! - a backend that is down, slow or answers garbage is `Err`: the client gets `503`, and the
//!   error (never the token) goes to `tracing`.
//!
//! ```text
//! cargo run --example custom_resolver
//! curl -s http://127.0.0.1:3003/ -H "Authorization: Bearer demo-token"
//! cargo run --example custom_resolver -- --addr 127.0.0.1:8080 --introspection-url http://idp/introspect
//! ```
//! Without `--introspection-url` the example serves a toy introspection endpoint of its own on
//! 127.0.0.1:3004, which knows one token, `demo-token`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::{Extension, Router};
use bytes::Bytes;
use http::{header::CONTENT_TYPE, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use tower_bearer::{BearerLayer, BearerToken, BoxError, SessionResolver};

/// What the introspection endpoint says about an active token.
#[derive(Clone, Debug)]
struct Principal {
    subject: Arc<str>,
    scope: Arc<str>,
}

#[derive(Deserialize)]
struct Introspection {
    active: bool,
    sub: Option<String>,
    scope: Option<String>,
}

/// Resolves tokens by asking an RFC 7662 introspection endpoint.
#[derive(Clone)]
struct IntrospectionResolver {
    client: Client<HttpConnector, Full<Bytes>>,
    endpoint: Arc<str>,
}

impl IntrospectionResolver {
    fn new(endpoint: impl Into<Arc<str>>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(1)));
        IntrospectionResolver {
            client: Client::builder(TokioExecutor::new()).build(connector),
            endpoint: endpoint.into(),
        }
    }
}

/// `application/x-www-form-urlencoded` for a b64token: everything but unreserved characters.
fn form_encode(token: &str) -> String {
    let mut out = String::with_capacity(token.len() + 8);
    for b in token.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl SessionResolver for IntrospectionResolver {
    type Session = Principal;
    type Error = BoxError;
    // A network call: boxing the future costs nothing next to the round trip.
    type Future = Pin<Box<dyn Future<Output = Result<Option<Principal>, BoxError>> + Send>>;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        // The future outlives the borrowed token, so the form body owns its copy.
        let body = format!("token={}", form_encode(token.as_str()));
        let client = self.client.clone();
        let endpoint = self.endpoint.clone();
        Box::pin(async move {
            let req = Request::post(&*endpoint)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Full::new(Bytes::from(body)))?;
            let res = client
                .request(req)
                .await
                .map_err(|e| format!("introspection request failed: {e}"))?;
            if res.status() != StatusCode::OK {
                return Err(format!("introspection endpoint answered {}", res.status()).into());
            }
            let bytes = res.into_body().collect().await?.to_bytes();
            let answer: Introspection = serde_json::from_slice(&bytes)?;
            Ok(answer.active.then(|| Principal {
                subject: answer.sub.unwrap_or_default().into(),
                scope: answer.scope.unwrap_or_default().into(),
            }))
        })
    }
}

/// A toy introspection endpoint that knows one token.
fn introspection_endpoint(known_token: &'static str) -> Router {
    Router::new().route(
        "/introspect",
        post(move |body: String| async move {
            let active = body == format!("token={}", form_encode(known_token));
            if active {
                axum::Json(
                    serde_json::json!({"active": true, "sub": "user-42", "scope": "read write"}),
                )
            } else {
                axum::Json(serde_json::json!({"active": false}))
            }
        }),
    )
}

/// The API: `/` answers with the caller's subject and scope.
fn api(resolver: IntrospectionResolver) -> Router {
    Router::new()
        .route(
            "/",
            get(|Extension(p): Extension<Principal>| async move {
                format!("{} ({})\n", p.subject, p.scope)
            }),
        )
        .route_layer(BearerLayer::new(resolver).timeout(Duration::from_secs(2)))
}

async fn serve(listener: tokio::net::TcpListener, app: Router) {
    axum::serve(listener, app).await.expect("server error");
}

/// The one token the toy introspection endpoint calls active.
const DEMO_TOKEN: &str = "demo-token";

#[tokio::main]
async fn main() {
    // `RUST_LOG` sets the level (default info): the resolver's errors come at WARN.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let mut api_addr = "127.0.0.1:3003".to_string();
    let mut endpoint = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => api_addr = args.next().expect("--addr HOST:PORT"),
            "--introspection-url" => endpoint = Some(args.next().expect("--introspection-url URL")),
            other => {
                eprintln!("unknown argument {other:?}; usage: custom_resolver [--addr HOST:PORT] [--introspection-url URL]");
                std::process::exit(2);
            }
        }
    }
    let endpoint = match endpoint {
        Some(endpoint) => endpoint,
        None => {
            let idp = tokio::net::TcpListener::bind("127.0.0.1:3004")
                .await
                .expect("bind 127.0.0.1:3004");
            let url = format!("http://{}/introspect", idp.local_addr().expect("bound"));
            tokio::spawn(serve(idp, introspection_endpoint(DEMO_TOKEN)));
            println!("a toy introspection endpoint at {url} knows one token: DEMO_TOKEN");
            url
        }
    };
    let api_addr: SocketAddr = api_addr.parse().expect("--addr HOST:PORT");
    let listener = tokio::net::TcpListener::bind(api_addr)
        .await
        .expect("bind the API's address");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("bound")
    );
    serve(listener, api(IntrospectionResolver::new(endpoint))).await;
}
