//! No secret in any log, as a property: each example that serves, run as its binary with every
//! log level at `trace` (`RUST_LOG=trace`: tower-bearer, tower-http, axum, hyper, h2, tonic),
//! gets valid, made-up and malformed tokens by every source (the `Authorization` header, the
//! `access_token` query parameter, a form body, cookies, a WebSocket subprotocol entry), and
//! neither what it wrote to stdout nor to stderr may hold any token sent, any encoding of one
//! that went on the wire, or any 12-character piece of one.
//!
//! A leak is reported by example, what was sent where, and the log line with the piece masked:
//! this test never prints a secret itself, and the examples' output is kept, not echoed.
#![cfg(all(
    feature = "axum",
    feature = "tonic",
    feature = "memory-store",
    feature = "better-auth-http"
))]

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use bytes::Bytes;
use support::example::{self, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The shortest piece of a secret that counts as leaked.
const PIECE: usize = 12;

/// The Kubernetes subprotocol prefix the example server's `/api/ws` reads.
const K8S: &str = "base64url.bearer.authorization.k8s.io.";

/// Everything a test sent that no log may show, each with what it was.
#[derive(Default)]
struct Secrets(Vec<(String, String)>);

impl Secrets {
    /// `value`, and the forms it takes on the wire (percent-encoded, base64url).
    fn add(&mut self, what: &str, value: &str) {
        self.0.push((what.to_owned(), value.to_owned()));
        let encoded = percent(value);
        if encoded != value {
            self.0.push((format!("{what}, percent-encoded"), encoded));
        }
        self.0.push((
            format!("{what}, in base64url"),
            Base64UrlUnpadded::encode_string(value.as_bytes()),
        ));
    }

    /// The first line of `log` that shows a secret, or a piece of one of at least [`PIECE`]
    /// characters: what it was, and the line with every such piece masked.
    fn leak(&self, log: &str) -> Option<String> {
        let mut pieces: HashSet<&[u8]> = HashSet::new();
        let mut short = Vec::new();
        for (what, secret) in &self.0 {
            if secret.len() < PIECE {
                short.push((what, secret.as_bytes()));
                continue;
            }
            for piece in secret.as_bytes().windows(PIECE) {
                pieces.insert(piece);
            }
        }
        for (number, raw) in log.lines().enumerate() {
            // ANSI styling cannot split a secret apart unnoticed: both forms are scanned, and
            // a leak is shown without the styling.
            for line in [strip_ansi(raw), raw.to_owned()] {
                let bytes = line.as_bytes();
                let mut hit = vec![false; bytes.len()];
                for (at, window) in bytes.windows(PIECE).enumerate() {
                    if pieces.contains(window) {
                        hit[at..at + PIECE].fill(true);
                    }
                }
                for (_, secret) in &short {
                    for at in 0..bytes.len().saturating_sub(secret.len() - 1) {
                        if bytes[at..].starts_with(secret) {
                            hit[at..at + secret.len()].fill(true);
                        }
                    }
                }
                if !hit.contains(&true) {
                    continue;
                }
                let what = self
                    .0
                    .iter()
                    .find(|(_, secret)| {
                        let secret = secret.as_bytes();
                        bytes.windows(PIECE.min(secret.len())).any(|window| {
                            secret
                                .windows(PIECE.min(secret.len()))
                                .any(|piece| piece == window)
                        })
                    })
                    .map_or("a secret", |(what, _)| what.as_str());
                let mut masked = Vec::with_capacity(bytes.len());
                let mut at = 0;
                while at < bytes.len() {
                    if hit[at] {
                        masked.extend_from_slice(b"[SECRET]");
                        while at < bytes.len() && hit[at] {
                            at += 1;
                        }
                    } else {
                        masked.push(bytes[at]);
                        at += 1;
                    }
                }
                return Some(format!(
                    "line {}: {what}: {}",
                    number + 1,
                    String::from_utf8_lossy(&masked)
                ));
            }
        }
        None
    }
}

/// `line` without ANSI escape sequences (`ESC [ … letter`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        }
    }
    out
}

