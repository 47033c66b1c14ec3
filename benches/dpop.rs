//! What DPoP costs per request, in one run: a DPoP request (the proof parsed and verified, the
//! replay store asked, then the bearer layer) beside the same token as a plain Bearer request,
//! per proof algorithm (ES256, EdDSA, PS256, RS256), with the replay store in memory and in
//! Redis (127.0.0.1:6379), and the bare signature verification of a proof for scale. The
//! access token is a verified-token cache hit in both (an HS256 JWT bound to the proof's key),
//! so the difference is DPoP's own. Each request has a fresh proof (a new `jti`), signed
//! outside the timed routine (`iter_batched`). The RSA proofs are signed by a 2048-bit key,
//! tests/fixtures/dpop_rsa2048.pem.
//!
//! `cargo bench -p tower-bearer-peers --bench dpop --features dpop,redis`
//!
//! Instructions per check, which callgrind counts the same on every run:
//! `DPOP_ONLY=EdDSA/check_proof DPOP_ITERS=2000 valgrind --tool=callgrind
//! --toggle-collect='dpop::measured' target/release/deps/dpop-* --bench` counts only
//! `measured`, the loop over proofs signed beforehand (`bash benches/dpop_callgrind.sh` runs
//! every variant and prints the table). The variants: `verify` (the proof's signature, the key
//! loaded beforehand), `check_proof` (everything `check_proof` does), `dpop_memory` (the DPoP
//! request through both layers, replay store in memory) and `bearer_jwt_cached`.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use http::{Request, Response, StatusCode};
use serde_json::json;
use tower::{service_fn, Layer, Service, ServiceBuilder};
use tower_bearer::dpop::{
    check_proof, DpopKey, DpopLayer, MemoryReplayStore, ProofRequest, ProofSettings,
    RedisReplayStore,
};
use tower_bearer::oauth::{Algorithm, JwtResolver, Key, KeySet};
use tower_bearer::BearerLayer;

