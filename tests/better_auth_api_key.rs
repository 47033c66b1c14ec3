//! `ApiKeyResolver` against a real better-auth 1.7.25 with `@better-auth/api-key` 1.7.5, over
//! each of its storages: SQLite, PostgreSQL and MySQL (storage `"database"`) and Redis (storage
//! `"secondary-storage"`). Keys are created through better-auth's API; each refusal is compared
//! with better-auth's own answer for the same key (its session-from-key hook, which answers
//! with real HTTP statuses), and the counters with what better-auth stores. Then the same key
//! used at once by better-auth and two Rust instances: exactly as many uses succeed as it
//! allows.
#![cfg(all(
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite",
    feature = "better-auth-mysql",
    feature = "better-auth-redis"
))]

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use serde_json::{json, Value};
use support::better_auth::{self as ba, BetterAuth};
use support::redis::RedisServer;
use support::{request, serve, RawResponse};
use tower::{service_fn, ServiceBuilder};
use tower_bearer::better_auth::{ApiKey, ApiKeyResolver};
use tower_bearer::{ApiKeyHeader, BearerLayer};

/// better-auth with the plugin, and a user who owns the keys.
struct Node {
    node: BetterAuth,
    user: String,
}

impl Node {
    async fn start(database: &str, extra: &[(&str, &str)]) -> Node {
        let mut settings = vec![("BA_PLUGINS", "api-key")];
        settings.extend_from_slice(extra);
        let node = BetterAuth::start(database, &settings);
        let user = node.post_json("/test/user", json!({})).await["userId"]
            .as_str()
            .unwrap()
            .to_owned();
        Node { node, user }
    }

    /// A key with these settings (better-auth's create body), as `(key, id)`.
    async fn create(&self, mut settings: Value) -> (String, String) {
        settings["userId"] = self.user.clone().into();
        let created = self.node.post_json("/test/api-key/create", settings).await;
        let text = |f: &str| created[f].as_str().unwrap().to_owned();
        (text("key"), text("id"))
    }

    /// What better-auth answers a request with the key: its status, and its error code.
    async fn answer(&self, key: &str) -> (u16, String) {
        let header = format!("x-api-key: {key}");
        let r = request(
            self.node.addr,
            "GET",
            "/api/auth/get-session",
            &[header.as_bytes()],
            b"",
        )
        .await;
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        (r.status, body["code"].as_str().unwrap_or("").to_owned())
    }

    /// The stored record, or null once deleted.
    async fn raw(&self, id: &str) -> Value {
        self.node
            .post_json("/test/api-key/raw", json!({ "id": id }))
            .await
    }

    async fn set(&self, id: &str, fields: Value) {
        self.node
            .post_json("/test/api-key/set", json!({ "id": id, "fields": fields }))
            .await;
    }
}

/// A Rust service: keys from `x-api-key`, verified by `resolver`; answers with the key's id,
/// owner and permissions.
async fn rust(resolver: ApiKeyResolver) -> SocketAddr {
    async fn handler(
        req: Request<hyper::body::Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let key = req.extensions().get::<ApiKey>().expect("the layer's key");
        let body = json!({
            "keyId": key.id,
            "referenceId": key.reference_id,
            "permissions": key.permissions,
        });
        Ok(Response::new(Full::new(Bytes::from(body.to_string()))))
    }
    let layer = BearerLayer::new(resolver).api_key_header(ApiKeyHeader::default());
    serve(
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(handler)),
    )
    .await
}

/// better-auth's own verification (`verifyApiKey`) at `node`: whether it accepted the key.
async fn verify_at(node: SocketAddr, key: &str) -> bool {
    let body = json!({ "key": key }).to_string();
    let r = request(
        node,
        "POST",
        "/test/api-key/verify",
        &[b"content-type: application/json"],
        body.as_bytes(),
    )
    .await;
    let answer: Value = serde_json::from_slice(&r.body).unwrap();
    answer["valid"] == true
}

/// A Rust service whose every route needs `files:write`.
async fn writers(resolver: ApiKeyResolver) -> SocketAddr {
    async fn handler(
        req: Request<hyper::body::Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let key = req.extensions().get::<ApiKey>().expect("the layer's key");
        Ok(Response::new(Full::new(Bytes::from(
            key.reference_id.clone(),
        ))))
    }
    let layer = BearerLayer::new(resolver).api_key_header(ApiKeyHeader::default());
    let write = layer.require(|key| key.require_permission("files", "write"));
    serve(
        ServiceBuilder::new()
            .layer(layer)
            .layer(write)
            .service(service_fn(handler)),
    )
    .await
}

