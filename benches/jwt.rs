//! JWT verification and introspection, side by side in one run:
//!
//! - per algorithm (EdDSA, ES256, RS256, PS256), uncached, over 64 distinct tokens in rotation:
//!   the bare primitive's verify of the same signing input (no parsing), tower-bearer's
//!   `JwtResolver` (parse, key choice, verify, claims, validation; its verified-token cache
//!   off), and the peer, `jsonwebtoken::decode` with the same key and checks;
//! - a repeated token (64 in rotation) through the verified-token cache, beside a
//!   `MemoryStore` hit;
//! - introspection per request: cached (a hit) and uncached (a call to a local endpoint).
//!
//! `cargo bench --bench jwt --features jwt,introspection`

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http::Response;
use http_body_util::Full;
use rand_core::OsRng;
use serde_json::{json, Value};
use tower_bearer::oauth::{IntrospectionResolver, JwtResolver, Key, KeySet};
use tower_bearer::store::{CreateOptions, MemoryStore};
use tower_bearer::{BearerToken, SessionResolver};

const ISS: &str = "https://issuer.bench";
const AUD: &str = "https://api.bench";
const TOKENS: usize = 64;

/// A 2048-bit RSA key made for this benchmark alone (`openssl genpkey`): RSA tokens are signed
/// with jsonwebtoken, which draws PSS salts itself.
const RSA_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDU4Pbbbgz+lQ/k
F8tUCKCzigGpKlRIiWnsQ9e7l+BRGhN1fTN6MLDNCkugsWuytH3yaoNWDReUeM/4
c98wZNxjO8jIzwglPGGgYK+F/0nf+QwdFabJ+7If11B0AGtPBlPoaRh7cnIh0HpQ
eEtErqks2D69QJJHCqaBJqHv2VyFIBaGO4v0meXb/BNiLVTiJjt3X3T9yQU5j2r6
GYTVzw25SDUfbM/SOdh1Q4Di15rd2cR3jMxGcNNZKaijs2CptKz3KiGZRWoXAtyF
dhhOqb2934IpPgADDTn05D3u+e0BqUBhLEWtziKqyJAFy1zliWcoC/rbWIg8vST0
vYBjwhzdAgMBAAECggEABIihAUXb/X0HuFwgXrMLVx+IjwWBg4T3rko4mTxwENId
GXq34rGQRmGigDLfIBBzgTru/qFrP+R9y2UOWw2+2tcuXMZ5/i8FxkBg5JnuBRjc
/u6T3YfggIiZpErQ/j8cgN3iIVjr4Nf7juSs97K/lB6r4WRzaRNrPeNoff7zVztw
gfNrm0DkCGUITEhZ7U9f2xtjwrBR6PRnc7DgUPVdDCXJ5zs1yMqacdgjAVhSm2Qr
P7EF/pWCtXLfjLnLzwkxVSrfwjvV69/XoAQiMeaxvc4bywyAnJaB74S4PWiRnrMG
KDMPJ3KnpUYui6RdwqLWSdpf/n6w6WgyKymG/x9F4QKBgQD2petVbA3yOIhOEamE
E71oedmfbhsiqoqa0E+wfNyXNeZImdJh1amclcR5voIi5uxSSt6i+ZxmGZdEsCgZ
y8Njni+IhxmrzgBj5oYhMGe5M34TAnAaHTtTkXMtXWpQym7Khen1hQXnXDmOsqwM
oiALiEEZzLkdQqg7oUskRpMn4QKBgQDc80OXwbn7YZg8G+TB39MJSMToNY/4bR8O
9w9jTZaeCXE6ykVeWaql5Vm7Ewhl0C0z1uJmcu7gWRjhBYBEAk3Xy0ywb72TJPdf
7omU5McmbSdR3kF3GWIa1w4/unOWqgTiTglYFzWe9aJvLRSCkG1z5ESCtuq59uXl
0j3UFcwkfQKBgBNnklAyJBa+Y9rggNmnQ+uISprEatYbXLQ5V0unRyOOVgO4NlkE
Gkf7cG2zk0FzsXv37/QadzeBI+l/gmglI8Yel9bB6j8eAeHaLQtHZ6Gmb3DHbFJh
ol08wDb9dnPMuVKtnm52fLRrCQw0+lw0FRlTKuwAsz+eEuY+Fk9QThuBAoGAEy/A
r93vw4ePC7E0ZS2FiunZx3xXOzBmoQsNOAdVy/Vv8rX73hyVOAC5kQgvE4BHXJgN
Yu4aFjtGcMvkfoNgtRt/VlbttGhiXt887UQMkyapYm+Vab03irMgFqKfRPcQo4I5
R4AEdQBJkbPtcwUNrCGnXV569ZkeD535JoCaEJUCgYA1yI6KdQhwm1gtQTa/LzpZ
VudGN4ag7cJyio9POSy/8Son2eG865b8kNKNEq/5p9Sq3fr58YpJ5QJvpGjTwEC4
B3+cdrsoL3a/jPVoutE4WAVotOdC0+RYcKq7wmXjUAC7U8So0ihzs4ab+Nrj0dZt
B8f5I4Dx5HOOHCf12b6zRA==
-----END PRIVATE KEY-----";

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// 64 tokens signed by `sign`, each with its own `sub`.
fn tokens(alg: &str, sign: impl Fn(&[u8]) -> Vec<u8>) -> Vec<String> {
    let exp = 4_102_444_800u64;
    (0..TOKENS)
        .map(|i| {
            let header = b64(json!({"alg": alg, "kid": "k"}).to_string().as_bytes());
            let claims = json!({"sub": format!("user-{i}"), "iss": ISS, "aud": AUD, "iat": 1_700_000_000, "exp": exp});
            let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
            let signature = sign(input.as_bytes());
            format!("{input}.{}", b64(&signature))
        })
        .collect()
}