const SECRET: &[u8] = b"a-shared-secret-of-32-bytes-or-more!";
const ORIGIN: &str = "https://api.example";
const URI: &str = "https://api.example/data";

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// An HS256 access token bound to `jkt`.
fn token(jkt: &str) -> String {
    use hmac::{Hmac, Mac};
    let header = b64(br#"{"alg":"HS256"}"#);
    let claims = json!({"sub": "u", "exp": 4102444800u64, "aud": ORIGIN, "cnf": {"jkt": jkt}});
    let payload = b64(claims.to_string().as_bytes());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    format!("{header}.{payload}.{}", b64(&mac.finalize().into_bytes()))
}

fn resolver() -> JwtResolver {
    JwtResolver::builder()
        .audience(ORIGIN)
        .keys(KeySet::new([
            Key::hmac(SECRET, Algorithm::HS256, None).unwrap()
        ]))
        .unwrap()
}

fn request(auth: &str, proof: Option<&str>) -> Request<()> {
    let mut req = Request::get("/data").body(()).unwrap();
    req.headers_mut()
        .insert("authorization", auth.parse().unwrap());
    if let Some(proof) = proof {
        req.headers_mut().insert("dpop", proof.parse().unwrap());
    }
    req
}

/// The benchmark's RSA key, for `alg`.
fn rsa(alg: Algorithm) -> DpopKey {
    let pem = include_str!("../tests/fixtures/dpop_rsa2048.pem");
    let (_, der) = spki::Document::from_pem(pem).unwrap();
    DpopKey::from_rsa_pkcs8_der(der.as_bytes(), alg).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The loop callgrind counts (`--toggle-collect='dpop::measured'`): `once(i)` for each `i`.
#[inline(never)]
fn measured(iters: usize, once: &mut dyn FnMut(usize)) {
    for i in 0..iters {
        once(i);
    }
}

fn dpop(c: &mut Criterion) {
    // `DPOP_ONLY=<alg>/<variant>`: that variant alone, `DPOP_ITERS` times, outside criterion.
    let only = std::env::var("DPOP_ONLY").ok();
    let iters: usize = std::env::var("DPOP_ITERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let inner = service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let redis = rt.block_on(async {
        RedisReplayStore::connect("redis://127.0.0.1:6379")
            .await
            .unwrap()
            .prefix(format!("bench-dpop-{}:", std::process::id()))
    });
    let mut group = c.benchmark_group("dpop");
    for (name, key) in [
        ("ES256", DpopKey::generate_es256()),
        ("EdDSA", DpopKey::generate_ed25519()),
        ("PS256", rsa(Algorithm::PS256)),
        ("RS256", rsa(Algorithm::RS256)),
    ] {
        if only
            .as_deref()
            .is_some_and(|only| !only.starts_with(&format!("{name}/")))
        {
            continue;
        }
        // An RSA proof takes about a millisecond to sign, outside the timed routine but once
        // per iteration: a shorter measurement keeps the run to minutes.
        let rsa = name.starts_with('P') || name.starts_with('R');
        group.measurement_time(Duration::from_secs(if rsa { 1 } else { 3 }));
        let token = token(key.thumbprint());
        let bearer_layer = BearerLayer::new(resolver());
        let mut plain = bearer_layer.layer(inner);
        let memory = DpopLayer::allowed(MemoryReplayStore::new())
            .origin(ORIGIN)
            .unwrap();
        let mut in_memory = ServiceBuilder::new()
            .layer(memory)
            .layer(BearerLayer::new(resolver()))
            .service(inner);
        let over_redis = DpopLayer::allowed(redis.clone()).origin(ORIGIN).unwrap();
        let mut over_redis = ServiceBuilder::new()
            .layer(over_redis)
            .layer(BearerLayer::new(resolver()))
            .service(inner);
        // Every variant answers 200 (a benchmark of a refusal would be worthless).
        let bearer_plain = format!("Bearer {}", token_without_cnf());
        let dpop_auth = format!("DPoP {token}");
        rt.block_on(async {
            let res = plain.call(request(&bearer_plain, None)).await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let proof = key.proof("GET", URI, Some(&token), None);
            let res = in_memory
                .call(request(&dpop_auth, Some(&proof)))
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let proof = key.proof("GET", URI, Some(&token), None);
            let res = over_redis
                .call(request(&dpop_auth, Some(&proof)))
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
        });
        let parts = |proof: &str| {
            let (input, sig) = proof.rsplit_once('.').unwrap();
            (
                input.to_owned(),
                Base64UrlUnpadded::decode_vec(sig).unwrap(),
            )
        };
        let verifier = Key::from_jwk(key.public_jwk()).unwrap();
        let alg = Algorithm::from_name(key.algorithm()).unwrap();
        let settings = ProofSettings::new();
        let check_request = ProofRequest {
            method: "GET",
            uri: URI,
            access_token: Some(&token),
            now: now(),
        };
        if let Some(variant) = only
            .as_deref()
            .and_then(|o| o.strip_prefix(&format!("{name}/")))
        {
            // Everything signed and built before the counted loop.
            let proofs: Vec<String> = (0..iters)
                .map(|_| key.proof("GET", URI, Some(&token), None))
                .collect();
            // After the signing, which takes seconds under valgrind for RSA.
            let check_request = ProofRequest {
                now: now(),
                ..check_request
            };
            let signed: Vec<_> = proofs.iter().map(|p| parts(p)).collect();
            let mut requests: Vec<_> = proofs
                .iter()
                .map(|p| Some(request(&dpop_auth, Some(p))))
                .collect();
            let mut once: Box<dyn FnMut(usize) + '_> = match variant {
                "verify" => Box::new(|i| {
                    let (input, sig) = &signed[i];
                    assert!(verifier.verify(alg, input.as_bytes(), sig));
                }),
                "check_proof" => Box::new(|i| {
                    black_box(check_proof(&proofs[i], &check_request, &settings).unwrap());
                }),
                "dpop_memory" => Box::new(|i| {
                    let req = requests[i].take().unwrap();
                    let res = rt.block_on(in_memory.call(req)).unwrap();
                    assert_eq!(res.status(), StatusCode::OK);
                }),
                "bearer_jwt_cached" => Box::new(|_| {
                    let res = rt
                        .block_on(plain.call(request(&bearer_plain, None)))
                        .unwrap();
                    assert_eq!(res.status(), StatusCode::OK);
                }),
                other => panic!("no variant {other}"),
            };
            // One call outside the count: first-use costs (a cache's first miss) stay out.
            once(0);
            measured(iters - 1, &mut |i| once(i + 1));
            return;
        }
        group.bench_function(format!("{name}/bearer_jwt_cached"), |b| {
            b.iter(|| rt.block_on(plain.call(request(black_box(&bearer_plain), None))))
        });
        group.bench_function(format!("{name}/proof_signature_verify"), |b| {
            b.iter_batched(
                || parts(&key.proof("GET", URI, Some(&token), None)),
                |(input, sig)| assert!(verifier.verify(alg, input.as_bytes(), &sig)),
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("{name}/check_proof"), |b| {
            b.iter_batched(
                || key.proof("GET", URI, Some(&token), None),
                |proof| {
                    // Now, as the layer reads it per request: a run outlasts the 5 s skew.
                    let request = ProofRequest {
                        now: now(),
                        ..check_request
                    };
                    black_box(check_proof(&proof, &request, &settings).unwrap())
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("{name}/dpop_memory"), |b| {
            b.iter_batched(
                || request(&dpop_auth, Some(&key.proof("GET", URI, Some(&token), None))),
                |req| {
                    let res = rt.block_on(in_memory.call(req)).unwrap();
                    assert_eq!(res.status(), StatusCode::OK);
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("{name}/dpop_redis"), |b| {
            b.iter_batched(
                || request(&dpop_auth, Some(&key.proof("GET", URI, Some(&token), None))),
                |req| {
                    let res = rt.block_on(over_redis.call(req)).unwrap();
                    assert_eq!(res.status(), StatusCode::OK);
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// The same kind of token, bound to no key, for the plain Bearer request.
fn token_without_cnf() -> String {
    use hmac::{Hmac, Mac};
    let header = b64(br#"{"alg":"HS256"}"#);
    let claims = json!({"sub": "u", "exp": 4102444800u64, "aud": ORIGIN});
    let payload = b64(claims.to_string().as_bytes());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    format!("{header}.{payload}.{}", b64(&mac.finalize().into_bytes()))
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = dpop
}
criterion_main!(benches);
