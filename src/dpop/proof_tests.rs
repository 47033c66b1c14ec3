//! `check_proof`'s tests: the RFC's examples, and every refusal, each against a proof that
//! differs from an accepted one in that check alone.

use serde_json::{json, Value};

use super::*;
use crate::dpop::test_support::{header, sign, sign_raw, TestKey};

/// RFC 9449 §4.1 (Figure 3), also §5's token request: POST to the token endpoint.
const RFC_TOKEN_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
/// RFC 9449 §7.1 (Figure 13): a GET to a protected resource, with `ath`.
const RFC_RESOURCE_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA";
const RFC_TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
/// The `cnf.jkt` of RFC 9449 §6 for the examples' key.
const RFC_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

const NOW: i64 = 1_700_000_000;
const URI: &str = "https://api.example.com/v1/things";
const TOKEN: &str = "an-access-token";

fn request() -> ProofRequest<'static> {
    ProofRequest {
        method: "GET",
        uri: URI,
        access_token: Some(TOKEN),
        now: NOW,
    }
}

fn claims() -> Value {
    json!({
        "jti": "a-unique-id",
        "htm": "GET",
        "htu": URI,
        "iat": NOW,
        "ath": access_token_hash(TOKEN),
    })
}

fn check(proof: &str) -> Result<VerifiedProof, ProofError> {
    check_proof(proof, &request(), &ProofSettings::new())
}

/// The reason a proof is refused for; panics if it is accepted.
fn refused(proof: &str) -> String {
    check(proof).expect_err("refused").why().to_owned()
}

