//! DPoP (RFC 9449) against independent implementations, on real sockets: DPoP-bound access
//! tokens issued by panva's oidc-provider (tests/interop/oidc-provider.mjs, its `dPoP` feature
//! on, the token endpoint requiring its own nonce) to a client whose keys and proofs are made
//! by panva's `dpop` package (tests/interop/dpop-client.mjs), presented to tower-bearer's
//! `DpopLayer` in front of a `JwtResolver` (a JWT with `cnf.jkt`, the provider's keys found by
//! discovery) and of an `IntrospectionResolver` (an opaque token, the provider's introspection
//! endpoint answering `token_type: "DPoP"` and `cnf.jkt`), with ES256 and Ed25519 proof keys.
//!
//! No token or proof is printed: they go from the scripts' stdout to the requests, and the
//! assertions show statuses, thumbprints and challenges only.
#![cfg(all(feature = "dpop", feature = "introspection"))]

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use http::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde_json::{json, Value};
use support::node;
use support::oidc::Provider;
use support::RawResponse;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::TcpListener;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tower::{service_fn, ServiceBuilder};
use tower_bearer::dpop::{
    access_token_hash, jwk_thumbprint, DpopLayer, DpopProof, MemoryReplayStore, Nonces,
};
use tower_bearer::oauth::{Claims, IntrospectionResolver, JwtResolver};
use tower_bearer::BearerLayer;

const SCOPE: &str = "api:read";
const CLIENT_ID: &str = "tower-bearer-test";

/// tests/interop/dpop-client.mjs: panva's `dpop` holding the client's keys. Killed when dropped.
struct DpopClient {
    // Held for kill_on_drop; its stdin is closed first, which ends it.
    _child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
}

/// A key of the client's, by its number there, and its thumbprint as `dpop` computes it.
#[derive(Clone)]
struct Key {
    id: u64,
    jkt: String,
}

impl DpopClient {
    fn start() -> DpopClient {
        node::ensure_packages();
        let mut child = Command::new("node")
            .arg(node::interop_dir().join("dpop-client.mjs"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        DpopClient {
            _child: child,
            stdin,
            stdout,
        }
    }

    /// Sends one command and reads its answer; panics with the script's error (which never
    /// holds a token) if it failed.
    async fn ask(&mut self, command: Value) -> Value {
        let stdin = self.stdin.as_mut().unwrap();
        stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
        let line = tokio::time::timeout(Duration::from_secs(60), self.stdout.next_line())
            .await
            .expect("dpop-client.mjs answers within a minute")
            .unwrap()
            .expect("dpop-client.mjs is running");
        let answer: Value = serde_json::from_str(&line).expect("a JSON line");
        assert!(
            answer.get("error").is_none(),
            "dpop-client.mjs {}: {}",
            command["op"],
            answer["error"]
        );
        answer
    }

    async fn key(&mut self, alg: &str) -> Key {
        let answer = self.ask(json!({"op": "key", "alg": alg})).await;
        Key {
            id: answer["key"].as_u64().unwrap(),
            jkt: answer["jkt"].as_str().unwrap().to_owned(),
        }
    }

    /// A client_credentials token for `resource`, bound to `key` by a proof at the provider's
    /// token endpoint: the endpoint's answer, with `nonce_retry`.
    async fn token(&mut self, key: &Key, provider: &Provider, resource: &str) -> Value {
        let info = &provider.info;
        self.ask(json!({
            "op": "token",
            "key": key.id,
            "token_endpoint": info["token_endpoint"],
            "client_id": info["client"]["client_id"],
            "client_secret": info["client"]["client_secret"],
            "resource": resource,
            "scope": SCOPE,
        }))
        .await
    }

    /// A fresh proof by `key` for `method` on `url`, for `token` (its `ath`), with `nonce`.
    async fn proof(
        &mut self,
        key: &Key,
        method: &str,
        url: &str,
        token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let answer = self
            .ask(
                json!({"op": "proof", "key": key.id, "method": method, "url": url,
                "access_token": token, "nonce": nonce}),
            )
            .await;
        answer["proof"].as_str().unwrap().to_owned()
    }
}

impl Drop for DpopClient {
    fn drop(&mut self) {
        // Closing stdin ends it; kill_on_drop kills it if it would not end.
        drop(self.stdin.take());
    }
}

/// A compact JWS's (or JWT's) header or payload, decoded.
fn part(jws: &str, index: usize) -> Value {
    let segment = jws.split('.').nth(index).expect("a compact JWS");
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(segment).unwrap()).unwrap()
}

/// Answers 200 with what the layers let through: the proof's thumbprint (or null) and the
/// token's client and audience.
async fn handler(req: Request<hyper::body::Incoming>) -> Result<Response<String>, Infallible> {
    let jkt = req
        .extensions()
        .get::<DpopProof>()
        .map(|p| p.thumbprint().to_owned());
    let claims = req.extensions().get::<Arc<Claims>>().unwrap();
    let body = json!({"jkt": jkt, "client_id": claims.client_id, "aud": claims.aud});
    Ok(Response::new(body.to_string()))
}

/// Serves `service` on `listener` (bound first: the origin and the resource name its port).
fn serve<S, B>(listener: TcpListener, service: S)
where
    S: tower::Service<Request<hyper::body::Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

/// Which resolver the resource server checks the provider's tokens with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// A JWT access token (RFC 9068) with `cnf.jkt`, verified with the provider's JWKS.
    Jwt,
    /// An opaque token, checked at the provider's introspection endpoint.
    Introspection,
}

