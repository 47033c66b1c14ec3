//! DPoP proofs made by hand for the server's tests, good and bad: an ES256 key from ring, its
//! JWK and thumbprint, and proofs whose header and claims a test may change at will.

use std::time::{SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding as _};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

pub fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A client's ES256 DPoP key.
pub struct ProofKey(EcdsaKeyPair);

impl ProofKey {
    pub fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        ProofKey(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap(),
        )
    }

    pub fn jwk(&self) -> Value {
        let point = self.0.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..])})
    }

    pub fn thumbprint(&self) -> String {
        tower_bearer::dpop::jwk_thumbprint(&self.jwk()).unwrap()
    }

    /// The usual header: `dpop+jwt`, ES256, the public JWK.
    pub fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()})
    }

    /// The usual claims for `method` on `uri` with `token`.
    pub fn claims(&self, method: &str, uri: &str, token: &str) -> Value {
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).unwrap();
        json!({
            "jti": b64(&jti), "htm": method, "htu": uri, "iat": now(),
            "ath": tower_bearer::dpop::access_token_hash(token),
        })
    }

    /// A compact JWS of `header` and `claims`, signed by this key.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self.0.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", b64(sig.as_ref()))
    }

    /// A good proof for `method` on `uri` with `token`.
    pub fn proof(&self, method: &str, uri: &str, token: &str) -> String {
        self.sign(&self.header(), &self.claims(method, uri, token))
    }
}

/// An HS256 access token for `sub`, bound to `jkt` when given, under `secret`.
pub fn access_token(secret: &[u8], sub: &str, jkt: Option<&str>) -> String {
    use hmac::{Hmac, Mac};
    let header = b64(br#"{"alg":"HS256","typ":"at+jwt"}"#);
    let mut claims = json!({"sub": sub, "exp": now() + 600, "aud": "https://api.example"});
    if let Some(jkt) = jkt {
        claims["cnf"] = json!({ "jkt": jkt });
    }
    let payload = b64(claims.to_string().as_bytes());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    format!("{header}.{payload}.{}", b64(&mac.finalize().into_bytes()))
}
