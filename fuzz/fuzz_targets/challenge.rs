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
});

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
