//! `tower_bearer.dpop_proofs{result}` counts each proof a `DpopLayer` decides: accepted,
//! invalid, replayed, or answered with a nonce. Its own test binary: the recorder is global.
#![cfg(all(
    feature = "dpop",
    feature = "metrics",
    feature = "introspection",
    feature = "redis"
))]

mod support;

use std::convert::Infallible;
use std::time::Duration;

use http::{Request, Response};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use support::dpop::{access_token, ProofKey};
use tower::{service_fn, ServiceBuilder};
use tower_bearer::dpop::{DpopLayer, MemoryReplayStore, Nonces};
use tower_bearer::oauth::{Algorithm, JwtResolver, Key, KeySet};
use tower_bearer::BearerLayer;

const SECRET: &[u8] = b"a-shared-secret-of-32-bytes-or-more!";
const URI: &str = "https://api.example/data";

#[tokio::test]
async fn each_proof_is_counted_by_its_result() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();
    let resolver: JwtResolver = JwtResolver::builder()
        .audience("https://api.example")
        .keys(KeySet::new([
            Key::hmac(SECRET, Algorithm::HS256, None).unwrap()
        ]))
        .unwrap();
    let serve = |dpop: DpopLayer, resolver: JwtResolver| {
        support::serve(
            ServiceBuilder::new()
                .layer(dpop)
                .layer(BearerLayer::new(resolver))
                .service(service_fn(|_: Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(Response::new(String::new()))
                })),
        )
    };
    let plain = DpopLayer::allowed(MemoryReplayStore::new())
        .origin("https://api.example")
        .unwrap();
    let with_nonces = plain.clone().nonces(Nonces::new(
        b"a nonce secret of 16+ bytes",
        Duration::from_secs(300),
    ));
    let addr = serve(plain, resolver.clone()).await;
    let nonced = serve(with_nonces, resolver).await;
    let key = ProofKey::new();
    let token = access_token(SECRET, "u1", Some(&key.thumbprint()));
    let auth = format!("authorization: DPoP {token}");
    let send = |addr, proof: String| {
        let lines = [auth.clone(), format!("dpop: {proof}")];
        async move {
            let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
            support::request(addr, "GET", "/data", &lines, b"")
                .await
                .status
        }
    };
    let proof = key.proof("GET", URI, &token);
    assert_eq!(send(addr, proof.clone()).await, 200);
    assert_eq!(send(addr, proof).await, 401);
    assert_eq!(send(addr, key.proof("POST", URI, &token)).await, 401);
    assert_eq!(send(addr, key.proof("GET", URI, &token)).await, 200);
    assert_eq!(send(nonced, key.proof("GET", URI, &token)).await, 401);
    let counts: Vec<(String, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, _, _, _)| key.key().name() == "tower_bearer.dpop_proofs")
        .map(|(key, _, _, value)| {
            let result = key.key().labels().find(|l| l.key() == "result").unwrap();
            let DebugValue::Counter(n) = value else {
                panic!("a counter")
            };
            (result.value().to_owned(), n)
        })
        .collect();
    let count = |result: &str| {
        counts
            .iter()
            .find(|(r, _)| r == result)
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(count("accepted"), 2, "{counts:?}");
    assert_eq!(count("replayed"), 1, "{counts:?}");
    assert_eq!(count("invalid"), 1, "{counts:?}");
    assert_eq!(count("nonce"), 1, "{counts:?}");
}
