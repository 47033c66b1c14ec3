//! examples/server under hostile traffic: bursts of sign-ins, keep-alive soaks, rate limits,
//! slow clients, many sessions per user, and the inputs better-auth refuses. Each runs the built
//! binary on 127.0.0.1 with bounded request loops.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use support::example;
use support::{request, RawResponse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const DEMO: &str = r#"{"email":"user@example.com","password":"securepassword"}"#;

async fn post(addr: SocketAddr, path: &str, body: &str) -> RawResponse {
    request(
        addr,
        "POST",
        path,
        &[b"content-type: application/json"],
        body.as_bytes(),
    )
    .await
}

fn json_of(res: &RawResponse) -> Value {
    serde_json::from_slice(&res.body).unwrap_or_else(|e| panic!("{e}: {}", res.body_str()))
}

async fn sign_in(addr: SocketAddr) -> String {
    let res = post(addr, "/api/auth/sign-in/email", DEMO).await;
    assert_eq!(res.status, 200, "{}", res.body_str());
    json_of(&res)["token"].as_str().unwrap().to_string()
}

async fn data_status(addr: SocketAddr, token: &str) -> u16 {
    let auth = format!("authorization: Bearer {token}");
    support::get(addr, "/api/data", &[auth.as_bytes()])
        .await
        .status
}

/// 200 concurrent sign-ins for unknown emails: at most one hash per core runs, a short queue
/// waits, the rest get `503` with `Retry-After` at once. Memory stays bounded and a protected
/// request made meanwhile is answered promptly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_sign_ins_is_shed_not_queued() {
    let server = example::start("server", &[]);
    let addr = server.addr;
    let token = sign_in(addr).await;
    let rss_before = server.memory_kib("VmRSS");

    let burst: Vec<_> = (0..200)
        .map(|i| {
            tokio::spawn(async move {
                let body =
                    format!(r#"{{"email":"nobody{i}@example.com","password":"wrong-password"}}"#);
                post(addr, "/api/auth/sign-in/email", &body).await
            })
        })
        .collect();
    // Protected requests while the burst runs.
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        assert_eq!(data_status(addr, &token).await, 200);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (mut refused, mut shed) = (0, 0);
    for task in burst {
        let res = task.await.unwrap();
        match res.status {
            401 => refused += 1,
            503 => {
                assert_eq!(res.header("retry-after"), Some("1"));
                assert_eq!(json_of(&res)["code"], "SERVER_BUSY");
                shed += 1;
            }
            other => panic!("unexpected {other}: {}", res.body_str()),
        }
    }
    let peak_growth_mib = server.memory_kib("VmHWM").saturating_sub(rss_before) / 1024;
    eprintln!(
        "burst: {refused} x 401, {shed} x 503, peak RSS growth {peak_growth_mib} MiB, \
         slowest protected request {slowest:?}"
    );
    assert_eq!(refused + shed, 200);
    assert!(shed > 0, "a burst this size is shed");
    assert!(refused >= 2, "the admitted ones are answered");
    assert!(peak_growth_mib < 100, "peak RSS grew {peak_growth_mib} MiB");
    assert!(
        slowest < Duration::from_millis(500),
        "protected request took {slowest:?}"
    );
}

/// Clients that send a sign-in and hang up at once: the hashes they started keep their slots
/// until done, so no more than one hash per core ever runs (seen as the process's threads: each
/// running hash holds a blocking thread), and a real sign-in meanwhile is answered promptly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_hang_up_cannot_start_more_hashes_than_the_bound() {
    let server = example::start("server", &[]);
    let addr = server.addr;
    // One sign-in first, so that the blocking pool has started a thread.
    sign_in(addr).await;
    let baseline = server.threads();
    let cores = std::thread::available_parallelism().map_or(2, usize::from) as u64;

    let attack = tokio::spawn(async move {
        for round in 0..30 {
            for i in 0..20 {
                let body = format!(
                    r#"{{"email":"gone{round}-{i}@example.com","password":"wrong-password"}}"#
                );
                let head = format!(
                    "POST /api/auth/sign-in/email HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                tokio::spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    stream.write_all(head.as_bytes()).await.unwrap();
                    stream.write_all(body.as_bytes()).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    drop(stream);
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut peak = baseline;
    let mut slowest = Duration::ZERO;
    while !attack.is_finished() {
        peak = peak.max(server.threads());
        let started = Instant::now();
        let res = post(addr, "/api/auth/sign-in/email", DEMO).await;
        assert!(matches!(res.status, 200 | 503), "{}", res.status);
        slowest = slowest.max(started.elapsed());
        peak = peak.max(server.threads());
    }
    for _ in 0..20 {
        peak = peak.max(server.threads());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("threads: {baseline} before, peak {peak}; slowest real sign-in {slowest:?}");
    // One thread of slack: under load, tokio's blocking pool may start a thread for the next
    // hash before the one that ran the last is back in its idle list (seen once in CI: 7 for
    // 4 + 2). Without the bound the attack reaches 10 and more.
    assert!(
        peak <= baseline + cores + 1,
        "{peak} threads at the peak, {baseline} before: more than {cores} hashes ran at once"
    );
    assert!(
        slowest < Duration::from_secs(2),
        "a real sign-in took {slowest:?}"
    );
}

/// A client that announces a body and never sends it gets `408` with `Connection: close` at the
/// body timeout, and its connection is closed: it cannot hold a place in the connection cap.
#[tokio::test]
async fn a_body_that_never_comes_is_cut_off() {
    let server = example::start(
        "server",
        &["--body-timeout", "1", "--max-connections", "40"],
    );
    let addr = server.addr;
    let started = Instant::now();
    let mut stalled = Vec::new();
    for _ in 0..30 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /api/auth/sign-in/email HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n")
            .await
            .unwrap();
        stalled.push(stream);
    }
    for mut stream in stalled {
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
            .await
            .expect("closed within the timeout, not left open")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
        assert!(answer.starts_with("http/1.1 408"), "{answer}");
        assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
        assert!(answer.contains("request_timeout"), "{answer}");
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
    // A body that does arrive, slowly but in time, is read.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = DEMO.as_bytes();
    let head = format!(
        "POST /api/auth/sign-in/email HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(&body[10..]).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

/// One keep-alive connection per client, each sending the whole flow many times, rejected
/// requests with bodies included: no connection is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_connections_survive_every_answer() {
    let server = example::start("server", &[]);
    let addr = server.addr;
    let clients: Vec<_> = (0..4)
        .map(|_| tokio::spawn(async move { soak(addr, 25).await }))
        .collect();
    for client in clients {
        client.await.unwrap();
    }
}

async fn soak(addr: SocketAddr, rounds: usize) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut send = async |method: &str, path: &str, token: Option<&str>, body: &str| {
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", addr.to_string())
            .header("content-type", "application/json");
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let req = req.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
        sender.ready().await.expect("the connection is still open");
        let res = sender
            .send_request(req)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: connection dropped: {e}"));
        let status = res.status().as_u16();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (status, body)
    };
    for _ in 0..rounds {
        let (status, body) = send("POST", "/api/auth/sign-in/email", None, DEMO).await;
        assert_eq!(status, 200);
        let token: Value = serde_json::from_slice(&body).unwrap();
        let token = token["token"].as_str().unwrap().to_string();
        assert_eq!(send("GET", "/api/data", Some(&token), "").await.0, 200);
        assert_eq!(
            send("POST", "/api/auth/list-sessions", None, r#"{"x":1}"#)
                .await
                .0,
            401
        );
        assert_eq!(
            send("POST", "/api/auth/revoke-sessions", Some("nope"), "{}")
                .await
                .0,
            401
        );
        assert_eq!(
            send("POST", "/api/auth/sign-out", Some(&token), "{}")
                .await
                .0,
            200
        );
        assert_eq!(send("GET", "/api/data", Some(&token), "").await.0, 401);
    }
}

#[tokio::test]
async fn rate_limits_are_better_auths_and_off_by_default() {
    let server = example::start("server", &["--rate-limit"]);
    let addr = server.addr;
    let wrong = r#"{"email":"user@example.com","password":"wrong-password"}"#;
    for _ in 0..3 {
        assert_eq!(
            post(addr, "/api/auth/sign-in/email", wrong).await.status,
            401
        );
    }
    let res = post(addr, "/api/auth/sign-in/email", wrong).await;
    assert_eq!(res.status, 429);
    assert_eq!(
        json_of(&res)["message"],
        "Too many requests. Please try again later."
    );
    let retry: u64 = res.header("x-retry-after").unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    // Sign-up has its own budget; other paths the general one of 100.
    let res = post(addr, "/api/auth/sign-up/email", "{}").await;
    assert_eq!(res.status, 400);
    // better-auth's own rule: exactly 100 in the window, then none until it has passed.
    let mut statuses = Vec::new();
    for _ in 0..130 {
        statuses.push(
            support::get(addr, "/api/auth/get-session", &[])
                .await
                .status,
        );
    }
    assert!(statuses[..100].iter().all(|&s| s == 200), "{statuses:?}");
    assert!(statuses[100..].iter().all(|&s| s == 429), "{statuses:?}");
    // Made-up paths share one key per address: they neither add memory nor a budget.
    let rss_before = server.memory_kib("VmRSS");
    for i in 0..2_000 {
        let res = support::get(addr, &format!("/nowhere/{i}/{}", "x".repeat(200)), &[]).await;
        assert!(matches!(res.status, 404 | 429), "{}", res.status);
    }
    let growth = server.memory_kib("VmRSS").saturating_sub(rss_before);
    assert!(
        growth < 2_048,
        "RSS grew {growth} KiB over 2,000 distinct paths"
    );

    let server = example::start("server", &[]);
    for _ in 0..6 {
        assert_eq!(
            post(server.addr, "/api/auth/sign-in/email", wrong)
                .await
                .status,
            401
        );
    }
}

/// Clients that send half a request head are disconnected at the header timeout; while the
/// connection cap is reached, new clients wait rather than fail.
#[tokio::test]
async fn slow_clients_are_cut_off() {
    let server = example::start(
        "server",
        &["--header-timeout", "1", "--max-connections", "25"],
    );
    let addr = server.addr;
    let started = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /api/data HTTP/1.1\r\nhost: x\r\nauthoriz")
            .await
            .unwrap();
        slow.push(stream);
    }
    for mut stream in slow {
        let mut buf = [0u8; 256];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("closed within the timeout, not left open");
        // Closed: end of stream, a reset, or hyper's 408 before the close.
        if let Ok(n) = read {
            assert!(
                n == 0 || buf.starts_with(b"HTTP/1.1 408"),
                "{:?}",
                &buf[..n]
            );
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // The server still serves.
    assert_eq!(
        support::get(addr, "/api/auth/get-session", &[])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_full_connection_table_makes_clients_wait_not_fail() {
    let server = example::start(
        "server",
        &["--header-timeout", "1", "--max-connections", "2"],
    );
    let addr = server.addr;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let res = support::get(addr, "/api/auth/get-session", &[]).await;
    assert_eq!(res.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "answered before a slot was free: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn sessions_per_user_are_capped_oldest_first() {
    let server = example::start("server", &["--max-sessions-per-user", "3"]);
    let addr = server.addr;
    let mut tokens = Vec::new();
    for _ in 0..5 {
        tokens.push(sign_in(addr).await);
    }
    let auth = format!("authorization: Bearer {}", tokens[4]);
    let res = support::get(addr, "/api/auth/list-sessions", &[auth.as_bytes()]).await;
    assert_eq!(json_of(&res).as_array().unwrap().len(), 3);
    assert_eq!(data_status(addr, &tokens[0]).await, 401);
    assert_eq!(data_status(addr, &tokens[1]).await, 401);
    for token in &tokens[2..] {
        assert_eq!(data_status(addr, token).await, 200);
    }
}

#[tokio::test]
async fn token_responses_are_never_cached() {
    let server = example::start("server", &[]);
    let res = post(server.addr, "/api/auth/sign-in/email", DEMO).await;
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let res = post(
        server.addr,
        "/api/auth/sign-up/email",
        r#"{"name":"N","email":"new@example.com","password":"12345678"}"#,
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn emails_are_checked_as_better_auth_checks_them() {
    let server = example::start("server", &[]);
    let addr = server.addr;
    let sign_up =
        |email: &str| json!({"name": "N", "email": email, "password": "12345678"}).to_string();
    for bad in [
        "caf\u{e9}@example.com",
        "cafe\u{301}@example.com",
        "a@b.",
        "a@b@c.de",
        "a\u{1}@b.cd",
        "a@b.cd\n",
    ] {
        let res = post(addr, "/api/auth/sign-up/email", &sign_up(bad)).await;
        assert_eq!(res.status, 400, "{bad:?}");
        let body = json_of(&res);
        assert_eq!(body["code"], "VALIDATION_ERROR", "{bad:?}");
        assert_eq!(body["message"], "[body.email] Invalid email address");
    }
    let res = post(
        addr,
        "/api/auth/sign-up/email",
        &sign_up("Mixed@Example.com"),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(json_of(&res)["user"]["email"], "mixed@example.com");
    let res = post(
        addr,
        "/api/auth/sign-up/email",
        &sign_up("MIXED@example.COM"),
    )
    .await;
    assert_eq!(res.status, 422);
    assert_eq!(
        json_of(&res)["code"],
        "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"
    );
}

#[tokio::test]
async fn rust_log_sets_the_level_and_no_token_is_logged() {
    let server = example::start_with_env("server", &[], &[("RUST_LOG", "debug")]);
    let token = sign_in(server.addr).await;
    assert_eq!(data_status(server.addr, &token).await, 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let logs = server.stderr();
    assert!(logs.contains("started processing request"), "{logs}");
    assert!(
        !logs.contains(&token) && !logs.contains(&token[..12]),
        "{logs}"
    );

    let quiet = example::start_with_env("server", &[], &[("RUST_LOG", "error")]);
    let token = sign_in(quiet.addr).await;
    assert_eq!(data_status(quiet.addr, &token).await, 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(quiet.stderr(), "");
}
