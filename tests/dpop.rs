//! DPoP (RFC 9449) through the layers on a real socket: a `DpopLayer` in front of a
//! `BearerLayer` whose `JwtResolver` accepts tokens bound to a key (`cnf.jkt`). Every check of
//! RFC 9449 §4.3 and §7 refuses what it should, with the challenge it should; a replayed proof
//! is refused on the instance that saw it and, over one Redis, on another; nonces are asked for
//! and then taken.
#![cfg(all(feature = "dpop", feature = "redis", feature = "introspection"))]

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use http::{Request, Response};
use serde_json::json;
use support::dpop::{access_token, now, ProofKey};
use tower::{service_fn, ServiceBuilder};
use tower_bearer::dpop::{DpopLayer, DpopProof, MemoryReplayStore, Nonces, RedisReplayStore};
use tower_bearer::oauth::{Algorithm, JwtResolver, Key, KeySet};
use tower_bearer::BearerLayer;

const SECRET: &[u8] = b"a-shared-secret-of-32-bytes-or-more!";
const ORIGIN: &str = "https://api.example";
const URI: &str = "https://api.example/data";

fn resolver() -> JwtResolver {
    JwtResolver::builder()
        .audience(ORIGIN)
        .keys(KeySet::new([
            Key::hmac(SECRET, Algorithm::HS256, None).unwrap()
        ]))
        .unwrap()
}

/// Answers 200 with the proof's thumbprint, as a handler reads it.
async fn handler(req: Request<hyper::body::Incoming>) -> Result<Response<String>, Infallible> {
    let jkt = req
        .extensions()
        .get::<DpopProof>()
        .map(|p| p.thumbprint().to_owned());
    Ok(Response::new(jkt.unwrap_or_else(|| "bearer".into())))
}

async fn server(dpop: DpopLayer) -> SocketAddr {
    support::serve(
        ServiceBuilder::new()
            .layer(dpop)
            .layer(BearerLayer::new(resolver()))
            .service(service_fn(handler)),
    )
    .await
}

async fn send(addr: SocketAddr, method: &str, auth: &str, proofs: &[&str]) -> support::RawResponse {
    let mut lines = vec![format!("authorization: {auth}")];
    lines.extend(proofs.iter().map(|p| format!("dpop: {p}")));
    let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    support::request(addr, method, "/data", &lines, b"").await
}

