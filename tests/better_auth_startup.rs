//! A misconfigured backend found at start-up, not by a stream of 503s: each better-auth
//! resolver's `ping` fails with the backend's address (never its password) and the cause, and
//! the layer's warning for a failing request names them too.
#![cfg(all(
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite",
    feature = "better-auth-redis",
    feature = "better-auth-http"
))]

mod support;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower::{service_fn, ServiceExt};
use tower_bearer::better_auth::{HttpResolver, RedisStorageResolver, Signatures, SqlResolver};
use tower_bearer::{BearerLayer, BoxError, TokenChars};

/// The error and its causes, as the layer's warning writes them.
fn chain(error: &BoxError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn signatures() -> Signatures {
    Signatures::new(["better-auth-secret-for-tests-0123456789"])
}

fn closed_port() -> u16 {
    support::redis::free_port()
}

#[tokio::test]
async fn a_mistyped_sqlite_path_is_named_by_ping_and_by_the_layers_warning() {
    let url = "sqlite:///no-such-dir-for-tower-bearer/auth.db";
    let resolver = SqlResolver::builder(signatures())
        .timeout(Duration::from_secs(2))
        .connect(url)
        .await
        .expect("connects lazily");
    let error = resolver.ping().await.unwrap_err();
    let text = chain(&error);
    assert!(
        text.starts_with(
            "better-auth's database at sqlite:///no-such-dir-for-tower-bearer/auth.db failed: "
        ),
        "{text}"
    );
    assert!(text.contains("unable to open database file"), "{text}");

    // Serving anyway: the 503's warning says the same.
    let (logs, _guard) = support::Logs::capture();
    let service = BearerLayer::new(resolver)
        .token_chars(TokenChars::Visible)
        .build(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }));
    let token = "AbCdEfGhIjKlMnOpQrStUvWxYz012345";
    let request = Request::builder()
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let log = logs.text();
    assert!(log.contains(" WARN "), "{log}");
    assert!(
        log.contains(
            "better-auth's database at sqlite:///no-such-dir-for-tower-bearer/auth.db failed: "
        ),
        "{log}"
    );
    assert!(!log.contains(token), "{log}");
}

#[tokio::test]
async fn a_database_that_is_not_there_is_named_without_its_password() {
    let port = closed_port();
    let url = format!("postgres://app:s3cret-pw@127.0.0.1:{port}/auth?password=s3cret-pw");
    let resolver = SqlResolver::builder(signatures())
        .timeout(Duration::from_secs(2))
        .acquire_timeout(Duration::from_secs(1))
        .connect(&url)
        .await
        .unwrap();
    let text = chain(&resolver.ping().await.unwrap_err());
    assert!(
        text.starts_with(&format!(
            "better-auth's database at postgres://127.0.0.1:{port}/auth failed: "
        )),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
    assert!(!format!("{resolver:?}").contains("s3cret"));

    // The real one answers.
    let resolver = SqlResolver::builder(signatures())
        .connect("postgres://postgres@127.0.0.1:5432/test")
        .await
        .unwrap();
    let error = resolver.ping().await.unwrap_err();
    // The test database has no better-auth tables: the check names what is missing.
    assert!(
        chain(&error).contains(
            "the database does not have what the Schema reads: there is no table \"session\"; \
             there is no table \"user\""
        ),
        "{}",
        chain(&error)
    );
}

/// better-auth's core tables, without any plugin's columns, dates of type `date`.
fn core_tables(date: &str) -> [String; 2] {
    [
        format!(
            r#"CREATE TABLE "user" (id text primary key, name text, email text,
               "emailVerified" boolean, image text, "createdAt" {date}, "updatedAt" {date})"#
        ),
        format!(
            r#"CREATE TABLE "session" (id text primary key, token text, "userId" text,
               "expiresAt" {date}, "createdAt" {date}, "updatedAt" {date}, "ipAddress" text,
               "userAgent" text)"#
        ),
    ]
}

