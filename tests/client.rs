//! The client layer against the server layer, over a real socket on 127.0.0.1.

#[path = "../examples/client.rs"]
#[allow(dead_code)]
mod example;

use bytes::Bytes;
use http::{header::AUTHORIZATION, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_bearer::client::{BearerClientLayer, SharedToken};
use tower_bearer::store::{CreateOptions, MemoryStore};

#[tokio::test]
async fn round_trip_learn_send_override_clear() {
    let store = MemoryStore::new();
    let addr = example::demo_server(store.clone()).await;
    let token = SharedToken::new();
    let client = ServiceBuilder::new()
        .layer(BearerClientLayer::new(token.clone()).learn_from_response(true))
        .service(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
    let send = |req: Request<Empty<Bytes>>| {
        let mut client = client.clone();
        async move { client.ready().await.unwrap().call(req).await.unwrap() }
    };
    let get_me = || {
        Request::get(format!("http://{addr}/me"))
            .body(Empty::new())
            .unwrap()
    };

    assert_eq!(send(get_me()).await.status(), StatusCode::UNAUTHORIZED);
    assert!(!token.is_set());

    let res = send(
        Request::post(format!("http://{addr}/sign-in"))
            .body(Empty::new())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(token.is_set(), "the token was learned from set-auth-token");

    let res = send(get_me()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.into_body().collect().await.unwrap().to_bytes(),
        "client-user"
    );

    // A request that carries its own token keeps it.
    let other = store
        .create_now("someone-else", (), CreateOptions::default())
        .unwrap();
    let req = Request::get(format!("http://{addr}/me"))
        .header(AUTHORIZATION, format!("Bearer {}", other.token.as_str()))
        .body(Empty::new())
        .unwrap();
    let res = send(req).await;
    assert_eq!(
        res.into_body().collect().await.unwrap().to_bytes(),
        "someone-else"
    );

    token.clear();
    assert_eq!(send(get_me()).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_header_is_sensitive_and_set_once_per_request() {
    let token = SharedToken::new();
    token.set("abc").unwrap();
    let svc = ServiceBuilder::new()
        .layer(BearerClientLayer::new(token))
        .service(tower::service_fn(|req: Request<()>| async move {
            let values: Vec<_> = req
                .headers()
                .get_all(AUTHORIZATION)
                .iter()
                .cloned()
                .collect();
            Ok::<_, std::convert::Infallible>(http::Response::new(values))
        }));
    let values = svc.oneshot(Request::new(())).await.unwrap().into_body();
    assert_eq!(values.len(), 1);
    assert_eq!(values[0], "Bearer abc");
    assert!(values[0].is_sensitive());
}
