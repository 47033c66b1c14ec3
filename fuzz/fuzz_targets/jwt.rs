//! Arbitrary bearer values through `JwtResolver` over static keys (an HMAC secret, an Ed25519
//! public key, an RSA public key): the JWS parser, the key choice and every verifier see
//! attacker bytes. The oracle: exactly one token is accepted, the one the target signed itself
//! (a seed); anything else, however close, is refused, and nothing panics.
#![no_main]

use std::sync::OnceLock;

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sha2::Sha256;
use tower_bearer::oauth::{Algorithm, JwtResolver, Key, KeySet};
use tower_bearer::{BearerToken, SessionResolver};

const SECRET: &[u8] = b"fuzz-hmac-secret-of-thirty-two-bytes!";

struct Fixture {
    resolver: JwtResolver,
    valid: String,
}

/// The one valid token: `{"alg":"HS256","kid":"h"}.{"sub":"fuzz","exp":4102444800}` under
/// `SECRET` (also `seeds/jwt/valid`).
fn valid() -> String {
    let header = Base64UrlUnpadded::encode_string(br#"{"alg":"HS256","kid":"h"}"#);
    let payload = Base64UrlUnpadded::encode_string(br#"{"sub":"fuzz","exp":4102444800}"#);
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    let sig = Base64UrlUnpadded::encode_string(&mac.finalize().into_bytes());
    format!("{header}.{payload}.{sig}")
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let keys = KeySet::new([
            Key::hmac(SECRET, Algorithm::HS256, Some("h".into())).unwrap(),
            Key::from_jwk(&json!({
                "kty": "OKP", "crv": "Ed25519", "kid": "e",
                "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
            }))
            .unwrap(),
        ]);
        Fixture {
            resolver: JwtResolver::builder().any_audience().keys(keys).unwrap(),
            valid: valid(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fixture = fixture();
    let answer = fixture
        .resolver
        .resolve_ready(BearerToken::new(text))
        .expect("static keys answer at once")
        .expect("static keys never fail");
    let _ = tower_bearer::oauth::looks_like_jwt(text);
    assert_eq!(
        answer.is_some(),
        text == fixture.valid,
        "accepted a token the target did not sign, or refused the one it did"
    );
});
