//! `BetterAuthProvider` against a real better-auth 1.7.25 with `@better-auth/oauth-provider`
//! 1.7.5 and its `jwt` plugin: access tokens from its token endpoint (client credentials, and
//! the authorization code flow with PKCE driven here over HTTP), with and without RFC 8707's
//! `resource` (a JWT, or an opaque token introspected), a token for another resource, a
//! revoked token after the cache's lag, and DPoP-bound tokens behind a `DpopLayer`.
#![cfg(all(
    feature = "jwt",
    feature = "introspection",
    feature = "dpop",
    feature = "better-auth"
))]

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use support::better_auth::BetterAuth;
use support::{request, serve, RawResponse};
use tower::{service_fn, ServiceBuilder};
use tower_bearer::dpop::{DpopKey, DpopLayer, MemoryReplayStore};
use tower_bearer::oauth::{BetterAuthProvider, Claims};

const RESOURCE: &str = "https://api.example/";
const OTHER: &str = "https://other.example/";
const ORIGIN: &str = "https://api.example";

struct Provider {
    node: BetterAuth,
    issuer: String,
}

/// A client of the provider: its credentials.
struct Client {
    id: String,
    secret: String,
}

impl Provider {
    fn start() -> Provider {
        let dir = std::env::temp_dir().join(format!("tb-oa-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let node = BetterAuth::start(
            &format!("sqlite://{}/auth.db", dir.display()),
            &[
                ("BA_PLUGINS", "oauth-provider"),
                ("BA_OAUTH_RESOURCES", &format!("{RESOURCE},{OTHER}")),
            ],
        );
        let issuer = format!("{}/api/auth", node.url());
        Provider { node, issuer }
    }

    async fn client(&self, settings: Value) -> Client {
        let created = self.node.post_json("/test/oauth/client", settings).await;
        Client {
            id: created["client_id"].as_str().unwrap().to_owned(),
            secret: created["client_secret"].as_str().unwrap().to_owned(),
        }
    }

    /// `POST /api/auth/oauth2/<path>` as `client` (HTTP Basic) with a form body, and a DPoP
    /// proof if given: the answer.
    async fn post(
        &self,
        path: &str,
        client: &Client,
        form: &[(&str, &str)],
        dpop: Option<&str>,
    ) -> RawResponse {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let basic = Base64::encode_string(format!("{}:{}", client.id, client.secret).as_bytes());
        let auth = format!("authorization: Basic {basic}");
        let proof = dpop.map(|p| format!("dpop: {p}"));
        let mut lines = vec![
            auth.as_bytes(),
            b"content-type: application/x-www-form-urlencoded",
        ];
        if let Some(proof) = &proof {
            lines.push(proof.as_bytes());
        }
        request(
            self.node.addr,
            "POST",
            &format!("/api/auth/oauth2/{path}"),
            &lines,
            body.as_bytes(),
        )
        .await
    }

    /// A client-credentials token: the token endpoint's JSON.
    async fn client_credentials(
        &self,
        client: &Client,
        scope: &str,
        resource: Option<&str>,
    ) -> Value {
        let mut form = vec![("grant_type", "client_credentials"), ("scope", scope)];
        if let Some(resource) = resource {
            form.push(("resource", resource));
        }
        let answer = self.post("token", client, &form, None).await;
        serde_json::from_slice(&answer.body).unwrap()
    }

    /// The authorization code flow with PKCE, driven over HTTP as a client would: a user's
    /// session authorizes (`Accept: application/json`, so better-auth answers the redirect in
    /// JSON), then the code and the verifier are exchanged.
    async fn authorization_code(
        &self,
        client: &Client,
        scope: &str,
        resource: Option<&str>,
    ) -> Value {
        let user = self.node.post_json("/test/user", json!({})).await;
        let session = format!("authorization: Bearer {}", user["token"].as_str().unwrap());
        let verifier = Base64UrlUnpadded::encode_string(&rand_bytes());
        let challenge = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs([
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", "https://client.example/callback"),
            ("scope", scope),
            ("state", "s-1"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]);
        if let Some(resource) = resource {
            query.append_pair("resource", resource);
        }
        let authorize = request(
            self.node.addr,
            "GET",
            &format!("/api/auth/oauth2/authorize?{}", query.finish()),
            &[session.as_bytes(), b"accept: application/json"],
            b"",
        )
        .await;
        assert_eq!(authorize.status, 200, "{}", authorize.body_str());
        let redirect: Value = serde_json::from_slice(&authorize.body).unwrap();
        let url = redirect["url"].as_str().unwrap();
        let query = url.split_once('?').unwrap().1;
        let params: Map<String, Value> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        assert_eq!(params["state"], "s-1");
        let code = params["code"].as_str().unwrap();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", "https://client.example/callback"),
            ("code_verifier", verifier.as_str()),
        ];
        if let Some(resource) = resource {
            form.push(("resource", resource));
        }
        let answer = self.post("token", client, &form, None).await;
        assert_eq!(answer.status, 200, "{}", answer.body_str());
        serde_json::from_slice(&answer.body).unwrap()
    }
}

fn rand_bytes() -> [u8; 32] {
    let mut bytes = [0; 32];
    getrandom::fill(&mut bytes).unwrap();
    bytes
}

fn jwt_payload(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(payload).unwrap()).unwrap()
}

