//! better-auth's data beyond the core fields, from a real better-auth 1.7.25 with its admin
//! and organization plugins and the app's `additionalFields`, through every backend: SQL
//! (SQLite, PostgreSQL, MySQL), its Redis storage, its HTTP API. A user made admin in Node
//! reaches an admin-only Rust route; a banned user is refused; `activeOrganizationId`,
//! `impersonatedBy` and the app's fields arrive typed, and each session is the very JSON
//! better-auth's get-session answers.
#![cfg(all(
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite",
    feature = "better-auth-mysql",
    feature = "better-auth-redis",
    feature = "better-auth-http"
))]

mod support;

use std::convert::Infallible;
use std::time::{Duration, SystemTime};

use http::{Request, Response};
use serde::Deserialize;
use support::better_auth::{self as ba, agree_with_better_auth, resolve, BetterAuth, SECRET};
use support::redis::RedisServer;
use tower::{service_fn, ServiceBuilder};
use tower_bearer::better_auth::{
    BetterAuthSession, FieldType, HttpResolver, RedisStorageResolver, Schema, Signatures,
    SqlResolver,
};
use tower_bearer::{BearerLayer, BoxError, InsufficientScope, SessionResolver, TokenChars};

const PLUGINS: (&str, &str) = ("BA_PLUGINS", "admin,organization,fields");

