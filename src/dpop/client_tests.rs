//! [`AddDpop`]'s tests: the headers it sends, the nonces it learns, the one retry, and the
//! `WWW-Authenticate` reading behind it.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::HeaderMap;
use tower::{service_fn, ServiceExt as _};

use super::*;
use crate::dpop::{check_proof, ProofRequest, ProofSettings, VerifiedProof};

const TOKEN: &str = "the-access-token";

type Seen = Arc<Mutex<Vec<HeaderMap>>>;

/// A server that records each request's headers and gives the `n`th (from 0) `answer(n)`.
fn server(
    answer: fn(usize) -> Response<()>,
) -> (
    impl Service<Request<()>, Response = Response<()>, Error = Infallible> + Clone,
    Seen,
) {
    let seen = Seen::default();
    let count = Arc::new(AtomicUsize::new(0));
    let recorded = seen.clone();
    let svc = service_fn(move |req: Request<()>| {
        recorded.lock().unwrap().push(req.headers().clone());
        let n = count.fetch_add(1, Ordering::SeqCst);
        async move { Ok::<_, Infallible>(answer(n)) }
    });
    (svc, seen)
}

fn ok() -> Response<()> {
    Response::new(())
}

fn with_nonce(status: StatusCode, nonce: &str, challenge: Option<&str>) -> Response<()> {
    let mut response = Response::builder().status(status).header(DPOP_NONCE, nonce);
    if let Some(challenge) = challenge {
        response = response.header(WWW_AUTHENTICATE, challenge);
    }
    response.body(()).unwrap()
}

fn use_nonce(nonce: &str) -> Response<()> {
    let challenge = r#"DPoP error="use_dpop_nonce", error_description="x", algs="ES256""#;
    with_nonce(StatusCode::UNAUTHORIZED, nonce, Some(challenge))
}

