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
use tower_bearer::{BearerLayer, Mode, Rejection, RejectionKind};

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
async fn the_extractor_without_the_layer_is_a_500_and_one_log_line() {
    let (logs, _guard) = support::Logs::capture();
    let app = Router::new()
        .route("/me", get(me))
        .route("/maybe", get(maybe));
    let addr = serve(app).await;
    for path in ["/me", "/maybe"] {
        let res = fetch(addr, path, &[b"authorization: Bearer whatever"]).await;
        assert_eq!(res.status, 500, "{path}");
        // Debug builds name the type asked for; release builds say nothing of it.
        match cfg!(debug_assertions) {
            true => assert!(
                res.body_str().starts_with(
                    "no `alloc::sync::Arc<tower_bearer::store::session::Session>` session in the \
                     request"
                ),
                "{}",
                res.body_str()
            ),
            false => assert_eq!(res.body_str(), "Internal Server Error"),
        }
        assert!(!res.body_str().contains("whatever"));
    }
    let log = logs.text();
    assert_eq!(
        log.matches("BearerLayer").count(),
        2,
        "one line per request: {log}"
    );
    assert!(
        log.contains("tower_bearer::store::session::Session"),
        "{log}"
    );
    assert!(!log.contains("whatever"), "{log}");
}

#[tokio::test]
async fn a_session_type_mismatch_is_a_500_that_names_both_types() {
    let (store, auth) = store_and_token();
    let (logs, _guard) = support::Logs::capture();
    // The layer resolves `Arc<Session>`; the handler asks for a `String`.
    let app = Router::new()
        .route(
            "/me",
            get(|Authenticated(s): Authenticated<String>| async move { s }),
        )
        .route_layer(BearerLayer::new(store));
    let addr = serve(app).await;
    let res = fetch(addr, "/me", &[auth.as_bytes()]).await;
    assert_eq!(res.status, 500);
    // What was asked for and what the layers insert, in the log and (debug builds) the body.
    let asked = "no `alloc::string::String` session in the request";
    let inserted = "`alloc::sync::Arc<tower_bearer::store::session::Session>`";
    for text in [logs.text(), res.body_str().to_owned()] {
        if text == "Internal Server Error" && !cfg!(debug_assertions) {
            continue;
        }
        assert!(text.contains(asked), "{text}");
        assert!(text.contains(inserted), "{text}");
        assert!(
            !text.contains(auth.trim_start_matches("authorization: Bearer ")),
            "{text}"
        );
    }
}

