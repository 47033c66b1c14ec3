//! JwtResolver against an independent JOSE implementation (panva's `jose`, in Node): every
//! algorithm, every refusal; and the JWKS cache against a local JWKS server that counts its
//! fetches and can fail, hang or be down.
#![cfg(feature = "jwt")]

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::Value;
use support::jose::{first_valid, jose, resolve, token};
use tower::{service_fn, ServiceBuilder};
use tower_bearer::oauth::{Claims, JwksSettings, JwtResolver, KeySet};
use tower_bearer::{BearerLayer, BearerToken, SessionResolver};

#[tokio::test]
async fn every_algorithm_and_every_refusal_as_jose_writes_them() {
    let doc = jose("kid-", &[]);
    let jwks = serde_json::to_vec(&doc["jwks"]).unwrap();
    let keys = KeySet::from_jwks(&jwks).unwrap();
    assert_eq!(keys.keys().len(), 10, "every published key is usable");
    let resolver: JwtResolver = JwtResolver::builder()
        .issuer(doc["issuer"].as_str().unwrap())
        .audience(doc["audience"].as_str().unwrap())
        .keys(keys)
        .unwrap();
    let mut matrix = std::collections::BTreeMap::<String, (u32, u32)>::new();
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let found = resolve(&resolver, token(case)).await;
        let accept = case["accept"].as_bool().unwrap();
        assert_eq!(found.is_some(), accept, "{name}");
        if let Some(claims) = found {
            assert_eq!(claims.sub.as_deref(), case["sub"].as_str(), "{name}");
            assert_eq!(claims.scopes, ["read", "write"]);
            // Again: from the verified-token cache, the same answer.
            assert!(resolver
                .resolve_ready(token(case))
                .unwrap()
                .unwrap()
                .is_some());
        }
        let entry = matrix
            .entry(case["alg"].as_str().unwrap().to_owned())
            .or_default();
        if accept {
            entry.0 += 1
        } else {
            entry.1 += 1
        }
    }
    eprintln!("(algorithm: accepted, refused) {matrix:?}");
}