/// A Rust service taking API keys and better-auth sessions: it answers whose credential it was,
/// and which kind.
async fn keys_or_sessions(url: &str) -> SocketAddr {
    use tower_bearer::better_auth::{
        ApiKeyOr, BetterAuthSession, Credential, Signatures, SqlResolver,
    };
    async fn handler(
        req: Request<hyper::body::Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let credential = req
            .extensions()
            .get::<Credential<BetterAuthSession>>()
            .expect("the layer's credential");
        let kind = match credential {
            Credential::ApiKey(_) => "key",
            Credential::Other(_) => "session",
        };
        let body = format!("{kind} {}", credential.owner());
        Ok(Response::new(Full::new(Bytes::from(body))))
    }
    let sessions = SqlResolver::builder(Signatures::new([ba::SECRET]))
        .connect(url)
        .await
        .unwrap();
    let layer = BearerLayer::new(ApiKeyOr::new(database(url).await, sessions))
        .api_key_header(ApiKeyHeader::default())
        .token_chars(tower_bearer::TokenChars::Visible);
    serve(
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(handler)),
    )
    .await
}

async fn call(addr: SocketAddr, key: &str) -> RawResponse {
    let header = format!("x-api-key: {key}");
    request(addr, "GET", "/api/data", &[header.as_bytes()], b"").await
}

async fn database(url: &str) -> ApiKeyResolver {
    let resolver = ApiKeyResolver::builder()
        .connect_database(url)
        .await
        .unwrap();
    resolver.ping().await.unwrap();
    resolver
}

async fn storage(url: &str) -> ApiKeyResolver {
    let resolver = ApiKeyResolver::builder()
        .connect_storage(url)
        .await
        .unwrap();
    resolver.ping().await.unwrap();
    resolver
}

/// Every case of the matrix on one storage: the Rust service and better-auth agree.
async fn matrix(node: &Node, addr: SocketAddr) {
    // A live key: 200 with its id, owner and permissions as better-auth stores them.
    let (key, id) = node
        .create(json!({ "permissions": { "files": ["read", "write"] } }))
        .await;
    let ok = call(addr, &key).await;
    assert_eq!(ok.status, 200, "{}", ok.body_str());
    let body: Value = serde_json::from_slice(&ok.body).unwrap();
    assert_eq!(
        body,
        json!({ "keyId": id, "referenceId": node.user, "permissions": { "files": ["read", "write"] } })
    );
    assert_eq!(node.answer(&key).await.0, 200);
    // Both uses counted, where better-auth counts them (the default rate limit: 10 a day).
    let raw = node.raw(&id).await;
    assert_eq!(raw["requestCount"], 2, "{raw}");

    // Unknown: 401, as better-auth's INVALID_API_KEY.
    let unknown = "x".repeat(64);
    assert_eq!(call(addr, &unknown).await.status, 401);
    assert_eq!(node.answer(&unknown).await, (401, "INVALID_API_KEY".into()));

    // Disabled: 401, nothing written.
    let (key, id) = node.create(json!({ "enabled": false })).await;
    let before = node.raw(&id).await;
    assert_eq!(call(addr, &key).await.status, 401);
    assert_eq!(node.answer(&key).await, (401, "KEY_DISABLED".into()));
    assert_eq!(node.raw(&id).await["requestCount"], before["requestCount"]);

    // Expired: 401, and deleted on the first refusal, as better-auth deletes it.
    let (key, id) = node.create(json!({ "expiresIn": 3600 })).await;
    node.set(&id, json!({ "expiresAt": "2020-01-01T00:00:00.000Z" }))
        .await;
    let (twin, twin_id) = node.create(json!({ "expiresIn": 3600 })).await;
    node.set(&twin_id, json!({ "expiresAt": "2020-01-01T00:00:00.000Z" }))
        .await;
    assert_eq!(call(addr, &key).await.status, 401);
    assert_eq!(node.raw(&id).await, Value::Null, "deleted");
    assert_eq!(node.answer(&twin).await, (401, "KEY_EXPIRED".into()));
    assert_eq!(node.raw(&twin_id).await, Value::Null);

    // Used up: remaining 1 is one use, then 429 and the key deleted; then unknown.
    let (key, id) = node.create(json!({ "remaining": 1 })).await;
    assert_eq!(call(addr, &key).await.status, 200);
    assert_eq!(node.raw(&id).await["remaining"], 0);
    let spent = call(addr, &key).await;
    assert_eq!(spent.status, 429);
    assert_eq!(spent.header("retry-after"), None, "no refill to wait for");
    assert_eq!(node.raw(&id).await, Value::Null, "deleted");
    assert_eq!(node.answer(&key).await, (401, "INVALID_API_KEY".into()));
    let (key, _) = node.create(json!({ "remaining": 1 })).await;
    assert_eq!(node.answer(&key).await.0, 200);
    assert_eq!(call(addr, &key).await.status, 429, "used up by better-auth");

    // Rate limited: two uses a minute, shared by both.
    let (key, _) = node
        .create(
            json!({ "rateLimitEnabled": true, "rateLimitTimeWindow": 60_000, "rateLimitMax": 2 }),
        )
        .await;
    assert_eq!(call(addr, &key).await.status, 200);
    assert_eq!(node.answer(&key).await.0, 200);
    let limited = call(addr, &key).await;
    assert_eq!(limited.status, 429);
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((58..=60).contains(&wait), "{wait}");
    assert_eq!(node.answer(&key).await, (429, "RATE_LIMITED".into()));

    // A refill: remaining back to refillAmount once refillInterval has passed.
    let (key, id) = node
        .create(json!({ "remaining": 1, "refillAmount": 2, "refillInterval": 1000 }))
        .await;
    assert_eq!(call(addr, &key).await.status, 200);
    let waiting = call(addr, &key).await;
    assert_eq!(waiting.status, 429);
    assert!(waiting.header("retry-after").is_some(), "until the refill");
    assert!(node.raw(&id).await.is_object(), "a refilling key is kept");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(call(addr, &key).await.status, 200);
    let raw = node.raw(&id).await;
    assert_eq!(
        raw["remaining"], 1,
        "refilled to 2, this use included: {raw}"
    );
    assert!(raw["lastRefillAt"].is_string(), "{raw}");
    assert_eq!(node.answer(&key).await.0, 200);
    assert_eq!(call(addr, &key).await.status, 429);
}