/// The resource server: the preset's resolver (opaque tokens introspected as `rs`, a 1 s
/// cache), `read` required, a DPoP layer in front (DPoP allowed, the origin the proofs name).
async fn resource_server(provider: &Provider, rs: &Client) -> SocketAddr {
    let preset = BetterAuthProvider::new(&provider.issuer, RESOURCE)
        .unwrap()
        .scopes(["read"]);
    let jwt = preset.jwt_resolver::<Map<String, Value>>().unwrap();
    let opaque = preset
        .introspection::<Map<String, Value>>(&rs.id, &rs.secret)
        .cache_ttl(Duration::from_secs(1))
        .build()
        .unwrap();
    let layer = preset.layer(tower_bearer::oauth::JwtOr::new(jwt, opaque).unified());
    let dpop = DpopLayer::allowed(MemoryReplayStore::new())
        .origin(ORIGIN)
        .unwrap();
    async fn handler(
        req: Request<hyper::body::Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let claims = req.extensions().get::<Arc<Claims>>().unwrap();
        let body = json!({ "sub": claims.sub, "scope": claims.scopes.join(" ") });
        Ok(Response::new(Full::new(Bytes::from(body.to_string()))))
    }
    serve(
        ServiceBuilder::new()
            .layer(dpop)
            .layer(layer)
            .service(service_fn(handler)),
    )
    .await
}

/// The `Bearer` challenge of an answer (DPoP being allowed, a `DPoP` one comes beside it).
fn bearer_challenge(answer: &RawResponse) -> &str {
    answer
        .headers
        .iter()
        .find(|(n, v)| n.eq_ignore_ascii_case("www-authenticate") && v.starts_with("Bearer"))
        .map(|(_, v)| v.as_str())
        .expect("a Bearer challenge")
}

async fn get(addr: SocketAddr, token: &str) -> RawResponse {
    let auth = format!("authorization: Bearer {token}");
    request(addr, "GET", "/data", &[auth.as_bytes()], b"").await
}