fn layer() -> (DpopClientLayer, SharedToken) {
    let token = SharedToken::new();
    token.set(TOKEN).unwrap();
    let layer = DpopClientLayer::new(DpopKey::generate_es256(), token.clone());
    (layer, token)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The proof of a recorded request, checked as the server would for `uri`.
fn verify(headers: &HeaderMap, method: &str, uri: &str) -> VerifiedProof {
    let proof = headers[DPOP].to_str().unwrap();
    let request = ProofRequest {
        method,
        uri,
        access_token: Some(TOKEN),
        now: now(),
    };
    check_proof(proof, &request, &ProofSettings::new()).unwrap()
}

fn get(uri: &str) -> Request<()> {
    Request::get(uri).body(()).unwrap()
}

#[tokio::test]
async fn sends_the_token_as_dpop_with_a_fresh_proof() {
    let (svc, seen) = server(|_| ok());
    let (layer, _token) = layer();
    let key = layer.key().clone();
    let client = layer.layer(svc);
    for _ in 0..2 {
        let request = Request::post("https://user:pw@API.example:443/v1/things?q=1#f")
            .body(())
            .unwrap();
        let response = client.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    let mut jtis = Vec::new();
    for headers in seen.iter() {
        let authorization = &headers[AUTHORIZATION];
        assert_eq!(authorization, &format!("DPoP {TOKEN}"));
        assert!(authorization.is_sensitive());
        assert!(headers[DPOP].is_sensitive());
        let proof = verify(headers, "POST", "https://api.example/v1/things");
        assert_eq!(proof.jkt, key.thumbprint());
        assert_eq!(proof.nonce, None);
        jtis.push(proof.jti);
    }
    assert_ne!(jtis[0], jtis[1], "a fresh proof for every request");
}

#[tokio::test]
async fn retries_once_with_the_nonce_then_sends_it_at_once() {
    let (svc, seen) = server(|n| if n == 0 { use_nonce("n-1") } else { ok() });
    let (layer, _token) = layer();
    let client = layer.layer(svc);
    let response = client.clone().oneshot(get("https://api.example/a")).await;
    assert_eq!(response.unwrap().status(), StatusCode::OK);
    // A clone of the service, and another service of the same layer, know the nonce.
    let response = client.oneshot(get("https://api.example/b")).await;
    assert_eq!(response.unwrap().status(), StatusCode::OK);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    let nonces: Vec<_> = [("/a", 0), ("/a", 1), ("/b", 2)]
        .iter()
        .map(|(path, i)| {
            let uri = format!("https://api.example{path}");
            verify(&seen[*i], "GET", &uri).nonce
        })
        .collect();
    assert_eq!(nonces, [None, Some("n-1".into()), Some("n-1".into())]);
    assert_ne!(seen[0][DPOP], seen[1][DPOP]);
}

#[tokio::test]
async fn never_retries_twice() {
    // A new nonce every time: one retry, and the caller gets the second 401.
    let (svc, seen) = server(|n| use_nonce(&format!("n-{n}")));
    let (layer, _token) = layer();
    let response = layer.layer(svc).oneshot(get("https://api.example/")).await;
    assert_eq!(response.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn no_retry_without_a_new_nonce_or_the_dpop_challenge() {
    for answer in [
        // No DPoP-Nonce.
        (|_| {
            let challenge = r#"DPoP error="use_dpop_nonce""#;
            Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .header(WWW_AUTHENTICATE, challenge)
                .body(())
                .unwrap()
        }) as fn(usize) -> Response<()>,
        // Another error.
        |_| {
            let challenge = r#"DPoP error="invalid_token""#;
            with_nonce(StatusCode::UNAUTHORIZED, "n-1", Some(challenge))
        },
        // The Bearer scheme's.
        |_| {
            let challenge = r#"Bearer error="use_dpop_nonce""#;
            with_nonce(StatusCode::UNAUTHORIZED, "n-1", Some(challenge))
        },
        // Not a 401.
        |_| {
            let challenge = r#"DPoP error="use_dpop_nonce""#;
            with_nonce(StatusCode::BAD_REQUEST, "n-1", Some(challenge))
        },
    ] {
        let (svc, seen) = server(answer);
        let (layer, _token) = layer();
        let response = layer.layer(svc).oneshot(get("https://api.example/")).await;
        assert_ne!(response.unwrap().status(), StatusCode::OK);
        assert_eq!(seen.lock().unwrap().len(), 1);
    }
    // The nonce the proof already carried: asked again, not retried.
    let (svc, seen) = server(|n| {
        if n == 0 {
            ok_with("n-1")
        } else {
            use_nonce("n-1")
        }
    });
    let (layer, _token) = layer();
    let client = layer.layer(svc);
    client
        .clone()
        .oneshot(get("https://api.example/"))
        .await
        .unwrap();
    let response = client.oneshot(get("https://api.example/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(seen.lock().unwrap().len(), 2);
}

fn ok_with(nonce: &str) -> Response<()> {
    with_nonce(StatusCode::OK, nonce, None)
}

#[tokio::test]
async fn nonces_are_per_origin_and_learned_from_any_answer() {
    let (svc, seen) = server(|n| match n {
        0 => ok_with("n-a"),
        2 => ok_with("bad nonce\""),
        _ => ok(),
    });
    let (layer, _token) = layer();
    let client = layer.layer(svc);
    for uri in [
        "https://a.example/",
        "https://b.example/",
        "https://A.example:443/x",
        "https://a.example/y",
    ] {
        client.clone().oneshot(get(uri)).await.unwrap();
    }
    let seen = seen.lock().unwrap();
    let proof = |i: usize, uri| verify(&seen[i], "GET", uri).nonce;
    assert_eq!(proof(0, "https://a.example/"), None);
    assert_eq!(proof(1, "https://b.example/"), None);
    assert_eq!(proof(2, "https://a.example/x").as_deref(), Some("n-a"));
    // A malformed DPoP-Nonce is ignored.
    assert_eq!(proof(3, "https://a.example/y").as_deref(), Some("n-a"));
}

#[tokio::test]
async fn no_token_or_an_own_authorization_passes_untouched() {
    let (svc, seen) = server(|_| use_nonce("n-1"));
    let token = SharedToken::new();
    let client = DpopClientLayer::new(DpopKey::generate_ed25519(), token).layer(svc);
    let response = client.clone().oneshot(get("/origin-form")).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let mut request = get("https://api.example/");
    request
        .headers_mut()
        .insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
    client.oneshot(request).await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "never retried");
    assert!(!seen[0].contains_key(AUTHORIZATION) && !seen[0].contains_key(DPOP));
    assert_eq!(seen[1][AUTHORIZATION], "Basic abc");
    assert!(!seen[1].contains_key(DPOP));
}

#[tokio::test]
async fn origin_form_needs_the_configured_origin() {
    let (svc, seen) = server(|_| ok());
    let (layer, _token) = layer();
    let error = layer
        .clone()
        .layer(svc.clone())
        .oneshot(get("/things?x=1"))
        .await
        .unwrap_err();
    assert!(error.downcast_ref::<MissingOrigin>().is_some(), "{error}");
    assert!(seen.lock().unwrap().is_empty());

    let client = layer.origin("HTTP://127.0.0.1:8080").unwrap().layer(svc);
    client.oneshot(get("/things?x=1")).await.unwrap();
    let proof = verify(
        &seen.lock().unwrap()[0],
        "GET",
        "http://127.0.0.1:8080/things",
    );
    assert_eq!(proof.htu, "http://127.0.0.1:8080/things");
    let (layer, _token) = self::layer();
    for bad in [
        "ftp://h",
        "https://h/path",
        "https://h?q",
        "https://u@h",
        "h",
    ] {
        assert!(layer.clone().origin(bad).is_err(), "{bad}");
    }
}

#[test]
fn debug_never_shows_the_token() {
    let (layer, _token) = layer();
    let shown = format!("{layer:?} {:?}", layer.clone().layer(()));
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains(layer.key().thumbprint()));
}

#[test]
fn www_authenticate_is_read_challenge_by_challenge() {
    for (value, expected) in [
        (r#"DPoP error="use_dpop_nonce""#, true),
        (
            r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#,
            true,
        ),
        (r#"dpop algs="ES256 EdDSA", error=use_dpop_nonce"#, true),
        (r#"Bearer realm="x", DPoP error = "use_dpop_nonce""#, true),
        (r#"Negotiate a/b==, DPoP error="use_dpop_nonce""#, true),
        (r#"DPoP error="use_dpop_nonc\e""#, true),
        (r#"Bearer error="use_dpop_nonce""#, false),
        (r#"DPoP error="use_dpop_nonce", Bearer"#, true),
        (r#"DPoP algs="ES256", Bearer error="use_dpop_nonce""#, false),
        (r#"Bearer realm="DPoP error=\"use_dpop_nonce\"""#, false),
        (r#"DPoP error="invalid_dpop_proof""#, false),
        (r#"DPoP error_description="use_dpop_nonce""#, false),
        (r#"DPoP"#, false),
        ("", false),
        ("\u{e9}=, ==\"", false),
    ] {
        assert_eq!(says_use_dpop_nonce(value), expected, "{value}");
    }
}