/// The provider, the client and a resource server for one kind of token.
struct Setup {
    provider: Provider,
    client: DpopClient,
    addr: SocketAddr,
    /// The resource: the audience of its tokens, and the URL requests go to (`htu`).
    url: String,
}

impl Setup {
    async fn start(kind: Kind, nonces: Option<Nonces>) -> Setup {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let origin = format!("http://{addr}");
        let url = format!("{origin}/data");
        let resource = match kind {
            Kind::Jwt => "--resource",
            Kind::Introspection => "--opaque-resource",
        };
        // The provider wants a JWT resource in any case; the other one is never asked for.
        let provider = Provider::start(&[
            "--resource",
            "http://127.0.0.1:9/unused",
            resource,
            &url,
            "--scope",
            SCOPE,
            "--dpop-nonce",
        ]);
        let mut dpop = DpopLayer::allowed(MemoryReplayStore::new())
            .origin(&origin)
            .unwrap();
        if let Some(nonces) = nonces {
            dpop = dpop.nonces(nonces);
        }
        let stack = ServiceBuilder::new().layer(dpop);
        match kind {
            Kind::Jwt => {
                let resolver: JwtResolver = JwtResolver::builder()
                    .audience(url.as_str())
                    .issuer_url(provider.issuer())
                    .unwrap();
                serve(
                    listener,
                    stack
                        .layer(BearerLayer::new(resolver))
                        .service(service_fn(handler)),
                );
            }
            Kind::Introspection => {
                let info = &provider.info;
                let resolver: IntrospectionResolver = IntrospectionResolver::builder(
                    info["introspection_endpoint"].as_str().unwrap(),
                )
                .client_basic(
                    info["client"]["client_id"].as_str().unwrap(),
                    info["client"]["client_secret"].as_str().unwrap(),
                )
                .issuer(provider.issuer())
                .audience(url.as_str())
                .build()
                .unwrap();
                serve(
                    listener,
                    stack
                        .layer(BearerLayer::new(resolver))
                        .service(service_fn(handler)),
                );
            }
        }
        Setup {
            provider,
            client: DpopClient::start(),
            addr,
            url,
        }
    }

    /// A DPoP-bound token for this resource, bound to `key`; checks the token endpoint's
    /// answer, and the binding as the token (or the introspection answer) carries it.
    async fn bound_token(&mut self, kind: Kind, key: &Key) -> String {
        let answer = self.client.token(key, &self.provider, &self.url).await;
        assert_eq!(answer["token_type"], "DPoP", "the token endpoint binds it");
        assert_eq!(
            answer["nonce_retry"], true,
            "the token endpoint asked for its nonce and the client sent it"
        );
        assert_eq!(answer["scope"], SCOPE);
        let token = answer["access_token"].as_str().unwrap().to_owned();
        match kind {
            Kind::Jwt => {
                let claims = part(&token, 1);
                assert_eq!(claims["cnf"]["jkt"], key.jkt.as_str());
                assert_eq!(claims["aud"], self.url.as_str());
                assert_eq!(part(&token, 0)["typ"], "at+jwt");
            }
            Kind::Introspection => {
                assert!(!token.contains('.'), "an opaque token, not a JWT");
            }
        }
        token
    }