fn challenges(res: &support::RawResponse) -> Vec<&str> {
    res.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn allowed() -> DpopLayer {
    DpopLayer::allowed(MemoryReplayStore::new())
        .origin(ORIGIN)
        .unwrap()
}

#[tokio::test]
async fn a_bound_token_with_its_keys_proof_is_200_and_the_handler_sees_the_key() {
    let addr = server(allowed()).await;
    let key = ProofKey::new();
    let token = access_token(SECRET, "u1", Some(&key.thumbprint()));
    let res = send(
        addr,
        "GET",
        &format!("DPoP {token}"),
        &[&key.proof("GET", URI, &token)],
    )
    .await;
    assert_eq!(res.status, 200, "{:?}", res.headers);
    assert_eq!(res.body_str(), key.thumbprint());
    // The scheme is case-insensitive (RFC 9110 §11.1).
    let res = send(
        addr,
        "GET",
        &format!("dpop {token}"),
        &[&key.proof("GET", URI, &token)],
    )
    .await;
    assert_eq!(res.status, 200);
    // An unbound token still works as Bearer where both schemes are allowed.
    let plain = access_token(SECRET, "u2", None);
    let res = send(addr, "GET", &format!("Bearer {plain}"), &[]).await;
    assert_eq!((res.status, res.body_str()), (200, "bearer"));
}

/// Every refusal, each a check of its own: the status and the challenge's error.
#[tokio::test]
async fn every_check_refuses_what_it_should() {
    let addr = server(allowed()).await;
    let key = ProofKey::new();
    let jkt = key.thumbprint();
    let token = access_token(SECRET, "u1", Some(&jkt));
    let dpop = format!("DPoP {token}");
    let with = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut claims = key.claims("GET", URI, &token);
        change(&mut claims);
        key.sign(&key.header(), &claims)
    };
    let header_with = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut header = key.header();
        change(&mut header);
        key.sign(&header, &key.claims("GET", URI, &token))
    };
    let other = ProofKey::new();
    let mut private = key.jwk();
    private["d"] = json!("AAAA");
    let unsigned = {
        let h = support::dpop::b64(br#"{"typ":"dpop+jwt","alg":"none"}"#);
        let c = support::dpop::b64(key.claims("GET", URI, &token).to_string().as_bytes());
        format!("{h}.{c}.")
    };
    let hs256 = header_with(&|h| h["alg"] = json!("HS256"));
    let cases: Vec<(&str, String, Vec<String>, &str)> = vec![
        (
            "wrong htm",
            dpop.clone(),
            vec![with(&|c| c["htm"] = json!("POST"))],
            "invalid_dpop_proof",
        ),
        (
            "htu with a query",
            dpop.clone(),
            vec![with(&|c| c["htu"] = json!(format!("{URI}?a=1")))],
            "invalid_dpop_proof",
        ),
        (
            "another host",
            dpop.clone(),
            vec![with(&|c| c["htu"] = json!("https://evil.example/data"))],
            "invalid_dpop_proof",
        ),
        (
            "iat too old",
            dpop.clone(),
            vec![with(&|c| c["iat"] = json!(now() - 301))],
            "invalid_dpop_proof",
        ),
        (
            "iat ahead",
            dpop.clone(),
            vec![with(&|c| c["iat"] = json!(now() + 60))],
            "invalid_dpop_proof",
        ),
        (
            "no ath",
            dpop.clone(),
            vec![with(&|c| {
                c.as_object_mut().unwrap().remove("ath");
            })],
            "invalid_dpop_proof",
        ),
        (
            "wrong ath",
            dpop.clone(),
            vec![with(&|c| {
                c["ath"] = json!(tower_bearer::dpop::access_token_hash("another"))
            })],
            "invalid_dpop_proof",
        ),
        (
            "a private key in the jwk",
            dpop.clone(),
            vec![header_with(&|h| h["jwk"] = private.clone())],
            "invalid_dpop_proof",
        ),
        (
            "typ jwt",
            dpop.clone(),
            vec![header_with(&|h| h["typ"] = json!("jwt"))],
            "invalid_dpop_proof",
        ),
        (
            "alg none",
            dpop.clone(),
            vec![unsigned],
            "invalid_dpop_proof",
        ),
        ("HS256", dpop.clone(), vec![hs256], "invalid_dpop_proof"),
        (
            "two DPoP headers",
            dpop.clone(),
            vec![key.proof("GET", URI, &token), key.proof("GET", URI, &token)],
            "invalid_dpop_proof",
        ),
        ("no DPoP header", dpop.clone(), vec![], "invalid_dpop_proof"),
        (
            "another key than cnf.jkt",
            dpop.clone(),
            vec![other.proof("GET", URI, &token)],
            "invalid_token",
        ),
        (
            "an unbound token with a proof",
            format!("DPoP {}", access_token(SECRET, "u", None)),
            vec![key.proof("GET", URI, &access_token(SECRET, "u", None))],
            "invalid_token",
        ),
        (
            "a bound token as Bearer",
            format!("Bearer {token}"),
            vec![],
            "invalid_token",
        ),
    ];
    for (name, auth, proofs, error) in cases {
        let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        let res = send(addr, "GET", &auth, &proofs).await;
        assert_eq!(res.status, 401, "{name}: {:?}", res.headers);
        let all = challenges(&res);
        assert!(
            all.iter()
                .any(|c| c.contains(&format!("error=\"{error}\""))),
            "{name}: {all:?}"
        );
        // Both schemes are accepted: a DPoP challenge with its algorithms is always there.
        assert!(
            all.iter()
                .any(|c| c.starts_with("DPoP") && c.contains("algs=\"")),
            "{name}: {all:?}"
        );
        assert!(res.body.is_empty(), "{name}");
    }
    // A proof that came with the Bearer scheme: the client means DPoP and says Bearer.
    let res = send(
        addr,
        "GET",
        &format!("Bearer {token}"),
        &[&key.proof("GET", URI, &token)],
    )
    .await;
    assert_eq!(res.status, 400);
    assert!(challenges(&res)
        .iter()
        .any(|c| c.contains("invalid_request")));
    // Still accepted afterwards: nothing above spent the key or the token.
    let res = send(addr, "GET", &dpop, &[&key.proof("GET", URI, &token)]).await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let addr = server(allowed()).await;
    let key = ProofKey::new();
    let token = access_token(SECRET, "u1", Some(&key.thumbprint()));
    let proof = key.proof("GET", URI, &token);
    let auth = format!("DPoP {token}");
    assert_eq!(send(addr, "GET", &auth, &[&proof]).await.status, 200);
    let replayed = send(addr, "GET", &auth, &[&proof]).await;
    assert_eq!(replayed.status, 401);
    assert!(
        challenges(&replayed)[0].contains("used before"),
        "{:?}",
        challenges(&replayed)
    );
}