/// The primitive's own verify: signing input and signature.
type BareVerify = Box<dyn Fn(&[u8], &[u8]) -> bool>;

/// One algorithm's fixture: its tokens, its public JWK, a bare verify and the peer's key.
struct Fixture {
    name: &'static str,
    tokens: Vec<String>,
    jwk: Value,
    bare: BareVerify,
    peer_key: jsonwebtoken::DecodingKey,
    peer_alg: jsonwebtoken::Algorithm,
}

fn fixtures() -> Vec<Fixture> {
    use p256::ecdsa::signature::{Signer, Verifier};
    use rsa::traits::PublicKeyParts;
    use sha2_next::Digest as _;

    let ed = ed25519_dalek::SigningKey::from_bytes(&rand_bytes());
    let ed_public = ed.verifying_key();
    let es = p256::ecdsa::SigningKey::random(&mut OsRng);
    let es_public = *es.verifying_key();
    let point = es_public.to_encoded_point(false);
    let (x, y) = (b64(point.x().unwrap()), b64(point.y().unwrap()));
    let rsa_key =
        <rsa::PrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_pem(RSA_PEM).unwrap();
    let rsa_public = rsa_key.to_public_key();
    let trim = |b: &[u8]| b64(&b[b.iter().take_while(|&&x| x == 0).count()..]);
    let (n, e) = (
        trim(&rsa_public.n().to_be_bytes()),
        trim(&rsa_public.e().to_be_bytes()),
    );
    let der = rsa::pkcs1::EncodeRsaPrivateKey::to_pkcs1_der(&rsa_key).unwrap();
    let signer = jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes());
    let jwt_sign = |alg: jsonwebtoken::Algorithm| {
        let signer = signer.clone();
        move |m: &[u8]| {
            let m = std::str::from_utf8(m).unwrap();
            let sig = jsonwebtoken::crypto::sign(m.as_bytes(), &signer, alg).unwrap();
            Base64UrlUnpadded::decode_vec(&sig).unwrap()
        }
    };
    let rsa_jwk = |alg: &str| json!({"kty": "RSA", "kid": "k", "alg": alg, "n": n, "e": e});
    let (rs_public, ps_public) = (rsa_public.clone(), rsa_public);
    vec![
        Fixture {
            name: "EdDSA",
            tokens: tokens("EdDSA", |m| ed.sign(m).to_bytes().to_vec()),
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": b64(ed_public.as_bytes())}),
            bare: Box::new(move |m, s| {
                let sig = ed25519_dalek::Signature::from_slice(s).unwrap();
                ed_public.verify_strict(m, &sig).is_ok()
            }),
            peer_key: jsonwebtoken::DecodingKey::from_ed_components(&b64(ed_public.as_bytes()))
                .unwrap(),
            peer_alg: jsonwebtoken::Algorithm::EdDSA,
        },
        Fixture {
            name: "ES256",
            tokens: tokens("ES256", |m| {
                let sig: p256::ecdsa::Signature = es.sign(m);
                sig.to_bytes().to_vec()
            }),
            jwk: json!({"kty": "EC", "crv": "P-256", "kid": "k", "x": x, "y": y}),
            bare: Box::new(move |m, s| {
                let sig = p256::ecdsa::Signature::from_slice(s).unwrap();
                es_public.verify(m, &sig).is_ok()
            }),
            peer_key: jsonwebtoken::DecodingKey::from_ec_components(&x, &y).unwrap(),
            peer_alg: jsonwebtoken::Algorithm::ES256,
        },
        Fixture {
            name: "RS256",
            tokens: tokens("RS256", jwt_sign(jsonwebtoken::Algorithm::RS256)),
            jwk: rsa_jwk("RS256"),
            bare: Box::new(move |m, s| {
                let scheme = rsa::Pkcs1v15Sign::new::<sha2_next::Sha256>();
                rs_public
                    .verify(scheme, &sha2_next::Sha256::digest(m), s)
                    .is_ok()
            }),
            peer_key: jsonwebtoken::DecodingKey::from_rsa_components(&n, &e).unwrap(),
            peer_alg: jsonwebtoken::Algorithm::RS256,
        },
        Fixture {
            name: "PS256",
            tokens: tokens("PS256", jwt_sign(jsonwebtoken::Algorithm::PS256)),
            jwk: rsa_jwk("PS256"),
            bare: Box::new(move |m, s| {
                let scheme = rsa::Pss::<sha2_next::Sha256>::new();
                ps_public
                    .verify(scheme, &sha2_next::Sha256::digest(m), s)
                    .is_ok()
            }),
            peer_key: jsonwebtoken::DecodingKey::from_rsa_components(&n, &e).unwrap(),
            peer_alg: jsonwebtoken::Algorithm::PS256,
        },
    ]
}

