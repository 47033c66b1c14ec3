//! The proof keys verified lately, already loaded: a client signs every proof with the same
//! key, so its JWK need not be loaded again for each request (an Ed25519 point decompressed,
//! an RSA modulus decoded and checked).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::thumbprint::required_members;
use crate::cache::Cache;
use crate::digest::TokenDigest;
use crate::oauth::Key;

/// How many keys are kept: a few megabytes at most (an 8192-bit RSA key, the largest, takes
/// about 1.2 KiB; a P-256 or Ed25519 one about 300 bytes), a tenth dropped when full (the
/// cache's rule).
const MAX_KEYS: usize = 4_096;
/// How long a key is kept after it was loaded. A key never goes stale (it is a function of its
/// JWK); the deadline only lets an unused one go, and a client's key is loaded again after it.
const KEEP: Duration = Duration::from_secs(600);

/// A key and the thumbprint it was kept under, compared in full on every hit.
pub(super) struct Known {
    jkt: Box<str>,
    key: Key,
}

/// Loaded proof keys by their RFC 7638 thumbprint, in the crate's one cache.
///
/// Only a JWK made of exactly its thumbprint's members (`kty` and `crv`, `x`, `y`, or `n`,
/// `e`) is looked up or kept: for those, equal thumbprints mean equal JWKs (SHA-256 over the
/// members' exact text), so a hit is the key that loading this very JWK would give. A JWK
/// with anything more (`alg`, `use`, `key_ops`, `kid`, private members) changes what loading
/// it checks or gives, so it is loaded every time. The cache is keyed by the keyed digest of the
/// thumbprint (a client cannot aim its keys at one bucket), and a hit's thumbprint is compared
/// in full.
pub(super) struct ProofKeys {
    digest: TokenDigest,
    cache: Cache<Arc<Known>>,
}

/// A key in hand for one proof: from the cache, or loaded for it.
pub(super) enum ProofKey {
    Cached(Arc<Known>),
    /// Boxed: a `Key` is over 200 bytes, the cached variant a pointer.
    Loaded(Box<Key>),
}

impl ProofKey {
    pub(super) fn key(&self) -> &Key {
        match self {
            ProofKey::Cached(known) => &known.key,
            ProofKey::Loaded(key) => key,
        }
    }
}

impl ProofKeys {
    pub(super) fn new() -> Self {
        ProofKeys {
            // As `HashMap::new`: the OS random source does not fail once the kernel's pool is
            // initialised at boot.
            digest: TokenDigest::new().expect("the OS random number generator failed"),
            cache: Cache::new("dpop_proof_keys", MAX_KEYS),
        }
    }

    /// The key `jwk` (whose thumbprint is `jkt`) loads to, when it was kept.
    pub(super) fn get(&self, jwk: &Value, jkt: &str) -> Option<ProofKey> {
        if !only_required(jwk) {
            return None;
        }
        let known = self.cache.get(self.digest.tag(jkt.as_bytes()))?;
        (*known.jkt == *jkt).then_some(ProofKey::Cached(known))
    }

    /// Keeps `key`, loaded from `jwk`, after it verified a proof.
    pub(super) fn put(&self, jwk: &Value, jkt: &str, key: ProofKey) {
        let ProofKey::Loaded(key) = key else {
            return;
        };
        if !only_required(jwk) {
            return;
        }
        let known = Arc::new(Known {
            jkt: jkt.into(),
            key: *key,
        });
        let tag = self.digest.tag(jkt.as_bytes());
        self.cache.put(tag, None, known, KEEP, self.cache.start());
    }
}

/// Whether `jwk` has its thumbprint's members and nothing else (it has them all, as strings,
/// once its thumbprint is known).
fn only_required(jwk: &Value) -> bool {
    let Value::Object(members) = jwk else {
        return false;
    };
    let kty = members.get("kty").and_then(Value::as_str);
    kty.and_then(required_members)
        .is_some_and(|required| required.len() == members.len())
}