#[test]
fn rfc_9449_examples() {
    assert_eq!(
        access_token_hash(RFC_TOKEN),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
    let settings = ProofSettings::new();
    let token_request = ProofRequest {
        method: "POST",
        uri: "https://server.example.com/token",
        access_token: None,
        now: 1562262616,
    };
    let proof = check_proof(RFC_TOKEN_PROOF, &token_request, &settings).unwrap();
    assert_eq!(proof.jkt, RFC_JKT);
    assert_eq!(proof.jti, "-BwC3ESc6acc2lTc");
    assert_eq!((proof.htm.as_str(), proof.iat), ("POST", 1562262616));
    assert_eq!(proof.alg, Algorithm::ES256);
    assert_eq!(proof.nonce, None);

    let resource_request = ProofRequest {
        method: "GET",
        uri: "https://resource.example.org/protectedresource",
        access_token: Some(RFC_TOKEN),
        now: 1562262618,
    };
    let proof = check_proof(RFC_RESOURCE_PROOF, &resource_request, &settings).unwrap();
    assert_eq!(proof.jkt, RFC_JKT);
    assert_eq!(proof.htu, "https://resource.example.org/protectedresource");
    // The URI the request was sent to may carry a query; the proof's htu never does.
    let with_query = ProofRequest {
        uri: "HTTPS://Resource.Example.ORG:443/protectedresource?x=1",
        ..resource_request
    };
    assert!(check_proof(RFC_RESOURCE_PROOF, &with_query, &settings).is_ok());
    let other_token = ProofRequest {
        access_token: Some("another token"),
        ..resource_request
    };
    assert_eq!(
        check_proof(RFC_RESOURCE_PROOF, &other_token, &settings)
            .unwrap_err()
            .why(),
        "ath is not the access token's hash"
    );
    let too_late = ProofRequest {
        now: 1562262618 + 301,
        ..resource_request
    };
    assert!(check_proof(RFC_RESOURCE_PROOF, &too_late, &settings).is_err());
    let es256_refused = ProofSettings::new().algorithms(&[Algorithm::EdDSA]);
    assert!(check_proof(RFC_RESOURCE_PROOF, &resource_request, &es256_refused).is_err());
}

#[test]
fn well_formed_proofs_pass_for_each_key_type() {
    for key in [TestKey::es256(), TestKey::ed25519()] {
        let proof = check(&sign(&header(&key), &claims(), &key)).unwrap();
        assert_eq!(proof.jkt, jwk_thumbprint(&key.jwk()).unwrap());
        assert_eq!(
            (proof.jti.as_str(), proof.htu.as_str()),
            ("a-unique-id", URI)
        );
    }
    // RFC 9864's fully specified Ed25519, as panva's dpop signs.
    let key = TestKey::ed25519();
    let header = json!({"typ": "dpop+jwt", "alg": "Ed25519", "jwk": key.jwk()});
    let mut with_nonce = claims();
    with_nonce["nonce"] = json!("n-1");
    let proof = check(&sign(&header, &with_nonce, &key)).unwrap();
    assert_eq!(proof.alg, Algorithm::Ed25519);
    assert_eq!(proof.nonce.as_deref(), Some("n-1"));
    // No access token: no ath needed (a token request).
    let mut no_ath = claims();
    no_ath.as_object_mut().unwrap().remove("ath");
    let request = ProofRequest {
        access_token: None,
        ..request()
    };
    assert!(check_proof(
        &sign(&header, &no_ath, &key),
        &request,
        &ProofSettings::new()
    )
    .is_ok());
}

#[test]
fn every_claim_check_refuses() {
    let key = TestKey::es256();
    // (claim, its new value or None to remove it, the reason)
    let cases = [
        (
            "htm",
            Some(json!("POST")),
            "htm is not the request's method",
        ),
        ("htm", Some(json!("get")), "htm is not the request's method"),
        (
            "htu",
            Some(json!(format!("{URI}?q=1"))),
            "htu has a query or a fragment",
        ),
        (
            "htu",
            Some(json!(format!("{URI}#f"))),
            "htu has a query or a fragment",
        ),
        (
            "htu",
            Some(json!("https://evil.example.com/v1/things")),
            "htu is not the request's URI",
        ),
        (
            "htu",
            Some(json!("http://api.example.com/v1/things")),
            "htu is not the request's URI",
        ),
        (
            "htu",
            Some(json!("https://api.example.com/v1/other")),
            "htu is not the request's URI",
        ),
        (
            "htu",
            Some(json!("/v1/things")),
            "htu is not an absolute http(s) URI",
        ),
        ("htu", None, "no htu"),
        ("iat", Some(json!(NOW - 301)), "iat is too old"),
        ("iat", Some(json!(NOW + 6)), "iat is in the future"),
        ("iat", Some(json!(NOW.to_string())), "iat is not a number"),
        ("iat", None, "no iat"),
        (
            "ath",
            Some(json!(access_token_hash("another"))),
            "ath is not the access token's hash",
        ),
        ("ath", None, "no ath, and an access token came"),
        ("jti", Some(json!(7)), "jti is not a string"),
        ("jti", Some(json!("")), "no jti"),
        ("jti", Some(json!("j".repeat(257))), "jti is too long"),
        ("jti", None, "no jti"),
        ("nonce", Some(json!(1)), "nonce is not a string"),
    ];
    for (claim, value, why) in cases {
        let mut c = claims();
        match value {
            Some(value) => c[claim] = value,
            None => drop(c.as_object_mut().unwrap().remove(claim)),
        }
        assert_eq!(refused(&sign(&header(&key), &c, &key)), why, "{claim}");
    }
    // The edges of the window are in it; a float iat is rounded down.
    for iat in [json!(NOW - 300), json!(NOW + 5), json!(NOW as f64 + 5.9)] {
        let mut c = claims();
        c["iat"] = iat;
        assert!(check(&sign(&header(&key), &c, &key)).is_ok());
    }
    let narrow = ProofSettings::new()
        .max_age(Duration::from_secs(10))
        .future_skew(Duration::ZERO);
    let mut c = claims();
    c["iat"] = json!(NOW - 11);
    assert!(check_proof(&sign(&header(&key), &c, &key), &request(), &narrow).is_err());
    c["iat"] = json!(NOW + 1);
    assert!(check_proof(&sign(&header(&key), &c, &key), &request(), &narrow).is_err());
}

#[test]
fn every_header_check_refuses() {
    let key = TestKey::es256();
    let ed = TestKey::ed25519();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut h = header(&key);
        edit(&mut h);
        refused(&sign(&h, &claims(), &key))
    };
    assert_eq!(
        with(&|h| {
            h.as_object_mut().unwrap().remove("typ");
        }),
        "typ is not dpop+jwt"
    );
    assert_eq!(with(&|h| h["typ"] = json!("jwt")), "typ is not dpop+jwt");
    assert_eq!(
        with(&|h| h["typ"] = json!("DPoP+JWT")),
        "typ is not dpop+jwt"
    );
    assert_eq!(
        with(&|h| {
            h.as_object_mut().unwrap().remove("jwk");
        }),
        "no jwk in the header"
    );
    assert_eq!(
        with(&|h| h["jwk"]["d"] = json!("AAAA")),
        "the jwk holds private key material"
    );
    assert_eq!(
        with(&|h| h["jwk"]["dp"] = json!("AAAA")),
        "the jwk holds private key material"
    );
    assert_eq!(with(&|h| h["jwk"] = ed.jwk()), "the jwk does not fit alg");
    assert_eq!(
        with(&|h| h["jwk"]["x"] = json!("AAAA")),
        "the jwk is not a usable public key"
    );
    assert_eq!(
        with(&|h| h["jwk"] = json!({"kty": "oct", "k": "c2VjcmV0"})),
        "the jwk holds private key material"
    );
    assert_eq!(
        with(&|h| h["alg"] = json!("ES384")),
        "the jwk does not fit alg"
    );
    assert!(with(&|h| h["jwk"] = json!("a string")).starts_with("not a JWS"));
    assert!(with(&|h| h["crit"] = json!(["x"])).starts_with("not a JWS"));
    // Another key's signature over a header naming this key.
    let other = TestKey::es256();
    assert_eq!(
        refused(&sign(&header(&key), &claims(), &other)),
        "the signature does not verify with the jwk"
    );
    // An allowed-list that leaves the proof's algorithm out.
    let only_ed = ProofSettings::new().algorithms(&[Algorithm::EdDSA, Algorithm::Ed25519]);
    let proof = sign(&header(&key), &claims(), &key);
    assert_eq!(
        check_proof(&proof, &request(), &only_ed).unwrap_err().why(),
        "alg ES256 is not an allowed proof algorithm"
    );
}