/// Two instances behind one load balancer, one Redis: a proof seen by one is a replay on the
/// other. Both check `htu` against the external origin they share, not their own addresses.
#[tokio::test]
async fn a_proof_replayed_on_another_instance_over_one_redis_is_refused() {
    let prefix = format!("dpop-test-{}-{}:", std::process::id(), now());
    let store = || async {
        RedisReplayStore::connect("redis://127.0.0.1:6379")
            .await
            .unwrap()
            .prefix(prefix.clone())
    };
    let a = server(DpopLayer::allowed(store().await).origin(ORIGIN).unwrap()).await;
    let b = server(DpopLayer::allowed(store().await).origin(ORIGIN).unwrap()).await;
    let key = ProofKey::new();
    let token = access_token(SECRET, "u1", Some(&key.thumbprint()));
    let auth = format!("DPoP {token}");
    let proof = key.proof("GET", URI, &token);
    assert_eq!(send(a, "GET", &auth, &[&proof]).await.status, 200);
    assert_eq!(
        send(b, "GET", &auth, &[&proof]).await.status,
        401,
        "replayed on b"
    );
    let fresh = key.proof("GET", URI, &token);
    assert_eq!(send(b, "GET", &auth, &[&fresh]).await.status, 200);
}

#[tokio::test]
async fn nonces_are_asked_for_then_taken() {
    let nonces = Nonces::random(Duration::from_secs(300));
    let addr = server(allowed().nonces(nonces)).await;
    let key = ProofKey::new();
    let token = access_token(SECRET, "u1", Some(&key.thumbprint()));
    let auth = format!("DPoP {token}");
    let res = send(addr, "GET", &auth, &[&key.proof("GET", URI, &token)]).await;
    assert_eq!(res.status, 401);
    assert!(
        challenges(&res)[0].starts_with("DPoP error=\"use_dpop_nonce\""),
        "{:?}",
        challenges(&res)
    );
    let nonce = res.header("dpop-nonce").expect("a nonce").to_owned();
    let mut claims = key.claims("GET", URI, &token);
    claims["nonce"] = json!(nonce);
    let res = send(addr, "GET", &auth, &[&key.sign(&key.header(), &claims)]).await;
    assert_eq!(res.status, 200);
    claims["nonce"] = json!("made-up");
    claims["jti"] = json!("another-jti");
    let res = send(addr, "GET", &auth, &[&key.sign(&key.header(), &claims)]).await;
    assert_eq!(res.status, 401, "a nonce the server never issued");
}

