//! examples/server, route by route: the built binary on a real socket on 127.0.0.1.

mod support;

use std::net::SocketAddr;

use serde_json::{json, Value};
use support::{request, RawResponse};

/// A fresh server. Dropping the guard stops it, so each test binds its guard by name.
async fn start() -> (SocketAddr, support::example::Running) {
    start_with(&[]).await
}

async fn start_with(args: &[&str]) -> (SocketAddr, support::example::Running) {
    let running = support::example::start("server", args);
    (running.addr, running)
}

async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> RawResponse {
    let auth = token.map(|t| format!("authorization: Bearer {t}"));
    let mut lines: Vec<&[u8]> = vec![b"user-agent: server-test/1"];
    if let Some(auth) = &auth {
        lines.push(auth.as_bytes());
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    if !body.is_empty() {
        lines.push(b"content-type: application/json");
    }
    request(addr, method, path, &lines, body.as_bytes()).await
}

/// The status of `GET /api/data` with this bearer token: 200 while its session lives.
async fn data_status(addr: SocketAddr, token: &str) -> u16 {
    call(addr, "GET", "/api/data", Some(token), None)
        .await
        .status
}

fn json_of(res: &RawResponse) -> Value {
    serde_json::from_slice(&res.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", res.body_str()))
}

fn assert_error(res: &RawResponse, status: u16, code: &str) {
    assert_eq!(res.status, status, "{}", res.body_str());
    let body = json_of(res);
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].is_string(), "{body}");
}

fn assert_iso_millis(v: &Value) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("not a date string: {v}"));
    // 2026-11-27T08:36:52.123Z
    assert_eq!(s.len(), 24, "{s}");
    assert!(s.ends_with('Z') && s.as_bytes()[19] == b'.', "{s}");
}

async fn sign_in(addr: SocketAddr) -> (String, Value) {
    let res = call(
        addr,
        "POST",
        "/api/auth/sign-in/email",
        None,
        Some(&json!({"email": "user@example.com", "password": "securepassword"})),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body_str());
    let body = json_of(&res);
    (body["token"].as_str().unwrap().to_string(), body)
}

#[tokio::test]
async fn sign_up_issues_a_session() {
    let (addr, _server) = start().await;
    let res = call(
        addr,
        "POST",
        "/api/auth/sign-up/email",
        None,
        Some(&json!({"name": "Ada", "email": "ada@example.com", "password": "12345678"})),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body_str());
    let body = json_of(&res);
    let token = body["token"].as_str().unwrap();
    assert_eq!(res.header("set-auth-token"), Some(token));
    assert_eq!(
        res.header("access-control-expose-headers"),
        Some("set-auth-token,www-authenticate")
    );
    let user = &body["user"];
    let mut keys: Vec<_> = user.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "createdAt",
            "email",
            "emailVerified",
            "id",
            "image",
            "name",
            "updatedAt"
        ]
    );
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["emailVerified"], false);
    assert_iso_millis(&user["createdAt"]);
    assert!(
        !res.body_str().contains("12345678"),
        "the password must not come back"
    );

    let session = json_of(&call(addr, "GET", "/api/auth/get-session", Some(token), None).await);
    assert_eq!(session["user"]["id"], user["id"]);
}

async fn post_json(addr: SocketAddr, path: &str, body: Value) -> RawResponse {
    call(addr, "POST", path, None, Some(&body)).await
}

