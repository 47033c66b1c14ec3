//! Configuration errors say which setting and which value (never a secret), and every error
//! chain, walked with `source()`, says each cause once: no `broken pipe: broken pipe`, no
//! SQLite message twice, and a Redis that fails is named, with its address.
#![cfg(all(
    feature = "jwt",
    feature = "introspection",
    feature = "redis",
    feature = "better-auth-sqlite",
    feature = "better-auth-redis",
    feature = "better-auth-http"
))]

mod support;

use std::error::Error;
use std::time::Duration;

use tower_bearer::better_auth::{HttpResolver, RedisStorageResolver, Signatures, SqlResolver};
use tower_bearer::oauth::{IntrospectionResolver, JwtResolver};
use tower_bearer::store::{CreateOptions, RedisStore, SessionStore};
use tower_bearer::BoxError;

/// Each link of the chain, and a check that no link repeats what the ones before it said.
fn links(error: &(dyn Error + 'static)) -> Vec<String> {
    let mut said = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        let before = said.join(": ");
        assert!(
            !before.contains(&text),
            "{text:?} is said twice in the chain {said:?}"
        );
        said.push(text);
        source = cause.source();
    }
    said
}

/// What `main` returning the error prints after `Error: `.
fn printed(error: &BoxError) -> String {
    format!("{error:?}")
}

#[test]
fn a_jwks_url_that_is_not_a_url_is_named_with_its_setting_and_value() {
    let error = JwtResolver::<()>::builder()
        .any_audience()
        .jwks_url("not a url")
        .unwrap_err();
    let expected = r#"jwks_url: "not a url" is not a URL: invalid uri character"#;
    assert_eq!(error.to_string(), expected);
    assert_eq!(printed(&error), expected);
    assert_eq!(links(&*error).len(), 1);

    let error = JwtResolver::<()>::builder()
        .any_audience()
        .jwks_url("ftp://user:s3cret-pw@keys.example/jwks")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"jwks_url: "ftp://keys.example/jwks": not an http(s) URL"#
    );
}

#[test]
fn an_issuer_url_that_is_not_a_url_is_named_with_its_setting_and_value() {
    let error = JwtResolver::<()>::builder()
        .any_audience()
        .issuer_url("not a url")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"issuer_url: "not a url" is not a URL: invalid uri character"#
    );
}

#[test]
fn an_introspection_endpoint_that_is_not_a_url_is_named() {
    let error = IntrospectionResolver::<()>::builder("http://a b")
        .any_audience()
        .build()
        .unwrap_err();
    assert_eq!(
        printed(&error),
        r#"introspection endpoint: "http://a b" is not a URL: invalid uri character"#
    );
}

#[test]
fn a_better_auth_base_url_that_is_not_http_is_named_without_its_password() {
    let error = HttpResolver::builder("https://app:s3cret-pw@auth.example")
        .build()
        .unwrap_err();
    assert_eq!(
        printed(&error),
        r#"HttpResolver::builder: better-auth's base URL "https://auth.example" is not an http:// URL"#
    );
}

#[tokio::test]
async fn database_urls_are_named_without_their_password() {
    let signatures = || Signatures::new(["better-auth-secret-for-tests-0123456789"]);
    let error = SqlResolver::builder(signatures())
        .connect("mongodb://app:s3cret-pw@db.internal/auth")
        .await
        .unwrap_err();
    let text = printed(&error);
    assert!(
        text.starts_with(
            r#"connect: "mongodb://db.internal/auth": unsupported database URL scheme "mongodb""#
        ),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");

    let error = RedisStorageResolver::builder(signatures())
        .connect("redis://:s3cret-pw@127.0.0.1:notaport/0")
        .await
        .unwrap_err();
    let text = printed(&error);
    assert!(
        text.starts_with(r#"connect: "redis://127.0.0.1:notaport/0" is not a Redis URL: "#),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");

    let error = RedisStore::builder()
        .connect::<()>("redis://:s3cret-pw@127.0.0.1:notaport/0")
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with(
            r#"session store failed: connect: "redis://127.0.0.1:notaport/0" is not a Redis URL: "#
        ),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
    assert_eq!(format!("{error:?}"), text, "main prints it as it is");
}

#[tokio::test]
async fn a_redis_that_is_down_is_named_with_its_address_and_each_cause_once() {
    let port = support::redis::free_port();
    let store: RedisStore = RedisStore::builder()
        .response_timeout(Duration::from_millis(500))
        .connect(&format!("redis://:s3cret-pw@127.0.0.1:{port}"))
        .await
        .unwrap();
    let error = store
        .create("user-1", (), CreateOptions::default())
        .await
        .unwrap_err();
    let said = links(&error);
    let text = said.join(": ");
    assert!(
        text.starts_with(&format!(
            "session store failed: Redis at redis://127.0.0.1:{port}: "
        )),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");

    let resolver = RedisStorageResolver::builder(Signatures::new(["s"]))
        .response_timeout(Duration::from_millis(500))
        .connect(&format!("redis://127.0.0.1:{port}/0"))
        .await
        .unwrap();
    let error = resolver.ping().await.unwrap_err();
    let said = links(&*error);
    assert_eq!(
        said[0],
        format!("better-auth's Redis storage at redis://127.0.0.1:{port}/0 failed")
    );
    assert_eq!(said.len(), 2, "{said:?}");
}

#[tokio::test]
async fn sqlites_message_is_said_once() {
    let url = "sqlite:///no-such-dir-for-tower-bearer/auth.db";
    let resolver = SqlResolver::builder(Signatures::new(["s"]))
        .connect(url)
        .await
        .unwrap();
    let error = resolver.ping().await.unwrap_err();
    let said = links(&*error);
    assert_eq!(
        said[0],
        "better-auth's database at sqlite:///no-such-dir-for-tower-bearer/auth.db failed"
    );
    assert_eq!(
        said.join(": ")
            .matches("unable to open database file")
            .count(),
        1,
        "{said:?}"
    );
}
