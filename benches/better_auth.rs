//! Each better-auth resolver's cost per lookup, beside `MemoryStore`, in one run: 64 live
//! sessions in rotation, signed bearer values as better-auth hands them out.
//!
//! A real better-auth 1.7.25 server (tests/interop/better-auth-server.mjs) signs 64 users up
//! three times: on SQLite with Redis secondary storage (and `storeSessionInDatabase`, so the same
//! sessions are in both), on PostgreSQL, and on MariaDB. Needs Node with tests/interop's packages, Redis
//! on 127.0.0.1:6379, PostgreSQL on 127.0.0.1:5432 and MariaDB on 127.0.0.1:3306 (as `scripts/test` sets up):
//!
//! ```text
//! cargo bench -p tower-bearer-peers --bench better_auth --all-features
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use criterion::{criterion_group, criterion_main, Criterion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower_bearer::better_auth::{
    CacheSettings, HttpResolver, RedisStorageResolver, Signatures, SqlResolver,
};
use tower_bearer::store::{CreateOptions, MemoryStore, SessionStore};
use tower_bearer::{BearerToken, SessionResolver};

const SECRET: &str = "better-auth-secret-for-bench-0123456789";
const USERS: usize = 64;

struct Node(Child, String);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn start(database: &str, redis: Option<&str>) -> Node {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/interop");
    let mut command = Command::new("node");
    command
        .arg(format!("{dir}/better-auth-server.mjs"))
        .env("BA_SECRET", SECRET)
        .env("BA_DATABASE", database);
    if let Some(redis) = redis {
        command
            .env("BA_REDIS", redis)
            .env("BA_REDIS_PREFIX", "bench-ba:")
            .env("BA_STORE_SESSION_IN_DATABASE", "1");
    }
    let mut child = command.stdout(Stdio::piped()).spawn().expect("node");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("better-auth listens").unwrap();
        if let Some(addr) = line.strip_prefix("listening on ") {
            break addr.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Node(child, url)
}

/// Signs `USERS` users up; their signed tokens.
async fn sign_up(base: &str) -> Vec<String> {
    let addr = base.trim_start_matches("http://").to_string();
    let mut tokens = Vec::new();
    for i in 0..USERS {
        let body = format!(
            r#"{{"email":"u{i}-{}@example.com","password":"securepassword","name":"U"}}"#,
            std::process::id()
        );
        let request = format!(
            "POST /api/auth/sign-up/email HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let token = response
            .lines()
            .find_map(|l| l.strip_prefix("set-auth-token: "))
            .expect("set-auth-token")
            .trim()
            .to_string();
        tokens.push(token);
    }
    tokens
}

fn bench<R>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    resolver: &R,
    tokens: &[String],
) where
    R: SessionResolver,
    R::Error: std::fmt::Debug,
{
    // Every token resolves before it is measured.
    for t in tokens {
        let found = rt.block_on(resolver.resolve(BearerToken::new(t))).unwrap();
        assert!(found.is_some(), "{name}: a live session resolves");
    }
    let mut i = 0;
    c.bench_function(name, |b| {
        b.iter(|| {
            i = (i + 1) % tokens.len();
            rt.block_on(resolver.resolve(BearerToken::new(&tokens[i])))
                .unwrap()
                .is_some()
        })
    });
}

fn resolvers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("tb-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = format!("sqlite://{}/auth.db", dir.display());
    let redis = "redis://127.0.0.1:6379";
    let node = start(&sqlite, Some(redis));
    let tokens = rt.block_on(sign_up(&node.1));
    let postgres = rt.block_on(postgres_database());
    let node_pg = start(&postgres, None);
    let pg_tokens = rt.block_on(sign_up(&node_pg.1));
    let mysql = rt.block_on(mysql_database());
    let node_mysql = start(&mysql, None);
    let mysql_tokens = rt.block_on(sign_up(&node_mysql.1));
    let signatures = || Signatures::new([SECRET]);
    let long = CacheSettings::default().positive(std::time::Duration::from_secs(3600));

    // The peer: tower-bearer's own store, 64 sessions of its own.
    let memory = MemoryStore::new();
    let memory_tokens: Vec<String> = rt.block_on(async {
        let mut out = Vec::new();
        for i in 0..USERS {
            let issued = memory
                .create(&format!("u{i}"), (), CreateOptions::default())
                .await
                .unwrap();
            out.push(issued.token.as_str().to_owned());
        }
        out
    });
    bench(c, &rt, "memory_store", &memory, &memory_tokens);

    let (
        sqlite_plain,
        sqlite_cached,
        pg_plain,
        pg_cached,
        redis_plain,
        redis_cached,
        http_plain,
        http_cached,
    ) = rt.block_on(async {
        (
            SqlResolver::builder(signatures())
                .connect(&sqlite)
                .await
                .unwrap(),
            SqlResolver::builder(signatures())
                .cache(long)
                .connect(&sqlite)
                .await
                .unwrap(),
            SqlResolver::builder(signatures())
                .connect(&postgres)
                .await
                .unwrap(),
            SqlResolver::builder(signatures())
                .cache(long)
                .connect(&postgres)
                .await
                .unwrap(),
            RedisStorageResolver::builder(signatures())
                .prefix("bench-ba:")
                .connect(redis)
                .await
                .unwrap(),
            RedisStorageResolver::builder(signatures())
                .prefix("bench-ba:")
                .cache(long)
                .connect(redis)
                .await
                .unwrap(),
            HttpResolver::builder(&node.1).no_cache().build().unwrap(),
            HttpResolver::builder(&node.1).cache(long).build().unwrap(),
        )
    });
    // Let the Redis cache's tracking connection come up before it is measured.
    std::thread::sleep(std::time::Duration::from_millis(300));
    bench(c, &rt, "sqlite", &sqlite_plain, &tokens);
    bench(c, &rt, "sqlite_cached", &sqlite_cached, &tokens);
    bench(c, &rt, "postgres", &pg_plain, &pg_tokens);
    bench(c, &rt, "postgres_cached", &pg_cached, &pg_tokens);
    let (mysql_plain, mysql_cached) = rt.block_on(async {
        (
            SqlResolver::builder(signatures())
                .connect(&mysql)
                .await
                .unwrap(),
            SqlResolver::builder(signatures())
                .cache(long)
                .connect(&mysql)
                .await
                .unwrap(),
        )
    });
    bench(c, &rt, "mysql", &mysql_plain, &mysql_tokens);
    bench(c, &rt, "mysql_cached", &mysql_cached, &mysql_tokens);
    bench(c, &rt, "redis", &redis_plain, &tokens);
    bench(c, &rt, "redis_cached", &redis_cached, &tokens);
    bench(c, &rt, "http", &http_plain, &tokens);
    bench(c, &rt, "http_cached", &http_cached, &tokens);
    drop((node, node_pg, node_mysql));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh database, named for this run, on the server that `admin` (a URL naming an existing
/// database) reaches.
async fn fresh_database<C>(admin: &str) -> String
where
    C: sqlx::Connection,
    for<'c> &'c mut C: sqlx::Executor<'c>,
{
    let name = format!("tb_bench_{}", std::process::id());
    let mut conn = C::connect(admin).await.unwrap();
    let drop = format!("DROP DATABASE IF EXISTS {name}");
    let _ = sqlx::Executor::execute(&mut conn, drop.as_str()).await;
    let create = format!("CREATE DATABASE {name}");
    sqlx::Executor::execute(&mut conn, create.as_str())
        .await
        .unwrap();
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

async fn postgres_database() -> String {
    let admin = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    fresh_database::<sqlx::PgConnection>(&admin).await
}

async fn mysql_database() -> String {
    let admin = std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    fresh_database::<sqlx::MySqlConnection>(&admin).await
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = resolvers
}
criterion_main!(benches);