/// `application/x-www-form-urlencoded` and query encoding: all but unreserved characters.
fn percent(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A token no server issued: 32 random bytes in base64url, as the example stores issue them.
fn made_up() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    Base64UrlUnpadded::encode_string(&bytes)
}

/// Made-up tokens of the shapes that take other paths through a layer: one in the grammar
/// with `+`, `/` and `=` (percent-encoded in a query or form), one outside the grammar (a
/// `400`), one over the length limit (a `401` without a lookup).
fn made_up_tokens(secrets: &mut Secrets) -> Vec<String> {
    let plain = made_up();
    let mut bytes = [0u8; 30];
    getrandom::fill(&mut bytes).unwrap();
    let symbols = format!("{}+/{}==", made_up(), Base64::encode_string(&bytes));
    let outside = format!("{}{{}}{}", made_up(), made_up());
    let long = (0..140).map(|_| made_up()).collect::<String>();
    secrets.add("a made-up token", &plain);
    secrets.add("a made-up token with + / =", &symbols);
    secrets.add("a token outside the grammar", &outside);
    secrets.add("a token over the length limit", &long);
    vec![plain, symbols, outside, long]
}

/// Sends one HTTP/1.1 request and reads the head of the answer (a WebSocket's `101` keeps the
/// connection open, so the body is not waited for): the status.
async fn send(addr: SocketAddr, method: &str, path: &str, lines: &[String], body: &str) -> u16 {
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\n");
    if !lines.iter().any(|l| l.starts_with("connection:")) {
        req.push_str("connection: close\r\n");
    }
    for line in lines {
        req.push_str(line);
        req.push_str("\r\n");
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    let answer = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0];
            if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                break;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        head.split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    tokio::time::timeout(Duration::from_secs(10), answer)
        .await
        .expect("an answer within 10 s")
}

/// Sends `token` by every source to `path`: the header, the query, a form body, cookies (the
/// better-auth cookie and a plain one), and on WebSocket handshakes a subprotocol entry, the
/// query and the header. The statuses, source by source.
async fn every_source(addr: SocketAddr, path: &str, token: &str) -> Vec<(&'static str, u16)> {
    let encoded = percent(token);
    let sep = if path.contains('?') { '&' } else { '?' };
    let websocket = |extra: String| {
        vec![
            "connection: Upgrade".to_owned(),
            "upgrade: websocket".to_owned(),
            "sec-websocket-version: 13".to_owned(),
            "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==".to_owned(),
            "origin: http://127.0.0.1".to_owned(),
            extra,
        ]
    };
    let b64 = Base64UrlUnpadded::encode_string(token.as_bytes());
    vec![
        (
            "header",
            send(
                addr,
                "GET",
                path,
                &[format!("authorization: Bearer {token}")],
                "",
            )
            .await,
        ),
        (
            "query",
            send(
                addr,
                "GET",
                &format!("{path}{sep}access_token={encoded}"),
                &[],
                "",
            )
            .await,
        ),
        (
            "form",
            send(
                addr,
                "POST",
                path,
                &["content-type: application/x-www-form-urlencoded".to_owned()],
                &format!("access_token={encoded}&x=1"),
            )
            .await,
        ),
        (
            "cookie",
            send(
                addr,
                "GET",
                path,
                &[format!(
                    "cookie: better-auth.session_token={encoded}; session={encoded}"
                )],
                "",
            )
            .await,
        ),
        (
            "subprotocol",
            send(
                addr,
                "GET",
                path,
                &websocket(format!("sec-websocket-protocol: chat, {K8S}{b64}")),
                "",
            )
            .await,
        ),
        (
            "query on a handshake",
            send(
                addr,
                "GET",
                &format!("{path}{sep}access_token={encoded}"),
                &websocket("sec-websocket-protocol: chat".to_owned()),
                "",
            )
            .await,
        ),
        (
            "header on a handshake",
            send(
                addr,
                "GET",
                path,
                &websocket(format!("authorization: Bearer {token}")),
                "",
            )
            .await,
        ),
    ]
}

