//! A real better-auth 1.7.25 server (tests/interop/better-auth-server.mjs) and what its users
//! do with it: sign up, sign in, get-session, sign out, revoke sessions.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use super::node;
use tower_bearer::better_auth::BetterAuthSession;
use tower_bearer::{BearerToken, BoxError, SessionResolver};

pub const SECRET: &str = "better-auth-secret-for-tests-0123456789";

/// A running better-auth server; killed when dropped.
#[derive(Debug)]
pub struct BetterAuth {
    child: Child,
    pub addr: SocketAddr,
}

impl BetterAuth {
    /// Starts better-auth with users in `database` (`sqlite:PATH` or `postgres://…`) and the
    /// given extra `BA_*` settings (see the script).
    pub fn start(database: &str, extra: &[(&str, &str)]) -> BetterAuth {
        node::ensure_packages();
        let mut command = Command::new("node");
        command
            .arg(node::interop_dir().join("better-auth-server.mjs"))
            .env("BA_SECRET", SECRET)
            .env("BA_DATABASE", database)
            .env_remove("BA_REDIS")
            .env_remove("NODE_ENV");
        for (k, v) in extra {
            command.env(k, v);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("better-auth ended before it listened")
                .unwrap();
            if let Some(url) = line.strip_prefix("listening on http://") {
                break url.trim().parse().unwrap();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        BetterAuth { child, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Signs a new user up: the account and its first session.
    pub async fn sign_up(&self, email: &str) -> Account {
        let body = format!(r#"{{"email":"{email}","password":"securepassword","name":"Ada"}}"#);
        self.signed_in("/api/auth/sign-up/email", &body).await
    }

    /// Another session for the same user.
    pub async fn sign_in(&self, email: &str) -> Account {
        let body = format!(r#"{{"email":"{email}","password":"securepassword"}}"#);
        self.signed_in("/api/auth/sign-in/email", &body).await
    }

    async fn signed_in(&self, path: &str, body: &str) -> Account {
        let r = super::request(
            self.addr,
            "POST",
            path,
            &[b"content-type: application/json"],
            body.as_bytes(),
        )
        .await;
        assert_eq!(r.status, 200, "{path}: {}", r.body_str());
        let signed = r
            .header("set-auth-token")
            .expect("set-auth-token")
            .to_string();
        let json: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        Account {
            token: json["token"].as_str().unwrap().to_string(),
            user_id: json["user"]["id"].as_str().unwrap().to_string(),
            signed,
        }
    }

    /// better-auth's own answer for `Authorization: Bearer <value>`: the session's JSON, or
    /// `None` for its `200 null`. Without writes (`disableRefresh=true`) unless `refresh`.
    pub async fn get_session(&self, value: &str, refresh: bool) -> Option<serde_json::Value> {
        let path = match refresh {
            true => "/api/auth/get-session",
            false => "/api/auth/get-session?disableRefresh=true",
        };
        let auth = format!("authorization: Bearer {value}");
        let r = super::get(self.addr, path, &[auth.as_bytes()]).await;
        assert_eq!(r.status, 200, "get-session: {}", r.body_str());
        let json: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        (!json.is_null()).then_some(json)
    }

    /// The jwt plugin's `GET /api/auth/token` for this session: `{"token"}`'s JWT.
    pub async fn jwt(&self, value: &str) -> String {
        let auth = format!("authorization: Bearer {value}");
        let r = super::get(self.addr, "/api/auth/token", &[auth.as_bytes()]).await;
        assert_eq!(r.status, 200, "token: {}", r.body_str());
        let json: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        json["token"].as_str().unwrap().to_owned()
    }

    /// The JWT the jwt plugin sends with get-session, in `set-auth-jwt`.
    pub async fn jwt_from_get_session(&self, value: &str) -> String {
        let auth = format!("authorization: Bearer {value}");
        let r = super::get(self.addr, "/api/auth/get-session", &[auth.as_bytes()]).await;
        assert_eq!(r.status, 200, "get-session: {}", r.body_str());
        r.header("set-auth-jwt").expect("set-auth-jwt").to_owned()
    }

    /// Node's sign-out with the bearer.
    pub async fn sign_out(&self, value: &str) {
        self.post_authed("/api/auth/sign-out", value).await;
    }

    /// Node's revoke-sessions: every session of the user ends (the Redis watermark).
    pub async fn revoke_sessions(&self, value: &str) {
        self.post_authed("/api/auth/revoke-sessions", value).await;
    }

    async fn post_authed(&self, path: &str, value: &str) {
        self.post(path, value, "{}").await;
    }

    /// `POST path` with a JSON body and no credentials (the script's test routes): the
    /// `200` answer's JSON.
    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let r = super::request(
            self.addr,
            "POST",
            path,
            &[b"content-type: application/json"],
            body.to_string().as_bytes(),
        )
        .await;
        assert_eq!(r.status, 200, "{path}: {}", r.body_str());
        serde_json::from_slice(&r.body).unwrap()
    }

    /// `POST path` with the bearer and a JSON body, as better-auth's client sends it: the
    /// `200` answer, and its `set-auth-token` if it has one.
    pub async fn post(
        &self,
        path: &str,
        value: &str,
        json: &str,
    ) -> (serde_json::Value, Option<String>) {
        let auth = format!("authorization: Bearer {value}");
        let r = super::request(
            self.addr,
            "POST",
            path,
            &[auth.as_bytes(), b"content-type: application/json"],
            json.as_bytes(),
        )
        .await;
        assert_eq!(r.status, 200, "{path}: {}", r.body_str());
        let token = r.header("set-auth-token").map(str::to_owned);
        (serde_json::from_slice(&r.body).unwrap(), token)
    }
}

impl Drop for BetterAuth {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A signed-in session, as better-auth hands it out.
#[derive(Clone, Debug)]
pub struct Account {
    /// `set-auth-token`: `<token>.<signature>`.
    pub signed: String,
    /// The raw session token.
    pub token: String,
    pub user_id: String,
}

impl Account {
    /// The bearer values better-auth accepts for this session (with `requireSignature` off).
    pub fn accepted(&self) -> Vec<(&'static str, String)> {
        let encoded = self
            .signed
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        vec![
            ("signed", self.signed.clone()),
            ("raw", self.token.clone()),
            ("percent-encoded", encoded),
        ]
    }

    /// Values better-auth refuses: each a well-formed bearer token with a bad signature.
    pub fn refused(&self) -> Vec<(&'static str, String)> {
        let (token, signature) = self.signed.rsplit_once('.').unwrap();
        let url = signature.replace('+', "-").replace('/', "_");
        let other = hmac_base64(b"another-secret-that-is-long-enough-123", token);
        let mut flipped = signature.as_bytes().to_vec();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let mut refused = vec![
            ("base64url", format!("{token}.{url}")),
            (
                "unpadded",
                format!("{token}.{}", signature.trim_end_matches('=')),
            ),
            ("wrong secret", format!("{token}.{other}")),
            ("truncated", format!("{token}.{}", &signature[..40])),
            (
                "flipped",
                format!("{token}.{}", String::from_utf8(flipped).unwrap()),
            ),
            // The last character changed, and not by case alone: on MySQL, whose default
            // collation compares case-insensitively, better-auth (and tower-bearer with it)
            // finds a session by a token that differs from the real one only by case.
            (
                "unknown token",
                format!(
                    "{}{}",
                    &token[..31],
                    if token.to_ascii_lowercase().ends_with('x') {
                        'y'
                    } else {
                        'x'
                    }
                ),
            ),
        ];
        // A signature without `+` or `/` reads the same in both alphabets.
        refused.retain(|(_, v)| *v != self.signed);
        refused
    }
}

/// `base64(HMAC-SHA256(key, msg))` by Node, the reference implementation.
fn hmac_base64(key: &[u8], msg: &str) -> String {
    let script = format!(
        "process.stdout.write(require('crypto').createHmac('sha256', {:?}).update({msg:?}).digest('base64'))",
        std::str::from_utf8(key).unwrap()
    );
    let out = Command::new("node").args(["-e", &script]).output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

pub async fn resolve<R>(resolver: &R, value: &str) -> Result<Option<BetterAuthSession>, BoxError>
where
    R: SessionResolver<Session = BetterAuthSession, Error = BoxError>,
{
    resolver.resolve(BearerToken::new(value)).await
}

/// Each accepted form gives the very JSON better-auth's get-session gives; each refused form
/// is refused by both.
pub async fn agree_with_better_auth<R>(node: &BetterAuth, resolver: &R, account: &Account)
where
    R: SessionResolver<Session = BetterAuthSession, Error = BoxError>,
{
    for (form, value) in account.accepted() {
        let theirs = node.get_session(&value, false).await;
        let ours = resolve(resolver, &value).await.unwrap();
        let ours = ours.unwrap_or_else(|| panic!("{form}: refused, better-auth accepts it"));
        assert_eq!(ours.session.token.as_str(), account.token, "{form}");
        assert_eq!(
            Some(serde_json::to_value(&ours).unwrap()),
            theirs,
            "{form}: not better-auth's answer"
        );
    }
    for (form, value) in account.refused() {
        assert_eq!(node.get_session(&value, false).await, None, "{form}");
        assert!(
            resolve(resolver, &value).await.unwrap().is_none(),
            "{form}: accepted, better-auth refuses it"
        );
    }
}

fn postgres_admin() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn mysql_admin() -> String {
    std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

/// Runs one statement on the server `admin` reaches.
async fn admin<C>(admin: &str, statement: &str)
where
    C: sqlx::Connection,
    for<'c> &'c mut C: sqlx::Executor<'c>,
{
    let mut conn = C::connect(admin)
        .await
        .unwrap_or_else(|e| panic!("{admin} (scripts/test starts the servers): {e}"));
    sqlx::Executor::execute(&mut conn, statement).await.unwrap();
}

/// A database URL on the same server as `admin`.
fn database_url(admin: &str, name: &str) -> String {
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

fn fresh_name() -> String {
    format!("tb_{}", uuid::Uuid::new_v4().simple())
}

/// A fresh PostgreSQL database on the machine's server, for one test.
pub async fn postgres_database() -> String {
    let name = fresh_name();
    admin::<sqlx::PgConnection>(&postgres_admin(), &format!("CREATE DATABASE {name}")).await;
    database_url(&postgres_admin(), &name)
}

/// Drops a database made by [`postgres_database`], with its connections: a database that is
/// gone, as far as a resolver can tell.
pub async fn drop_postgres_database(url: &str) {
    let (_, name) = url.rsplit_once('/').unwrap();
    let statement = format!("DROP DATABASE {name} WITH (FORCE)");
    admin::<sqlx::PgConnection>(&postgres_admin(), &statement).await;
}

/// A fresh MySQL (MariaDB) database on the machine's server, for one test.
pub async fn mysql_database() -> String {
    let name = fresh_name();
    admin::<sqlx::MySqlConnection>(&mysql_admin(), &format!("CREATE DATABASE {name}")).await;
    database_url(&mysql_admin(), &name)
}

/// Drops a database made by [`mysql_database`].
pub async fn drop_mysql_database(url: &str) {
    let (_, name) = url.rsplit_once('/').unwrap();
    admin::<sqlx::MySqlConnection>(&mysql_admin(), &format!("DROP DATABASE {name}")).await;
}

/// Drops a database made by [`postgres_database`] or [`mysql_database`].
pub async fn drop_database(url: &str) {
    match url.starts_with("mysql:") {
        true => drop_mysql_database(url).await,
        false => drop_postgres_database(url).await,
    }
}
