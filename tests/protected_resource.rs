//! RFC 9728 through the layer, on real sockets: the metadata served at its well-known URLs
//! without a token and with CORS, never behind the layer; `resource_metadata` in every
//! challenge the layer or a requirement behind it sends, also under a custom body; the scopes to
//! ask for in every `401`; `bearer_methods_supported` following the token sources; and the
//! audience compared as RFC 8707 resource URIs.
#![cfg(all(feature = "jwt", feature = "memory-store"))]

mod support;

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::{json, Value};
use tower::{service_fn, ServiceBuilder};
use tower_bearer::oauth::{AccessPolicy, JwtResolver, Key, KeySet, ResourceServer};
use tower_bearer::protected_resource::ProtectedResourceMetadata;
use tower_bearer::{
    resolver_fn, BearerLayer, BearerToken, InsufficientScope, QueryParameter, Rejection,
};

const URL: &str = "http://api.example/.well-known/oauth-protected-resource/tenant/a/mcp";

fn metadata() -> ProtectedResourceMetadata {
    ProtectedResourceMetadata::new("http://api.example/tenant/a/mcp")
        .unwrap()
        .authorization_server("https://auth.example")
        .scopes_supported(["files:read", "files:write"])
}

#[derive(Clone)]
struct Session(bool);

/// The layer under test, over `Session(true)` for `admin`, `Session(false)` for `user`.
macro_rules! layer {
    () => {
        BearerLayer::new(resolver_fn(|token: BearerToken<'_>| {
            let found = match token.as_str() {
                "admin" => Some(Session(true)),
                "user" => Some(Session(false)),
                _ => None,
            };
            async move { Ok::<_, Infallible>(found) }
        }))
        .protected_resource(metadata())
        .challenge_scope("files:read")
    };
}

/// Serves `$layer` over an inner service that answers `200 inner`.
macro_rules! serve {
    ($layer:expr) => {{
        let inner = service_fn(|_: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"inner"))))
        });
        support::serve(ServiceBuilder::new().layer($layer).service(inner)).await
    }};
}

fn bearer(token: &str) -> Vec<u8> {
    format!("authorization: Bearer {token}").into_bytes()
}

#[tokio::test]
async fn the_metadata_is_served_by_the_layer_without_a_token_and_with_cors() {
    let addr = serve!(layer!());
    for path in [
        "/.well-known/oauth-protected-resource/tenant/a/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let got = support::get(addr, path, &[]).await;
        assert_eq!(got.status, 200, "{path}");
        assert_eq!(got.header("content-type"), Some("application/json"));
        assert_eq!(got.header("access-control-allow-origin"), Some("*"));
        let document: Value = serde_json::from_slice(&got.body).unwrap();
        assert_eq!(
            document,
            json!({
                "resource": "http://api.example/tenant/a/mcp",
                "authorization_servers": ["https://auth.example"],
                "scopes_supported": ["files:read", "files:write"],
                "bearer_methods_supported": ["header"],
            })
        );
    }
    // A browser's preflight for the MCP client's header.
    let preflight = support::request(
        addr,
        "OPTIONS",
        "/.well-known/oauth-protected-resource/tenant/a/mcp",
        &[
            b"origin: https://app.example",
            b"access-control-request-method: GET",
            b"access-control-request-headers: mcp-protocol-version",
        ],
        b"",
    )
    .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("authorization, mcp-protocol-version")
    );
    let head = support::request(
        addr,
        "HEAD",
        "/.well-known/oauth-protected-resource",
        &[],
        b"",
    )
    .await;
    assert_eq!((head.status, head.body.len()), (200, 0));
    let post = support::request(
        addr,
        "POST",
        "/.well-known/oauth-protected-resource",
        &[],
        b"x",
    )
    .await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD, OPTIONS"));
    // Another resource's path is the inner service's business, behind the layer.
    let other = support::get(
        addr,
        "/.well-known/oauth-protected-resource/tenant/b/mcp",
        &[],
    )
    .await;
    assert_eq!(other.status, 401);
}

#[tokio::test]
async fn every_challenge_names_the_metadata_and_every_401_the_scopes() {
    let addr = serve!(layer!().authorize(|s: &Session| match s.0 {
        true => Ok(()),
        false => Err(InsufficientScope::new("files:read files:write")),
    }));
    let missing = support::get(addr, "/tenant/a/mcp", &[]).await;
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.header("www-authenticate").unwrap(),
        format!(r#"Bearer scope="files:read", resource_metadata="{URL}""#)
    );
    let unknown = support::get(addr, "/tenant/a/mcp", &[&bearer("nobody")]).await;
    assert_eq!(unknown.status, 401);
    assert_eq!(
        unknown.header("www-authenticate").unwrap(),
        format!(
            r#"Bearer error="invalid_token", error_description="the bearer token is invalid, expired or revoked", scope="files:read", resource_metadata="{URL}""#
        )
    );
    let malformed = support::get(addr, "/tenant/a/mcp", &[b"authorization: Bearer a b"]).await;
    assert_eq!(malformed.status, 400);
    assert_eq!(
        malformed.header("www-authenticate").unwrap(),
        format!(
            r#"Bearer error="invalid_request", error_description="the bearer token is not a valid b64token", resource_metadata="{URL}""#
        )
    );
    let forbidden = support::get(addr, "/tenant/a/mcp", &[&bearer("user")]).await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(
        forbidden.header("www-authenticate").unwrap(),
        format!(
            r#"Bearer error="insufficient_scope", error_description="insufficient scope", scope="files:read files:write", resource_metadata="{URL}""#
        )
    );
    let admitted = support::get(addr, "/tenant/a/mcp", &[&bearer("admin")]).await;
    assert_eq!((admitted.status, admitted.body_str()), (200, "inner"));
}

