//! The keys and tokens: one key per algorithm, signed for in setup (ed25519-dalek for EdDSA,
//! ring for the rest), 64 tokens each with its own `sub`, and the public key in the form each
//! verifier takes it: a JWK for tower-bearer, a PEM for jwt-authorizer, JWK components for
//! jsonwebtoken, raw bytes or DER for the bare primitives.

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self as rs, KeyPair};
use serde_json::{json, Value};

pub const ISS: &str = "https://issuer.bench";
pub const AUD: &str = "https://api.bench";
pub const TOKENS: usize = 64;

/// A 2048-bit RSA key made for the benchmarks alone (`openssl genpkey`; benches/jwt.rs's).
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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Alg {
    EdDSA,
    ES256,
    RS256,
    PS256,
}

pub const ALGS: [Alg; 4] = [Alg::EdDSA, Alg::ES256, Alg::RS256, Alg::PS256];

/// The public key's own bytes.
pub enum Public {
    Ed25519([u8; 32]),
    /// The uncompressed SEC1 point.
    P256(Vec<u8>),
    /// Minimal big-endian modulus and exponent, and the PKCS#1 `RSAPublicKey` DER.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
        der: Vec<u8>,
    },
}

pub struct Fixture {
    pub alg: Alg,
    pub tokens: Vec<String>,
    pub public: Public,
    /// tower-bearer's key.
    pub jwk: Value,
    /// jwt-authorizer's key (SPKI, or PKCS#1 for RSA).
    pub pem: String,
    /// jsonwebtoken's key, from the JWK's components.
    pub decoding: jsonwebtoken::DecodingKey,
}

/// A signing input's signature.
type Sign = Box<dyn Fn(&[u8]) -> Vec<u8>>;

pub fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = Base64::encode_string(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The signing input and the decoded signature of a token.
pub fn split(token: &str) -> (Vec<u8>, Vec<u8>) {
    let (input, sig) = token.rsplit_once('.').unwrap();
    (
        input.as_bytes().to_vec(),
        Base64UrlUnpadded::decode_vec(sig).unwrap(),
    )
}

impl Fixture {
    /// The algorithm's 64 tokens, padded with a `pad` claim to about `len` bytes when given.
    pub fn new(alg: Alg, len: Option<usize>) -> Fixture {
        let rng = SystemRandom::new();
        let name = format!("{alg:?}");
        let sign: Sign;
        let (public, jwk, pem, decoding);
        match alg {
            Alg::EdDSA => {
                // JWT_SEED: the same key in every run, for callgrind's runs to be compared
                // (ed25519-dalek's verify takes a time of its own for each signature).
                let mut seed = [0u8; 32];
                match std::env::var("JWT_SEED") {
                    Ok(s) => seed[..8].copy_from_slice(&s.parse::<u64>().unwrap().to_le_bytes()),
                    Err(_) => rng.fill(&mut seed).unwrap(),
                }
                let key = ed25519_dalek::SigningKey::from_bytes(&seed);
                let x = key.verifying_key().to_bytes();
                jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&x)});
                pem = self::pem(
                    "PUBLIC KEY",
                    &[&hex("302a300506032b6570032100")[..], &x].concat(),
                );
                decoding = jsonwebtoken::DecodingKey::from_ed_components(&b64(&x)).unwrap();
                public = Public::Ed25519(x);
                sign = Box::new(move |m| ed25519_dalek::Signer::sign(&key, m).to_bytes().to_vec());
            }
            Alg::ES256 => {
                let alg = &rs::ECDSA_P256_SHA256_FIXED_SIGNING;
                let pkcs8 = rs::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
                let key = rs::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
                let point = key.public_key().as_ref().to_vec();
                let (x, y) = (b64(&point[1..33]), b64(&point[33..]));
                jwk = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y});
                let spki = hex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
                pem = self::pem("PUBLIC KEY", &[&spki[..], &point].concat());
                decoding = jsonwebtoken::DecodingKey::from_ec_components(&x, &y).unwrap();
                public = Public::P256(point);
                sign = Box::new(move |m| key.sign(&rng, m).unwrap().as_ref().to_vec());
            }
            Alg::RS256 | Alg::PS256 => {
                let body: String = RSA_PEM
                    .lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect();
                let key = rs::RsaKeyPair::from_pkcs8(&Base64::decode_vec(&body).unwrap()).unwrap();
                let parts = rs::RsaPublicKeyComponents::<Vec<u8>>::from(key.public());
                let der = key.public().as_ref().to_vec();
                jwk = json!({"kty": "RSA", "n": b64(&parts.n), "e": b64(&parts.e)});
                pem = self::pem("RSA PUBLIC KEY", &der);
                decoding =
                    jsonwebtoken::DecodingKey::from_rsa_components(&b64(&parts.n), &b64(&parts.e))
                        .unwrap();
                public = Public::Rsa {
                    n: parts.n,
                    e: parts.e,
                    der,
                };
                let padding: &'static dyn rs::RsaEncoding = match alg {
                    Alg::RS256 => &rs::RSA_PKCS1_SHA256,
                    _ => &rs::RSA_PSS_SHA256,
                };
                sign = Box::new(move |m| {
                    let mut sig = vec![0; key.public().modulus_len()];
                    key.sign(padding, &rng, m, &mut sig).unwrap();
                    sig
                });
            }
        }
        let mut jwk = jwk;
        jwk["kid"] = json!("k");
        jwk["alg"] = json!(name);
        let header = b64(json!({"alg": name, "typ": "JWT", "kid": "k"})
            .to_string()
            .as_bytes());
        let sig_len = b64(&sign(b"length")).len();
        let tokens = (0..TOKENS)
            .map(|i| {
                let mut claims = json!({"sub": format!("user-{i}"), "iss": ISS, "aud": AUD,
                    "iat": 1_700_000_000, "exp": 4_102_444_800u64});
                let unpadded =
                    header.len() + 2 + b64(claims.to_string().as_bytes()).len() + sig_len;
                if let Some(len) = len.filter(|&len| len > unpadded + 16) {
                    // `,"pad":""` is 9 bytes of JSON; a byte of JSON is 4/3 of base64.
                    claims["pad"] = json!("p".repeat((len - unpadded) * 3 / 4 - 9));
                }
                let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
                let signature = sign(input.as_bytes());
                format!("{input}.{}", b64(&signature))
            })
            .collect();
        Fixture {
            alg,
            tokens,
            public,
            jwk,
            pem,
            decoding,
        }
    }

    /// The shortest and longest token, in bytes.
    pub fn lengths(&self) -> (usize, usize) {
        let lens = self.tokens.iter().map(String::len);
        (lens.clone().min().unwrap(), lens.max().unwrap())
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
