//! `SqlResolver` against a real better-auth 1.7.25 server on SQLite and on PostgreSQL: every
//! token better-auth accepts is accepted, every token it refuses is refused, with the same
//! `{ session, user }` it answers.
#![cfg(all(
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite",
    feature = "better-auth-mysql"
))]

mod support;

use std::time::{Duration, SystemTime};

use support::better_auth::{self as ba, agree_with_better_auth, resolve, BetterAuth, SECRET};
use tower_bearer::better_auth::{Expiry, Signatures, SqlResolver};
use tower_bearer::{BearerToken, SessionResolver};

fn signatures() -> Signatures {
    Signatures::new([SECRET])
}

/// Runs `sql` on the test's own connection to better-auth's database.
async fn execute(url: &str, sql: &str) {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::Executor::execute(&mut conn, sql).await.unwrap();
    } else if url.starts_with("mysql:") {
        let mut conn = sqlx::MySqlConnection::connect(url).await.unwrap();
        sqlx::Executor::execute(&mut conn, sql).await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::Executor::execute(&mut conn, sql).await.unwrap();
    }
}

/// Sets a session's `expiresAt` in the database, in either dialect.
async fn set_expiry(url: &str, token: &str, at: SystemTime) {
    let ms = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let sql = if url.starts_with("sqlite:") {
        let iso = humantime::format_rfc3339_millis(at).to_string();
        format!("UPDATE session SET \"expiresAt\" = '{iso}' WHERE token = '{token}'")
    } else if url.starts_with("mysql:") {
        format!(
            "UPDATE session SET `expiresAt` = FROM_UNIXTIME({ms} / 1000) WHERE token = '{token}'"
        )
    } else {
        format!(
            "UPDATE session SET \"expiresAt\" = to_timestamp({ms}::float8 / 1000) WHERE token = '{token}'"
        )
    };
    execute(url, &sql).await;
}