/// Through the layer on a real socket: 200 with the claims for a valid token, 401 with
/// `error="invalid_token"` for a refused one.
#[tokio::test]
async fn through_the_layer_valid_is_200_and_refused_is_401() {
    let doc = jose("kid-", &["ES256"]);
    let keys = KeySet::from_jwks(&serde_json::to_vec(&doc["jwks"]).unwrap()).unwrap();
    let resolver: JwtResolver = JwtResolver::builder()
        .issuer(doc["issuer"].as_str().unwrap())
        .audience(doc["audience"].as_str().unwrap())
        .keys(keys)
        .unwrap();
    let svc = ServiceBuilder::new()
        .layer(BearerLayer::new(resolver))
        .service(service_fn(|req: Request<Incoming>| async move {
            let claims = req.extensions().get::<Arc<Claims>>().unwrap();
            let body = claims.sub.clone().unwrap_or_default();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
        }));
    let addr = support::serve(svc).await;
    // The resolver knows only b64tokens, so the layer checks a token's characters only when
    // it is refused: a JWT with a character outside RFC 6750's grammar is still 400.
    let good = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["accept"] == true)
        .unwrap()["token"]
        .as_str()
        .unwrap();
    for bad in [
        format!("{good}!"),
        format!("!{good}"),
        good.replacen('.', "%", 1),
    ] {
        let auth = format!("authorization: Bearer {bad}");
        assert_eq!(
            support::get(addr, "/", &[auth.as_bytes()]).await.status,
            400
        );
    }
    for case in doc["cases"].as_array().unwrap() {
        let auth = format!("authorization: Bearer {}", case["token"].as_str().unwrap());
        let res = support::get(addr, "/", &[auth.as_bytes()]).await;
        if case["accept"].as_bool().unwrap() {
            assert_eq!(res.status, 200, "{}", case["name"]);
            assert_eq!(res.body_str(), case["sub"].as_str().unwrap());
        } else if case["token"].as_str().unwrap().contains('=') {
            // Outside RFC 6750's grammar before it reaches the resolver.
            assert_eq!(res.status, 400, "{}", case["name"]);
        } else {
            assert_eq!(res.status, 401, "{}", case["name"]);
            assert!(res
                .header("www-authenticate")
                .unwrap()
                .contains(r#"error="invalid_token""#));
        }
    }
}

/// What the local JWKS server does.
#[derive(Clone)]
enum Jwks {
    Serve(Value),
    Fail,
    Hang,
}

struct JwksServer {
    addr: std::net::SocketAddr,
    mode: Arc<Mutex<Jwks>>,
    fetches: Arc<AtomicUsize>,
    /// The `issuer` its OpenID configuration names, when not itself.
    issuer: Arc<Mutex<Option<String>>>,
}

impl JwksServer {
    async fn start(mode: Jwks) -> JwksServer {
        let (mode, fetches) = (Arc::new(Mutex::new(mode)), Arc::new(AtomicUsize::new(0)));
        let issuer = Arc::new(Mutex::new(None::<String>));
        let (m, f, i) = (mode.clone(), fetches.clone(), issuer.clone());
        let svc = service_fn(move |req: Request<Incoming>| {
            let (m, f, i) = (m.clone(), f.clone(), i.clone());
            async move {
                if req.uri().path() == "/.well-known/openid-configuration" {
                    let host = req.headers()["host"].to_str().unwrap().to_owned();
                    let named = i.lock().unwrap().clone();
                    let issuer = named.unwrap_or_else(|| format!("http://{host}"));
                    let doc = serde_json::json!({
                        "issuer": issuer,
                        "jwks_uri": format!("http://{host}/jwks"),
                    });
                    return Ok(Response::new(Full::new(Bytes::from(doc.to_string()))));
                }
                f.fetch_add(1, Ordering::SeqCst);
                let mode = m.lock().unwrap().clone();
                let response = match mode {
                    Jwks::Serve(doc) => Response::new(Full::new(Bytes::from(doc.to_string()))),
                    Jwks::Fail => {
                        let mut r = Response::new(Full::new(Bytes::new()));
                        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                        r
                    }
                    Jwks::Hang => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        Response::new(Full::new(Bytes::new()))
                    }
                };
                Ok::<_, Infallible>(response)
            }
        });
        JwksServer {
            addr: support::serve(svc).await,
            mode,
            fetches,
            issuer,
        }
    }

    fn set(&self, mode: Jwks) {
        *self.mode.lock().unwrap() = mode;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn resolver(&self, settings: JwksSettings) -> JwtResolver {
        JwtResolver::builder()
            .any_audience()
            .jwks_settings(settings)
            .jwks_url(&format!("http://{}/jwks", self.addr))
            .unwrap()
    }
}

/// A token whose header names `kid` and whose signature is garbage: enough to ask the cache
/// for a key.
fn with_kid(kid: &str) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let header =
        Base64UrlUnpadded::encode_string(format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#).as_bytes());
    format!("{header}.e30.c2ln")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_accepted_on_its_first_request_and_concurrent_requests_share_one_fetch() {
    let (a, b) = (jose("a-", &["ES256"]), jose("b-", &["ES256"]));
    let server = JwksServer::start(Jwks::Serve(a["jwks"].clone())).await;
    let resolver = server.resolver(JwksSettings::default().cooldown(Duration::from_secs(1)));
    assert_eq!(server.fetches(), 0, "nothing fetched at start-up");
    assert!(resolve(&resolver, first_valid(&a)).await.is_some());
    assert_eq!(server.fetches(), 1);
    // Rotation: both keys published; B's first token is accepted at once, after the cooldown.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let both = serde_json::json!({ "keys": [a["jwks"]["keys"][0], b["jwks"]["keys"][0]] });
    server.set(Jwks::Serve(both));
    let started = Instant::now();
    let b_token = b["cases"][0]["token"].as_str().unwrap().to_owned();
    let concurrent: Vec<_> = (0..50)
        .map(|_| {
            let (resolver, t) = (resolver.clone(), b_token.clone());
            tokio::spawn(async move { resolver.resolve(BearerToken::new(&t)).await.unwrap() })
        })
        .collect();
    for task in concurrent {
        assert!(
            task.await.unwrap().is_some(),
            "B accepted on its first request"
        );
    }
    eprintln!("rotated key accepted after {:?}", started.elapsed());
    assert_eq!(server.fetches(), 2, "fifty requests, one fetch");
    // A's tokens still verify, from the cache.
    assert!(resolve(&resolver, first_valid(&a)).await.is_some());
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn a_flood_of_made_up_kids_costs_one_fetch_per_cooldown() {
    let a = jose("a-", &["ES256"]);
    let server = JwksServer::start(Jwks::Serve(a["jwks"].clone())).await;
    let resolver = server.resolver(JwksSettings::default().cooldown(Duration::from_secs(1)));
    let started = Instant::now();
    let mut refused = 0;
    while started.elapsed() < Duration::from_millis(2_500) {
        let t = with_kid(&format!("made-up-{refused}"));
        if resolver
            .resolve(BearerToken::new(&t))
            .await
            .unwrap()
            .is_none()
        {
            refused += 1;
        }
    }
    let fetches = server.fetches();
    eprintln!("{refused} made-up kids in 2.5 s: {fetches} fetches");
    assert!(refused > 100);
    assert!((2..=4).contains(&fetches), "{fetches} fetches");
    // A real token is unaffected.
    assert!(resolve(&resolver, first_valid(&a)).await.is_some());
}

#[tokio::test]
async fn an_unreachable_jwks_is_503_never_401_and_cached_keys_decide_on_their_own() {
    let a = jose("a-", &["ES256"]);
    // Down at start-up: the resolver is made, tokens are 503 (errors), then 200 once it is up.
    let server = JwksServer::start(Jwks::Fail).await;
    let settings = JwksSettings::default()
        .cooldown(Duration::from_secs(1))
        .timeout(Duration::from_millis(300));
    let resolver = server.resolver(settings);
    assert!(resolver.resolve(first_valid(&a)).await.is_err());
    // Within the cooldown after a failed fetch: still an error, not a 401, and no new fetch.
    assert!(resolver
        .resolve(BearerToken::new(&with_kid("x")))
        .await
        .is_err());
    assert_eq!(server.fetches(), 1);
    server.set(Jwks::Serve(a["jwks"].clone()));
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert!(
        resolve(&resolver, first_valid(&a)).await.is_some(),
        "200 without a restart"
    );

    // The JWKS fails, or hangs: a cached kid is verified at once; an unknown kid is an error.
    for mode in [Jwks::Fail, Jwks::Hang] {
        server.set(mode);
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let started = Instant::now();
        let unknown = resolver
            .resolve(BearerToken::new(&with_kid("rotated?")))
            .await;
        assert!(unknown.is_err(), "cannot be decided: 503");
        let known = resolver.resolve_ready(first_valid(&a)).unwrap().unwrap();
        assert!(known.is_some(), "a cached kid decides on its own");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    // Never reachable at all: a port with nothing behind it.
    let nowhere = JwtResolver::<serde_json::Map<String, Value>>::builder()
        .any_audience()
        .jwks_url(&format!(
            "http://127.0.0.1:{}/jwks",
            support::redis::free_port()
        ))
        .unwrap();
    assert!(nowhere.resolve(first_valid(&a)).await.is_err());
}

/// Scopes feed the 403 path: a layer-wide requirement and a per-route one.
#[tokio::test]
async fn scopes_refuse_with_403_insufficient_scope() {
    use tower_bearer::RequireSessionLayer;
    let doc = jose("kid-", &["ES256"]);
    let keys = KeySet::from_jwks(&serde_json::to_vec(&doc["jwks"]).unwrap()).unwrap();
    let resolver: JwtResolver = JwtResolver::builder().any_audience().keys(keys).unwrap();
    let svc = ServiceBuilder::new()
        .layer(
            BearerLayer::new(resolver)
                .authorize(|claims: &Arc<Claims>| claims.require_scopes(&["read"])),
        )
        .layer(RequireSessionLayer::new(|claims: &Arc<Claims>| {
            claims.require_scopes(&["read", "admin"])
        }))
        .service(service_fn(|_: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }));
    let addr = support::serve(svc).await;
    let auth = format!(
        "authorization: Bearer {}",
        doc["cases"][0]["token"].as_str().unwrap()
    );
    let res = support::get(addr, "/", &[auth.as_bytes()]).await;
    assert_eq!(res.status, 403);
    assert_eq!(
        res.header("www-authenticate"),
        Some(
            r#"Bearer error="insufficient_scope", error_description="insufficient scope", scope="read admin""#
        )
    );
}

/// OpenID Connect discovery: the JWKS is found through `jwks_uri`, and a configuration whose
/// `issuer` is not the one asked for is refused (503: the keys cannot be trusted).
#[tokio::test]
async fn discovery_finds_the_jwks_and_checks_the_issuer() {
    let a = jose("a-", &["ES256"]);
    let server = JwksServer::start(Jwks::Serve(a["jwks"].clone())).await;
    let issuer = format!("http://{}", server.addr);
    let resolver: JwtResolver = JwtResolver::builder()
        .any_audience()
        // The jose tokens' own issuer; discovery still checks the document's.
        .issuer("https://issuer.test")
        .issuer_url(&issuer)
        .unwrap();
    assert!(resolve(&resolver, first_valid(&a)).await.is_some());
    assert_eq!(server.fetches(), 1);

    // A document that names another issuer: its keys are not trusted.
    *server.issuer.lock().unwrap() = Some("https://evil.test".into());
    let wrong: JwtResolver = JwtResolver::builder()
        .any_audience()
        .issuer("https://issuer.test")
        .issuer_url(&issuer)
        .unwrap();
    assert!(wrong.resolve(first_valid(&a)).await.is_err());
    assert_eq!(
        server.fetches(),
        1,
        "no JWKS fetched for a mismatched issuer"
    );
}

/// Refresh ahead of expiry: in the last fifth of the keys' freshness a request is still
/// decided at once by the keys at hand, and a background fetch renews them, so no request
/// waits on a routine refetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_refreshed_in_the_background_before_they_expire() {
    let a = jose("a-", &["ES256"]);
    let server = JwksServer::start(Jwks::Serve(a["jwks"].clone())).await;
    let resolver = server.resolver(
        JwksSettings::default()
            .ttl(Duration::from_secs(2))
            .cooldown(Duration::from_secs(1)),
    );
    assert!(resolve(&resolver, first_valid(&a)).await.is_some());
    assert_eq!(server.fetches(), 1);
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    // Another token (the first is in the verified-token cache): decided at once, from the
    // keys at hand, while a refresh starts behind it.
    let at_once = resolver
        .resolve_ready(token(&a["cases"][1]))
        .expect("no wait");
    assert!(at_once.unwrap().is_some());
    let started = Instant::now();
    while server.fetches() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "no background refresh"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// HMAC only with a secret the service configures: accepted with it, refused under another
/// secret, and never against public keys (covered by the jose cases).
#[tokio::test]
async fn hs256_with_a_configured_secret() {
    use base64ct::{Base64UrlUnpadded, Encoding};
    use hmac::{Hmac, Mac};
    use tower_bearer::oauth::{Algorithm, Key};

    let sign = |secret: &[u8]| {
        let header = Base64UrlUnpadded::encode_string(br#"{"alg":"HS256"}"#);
        let payload = Base64UrlUnpadded::encode_string(br#"{"sub":"svc","exp":4102444800}"#);
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{header}.{payload}").as_bytes());
        let sig = Base64UrlUnpadded::encode_string(&mac.finalize().into_bytes());
        format!("{header}.{payload}.{sig}")
    };
    let secret = b"a-shared-secret-of-32-bytes-or-more!";
    let key = Key::hmac(secret, Algorithm::HS256, None).unwrap();
    let resolver: JwtResolver = JwtResolver::builder()
        .any_audience()
        .keys(KeySet::new([key]))
        .unwrap();
    let good = sign(secret);
    let claims = resolve(&resolver, BearerToken::new(&good)).await.unwrap();
    assert_eq!(claims.sub.as_deref(), Some("svc"));
    let other = sign(b"another-secret-of-32-bytes-or-more!!");
    assert!(resolve(&resolver, BearerToken::new(&other)).await.is_none());

    // The verified-token cache is keyed by the signature: the genuine token's signature under
    // another header or payload finds the entry, and is refused, every time.
    let (_, sig) = good.rsplit_once('.').unwrap();
    let header = Base64UrlUnpadded::encode_string(br#"{"alg":"HS256"}"#);
    let admin = Base64UrlUnpadded::encode_string(br#"{"sub":"admin","exp":4102444800}"#);
    let swapped_payload = format!("{header}.{admin}.{sig}");
    let (signed, _) = good.rsplit_once('.').unwrap();
    let (_, payload) = signed.split_once('.').unwrap();
    let other_header = Base64UrlUnpadded::encode_string(br#"{"alg":"HS256","kid":"x"}"#);
    let swapped_header = format!("{other_header}.{payload}.{sig}");
    for _ in 0..2 {
        assert!(resolver
            .resolve_ready(BearerToken::new(&good))
            .unwrap()
            .unwrap()
            .is_some());
        for forged in [&swapped_payload, &swapped_header] {
            let answer = resolver
                .resolve_ready(BearerToken::new(forged))
                .unwrap()
                .unwrap();
            assert!(
                answer.is_none(),
                "a swapped header or payload never hits the cache"
            );
        }
    }
}

/// axum's `Authorized<T, P>` with a scope requirement over the claims: 200 with the scope,
/// 403 `insufficient_scope` without.
#[cfg(feature = "axum")]
#[tokio::test]
async fn axum_authorized_checks_scopes() {
    use tower_bearer::integrations::axum::{Authorized, Requirement};
    use tower_bearer::InsufficientScope;

    struct Read;
    impl Requirement<Arc<Claims>> for Read {
        fn check(claims: &Arc<Claims>) -> Result<(), InsufficientScope> {
            claims.require_scopes(&["read"])
        }
    }
    struct Admin;
    impl Requirement<Arc<Claims>> for Admin {
        fn check(claims: &Arc<Claims>) -> Result<(), InsufficientScope> {
            claims.require_scopes(&["admin"])
        }
    }
    async fn read(Authorized(claims, _): Authorized<Arc<Claims>, Read>) -> String {
        claims.sub.clone().unwrap_or_default()
    }
    async fn admin(Authorized(_, _): Authorized<Arc<Claims>, Admin>) -> &'static str {
        "admin"
    }
    let doc = jose("kid-", &["ES256"]);
    let keys = KeySet::from_jwks(&serde_json::to_vec(&doc["jwks"]).unwrap()).unwrap();
    let resolver: JwtResolver = JwtResolver::builder().any_audience().keys(keys).unwrap();
    let app = axum::Router::new()
        .route("/read", axum::routing::get(read))
        .route("/admin", axum::routing::get(admin))
        .layer(BearerLayer::new(resolver));
    let addr = support::serve(app).await;
    let auth = format!(
        "authorization: Bearer {}",
        doc["cases"][0]["token"].as_str().unwrap()
    );
    let res = support::get(addr, "/read", &[auth.as_bytes()]).await;
    assert_eq!((res.status, res.body_str()), (200, "user-ES256"));
    let res = support::get(addr, "/admin", &[auth.as_bytes()]).await;
    assert_eq!(res.status, 403);
    assert!(res
        .header("www-authenticate")
        .unwrap()
        .contains(r#"scope="admin""#));
}

#[cfg(feature = "metrics")]
#[tokio::test]
async fn jwks_fetches_are_counted_by_cause_and_result() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // This test's runtime runs on this thread alone, background refreshes included.
    let _recording = metrics::set_default_local_recorder(&recorder);

    let a = jose("m-", &["ES256"]);
    let server = JwksServer::start(Jwks::Serve(a["jwks"].clone())).await;
    let resolver = server.resolver(JwksSettings::default().cooldown(Duration::from_secs(1)));
    assert!(resolve(&resolver, first_valid(&a)).await.is_some());
    // Past the cooldown (at least a second), an unknown `kid` may fetch again.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let unknown = with_kid("not-in-the-set");
    assert!(resolver
        .resolve(BearerToken::new(&unknown))
        .await
        .unwrap()
        .is_none());

    let counted: Vec<(String, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let key = key.key().clone();
            let DebugValue::Counter(n) = value else {
                return None;
            };
            (key.name() == "tower_bearer.jwks.fetches").then(|| {
                let labels: Vec<String> = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                (labels.join(","), n)
            })
        })
        .collect();
    let get = |labels: &str| {
        counted
            .iter()
            .find(|(l, _)| l == labels)
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(get("cause=initial,result=ok"), 1, "{counted:?}");
    assert_eq!(get("cause=unknown_kid,result=ok"), 1, "{counted:?}");
    let total: u64 = counted.iter().map(|(_, n)| n).sum();
    assert_eq!(
        total as usize,
        server.fetches(),
        "every fetch the server saw, once"
    );
}

/// Keys the backend cannot verify with are refused when the JWKS is read, each logged with
/// its kid and the reason, and the set keeps the rest: a 2041-bit RSA modulus (256 bytes, but
/// under 2048 bits), an even one, a P-256 point off the curve, an Ed25519 `x` of 31 bytes.
#[test]
fn keys_the_backend_refuses_are_refused_when_the_jwks_is_read_and_logged() {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let b64 = |bytes: &[u8]| Base64UrlUnpadded::encode_string(bytes);
    let mut short = [0xffu8; 256];
    short[0] = 0x01;
    let mut even = [0xffu8; 256];
    even[255] = 0xfe;
    let jwks = serde_json::json!({"keys": [
        {"kty": "RSA", "kid": "short", "e": "AQAB", "n": b64(&short)},
        {"kty": "RSA", "kid": "even", "e": "AQAB", "n": b64(&even)},
        {"kty": "EC", "crv": "P-256", "kid": "off-curve", "x": b64(&[1; 32]), "y": b64(&[1; 32])},
        {"kty": "OKP", "crv": "Ed25519", "kid": "stub", "x": b64(&[1; 31])},
        {"kty": "OKP", "crv": "Ed25519", "kid": "good", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
    ]});
    let (logs, _guard) = support::Logs::capture();
    let keys = KeySet::from_jwks(&serde_json::to_vec(&jwks).unwrap()).unwrap();
    let kids: Vec<_> = keys.keys().iter().filter_map(|k| k.kid()).collect();
    assert_eq!(kids, ["good"]);
    let text = logs.text();
    for (kid, why) in [
        ("short", "2041 bits"),
        ("even", "even RSA modulus"),
        ("off-curve", "not a point on P-256"),
        ("stub", "not 32 bytes"),
    ] {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("kid=\"{kid}\"")) || l.contains(&format!("kid={kid}")))
            .unwrap_or_else(|| panic!("no log line for {kid}: {text}"));
        assert!(line.contains("WARN") && line.contains(why), "{line}");
    }
}
