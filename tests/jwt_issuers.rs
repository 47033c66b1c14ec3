//! `oauth::Issuers`: two issuers behind one resolver, one with static keys and one with a JWKS
//! served by a local server that counts its fetches. Each issuer's tokens are accepted, never
//! the other's (the same `kid` published by both included); an unknown `iss`, and a flood of
//! made-up ones, is refused with no fetch and nothing kept.
#![cfg(feature = "jwt")]

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use bytes::Bytes;
use ed25519_dalek::{Signer as _, SigningKey};
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::{json, Value};
use tower::{service_fn, ServiceBuilder};
use tower_bearer::oauth::{Claims, Issuers, JwtResolver, Key, KeySet};
use tower_bearer::{BearerLayer, BearerToken, SessionResolver};

const A: &str = "https://a.example";
const API: &str = "https://api.example";
/// Both issuers publish their (different) keys under this `kid`.
const KID: &str = "shared";

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn jwk(key: &SigningKey) -> Value {
    json!({
        "kty": "OKP", "crv": "Ed25519", "kid": KID,
        "x": b64(key.verifying_key().as_bytes()),
    })
}

/// A compact JWS of `claims` signed by `key` under [`KID`].
fn sign(key: &SigningKey, claims: &Value) -> String {
    let header = b64(json!({"alg": "EdDSA", "kid": KID, "typ": "JWT"})
        .to_string()
        .as_bytes());
    let payload = b64(claims.to_string().as_bytes());
    let signature = key.sign(format!("{header}.{payload}").as_bytes());
    format!("{header}.{payload}.{}", b64(&signature.to_bytes()))
}

fn claims(iss: &str, sub: &str) -> Value {
    json!({"iss": iss, "sub": sub, "aud": API, "exp": 4_102_444_800u64})
}

/// A JWKS on a local socket that counts its fetches.
struct JwksServer {
    addr: std::net::SocketAddr,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(jwks: Value) -> JwksServer {
        let fetches = Arc::new(AtomicUsize::new(0));
        let counted = fetches.clone();
        let svc = service_fn(move |_: Request<Incoming>| {
            counted.fetch_add(1, Ordering::SeqCst);
            let body = Bytes::from(jwks.to_string());
            async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
        });
        JwksServer {
            addr: support::serve(svc).await,
            fetches,
        }
    }

    fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// Issuer A with its key as a static key set, issuer B (the server) with its key in the
/// server's JWKS; both under [`KID`].
struct Setup {
    a_key: SigningKey,
    b_key: SigningKey,
    b: JwksServer,
    issuers: Issuers,
}

async fn setup() -> Setup {
    let (a_key, b_key) = (
        SigningKey::from_bytes(&[1; 32]),
        SigningKey::from_bytes(&[2; 32]),
    );
    let b = JwksServer::start(json!({"keys": [jwk(&b_key)]})).await;
    let a_resolver: JwtResolver = JwtResolver::builder()
        .issuer(A)
        .audience(API)
        .keys(KeySet::new([Key::from_jwk(&jwk(&a_key)).unwrap()]))
        .unwrap();
    let b_resolver: JwtResolver = JwtResolver::builder()
        .issuer(b.issuer())
        .audience(API)
        .jwks_url(&format!("{}/jwks", b.issuer()))
        .unwrap();
    let issuers = Issuers::builder()
        .issuer(A, a_resolver)
        .issuer(b.issuer(), b_resolver)
        .build()
        .unwrap();
    Setup {
        a_key,
        b_key,
        b,
        issuers,
    }
}

async fn resolve(issuers: &Issuers, token: &str) -> Option<Arc<Claims>> {
    let token = BearerToken::new(token);
    let ready = issuers.resolve_ready(token).map(|a| a.unwrap());
    let waited = issuers.resolve(token).await.unwrap();
    if let Some(ready) = &ready {
        assert_eq!(ready.is_some(), waited.is_some(), "resolve_ready agrees");
    }
    waited
}

#[tokio::test]
async fn each_issuer_verifies_its_own_tokens_and_never_the_others() {
    let Setup {
        a_key,
        b_key,
        b,
        issuers,
    } = setup().await;
    let b_iss = b.issuer();

    let from_a = sign(&a_key, &claims(A, "alice"));
    let ready = issuers.resolve_ready(BearerToken::new(&from_a));
    let claims_a = ready.expect("static keys answer at once").unwrap().unwrap();
    assert_eq!(claims_a.sub.as_deref(), Some("alice"));
    assert_eq!(b.fetches(), 0, "A's token touches no other issuer's JWKS");

    let from_b = sign(&b_key, &claims(&b_iss, "bob"));
    assert!(
        issuers.resolve_ready(BearerToken::new(&from_b)).is_none(),
        "B's keys are not fetched yet"
    );
    let claims_b = resolve(&issuers, &from_b).await.unwrap();
    assert_eq!(claims_b.sub.as_deref(), Some("bob"));
    assert_eq!(b.fetches(), 1);
    assert!(
        issuers.resolve_ready(BearerToken::new(&from_b)).is_some(),
        "at once, now that B's keys are at hand"
    );

    // Same `kid`, other key: a token claiming one issuer, signed by the other's key.
    let a_by_b = sign(&b_key, &claims(A, "mallory"));
    let b_by_a = sign(&a_key, &claims(&b_iss, "mallory"));
    assert!(resolve(&issuers, &a_by_b).await.is_none());
    assert!(resolve(&issuers, &b_by_a).await.is_none());
    // An issuer's own audience check still applies.
    let elsewhere = sign(
        &a_key,
        &json!({"iss": A, "sub": "alice", "aud": "https://other.example", "exp": 4_102_444_800u64}),
    );
    assert!(resolve(&issuers, &elsewhere).await.is_none());

    // Unknown, absent, or not quite the listed `iss`, however well signed: no fetch.
    let unknown = [
        sign(&a_key, &claims("https://evil.example", "alice")),
        sign(&b_key, &claims(&format!("{b_iss}/"), "bob")),
        sign(
            &a_key,
            &json!({"sub": "alice", "aud": API, "exp": 4_102_444_800u64}),
        ),
        sign(&a_key, &json!({"iss": 7, "sub": "alice", "aud": API})),
        "opaque-token".to_owned(),
    ];
    for token in &unknown {
        let ready = issuers.resolve_ready(BearerToken::new(token));
        assert!(ready.expect("refused at once").unwrap().is_none());
        assert!(resolve(&issuers, token).await.is_none());
    }
    assert_eq!(b.fetches(), 1, "an unknown issuer fetches nothing");
}

/// 100,000 tokens, each naming a made-up issuer (some with B's `kid`): all refused at once,
/// no JWKS fetched, and nothing left allocated for them.
#[tokio::test]
async fn a_flood_of_made_up_issuers_fetches_nothing_and_keeps_nothing() {
    let Setup { b, issuers, .. } = setup().await;
    let header = b64(format!(r#"{{"alg":"EdDSA","kid":"{KID}"}}"#).as_bytes());
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(std::process::id());
    let mut made_up = move || {
        // xorshift64: a new issuer each time.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let payload = json!({"iss": format!("https://{state:x}.example"), "sub": "x"});
        format!("{header}.{}.c2ln", b64(payload.to_string().as_bytes()))
    };
    let tokens: Vec<String> = (0..100_000).map(|_| made_up()).collect();
    // Warm up whatever is set up once (the tracing callsite's interest, lazily made handles).
    assert!(issuers
        .resolve_ready(BearerToken::new(&tokens[0]))
        .unwrap()
        .unwrap()
        .is_none());
    let info = allocation_counter::measure(|| {
        for token in &tokens {
            let answer = issuers.resolve_ready(BearerToken::new(token));
            assert!(answer.unwrap().unwrap().is_none());
        }
    });
    assert!(info.bytes_total > 0, "the allocations were measured");
    assert!(
        info.bytes_current <= 0,
        "{} bytes kept after 100,000 unknown issuers",
        info.bytes_current
    );
    for token in tokens.iter().take(1_000) {
        assert!(resolve(&issuers, token).await.is_none());
    }
    assert_eq!(b.fetches(), 0, "no JWKS fetched for any of them");
}

/// The unknown `iss` is logged at DEBUG (truncated); the token never is.
#[tokio::test]
async fn an_unknown_issuer_is_logged_and_the_token_is_not() {
    let Setup { a_key, issuers, .. } = setup().await;
    let long = format!("https://{}.example", "x".repeat(1_000));
    let tokens = [
        sign(&a_key, &claims("https://evil.example", "alice")),
        sign(&a_key, &claims(&long, "alice")),
    ];
    let (logs, guard) = support::Logs::capture_debug();
    for token in &tokens {
        assert!(resolve(&issuers, token).await.is_none());
    }
    drop(guard);
    let text = logs.text();
    assert!(text.contains("https://evil.example"), "{text}");
    assert!(text.contains("not a trusted issuer"), "{text}");
    assert!(!text.contains(&"x".repeat(200)), "truncated: {text}");
    for token in &tokens {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!text.contains(signature), "no token in the logs: {text}");
    }
}

#[tokio::test]
async fn through_the_layer_each_issuer_is_200_and_the_rest_401() {
    let Setup {
        a_key,
        b_key,
        b,
        issuers,
    } = setup().await;
    let svc = ServiceBuilder::new()
        .layer(BearerLayer::new(issuers))
        .service(service_fn(|req: Request<Incoming>| async move {
            let claims = req.extensions().get::<Arc<Claims>>().unwrap();
            let body = format!(
                "{} {}",
                claims.iss.as_deref().unwrap(),
                claims.sub.as_deref().unwrap()
            );
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
        }));
    let addr = support::serve(svc).await;
    let b_iss = b.issuer();
    let cases = [
        (
            sign(&a_key, &claims(A, "alice")),
            Some(format!("{A} alice")),
        ),
        (
            sign(&b_key, &claims(&b_iss, "bob")),
            Some(format!("{b_iss} bob")),
        ),
        (sign(&b_key, &claims(A, "mallory")), None),
        (sign(&a_key, &claims(&b_iss, "mallory")), None),
        (sign(&a_key, &claims("https://evil.example", "alice")), None),
    ];
    for (token, expected) in &cases {
        let auth = format!("authorization: Bearer {token}");
        let res = support::get(addr, "/", &[auth.as_bytes()]).await;
        match expected {
            Some(body) => assert_eq!((res.status, res.body_str()), (200, body.as_str())),
            None => {
                assert_eq!(res.status, 401);
                assert!(res
                    .header("www-authenticate")
                    .unwrap()
                    .contains(r#"error="invalid_token""#));
            }
        }
    }
    assert_eq!(b.fetches(), 1);
}

#[test]
fn a_resolver_listed_under_another_issuer_is_refused_at_build() {
    let key = || KeySet::new([Key::from_jwk(&jwk(&SigningKey::from_bytes(&[1; 32]))).unwrap()]);
    let resolver = |iss: Option<&str>| -> JwtResolver {
        let builder = JwtResolver::builder().audience(API);
        match iss {
            Some(iss) => builder.issuer(iss).keys(key()).unwrap(),
            None => builder.keys(key()).unwrap(),
        }
    };
    let other = Issuers::builder()
        .issuer(A, resolver(Some("https://b.example")))
        .build()
        .unwrap_err()
        .to_string();
    assert!(other.contains("`issuer`") && other.contains(A), "{other}");
    assert!(other.contains("https://b.example"), "{other}");
    let none = Issuers::builder()
        .issuer(A, resolver(None))
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        none.contains(A) && none.contains("requires no `iss`"),
        "{none}"
    );
    let twice = Issuers::builder()
        .issuer(A, resolver(Some(A)))
        .issuer(A, resolver(Some(A)))
        .build()
        .unwrap_err()
        .to_string();
    assert!(twice.contains("listed twice"), "{twice}");
    let empty = Issuers::<serde_json::Map<String, Value>>::builder()
        .build()
        .unwrap_err();
    assert!(empty.to_string().contains("no issuer"), "{empty}");
}

/// `tower_bearer.jwt_issuer` counts by configured issuer and result; an unknown `iss` is
/// `issuer="unknown"`, never its own value.
#[cfg(feature = "metrics")]
#[tokio::test]
async fn the_issuer_label_is_bounded_by_the_list() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _recording = metrics::set_default_local_recorder(&recorder);

    let Setup {
        a_key,
        b_key,
        b,
        issuers,
    } = setup().await;
    let b_iss = b.issuer();
    assert!(resolve(&issuers, &sign(&a_key, &claims(A, "alice")))
        .await
        .is_some());
    assert!(resolve(&issuers, &sign(&b_key, &claims(A, "m")))
        .await
        .is_none());
    assert!(resolve(&issuers, &sign(&b_key, &claims(&b_iss, "bob")))
        .await
        .is_some());
    for i in 0..3 {
        let token = sign(&a_key, &claims(&format!("https://{i}.evil"), "x"));
        assert!(resolve(&issuers, &token).await.is_none());
    }
    let mut counted: Vec<(String, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let key = key.key().clone();
            let DebugValue::Counter(n) = value else {
                return None;
            };
            (key.name() == "tower_bearer.jwt_issuer" && n > 0).then(|| {
                let labels: Vec<String> = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                (labels.join(","), n)
            })
        })
        .collect();
    counted.sort();
    // resolve_ready and resolve each count: two per token here.
    let mut expected = vec![
        (format!("issuer={A},result=accepted"), 2),
        (format!("issuer={A},result=refused"), 2),
        (format!("issuer={b_iss},result=accepted"), 1),
        ("issuer=unknown,result=refused".to_owned(), 6),
    ];
    expected.sort();
    assert_eq!(counted, expected);
}