#[tokio::test]
async fn custom_bodies_and_requirements_behind_the_layer_keep_the_parameters() {
    let custom = layer!().on_rejection(|rejection: &Rejection| {
        let body = json!({
            "error": rejection.kind().error_code(),
            "resource_metadata": rejection.resource_metadata(),
            "scope": rejection.scope(),
        });
        let mut response = Response::new(Bytes::from(body.to_string()));
        *response.status_mut() = rejection.status();
        response
    });
    let addr = serve!(custom);
    let missing = support::get(addr, "/x", &[]).await;
    assert_eq!(missing.status, 401);
    let body: Value = serde_json::from_slice(&missing.body).unwrap();
    assert_eq!(body["resource_metadata"], URL);
    assert_eq!(body["scope"], "files:read");
    assert_eq!(
        missing.header("www-authenticate").unwrap(),
        format!(r#"Bearer scope="files:read", resource_metadata="{URL}""#)
    );

    // A route's requirement behind the layer answers in the layer's shape.
    let layers = layer!();
    let require = layers.require(|s: &Session| match s.0 {
        true => Ok(()),
        false => Err(InsufficientScope::new("admin")),
    });
    let inner = service_fn(|_: Request<Incoming>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    });
    let svc = ServiceBuilder::new()
        .layer(layers)
        .layer(require)
        .service(inner);
    let addr = support::serve(svc).await;
    let refused = support::get(addr, "/admin", &[&bearer("user")]).await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.header("www-authenticate").unwrap(),
        format!(
            r#"Bearer error="insufficient_scope", error_description="insufficient scope", scope="admin", resource_metadata="{URL}""#
        )
    );
}

#[tokio::test]
async fn bearer_methods_follow_the_token_sources() {
    let addr = serve!(layer!().query_token(QueryParameter::default()));
    let got = support::get(addr, "/.well-known/oauth-protected-resource", &[]).await;
    let document: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(
        document["bearer_methods_supported"],
        json!(["header", "query"])
    );
    // Set by the user, they are left alone.
    let mut own = metadata();
    own.bearer_methods_supported = vec!["header".into()];
    let addr = serve!(BearerLayer::new(tower_bearer::store::MemoryStore::new())
        .query_token(QueryParameter::default())
        .protected_resource(own));
    let got = support::get(addr, "/.well-known/oauth-protected-resource", &[]).await;
    let document: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(document["bearer_methods_supported"], json!(["header"]));
}

/// HS256 tokens signed here, for the audience and policy checks of the preset.
fn hs256(claims: Value) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    use hmac::{Hmac, Mac};
    let header = Base64UrlUnpadded::encode_string(br#"{"alg":"HS256","typ":"at+jwt"}"#);
    let payload = Base64UrlUnpadded::encode_string(claims.to_string().as_bytes());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    let signature = Base64UrlUnpadded::encode_string(&mac.finalize().into_bytes());
    format!("{header}.{payload}.{signature}")
}

const SECRET: &[u8] = b"a-test-secret-of-thirty-two-bytes!!";

#[tokio::test]
async fn the_preset_binds_the_audience_canonically_and_checks_its_policy() {
    let server = ResourceServer::new("https://API.example:443/mcp/", "https://auth.example")
        .unwrap()
        .policy(
            AccessPolicy::new()
                .require_scopes(["files:read"])
                .implies("files:write", ["files:read"]),
        );
    let key = Key::hmac(SECRET, tower_bearer::oauth::Algorithm::HS256, None).unwrap();
    let resolver: JwtResolver = server.jwt_resolver().keys(KeySet::new([key])).unwrap();
    let addr = serve!(server.layer(resolver));
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let status = |aud: &str, scope: &str| {
        let token = hs256(json!({"aud": aud, "scope": scope, "exp": exp, "sub": "u"}));
        async move { support::get(addr, "/mcp", &[&bearer(&token)]).await }
    };
    for aud in [
        "https://api.example/mcp",
        "https://api.example:443/mcp",
        "HTTPS://api.EXAMPLE/mcp/",
    ] {
        assert_eq!(status(aud, "files:read").await.status, 200, "{aud}");
    }
    for aud in [
        "https://api.example/other",
        "https://api.example:8443/mcp",
        "http://api.example/mcp",
        "https://evil.example/mcp",
    ] {
        let refused = status(aud, "files:read").await;
        assert_eq!(refused.status, 401, "{aud}");
        assert!(refused
            .header("www-authenticate")
            .unwrap()
            .contains(r#"error="invalid_token""#));
    }
    // The scope hierarchy: files:write implies files:read.
    assert_eq!(
        status("https://api.example/mcp", "files:write")
            .await
            .status,
        200
    );
    let narrow = status("https://api.example/mcp", "files:list").await;
    assert_eq!(narrow.status, 403);
    assert_eq!(
        narrow.header("www-authenticate").unwrap(),
        r#"Bearer error="insufficient_scope", error_description="insufficient scope", scope="files:read", resource_metadata="https://api.example/.well-known/oauth-protected-resource/mcp""#
    );
}
