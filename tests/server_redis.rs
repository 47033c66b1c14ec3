//! Two example servers on one Redis (`--redis`), as a service that outgrew one machine runs:
//! sign in on one, use the token on the other, sign out on either, and Redis failing and coming
//! back under them.
#![cfg(feature = "redis")]

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::redis::RedisServer;
use support::{request, RawResponse};

async fn post(
    addr: std::net::SocketAddr,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> RawResponse {
    let auth = token.map(|t| format!("authorization: Bearer {t}"));
    let mut lines: Vec<&[u8]> = vec![b"content-type: application/json"];
    if let Some(auth) = &auth {
        lines.push(auth.as_bytes());
    }
    request(addr, "POST", path, &lines, body.as_bytes()).await
}

async fn data(addr: std::net::SocketAddr, token: &str) -> RawResponse {
    let auth = format!("authorization: Bearer {token}");
    support::get(addr, "/api/data", &[auth.as_bytes()]).await
}

fn json(res: &RawResponse) -> Value {
    serde_json::from_slice(&res.body).unwrap_or_else(|e| panic!("{e}: {}", res.body_str()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_users_and_sessions() {
    // Persistent, so that a restart keeps the sessions.
    let mut redis = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let url = redis.url();
    let a = support::example::start("server", &["--redis", &url]);
    let b = support::example::start("server", &["--redis", &url]);

    // Sign up on A, sign in on B, use either token on either server.
    let sign_up = r#"{"name":"Shared","email":"shared@example.com","password":"12345678"}"#;
    let res = post(a.addr, "/api/auth/sign-up/email", None, sign_up).await;
    assert_eq!(res.status, 200, "{}", res.body_str());
    let first = json(&res)["token"].as_str().unwrap().to_string();
    let res = post(
        b.addr,
        "/api/auth/sign-in/email",
        None,
        r#"{"email":"shared@example.com","password":"12345678"}"#,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body_str());
    let second = json(&res)["token"].as_str().unwrap().to_string();
    for server in [&a, &b] {
        for token in [&first, &second] {
            let res = data(server.addr, token).await;
            assert_eq!(res.status, 200);
            assert_eq!(json(&res)["user"]["email"], "shared@example.com");
        }
    }
    let auth = format!("authorization: Bearer {first}");
    let listed = support::get(b.addr, "/api/auth/list-sessions", &[auth.as_bytes()]).await;
    assert_eq!(json(&listed).as_array().unwrap().len(), 2);

    // Sign out on B; A refuses the token within milliseconds.
    assert_eq!(
        post(b.addr, "/api/auth/sign-out", Some(&first), "{}")
            .await
            .status,
        200
    );
    let started = Instant::now();
    while data(a.addr, &first).await.status != 401 {
        assert!(
            started.elapsed() < Duration::from_millis(250),
            "A still serves a signed-out token"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    eprintln!("sign-out on B seen by A after {:?}", started.elapsed());
    assert_eq!(data(a.addr, &second).await.status, 200);

    // Redis paused: 503 in better-auth's shape, never 401; back by itself when Redis is.
    redis.pause();
    for server in [&a, &b] {
        // Hits may go on for the cache's staleness bound; then 503, never 401.
        let started = Instant::now();
        let res = loop {
            let res = data(server.addr, &second).await;
            if res.status != 200 {
                break res;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "still 200 with Redis paused"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(res.status, 503, "{}", res.body_str());
        assert_eq!(json(&res)["code"], "SERVICE_UNAVAILABLE");
        assert!(json(&res)["message"].is_string());
    }
    redis.resume();
    for server in [&a, &b] {
        let started = Instant::now();
        while data(server.addr, &second).await.status != 200 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no recovery after CONT"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Stopped and restarted on the same port: 503 meanwhile, then the same session again.
    redis.stop();
    assert_eq!(data(a.addr, &second).await.status, 503);
    redis.restart();
    for server in [&a, &b] {
        let started = Instant::now();
        while data(server.addr, &second).await.status != 200 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no recovery after a restart"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(
        data(b.addr, &first).await.status,
        401,
        "a revoked session stays revoked"
    );
}

/// Redis down at start: the example says what failed (Redis, its address) and how to fix it,
/// and does not name a demo user it could not create.
#[tokio::test]
async fn a_redis_that_is_down_at_start_is_named_and_no_demo_user_is_promised() {
    let port = support::redis::free_port();
    let url = format!("redis://:s3cret-pw@127.0.0.1:{port}");
    let mut server = support::example::start("server", &["--redis", &url]);
    // The walk-through follows the listening line.
    let started = Instant::now();
    while !server.stdout().contains("walk the flow") && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop();
    let (stdout, stderr) = (server.stdout(), server.stderr());
    assert!(
        stderr.contains(&format!(
            "could not seed the demo user user@example.com: Redis at redis://127.0.0.1:{port}: "
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("Start Redis (redis-server) or correct --redis"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert!(
        !stdout.contains("Demo user: user@example.com / securepassword"),
        "{stdout}"
    );
    assert!(stdout.contains("No demo user (see above)."), "{stdout}");
}
