//! examples/custom_resolver: an introspection-endpoint resolver, run as its binary against an
//! introspection endpoint of the test's own, including the backend's failures.

mod support;

use std::net::SocketAddr;

use support::example::Running;
use support::get;

async fn spawn(app: axum::Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, task)
}

/// An RFC 7662 endpoint that calls one token active.
fn introspection_endpoint(known: &'static str) -> axum::Router {
    axum::Router::new().route(
        "/introspect",
        axum::routing::post(move |form: String| async move {
            let active = form
                == format!(
                    "token={}",
                    known
                        .replace('+', "%2B")
                        .replace('/', "%2F")
                        .replace('=', "%3D")
                );
            axum::Json(if active {
                serde_json::json!({"active": true, "sub": "user-42", "scope": "read write"})
            } else {
                serde_json::json!({"active": false})
            })
        }),
    )
}

/// The example's API, resolving through the endpoint at `idp`.
fn api(idp: SocketAddr) -> Running {
    let url = format!("http://{idp}/introspect");
    support::example::start("custom_resolver", &["--introspection-url", &url])
}

#[tokio::test]
async fn active_inactive_and_backend_down() {
    let (idp, idp_task) = spawn(introspection_endpoint("tok+en/1=")).await;
    let example = api(idp);
    let api = example.addr;

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
    let example = api(idp);
    assert_eq!(
        get(example.addr, "/", &[b"authorization: Bearer x"])
            .await
            .status,
        503
    );
}
