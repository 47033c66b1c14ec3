//! Verification keys: [`Algorithm`], [`Key`] (from a JWK, or an HMAC secret you configure) and
//! [`KeySet`]. Which algorithm a key verifies follows from the key itself (its `kty`, `crv` and
//! `alg`), never from a token's header alone: a token whose `alg` does not fit the key is
//! refused, which closes `alg: none` and the HMAC-with-a-public-key confusion.

use std::fmt;

use super::alg::Algorithm;
use super::backend::{Curve, PublicKey};

use base64ct::{Base64UrlUnpadded, Encoding as _};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Sha256, Sha384, Sha512};

#[derive(Clone)]
enum Kind {
    Public(PublicKey),
    Hmac(Box<[u8]>),
}

/// One verification key: what it verifies with, its `kid` and, when it names one, its `alg`.
///
/// ```
/// use serde_json::json;
/// use tower_bearer::oauth::{Algorithm, Key};
///
/// let jwk = json!({
///     "kty": "OKP", "crv": "Ed25519", "kid": "k1",
///     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
/// });
/// let key = Key::from_jwk(&jwk).unwrap();
/// assert_eq!(key.kid(), Some("k1"));
/// assert!(key.fits(Algorithm::EdDSA));
/// assert!(!key.fits(Algorithm::HS256), "a public key never verifies HMAC");
/// ```
#[derive(Clone)]
pub struct Key {
    kid: Option<String>,
    alg: Option<Algorithm>,
    kind: Kind,
}

/// Why a JWK or a secret cannot be a verification key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unusable key: {}", self.0)
    }
}

impl std::error::Error for KeyError {}

pub(super) fn bad(why: impl Into<String>) -> KeyError {
    KeyError(why.into())
}

/// The members that hold private or secret key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1;
/// RFC 8037 §2): a JWK with any of them is not a public key.
pub(crate) const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A base64url member of a JWK, decoded strictly (no padding, canonical).
fn member(jwk: &Value, name: &str) -> Result<Vec<u8>, KeyError> {
    let text = jwk[name]
        .as_str()
        .ok_or_else(|| bad(format!("no {name}")))?;
    Base64UrlUnpadded::decode_vec(text).map_err(|_| bad(format!("{name} is not base64url")))
}

/// An uncompressed SEC1 point (`04 || x || y`) from a JWK's `x` and `y`, each exactly the
/// curve's length.
fn point(jwk: &Value, curve: Curve) -> Result<Vec<u8>, KeyError> {
    let (x, y) = (member(jwk, "x")?, member(jwk, "y")?);
    if x.len() != curve.len() || y.len() != curve.len() {
        return Err(bad(format!(
            "x or y has the wrong length for {}",
            curve.name()
        )));
    }
    Ok([&[4][..], &x, &y].concat())
}

impl Key {
    /// A key from one JWK (RFC 7517): `OKP`/`Ed25519`, `EC` on `P-256`, `P-384` or `P-521`,
    /// or `RSA` of at least 2048 bits. A JWK with `use` other than `sig`, `key_ops` without
    /// `verify`, an `alg` that does not fit its key type, or private members is refused, and so
    /// is `oct`: HMAC secrets come from your configuration ([`Key::hmac`]), never a JWKS.
    pub fn from_jwk(jwk: &Value) -> Result<Key, KeyError> {
        Key::load_jwk(jwk, false)
    }

    /// [`from_jwk`](Self::from_jwk) for a key that verifies one signature (a DPoP proof's):
    /// the checks the backend makes as part of that verify are not made twice.
    #[cfg_attr(not(feature = "dpop"), allow(dead_code))]
    pub(crate) fn from_jwk_once(jwk: &Value) -> Result<Key, KeyError> {
        Key::load_jwk(jwk, true)
    }