/// Lets the example write what it logs after an answer (ends of streams, closed connections),
/// stops it, and fails on any leak in all it wrote.
async fn assert_no_leak(name: &str, mut running: Running, secrets: &Secrets) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.stop();
    let (stdout, stderr) = (running.stdout(), running.stderr());
    // The run was below the default `info`: a scan of a log that holds nothing would prove
    // nothing.
    assert!(
        [" DEBUG ", " TRACE ", "DEBUG\u{1b}", "TRACE\u{1b}"]
            .iter()
            .any(|level| stdout.contains(level) || stderr.contains(level)),
        "{name} logged nothing below info: does its subscriber honour RUST_LOG?"
    );
    for (stream, log) in [("stdout", &stdout), ("stderr", &stderr)] {
        if let Some(leak) = secrets.leak(log) {
            panic!("example {name} wrote a secret to {stream}, {leak}");
        }
    }
}

fn start(name: &str, args: &[&str]) -> Running {
    example::start_quiet(name, args, &[("RUST_LOG", "trace")])
}

/// The scan can fail: a piece of a secret planted in a log is found, in clear or between ANSI
/// codes, its report masks it, and a shorter piece or an unrelated line passes.
#[test]
fn the_scan_finds_a_planted_piece() {
    let mut secrets = Secrets::default();
    let token = made_up();
    secrets.add("the planted token", &token);
    let piece = &token[20..20 + PIECE];
    let log = format!(
        "INFO ok\nDEBUG request{{uri=/api/ws?access_token={piece}}}: started processing request\n"
    );
    let leak = secrets.leak(&log).expect("the planted piece is found");
    assert!(leak.starts_with("line 2: the planted token"), "{leak}");
    assert!(!leak.contains(piece), "the report masks the piece");
    assert!(leak.contains("access_token=[SECRET]}"), "{leak}");

    let styled = format!("\u{1b}[3muri\u{1b}[0m\u{1b}[2m=\u{1b}[0m{piece}");
    assert!(secrets.leak(&styled).is_some());
    let encoded = Base64UrlUnpadded::encode_string(token.as_bytes());
    assert!(secrets
        .leak(&format!("protocol {}", &encoded[5..5 + PIECE]))
        .unwrap()
        .contains("in base64url"));
    let mut symbols = Secrets::default();
    symbols.add("a token with symbols", "abcdefghijkl+/mnop==");
    assert!(symbols.leak("access_token=ghijkl%2B%2Fmnop").is_some());

    assert_eq!(secrets.leak(&format!("x={}", &token[..PIECE - 1])), None);
    assert_eq!(
        secrets.leak("INFO started\nDEBUG uri=/api/ws?access_token=***"),
        None
    );
}

