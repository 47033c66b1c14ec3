//! Every refusal says why at `DEBUG` (what `RUST_LOG=tower_bearer=debug` shows): a wrong
//! `BETTER_AUTH_SECRET` is not mistaken for a revoked token, a missing or expired session row
//! is named, a JWT's wrong issuer shows the expected and the received `iss`. No line holds
//! the token, a part of one, or a secret.
#![cfg(all(
    feature = "better-auth-sqlite",
    feature = "better-auth-redis",
    feature = "redis",
    feature = "memory-store",
    feature = "jwt"
))]

mod support;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use support::redis::RedisServer;
use support::Logs;
use tower_bearer::better_auth::{RedisStorageResolver, Signatures, SqlResolver};
use tower_bearer::oauth::{Algorithm, JwtResolver, Key, KeySet};
use tower_bearer::store::{CreateOptions, MemoryStore, RedisStore, SessionStore};
use tower_bearer::{BearerToken, SessionResolver};

const SECRET: &str = "better-auth-secret-for-tests-0123456789";
const WRONG_SECRET: &str = "a-secret-better-auth-never-had-0123456789";
const TOKEN: &str = "ReasonsTokenAbCdEfGhIjKlMnOpQrStU";

fn hmac(key: &[u8], message: &str) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// `token.signature`, as better-auth signs a bearer value.
fn signed(token: &str, secret: &str) -> String {
    format!(
        "{token}.{}",
        Base64::encode_string(&hmac(secret.as_bytes(), token))
    )
}

/// The DEBUG lines with `why`, and a check that none holds the token, its signature or a
/// secret.
fn reasons(logs: &Logs, value: &str) -> String {
    let text = logs.text();
    for secret in [value, TOKEN, SECRET, WRONG_SECRET] {
        assert!(!text.contains(secret), "{secret:?} is in the log:\n{text}");
    }
    if let Some((_, signature)) = value.rsplit_once('.') {
        assert!(
            !text.contains(signature),
            "the signature is in the log:\n{text}"
        );
    }
    text
}

/// A SQLite database with better-auth's core tables, removed when dropped.
struct Database(PathBuf);

impl Database {
    async fn new() -> (Database, String) {
        use sqlx::Connection;
        let dir = std::env::temp_dir().join(format!(
            "tower-bearer-reasons-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/auth.db?mode=rwc", dir.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        for statement in [
            r#"CREATE TABLE "user" (id text primary key, name text, email text,
               "emailVerified" integer, image text, "createdAt" text, "updatedAt" text)"#,
            r#"CREATE TABLE "session" (id text primary key, token text, "userId" text,
               "expiresAt" text, "createdAt" text, "updatedAt" text, "ipAddress" text,
               "userAgent" text)"#,
            r#"INSERT INTO "user" VALUES ('u1', 'Ada', 'ada@example.com', 1, NULL,
               '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')"#,
        ] {
            sqlx::query(statement).execute(&mut conn).await.unwrap();
        }
        (Database(dir), url)
    }

    async fn add_session(url: &str, token: &str, expires_at: SystemTime) {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        let at = humantime::format_rfc3339_millis(expires_at).to_string();
        sqlx::query(
            r#"INSERT INTO "session" VALUES ('s1', ?1, 'u1', ?2, '2026-01-01T00:00:00.000Z',
               '2026-01-01T00:00:00.000Z', NULL, NULL)"#,
        )
        .bind(token)
        .bind(at)
        .execute(&mut conn)
        .await
        .unwrap();
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn a_wrong_better_auth_secret_is_said_not_mistaken_for_a_revoked_token() {
    let (_db, url) = Database::new().await;
    let resolver = SqlResolver::builder(Signatures::new([SECRET]))
        .connect(&url)
        .await
        .unwrap();
    // Signed by a better-auth whose secret is another: the service has the wrong one.
    let value = signed(TOKEN, WRONG_SECRET);
    let (logs, _guard) = Logs::capture_debug();
    let found = resolver.resolve(BearerToken::new(&value)).await.unwrap();
    assert!(found.is_none());
    let log = reasons(&logs, &value);
    assert!(log.contains("DEBUG"), "{log}");
    assert!(
        log.contains(
            "why=\"the signature verifies with none of the configured secrets: is \
             BETTER_AUTH_SECRET the better-auth server's own?\""
        ),
        "{log}"
    );
    assert!(log.contains("better_auth::SqlResolver"), "{log}");
}

