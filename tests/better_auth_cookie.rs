//! better-auth's own session cookie, from a real better-auth 1.7.25 server, reaching a Rust
//! route with the cookie alone: `SessionCookie::better_auth()` over the `SqlResolver`.
#![cfg(all(feature = "better-auth-postgres", feature = "better-auth-sqlite"))]

mod support;

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use support::better_auth::{BetterAuth, SECRET};
use tower::{service_fn, ServiceBuilder};
use tower_bearer::better_auth::{BetterAuthSession, Signatures, SqlResolver};
use tower_bearer::{BearerLayer, SessionCookie};

/// Who the session belongs to, as the handler sees it.
async fn whoami<B>(req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let who = req
        .extensions()
        .get::<BetterAuthSession>()
        .map_or("-".to_string(), |s| s.user.email.clone());
    Ok(Response::new(Full::new(Bytes::from(who))))
}

/// Signs in over HTTP as a browser does and returns the `Set-Cookie` value of better-auth's
/// session cookie (`name=value`, attributes dropped).
async fn browser_sign_in(node: &BetterAuth, email: &str) -> String {
    let body = format!(r#"{{"email":"{email}","password":"securepassword","name":"Ada"}}"#);
    let r = support::request(
        node.addr,
        "POST",
        "/api/auth/sign-up/email",
        &[b"content-type: application/json"],
        body.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body_str());
    let cookie = r
        .headers
        .iter()
        .filter(|(name, _)| name == "set-cookie")
        .find_map(|(_, value)| value.strip_prefix("better-auth.session_token="))
        .expect("better-auth sets its session cookie");
    let value = cookie.split(';').next().unwrap();
    assert!(
        value.contains('.'),
        "the cookie holds the signed value: {value}"
    );
    format!("better-auth.session_token={value}")
}

#[tokio::test(flavor = "multi_thread")]
async fn better_auths_cookie_alone_reaches_a_rust_route() {
    let dir = std::env::temp_dir().join(format!("tb-bac-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/auth.db", dir.display());
    let node = BetterAuth::start(&url, &[]);
    let cookie = browser_sign_in(&node, "ada@example.com").await;
    let cookie_line = format!("cookie: theme=dark; {cookie}");

    // better-auth itself takes the cookie: the reference answer.
    let own = support::get(
        node.addr,
        "/api/auth/get-session",
        &[cookie_line.as_bytes()],
    )
    .await;
    let own: serde_json::Value = serde_json::from_slice(&own.body).unwrap();
    assert_eq!(own["user"]["email"], "ada@example.com", "{own}");

    let resolver = SqlResolver::builder(Signatures::new([SECRET]))
        .connect(&url)
        .await
        .unwrap();
    let layer = BearerLayer::new(resolver)
        .cookie_token(SessionCookie::better_auth().trusted_origin("http://app.localhost:3000"));
    let addr = support::serve(
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(whoami)),
    )
    .await;

    let get = support::get(addr, "/me", &[cookie_line.as_bytes()]).await;
    assert_eq!((get.status, get.body_str()), (200, "ada@example.com"));

    // A state-changing request the cookie authenticates needs a trusted origin.
    let post = |origin: Option<&'static str>| {
        let cookie_line = cookie_line.clone();
        async move {
            let origin = origin.map(|o| format!("origin: {o}"));
            let mut lines = vec![cookie_line.as_bytes()];
            if let Some(origin) = &origin {
                lines.push(origin.as_bytes());
            }
            support::request(addr, "POST", "/me", &lines, b"{}").await
        }
    };
    let trusted = post(Some("http://app.localhost:3000")).await;
    assert_eq!(
        (trusted.status, trusted.body_str()),
        (200, "ada@example.com")
    );
    assert_eq!(post(Some("http://evil.localhost")).await.status, 403);
    assert_eq!(post(None).await.status, 403);

    // A cookie whose signature is not better-auth's is refused, as better-auth refuses it.
    let (name_value, _) = cookie.rsplit_once('.').unwrap();
    let forged = format!("cookie: {name_value}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D");
    let refused = support::get(addr, "/me", &[forged.as_bytes()]).await;
    assert_eq!(refused.status, 401);
    let own = support::get(node.addr, "/api/auth/get-session", &[forged.as_bytes()]).await;
    assert_eq!(own.body_str(), "null");

    // better-auth's own origin check answers a foreign origin the same way.
    let sign_out = |origin: String| {
        let cookie_line = cookie_line.clone();
        async move {
            let origin = format!("origin: {origin}");
            let lines = [
                cookie_line.as_bytes(),
                origin.as_bytes(),
                b"content-type: application/json",
            ];
            support::request(node.addr, "POST", "/api/auth/sign-out", &lines, b"{}").await
        }
    };
    let foreign = sign_out("http://evil.localhost".into()).await;
    assert_eq!(foreign.status, 403, "{}", foreign.body_str());

    // Signed out in better-auth, the cookie is dead in Rust too.
    let out = sign_out(node.url()).await;
    assert_eq!(out.status, 200, "{}", out.body_str());
    assert_eq!(
        support::get(addr, "/me", &[cookie_line.as_bytes()])
            .await
            .status,
        401
    );
    drop(node);
    let _ = std::fs::remove_dir_all(dir);
}
