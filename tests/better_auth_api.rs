//! examples/better_auth_api.rs, run as users run it, behind a real better-auth 1.7.25 server:
//! with its database (SQLite, PostgreSQL), its Redis storage, and its HTTP API.
#![cfg(all(
    feature = "axum",
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite",
    feature = "better-auth-mysql",
    feature = "better-auth-redis",
    feature = "better-auth-http"
))]

mod support;

use std::time::{Duration, Instant};

use support::better_auth::{self as ba, Account, BetterAuth, SECRET};
use support::example::{self, Running};
use support::redis::RedisServer;

fn sqlite_url() -> String {
    let dir = std::env::temp_dir().join(format!("tb-api-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite://{}/auth.db", dir.display())
}

fn start_api(backend: &[&str]) -> Running {
    let mut args = vec!["--secret", SECRET];
    args.extend_from_slice(backend);
    example::start("better_auth_api", &args)
}

async fn data(api: &Running, value: Option<&str>) -> support::RawResponse {
    let auth = value.map(|v| format!("authorization: Bearer {v}"));
    let lines: Vec<&[u8]> = auth.iter().map(|a| a.as_bytes()).collect();
    support::get(api.addr, "/api/data", &lines).await
}

/// Every accepted form answers better-auth's own JSON; every refused one, and none, a 401
/// with the challenge.
async fn accepts_what_better_auth_accepts(api: &Running, node: &BetterAuth, account: &Account) {
    for (form, value) in account.accepted() {
        let r = data(api, Some(&value)).await;
        assert_eq!(r.status, 200, "{form}: {}", r.body_str());
        assert_eq!(r.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["user"]["email"], "ada@example.com");
        assert_eq!(Some(body), node.get_session(&value, false).await, "{form}");
    }
    let none = data(api, None).await;
    assert_eq!(none.status, 401);
    assert_eq!(
        none.header("www-authenticate"),
        Some(r#"Bearer realm="api""#)
    );
    for (form, value) in account.refused() {
        let r = data(api, Some(&value)).await;
        assert_eq!(r.status, 401, "{form}");
        assert_eq!(
            r.header("www-authenticate"),
            Some(
                r#"Bearer realm="api", error="invalid_token", error_description="the bearer token is invalid, expired or revoked""#
            ),
            "{form}"
        );
    }
}

async fn status_becomes(api: &Running, value: &str, status: u16, within: Duration) {
    let start = Instant::now();
    loop {
        let r = data(api, Some(value)).await;
        if r.status == status {
            return;
        }
        assert!(
            start.elapsed() < within,
            "still {} after {within:?}",
            r.status
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_better_auth_with_its_sqlite_database() {
    let db = sqlite_url();
    let node = BetterAuth::start(&db, &[]);
    let api = start_api(&["--database", &db]);
    let ada = node.sign_up("ada@example.com").await;
    accepts_what_better_auth_accepts(&api, &node, &ada).await;
    node.sign_out(&ada.signed).await;
    assert_eq!(data(&api, Some(&ada.signed)).await.status, 401);

    // --require-signature, and the secret from BETTER_AUTH_SECRET: the raw token is refused,
    // the signed one accepted.
    let strict = example::start_with_env(
        "better_auth_api",
        &["--database", &db, "--require-signature"],
        &[("BETTER_AUTH_SECRET", SECRET)],
    );
    let again = node.sign_in("ada@example.com").await;
    assert_eq!(data(&strict, Some(&again.token)).await.status, 401);
    assert_eq!(data(&strict, Some(&again.signed)).await.status, 200);
}

/// The example on a database server's database, which then stops existing: 503, never 401.
async fn behind_better_auth_on_a_server(db: &str) {
    let node = BetterAuth::start(db, &[]);
    let api = start_api(&["--database", db]);
    let ada = node.sign_up("ada@example.com").await;
    accepts_what_better_auth_accepts(&api, &node, &ada).await;
    let other = node.sign_in("ada@example.com").await;
    node.sign_out(&other.signed).await;
    assert_eq!(data(&api, Some(&other.signed)).await.status, 401);
    drop(node);
    ba::drop_database(db).await;
    let r = data(&api, Some(&ada.signed)).await;
    assert_eq!(r.status, 503, "{}", r.body_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_better_auth_with_its_postgres_database() {
    behind_better_auth_on_a_server(&ba::postgres_database().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_better_auth_with_its_mysql_database() {
    behind_better_auth_on_a_server(&ba::mysql_database().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_better_auth_with_its_redis_storage() {
    let mut redis = RedisServer::start();
    let node = BetterAuth::start(&sqlite_url(), &[("BA_REDIS", &redis.url())]);
    let api = start_api(&["--redis", &redis.url()]);
    let ada = node.sign_up("ada@example.com").await;
    accepts_what_better_auth_accepts(&api, &node, &ada).await;
    // Node's revoke-sessions: every session of the user, within milliseconds (cached).
    let other = node.sign_in("ada@example.com").await;
    assert_eq!(data(&api, Some(&other.signed)).await.status, 200);
    node.revoke_sessions(&other.signed).await;
    status_becomes(&api, &other.signed, 401, Duration::from_millis(500)).await;
    status_becomes(&api, &ada.signed, 401, Duration::from_millis(500)).await;
    // Redis stops: 503.
    let live = node.sign_in("ada@example.com").await;
    assert_eq!(data(&api, Some(&live.signed)).await.status, 200);
    redis.stop();
    status_becomes(&api, &live.signed, 503, Duration::from_secs(3)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_better_auth_through_its_http_api() {
    let mut node = BetterAuth::start(&sqlite_url(), &[]);
    let api = start_api(&["--better-auth-url", &node.url()]);
    let ada = node.sign_up("ada@example.com").await;
    accepts_what_better_auth_accepts(&api, &node, &ada).await;
    // Sign-out is seen once the cache's entry (5 s) expires.
    node.sign_out(&ada.signed).await;
    status_becomes(&api, &ada.signed, 401, Duration::from_secs(6)).await;
    // better-auth stops: 503 for a token not in the cache.
    let live = node.sign_in("ada@example.com").await;
    node.stop();
    assert_eq!(data(&api, Some(&live.signed)).await.status, 503);
}

/// A database server that is down when the API starts: it starts, and answers 503 until the
/// database is up (401 without a token, which needs no database). With `RUST_LOG` unset, it
/// says so at start-up and for the 503, naming the database without its password.
#[tokio::test(flavor = "multi_thread")]
async fn starts_and_answers_503_while_the_database_is_down() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("postgres://postgres:s3cret-pw@127.0.0.1:{port}/test");
    let api = example::start_with_env(
        "better_auth_api",
        &["--secret", SECRET, "--database", &url],
        &[("NO_COLOR", "1")],
    );
    let named = format!("better-auth's database at postgres://127.0.0.1:{port}/test failed: ");
    let startup = api.stderr();
    assert!(
        startup.contains(" WARN ")
            && startup.contains(&named)
            && startup.contains("serving anyway"),
        "{startup}"
    );
    let r = data(&api, Some("AbCdEfGhIjKlMnOpQrStUvWxYz012345")).await;
    assert_eq!(r.status, 503, "{}", r.body_str());
    assert_eq!(data(&api, None).await.status, 401);
    let logs = api.stderr();
    assert_eq!(logs.matches(&named).count(), 2, "{logs}");
    assert!(logs.contains("the session resolver failed"), "{logs}");
    assert!(!logs.contains("s3cret"), "{logs}");
}

/// JWT mode (feature `jwt`): `--jwks-url` with `--issuer` and `--audience`, no secret. A
/// better-auth JWT answers exactly its payload; any other token, 401 `invalid_token`; a JWKS
/// that cannot be fetched, 503; and the example starts while the JWKS is unreachable.
#[cfg(feature = "jwt")]
#[tokio::test(flavor = "multi_thread")]
async fn jwt_mode_answers_the_verified_payload() {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let node = BetterAuth::start(&sqlite_url(), &[("BA_JWT", "EdDSA")]);
    let ada = node.sign_up("ada@example.com").await;
    let jwks = format!("{}/api/auth/jwks", node.url());
    let api = example::start(
        "better_auth_api",
        &[
            "--jwks-url",
            &jwks,
            "--issuer",
            &node.url(),
            "--audience",
            &node.url(),
        ],
    );
    let jwt = node.jwt(&ada.signed).await;
    let r = data(&api, Some(&jwt)).await;
    assert_eq!(r.status, 200, "{}", r.body_str());
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let payload = Base64UrlUnpadded::decode_vec(jwt.split('.').nth(1).unwrap()).unwrap();
    let payload: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(body, payload, "exactly the payload");
    for refused in [ada.signed.as_str(), "not-a-jwt", &jwt[..jwt.len() - 2]] {
        let r = data(&api, Some(refused)).await;
        assert_eq!(r.status, 401);
        assert!(r
            .header("www-authenticate")
            .unwrap()
            .contains(r#"error="invalid_token""#));
    }

    // A JWKS nobody serves: the example starts, and a JWT that needs the keys gets 503.
    let nowhere = format!("http://127.0.0.1:{}/jwks", support::redis::free_port());
    let api = example::start(
        "better_auth_api",
        &["--jwks-url", &nowhere, "--audience", &node.url()],
    );
    assert_eq!(data(&api, Some(&jwt)).await.status, 503);
    assert_eq!(data(&api, Some("not-a-jwt")).await.status, 401);
}