#[tokio::test]
async fn sign_up_failures() {
    let (addr, _server) = start().await;
    let path = "/api/auth/sign-up/email";
    let res = post_json(
        addr,
        path,
        json!({"name": "A", "email": "a@example.com", "password": "1234567"}),
    )
    .await;
    assert_error(&res, 400, "PASSWORD_TOO_SHORT");
    let res = post_json(
        addr,
        path,
        json!({"name": "A", "email": "a@example.com", "password": "x".repeat(129)}),
    )
    .await;
    assert_error(&res, 400, "PASSWORD_TOO_LONG");
    let res = post_json(
        addr,
        path,
        json!({"name": "A", "email": "a@example.com", "password": "x".repeat(128)}),
    )
    .await;
    assert_eq!(res.status, 200, "128 characters is allowed");
    let res = post_json(
        addr,
        path,
        json!({"name": "B", "email": "USER@example.com", "password": "another-password"}),
    )
    .await;
    assert_error(&res, 422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL");
    let res = post_json(
        addr,
        path,
        json!({"name": "A", "email": "not-an-email", "password": "12345678"}),
    )
    .await;
    assert_error(&res, 400, "VALIDATION_ERROR");
    let res = post_json(
        addr,
        path,
        json!({"email": "c@example.com", "password": "12345678"}),
    )
    .await;
    assert_error(&res, 400, "VALIDATION_ERROR");
    let res = post_json(
        addr,
        path,
        json!({"name": " ", "email": "c@example.com", "password": "12345678"}),
    )
    .await;
    assert_error(&res, 400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn bad_input_is_a_precise_4xx() {
    let (addr, _server) = start().await;
    let path = "/api/auth/sign-in/email";
    let json_header: &[u8] = b"content-type: application/json";
    let res = request(addr, "POST", path, &[json_header], b"{not json").await;
    assert_error(&res, 400, "VALIDATION_ERROR");
    let res = request(addr, "POST", path, &[json_header], b"[1,2]").await;
    assert_error(&res, 400, "VALIDATION_ERROR");
    let res = request(
        addr,
        "POST",
        path,
        &[],
        br#"{"email":"user@example.com","password":"securepassword"}"#,
    )
    .await;
    assert_error(&res, 415, "UNSUPPORTED_MEDIA_TYPE");
    let big = format!(
        r#"{{"email":"user@example.com","password":"{}"}}"#,
        "x".repeat(20_000)
    );
    let res = request(addr, "POST", path, &[json_header], big.as_bytes()).await;
    assert_error(&res, 413, "PAYLOAD_TOO_LARGE");
    let res = call(addr, "GET", "/api/auth/nope", None, None).await;
    assert_error(&res, 404, "NOT_FOUND");
}

#[tokio::test]
async fn sign_in_answers_token_user_and_header() {
    let (addr, _server) = start().await;
    let res = post_json(
        addr,
        "/api/auth/sign-in/email",
        json!({"email": "user@example.com", "password": "securepassword"}),
    )
    .await;
    assert_eq!(res.status, 200);
    let body = json_of(&res);
    assert_eq!(body["redirect"], false);
    let token = body["token"].as_str().unwrap();
    assert_eq!(token.len(), 43);
    assert_eq!(res.header("set-auth-token"), Some(token));
    assert_eq!(
        res.header("access-control-expose-headers"),
        Some("set-auth-token,www-authenticate")
    );
    assert_eq!(body["user"]["email"], "user@example.com");
    assert_eq!(body["user"]["name"], "Demo User");
}

#[tokio::test]
async fn sign_in_failures() {
    let (addr, _server) = start().await;
    let path = "/api/auth/sign-in/email";
    let res = post_json(
        addr,
        path,
        json!({"email": "user@example.com", "password": "wrong-password"}),
    )
    .await;
    assert_error(&res, 401, "INVALID_EMAIL_OR_PASSWORD");
    assert_eq!(res.header("set-auth-token"), None);
    let res = post_json(
        addr,
        path,
        json!({"email": "nobody@example.com", "password": "securepassword"}),
    )
    .await;
    assert_error(&res, 401, "INVALID_EMAIL_OR_PASSWORD");
    let res = post_json(addr, path, json!({"email": "user@example.com"})).await;
    assert_error(&res, 400, "VALIDATION_ERROR");
    let res = post_json(
        addr,
        path,
        json!({"email": "bad", "password": "securepassword"}),
    )
    .await;
    // better-auth's sign-in checks the address itself, after the body's schema.
    assert_error(&res, 400, "INVALID_EMAIL");
    assert_eq!(json_of(&res)["message"], "Invalid email");
}

#[tokio::test]
async fn remember_me_false_gives_a_one_day_session() {
    let (addr, _server) = start().await;
    let res = post_json(
        addr,
        "/api/auth/sign-in/email",
        json!({"email": "user@example.com", "password": "securepassword", "rememberMe": false}),
    )
    .await;
    let token = json_of(&res)["token"].as_str().unwrap().to_string();
    let session = json_of(&call(addr, "GET", "/api/auth/get-session", Some(&token), None).await);
    let created = session["session"]["createdAt"].as_str().unwrap();
    let expires = session["session"]["expiresAt"].as_str().unwrap();
    let millis = |s: &str| humantime::parse_rfc3339(s).unwrap();
    let lifetime = millis(expires).duration_since(millis(created)).unwrap();
    assert_eq!(lifetime.as_secs(), 86_400);
}

#[tokio::test]
async fn get_session_is_null_without_a_valid_token() {
    let (addr, _server) = start().await;
    for token in [None, Some("unknown-token"), Some("not a token")] {
        let res = call(addr, "GET", "/api/auth/get-session", token, None).await;
        assert_eq!(res.status, 200, "{token:?}");
        assert_eq!(res.body_str(), "null");
    }
    let (token, signed_in) = sign_in(addr).await;
    let res = call(addr, "GET", "/api/auth/get-session", Some(&token), None).await;
    assert_eq!(res.status, 200);
    let body = json_of(&res);
    assert_eq!(body["user"], signed_in["user"]);
    let session = &body["session"];
    assert_eq!(session["userId"], signed_in["user"]["id"]);
    assert_eq!(session["userAgent"], "server-test/1");
    assert_eq!(session["ipAddress"], "127.0.0.1");
    for field in ["createdAt", "updatedAt", "expiresAt"] {
        assert_iso_millis(&session[field]);
    }
    assert!(
        !res.body_str().contains(&token),
        "the session object does not carry the secret"
    );
}

#[tokio::test]
async fn list_sessions_needs_a_bearer_token() {
    let (addr, _server) = start().await;
    let res = call(addr, "GET", "/api/auth/list-sessions", None, None).await;
    assert_eq!(res.status, 401);
    assert_eq!(
        json_of(&res),
        json!({"message": "Unauthorized", "code": "UNAUTHORIZED"})
    );
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    let res = call(
        addr,
        "GET",
        "/api/auth/list-sessions",
        Some("unknown"),
        None,
    )
    .await;
    assert_eq!(res.status, 401);
    assert!(res
        .header("www-authenticate")
        .unwrap()
        .contains(r#"error="invalid_token""#));
    let res = call(addr, "GET", "/api/auth/list-sessions", Some("a b"), None).await;
    assert_eq!(res.status, 400);
    assert!(res
        .header("www-authenticate")
        .unwrap()
        .contains(r#"error="invalid_request""#));
}

#[tokio::test]
async fn list_sessions_shows_active_sessions_only() {
    let (addr, _server) = start().await;
    let (a, _) = sign_in(addr).await;
    let (b, _) = sign_in(addr).await;
    let list = json_of(&call(addr, "GET", "/api/auth/list-sessions", Some(&a), None).await);
    assert_eq!(list.as_array().unwrap().len(), 2);
    call(
        addr,
        "POST",
        "/api/auth/sign-out",
        Some(&b),
        Some(&json!({})),
    )
    .await;
    let list = json_of(&call(addr, "GET", "/api/auth/list-sessions", Some(&a), None).await);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_iso_millis(&list[0]["expiresAt"]);
}

#[tokio::test]
async fn revoke_session_by_token_only_the_callers_own() {
    let (addr, _server) = start().await;
    let (a, _) = sign_in(addr).await;
    let (b, _) = sign_in(addr).await;
    let other = json_of(
        &post_json(
            addr,
            "/api/auth/sign-up/email",
            json!({"name": "Eve", "email": "eve@example.com", "password": "evepassword"}),
        )
        .await,
    )["token"]
        .as_str()
        .unwrap()
        .to_string();

    let res = call(
        addr,
        "POST",
        "/api/auth/revoke-session",
        None,
        Some(&json!({"token": b})),
    )
    .await;
    assert_eq!(res.status, 401);
    // Eve cannot revoke the demo user's session.
    let res = call(
        addr,
        "POST",
        "/api/auth/revoke-session",
        Some(&other),
        Some(&json!({"token": b})),
    )
    .await;
    assert_eq!(json_of(&res), json!({"status": true}));
    assert_eq!(data_status(addr, &b).await, 200);

    let res = call(
        addr,
        "POST",
        "/api/auth/revoke-session",
        Some(&a),
        Some(&json!({"token": b})),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(json_of(&res), json!({"status": true}));
    assert_eq!(data_status(addr, &b).await, 401);
    assert_eq!(data_status(addr, &a).await, 200);
    let res = call(
        addr,
        "POST",
        "/api/auth/revoke-session",
        Some(&a),
        Some(&json!({})),
    )
    .await;
    assert_error(&res, 400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn revoke_sessions_and_revoke_other_sessions() {
    let (addr, _server) = start().await;
    let (a, _) = sign_in(addr).await;
    let (b, _) = sign_in(addr).await;
    let (c, _) = sign_in(addr).await;
    for path in [
        "/api/auth/revoke-sessions",
        "/api/auth/revoke-other-sessions",
    ] {
        assert_eq!(
            call(addr, "POST", path, None, Some(&json!({})))
                .await
                .status,
            401
        );
    }
    let res = call(
        addr,
        "POST",
        "/api/auth/revoke-other-sessions",
        Some(&a),
        Some(&json!({})),
    )
    .await;
    assert_eq!(json_of(&res), json!({"status": true}));
    assert_eq!(data_status(addr, &a).await, 200);
    assert_eq!(data_status(addr, &b).await, 401);
    assert_eq!(data_status(addr, &c).await, 401);

    let (d, _) = sign_in(addr).await;
    let res = call(
        addr,
        "POST",
        "/api/auth/revoke-sessions",
        Some(&d),
        Some(&json!({})),
    )
    .await;
    assert_eq!(json_of(&res), json!({"status": true}));
    assert_eq!(data_status(addr, &a).await, 401);
    assert_eq!(data_status(addr, &d).await, 401);
}

#[tokio::test]
async fn sign_out_revokes_the_session() {
    let (addr, _server) = start().await;
    let (token, _) = sign_in(addr).await;
    let res = call(
        addr,
        "POST",
        "/api/auth/sign-out",
        Some(&token),
        Some(&json!({})),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(json_of(&res), json!({"success": true}));
    let res = call(addr, "GET", "/api/auth/get-session", Some(&token), None).await;
    assert_eq!(res.body_str(), "null");
    // Signing out without a session is still a success.
    let res = call(addr, "POST", "/api/auth/sign-out", None, Some(&json!({}))).await;
    assert_eq!(json_of(&res), json!({"success": true}));
}

#[tokio::test]
async fn api_data_is_the_protected_resource() {
    let (addr, _server) = start().await;
    let (token, signed_in) = sign_in(addr).await;
    let res = call(addr, "GET", "/api/data", Some(&token), None).await;
    assert_eq!(res.status, 200);
    let body = json_of(&res);
    assert_eq!(body["user"], signed_in["user"]);
    assert_eq!(body["session"]["userId"], signed_in["user"]["id"]);

    let res = call(addr, "GET", "/api/data", None, None).await;
    assert_eq!(res.status, 401);
    assert_eq!(
        res.header("www-authenticate"),
        Some(r#"Bearer realm="tower-bearer example""#)
    );
    assert_error(&res, 401, "UNAUTHORIZED");
    let res = call(addr, "GET", "/api/data", Some("nope"), None).await;
    assert_eq!(
        res.header("www-authenticate"),
        Some(
            r#"Bearer realm="tower-bearer example", error="invalid_token", error_description="the bearer token is invalid, expired or revoked""#
        )
    );
    let res = request(
        addr,
        "GET",
        "/api/data",
        &[b"content-type: application/grpc"],
        b"",
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("grpc-status"), Some("16"));
}

#[tokio::test]
async fn cors_lets_browsers_in() {
    let (addr, _server) = start().await;
    let res = request(
        addr,
        "OPTIONS",
        "/api/auth/list-sessions",
        &[
            b"origin: http://app.example",
            b"access-control-request-method: GET",
            b"access-control-request-headers: authorization",
        ],
        b"",
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    // better-auth's client sends every request with `credentials: "include"`.
    assert_eq!(res.header("access-control-allow-credentials"), Some("true"));
    assert!(res
        .header("access-control-allow-headers")
        .unwrap()
        .contains("authorization"));
    let res = request(
        addr,
        "POST",
        "/api/auth/sign-in/email",
        &[
            b"origin: http://app.example",
            b"content-type: application/json",
        ],
        br#"{"email":"user@example.com","password":"securepassword"}"#,
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    assert_eq!(res.header("access-control-allow-credentials"), Some("true"));
    assert!(res
        .headers
        .iter()
        .any(|(n, v)| n == "access-control-expose-headers" && v.contains("set-auth-token")));
}

/// With `--trusted-origin`, only the listed origins get CORS headers, as better-auth's
/// `trustedOrigins`.
#[tokio::test]
async fn trusted_origins_are_enforced() {
    let (addr, _server) = start_with(&[
        "--trusted-origin",
        "http://app.example",
        "--trusted-origin=http://localhost:5173",
    ])
    .await;
    for (origin, allowed) in [
        ("http://app.example", true),
        ("http://localhost:5173", true),
        ("http://evil.example", false),
        ("http://app.example.evil", false),
    ] {
        let line = format!("origin: {origin}");
        let res = request(
            addr,
            "OPTIONS",
            "/api/auth/sign-in/email",
            &[
                line.as_bytes(),
                b"access-control-request-method: POST",
                b"access-control-request-headers: content-type",
            ],
            b"",
        )
        .await;
        let expected = allowed.then_some(origin);
        assert_eq!(
            res.header("access-control-allow-origin"),
            expected,
            "{origin}"
        );
    }
}
