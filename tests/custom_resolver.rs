//! examples/custom_resolver.rs: an introspection-endpoint resolver, including its error path.

mod support;

#[path = "../examples/custom_resolver.rs"]
#[allow(dead_code)]
mod example;

use std::net::SocketAddr;

use support::get;

async fn spawn(app: axum::Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, tokio::spawn(example::serve(listener, app)))
}

#[tokio::test]
async fn active_inactive_and_backend_down() {
    let (idp, idp_task) = spawn(example::introspection_endpoint("tok+en/1=")).await;
    let resolver = example::IntrospectionResolver::new(format!("http://{idp}/introspect"));
    let (api, _) = spawn(example::api(resolver)).await;

    let res = get(api, "/", &[b"authorization: Bearer tok+en/1="]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body_str(), "user-42 (read write)\n");

    let res = get(api, "/", &[b"authorization: Bearer someone-else"]).await;
    assert_eq!(res.status, 401);
    assert!(res
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));

    // The backend goes down: the client gets 503, with no challenge and no detail.
    idp_task.abort();
    let _ = idp_task.await;
    // Dropping axum's serve future closes its open connections asynchronously; give the pooled
    // keep-alive connection time to go, so the next lookup meets a dead backend.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let res = get(api, "/", &[b"authorization: Bearer tok+en/1="]).await;
    assert_eq!(res.status, 503);
    assert_eq!(res.header("www-authenticate"), None);
    assert!(res.body.is_empty());
}

#[tokio::test]
async fn an_endpoint_answering_garbage_is_503() {
    let garbage =
        axum::Router::new().route("/introspect", axum::routing::post(|| async { "not json" }));
    let (idp, _) = spawn(garbage).await;
    let (api, _) = spawn(example::api(example::IntrospectionResolver::new(format!(
        "http://{idp}/introspect"
    ))))
    .await;
    assert_eq!(
        get(api, "/", &[b"authorization: Bearer x"]).await.status,
        503
    );
}