    fn load_jwk(jwk: &Value, once: bool) -> Result<Key, KeyError> {
        if !jwk.is_object() {
            return Err(bad("not a JSON object"));
        }
        if jwk.get("use").is_some_and(|u| u != "sig") {
            return Err(bad("use is not sig"));
        }
        if let Some(ops) = jwk.get("key_ops") {
            let verifies = ops
                .as_array()
                .is_some_and(|ops| ops.iter().any(|op| op == "verify"));
            if !verifies {
                return Err(bad("key_ops has no verify"));
            }
        }
        if PRIVATE_MEMBERS.iter().any(|m| jwk.get(m).is_some()) {
            return Err(bad("private key material in a public JWK"));
        }
        let public = match (jwk["kty"].as_str(), jwk["crv"].as_str()) {
            (Some("OKP"), Some("Ed25519")) => PublicKey::ed25519(&member(jwk, "x")?),
            (Some("EC"), Some(crv)) if curve(crv).is_some() => {
                let curve = curve(crv).expect("matched");
                PublicKey::ec(curve, &point(jwk, curve)?, once)
            }
            (Some("RSA"), _) => PublicKey::rsa(&member(jwk, "n")?, &member(jwk, "e")?),
            (Some("oct"), _) => return Err(bad("symmetric keys are not taken from a JWK")),
            (kty, crv) => return Err(bad(format!("unsupported kty {kty:?} / crv {crv:?}"))),
        }
        .map_err(bad)?;
        let alg = match jwk.get("alg") {
            None => None,
            Some(Value::String(name)) => {
                Some(Algorithm::from_name(name).ok_or_else(|| bad(format!("unknown alg {name}")))?)
            }
            Some(_) => return Err(bad("alg is not a string")),
        };
        Key::checked(
            jwk["kid"].as_str().map(str::to_owned),
            alg,
            Kind::Public(public),
        )
    }

    /// A key whose `alg`, when it names one, fits its type.
    fn checked(kid: Option<String>, alg: Option<Algorithm>, kind: Kind) -> Result<Key, KeyError> {
        let key = Key {
            kid,
            alg: None,
            kind,
        };
        match alg {
            Some(alg) if !key.kind_fits(alg) => {
                Err(bad(format!("alg {alg} does not fit the key type")))
            }
            _ => Ok(Key { alg, ..key }),
        }
    }

    /// A public key in PEM (`-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo): Ed25519,
    /// P-256, P-384, P-521 or RSA (2048 bits or more), with an optional `kid` and `alg`. For
    /// issuers that publish a key file rather than a JWKS.
    ///
    /// ```
    /// use tower_bearer::oauth::{Algorithm, Key};
    ///
    /// let pem = "-----BEGIN PUBLIC KEY-----
    /// MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=
    /// -----END PUBLIC KEY-----";
    /// let key = Key::from_pem(pem, Some("k1".into()), None).unwrap();
    /// assert!(key.fits(Algorithm::EdDSA));
    /// ```
    pub fn from_pem(
        pem: &str,
        kid: Option<String>,
        alg: Option<Algorithm>,
    ) -> Result<Key, KeyError> {
        let (_, der) = spki::Document::from_pem(pem)
            .map_err(|_| bad("not a PEM public key (-----BEGIN PUBLIC KEY-----)"))?;
        let public = super::pem::spki_key(der.as_bytes()).map_err(bad)?;
        Key::checked(kid, alg, Kind::Public(public))
    }

    /// An HMAC secret for `alg` (`HS256`, `HS384` or `HS512`), with an optional `kid`. The
    /// secret should be at least as long as the hash (32, 48 or 64 bytes).
    pub fn hmac(
        secret: impl AsRef<[u8]>,
        alg: Algorithm,
        kid: Option<String>,
    ) -> Result<Key, KeyError> {
        if !alg.is_symmetric() {
            return Err(bad(format!("{alg} is not an HMAC algorithm")));
        }
        if secret.as_ref().is_empty() {
            return Err(bad("an empty HMAC secret"));
        }
        Ok(Key {
            kid,
            alg: Some(alg),
            kind: Kind::Hmac(secret.as_ref().into()),
        })
    }