#[tokio::test]
async fn where_dpop_is_required_bearer_is_refused_with_a_dpop_challenge() {
    let layer = DpopLayer::required(MemoryReplayStore::new())
        .origin(ORIGIN)
        .unwrap()
        .resource_metadata("https://api.example/.well-known/oauth-protected-resource");
    let addr = server(layer).await;
    let plain = access_token(SECRET, "u2", None);
    let res = send(addr, "GET", &format!("Bearer {plain}"), &[]).await;
    assert_eq!(res.status, 401);
    let all = challenges(&res);
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(
        all[0].starts_with("DPoP error=\"invalid_token\""),
        "{all:?}"
    );
    assert!(
        all[0].contains("algs=\"") && all[0].contains("resource_metadata="),
        "{all:?}"
    );
    // No credentials: a plain DPoP challenge, no error, the Bearer one turned into it.
    let res = support::get(addr, "/data", &[]).await;
    assert_eq!(res.status, 401);
    let all = challenges(&res);
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(
        all[0].starts_with("DPoP ") && !all[0].contains("error="),
        "{all:?}"
    );
    // And DPoP works.
    let key = ProofKey::new();
    let token = access_token(SECRET, "u1", Some(&key.thumbprint()));
    let res = send(
        addr,
        "GET",
        &format!("DPoP {token}"),
        &[&key.proof("GET", URI, &token)],
    )
    .await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn where_both_are_allowed_a_request_without_credentials_gets_both_challenges() {
    let addr = server(allowed()).await;
    let res = support::get(addr, "/data", &[]).await;
    assert_eq!(res.status, 401);
    let all = challenges(&res);
    assert!(all.iter().any(|c| c.starts_with("Bearer")), "{all:?}");
    assert!(
        all.iter()
            .any(|c| c.starts_with("DPoP") && c.contains("algs=\"")),
        "{all:?}"
    );
}

/// A gRPC call whose proof is refused gets the gRPC status, not an HTTP challenge.
#[tokio::test]
async fn a_grpc_call_with_a_refused_proof_gets_unauthenticated() {
    let addr = server(allowed()).await;
    let key = ProofKey::new();
    let token = access_token(SECRET, "u1", Some(&key.thumbprint()));
    let lines = [
        format!("authorization: DPoP {token}"),
        format!("dpop: {}", key.proof("POST", URI, &token)),
        "content-type: application/grpc".to_owned(),
    ];
    let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    // The proof is for POST; the call is a GET: refused.
    let res = support::request(addr, "GET", "/data", &lines, b"").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("grpc-status"), Some("16"));
}

/// Introspection's answer binds the token (`token_type: DPoP`, `cnf.jkt`): the proof of that
/// key passes, Bearer does not; `JwtOr` hands an opaque token to it as the layer handed it on.
#[tokio::test]
async fn an_introspected_bound_token_needs_its_keys_proof() {
    use tower_bearer::oauth::{IntrospectionResolver, JwtOr};
    let key = ProofKey::new();
    let jkt = key.thumbprint();
    let answer = json!({
        "active": true, "token_type": "DPoP", "cnf": { "jkt": jkt }, "sub": "svc",
        "aud": ORIGIN, "exp": now() + 600,
    })
    .to_string();
    let endpoint = support::serve(service_fn(move |_: Request<hyper::body::Incoming>| {
        let answer = answer.clone();
        async move { Ok::<_, Infallible>(Response::new(answer)) }
    }))
    .await;
    let introspection: IntrospectionResolver =
        IntrospectionResolver::builder(format!("http://{endpoint}/introspect"))
            .audience(ORIGIN)
            .build()
            .unwrap();
    let addr = support::serve(
        ServiceBuilder::new()
            .layer(allowed())
            .layer(BearerLayer::new(JwtOr::new(resolver(), introspection)))
            .service(service_fn(
                |req: Request<hyper::body::Incoming>| async move {
                    let jkt = req
                        .extensions()
                        .get::<DpopProof>()
                        .map(|p| p.thumbprint().to_owned());
                    Ok::<_, Infallible>(Response::new(jkt.unwrap_or_default()))
                },
            )),
    )
    .await;
    let token = "an-opaque-token-0123456789";
    let res = send(
        addr,
        "GET",
        &format!("DPoP {token}"),
        &[&key.proof("GET", URI, token)],
    )
    .await;
    assert_eq!((res.status, res.body_str()), (200, jkt.as_str()));
    let res = send(addr, "GET", &format!("Bearer {token}"), &[]).await;
    assert_eq!(
        res.status, 401,
        "the bound token as Bearer, from the cache too"
    );
    let other = ProofKey::new();
    let res = send(
        addr,
        "GET",
        &format!("DPoP {token}"),
        &[&other.proof("GET", URI, token)],
    )
    .await;
    assert_eq!(res.status, 401, "another key's proof");
    // A DPoP-bound JWT through the same JwtOr.
    let jwt = access_token(SECRET, "u1", Some(&jkt));
    let res = send(
        addr,
        "GET",
        &format!("DPoP {jwt}"),
        &[&key.proof("GET", URI, &jwt)],
    )
    .await;
    assert_eq!(res.status, 200);
}