/// A key allowing `uses`, used by better-auth and two Rust instances at once, 3 × `uses`
/// tries in all: exactly `uses` succeed, and `remaining` is 0 after.
///
/// The key refills (once a day), so a used-up key is refused, not deleted: better-auth deletes
/// a used-up key without a refill on its first refusal, and its verifications that claimed
/// the last uses then find the row gone and answer INVALID_API_KEY, so better-auth alone
/// serves fewer than `remaining` uses when over-subscribed (28 of 30 with 60 tries here). A
/// Rust instance keeps a use it claimed.
async fn concurrent(node: &Node, first: SocketAddr, second: SocketAddr, uses: usize) {
    let (key, id) = node
        .create(json!({
            "remaining": uses,
            "refillAmount": uses,
            "refillInterval": 86_400_000,
            "rateLimitEnabled": false,
        }))
        .await;
    let served = race(node, first, second, &key, uses).await;
    assert_eq!(served, uses, "a key allowing {uses} uses");
    assert_eq!(node.raw(&id).await["remaining"], 0);

    // The rate limit likewise: `uses` a minute, 3 × `uses` tries at once.
    let (key, id) = node
        .create(json!({
            "rateLimitEnabled": true,
            "rateLimitTimeWindow": 60_000,
            "rateLimitMax": uses,
        }))
        .await;
    assert_eq!(race(node, first, second, &key, uses).await, uses);
    assert_eq!(node.raw(&id).await["requestCount"], uses);
}

/// `rounds` tries at each of the Rust instances `addrs`, all at once: how many were served.
async fn rust_race(addrs: &[SocketAddr], key: &str, rounds: usize) -> usize {
    let mut tries = tokio::task::JoinSet::new();
    for _ in 0..rounds {
        for &addr in addrs {
            let key = key.to_owned();
            tries.spawn(async move { call(addr, &key).await.status == 200 });
        }
    }
    let mut served = 0;
    while let Some(ok) = tries.join_next().await {
        served += usize::from(ok.unwrap());
    }
    served
}