/// What `Schema::admin()` over a database without the admin plugin says, by ping and by a
/// request: the admin plugin's columns, table by table.
async fn admin_without_the_plugin(url: &str) {
    use tower_bearer::better_auth::Schema;
    use tower_bearer::{BearerToken, SessionResolver};

    let resolver = SqlResolver::builder(signatures())
        .schema(Schema::new().admin())
        .connect(url)
        .await
        .unwrap();
    let expected = "the database does not have what the Schema reads: table \"session\" lacks \
                    \"impersonatedBy\", the admin plugin's (add admin() to better-auth's plugins \
                    and migrate, or drop Schema::admin()); table \"user\" lacks \"role\", \
                    \"banned\", \"banReason\", \"banExpires\", the admin plugin's (add admin() \
                    to better-auth's plugins and migrate, or drop Schema::admin())";
    let text = chain(&resolver.ping().await.unwrap_err());
    assert!(text.ends_with(&format!("failed: {expected}")), "{text}");

    // A request says the same, with the query's own error after it.
    let error = resolver
        .resolve(BearerToken::new("AbCdEfGhIjKlMnOpQrStUvWxYz012345"))
        .await
        .unwrap_err();
    let text = chain(&error);
    assert!(
        text.contains(&format!("failed: {expected} (the query: ")),
        "{text}"
    );

    // Without admin(), the core tables pass.
    SqlResolver::builder(signatures())
        .connect(url)
        .await
        .unwrap()
        .ping()
        .await
        .unwrap();
}

#[tokio::test]
async fn schema_admin_without_the_admin_plugin_names_its_columns_on_sqlite() {
    use sqlx::Connection;
    let dir = std::env::temp_dir().join(format!(
        "tower-bearer-schema-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/auth.db?mode=rwc", dir.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    for statement in core_tables("text") {
        sqlx::query(&statement).execute(&mut conn).await.unwrap();
    }
    admin_without_the_plugin(&url).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn schema_admin_without_the_admin_plugin_names_its_columns_on_postgres() {
    use sqlx::Connection;
    let url = support::better_auth::postgres_database().await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    for statement in core_tables("timestamptz") {
        sqlx::query(&statement).execute(&mut conn).await.unwrap();
    }
    drop(conn);
    admin_without_the_plugin(&url).await;
    support::better_auth::drop_postgres_database(&url).await;
}

#[tokio::test]
async fn a_redis_that_is_not_there_is_named_without_its_password() {
    let port = closed_port();
    let resolver = RedisStorageResolver::builder(signatures())
        .response_timeout(Duration::from_millis(500))
        .connect(&format!("redis://:s3cret-pw@127.0.0.1:{port}/0"))
        .await
        .unwrap();
    let text = chain(&resolver.ping().await.unwrap_err());
    assert!(
        text.starts_with(&format!(
            "better-auth's Redis storage at redis://127.0.0.1:{port}/0 failed: "
        )),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");

    let redis = support::redis::RedisServer::start();
    let resolver = RedisStorageResolver::builder(signatures())
        .connect(&redis.url())
        .await
        .unwrap();
    resolver.ping().await.unwrap();
}

#[tokio::test]
async fn a_wrong_better_auth_url_or_base_path_is_found_by_ping() {
    // A server that is there but is not better-auth's get-session: 404.
    let other = support::serve(service_fn(|_: Request<hyper::body::Incoming>| async {
        let mut response = Response::new(Full::new(Bytes::from_static(b"not found")));
        *response.status_mut() = StatusCode::NOT_FOUND;
        Ok::<_, Infallible>(response)
    }))
    .await;
    let resolver = HttpResolver::builder(format!("http://user:s3cret-pw@{other}"))
        .build()
        .unwrap();
    let text = chain(&resolver.ping().await.unwrap_err());
    assert_eq!(
        text,
        format!("better-auth's get-session at http://{other}/api/auth/get-session failed: answered 404 Not Found")
    );

    // One that answers get-session as better-auth does without a token: `200 null`.
    let null = support::serve(service_fn(|_: Request<hyper::body::Incoming>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"null"))))
    }))
    .await;
    let resolver = HttpResolver::builder(format!("http://{null}"))
        .build()
        .unwrap();
    resolver.ping().await.unwrap();

    let port = closed_port();
    let resolver = HttpResolver::builder(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    let text = chain(&resolver.ping().await.unwrap_err());
    assert!(
        text.starts_with(&format!(
            "better-auth's get-session at http://127.0.0.1:{port}/api/auth/get-session failed: "
        )),
        "{text}"
    );
}
