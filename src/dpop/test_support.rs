//! Proofs signed in tests: ES256 keys from ring, Ed25519 keys from ed25519-dalek.

use base64ct::{Base64UrlUnpadded, Encoding as _};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

/// A key that signs test proofs.
pub(crate) enum TestKey {
    Es256(EcdsaKeyPair),
    Ed25519(ed25519_dalek::SigningKey),
}

impl TestKey {
    pub(crate) fn es256() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        TestKey::Es256(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap(),
        )
    }

    pub(crate) fn ed25519() -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).unwrap();
        TestKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The public JWK.
    pub(crate) fn jwk(&self) -> Value {
        let b64 = Base64UrlUnpadded::encode_string;
        match self {
            TestKey::Es256(pair) => {
                let point = pair.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..])})
            }
            TestKey::Ed25519(key) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key.verifying_key().as_bytes())})
            }
        }
    }

    /// The algorithm name it signs with by default.
    pub(crate) fn alg(&self) -> &'static str {
        match self {
            TestKey::Es256(_) => "ES256",
            TestKey::Ed25519(_) => "EdDSA",
        }
    }

    pub(crate) fn sign(&self, input: &[u8]) -> Vec<u8> {
        match self {
            TestKey::Es256(pair) => pair
                .sign(&SystemRandom::new(), input)
                .unwrap()
                .as_ref()
                .to_vec(),
            TestKey::Ed25519(key) => {
                use ed25519_dalek::Signer as _;
                key.sign(input).to_bytes().to_vec()
            }
        }
    }
}

/// A compact JWS of exactly these header and claims texts, signed by `key`.
pub(crate) fn sign_raw(header: &str, claims: &str, key: &TestKey) -> String {
    let input = format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(header.as_bytes()),
        Base64UrlUnpadded::encode_string(claims.as_bytes())
    );
    let signature = Base64UrlUnpadded::encode_string(&key.sign(input.as_bytes()));
    format!("{input}.{signature}")
}

/// A proof with this header and these claims, signed by `key`.
pub(crate) fn sign(header: &Value, claims: &Value, key: &TestKey) -> String {
    sign_raw(&header.to_string(), &claims.to_string(), key)
}

/// The header of a well-formed proof by `key`.
pub(crate) fn header(key: &TestKey) -> Value {
    json!({"typ": "dpop+jwt", "alg": key.alg(), "jwk": key.jwk()})
}