/// `rounds` × (a try at each Rust instance and one of better-auth's own), all at once: how
/// many were served.
async fn race(
    node: &Node,
    first: SocketAddr,
    second: SocketAddr,
    key: &str,
    rounds: usize,
) -> usize {
    let mut tries = tokio::task::JoinSet::new();
    for _ in 0..rounds {
        for addr in [first, second] {
            let key = key.to_owned();
            tries.spawn(async move { call(addr, &key).await.status == 200 });
        }
        let (key, at) = (key.to_owned(), node.node.addr);
        tries.spawn(async move { verify_at(at, &key).await });
    }
    let mut served = 0;
    while let Some(ok) = tries.join_next().await {
        served += usize::from(ok.unwrap());
    }
    served
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_counts_every_use_as_better_auth_does() {
    let dir = std::env::temp_dir().join(format!("tb-ak-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/auth.db", dir.display());
    let node = Node::start(&url, &[]).await;
    let addr = rust(database(&url).await).await;
    matrix(&node, addr).await;

    // Dates written as better-auth writes them: toISOString()'s text, which SQLite compares.
    let (key, id) = node.create(json!({})).await;
    assert_eq!(call(addr, &key).await.status, 200);
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let (kind, text): (String, String) =
        sqlx::query_as("SELECT typeof(\"lastRequest\"), \"lastRequest\" FROM apikey WHERE id = ?1")
            .bind(&id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(kind, "text");
    assert!(
        text.len() == 24 && text.ends_with('Z') && text.as_bytes()[10] == b'T',
        "{text}"
    );

    let second = rust(database(&url).await).await;
    concurrent(&node, addr, second, 20).await;

    // Permissions as better-auth stores them, required per route: the owner reaches the
    // handler with `files:write`; without it, 403 naming the permission.
    let guarded = writers(database(&url).await).await;
    let (reader, _) = node
        .create(json!({ "permissions": { "files": ["read"] } }))
        .await;
    let (writer, _) = node
        .create(json!({ "permissions": { "files": ["read", "write"] } }))
        .await;
    let refused = call(guarded, &reader).await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.header("www-authenticate"),
        Some(
            r#"Bearer error="insufficient_scope", error_description="the API key lacks this permission", scope="files:write""#
        )
    );
    let ok = call(guarded, &writer).await;
    assert_eq!((ok.status, ok.body_str()), (200, node.user.as_str()));

    // Keys and sessions behind one layer: each resolved by its own resolver, by where it came.
    let both = keys_or_sessions(&url).await;
    let by_key = call(both, &writer).await;
    assert_eq!(by_key.body_str(), format!("key {}", node.user));
    let ada = node.node.sign_up("ada@example.com").await;
    let bearer = format!("authorization: Bearer {}", ada.signed);
    let by_session = request(both, "GET", "/", &[bearer.as_bytes()], b"").await;
    assert_eq!(by_session.status, 200, "{}", by_session.body_str());
    assert!(by_session.body_str().starts_with("session "));
    assert_ne!(by_session.body_str(), format!("session {}", node.user));
    // A session token in x-api-key is no API key, and an API key as a bearer token no session.
    assert_eq!(call(both, &ada.signed).await.status, 401);
    let key_as_bearer = format!("authorization: Bearer {writer}");
    let refused = request(both, "GET", "/", &[key_as_bearer.as_bytes()], b"").await;
    assert_eq!(refused.status, 401);
    let _ = std::fs::remove_dir_all(dir);
}

/// The matrix and 30 concurrent uses on a fresh database of the machine's server, dropped after.
async fn on_a_server(url: String) {
    {
        let node = Node::start(&url, &[]).await;
        let (first, second) = (
            rust(database(&url).await).await,
            rust(database(&url).await).await,
        );
        matrix(&node, first).await;
        concurrent(&node, first, second, 30).await;
    }
    ba::drop_database(&url).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_counts_every_use_as_better_auth_does() {
    on_a_server(ba::postgres_database().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_counts_every_use_as_better_auth_does() {
    on_a_server(ba::mysql_database().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_storage_keeps_both_records_and_counts_exactly_among_rust_instances() {
    let redis = RedisServer::start();
    let dir = std::env::temp_dir().join(format!("tb-ak-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let users = format!("sqlite://{}/auth.db", dir.display());
    let node = Node::start(
        &users,
        &[
            ("BA_REDIS", &redis.url()),
            ("BA_API_KEY_STORAGE", "secondary-storage"),
        ],
    )
    .await;
    let (first, second) = (
        rust(storage(&redis.url()).await).await,
        rust(storage(&redis.url()).await).await,
    );
    matrix(&node, first).await;

    // Two Rust instances alone, 2 × 30 tries on a key of 30 uses (refilling daily, so kept):
    // exactly 30 served, and both of better-auth's records agree after.
    let (key, id) = node
        .create(json!({
            "remaining": 30,
            "refillAmount": 30,
            "refillInterval": 86_400_000,
            "rateLimitEnabled": false,
        }))
        .await;
    assert_eq!(rust_race(&[first, second], &key, 30).await, 30);
    let by_id = redis.cli(&["GET", &format!("better-auth:api-key:by-id:{id}")]);
    let hash = node.raw(&id).await["key"].as_str().unwrap().to_owned();
    let by_hash = redis.cli(&["GET", &format!("better-auth:api-key:{hash}")]);
    assert_eq!(by_id, by_hash);
    let record: Value = serde_json::from_str(by_id.trim()).unwrap();
    assert_eq!(record["remaining"], 0);
    // better-auth sees it used up, as a Rust instance does.
    assert_eq!(node.answer(&key).await, (429, "USAGE_EXCEEDED".into()));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_cluster_storage_counts_exactly_and_keeps_both_records_in_step() {
    let nodes = RedisServer::start_cluster(3);
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| n.url().trim_start_matches("redis://").to_owned())
        .collect();
    let urls: Vec<String> = nodes.iter().map(|n| n.url()).collect();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let dir = std::env::temp_dir().join(format!("tb-ak-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let users = format!("sqlite://{}/auth.db", dir.display());
    let node = Node::start(
        &users,
        &[
            ("BA_REDIS_CLUSTER", &addrs.join(",")),
            ("BA_API_KEY_STORAGE", "secondary-storage"),
        ],
    )
    .await;
    let mut instances = Vec::new();
    for _ in 0..2 {
        let resolver = ApiKeyResolver::builder()
            .connect_storage_cluster(&urls)
            .await
            .unwrap();
        resolver.ping().await.unwrap();
        instances.push(rust(resolver).await);
    }
    let (first, second) = (instances[0], instances[1]);
    let (key, id) = node
        .create(json!({
            "remaining": 25,
            "refillAmount": 25,
            "refillInterval": 86_400_000,
            "rateLimitEnabled": false,
        }))
        .await;
    assert_eq!(rust_race(&[first, second], &key, 25).await, 25);
    // better-auth's view (its by-id record) says used up, and so does its verification.
    assert_eq!(node.raw(&id).await["remaining"], 0);
    assert_eq!(node.answer(&key).await, (429, "USAGE_EXCEEDED".into()));
    let _ = std::fs::remove_dir_all(dir);
}

/// better-auth's `secondary-storage` with `fallbackToDatabase`: the database decides (every use
/// is claimed there), and its Redis copies of a key are dropped after each change, so neither
/// side reads a copy the other made stale.
#[tokio::test(flavor = "multi_thread")]
async fn redis_storage_with_fallback_to_the_database_counts_in_the_database() {
    let redis = RedisServer::start();
    let dir = std::env::temp_dir().join(format!("tb-ak-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/auth.db", dir.display());
    let node = Node::start(
        &url,
        &[
            ("BA_REDIS", &redis.url()),
            ("BA_API_KEY_STORAGE", "secondary-storage"),
            ("BA_API_KEY_FALLBACK", "1"),
        ],
    )
    .await;
    let mut instances = Vec::new();
    for _ in 0..2 {
        let resolver = ApiKeyResolver::builder()
            .connect_database_and_storage(&url, &redis.url())
            .await
            .unwrap();
        resolver.ping().await.unwrap();
        instances.push(rust(resolver).await);
    }
    matrix(&node, instances[0]).await;
    concurrent(&node, instances[0], instances[1], 20).await;

    // A copy better-auth cached is dropped once a Rust instance used the key.
    let (key, id) = node.create(json!({ "remaining": 5 })).await;
    assert_eq!(node.answer(&key).await.0, 200);
    let by_id = format!("better-auth:api-key:by-id:{id}");
    assert!(
        !redis.cli(&["GET", &by_id]).trim().is_empty(),
        "cached by better-auth"
    );
    assert_eq!(call(instances[0], &key).await.status, 200);
    assert!(redis.cli(&["GET", &by_id]).trim().is_empty(), "dropped");
    assert_eq!(node.raw(&id).await["remaining"], 3);
    let _ = std::fs::remove_dir_all(dir);
}