/// examples/server: sign-up and sign-in (the password too is a secret), the session token by
/// every source on `/api/ws` (header, query, subprotocol) and on `/api/data` and get-session,
/// a revocation by token in a JSON body, then the revoked token again.
#[tokio::test]
async fn server() {
    let running = start("server", &[]);
    let addr = running.addr;
    let mut secrets = Secrets::default();
    let password = made_up();
    secrets.add("the sign-up password", &password);
    let json = "content-type: application/json".to_owned();
    let sign_up = format!(r#"{{"name":"Ada","email":"ada@example.com","password":"{password}"}}"#);
    let res = support::request(
        addr,
        "POST",
        "/api/auth/sign-up/email",
        &[json.as_bytes()],
        sign_up.as_bytes(),
    )
    .await;
    assert_eq!(res.status, 200, "sign-up");
    let token_of = |res: &support::RawResponse| {
        let body: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
        body["token"].as_str().unwrap().to_owned()
    };
    let token = token_of(&res);
    // Each sign-in hashes a password (Argon2, slow in a debug build): one more session only.
    let sign_in = format!(r#"{{"email":"ada@example.com","password":"{password}"}}"#);
    let res = support::request(
        addr,
        "POST",
        "/api/auth/sign-in/email",
        &[json.as_bytes()],
        sign_in.as_bytes(),
    )
    .await;
    assert_eq!(res.status, 200, "sign-in");
    let other = token_of(&res);
    secrets.add("the sign-up's session token", &token);
    secrets.add("the sign-in's session token", &other);
    let wrong = format!(
        r#"{{"email":"ada@example.com","password":"{}"}}"#,
        made_up()
    );
    let res = support::request(
        addr,
        "POST",
        "/api/auth/sign-in/email",
        &[json.as_bytes()],
        wrong.as_bytes(),
    )
    .await;
    assert_eq!(res.status, 401, "a wrong password");

    // On `/api/ws` the layer takes the token from the header, the query or a subprotocol.
    for (source, status) in every_source(addr, "/api/ws", &token).await {
        if matches!(
            source,
            "query on a handshake" | "subprotocol" | "header on a handshake"
        ) {
            assert_eq!(status, 101, "/api/ws by {source}");
        }
    }
    for path in [
        "/api/data",
        "/api/auth/get-session",
        "/api/auth/list-sessions",
    ] {
        let statuses = every_source(addr, path, &token).await;
        assert_eq!(statuses[0], ("header", 200), "{path}");
    }
    let mut made_up = made_up_tokens(&mut secrets);
    made_up.push(other.clone());
    for fake in &made_up {
        every_source(addr, "/api/ws", fake).await;
        every_source(addr, "/api/data", fake).await;
    }
    // Revoke the second session by its token, in a JSON body; then use it.
    let revoke = format!(r#"{{"token":"{other}"}}"#);
    let res = support::request(
        addr,
        "POST",
        "/api/auth/revoke-session",
        &[
            json.as_bytes(),
            format!("authorization: Bearer {token}").as_bytes(),
        ],
        revoke.as_bytes(),
    )
    .await;
    assert_eq!(res.status, 200, "revoke-session");
    let statuses = every_source(addr, "/api/data", &other).await;
    assert_eq!(statuses[0], ("header", 401), "the revoked token");
    let res = support::request(
        addr,
        "POST",
        "/api/auth/sign-out",
        &[
            json.as_bytes(),
            format!("authorization: Bearer {token}").as_bytes(),
        ],
        b"{}",
    )
    .await;
    assert_eq!(res.status, 200, "sign-out");
    every_source(addr, "/api/ws", &token).await;
    assert_no_leak("server", running, &secrets).await;
}

/// A token from `POST /login`, as the axum and hyper examples hand them out.
async fn login(addr: SocketAddr) -> String {
    let res = support::request(addr, "POST", "/login", &[], b"").await;
    assert_eq!(res.status, 200, "login");
    String::from_utf8(res.body).unwrap()
}

/// examples/axum: `/me` (required, JSON rejections) and `/hello` (optional).
#[tokio::test]
async fn axum() {
    let running = start("axum", &[]);
    let addr = running.addr;
    let mut secrets = Secrets::default();
    let token = login(addr).await;
    secrets.add("the session token", &token);
    let statuses = every_source(addr, "/me", &token).await;
    assert_eq!(statuses[0], ("header", 200));
    every_source(addr, "/hello", &token).await;
    for fake in made_up_tokens(&mut secrets) {
        every_source(addr, "/me", &fake).await;
        every_source(addr, "/hello", &fake).await;
    }
    assert_no_leak("axum", running, &secrets).await;
}

/// examples/hyper: everything but `POST /login` behind the layer.
#[tokio::test]
async fn hyper() {
    let running = start("hyper", &[]);
    let addr = running.addr;
    let mut secrets = Secrets::default();
    let token = login(addr).await;
    secrets.add("the session token", &token);
    let statuses = every_source(addr, "/", &token).await;
    assert_eq!(statuses[0], ("header", 200));
    for fake in made_up_tokens(&mut secrets) {
        every_source(addr, "/", &fake).await;
        every_source(addr, "/login", &fake).await;
    }
    assert_no_leak("hyper", running, &secrets).await;
}

/// Serves `app` on 127.0.0.1 until the test ends.
async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// examples/custom_resolver against an introspection endpoint of the test's own that knows
/// one token, then against one that answers garbage (the 503 path, whose error is logged).
#[tokio::test]
async fn custom_resolver() {
    let mut secrets = Secrets::default();
    let token = format!("{}+/=", made_up());
    secrets.add("the active token", &token);
    let form = format!("token={}", percent(&token));
    let idp = serve(axum::Router::new().route(
        "/introspect",
        axum::routing::post(move |body: String| async move {
            axum::Json(if body == form {
                serde_json::json!({"active": true, "sub": "user-42", "scope": "read"})
            } else {
                serde_json::json!({"active": false})
            })
        }),
    ))
    .await;
    let url = format!("http://{idp}/introspect");
    let running = start("custom_resolver", &["--introspection-url", &url]);
    let addr = running.addr;
    let statuses = every_source(addr, "/", &token).await;
    assert_eq!(statuses[0], ("header", 200));
    let fakes = made_up_tokens(&mut secrets);
    for fake in &fakes {
        every_source(addr, "/", fake).await;
    }
    assert_no_leak("custom_resolver", running, &secrets).await;

    let garbage = serve(axum::Router::new().route(
        "/introspect",
        axum::routing::post(|body: String| async move { format!("not json: {body}") }),
    ))
    .await;
    let url = format!("http://{garbage}/introspect");
    let running = start("custom_resolver", &["--introspection-url", &url]);
    let statuses = every_source(running.addr, "/", &token).await;
    assert_eq!(statuses[0], ("header", 503));
    every_source(running.addr, "/", &fakes[0]).await;
    assert_no_leak("custom_resolver (a failing backend)", running, &secrets).await;
}

/// `base64(HMAC-SHA256(secret, token))`: better-auth's signature.
fn sign(secret: &str, token: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(token.as_bytes());
    format!(
        "{token}.{}",
        Base64::encode_string(&mac.finalize().into_bytes())
    )
}

/// examples/better_auth_api with `--better-auth-url`, in front of a get-session endpoint of
/// the test's own that knows one session: the signed value, the raw token, a badly signed one.
#[tokio::test]
async fn better_auth_api() {
    const SECRET: &str = "a-better-auth-secret-for-the-log-test";
    let mut secrets = Secrets::default();
    secrets.add("better-auth's secret", SECRET);
    let token = made_up();
    let signed = sign(SECRET, &token);
    secrets.add("the session token", &token);
    secrets.add("the signed session token", &signed);
    let session = serde_json::json!({
        "session": {"id": "s1", "token": token, "userId": "u1",
                    "expiresAt": "2099-12-04T15:07:31.923Z", "createdAt": "2026-11-27T15:07:31.923Z",
                    "updatedAt": "2026-11-27T15:07:31.923Z", "ipAddress": "", "userAgent": "curl/8"},
        "user": {"id": "u1", "name": "Ada", "email": "ada@example.com", "emailVerified": false,
                 "image": null, "createdAt": "2026-11-27T15:07:31.900Z",
                 "updatedAt": "2026-11-27T15:07:31.900Z"}
    });
    let known = [format!("Bearer {signed}"), format!("Bearer {token}")];
    let node = serve(axum::Router::new().route(
        "/api/auth/get-session",
        axum::routing::get(move |headers: http::HeaderMap| async move {
            let value = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            axum::Json(known.iter().any(|k| k == value).then(|| session.clone()))
        }),
    ))
    .await;
    let url = format!("http://{node}");
    let running = start(
        "better_auth_api",
        &["--secret", SECRET, "--better-auth-url", &url],
    );
    let addr = running.addr;
    let statuses = every_source(addr, "/api/data", &signed).await;
    assert_eq!(statuses[0], ("header", 200));
    let statuses = every_source(addr, "/api/data", &token).await;
    assert_eq!(statuses[0], ("header", 200));
    let badly_signed = sign("another-secret-entirely-0123456789", &token);
    secrets.add("a badly signed token", &badly_signed);
    every_source(addr, "/api/data", &badly_signed).await;
    for fake in made_up_tokens(&mut secrets) {
        every_source(addr, "/api/data", &fake).await;
    }
    assert_no_leak("better_auth_api", running, &secrets).await;
}

/// One gRPC health check over a fresh HTTP/2 connection, with these extra headers: the
/// `grpc-status`, or `None` if the call failed (a refused header, a reset stream).
async fn grpc_check(addr: SocketAddr, path: &str, headers: &[(&str, String)]) -> Option<String> {
    use http_body_util::BodyExt;
    let mut req = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    // An empty HealthCheckRequest: no compression, length 0.
    let req = req
        .body(http_body_util::Full::new(Bytes::from_static(&[
            0, 0, 0, 0, 0,
        ])))
        .unwrap();
    let call = async {
        let stream = TcpStream::connect(addr).await.ok()?;
        let (mut sender, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .ok()?;
        tokio::spawn(conn);
        let response = sender.send_request(req).await.ok()?;
        let (parts, body) = response.into_parts();
        let status = |map: &http::HeaderMap| {
            map.get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if let Some(status) = status(&parts.headers) {
            return Some(status);
        }
        let collected = body.collect().await.ok()?;
        collected.trailers().and_then(status)
    };
    tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("an answer within 10 s")
}

/// peers/examples/tonic: its own demo calls (the demo token, read from `--token-file`, is a secret
/// too), then the test's calls to both servers with the token in metadata, a cookie and the
/// path's query.
#[tokio::test(flavor = "multi_thread")]
async fn tonic() {
    let dir = std::env::temp_dir().join(format!(
        "tb-logs-{}",
        Base64UrlUnpadded::encode_string(&rand_bytes())
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    let running = start(
        "tonic",
        &[
            "--guarded-addr",
            "127.0.0.1:0",
            "--token-file",
            token_file.to_str().unwrap(),
        ],
    );
    let token = std::fs::read_to_string(&token_file).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let mut secrets = Secrets::default();
    secrets.add("the demo session token", &token);
    let open = running.addr;
    // `listening on http://OPEN (health open) and http://GUARDED (bearer required)`
    let guarded: SocketAddr = running
        .stdout()
        .lines()
        .find_map(|l| l.strip_prefix("listening on "))
        .and_then(|l| l.split("and http://").nth(1))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    // The example's own calls, the last with the token, finish before it waits for Ctrl-C.
    let started = std::time::Instant::now();
    while !running.stdout().contains("serving until Ctrl-C") {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the demo calls"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let check = "/grpc.health.v1.Health/Check";
    let mut tokens = vec![token.clone()];
    tokens.extend(made_up_tokens(&mut secrets));
    for (i, value) in tokens.iter().enumerate() {
        let encoded = percent(value);
        for addr in [open, guarded] {
            let status =
                grpc_check(addr, check, &[("authorization", format!("Bearer {value}"))]).await;
            if i == 0 && addr == guarded {
                assert_eq!(status.as_deref(), Some("0"), "the demo token");
            }
            grpc_check(addr, check, &[("cookie", format!("session={encoded}"))]).await;
            grpc_check(addr, &format!("{check}?access_token={encoded}"), &[]).await;
        }
    }
    assert_no_leak("tonic", running, &secrets).await;
}

fn rand_bytes() -> [u8; 12] {
    let mut bytes = [0; 12];
    getrandom::fill(&mut bytes).unwrap();
    bytes
}