/// The usual axum pattern: an optional layer on the whole router, the required extractor per
/// handler. An anonymous request gets the layer's own 401, in its shape.
#[tokio::test]
async fn required_extractor_behind_an_optional_layer_answers_the_layers_401() {
    let (store, auth) = store_and_token();
    let (logs, _guard) = support::Logs::capture();
    let layer = BearerLayer::new(store)
        .mode(Mode::Optional)
        .realm("api")
        .on_rejection(|r: &Rejection| {
            http::Response::builder()
                .status(r.status())
                .header("content-type", "application/json")
                .body(Bytes::from(format!(
                    r#"{{"status":{}}}"#,
                    r.status().as_u16()
                )))
                .unwrap()
        });
    let app = Router::new()
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .layer(layer);
    let addr = serve(app).await;

    let res = fetch(addr, "/me", &[]).await;
    assert_eq!(res.status, 401);
    assert_eq!(
        res.header("www-authenticate"),
        Some(r#"Bearer realm="api""#)
    );
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.body_str(), r#"{"status":401}"#);

    // A gRPC call gets the gRPC status instead.
    let res = fetch(addr, "/me", &[b"content-type: application/grpc"]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("grpc-status"), Some("16"));

    assert_eq!(
        fetch(addr, "/me", &[auth.as_bytes()]).await.body_str(),
        "me alice"
    );
    assert_eq!(fetch(addr, "/maybe", &[]).await.body_str(), "anonymous");
    assert!(!logs.text().contains("ERROR"), "{}", logs.text());
}

#[tokio::test]
async fn optional_extractor_in_optional_mode() {
    let (store, auth) = store_and_token();
    let app = Router::new()
        .route("/maybe", get(maybe))
        .route_layer(BearerLayer::new(store).mode(Mode::Optional));
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

mod per_route {
    use super::*;
    use tower_bearer::integrations::axum::{Authorized, Requirement};
    use tower_bearer::{InsufficientScope, RequireSessionLayer};

    struct Admin;

    impl Requirement<Arc<Session>> for Admin {
        fn check(session: &Arc<Session>) -> Result<(), InsufficientScope> {
            if &*session.user_id == "alice" {
                Ok(())
            } else {
                Err(InsufficientScope::new("admin"))
            }
        }
    }

    fn admin(session: &Arc<Session>) -> Result<(), InsufficientScope> {
        Admin::check(session)
    }

    async fn admin_extractor(Authorized(s, ..): Authorized<Arc<Session>, Admin>) -> String {
        format!("admin {}", s.user_id)
    }

    /// One optional layer for the whole router; `/admin` adds a requirement with a route layer,
    /// `/admin2` with the `Authorized` extractor. The store resolves once per request.
    #[tokio::test]
    async fn require_session_layer_and_authorized_extractor() {
        let store = MemoryStore::new();
        let token = |user: &str| {
            let issued = store
                .create_now(user, (), CreateOptions::default())
                .unwrap();
            format!("authorization: Bearer {}", issued.token.as_str())
        };
        let (alice, bob) = (token("alice"), token("bob"));
        let app = Router::new()
            .route(
                "/admin",
                get(me).route_layer(RequireSessionLayer::new(admin)),
            )
            .route("/admin2", get(admin_extractor))
            .route("/maybe", get(maybe))
            .layer(
                BearerLayer::new(store.clone())
                    .mode(Mode::Optional)
                    .realm("api"),
            );
        let addr = serve(app).await;

        for path in ["/admin", "/admin2"] {
            let res = fetch(addr, path, &[alice.as_bytes()]).await;
            assert_eq!(res.status, 200, "{path}");
            let res = fetch(addr, path, &[bob.as_bytes()]).await;
            assert_eq!(res.status, 403, "{path}");
            // The outer layer's realm, as its own 403 would carry.
            assert_eq!(
                res.header("www-authenticate"),
                Some(
                    r#"Bearer realm="api", error="insufficient_scope", error_description="insufficient scope", scope="admin""#
                ),
                "{path}"
            );
            let res = fetch(addr, path, &[]).await;
            assert_eq!(res.status, 401, "{path}");
            assert_eq!(
                res.header("www-authenticate"),
                Some(r#"Bearer realm="api""#)
            );
        }
        assert_eq!(
            fetch(addr, "/admin2", &[alice.as_bytes()]).await.body_str(),
            "admin alice"
        );
        assert_eq!(
            fetch(addr, "/maybe", &[bob.as_bytes()]).await.body_str(),
            "maybe bob"
        );
    }
}

mod storable {
    use super::*;
    use std::convert::Infallible;
    use tower_bearer::{resolver_fn, BoxResolver};

    /// A layer kept in a struct field, its resolver's type erased: one over the store (which
    /// answers at once) and one over a closure (which waits).
    struct Auth {
        layer: BearerLayer<BoxResolver<Arc<Session>>>,
    }

    #[tokio::test]
    async fn a_boxed_resolver_behind_a_named_layer_type() {
        let (store, auth) = store_and_token();
        let waiting = store.clone();
        let layers = [
            Auth {
                layer: BearerLayer::new(BoxResolver::new(store)),
            },
            Auth {
                layer: BearerLayer::new(BoxResolver::new(resolver_fn(move |token| {
                    let session = waiting.resolve_now(token.as_str());
                    async move {
                        tokio::task::yield_now().await;
                        Ok::<_, Infallible>(session)
                    }
                }))),
            },
        ];
        for Auth { layer } in layers {
            let app = Router::new().route("/me", get(me)).route_layer(layer);
            let addr = serve(app).await;
            let res = fetch(addr, "/me", &[auth.as_bytes()]).await;
            assert_eq!((res.status, res.body_str()), (200, "me alice"));
            assert_eq!(
                fetch(addr, "/me", &[b"authorization: Bearer nope"])
                    .await
                    .status,
                401
            );
        }
    }
}
