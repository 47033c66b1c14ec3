//! The DPoP client layer against the crate's own DPoP server side, over a real socket on
//! 127.0.0.1: hyper-util's `Client` wrapped by `DpopClientLayer`, talking to `DpopLayer` (with
//! server nonces and the in-memory replay store) in front of a `BearerLayer` whose
//! `JwtResolver` accepts a DPoP-bound JWT (`cnf.jkt`).
#![cfg(feature = "dpop")]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::header::WWW_AUTHENTICATE;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tower::{service_fn, ServiceBuilder, ServiceExt};
use tower_bearer::client::SharedToken;
use tower_bearer::dpop::{
    AddDpop, DpopClientLayer, DpopKey, DpopLayer, DpopProof, MemoryReplayStore, Nonces,
};
use tower_bearer::oauth::{Algorithm, Claims, JwtResolver, Key, KeySet};
use tower_bearer::BearerLayer;

const SECRET: &[u8] = b"a-shared-secret-of-32-bytes-or-more!";

/// An HS256 access token for `sub`, bound to the key whose thumbprint is `jkt`.
fn bound_token(sub: &str, jkt: &str) -> String {
    let header = Base64UrlUnpadded::encode_string(br#"{"alg":"HS256","typ":"at+jwt"}"#);
    let claims = json!({"sub": sub, "exp": 4102444800u64, "cnf": {"jkt": jkt}});
    let payload = Base64UrlUnpadded::encode_string(claims.to_string().as_bytes());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    let signature = Base64UrlUnpadded::encode_string(&mac.finalize().into_bytes());
    format!("{header}.{payload}.{signature}")
}

/// The resource server: DpopLayer (nonces on) in front of a BearerLayer over a JwtResolver
/// with the HMAC key. Answers `sub`, the proof's thumbprint and the request body's length.
/// Counts the requests it sees.
async fn resource_server() -> (SocketAddr, Arc<AtomicUsize>) {
    // Bound first: the DPoP layer needs the origin, which holds the port.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let key = Key::hmac(SECRET, Algorithm::HS256, None).unwrap();
    let resolver: JwtResolver = JwtResolver::builder()
        .any_audience()
        .keys(KeySet::new([key]))
        .unwrap();
    let dpop = DpopLayer::allowed(MemoryReplayStore::new())
        .origin(&format!("http://{addr}"))
        .unwrap()
        .nonces(Nonces::random(Duration::from_secs(60)));
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let service = ServiceBuilder::new()
        .map_request(move |req: Request<Incoming>| {
            counter.fetch_add(1, Ordering::SeqCst);
            req
        })
        .layer(dpop)
        .layer(BearerLayer::new(resolver))
        .service(service_fn(|req: Request<Incoming>| async move {
            let sub = req.extensions().get::<Arc<Claims>>().unwrap().sub.clone();
            let jkt = req.extensions().get::<DpopProof>().unwrap().thumbprint();
            let answer = format!("{} {jkt} ", sub.unwrap_or_default());
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let answer = format!("{answer}{}", body.len());
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(answer))))
        }));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

type DpopClient = AddDpop<Client<HttpConnector, Full<Bytes>>>;

fn client(key: &DpopKey, token: &str) -> DpopClient {
    let shared = SharedToken::new();
    shared.set(token).unwrap();
    let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    ServiceBuilder::new()
        .layer(DpopClientLayer::new(key.clone(), shared))
        .service(http)
}

async fn send(
    client: &DpopClient,
    method: Method,
    uri: String,
    body: &'static str,
) -> (StatusCode, Option<String>, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    let response = client.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, challenge, String::from_utf8(body.to_vec()).unwrap())
}

/// The nonce is learned under the hood (two requests reach the server for the first call,
/// one for each after), for both key types, a body and all; another key gets 401.
#[tokio::test]
async fn the_client_layer_gets_through_the_server_layer() {
    let (addr, seen) = resource_server().await;
    let mut sent = 0;
    for key in [DpopKey::generate_es256(), DpopKey::generate_ed25519()] {
        let token = bound_token("alice", key.thumbprint());
        let client = client(&key, &token);
        let uri = format!("http://{addr}/data?page=1");
        let (status, _, body) = send(&client, Method::GET, uri.clone(), "").await;
        assert_eq!(status, StatusCode::OK, "{}", key.algorithm());
        assert_eq!(body, format!("alice {} 0", key.thumbprint()));
        sent += 2;
        assert_eq!(
            seen.load(Ordering::SeqCst),
            sent,
            "use_dpop_nonce, then the retry"
        );

        let (status, _, _) = send(&client, Method::GET, uri, "").await;
        assert_eq!(status, StatusCode::OK);
        sent += 1;
        assert_eq!(seen.load(Ordering::SeqCst), sent, "the nonce sent at once");

        // A POST with a body; from a clone, which shares the nonce.
        let uri = format!("http://{addr}/data");
        let (status, _, body) = send(&client.clone(), Method::POST, uri, "hello").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.ends_with(" 5"), "{body}");
        sent += 1;
        assert_eq!(seen.load(Ordering::SeqCst), sent);
    }

    // A token bound to one key, sent with proofs by another: the proofs are good, the
    // binding is not.
    let key = DpopKey::generate_es256();
    let token = bound_token("alice", key.thumbprint());
    let thief = client(&DpopKey::generate_ed25519(), &token);
    let uri = format!("http://{addr}/data");
    let (status, challenge, _) = send(&thief, Method::GET, uri, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenge = challenge.unwrap();
    assert!(
        challenge.starts_with("DPoP error=\"invalid_token\""),
        "{challenge}"
    );
    assert_eq!(
        seen.load(Ordering::SeqCst),
        sent + 2,
        "one nonce retry, no more"
    );
}

/// The same proof is never sent twice: the server's replay store would refuse it.
#[tokio::test]
async fn many_requests_each_with_a_fresh_proof() {
    let (addr, seen) = resource_server().await;
    let key = DpopKey::generate_ed25519();
    let client = client(&key, &bound_token("bob", key.thumbprint()));
    for _ in 0..20 {
        let uri = format!("http://{addr}/same/path");
        let (status, _, body) = send(&client, Method::GET, uri, "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.starts_with("bob "));
    }
    assert_eq!(seen.load(Ordering::SeqCst), 21);
}