/// The SQL schema of the Node server's options: both plugins, the app's fields, and `plan`
/// stored in the column `plan_name` (`fieldName`).
fn schema() -> Schema {
    Schema::new()
        .admin()
        .organization()
        .session_additional_field("device", FieldType::String)
        .user_additional_field("plan", FieldType::String)
        .user_field("plan", "plan_name")
        .user_additional_field("seats", FieldType::Number)
        .user_additional_field("trialEndsAt", FieldType::Date)
        .user_additional_field("prefs", FieldType::Json)
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Billing {
    plan: String,
    seats: u32,
    trial_ends_at: Option<String>,
    prefs: Option<serde_json::Value>,
}

/// An app whose `/admin` route only admins reach: `200 <email> <active organization>`.
async fn admin_app<R>(resolver: R) -> std::net::SocketAddr
where
    R: SessionResolver<Session = BetterAuthSession, Error = BoxError> + Send + Sync + 'static,
    R::Future: Send,
{
    let auth = BearerLayer::new(resolver).token_chars(TokenChars::Visible);
    let admins_only = auth.require(|s| match s.user.has_role("admin") {
        true => Ok(()),
        false => Err(InsufficientScope::new("admin")),
    });
    let app = ServiceBuilder::new()
        .layer(auth)
        .layer(admins_only)
        .service(service_fn(
            |req: Request<hyper::body::Incoming>| async move {
                let s = req.extensions().get::<BetterAuthSession>().unwrap();
                let org = s.session.active_organization_id().unwrap_or("-");
                let body = format!("{} {org}", s.user.email);
                Ok::<_, Infallible>(Response::new(http_body_util::Full::new(
                    bytes::Bytes::from(body),
                )))
            },
        ));
    support::serve(app).await
}

async fn admin_route(addr: std::net::SocketAddr, value: &str) -> (u16, String) {
    let auth = format!("authorization: Bearer {value}");
    let r = support::get(addr, "/admin", &[auth.as_bytes()]).await;
    (r.status, r.body_str().to_owned())
}

/// The whole story on one backend: `resolver` reads where `node` keeps its sessions.
async fn story<R>(node: &BetterAuth, resolver: R)
where
    R: SessionResolver<Session = BetterAuthSession, Error = BoxError>
        + Clone
        + Send
        + Sync
        + 'static,
    R::Future: Send,
{
    let app = admin_app(resolver.clone()).await;
    let ada = node.sign_up("ada@example.com").await;
    let bob = node.sign_up("bob@example.com").await;
    let eve = node.sign_up("eve@example.com").await;

    // The defaults better-auth writes: role "user", not banned, the app's defaults.
    let found = resolve(&resolver, &eve.signed).await.unwrap().unwrap();
    assert_eq!(found.user.role(), Some("user"));
    assert!(!found.user.banned() && !found.user.is_banned(SystemTime::now()));
    let billing: Billing = found.user.additional().unwrap();
    assert_eq!((billing.plan.as_str(), billing.seats), ("free", 1));
    assert_eq!(admin_route(app, &eve.signed).await.0, 403);

    // The first admin is set in Node; that admin makes another through the admin API.
    node.post(
        "/test/set-role",
        &ada.signed,
        &format!(r#"{{"userId":"{}","role":"admin"}}"#, ada.user_id),
    )
    .await;
    node.post(
        "/api/auth/admin/set-role",
        &ada.signed,
        &format!(r#"{{"userId":"{}","role":["user","admin"]}}"#, bob.user_id),
    )
    .await;
    assert_eq!(
        admin_route(app, &ada.signed).await,
        (200, "ada@example.com -".into())
    );
    let found = resolve(&resolver, &bob.signed).await.unwrap().unwrap();
    assert_eq!(found.user.role(), Some("user,admin"));
    assert_eq!(found.user.roles().collect::<Vec<_>>(), ["user", "admin"]);

    // The app's fields, written through better-auth's update-user.
    node.post(
        "/api/auth/update-user",
        &eve.signed,
        r#"{"plan":"team","seats":5,"trialEndsAt":"2027-01-31T00:00:00.000Z","prefs":{"theme":"dark"}}"#,
    )
    .await;
    let found = resolve(&resolver, &eve.signed).await.unwrap().unwrap();
    assert_eq!(
        found.user.additional::<Billing>().unwrap(),
        Billing {
            plan: "team".into(),
            seats: 5,
            trial_ends_at: Some("2027-01-31T00:00:00.000Z".into()),
            prefs: Some(serde_json::json!({"theme": "dark"})),
        }
    );

    // The organization plugin: creating one makes it the session's active organization.
    let (org, _) = node
        .post(
            "/api/auth/organization/create",
            &bob.signed,
            r#"{"name":"Acme","slug":"acme"}"#,
        )
        .await;
    let org_id = org["id"].as_str().unwrap();
    let found = resolve(&resolver, &bob.signed).await.unwrap().unwrap();
    assert_eq!(found.session.active_organization_id(), Some(org_id));
    assert_eq!(
        admin_route(app, &bob.signed).await,
        (200, format!("bob@example.com {org_id}"))
    );

    // Impersonation: a session of eve's, opened by ada.
    let (_, impersonated) = node
        .post(
            "/api/auth/admin/impersonate-user",
            &ada.signed,
            &format!(r#"{{"userId":"{}"}}"#, eve.user_id),
        )
        .await;
    let impersonated = impersonated.expect("set-auth-token");
    let found = resolve(&resolver, &impersonated).await.unwrap().unwrap();
    assert_eq!(found.user.email, "eve@example.com");
    assert_eq!(found.session.impersonated_by(), Some(ada.user_id.as_str()));

    // Every session is better-auth's own answer, field for field.
    for account in [&ada, &bob, &eve] {
        agree_with_better_auth(node, &resolver, account).await;
    }

    // A ban: better-auth revokes the user's sessions, and so every backend refuses them.
    node.post(
        "/api/auth/admin/ban-user",
        &ada.signed,
        &format!(r#"{{"userId":"{}","banReason":"spam"}}"#, eve.user_id),
    )
    .await;
    assert_eq!(node.get_session(&eve.signed, false).await, None);
    assert!(resolve(&resolver, &eve.signed).await.unwrap().is_none());
    assert!(resolve(&resolver, &impersonated).await.unwrap().is_none());
    assert_eq!(admin_route(app, &eve.signed).await.0, 401);
    // Removing a role takes effect at the next request.
    node.post(
        "/api/auth/admin/set-role",
        &ada.signed,
        &format!(r#"{{"userId":"{}","role":"user"}}"#, bob.user_id),
    )
    .await;
    assert_eq!(admin_route(app, &bob.signed).await.0, 403);
    assert_eq!(admin_route(app, &ada.signed).await.0, 200);
}

fn sqlite_url() -> String {
    let dir = std::env::temp_dir().join(format!("tb-baf-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite://{}/auth.db", dir.display())
}

fn signatures() -> Signatures {
    Signatures::new([SECRET])
}

async fn on_sql(url: &str) {
    let node = BetterAuth::start(url, &[PLUGINS]);
    let resolver = SqlResolver::builder(signatures())
        .schema(schema())
        .connect(url)
        .await
        .unwrap();
    story(&node, resolver).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite() {
    on_sql(&sqlite_url()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres() {
    let url = ba::postgres_database().await;
    on_sql(&url).await;
    ba::drop_database(&url).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql() {
    let url = ba::mysql_database().await;
    on_sql(&url).await;
    ba::drop_database(&url).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_storage() {
    let redis = RedisServer::start();
    let node = BetterAuth::start(&sqlite_url(), &[PLUGINS, ("BA_REDIS", &redis.url())]);
    let resolver = RedisStorageResolver::builder(signatures())
        .connect(&redis.url())
        .await
        .unwrap();
    story(&node, resolver).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn http_api() {
    let node = BetterAuth::start(&sqlite_url(), &[PLUGINS]);
    // Without the cache: each step reads what better-auth answers at that moment.
    let resolver = HttpResolver::builder(node.url())
        .no_cache()
        .build()
        .unwrap();
    story(&node, resolver).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_that_outlives_a_ban_is_answered_as_better_auth_answers_it() {
    // A ban written to the database by hand leaves the sessions in place: better-auth's
    // get-session still answers them, `banned` set, and so does the resolver.
    let url = sqlite_url();
    let node = BetterAuth::start(&url, &[PLUGINS]);
    let resolver = SqlResolver::builder(signatures())
        .schema(schema())
        .connect(&url)
        .await
        .unwrap();
    let eve = node.sign_up("eve@example.com").await;
    let later = SystemTime::now() + Duration::from_secs(3600);
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query(r#"UPDATE "user" SET banned = 1, "banExpires" = ?1 WHERE id = ?2"#)
            .bind(humantime::format_rfc3339_millis(later).to_string())
            .bind(&eve.user_id)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let theirs = node.get_session(&eve.signed, false).await.unwrap();
    assert_eq!(theirs["user"]["banned"], true);
    let found = resolve(&resolver, &eve.signed).await.unwrap().unwrap();
    assert!(found.user.banned());
    assert!(found.user.is_banned(SystemTime::now()));
    assert!(!found.user.is_banned(later + Duration::from_secs(1)));
    assert_eq!(serde_json::to_value(&found).unwrap(), theirs);
}