    /// The key's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The `alg` the key names, if it names one.
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.alg
    }

    /// Whether this key verifies tokens signed with `alg`: the key type must fit, and so must
    /// the key's own `alg` when it names one.
    pub fn fits(&self, alg: Algorithm) -> bool {
        self.kind_fits(alg) && self.alg.is_none_or(|own| own.same_verification(alg))
    }

    fn kind_fits(&self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match &self.kind {
            Kind::Public(key) => key.fits(alg),
            Kind::Hmac(_) => matches!(alg, HS256 | HS384 | HS512),
        }
    }

    /// Whether `signature` is this key's signature of `input` under `alg`: `false` whenever
    /// the key does not fit `alg` (its type, and its own `alg` when it names one), and for a
    /// malformed signature. The JWS's `alg` never picks the primitive on its own.
    ///
    /// ```
    /// use serde_json::json;
    /// use tower_bearer::oauth::{Algorithm, Key};
    ///
    /// let key = Key::hmac(b"a secret of at least thirty-two bytes", Algorithm::HS256, None).unwrap();
    /// assert!(!key.verify(Algorithm::HS256, b"header.payload", &[0; 32]));
    /// assert!(!key.verify(Algorithm::EdDSA, b"header.payload", &[0; 64]), "not an HMAC algorithm");
    /// ```
    pub fn verify(&self, alg: Algorithm, input: &[u8], signature: &[u8]) -> bool {
        if !self.fits(alg) {
            return false;
        }
        match &self.kind {
            Kind::Public(key) => key.verify(alg, input, signature),
            Kind::Hmac(secret) => hmac_verify(secret, alg, input, signature),
        }
    }
}

/// The curve a JWK's `crv` names.
fn curve(crv: &str) -> Option<Curve> {
    match crv {
        "P-256" => Some(Curve::P256),
        "P-384" => Some(Curve::P384),
        "P-521" => Some(Curve::P521),
        _ => None,
    }
}

