//! The MCP authorization spec end to end, on real sockets: peers/examples/mcp_server.rs (rmcp behind
//! `ResourceServer`) with a real authorization server (panva's oidc-provider,
//! tests/interop/oidc-provider.mjs) and the official MCP TypeScript SDK's client
//! (tests/interop/mcp-client.mjs): its discovery, its OAuth flow, its tool call; then every
//! challenge header for header, the RFC 9728 document and its CORS, RFC 9470 step-up with the
//! provider's own tokens, and a resource with a longer path.
//!
//! No token is printed: the scripts redact them, and the assertions here never show one.
#![cfg(all(feature = "jwt", feature = "axum"))]

#[path = "../../tests/support/mod.rs"]
mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use support::example::{self, Running};
use support::node;
use support::oidc::{free_port, Provider};
use support::RawResponse;
use tower_bearer::oauth::{AccessPolicy, ResourceServer};

/// The scope the example requires, as the provider grants it.
const SCOPE: &str = "mcp:tools";

/// The provider and the example, for the resource `http://127.0.0.1:PORT{path}`.
struct Setup {
    provider: Provider,
    server: Running,
    port: u16,
    resource: String,
}

impl Setup {
    /// The provider issues tokens for the resource and for another one on the same server
    /// (`/other`), with `mcp:tools` and `other:scope`; the example requires `mcp:tools`.
    fn start(path: &str) -> Setup {
        let port = free_port();
        let resource = format!("http://127.0.0.1:{port}{path}");
        let other = format!("http://127.0.0.1:{port}/other");
        let provider = Provider::start(&[
            "--resource",
            &resource,
            "--resource",
            &other,
            "--scope",
            SCOPE,
            "--scope",
            "other:scope",
        ]);
        let addr = format!("127.0.0.1:{port}");
        let server = example::start(
            "mcp_server",
            &[
                "--addr",
                &addr,
                "--resource",
                &resource,
                "--issuer-url",
                provider.issuer(),
                "--scope",
                SCOPE,
            ],
        );
        assert_eq!(server.addr.port(), port, "the example listens where told");
        Setup {
            provider,
            server,
            port,
            resource,
        }
    }

    fn other_resource(&self) -> String {
        format!("http://127.0.0.1:{}/other", self.port)
    }

    /// The URL the challenges name.
    fn metadata_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/.well-known/oauth-protected-resource{}",
            self.port,
            self.path()
        )
    }

    fn path(&self) -> &str {
        let origin = format!("http://127.0.0.1:{}", self.port);
        self.resource.strip_prefix(&origin).unwrap()
    }

    /// `401` without credentials: no error (RFC 6750 §3.1), the scope and the metadata.
    fn no_token_challenge(&self) -> String {
        format!(
            r#"Bearer scope="{SCOPE}", resource_metadata="{}""#,
            self.metadata_url()
        )
    }

    fn invalid_token_challenge(&self) -> String {
        format!(
            r#"Bearer error="invalid_token", error_description="the bearer token is invalid, expired or revoked", scope="{SCOPE}", resource_metadata="{}""#,
            self.metadata_url()
        )
    }

    /// The metadata document exactly.
    fn metadata(&self) -> Value {
        json!({
            "resource": self.resource,
            "authorization_servers": [self.provider.issuer()],
            "scopes_supported": [SCOPE],
            "bearer_methods_supported": ["header"],
        })
    }

    async fn token(&self, resource: &str, scope: &str) -> String {
        let answer = self.provider.client_credentials(resource, scope).await;
        answer["access_token"].as_str().unwrap().to_owned()
    }

    /// `POST {path}` with an MCP `initialize` and the given extra header lines.
    async fn initialize(&self, path: &str, header_lines: &[&[u8]]) -> RawResponse {
        let body = json!({
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "tower-bearer-test", "version": "1"},
            },
        })
        .to_string();
        let mut lines: Vec<&[u8]> = vec![
            b"content-type: application/json",
            b"accept: application/json, text/event-stream",
        ];
        lines.extend_from_slice(header_lines);
        within(support::request(
            self.server.addr,
            "POST",
            path,
            &lines,
            body.as_bytes(),
        ))
        .await
    }
}

/// A request that must be answered within a generous time (a loaded 2-core machine).
async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("answered within 60 s")
}

