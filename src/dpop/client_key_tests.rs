//! [`DpopKey`]'s tests: its proofs pass the server's own check, its JWK is public, its
//! `Debug` shows no private material.

use super::*;
use crate::dpop::{check_proof, ProofRequest, ProofSettings};
use crate::oauth::jwt::key::PRIVATE_MEMBERS;
use crate::oauth::Algorithm;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A 2048-bit RSA test key (`openssl genpkey -algorithm RSA`), PKCS#8 PEM; the benchmark
/// signs with it too.
const RSA_PEM: &str = include_str!("../../tests/fixtures/dpop_rsa2048.pem");

fn rsa_der() -> Vec<u8> {
    let (label, der) = spki::Document::from_pem(RSA_PEM).unwrap();
    assert_eq!(label, "PRIVATE KEY");
    der.as_bytes().to_vec()
}

fn rsa(alg: Algorithm) -> DpopKey {
    DpopKey::from_rsa_pkcs8_der(&rsa_der(), alg).unwrap()
}

fn keys() -> [DpopKey; 4] {
    [
        DpopKey::generate_es256(),
        DpopKey::generate_ed25519(),
        rsa(Algorithm::PS256),
        rsa(Algorithm::RS256),
    ]
}

#[test]
fn proofs_pass_the_servers_check_with_ath_and_nonce() {
    for key in keys() {
        let proof = key.proof(
            "POST",
            "https://API.example:443/v1/things?q=1#frag",
            Some("tok-en"),
            Some("n0nce"),
        );
        let request = ProofRequest {
            method: "POST",
            uri: "https://api.example/v1/things",
            access_token: Some("tok-en"),
            now: now(),
        };
        let verified = check_proof(&proof, &request, &ProofSettings::new()).unwrap();
        assert_eq!(verified.jkt, key.thumbprint());
        assert_eq!(verified.nonce.as_deref(), Some("n0nce"));
        assert_eq!(verified.htu, "https://api.example/v1/things");
        assert_eq!(verified.alg.name(), key.algorithm());
        // Another token: the ath no longer matches.
        let other = ProofRequest {
            access_token: Some("another"),
            ..request
        };
        let refused = check_proof(&proof, &other, &ProofSettings::new()).unwrap_err();
        assert_eq!(refused.why(), "ath is not the access token's hash");
    }
}

#[test]
fn without_token_or_nonce_neither_claim_is_sent() {
    for key in keys() {
        let proof = key.proof("GET", "https://as.example/token", None, None);
        let claims = proof.split('.').nth(1).unwrap();
        let claims: Value =
            serde_json::from_slice(&Base64UrlUnpadded::decode_vec(claims).unwrap()).unwrap();
        let mut names: Vec<_> = claims.as_object().unwrap().keys().cloned().collect();
        names.sort();
        assert_eq!(names, ["htm", "htu", "iat", "jti"]);
        let request = ProofRequest {
            method: "GET",
            uri: "https://as.example/token",
            access_token: None,
            now: now(),
        };
        assert!(check_proof(&proof, &request, &ProofSettings::new()).is_ok());
    }
}

#[test]
fn the_jwk_is_public_and_jtis_differ() {
    for key in keys() {
        let jwk = key.public_jwk();
        assert!(
            PRIVATE_MEMBERS.iter().all(|m| jwk.get(m).is_none()),
            "{jwk}"
        );
        assert_eq!(key.thumbprint(), jwk_thumbprint(jwk).unwrap());
        let request = ProofRequest {
            method: "GET",
            uri: "https://api.example/",
            access_token: None,
            now: now(),
        };
        let settings = ProofSettings::new();
        let a = key.proof("GET", "https://api.example/", None, None);
        let b = key.proof("GET", "https://api.example/", None, None);
        let a = check_proof(&a, &request, &settings).unwrap();
        let b = check_proof(&b, &request, &settings).unwrap();
        assert_ne!(a.jti, b.jti);
        assert_eq!(a.jti.len(), 22);
    }
}

