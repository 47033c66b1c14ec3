//! `HttpResolver` against a real better-auth 1.7.25 server's get-session, and against servers
//! that fail in the ways a backend fails.
#![cfg(all(
    feature = "better-auth-http",
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite"
))]

mod support;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use support::better_auth::{agree_with_better_auth, resolve, BetterAuth, SECRET};
use tower_bearer::better_auth::{CacheSettings, HttpResolver, Signatures};

fn sqlite_url() -> String {
    let dir = std::env::temp_dir().join(format!("tb-bah-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite://{}/auth.db", dir.display())
}

#[tokio::test(flavor = "multi_thread")]
async fn get_session_matches_better_auth() {
    let db = sqlite_url();
    let mut node = BetterAuth::start(&db, &[]);
    let plain = HttpResolver::builder(node.url())
        .no_cache()
        .build()
        .unwrap();
    let window = Duration::from_millis(400);
    let cached = HttpResolver::builder(node.url())
        .cache(CacheSettings::default().positive(window).negative(window))
        .build()
        .unwrap();
    let ada = node.sign_up("ada@example.com").await;
    agree_with_better_auth(&node, &plain, &ada).await;
    agree_with_better_auth(&node, &cached, &ada).await;

    // Sign-out: seen at once without the cache; with it, within the window and not before
    // the entry is gone.
    let second = node.sign_in("ada@example.com").await;
    assert!(resolve(&cached, &second.signed).await.unwrap().is_some());
    let signed_out = Instant::now();
    node.sign_out(&second.signed).await;
    assert!(resolve(&plain, &second.signed).await.unwrap().is_none());
    assert!(
        resolve(&cached, &second.signed).await.unwrap().is_some(),
        "the cached answer stands until it expires (the documented lag)"
    );
    loop {
        if resolve(&cached, &second.signed).await.unwrap().is_none() {
            break;
        }
        assert!(signed_out.elapsed() < window + Duration::from_millis(300));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // An expired session: better-auth refuses it, so the resolver does.
    let old = node.sign_in("ada@example.com").await;
    let past =
        humantime::format_rfc3339_millis(std::time::SystemTime::now() - Duration::from_secs(1));
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db)
        .await
        .unwrap();
    let update = format!(
        "UPDATE session SET \"expiresAt\" = '{past}' WHERE token = '{}'",
        old.token
    );
    sqlx::Executor::execute(&mut conn, update.as_str())
        .await
        .unwrap();
    assert!(resolve(&plain, &old.signed).await.unwrap().is_none());

    // Local signatures: a bad one costs no call (the server is gone, and still no error).
    let checked = HttpResolver::builder(node.url())
        .signatures(Signatures::new([SECRET]))
        .no_cache()
        .build()
        .unwrap();
    node.stop();
    assert!(resolve(&checked, &ada.refused()[1].1)
        .await
        .unwrap()
        .is_none());
    // The server stopped: an error (503), never a refusal.
    assert!(resolve(&plain, &ada.signed).await.is_err());
    assert!(resolve(&checked, &ada.signed).await.is_err());
}

/// A get-session stand-in that answers `status` with `body`, or never answers.
async fn stand_in(status: StatusCode, body: &'static str, hang: bool) -> String {
    let service = tower::service_fn(move |_: Request<hyper::body::Incoming>| async move {
        if hang {
            std::future::pending::<()>().await;
        }
        let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *response.status_mut() = status;
        Ok::<_, Infallible>(response)
    });
    format!("http://{}", support::serve(service).await)
}

#[tokio::test]
async fn failing_servers_are_errors_and_null_is_no_session() {
    let value = "AbCdEfGhIjKlMnOpQrStUvWxYz012345";
    let resolver = |url: String| {
        HttpResolver::builder(url)
            .no_cache()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap()
    };
    let null = resolver(stand_in(StatusCode::OK, "null", false).await);
    assert!(resolve(&null, value).await.unwrap().is_none());
    for (status, body) in [
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"code":"FAILED_TO_GET_SESSION"}"#,
        ),
        (StatusCode::TOO_MANY_REQUESTS, ""),
        (StatusCode::OK, "{"),
        (StatusCode::OK, r#"{"session":{}}"#),
        (StatusCode::OK, "<html>"),
    ] {
        let r = resolver(stand_in(status, body, false).await);
        assert!(resolve(&r, value).await.is_err(), "{status} {body}");
    }
    let hanging = resolver(stand_in(StatusCode::OK, "null", true).await);
    let started = Instant::now();
    assert!(resolve(&hanging, value).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(HttpResolver::builder("https://auth.example")
        .build()
        .is_err());
}

/// An error and its sources, as the layer logs them.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn a_failure_names_the_server_and_its_cause_and_no_password() {
    let port = support::redis::free_port();
    let refused = HttpResolver::builder(format!("http://app:s3cr3t-pw@127.0.0.1:{port}"))
        .no_cache()
        .build()
        .unwrap();
    let error = resolve(&refused, "AbCdEfGhIjKlMnOpQrStUvWxYz012345")
        .await
        .unwrap_err();
    let text = chain(&*error);
    let url = format!("http://127.0.0.1:{port}/api/auth/get-session");
    assert!(text.contains(&url), "{text}");
    assert!(text.to_lowercase().contains("connection refused"), "{text}");
    assert!(!text.contains("s3cr3t-pw"), "{text}");

    let status = HttpResolver::builder(stand_in(StatusCode::BAD_GATEWAY, "", false).await)
        .no_cache()
        .build()
        .unwrap();
    let text = chain(
        &*resolve(&status, "AbCdEfGhIjKlMnOpQrStUvWxYz012345")
            .await
            .unwrap_err(),
    );
    assert!(text.ends_with("failed: answered 502 Bad Gateway"), "{text}");
}
