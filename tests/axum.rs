//! axum: the extractor with and without the layer, `route_layer` against `layer`, and a JSON
//! rejection, over real sockets.
#![cfg(feature = "axum")]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use support::get as fetch;
use tower_bearer::integrations::axum::Authenticated;
use tower_bearer::store::{CreateOptions, MemoryStore, Session};
use tower_bearer::{BearerLayer, Rejection, RejectionKind};

async fn me(Authenticated(s): Authenticated<Arc<Session>>) -> String {
    format!("me {}", s.user_id)
}

async fn maybe(s: Option<Authenticated<Arc<Session>>>) -> String {
    s.map_or("anonymous".into(), |Authenticated(s)| {
        format!("maybe {}", s.user_id)
    })
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn store_and_token() -> (MemoryStore, String) {
    let store = MemoryStore::new();
    let issued = store
        .create_now("alice", (), CreateOptions::default())
        .unwrap();
    (
        store,
        format!("authorization: Bearer {}", issued.token.as_str()),
    )
}

#[tokio::test]
async fn route_layer_guards_routes_and_unknown_paths_stay_404() {
    let (store, auth) = store_and_token();
    let app = Router::new()
        .route("/me", get(me))
        .route_layer(BearerLayer::new(store));
    let addr = serve(app).await;
    let res = fetch(addr, "/me", &[auth.as_bytes()]).await;
    assert_eq!((res.status, res.body_str()), (200, "me alice"));
    let res = fetch(addr, "/me", &[]).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    assert_eq!(fetch(addr, "/nowhere", &[]).await.status, 404);
}

#[tokio::test]
async fn router_layer_guards_everything_including_the_fallback() {
    let (store, auth) = store_and_token();
    let app = Router::new()
        .route("/me", get(me))
        .layer(BearerLayer::new(store));
    let addr = serve(app).await;
    assert_eq!(fetch(addr, "/me", &[auth.as_bytes()]).await.status, 200);
    assert_eq!(fetch(addr, "/nowhere", &[]).await.status, 401);
    assert_eq!(
        fetch(addr, "/nowhere", &[auth.as_bytes()]).await.status,
        404
    );
}

#[tokio::test]
async fn the_extractor_without_the_layer_is_a_500_naming_it() {
    let app = Router::new()
        .route("/me", get(me))
        .route("/maybe", get(maybe));
    let addr = serve(app).await;
    for path in ["/me", "/maybe"] {
        let res = fetch(addr, path, &[b"authorization: Bearer whatever"]).await;
        assert_eq!(res.status, 500, "{path}");
        assert!(res.body_str().contains("BearerLayer"), "{}", res.body_str());
        assert!(!res.body_str().contains("whatever"));
    }
}

#[tokio::test]
async fn optional_extractor_in_optional_mode() {
    let (store, auth) = store_and_token();
    let app = Router::new()
        .route("/maybe", get(maybe))
        .route_layer(BearerLayer::new(store).optional());
    let addr = serve(app).await;
    assert_eq!(fetch(addr, "/maybe", &[]).await.body_str(), "anonymous");
    assert_eq!(
        fetch(addr, "/maybe", &[auth.as_bytes()]).await.body_str(),
        "maybe alice"
    );
    assert_eq!(
        fetch(addr, "/maybe", &[b"authorization: Bearer unknown"])
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn a_rejection_customised_into_json() {
    let (store, _) = store_and_token();
    let layer = BearerLayer::new(store).on_rejection(|r: &Rejection| {
        let body = format!(
            r#"{{"error":"{}","message":"{}"}}"#,
            r.kind().error_code().unwrap_or("unauthorized"),
            r.message()
        );
        http::Response::builder()
            .status(r.status())
            .header("content-type", "application/json")
            .body(Bytes::from(body))
            .unwrap()
    });
    let app = Router::new().route("/me", get(me)).route_layer(layer);
    let addr = serve(app).await;
    let res = fetch(addr, "/me", &[b"authorization: Bearer a b"]).await;
    assert_eq!(res.status, 400);
    assert_eq!(res.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["message"], "the bearer token is not a valid b64token");
    assert!(res
        .header("www-authenticate")
        .unwrap()
        .contains(r#"error="invalid_request""#));
}

#[tokio::test]
async fn a_handler_can_answer_with_a_rejection() {
    let app = Router::new().route(
        "/admin",
        get(|| async { Rejection::new(RejectionKind::InsufficientScope) }),
    );
    let addr = serve(app).await;
    let res = fetch(addr, "/admin", &[]).await;
    assert_eq!(res.status, 403);
    assert!(res
        .header("www-authenticate")
        .unwrap()
        .contains("insufficient_scope"));
}