#[test]
fn hmac_none_and_malformed_proofs_are_refused() {
    use hmac::{Hmac, Mac};
    let b64 = |s: &[u8]| Base64UrlUnpadded::encode_string(s);
    let jwk = json!({"kty": "oct", "k": b64(b"a shared secret")});
    let claims = claims().to_string();
    // HS256, signed with a secret: refused for its algorithm, whatever the key.
    let input = format!(
        "{}.{}",
        b64(json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk})
            .to_string()
            .as_bytes()),
        b64(claims.as_bytes())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(b"a shared secret").unwrap();
    mac.update(input.as_bytes());
    let hs256 = format!("{input}.{}", b64(&mac.finalize().into_bytes()));
    assert_eq!(
        refused(&hs256),
        "alg HS256 is not an allowed proof algorithm"
    );
    let settings_with_hs = ProofSettings::new().algorithms(&[Algorithm::HS256, Algorithm::ES256]);
    assert_eq!(settings_with_hs.algorithms_list(), &[Algorithm::ES256]);
    // alg none, with and without a signature.
    let key = TestKey::es256();
    let none_header = json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk()}).to_string();
    let unsigned = format!(
        "{}.{}.",
        b64(none_header.as_bytes()),
        b64(claims.as_bytes())
    );
    assert!(refused(&unsigned).starts_with("not a JWS"));
    assert!(refused(&sign_raw(&none_header, &claims, &key)).starts_with("not a JWS"));
    // Two proofs, a JWS of two or four segments, junk.
    let good = sign_raw(&header(&key).to_string(), &claims, &key);
    assert!(check(&good).is_ok());
    for bad in [
        format!("{good},{good}"),
        format!("{good} {good}"),
        format!("{good}.{good}"),
        good.rsplit_once('.').unwrap().0.to_owned(),
        format!("{good}.x"),
        format!(" {good}"),
        String::new(),
        "a.b.c".into(),
        "x".repeat(MAX_PROOF_LEN + 1),
    ] {
        assert!(check(&bad).is_err(), "{bad}");
    }
    // Duplicate claims, duplicate header members, claims that are not an object.
    let duplicate = format!(r#"{{"jti":"a","jti":"b",{}"#, &claims[1..]);
    assert_eq!(
        refused(&sign_raw(&header(&key).to_string(), &duplicate, &key)),
        "the claims are not JSON, or repeat a member"
    );
    let h = header(&key).to_string();
    let dup_header = format!(r#"{{"typ":"jwt",{}"#, &h[1..]);
    assert!(refused(&sign_raw(&dup_header, &claims, &key)).starts_with("not a JWS"));
    assert_eq!(
        refused(&sign_raw(&h, "[1]", &key)),
        "the claims are not a JSON object"
    );
}

#[test]
fn replay_keys_differ_by_every_part() {
    let proof = VerifiedProof {
        jkt: "k".into(),
        alg: Algorithm::ES256,
        jti: "j".into(),
        iat: NOW,
        htm: "GET".into(),
        htu: URI.into(),
        nonce: None,
    };
    let base = proof.replay_key();
    assert_eq!(base, proof.clone().replay_key());
    let variants = [
        VerifiedProof {
            jkt: "k2".into(),
            ..proof.clone()
        },
        VerifiedProof {
            jti: "j2".into(),
            ..proof.clone()
        },
        VerifiedProof {
            htm: "POST".into(),
            ..proof.clone()
        },
        VerifiedProof {
            htu: format!("{URI}/x"),
            ..proof.clone()
        },
        // The same bytes, cut elsewhere: the lengths keep them apart.
        VerifiedProof {
            jkt: "kj".into(),
            jti: "".into(),
            ..proof.clone()
        },
    ];
    for variant in variants {
        assert_ne!(variant.replay_key(), base, "{variant:?}");
    }
    // iat and nonce are not part of the identity.
    assert_eq!(
        VerifiedProof {
            iat: 0,
            nonce: Some("n".into()),
            ..proof
        }
        .replay_key(),
        base
    );
}

#[test]
fn debug_never_shows_the_token() {
    let shown = format!(
        "{:?}",
        ProofRequest {
            uri: "https://h/p?access_token=secret",
            ..request()
        }
    );
    assert!(
        !shown.contains(TOKEN) && !shown.contains("secret"),
        "{shown}"
    );
}