/// The metadata says what the layer takes.
#[tokio::test]
async fn the_metadata_advertises_dpop() {
    use tower_bearer::protected_resource::ProtectedResourceMetadata;
    let dpop = DpopLayer::required(MemoryReplayStore::new())
        .origin(ORIGIN)
        .unwrap();
    let metadata = dpop.advertise(ProtectedResourceMetadata::new(ORIGIN).unwrap());
    let dpop = dpop.resource_metadata(metadata.well_known_url());
    let addr = support::serve(
        ServiceBuilder::new()
            .layer(dpop)
            .layer(BearerLayer::new(resolver()).protected_resource(metadata))
            .service(service_fn(handler)),
    )
    .await;
    let res = support::get(addr, "/.well-known/oauth-protected-resource", &[]).await;
    assert_eq!(res.status, 200);
    let doc: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(doc["dpop_bound_access_tokens_required"], true);
    assert!(doc["dpop_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("EdDSA")));
    let res = support::get(addr, "/data", &[]).await;
    let all = challenges(&res);
    assert!(
        all[0].contains(
            "resource_metadata=\"https://api.example/.well-known/oauth-protected-resource\""
        ),
        "{all:?}"
    );
}

/// examples/better_auth_api in introspection mode with `--dpop required` behind an external
/// origin (as behind a load balancer): a bound token with its key's proof is 200 and the
/// answer names the key; the token as Bearer is refused with a DPoP challenge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_takes_dpop_bound_tokens_by_introspection() {
    let key = ProofKey::new();
    let jkt = key.thumbprint();
    let answer = json!({
        "active": true, "token_type": "DPoP", "cnf": { "jkt": jkt }, "sub": "svc",
        "aud": ORIGIN, "exp": now() + 600,
    })
    .to_string();
    let endpoint = support::serve(service_fn(move |req: Request<hyper::body::Incoming>| {
        // The example authenticates as its client (HTTP Basic c:s).
        let authenticated = req.headers().get("authorization").map(|v| v.as_bytes())
            == Some(b"Basic Yzpz".as_slice());
        let answer = if authenticated {
            answer.clone()
        } else {
            r#"{"active":false}"#.into()
        };
        async move { Ok::<_, Infallible>(Response::new(answer)) }
    }))
    .await;
    let url = format!("http://{endpoint}/introspect");
    let running = support::example::start(
        "better_auth_api",
        &[
            "--introspection-url",
            &url,
            "--client-id",
            "c",
            "--client-secret",
            "s",
            "--audience",
            ORIGIN,
            "--dpop",
            "required",
            "--origin",
            ORIGIN,
        ],
    );
    let addr: SocketAddr = running
        .base()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let token = "an-opaque-token-0123456789";
    let lines = [
        format!("authorization: DPoP {token}"),
        format!(
            "dpop: {}",
            key.proof("GET", "https://api.example/api/data", token)
        ),
    ];
    let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    let res = support::request(addr, "GET", "/api/data", &lines, b"").await;
    assert_eq!(res.status, 200, "{}", running.stderr());
    let body: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(res.header("x-dpop-thumbprint"), Some(jkt.as_str()));
    assert_eq!(body["sub"], "svc");
    let line = format!("authorization: Bearer {token}");
    let res = support::request(addr, "GET", "/api/data", &[line.as_bytes()], b"").await;
    assert_eq!(res.status, 401);
    assert!(
        challenges(&res)[0].starts_with("DPoP "),
        "{:?}",
        challenges(&res)
    );
}

/// Nonces rotate: a proof with the previous period's nonce passes, and the answer hands out
/// the current one in `DPoP-Nonce`; an answer to a proof with the current nonce carries none.
#[tokio::test]
async fn an_answer_carries_the_next_nonce_once_it_rotates() {
    let nonces = Nonces::new(b"a nonce secret of 16+ bytes", Duration::from_secs(1));
    let addr = server(allowed().nonces(nonces)).await;
    let key = ProofKey::new();
    let token = access_token(SECRET, "u1", Some(&key.thumbprint()));
    let auth = format!("DPoP {token}");
    let with_nonce = |nonce: &str| {
        let mut claims = key.claims("GET", URI, &token);
        claims["nonce"] = json!(nonce);
        key.sign(&key.header(), &claims)
    };
    let first = send(addr, "GET", &auth, &[&key.proof("GET", URI, &token)]).await;
    let nonce = first.header("dpop-nonce").unwrap().to_owned();
    let issued = now();
    let res = send(addr, "GET", &auth, &[&with_nonce(&nonce)]).await;
    if now() == issued {
        assert_eq!(res.status, 200);
        assert_eq!(
            res.header("dpop-nonce"),
            None,
            "the current nonce: nothing new to say"
        );
    }
    // The next second, the next period: the nonce is the previous one now.
    while now() == issued {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let res = send(addr, "GET", &auth, &[&with_nonce(&nonce)]).await;
    assert_eq!(res.status, 200, "{:?}", res.headers);
    let next = res.header("dpop-nonce").expect("the next nonce").to_owned();
    assert_ne!(next, nonce);
    assert_eq!(
        send(addr, "GET", &auth, &[&with_nonce(&next)]).await.status,
        200
    );
}

/// The replay store on a Redis Cluster: instances sharing it refuse each other's replays.
#[tokio::test(flavor = "multi_thread")]
async fn a_proof_replayed_on_another_instance_over_a_redis_cluster_is_refused() {
    let cluster = support::cluster::Cluster::start(3, 0);
    let urls = cluster.urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let a = RedisReplayStore::connect_cluster(&urls).await.unwrap();
    let b = RedisReplayStore::connect_cluster(&urls).await.unwrap();
    let a = server(DpopLayer::allowed(a).origin(ORIGIN).unwrap()).await;
    let b = server(DpopLayer::allowed(b).origin(ORIGIN).unwrap()).await;
    let key = ProofKey::new();
    let token = access_token(SECRET, "u1", Some(&key.thumbprint()));
    let auth = format!("DPoP {token}");
    for _ in 0..8 {
        // Proofs land on different nodes by their key's slot.
        let proof = key.proof("GET", URI, &token);
        assert_eq!(send(a, "GET", &auth, &[&proof]).await.status, 200);
        assert_eq!(
            send(b, "GET", &auth, &[&proof]).await.status,
            401,
            "replayed on b"
        );
        assert_eq!(
            send(a, "GET", &auth, &[&proof]).await.status,
            401,
            "replayed on a"
        );
    }
}

/// `htu` is never checked against the request's `Host` unless the layer is told to: without an
/// origin every proof is refused, even one whose `htu` names the `Host` the client sent.
#[tokio::test]
async fn the_host_header_is_trusted_only_when_asked() {
    let key = ProofKey::new();
    let token = access_token(SECRET, "u1", Some(&key.thumbprint()));
    let auth = format!("DPoP {token}");
    let unset = server(DpopLayer::allowed(MemoryReplayStore::new())).await;
    let htu = format!("http://{unset}/data");
    let res = send(unset, "GET", &auth, &[&key.proof("GET", &htu, &token)]).await;
    assert_eq!(res.status, 401);
    assert!(challenges(&res)[0].contains("invalid_dpop_proof"));
    let from_host =
        server(DpopLayer::allowed(MemoryReplayStore::new()).origin_from_host("http")).await;
    let htu = format!("http://{from_host}/data");
    let res = send(from_host, "GET", &auth, &[&key.proof("GET", &htu, &token)]).await;
    assert_eq!(res.status, 200);
}