    async fn proof(&mut self, key: &Key, token: &str) -> String {
        let url = self.url.clone();
        self.client.proof(key, "GET", &url, Some(token), None).await
    }
}

/// `GET /data` with `Authorization: {scheme} {token}` and the given `DPoP` headers.
async fn get(addr: SocketAddr, scheme: &str, token: &str, proofs: &[&str]) -> RawResponse {
    let mut lines = vec![format!("authorization: {scheme} {token}")];
    lines.extend(proofs.iter().map(|p| format!("dpop: {p}")));
    let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    support::request(addr, "GET", "/data", &lines, b"").await
}

fn challenges(res: &RawResponse) -> Vec<&str> {
    res.headers
        .iter()
        .filter(|(n, _)| n == "www-authenticate")
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Whether the refusal names `error` in a DPoP challenge.
fn dpop_error(res: &RawResponse, error: &str) -> bool {
    let wanted = format!("DPoP error=\"{error}\"");
    challenges(res).iter().any(|c| c.starts_with(&wanted))
}

/// Whether the refusal names `error` in a Bearer challenge.
fn bearer_error(res: &RawResponse, error: &str) -> bool {
    let wanted = format!("Bearer error=\"{error}\"");
    challenges(res).iter().any(|c| c.starts_with(&wanted))
}

/// The whole exchange for one kind of token and one proof algorithm of panva's `dpop`.
async fn bound_token_only_with_its_keys_fresh_proof(kind: Kind, alg: &str) {
    let mut setup = Setup::start(kind, None).await;
    let key = setup.client.key(alg).await;
    let token = setup.bound_token(kind, &key).await;

    // The proof as `dpop` made it: its header's public JWK has the thumbprint `dpop` computes
    // (and oidc-provider bound), by tower-bearer's RFC 7638 code too; its `ath` is the token's.
    let proof = setup.proof(&key, &token).await;
    let header = part(&proof, 0);
    assert_eq!(header["typ"], "dpop+jwt");
    assert_eq!(header["alg"], alg);
    assert_eq!(jwk_thumbprint(&header["jwk"]).unwrap(), key.jkt);
    assert_eq!(part(&proof, 1)["ath"], access_token_hash(&token));

    // The token with its key's proof: accepted, and the handler sees the key.
    let res = get(setup.addr, "DPoP", &token, &[&proof]).await;
    assert_eq!(res.status, 200, "{kind:?} {alg}: {:?}", challenges(&res));
    let body: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(body["jkt"], key.jkt.as_str());
    assert_eq!(body["client_id"], CLIENT_ID);
    assert_eq!(body["aud"], setup.url.as_str());

    // The same proof again: a replay.
    let res = get(setup.addr, "DPoP", &token, &[&proof]).await;
    assert_eq!(res.status, 401, "{kind:?} {alg}: a replayed proof");
    assert!(
        dpop_error(&res, "invalid_dpop_proof"),
        "{:?}",
        challenges(&res)
    );

    // The token as Bearer, without a proof: it is bound, so refused.
    let res = get(setup.addr, "Bearer", &token, &[]).await;
    assert_eq!(res.status, 401, "{kind:?} {alg}: a bound token as Bearer");
    assert!(
        bearer_error(&res, "invalid_token"),
        "{:?}",
        challenges(&res)
    );

    // As Bearer with a good proof beside it: a proof never goes with the Bearer scheme (a
    // malformed request, RFC 6750 §3.1).
    let fresh = setup.proof(&key, &token).await;
    let res = get(setup.addr, "Bearer", &token, &[&fresh]).await;
    assert_eq!(res.status, 400, "{kind:?} {alg}: Bearer with a proof");
    assert!(
        bearer_error(&res, "invalid_request"),
        "{:?}",
        challenges(&res)
    );

    // A proof by another key of the same algorithm, for this token: not the key it is bound to.
    let other = setup.client.key(alg).await;
    assert_ne!(other.jkt, key.jkt);
    let stolen = setup.proof(&other, &token).await;
    let res = get(setup.addr, "DPoP", &token, &[&stolen]).await;
    assert_eq!(res.status, 401, "{kind:?} {alg}: another key's proof");
    assert!(dpop_error(&res, "invalid_token"), "{:?}", challenges(&res));

    // A proof by the right key for another URL, or another method.
    let elsewhere = format!("{}/other", setup.url);
    let wrong_htu = setup
        .client
        .proof(&key, "GET", &elsewhere, Some(&token), None)
        .await;
    let res = get(setup.addr, "DPoP", &token, &[&wrong_htu]).await;
    assert_eq!(res.status, 401, "{kind:?} {alg}: htu of another URL");
    assert!(dpop_error(&res, "invalid_dpop_proof"));
    let url = setup.url.clone();
    let wrong_htm = setup
        .client
        .proof(&key, "POST", &url, Some(&token), None)
        .await;
    let res = get(setup.addr, "DPoP", &token, &[&wrong_htm]).await;
    assert_eq!(res.status, 401, "{kind:?} {alg}: htm POST on a GET");
    assert!(dpop_error(&res, "invalid_dpop_proof"));

    // A fresh proof of the right key, never sent: still accepted after all the refusals.
    let res = get(setup.addr, "DPoP", &token, &[&fresh]).await;
    assert_eq!(res.status, 200, "{kind:?} {alg}: {:?}", challenges(&res));
}

#[tokio::test]
async fn jwt_bound_to_an_es256_key() {
    bound_token_only_with_its_keys_fresh_proof(Kind::Jwt, "ES256").await;
}

#[tokio::test]
async fn jwt_bound_to_an_ed25519_key() {
    bound_token_only_with_its_keys_fresh_proof(Kind::Jwt, "Ed25519").await;
}

#[tokio::test]
async fn introspected_token_bound_to_an_es256_key() {
    bound_token_only_with_its_keys_fresh_proof(Kind::Introspection, "ES256").await;
}

#[tokio::test]
async fn introspected_token_bound_to_an_ed25519_key() {
    bound_token_only_with_its_keys_fresh_proof(Kind::Introspection, "Ed25519").await;
}

/// The provider's unbound (Bearer) token: accepted as Bearer where DPoP is allowed, and refused
/// with the DPoP scheme and a proof of `dpop`'s, since it is bound to no key.
#[tokio::test]
async fn an_unbound_token_of_the_provider_is_bearer_only() {
    for kind in [Kind::Jwt, Kind::Introspection] {
        let mut setup = Setup::start(kind, None).await;
        let answer = setup.provider.client_credentials(&setup.url, SCOPE).await;
        assert_eq!(answer["token_type"], "Bearer");
        let token = answer["access_token"].as_str().unwrap().to_owned();
        let res = get(setup.addr, "Bearer", &token, &[]).await;
        assert_eq!(res.status, 200, "{kind:?}: {:?}", challenges(&res));
        let body: Value = serde_json::from_slice(&res.body).unwrap();
        assert_eq!(body["jkt"], Value::Null);
        let key = setup.client.key("ES256").await;
        let proof = setup.proof(&key, &token).await;
        let res = get(setup.addr, "DPoP", &token, &[&proof]).await;
        assert_eq!(res.status, 401, "{kind:?}: an unbound token with a proof");
        assert!(dpop_error(&res, "invalid_token"), "{:?}", challenges(&res));
    }
}

/// The resource server's own nonces (RFC 9449 §9): a proof of `dpop`'s without one gets
/// `use_dpop_nonce` and a `DPoP-Nonce`; `dpop`'s proof with that nonce is accepted.
#[tokio::test]
async fn the_resource_servers_nonce_in_a_proof_of_dpops() {
    for alg in ["ES256", "Ed25519"] {
        let nonces = Nonces::random(Duration::from_secs(300));
        let mut setup = Setup::start(Kind::Jwt, Some(nonces)).await;
        let key = setup.client.key(alg).await;
        let token = setup.bound_token(Kind::Jwt, &key).await;
        let proof = setup.proof(&key, &token).await;
        let res = get(setup.addr, "DPoP", &token, &[&proof]).await;
        assert_eq!(res.status, 401, "{alg}: no nonce");
        assert!(dpop_error(&res, "use_dpop_nonce"), "{:?}", challenges(&res));
        let nonce = res.header("dpop-nonce").expect("a DPoP-Nonce").to_owned();
        let url = setup.url.clone();
        let with_nonce = setup
            .client
            .proof(&key, "GET", &url, Some(&token), Some(&nonce))
            .await;
        assert_eq!(part(&with_nonce, 1)["nonce"], nonce.as_str());
        let res = get(setup.addr, "DPoP", &token, &[&with_nonce]).await;
        assert_eq!(res.status, 200, "{alg}: {:?}", challenges(&res));
        let made_up = setup
            .client
            .proof(&key, "GET", &url, Some(&token), Some("made-up"))
            .await;
        let res = get(setup.addr, "DPoP", &token, &[&made_up]).await;
        assert_eq!(res.status, 401, "{alg}: a nonce the server never issued");
        assert!(dpop_error(&res, "use_dpop_nonce"), "{:?}", challenges(&res));
    }
}

/// The crate's own client side against oidc-provider: a `DpopKey` gets a DPoP-bound token from
/// the provider's token endpoint (its proof signed by `DpopKey::proof`, the provider's nonce
/// fetched first), then `DpopClientLayer` over hyper-util's client calls the resource server
/// with fresh proofs: 200 with the key's thumbprint, request after request.
#[tokio::test]
async fn the_crates_client_layer_with_the_providers_dpop_token() {
    use base64ct::Base64;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use tower::ServiceExt;
    use tower_bearer::client::SharedToken;
    use tower_bearer::dpop::{DpopClientLayer, DpopKey};

    let setup = Setup::start(Kind::Jwt, None).await;
    let info = &setup.provider.info;
    let endpoint = info["token_endpoint"].as_str().unwrap().to_owned();
    let basic = Base64::encode_string(
        format!(
            "{}:{}",
            info["client"]["client_id"].as_str().unwrap(),
            info["client"]["client_secret"].as_str().unwrap()
        )
        .as_bytes(),
    );
    let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    for key in [DpopKey::generate_es256(), DpopKey::generate_ed25519()] {
        // The token request, with a proof (and then the provider's nonce, which it asks for).
        let form = format!(
            "grant_type=client_credentials&scope={SCOPE}&resource={}",
            setup.url.replace(':', "%3A").replace('/', "%2F")
        );
        let mut nonce: Option<String> = None;
        let token = loop {
            let proof = key.proof("POST", &endpoint, None, nonce.as_deref());
            let req = Request::post(&endpoint)
                .header("authorization", format!("Basic {basic}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("dpop", proof)
                .body(Full::new(Bytes::from(form.clone())))
                .unwrap();
            let res = http.request(req).await.unwrap();
            let fresh = res
                .headers()
                .get("dpop-nonce")
                .map(|v| v.to_str().unwrap().to_owned());
            let status = res.status();
            let body: Value =
                serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes())
                    .unwrap();
            if status == 400 && body["error"] == "use_dpop_nonce" && nonce.is_none() {
                nonce = Some(fresh.expect("the provider's nonce"));
                continue;
            }
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["token_type"], "DPoP");
            break body["access_token"].as_str().unwrap().to_owned();
        };
        assert_eq!(part(&token, 1)["cnf"]["jkt"], key.thumbprint());
        let shared = SharedToken::new();
        shared.set(&token).unwrap();
        let client = ServiceBuilder::new()
            .layer(DpopClientLayer::new(key.clone(), shared))
            .service(http.clone());
        for _ in 0..3 {
            let req = Request::get(&setup.url)
                .body(Full::new(Bytes::new()))
                .unwrap();
            let res = client.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), 200);
            let body = res.into_body().collect().await.unwrap().to_bytes();
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["jkt"], key.thumbprint(), "{body}");
        }
    }
}