/// Runs `node mcp-client.mjs ARGS` and reads its one JSON line.
async fn mcp_client(args: &[&str]) -> Value {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let output = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        node::run("mcp-client.mjs", &args)
    })
    .await
    .unwrap();
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "mcp-client.mjs printed no JSON line (exit {:?}); stderr:\n{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The text of a `whoami` result, parsed.
fn whoami(out: &Value) -> Value {
    let content = &out["result"]["content"];
    assert_eq!(content.as_array().map(Vec::len), Some(1), "{out}");
    assert_eq!(content[0]["type"], "text");
    serde_json::from_str(content[0]["text"].as_str().unwrap()).unwrap()
}

/// The SDK's recorded requests as `METHOD URL STATUS`.
fn sequence(out: &Value) -> Vec<String> {
    out["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["method"].as_str().unwrap(),
                r["url"].as_str().unwrap(),
                r["status"]
            )
        })
        .collect()
}

fn header<'a>(response: &'a RawResponse, name: &str) -> &'a str {
    response
        .header(name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", response.headers))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mcp_sdk_discovers_logs_in_and_calls_whoami() {
    node::ensure_packages();
    let setup = Setup::start("/mcp");
    let url = setup.resource.as_str();
    let issuer = setup.provider.issuer().to_owned();

    // Without an auth provider the SDK only reports the 401.
    let out = mcp_client(&["unauthenticated", "--url", url]).await;
    assert_eq!(
        (&out["ok"], &out["error"], &out["code"]),
        (&json!(false), &json!("StreamableHTTPError"), &json!(401)),
        "{out}"
    );
    let first = &out["requests"][0];
    assert_eq!(
        (&first["method"], &first["url"]),
        (&json!("POST"), &json!(url))
    );
    assert_eq!(first["rpc"], "initialize");
    assert_eq!(first["status"], 401);
    assert_eq!(
        first["www_authenticate"],
        setup.no_token_challenge().as_str()
    );
    assert!(
        first["www_authenticate"]
            .as_str()
            .unwrap()
            .contains(&format!(
                r#"resource_metadata="http://127.0.0.1:{}/.well-known/oauth-protected-resource/mcp""#,
                setup.port
            )),
        "{out}"
    );

    // Its own discovery: the challenge, RFC 9728, RFC 8414, registration, the authorization URL.
    let out = mcp_client(&["discover", "--url", url]).await;
    assert_eq!(
        (&out["ok"], &out["error"]),
        (&json!(true), &json!("UnauthorizedError")),
        "{out}"
    );
    eprintln!("the SDK's discovery requests:");
    for r in out["requests"].as_array().unwrap() {
        eprintln!(
            "  {} {} -> {} headers {}",
            r["method"].as_str().unwrap(),
            r["url"].as_str().unwrap(),
            r["status"],
            r["headers"]
        );
    }
    assert_eq!(
        sequence(&out),
        [
            format!("POST {url} 401"),
            format!("GET {} 200", setup.metadata_url()),
            format!("GET {issuer}/.well-known/oauth-authorization-server 200"),
            format!("POST {issuer}/reg 201"),
        ],
        "{out}"
    );
    let requests = &out["requests"];
    assert_eq!(
        requests[0]["www_authenticate"],
        setup.no_token_challenge().as_str()
    );
    // The metadata and the AS metadata, as the SDK 1.32 asks for them (no token anywhere).
    assert_eq!(
        requests[1]["headers"],
        json!({"mcp-protocol-version": "2025-11-25"}),
        "{out}"
    );
    assert_eq!(
        requests[2]["headers"],
        json!({"accept": "application/json", "mcp-protocol-version": "2025-11-25"}),
        "{out}"
    );
    assert_eq!(
        requests[3]["json"]["scope"], SCOPE,
        "registration asks for the challenged scope"
    );
    let params = &out["params"];
    assert!(
        out["authorizationUrl"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{issuer}/auth?")),
        "{out}"
    );
    assert_eq!(
        params["resource"], url,
        "RFC 8707: the metadata's resource verbatim"
    );
    assert_eq!(params["code_challenge_method"], "S256");
    assert!(params["code_challenge"]
        .as_str()
        .is_some_and(|c| c.len() >= 43));
    assert_eq!(params["scope"], SCOPE, "the challenged scopes");
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], out["registration"]["client_id"]);

    // A client_credentials token for the resource: connect, list, call.
    let token = setup.token(url, SCOPE).await;
    let out = mcp_client(&["call", "--url", url, "--token", &token]).await;
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["tools"], json!(["whoami"]));
    let client_id = setup.provider.info["client"]["client_id"].clone();
    assert_eq!(
        whoami(&out),
        json!({"sub": client_id, "client_id": client_id, "scope": SCOPE})
    );
    assert!(
        out["requests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] != 401 && r["status"] != 403),
        "{out}"
    );

    // The whole flow through the SDK: discovery, registration, authorization code with PKCE
    // and the resource, its token, then the tool as the user.
    let out = mcp_client(&["login", "--url", url]).await;
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["tools"], json!(["whoami"]));
    let registered = out["registration"]["client_id"].clone();
    assert_eq!(
        whoami(&out),
        json!({"sub": "user-1", "client_id": registered, "scope": SCOPE})
    );
    let claims = &out["tokenResponse"]["access_token"]["claims"];
    assert_eq!(claims["aud"], url, "{out}");
    assert_eq!(claims["iss"], issuer.as_str());
    assert_eq!(
        out["tokenResponse"]["access_token"]["header"]["typ"],
        "at+jwt"
    );
    let token_request = out["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["url"] == format!("{issuer}/token"))
        .expect("a token request");
    assert_eq!(token_request["form"]["resource"], url);
    assert_eq!(token_request["form"]["grant_type"], "authorization_code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_header_for_header() {
    node::ensure_packages();
    let setup = Setup::start("/mcp");
    let url = setup.resource.clone();

    // No token.
    let response = setup.initialize("/mcp", &[]).await;
    assert_eq!(response.status, 401);
    assert_eq!(
        header(&response, "www-authenticate"),
        setup.no_token_challenge()
    );

    // The right audience and scope: the MCP server answers.
    let token = setup.token(&url, SCOPE).await;
    let bearer = format!("authorization: Bearer {token}");
    let response = setup.initialize("/mcp", &[bearer.as_bytes()]).await;
    assert_eq!(response.status, 200, "{}", response.body_str());
    assert!(response.header("www-authenticate").is_none());
    assert!(
        response.body_str().contains(r#""protocolVersion""#),
        "an initialize result"
    );

    // A token the same provider minted for another resource: not for us.
    let elsewhere = setup.token(&setup.other_resource(), SCOPE).await;
    let bearer = format!("authorization: Bearer {elsewhere}");
    let response = setup.initialize("/mcp", &[bearer.as_bytes()]).await;
    assert_eq!(response.status, 401);
    assert_eq!(
        header(&response, "www-authenticate"),
        setup.invalid_token_challenge()
    );

    // Not a JWT at all.
    let response = setup
        .initialize("/mcp", &[b"authorization: Bearer not-a-jwt"])
        .await;
    assert_eq!(response.status, 401);
    assert_eq!(
        header(&response, "www-authenticate"),
        setup.invalid_token_challenge()
    );

    // For us, without the scope: 403 naming the scope to ask for.
    let narrow = setup.token(&url, "other:scope").await;
    let bearer = format!("authorization: Bearer {narrow}");
    let response = setup.initialize("/mcp", &[bearer.as_bytes()]).await;
    assert_eq!(response.status, 403);
    assert_eq!(
        header(&response, "www-authenticate"),
        format!(
            r#"Bearer error="insufficient_scope", error_description="insufficient scope", scope="{SCOPE}", resource_metadata="{}""#,
            setup.metadata_url()
        )
    );

    // The same through the SDK with a plain header: it reports the 403.
    let out = mcp_client(&["call", "--url", &url, "--token", &narrow, "--header"]).await;
    assert_eq!(
        (&out["ok"], &out["error"], &out["code"]),
        (&json!(false), &json!("StreamableHTTPError"), &json!(403)),
        "{out}"
    );

    // A valid token in the query string is never read: no credentials, no error.
    let path = format!("/mcp?access_token={token}");
    let response = setup.initialize(&path, &[]).await;
    assert_eq!(response.status, 401);
    assert_eq!(
        header(&response, "www-authenticate"),
        setup.no_token_challenge()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_document_and_its_cors() {
    node::ensure_packages();
    let setup = Setup::start("/mcp");
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let response = within(support::get(
            setup.server.addr,
            path,
            &[
                b"mcp-protocol-version: 2025-11-25",
                b"origin: http://localhost:6274",
            ],
        ))
        .await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(header(&response, "content-type"), "application/json");
        assert_eq!(header(&response, "access-control-allow-origin"), "*");
        let document: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(document, setup.metadata(), "{path}");
    }

    // A browser's preflight for the SDK's request.
    let response = within(support::request(
        setup.server.addr,
        "OPTIONS",
        "/.well-known/oauth-protected-resource/mcp",
        &[
            b"origin: http://localhost:6274",
            b"access-control-request-method: GET",
            b"access-control-request-headers: mcp-protocol-version",
        ],
        b"",
    ))
    .await;
    assert_eq!(response.status, 204);
    assert_eq!(header(&response, "access-control-allow-origin"), "*");
    let allowed = header(&response, "access-control-allow-headers").to_ascii_lowercase();
    assert!(
        allowed
            .split(',')
            .any(|h| h.trim() == "mcp-protocol-version"),
        "{allowed}"
    );
    assert!(header(&response, "access-control-allow-methods").contains("GET"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_with_a_longer_path() {
    node::ensure_packages();
    let setup = Setup::start("/tenant/a/mcp");
    let url = setup.resource.clone();
    assert_eq!(
        setup.metadata_url(),
        format!(
            "http://127.0.0.1:{}/.well-known/oauth-protected-resource/tenant/a/mcp",
            setup.port
        )
    );
    for path in [
        "/.well-known/oauth-protected-resource/tenant/a/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let response = within(support::get(setup.server.addr, path, &[])).await;
        assert_eq!(response.status, 200, "{path}");
        let document: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(document, setup.metadata(), "{path}");
    }

    let response = setup.initialize("/tenant/a/mcp", &[]).await;
    assert_eq!(response.status, 401);
    assert_eq!(
        header(&response, "www-authenticate"),
        setup.no_token_challenge()
    );

    // The SDK finds this resource's metadata from the challenge, and asks for it.
    let out = mcp_client(&["discover", "--url", &url]).await;
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(
        sequence(&out)[..2],
        [
            format!("POST {url} 401"),
            format!("GET {} 200", setup.metadata_url())
        ],
        "{out}"
    );
    assert_eq!(out["params"]["resource"], url.as_str());

    let token = setup.token(&url, SCOPE).await;
    let out = mcp_client(&["call", "--url", &url, "--token", &token]).await;
    assert_eq!(out["ok"], true, "{out}");
    let client_id = setup.provider.info["client"]["client_id"].clone();
    assert_eq!(
        whoami(&out),
        json!({"sub": client_id, "client_id": client_id, "scope": SCOPE})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_up_with_the_providers_acr_and_auth_time() {
    node::ensure_packages();
    // Our own server this time: the port first (the resource names it), then the provider.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let resource = format!("http://{addr}/mcp");
    let provider = Provider::start(&["--resource", &resource, "--scope", SCOPE]);
    let issuer = provider.issuer().to_owned();

    let mcp = ResourceServer::new(&resource, &issuer).unwrap().policy(
        AccessPolicy::new()
            .require_scopes([SCOPE])
            .acr_values(["urn:test:loa:2"])
            .max_age(Duration::from_secs(300)),
    );
    let resolver = mcp
        .jwt_resolver::<serde_json::Map<String, Value>>()
        .issuer_url(&issuer)
        .unwrap();
    let app = axum::Router::new()
        .route("/mcp", axum::routing::post(|| async { "tool result" }))
        .layer(mcp.layer(resolver));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let metadata_url = format!("http://{addr}/.well-known/oauth-protected-resource/mcp");
    let step_up = format!(
        r#"Bearer error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required", scope="{SCOPE}", acr_values="urn:test:loa:2", max_age="300", resource_metadata="{metadata_url}""#
    );
    let post = |token: String| async move {
        let bearer = format!("authorization: Bearer {token}");
        within(support::request(
            addr,
            "POST",
            "/mcp",
            &[bearer.as_bytes()],
            b"{}",
        ))
        .await
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();

    // A weaker login than the policy asks for.
    let weak = provider.mint(json!({"acr": "urn:test:loa:1"})).await;
    assert_eq!(weak["claims"]["acr"], "urn:test:loa:1");
    let response = post(weak["access_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(response.status, 401);
    assert_eq!(header(&response, "www-authenticate"), step_up);

    // The right class, but an hour ago.
    let old = provider
        .mint(json!({"acr": "urn:test:loa:2", "auth_time": now - 3600}))
        .await;
    assert_eq!(old["claims"]["auth_time"], now - 3600);
    let response = post(old["access_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(response.status, 401);
    assert_eq!(header(&response, "www-authenticate"), step_up);

    // The right class, just now: through.
    let fresh = provider.mint(json!({"acr": "urn:test:loa:2"})).await;
    let response = post(fresh["access_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(response.status, 200, "{}", response.body_str());
    assert_eq!(response.body_str(), "tool result");

    // The right login without the scope: the scope is what is missing now.
    let unscoped = provider
        .mint(json!({"acr": "urn:test:loa:2", "scope": "openid"}))
        .await;
    let response = post(unscoped["access_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(response.status, 403);
    assert_eq!(
        header(&response, "www-authenticate"),
        format!(
            r#"Bearer error="insufficient_scope", error_description="insufficient scope", scope="{SCOPE}", resource_metadata="{metadata_url}""#
        )
    );
}