#[tokio::test]
async fn sql_no_row_and_an_expired_row_are_told_apart() {
    let (_db, url) = Database::new().await;
    let resolver = SqlResolver::builder(Signatures::new([SECRET]))
        .connect(&url)
        .await
        .unwrap();
    let value = signed(TOKEN, SECRET);

    let (logs, guard) = Logs::capture_debug();
    assert!(resolver
        .resolve(BearerToken::new(&value))
        .await
        .unwrap()
        .is_none());
    let log = reasons(&logs, &value);
    assert!(log.contains("why=\"no session row has the token"), "{log}");
    drop(guard);

    let expired = SystemTime::now() - Duration::from_secs(60);
    Database::add_session(&url, TOKEN, expired).await;
    let (logs, _guard) = Logs::capture_debug();
    assert!(resolver
        .resolve(BearerToken::new(&value))
        .await
        .unwrap()
        .is_none());
    let log = reasons(&logs, &value);
    assert!(log.contains("why=\"the session expired\""), "{log}");
    let when = humantime::format_rfc3339_millis(expired).to_string();
    assert!(log.contains(&format!("expires_at={when}")), "{log}");
}

#[tokio::test]
async fn redis_storage_and_redis_store_say_there_is_no_session() {
    let redis = RedisServer::start();
    let resolver = RedisStorageResolver::builder(Signatures::new([SECRET]))
        .connect(&redis.url())
        .await
        .unwrap();
    let value = signed(TOKEN, SECRET);
    let (logs, guard) = Logs::capture_debug();
    assert!(resolver
        .resolve(BearerToken::new(&value))
        .await
        .unwrap()
        .is_none());
    let log = reasons(&logs, &value);
    assert!(
        log.contains("why=\"no session in Redis has the token"),
        "{log}"
    );
    assert!(log.contains("better_auth::RedisStorageResolver"), "{log}");
    drop(guard);

    // A token the store issued, then revoked.
    let store: RedisStore = RedisStore::builder().connect(&redis.url()).await.unwrap();
    let issued = store
        .create("user-1", (), CreateOptions::default())
        .await
        .unwrap();
    let token = issued.token.as_str().to_owned();
    store.revoke_token(BearerToken::new(&token)).await.unwrap();
    let (logs, _guard) = Logs::capture_debug();
    assert!(store
        .resolve(BearerToken::new(&token))
        .await
        .unwrap()
        .is_none());
    let log = reasons(&logs, &token);
    assert!(
        log.contains("why=\"no session in Redis has the token"),
        "{log}"
    );
    assert!(log.contains("resolver=\"RedisStore\""), "{log}");
}

#[tokio::test]
async fn memory_store_says_there_is_no_session() {
    let store: MemoryStore = MemoryStore::new();
    let issued = store
        .create("user-1", (), CreateOptions::default())
        .await
        .unwrap();
    let token = issued.token.as_str().to_owned();
    store.revoke_token(BearerToken::new(&token)).await.unwrap();
    let (logs, _guard) = Logs::capture_debug();
    assert!(store
        .resolve(BearerToken::new(&token))
        .await
        .unwrap()
        .is_none());
    let log = reasons(&logs, &token);
    assert!(log.contains("why=\"no session has the token"), "{log}");
}

#[tokio::test]
async fn a_jwts_wrong_issuer_shows_the_expected_and_the_received() {
    let secret = b"a-shared-secret-of-32-bytes-or-more!";
    let header = Base64UrlUnpadded::encode_string(br#"{"alg":"HS256"}"#);
    let payload = Base64UrlUnpadded::encode_string(
        br#"{"sub":"svc","exp":4102444800,"iss":"https://other.example"}"#,
    );
    let signature = Base64UrlUnpadded::encode_string(&hmac(secret, &format!("{header}.{payload}")));
    let jwt = format!("{header}.{payload}.{signature}");
    let resolver: JwtResolver = JwtResolver::builder()
        .any_audience()
        .issuer("https://auth.example")
        .keys(KeySet::new([
            Key::hmac(secret, Algorithm::HS256, None).unwrap()
        ]))
        .unwrap();
    let (logs, _guard) = Logs::capture_debug();
    assert!(resolver
        .resolve(BearerToken::new(&jwt))
        .await
        .unwrap()
        .is_none());
    let log = reasons(&logs, &jwt);
    assert!(
        log.contains("expected_iss=\"https://auth.example\""),
        "{log}"
    );
    assert!(log.contains("iss=\"https://other.example\""), "{log}");
    assert!(log.contains("why=\"wrong issuer\""), "{log}");
}