/// Compared in constant time (`Mac::verify_slice`).
fn hmac_verify(secret: &[u8], alg: Algorithm, input: &[u8], signature: &[u8]) -> bool {
    fn check<M: Mac + hmac::digest::KeyInit>(secret: &[u8], input: &[u8], sig: &[u8]) -> bool {
        let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(secret) else {
            return false;
        };
        mac.update(input);
        mac.verify_slice(sig).is_ok()
    }
    match alg {
        Algorithm::HS256 => check::<Hmac<Sha256>>(secret, input, signature),
        Algorithm::HS384 => check::<Hmac<Sha384>>(secret, input, signature),
        Algorithm::HS512 => check::<Hmac<Sha512>>(secret, input, signature),
        _ => false,
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Public(key) => key.describe(),
            // Never the secret.
            Kind::Hmac(_) => "HMAC (secret)".into(),
        };
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("kind", &kind)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEmaE6xk8sU0o5K0LsjQWsytB0541c
pxUA9u/Re4p5+pjoBVLDkxRaRZdJIm2bUiAPQehcCfDOkLKsqmkEbqhvSw==
-----END PUBLIC KEY-----";
    const RSA_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1OD2224M/pUP5BfLVAig
s4oBqSpUSIlp7EPXu5fgURoTdX0zejCwzQpLoLFrsrR98mqDVg0XlHjP+HPfMGTc
YzvIyM8IJTxhoGCvhf9J3/kMHRWmyfuyH9dQdABrTwZT6GkYe3JyIdB6UHhLRK6p
LNg+vUCSRwqmgSah79lchSAWhjuL9Jnl2/wTYi1U4iY7d190/ckFOY9q+hmE1c8N
uUg1H2zP0jnYdUOA4tea3dnEd4zMRnDTWSmoo7NgqbSs9yohmUVqFwLchXYYTqm9
vd+CKT4AAw059OQ97vntAalAYSxFrc4iqsiQBctc5YlnKAv621iIPL0k9L2AY8Ic
3QIDAQAB
-----END PUBLIC KEY-----";
    const RSA_1024_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCyjJItLP62rSavMx1Fs516jktW
NbOyJtUQSvUxXur8juNjz7Mp2Elo+yG07sbQPXII6rQXJd413SJuP5ZuhHDjwnyR
xG5Bol+03HwUi1Aw0GRaHzsD2kH15IL0QYLfhz+RUxzHwUKxgp/REygqDNPCxkUv
GqR8/tg0DgdK5iIIMQIDAQAB
-----END PUBLIC KEY-----";

    #[test]
    fn pem_keys_fit_their_algorithms_only() {
        let ec = Key::from_pem(EC_PEM, Some("ec".into()), None).unwrap();
        assert!(ec.fits(Algorithm::ES256) && !ec.fits(Algorithm::ES384));
        assert!(!ec.fits(Algorithm::HS256) && !ec.fits(Algorithm::RS256));
        let rsa = Key::from_pem(RSA_PEM, None, Some(Algorithm::PS256)).unwrap();
        assert!(rsa.fits(Algorithm::PS256) && !rsa.fits(Algorithm::RS256));
        assert!(Key::from_pem(RSA_PEM, None, Some(Algorithm::ES256)).is_err());
        assert!(
            Key::from_pem(RSA_1024_PEM, None, None).is_err(),
            "under 2048 bits"
        );
        // 256 bytes, but 2041 bits (the top byte is 0x01): refused by bits, not bytes.
        let mut n = [0u8; 256];
        (n[0], n[255]) = (0x01, 0x01);
        let jwk = |n: &[u8]| serde_json::json!({"kty": "RSA", "e": "AQAB", "n": Base64UrlUnpadded::encode_string(n)});
        let error = Key::from_jwk(&jwk(&n)).unwrap_err().to_string();
        assert!(error.contains("2041 bits"), "{error}");
        n[0] = 0x80;
        assert!(Key::from_jwk(&jwk(&n)).is_ok(), "2048 bits");
        assert!(Key::from_pem(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
            None,
            None
        )
        .is_err());
        assert!(!format!(
            "{:?}",
            Key::hmac(b"top-secret", Algorithm::HS256, None).unwrap()
        )
        .contains("top-secret"));
    }

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    #[test]
    fn ed25519_keys_verify_eddsa_and_the_fully_specified_ed25519() {
        let plain =
            Key::from_jwk(&serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": ED_X})).unwrap();
        assert!(plain.fits(Algorithm::EdDSA) && plain.fits(Algorithm::Ed25519));
        for own in ["EdDSA", "Ed25519"] {
            let named = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": ED_X, "alg": own});
            let key = Key::from_jwk(&named).unwrap();
            assert!(
                key.fits(Algorithm::EdDSA) && key.fits(Algorithm::Ed25519),
                "{own}"
            );
            assert!(!key.fits(Algorithm::ES256));
        }
        let ec = Key::from_pem(EC_PEM, None, None).unwrap();
        assert!(!ec.fits(Algorithm::Ed25519));
        assert!(Key::from_pem(EC_PEM, None, Some(Algorithm::Ed25519)).is_err());
        assert_eq!(Algorithm::from_name("Ed25519"), Some(Algorithm::Ed25519));
        // One signature, verified under either name; a key naming one accepts the other.
        use ed25519_dalek::Signer as _;
        let signer = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let x = Base64UrlUnpadded::encode_string(signer.verifying_key().as_bytes());
        let signature = signer.sign(b"header.payload").to_bytes();
        for own in [None, Some("EdDSA"), Some("Ed25519")] {
            let mut jwk = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x});
            if let Some(own) = own {
                jwk["alg"] = own.into();
            }
            let key = Key::from_jwk(&jwk).unwrap();
            for alg in [Algorithm::EdDSA, Algorithm::Ed25519] {
                assert!(
                    key.verify(alg, b"header.payload", &signature),
                    "{own:?} {alg}"
                );
                assert!(!key.verify(alg, b"header.payload!", &signature));
            }
        }
        assert_eq!(Algorithm::Ed25519.to_string(), "Ed25519");
    }

    #[test]
    fn every_private_member_is_refused() {
        for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            let mut jwk = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": ED_X});
            jwk[member] = serde_json::json!("AQAB");
            let error = Key::from_jwk(&jwk).unwrap_err().to_string();
            assert!(error.contains("private"), "{member}: {error}");
        }
    }
}