fn rand_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    bytes
}

fn split(token: &str) -> (&[u8], Vec<u8>) {
    let (input, sig) = token.rsplit_once('.').unwrap();
    (
        input.as_bytes(),
        Base64UrlUnpadded::decode_vec(sig).unwrap(),
    )
}

fn verification(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    for f in fixtures() {
        let keys = KeySet::new([Key::from_jwk(&f.jwk).unwrap()]);
        let ours: JwtResolver = JwtResolver::builder()
            .issuer(ISS)
            .audience(AUD)
            .verified_cache(0, Duration::ZERO)
            .keys(keys)
            .unwrap();
        let mut peer = jsonwebtoken::Validation::new(f.peer_alg);
        peer.set_issuer(&[ISS]);
        peer.set_audience(&[AUD]);
        let split: Vec<_> = f.tokens.iter().map(|t| split(t)).collect();
        for t in &f.tokens {
            assert!(ours
                .resolve_ready(BearerToken::new(t))
                .unwrap()
                .unwrap()
                .is_some());
            jsonwebtoken::decode::<Value>(t, &f.peer_key, &peer).unwrap();
        }
        let mut i = 0;
        group.bench_function(format!("{}/bare_primitive", f.name), |b| {
            b.iter(|| {
                i = (i + 1) % TOKENS;
                let (input, sig) = &split[i];
                assert!((f.bare)(black_box(input), black_box(sig)));
            })
        });
        group.bench_function(format!("{}/tower_bearer", f.name), |b| {
            b.iter(|| {
                i = (i + 1) % TOKENS;
                let token = BearerToken::new(black_box(&f.tokens[i]));
                black_box(ours.resolve_ready(token).unwrap().unwrap().unwrap());
            })
        });
        group.bench_function(format!("{}/jsonwebtoken", f.name), |b| {
            b.iter(|| {
                i = (i + 1) % TOKENS;
                black_box(
                    jsonwebtoken::decode::<Value>(black_box(&f.tokens[i]), &f.peer_key, &peer)
                        .unwrap(),
                );
            })
        });
    }
    group.finish();
}