impl fmt::Debug for ProofKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProofKeys")
            .field("len", &self.cache.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::dpop::test_support::{header, sign, TestKey};
    use crate::dpop::{access_token_hash, check_proof, ProofRequest, ProofSettings};

    const URI: &str = "https://api.example/x";

    fn request() -> ProofRequest<'static> {
        ProofRequest {
            method: "GET",
            uri: URI,
            access_token: Some("tok"),
            now: 1_700_000_000,
        }
    }

    fn claims(jti: &str) -> serde_json::Value {
        json!({"jti": jti, "htm": "GET", "htu": URI, "iat": 1_700_000_000,
               "ath": access_token_hash("tok")})
    }

    /// One settings value for every check, so later proofs meet the keys earlier ones left.
    fn check(proof: &str, settings: &ProofSettings) -> Result<String, String> {
        check_proof(proof, &request(), settings)
            .map(|p| p.jkt)
            .map_err(|e| e.why().to_owned())
    }

    #[test]
    fn a_key_is_kept_once_it_verified_and_found_by_its_thumbprint() {
        let settings = ProofSettings::new();
        for key in [TestKey::ed25519(), TestKey::es256()] {
            let before = settings.keys.cache.len();
            // A bad signature: the key is not kept.
            let mut forged = sign(&header(&key), &claims("a"), &key);
            forged.truncate(forged.len() - 4);
            forged.push_str("AAAA");
            assert!(check(&forged, &settings).is_err());
            assert_eq!(settings.keys.cache.len(), before);
            let first = check(&sign(&header(&key), &claims("b"), &key), &settings).unwrap();
            assert_eq!(settings.keys.cache.len(), before + 1);
            // Found again, with the same answer, and still only signatures by that key pass.
            let again = check(&sign(&header(&key), &claims("c"), &key), &settings).unwrap();
            assert_eq!(first, again);
            assert_eq!(settings.keys.cache.len(), before + 1);
            assert_eq!(
                check(&forged, &settings).unwrap_err(),
                "the signature does not verify with the jwk"
            );
            // The cache is shared by the settings' clones.
            assert!(settings.clone().keys.cache.len() == before + 1);
        }
    }

    #[test]
    fn another_jwk_never_meets_a_kept_key() {
        let settings = ProofSettings::new();
        let (a, b) = (TestKey::ed25519(), TestKey::ed25519());
        check(&sign(&header(&a), &claims("a"), &a), &settings).unwrap();
        check(&sign(&header(&b), &claims("b"), &b), &settings).unwrap();
        // B's JWK on a proof signed by A, and the other way round.
        assert!(check(&sign(&header(&b), &claims("c"), &a), &settings).is_err());
        assert!(check(&sign(&header(&a), &claims("d"), &b), &settings).is_err());
    }

    /// A JWK with the kept key's members and more is loaded, and its own checks made: without
    /// `only_required`, each of these would hit the kept key and pass.
    #[test]
    fn a_jwk_with_more_members_is_checked_in_full() {
        let settings = ProofSettings::new();
        let key = TestKey::ed25519();
        check(&sign(&header(&key), &claims("a"), &key), &settings).unwrap();
        for (extra, value, why) in [
            ("alg", json!("ES256"), "the jwk is not a usable public key"),
            ("use", json!("enc"), "the jwk is not a usable public key"),
            (
                "key_ops",
                json!(["sign"]),
                "the jwk is not a usable public key",
            ),
            ("d", json!("AAAA"), "the jwk holds private key material"),
        ] {
            let mut header = header(&key);
            header["jwk"][extra] = value;
            let proof = sign(&header, &claims(extra), &key);
            assert_eq!(check(&proof, &settings).unwrap_err(), why, "{extra}");
        }
        // A harmless extra member passes, loaded every time and never kept.
        let mut header = header(&key);
        header["jwk"]["kid"] = json!("k1");
        let before = settings.keys.cache.len();
        check(&sign(&header, &claims("kid"), &key), &settings).unwrap();
        assert_eq!(settings.keys.cache.len(), before);
    }
}