/// The whole matrix on one database: acceptance, sign-out, expiry, refresh.
async fn lifecycle(url: &str) {
    let node = BetterAuth::start(url, &[]);
    let resolver = SqlResolver::builder(signatures())
        .connect(url)
        .await
        .unwrap();
    let ada = node.sign_up("ada@example.com").await;
    agree_with_better_auth(&node, &resolver, &ada).await;

    // Node's sign-out: refused in Rust at once.
    let second = node.sign_in("ada@example.com").await;
    assert!(resolve(&resolver, &second.signed).await.unwrap().is_some());
    node.sign_out(&second.signed).await;
    assert!(resolve(&resolver, &second.signed).await.unwrap().is_none());
    assert!(
        resolve(&resolver, &ada.signed).await.unwrap().is_some(),
        "the other session lives"
    );

    // An expired session: refused by Rust, then by better-auth (which deletes the row).
    let old = node.sign_in("ada@example.com").await;
    set_expiry(url, &old.token, SystemTime::now() - Duration::from_secs(1)).await;
    assert!(resolve(&resolver, &old.signed).await.unwrap().is_none());
    assert_eq!(node.get_session(&old.signed, false).await, None);

    // Refresh: a session due for it gets better-auth's new expiry, which better-auth then sees.
    let due = node.sign_in("ada@example.com").await;
    let soon = SystemTime::now() + Duration::from_secs(3600);
    set_expiry(url, &due.token, soon).await;
    // The reading resolver leaves it alone.
    let read = resolve(&resolver, &due.signed).await.unwrap().unwrap();
    assert!(read.session.expires_at < soon + Duration::from_secs(1));
    let refreshing = SqlResolver::builder(signatures())
        .refresh(Expiry::default())
        .connect(url)
        .await
        .unwrap();
    let before = SystemTime::now();
    let refreshed = resolve(&refreshing, &due.signed).await.unwrap().unwrap();
    let week = Duration::from_secs(7 * 86400);
    assert!(refreshed.session.expires_at >= before + week - Duration::from_millis(1));
    assert!(refreshed.session.expires_at <= SystemTime::now() + week);
    let seen = node.get_session(&due.signed, false).await.unwrap();
    assert_eq!(
        seen["session"],
        serde_json::to_value(&refreshed.session).unwrap(),
        "better-auth sees the refreshed expiry"
    );
    // Not due any more: no second write.
    let again = resolve(&refreshing, &due.signed).await.unwrap().unwrap();
    assert_eq!(again.session.updated_at, refreshed.session.updated_at);
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_matches_better_auth() {
    let dir = tempdir();
    let url = format!("sqlite://{}/auth.db", dir.display());
    lifecycle(&url).await;

    // A database that fails (its session table gone) is an error, never a refusal.
    let node_account = {
        let node = BetterAuth::start(&url, &[]);
        node.sign_in("ada@example.com").await
    };
    let resolver = SqlResolver::builder(signatures())
        .connect(&url)
        .await
        .unwrap();
    assert!(resolve(&resolver, &node_account.signed)
        .await
        .unwrap()
        .is_some());
    execute(&url, "ALTER TABLE session RENAME TO session_moved").await;
    assert!(resolve(&resolver, &node_account.signed).await.is_err());
    // A refused signature needs no database.
    let refused = &node_account.refused()[0].1;
    assert!(resolve(&resolver, refused).await.unwrap().is_none());
}

/// The lifecycle on a database server's database, which then stops existing: an error (503),
/// never a 401.
async fn on_a_server(url: &str) {
    lifecycle(url).await;
    let resolver = SqlResolver::builder(signatures())
        .acquire_timeout(Duration::from_secs(1))
        .connect(url)
        .await
        .unwrap();
    let node = BetterAuth::start(url, &[]);
    let account = node.sign_in("ada@example.com").await;
    drop(node);
    assert!(resolve(&resolver, &account.signed).await.unwrap().is_some());
    ba::drop_database(url).await;
    assert!(resolve(&resolver, &account.signed).await.is_err());
}

/// A database server that is not running: every lookup an error (503), never a refusal, and
/// the resolver starts anyway.
#[tokio::test]
async fn a_server_that_is_not_running_is_an_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let value = "AbCdEfGhIjKlMnOpQrStUvWxYz012345";
    for url in [
        format!("postgres://postgres@127.0.0.1:{port}/test"),
        format!("mysql://root@127.0.0.1:{port}/test"),
    ] {
        let resolver = SqlResolver::builder(signatures())
            .acquire_timeout(Duration::from_millis(500))
            .connect(&url)
            .await
            .unwrap();
        assert!(resolve(&resolver, value).await.is_err(), "{url}");
    }
    assert!(SqlResolver::builder(signatures())
        .connect("postgres://[")
        .await
        .is_err());
    assert!(SqlResolver::builder(signatures())
        .connect("oracle://db")
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_matches_better_auth() {
    on_a_server(&ba::postgres_database().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_matches_better_auth() {
    on_a_server(&ba::mysql_database().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn require_signature_refuses_the_raw_token_as_better_auth_does() {
    let dir = tempdir();
    let url = format!("sqlite://{}/auth.db", dir.display());
    let node = BetterAuth::start(&url, &[("BA_REQUIRE_SIGNATURE", "1")]);
    let resolver = SqlResolver::builder(signatures().require_signature(true))
        .connect(&url)
        .await
        .unwrap();
    let ada = node.sign_up("ada@example.com").await;
    assert_eq!(node.get_session(&ada.token, false).await, None);
    assert!(resolve(&resolver, &ada.token).await.unwrap().is_none());
    assert!(node.get_session(&ada.signed, false).await.is_some());
    assert!(resolve(&resolver, &ada.signed).await.unwrap().is_some());
}

/// Renamed tables and columns, as better-auth's options allow.
#[tokio::test(flavor = "multi_thread")]
async fn renamed_tables_and_columns() {
    use tower_bearer::better_auth::Schema;
    let dir = tempdir();
    let url = format!("sqlite://{}/auth.db", dir.display());
    let node = BetterAuth::start(&url, &[]);
    let ada = node.sign_up("ada@example.com").await;
    drop(node);
    execute(
        &url,
        "ALTER TABLE session RENAME TO auth_sessions; \
         ALTER TABLE auth_sessions RENAME COLUMN \"expiresAt\" TO expires_at; \
         ALTER TABLE \"user\" RENAME TO users; \
         ALTER TABLE users RENAME COLUMN email TO email_address;",
    )
    .await;
    let schema = Schema::new()
        .session_model("auth_sessions")
        .session_field("expiresAt", "expires_at")
        .user_model("users")
        .user_field("email", "email_address");
    let resolver = SqlResolver::builder(signatures())
        .schema(schema)
        .refresh(Expiry::default())
        .connect(&url)
        .await
        .unwrap();
    let found = resolve(&resolver, &ada.signed).await.unwrap().unwrap();
    assert_eq!(found.user.email, "ada@example.com");
    let default = SqlResolver::builder(signatures())
        .connect(&url)
        .await
        .unwrap();
    assert!(
        resolve(&default, &ada.signed).await.is_err(),
        "no such table"
    );
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tb-ba-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The optional cache: a sign-out is seen when the entry expires, not before.
#[tokio::test(flavor = "multi_thread")]
async fn the_cache_serves_until_its_entries_expire() {
    use tower_bearer::better_auth::CacheSettings;
    let dir = tempdir();
    let url = format!("sqlite://{}/auth.db", dir.display());
    let node = BetterAuth::start(&url, &[]);
    let window = Duration::from_secs(1);
    let cached = SqlResolver::builder(signatures())
        .cache(CacheSettings::default().positive(window).negative(window))
        .connect(&url)
        .await
        .unwrap();
    let ada = node.sign_up("ada@example.com").await;
    // The first lookup caches the session; then the sign-out.
    let cached_at = std::time::Instant::now();
    assert!(resolve(&cached, &ada.signed).await.unwrap().is_some());
    node.sign_out(&ada.signed).await;
    assert!(
        resolve(&cached, &ada.signed).await.unwrap().is_some(),
        "served from the cache"
    );
    // Served until the entry's deadline, and refused from then on.
    while resolve(&cached, &ada.signed).await.unwrap().is_some() {
        assert!(
            cached_at.elapsed() < window + Duration::from_secs(1),
            "past the window"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(cached_at.elapsed() >= window - Duration::from_millis(50));
    // As better-auth itself says.
    assert!(node.get_session(&ada.signed, false).await.is_none());
}

/// A database that hangs (here, a table locked by another transaction) cannot hold a lookup
/// forever: past the resolver's timeout it is an error, which the layer answers `503`.
#[tokio::test(flavor = "multi_thread")]
async fn a_hung_database_is_an_error_after_the_timeout() {
    use sqlx::Connection as _;
    let url = ba::postgres_database().await;
    let mut locker = sqlx::PgConnection::connect(&url).await.unwrap();
    for statement in [
        r#"CREATE TABLE "user" (id text)"#,
        r#"CREATE TABLE "session" (id text)"#,
        "BEGIN",
        r#"LOCK TABLE "session" IN ACCESS EXCLUSIVE MODE"#,
    ] {
        sqlx::query(statement).execute(&mut locker).await.unwrap();
    }
    let resolver = SqlResolver::builder(signatures())
        .timeout(Duration::from_millis(300))
        .connect(&url)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let answer = resolver.resolve(BearerToken::new("some-token")).await;
    let took = started.elapsed();
    assert!(answer.is_err(), "an error, not a session nor None");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    drop(locker);
    ba::drop_database(&url).await;
}

/// MySQL's default collation compares case-insensitively, so better-auth there finds a session
/// by a token that differs from the real one only by case. tower-bearer answers as better-auth
/// does, whatever that is on each database.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_differing_by_case_is_answered_as_better_auth_answers_it() {
    // Found on MySQL, not on PostgreSQL: by better-auth and by tower-bearer alike.
    for (url, found) in [
        (ba::mysql_database().await, true),
        (ba::postgres_database().await, false),
    ] {
        let node = BetterAuth::start(&url, &[]);
        let account = node.sign_up("ada@example.com").await;
        let resolver = SqlResolver::builder(signatures())
            .connect(&url)
            .await
            .unwrap();
        let at = account
            .token
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap();
        let mut variant = account.token.clone().into_bytes();
        variant[at] ^= 0x20;
        let variant = String::from_utf8(variant).unwrap();
        let theirs = node.get_session(&variant, false).await.is_some();
        let ours = resolve(&resolver, &variant).await.unwrap().is_some();
        eprintln!("{url}: better-auth {theirs}, tower-bearer {ours}");
        assert_eq!(theirs, found, "better-auth on {url}");
        assert_eq!(ours, theirs, "tower-bearer on {url}");
        drop(node);
        ba::drop_database(&url).await;
    }
}