fn cached(c: &mut Criterion) {
    let f = fixtures().swap_remove(1);
    let ours: JwtResolver = JwtResolver::builder()
        .issuer(ISS)
        .audience(AUD)
        .keys(KeySet::new([Key::from_jwk(&f.jwk).unwrap()]))
        .unwrap();
    for t in &f.tokens {
        assert!(ours
            .resolve_ready(BearerToken::new(t))
            .unwrap()
            .unwrap()
            .is_some());
    }
    let store = MemoryStore::new();
    let live: Vec<String> = (0..TOKENS)
        .map(|i| {
            let issued = store.create_now(&format!("user-{i}"), (), CreateOptions::default());
            issued.unwrap().token.as_str().to_owned()
        })
        .collect();
    let mut group = c.benchmark_group("repeated_token");
    let mut i = 0;
    group.bench_function("jwt_verified_cache_hit", |b| {
        b.iter(|| {
            i = (i + 1) % TOKENS;
            black_box(
                ours.resolve_ready(BearerToken::new(&f.tokens[i]))
                    .unwrap()
                    .unwrap()
                    .unwrap(),
            );
        })
    });
    group.bench_function("memory_store_hit", |b| {
        b.iter(|| {
            i = (i + 1) % TOKENS;
            black_box(
                store
                    .resolve_ready(BearerToken::new(&live[i]))
                    .unwrap()
                    .unwrap()
                    .unwrap(),
            );
        })
    });
    group.finish();
}

/// What a cache key costs by token length: the keyed SipHash-1-3/128 every cache computes, over
/// a session token's 43 bytes and a JWT's length.
fn digest(c: &mut Criterion) {
    let f = fixtures().swap_remove(1);
    let jwt = f.tokens[0].as_bytes();
    let session = &jwt[..43];
    let hasher = siphasher::sip128::SipHasher13::new_with_keys(1, 2);
    let mut group = c.benchmark_group("digest");
    group.bench_function(format!("siphash_{}_bytes", session.len()), |b| {
        b.iter(|| black_box(hasher.hash(black_box(session))))
    });
    group.bench_function(format!("siphash_{}_bytes", jwt.len()), |b| {
        b.iter(|| black_box(hasher.hash(black_box(jwt))))
    });
    group.finish();
}

fn introspection(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let svc = hyper::service::service_fn(|_| async {
                    let body = r#"{"active":true,"sub":"u","scope":"read","exp":4102444800}"#;
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                        body.as_bytes(),
                    ))))
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc),
                );
            }
        });
        addr
    });
    let endpoint = format!("http://{addr}/introspect");
    let cached: IntrospectionResolver = IntrospectionResolver::builder(&endpoint)
        .any_audience()
        .build()
        .unwrap();
    let uncached: IntrospectionResolver = IntrospectionResolver::builder(&endpoint)
        .cache_ttl(Duration::ZERO)
        .any_audience()
        .build()
        .unwrap();
    let tokens: Vec<String> = (0..TOKENS).map(|i| format!("opaque-{i}")).collect();
    for t in &tokens {
        assert!(rt
            .block_on(cached.resolve(BearerToken::new(t)))
            .unwrap()
            .is_some());
    }
    let mut group = c.benchmark_group("introspection");
    let mut i = 0;
    group.bench_function("cached", |b| {
        b.iter(|| {
            i = (i + 1) % TOKENS;
            black_box(
                cached
                    .resolve_ready(BearerToken::new(&tokens[i]))
                    .unwrap()
                    .unwrap()
                    .unwrap(),
            );
        })
    });
    group.bench_function("uncached_local_endpoint", |b| {
        b.iter(|| {
            i = (i + 1) % TOKENS;
            black_box(
                rt.block_on(uncached.resolve(BearerToken::new(&tokens[i])))
                    .unwrap()
                    .unwrap(),
            );
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = verification, cached, digest, introspection
}
criterion_main!(benches);