#[tokio::test(flavor = "multi_thread")]
async fn better_auths_access_tokens_for_this_resource_are_accepted_and_others_refused() {
    let provider = Provider::start();
    let client = provider.client(json!({})).await;
    let addr = resource_server(&provider, &client).await;

    // The metadata names better-auth as the authorization server.
    let metadata = request(
        addr,
        "GET",
        "/.well-known/oauth-protected-resource",
        &[],
        b"",
    )
    .await;
    assert_eq!(metadata.status, 200);
    let metadata: Value = serde_json::from_slice(&metadata.body).unwrap();
    assert_eq!(metadata["resource"], RESOURCE);
    assert_eq!(metadata["authorization_servers"], json!([provider.issuer]));

    // Client credentials with the resource: a JWT for it (typ at+jwt, aud the resource).
    let issued = provider
        .client_credentials(&client, "read", Some(RESOURCE))
        .await;
    let token = issued["access_token"].as_str().unwrap();
    assert_eq!(jwt_payload(token)["aud"], RESOURCE);
    let ok = get(addr, token).await;
    assert_eq!(ok.status, 200, "{}", ok.body_str());
    let body: Value = serde_json::from_slice(&ok.body).unwrap();
    assert_eq!(
        body["sub"],
        client.id.as_str(),
        "client credentials: sub is the client"
    );

    // Without a resource: an opaque token, introspected as the client it was issued to.
    let opaque = provider
        .client_credentials(&client, "read write", None)
        .await;
    let opaque = opaque["access_token"].as_str().unwrap().to_owned();
    assert!(!opaque.contains('.'), "opaque");
    let ok = get(addr, &opaque).await;
    assert_eq!(ok.status, 200, "{}", ok.body_str());

    // A JWT for another resource: 401, with the challenge naming the metadata.
    let elsewhere = provider
        .client_credentials(&client, "read", Some(OTHER))
        .await;
    let refused = get(addr, elsewhere["access_token"].as_str().unwrap()).await;
    assert_eq!(refused.status, 401);
    let challenge = bearer_challenge(&refused);
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(challenge.contains("resource_metadata="), "{challenge}");

    // A token without the scope this resource requires: 403 insufficient_scope.
    let narrow = provider
        .client_credentials(&client, "write", Some(RESOURCE))
        .await;
    let forbidden = get(addr, narrow["access_token"].as_str().unwrap()).await;
    assert_eq!(forbidden.status, 403);
    assert!(bearer_challenge(&forbidden).contains(r#"scope="read""#));

    // Another client's opaque token: better-auth answers `active: false` to this client.
    let stranger = provider.client(json!({})).await;
    let theirs = provider.client_credentials(&stranger, "read", None).await;
    assert_eq!(
        get(addr, theirs["access_token"].as_str().unwrap())
            .await
            .status,
        401
    );

    // The authorization code flow with PKCE: a user's token, JWT for the resource (aud also
    // names the userinfo endpoint with openid) and opaque without.
    let user = provider
        .authorization_code(&client, "openid read", Some(RESOURCE))
        .await;
    let token = user["access_token"].as_str().unwrap();
    let claims = jwt_payload(token);
    assert!(
        claims["aud"].as_array().unwrap().contains(&json!(RESOURCE)),
        "{claims}"
    );
    let ok = get(addr, token).await;
    assert_eq!(ok.status, 200, "{}", ok.body_str());
    let body: Value = serde_json::from_slice(&ok.body).unwrap();
    assert_eq!(body["sub"], claims["sub"], "the user");
    assert_ne!(body["sub"], client.id.as_str());
    let user = provider.authorization_code(&client, "read", None).await;
    assert_eq!(
        get(addr, user["access_token"].as_str().unwrap())
            .await
            .status,
        200
    );

    // A revoked opaque token: accepted from the cache until it expires (1 s here, 30 s by
    // default), refused after.
    let form = [
        ("token", opaque.as_str()),
        ("token_type_hint", "access_token"),
    ];
    let revoked = provider.post("revoke", &client, &form, None).await;
    assert_eq!(revoked.status, 200, "{}", revoked.body_str());
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(get(addr, &opaque).await.status, 401);
}

/// `GET /data` with `Authorization: DPoP <token>` and a fresh proof signed by `key`.
async fn with_proof(addr: SocketAddr, key: &DpopKey, token: &str) -> RawResponse {
    let proof = key.proof("GET", &format!("{ORIGIN}/data"), Some(token), None);
    let auth = format!("authorization: DPoP {token}");
    let dpop = format!("dpop: {proof}");
    let lines = [auth.as_bytes(), dpop.as_bytes()];
    request(addr, "GET", "/data", &lines, b"").await
}

#[tokio::test(flavor = "multi_thread")]
async fn dpop_bound_tokens_need_their_proof() {
    let provider = Provider::start();
    let client = provider.client(json!({})).await;
    let addr = resource_server(&provider, &client).await;
    let key = DpopKey::generate_ed25519();
    let token_url = format!("{}/oauth2/token", provider.issuer);
    for resource in [Some(RESOURCE), None] {
        let mut form = vec![("grant_type", "client_credentials"), ("scope", "read")];
        if let Some(resource) = resource {
            form.push(("resource", resource));
        }
        let proof = key.proof("POST", &token_url, None, None);
        let answer = provider.post("token", &client, &form, Some(&proof)).await;
        assert_eq!(answer.status, 200, "{}", answer.body_str());
        let issued: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(issued["token_type"], "DPoP");
        let token = issued["access_token"].as_str().unwrap();
        if resource.is_some() {
            assert_eq!(jwt_payload(token)["cnf"]["jkt"], key.thumbprint());
        }
        // With its proof: 200.
        let ok = with_proof(addr, &key, token).await;
        assert_eq!(ok.status, 200, "{resource:?}: {}", ok.body_str());
        // As a bearer token: refused.
        let stolen = get(addr, token).await;
        assert_eq!(stolen.status, 401, "{resource:?}");
        // With another key's proof: refused.
        let refused = with_proof(addr, &DpopKey::generate_es256(), token).await;
        assert_eq!(refused.status, 401, "{resource:?}");
        assert!(refused
            .headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("www-authenticate") && v.starts_with("DPoP")));
    }
}
