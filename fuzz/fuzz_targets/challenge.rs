//! Arbitrary realm, scope, description and `on_rejection` inputs through challenge building and
//! gRPC encoding: the challenge always parses back as a valid `WWW-Authenticate: Bearer` value,
//! and `grpc-message` always percent-decodes to the message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_bearer::{InsufficientScope, Rejection, RejectionKind};

/// `Bearer` alone, or `Bearer` and `name="value"` pairs joined by `, `, the values free of `"`
/// and `\`, every byte visible ASCII or a space. Returns the pairs.
fn parse(challenge: &str) -> Vec<(String, String)> {
    assert!(
        challenge
            .bytes()
            .all(|b| b == b' ' || (0x21..0x7f).contains(&b)),
        "{challenge:?}"
    );
    let rest = challenge.strip_prefix("Bearer").expect("the scheme");
    if rest.is_empty() {
        return Vec::new();
    }
    let mut rest = rest.strip_prefix(' ').expect("a space after the scheme");
    let mut pairs = Vec::new();
    loop {
        let (name, after) = rest.split_once("=\"").expect("name=\"");
        assert!(!name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        let (value, after) = after.split_once('"').expect("a closing quote");
        assert!(!value.contains('\\'));
        pairs.push((name.to_owned(), value.to_owned()));
        if after.is_empty() {
            return pairs;
        }
        rest = after
            .strip_prefix(", ")
            .expect("a comma between attributes");
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("two hex digits"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{0}');
    let (realm, scope, description) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let kinds = [
        RejectionKind::MissingCredentials,
        RejectionKind::InvalidRequest,
        RejectionKind::InvalidToken,
        RejectionKind::InsufficientScope,
        RejectionKind::Unavailable,
    ];
    for kind in kinds {
        let mut rejection = Rejection::new(kind).with_realm(realm.to_owned());
        if !description.is_empty() {
            rejection = rejection.with_description(description.to_owned());
        }
        check(&rejection);
    }
    let scoped = tower_bearer::Rejection::new(RejectionKind::InsufficientScope);
    check(&scoped);
    let refusal = InsufficientScope::new(scope.to_owned()).description(description.to_owned());
    assert!(refusal
        .scope()
        .bytes()
        .all(|b| b == b' ' || (0x21..0x7f).contains(&b)));
    // Through a layer with an `on_rejection` handler that writes the rejection in its own
    // shape: the layer keeps the challenge, and the handler's body is what the client gets.
    on_rejection(realm, &refusal);
});

/// A layer over a resolver whose session fails an `authorize` check naming `scope`, with an
/// `on_rejection` handler: the 403 keeps the challenge, the handler's body and headers.
fn on_rejection(realm: &str, refusal: &InsufficientScope) {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    use tower_service::Service;

    let refused = refusal.clone();
    let resolver = tower_bearer::resolver_fn(|_: tower_bearer::BearerToken<'_>| {
        std::future::ready(Ok::<_, std::convert::Infallible>(Some(())))
    });
    let layer = tower_bearer::BearerLayer::new(resolver)
        .realm(realm)
        .authorize(move |_: &()| Err(refused.clone()))
        .on_rejection(|rejection| {
            let mut response =
                http::Response::new(bytes::Bytes::from(rejection.message().to_owned()));
            *response.status_mut() = rejection.status();
            response
        });
    #[derive(Clone)]
    struct Ok200;
    impl Service<http::Request<()>> for Ok200 {
        type Response = http::Response<()>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<http::Response<()>, Self::Error>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            std::future::ready(Ok(http::Response::new(())))
        }
    }
    let mut service = layer.build(Ok200);
    let req = http::Request::builder()
        .header("authorization", "Bearer t")
        .body(())
        .unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    let mut future = pin!(service.call(req));
    let Poll::Ready(Ok(response)) = future.as_mut().poll(&mut cx) else {
        panic!("answered at once");
    };
    assert_eq!(response.status(), 403);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("ASCII");
    let pairs = parse(challenge);
    assert!(
        pairs
            .iter()
            .any(|(n, v)| n == "error" && v == "insufficient_scope"),
        "{pairs:?}"
    );
    if !refusal.scope().is_empty() {
        let scope = pairs
            .iter()
            .find(|(n, _)| n == "scope")
            .map(|(_, v)| v.as_str());
        assert_eq!(scope, Some(refusal.scope()), "{pairs:?}");
    }
    assert_eq!(
        pairs.first().map(|(n, _)| n.as_str()),
        Some("realm"),
        "{pairs:?}"
    );
}

fn check(rejection: &Rejection) {
    match rejection.challenge() {
        None => assert_eq!(rejection.kind(), RejectionKind::Unavailable),
        Some(challenge) => {
            let pairs = parse(challenge.to_str().expect("visible ASCII"));
            if let Some(realm) = rejection.realm() {
                assert_eq!(pairs.first(), Some(&("realm".to_owned(), realm.to_owned())));
            }
        }
    }
    let grpc = rejection.to_grpc_response();
    let message = grpc.headers()["grpc-message"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert_eq!(percent_decode(&message), rejection.message().as_bytes());
    let http = rejection.to_response();
    assert_eq!(http.status(), rejection.status());
}