#[test]
fn a_supplied_key_is_the_same_key() {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let a = DpopKey::from_pkcs8_es256(pkcs8.as_ref()).unwrap();
    let b = DpopKey::from_pkcs8_es256(pkcs8.as_ref()).unwrap();
    assert_eq!(a.thumbprint(), b.thumbprint());
    assert_eq!(a.public_jwk(), b.public_jwk());
    assert_eq!(
        DpopKey::from_pkcs8_es256(&pkcs8.as_ref()[..20]).unwrap_err(),
        InvalidDpopKey
    );
    let seed = [7u8; 32];
    assert_eq!(
        DpopKey::from_ed25519_seed(seed).thumbprint(),
        DpopKey::from_ed25519_seed(seed).thumbprint()
    );
    assert_ne!(
        DpopKey::generate_ed25519().thumbprint(),
        DpopKey::generate_ed25519().thumbprint()
    );
}

#[test]
fn debug_shows_no_private_material() {
    let seed = [0x42u8; 32];
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    for key in [
        DpopKey::from_ed25519_seed(seed),
        DpopKey::from_pkcs8_es256(pkcs8.as_ref()).unwrap(),
        rsa(Algorithm::PS256),
    ] {
        // The algorithm and the public thumbprint, and nothing else.
        let expected = format!(
            "DpopKey {{ alg: {:?}, thumbprint: {:?}, .. }}",
            key.algorithm(),
            key.thumbprint()
        );
        assert_eq!(format!("{key:?}"), expected);
        assert_eq!(format!("{key:#?}").matches(':').count(), 2);
    }
}

#[test]
fn rsa_proofs_of_every_algorithm_pass_the_servers_check() {
    use Algorithm::*;
    for alg in [PS256, PS384, PS512, RS256, RS384, RS512] {
        let key = rsa(alg);
        assert_eq!(key.algorithm(), alg.name());
        let proof = key.proof("GET", "https://api.example/x", Some("tok"), None);
        let request = ProofRequest {
            method: "GET",
            uri: "https://api.example/x",
            access_token: Some("tok"),
            now: now(),
        };
        let verified = check_proof(&proof, &request, &ProofSettings::new()).unwrap();
        assert_eq!(verified.alg, alg);
        assert_eq!(verified.jkt, key.thumbprint());
        // A server that allows only another RSA algorithm refuses it.
        let other = if alg == PS256 { RS256 } else { PS256 };
        let settings = ProofSettings::new().algorithms(&[other]);
        assert!(check_proof(&proof, &request, &settings).is_err(), "{alg}");
    }
}

#[test]
fn the_rsa_jwk_is_n_and_e_without_leading_zeros() {
    let key = rsa(Algorithm::PS256);
    let jwk = key.public_jwk();
    let mut names: Vec<_> = jwk.as_object().unwrap().keys().cloned().collect();
    names.sort();
    assert_eq!(names, ["e", "kty", "n"]);
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["e"], "AQAB");
    let n = Base64UrlUnpadded::decode_vec(jwk["n"].as_str().unwrap()).unwrap();
    assert_eq!(n.len(), 256, "2048 bits, no leading zero byte");
    assert_ne!(n[0], 0);
    // The same key under another algorithm: the same JWK and thumbprint.
    let pkcs1 = rsa(Algorithm::RS256);
    assert_eq!(pkcs1.public_jwk(), jwk);
    assert_eq!(pkcs1.thumbprint(), key.thumbprint());
    assert_eq!(key.thumbprint(), jwk_thumbprint(jwk).unwrap());
    // The server loads it as an RSA public key.
    assert!(crate::oauth::Key::from_jwk(jwk)
        .unwrap()
        .fits(Algorithm::PS256));
}

#[test]
fn rsa_keys_are_refused_with_the_wrong_algorithm_or_document() {
    let der = rsa_der();
    for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::HS256] {
        assert_eq!(
            DpopKey::from_rsa_pkcs8_der(&der, alg).unwrap_err(),
            InvalidDpopKey,
            "{alg}"
        );
    }
    assert!(DpopKey::from_rsa_pkcs8_der(&der[..100], Algorithm::PS256).is_err());
    // A P-256 document is not an RSA key, nor the other way round.
    let rng = SystemRandom::new();
    let ec = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    assert!(DpopKey::from_rsa_pkcs8_der(ec.as_ref(), Algorithm::RS256).is_err());
    assert!(DpopKey::from_pkcs8_es256(&der).is_err());
    assert!(InvalidDpopKey.to_string().contains("RSA"));
}
