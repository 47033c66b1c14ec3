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

/// What better-auth answers a request with `key` (its session-from-key hook): the status and
/// its error code.
async fn better_auths_answer(node: &BetterAuth, header: &str, key: &str) -> (u16, String) {
    let line = format!("{header}: {key}");
    let r = support::get(node.addr, "/api/auth/get-session", &[line.as_bytes()]).await;
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    (
        r.status,
        body["code"].as_str().unwrap_or_default().to_owned(),
    )
}

/// `--api-keys` on each of better-auth's key storages: every key answered as better-auth answers
/// it at the same moment, 200 with `{"keyId", "referenceId", "permissions"}` for a live one.
async fn api_key_mode(node: &BetterAuth, backend: &[&str], header: &str) {
    use serde_json::json;
    let mut args = vec!["--api-keys", "--api-key-header", header];
    args.extend_from_slice(backend);
    let api = example::start("better_auth_api", &args);
    let user = node.post_json("/test/user", json!({})).await["userId"].clone();
    let create = |settings: serde_json::Value| {
        let mut settings = settings;
        settings["userId"] = user.clone();
        async move {
            let created = node.post_json("/test/api-key/create", settings).await;
            let text = |f: &str| created[f].as_str().unwrap().to_owned();
            (text("key"), text("id"))
        }
    };
    let call = |key: String| {
        let line = format!("{header}: {key}");
        async move { support::get(api.addr, "/api/data", &[line.as_bytes()]).await }
    };

    let (key, id) = create(json!({ "permissions": { "files": ["read"] } })).await;
    let ok = call(key.clone()).await;
    assert_eq!(ok.status, 200, "{}", ok.body_str());
    let body: serde_json::Value = serde_json::from_slice(&ok.body).unwrap();
    assert_eq!(
        body,
        json!({ "keyId": id, "referenceId": user, "permissions": { "files": ["read"] } })
    );
    assert_eq!(better_auths_answer(node, header, &key).await.0, 200);
    // Without the header: the layer's 401.
    let none = support::get(api.addr, "/api/data", &[]).await;
    assert_eq!(none.status, 401);

    let unknown = "u".repeat(64);
    let (disabled, _) = create(json!({ "enabled": false })).await;
    let (expired, expired_id) = create(json!({ "expiresIn": 3600 })).await;
    node.post_json(
        "/test/api-key/set",
        json!({ "id": expired_id, "fields": { "expiresAt": "2020-01-01T00:00:00.000Z" } }),
    )
    .await;
    let (expired_too, expired_too_id) = create(json!({ "expiresIn": 3600 })).await;
    node.post_json(
        "/test/api-key/set",
        json!({ "id": expired_too_id, "fields": { "expiresAt": "2020-01-01T00:00:00.000Z" } }),
    )
    .await;
    let (once, _) = create(json!({ "remaining": 1 })).await;
    let (once_too, _) = create(json!({ "remaining": 1 })).await;
    let (limited, _) = create(json!({ "rateLimitTimeWindow": 60_000, "rateLimitMax": 1 })).await;
    // Each spent in the same way on both sides first.
    for key in [&once, &limited] {
        assert_eq!(call(key.clone()).await.status, 200);
    }
    assert_eq!(better_auths_answer(node, header, &once_too).await.0, 200);
    for (key, twin, status, code) in [
        (&unknown, &unknown, 401, "INVALID_API_KEY"),
        (&disabled, &disabled, 401, "KEY_DISABLED"),
        (&expired, &expired_too, 401, "KEY_EXPIRED"),
        (&once, &once_too, 429, "USAGE_EXCEEDED"),
    ] {
        let ours = call(key.clone()).await;
        assert_eq!(ours.status, status, "{code}");
        assert_eq!(
            better_auths_answer(node, header, twin).await,
            (status, code.into())
        );
    }
    // Rate limited on both sides (the window is shared): 429 and when to retry.
    let ours = call(limited.clone()).await;
    assert_eq!(ours.status, 429);
    assert!(ours.header("retry-after").is_some());
    assert_eq!(
        better_auths_answer(node, header, &limited).await,
        (429, "RATE_LIMITED".into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn api_key_mode_over_better_auths_database_answers_as_better_auth() {
    let url = sqlite_url();
    let node = BetterAuth::start(&url, &[("BA_PLUGINS", "api-key")]);
    api_key_mode(&node, &["--database", &url], "x-api-key").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn api_key_mode_over_better_auths_redis_storage_answers_as_better_auth() {
    let redis = RedisServer::start();
    let node = BetterAuth::start(
        &sqlite_url(),
        &[
            ("BA_PLUGINS", "api-key"),
            ("BA_REDIS", &redis.url()),
            ("BA_API_KEY_STORAGE", "secondary-storage"),
            ("BA_API_KEY_HEADERS", "x-partner-key"),
        ],
    );
    api_key_mode(&node, &["--redis", &redis.url()], "x-partner-key").await;
}

/// `--oauth-resource`: better-auth's OAuth provider's tokens for the resource, JWT and opaque.
#[cfg(all(feature = "jwt", feature = "introspection", feature = "dpop"))]
#[tokio::test(flavor = "multi_thread")]
async fn oauth_resource_mode_takes_the_providers_tokens_for_the_resource() {
    use serde_json::json;
    let node = BetterAuth::start(
        &sqlite_url(),
        &[
            ("BA_PLUGINS", "oauth-provider"),
            (
                "BA_OAUTH_RESOURCES",
                "https://api.example/,https://other.example/",
            ),
        ],
    );
    let client = node.post_json("/test/oauth/client", json!({})).await;
    let (id, secret) = (
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    );
    let issuer = format!("{}/api/auth", node.url());
    let api = example::start(
        "better_auth_api",
        &[
            "--oauth-resource",
            "https://api.example/",
            "--issuer",
            &issuer,
            "--client-id",
            id,
            "--client-secret",
            secret,
        ],
    );
    let token = |resource: Option<&str>| {
        let mut form = String::from("grant_type=client_credentials&scope=read");
        if let Some(resource) = resource {
            form.push_str(&format!("&resource={resource}"));
        }
        async move {
            use base64ct::{Base64, Encoding};
            let basic = Base64::encode_string(format!("{id}:{secret}").as_bytes());
            let auth = format!("authorization: Basic {basic}");
            let r = support::request(
                node.addr,
                "POST",
                "/api/auth/oauth2/token",
                &[
                    auth.as_bytes(),
                    b"content-type: application/x-www-form-urlencoded",
                ],
                form.as_bytes(),
            )
            .await;
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            body["access_token"].as_str().unwrap().to_owned()
        }
    };
    for resource in [Some("https%3A%2F%2Fapi.example%2F"), None] {
        let r = data(&api, Some(&token(resource).await)).await;
        assert_eq!(r.status, 200, "{resource:?}: {}", r.body_str());
        let claims: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(claims["client_id"], id);
    }
    let elsewhere = token(Some("https%3A%2F%2Fother.example%2F")).await;
    assert_eq!(data(&api, Some(&elsewhere)).await.status, 401);
    // The metadata names better-auth as the authorization server.
    let metadata = support::get(api.addr, "/.well-known/oauth-protected-resource", &[]).await;
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.body).unwrap();
    assert_eq!(metadata["authorization_servers"], json!([issuer]));
}
