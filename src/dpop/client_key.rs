//! [`DpopKey`]: the private key a client signs its DPoP proofs with (RFC 9449 §4.2).

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding as _};
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair as _, RsaEncoding, RsaKeyPair, RsaPublicKeyComponents,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde_json::{json, Value};

use super::{access_token_hash, jwk_thumbprint};
use crate::oauth::Algorithm;

/// The random bytes of a proof's `jti`: 128 bits, 22 base64url characters (RFC 9449 §11.1
/// asks for at least 96).
const JTI_BYTES: usize = 16;

/// A key that is not a usable DPoP signing key: a PKCS#8 document ring does not read as a
/// private key of the kind asked for (P-256; RSA of 2048 to 4096 bits), or an algorithm that
/// does not fit the key. It never quotes the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidDpopKey;

impl fmt::Display for InvalidDpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "not a usable DPoP signing key: not a PKCS#8 private key of the kind asked for \
             (P-256, or RSA of 2048 to 4096 bits), or an algorithm that does not fit it",
        )
    }
}

impl std::error::Error for InvalidDpopKey {}

enum Signer {
    Es256(EcdsaKeyPair),
    Ed25519(ed25519_dalek::SigningKey),
    /// `alg` is one of `RS256`…`RS512`, `PS256`…`PS512`; `padding` is ring's encoding for it.
    Rsa {
        pair: RsaKeyPair,
        alg: Algorithm,
        padding: &'static dyn RsaEncoding,
    },
}

struct Inner {
    signer: Signer,
    /// The public JWK, as every proof's header carries it.
    jwk: Value,
    /// Its RFC 7638 thumbprint: the `cnf.jkt` a token bound to this key carries.
    jkt: String,
}

/// The private key a client signs DPoP proofs with: ES256 (P-256, by ring), Ed25519 (by
/// ed25519-dalek, `alg` `EdDSA`), or an imported RSA key (by ring; `RS256`, `RS384`,
/// `RS512`, `PS256`, `PS384` or `PS512`). Cloning is cheap and shares the key. `Debug` shows the
/// algorithm and the public thumbprint, never private material.
///
/// The authorization server binds the tokens it issues to this key: send
/// [`thumbprint`](Self::thumbprint) as `dpop_jkt`, or a proof with the token request, and
/// keep the key for as long as the tokens live.
///
/// ```
/// use tower_bearer::dpop::{check_proof, DpopKey, ProofRequest, ProofSettings};
///
/// let key = DpopKey::generate_es256();
/// assert!(key.public_jwk().get("d").is_none());
/// let proof = key.proof("GET", "https://api.example/things?page=2", Some("the-token"), None);
///
/// // What a resource server checks (DpopLayer does this for every request).
/// let request = ProofRequest {
///     method: "GET",
///     uri: "https://api.example/things",
///     access_token: Some("the-token"),
///     now: std::time::SystemTime::now()
///         .duration_since(std::time::UNIX_EPOCH)
///         .unwrap()
///         .as_secs() as i64,
/// };
/// let verified = check_proof(&proof, &request, &ProofSettings::new()).unwrap();
/// assert_eq!(verified.jkt, key.thumbprint());
/// ```
#[derive(Clone)]
pub struct DpopKey(Arc<Inner>);

impl DpopKey {
    /// A new P-256 key pair (ES256) from the OS's random number generator.
    ///
    /// # Panics
    ///
    /// If the OS's random number generator fails.
    pub fn generate_es256() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("the OS random number generator failed");
        Self::from_pkcs8_es256(pkcs8.as_ref()).expect("ring reads the PKCS#8 it wrote")
    }

    /// A new Ed25519 key (proofs signed as `EdDSA`) from 32 bytes of the OS's random number
    /// generator.
    ///
    /// # Panics
    ///
    /// If the OS's random number generator fails.
    pub fn generate_ed25519() -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the OS random number generator failed");
        Self::from_ed25519_seed(seed)
    }

    /// A P-256 private key (ES256) from its PKCS#8 v1 or v2 DER document (the output of
    /// `openssl pkcs8 -topk8 -nocrypt -outform der`, or ring's `generate_pkcs8`).
    ///
    /// ```
    /// use tower_bearer::dpop::DpopKey;
    ///
    /// assert!(DpopKey::from_pkcs8_es256(b"not a key").is_err());
    /// ```
    pub fn from_pkcs8_es256(der: &[u8]) -> Result<Self, InvalidDpopKey> {
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new())
                .map_err(|_| InvalidDpopKey)?;
        // The uncompressed point: 0x04, then x and y, 32 bytes each.
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": Base64UrlUnpadded::encode_string(&point[1..33]),
            "y": Base64UrlUnpadded::encode_string(&point[33..65]),
        });
        Ok(Self::new(Signer::Es256(pair), jwk))
    }

    /// An Ed25519 key from its 32-byte seed (RFC 8032's private key).
    ///
    /// ```
    /// use tower_bearer::dpop::DpopKey;
    ///
    /// // RFC 8037 appendix A.1's key, and its thumbprint (appendix A.3).
    /// let seed = [
    ///     0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec,
    ///     0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03,
    ///     0x1c, 0xae, 0x7f, 0x60,
    /// ];
    /// let key = DpopKey::from_ed25519_seed(seed);
    /// assert_eq!(key.public_jwk()["x"], "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    /// assert_eq!(key.thumbprint(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    /// ```
    pub fn from_ed25519_seed(seed: [u8; 32]) -> Self {
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let jwk = json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": Base64UrlUnpadded::encode_string(key.verifying_key().as_bytes()),
        });
        Self::new(Signer::Ed25519(key), jwk)
    }

    /// An RSA private key (2048 to 4096 bits) from its PKCS#8 DER document, signing proofs
    /// with `alg`: `PS256`, `PS384`, `PS512` (RSASSA-PSS) or `RS256`, `RS384`, `RS512`
    /// (RSASSA-PKCS1-v1_5). ring cannot generate RSA keys, so an RSA key is always imported:
    /// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -outform der`. The public
    /// JWK is `kty` `RSA` with `n` and `e` (big-endian, no leading zero bytes, base64url).
    ///
    /// Prefer ES256 or Ed25519 when the server accepts them: a 2048-bit RSA proof is about
    /// 600 bytes longer than an ES256 one (the modulus in the header, a 256-byte signature),
    /// and an RSA signature costs the client many times an ES256 or Ed25519 one.
    ///
    /// ```
    /// use tower_bearer::dpop::DpopKey;
    /// use tower_bearer::oauth::Algorithm;
    ///
    /// assert!(DpopKey::from_rsa_pkcs8_der(b"not a key", Algorithm::PS256).is_err());
    /// ```
    pub fn from_rsa_pkcs8_der(der: &[u8], alg: Algorithm) -> Result<Self, InvalidDpopKey> {
        use ring::signature::{
            RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512, RSA_PSS_SHA256, RSA_PSS_SHA384,
            RSA_PSS_SHA512,
        };
        let padding: &'static dyn RsaEncoding = match alg {
            Algorithm::RS256 => &RSA_PKCS1_SHA256,
            Algorithm::RS384 => &RSA_PKCS1_SHA384,
            Algorithm::RS512 => &RSA_PKCS1_SHA512,
            Algorithm::PS256 => &RSA_PSS_SHA256,
            Algorithm::PS384 => &RSA_PSS_SHA384,
            Algorithm::PS512 => &RSA_PSS_SHA512,
            _ => return Err(InvalidDpopKey),
        };
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|_| InvalidDpopKey)?;
        // ring gives both without leading zero bytes, as RFC 7518 §6.3.1 asks.
        let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
        let jwk = json!({
            "kty": "RSA",
            "n": Base64UrlUnpadded::encode_string(&public.n),
            "e": Base64UrlUnpadded::encode_string(&public.e),
        });
        Ok(Self::new(Signer::Rsa { pair, alg, padding }, jwk))
    }

    fn new(signer: Signer, jwk: Value) -> Self {
        let jkt = jwk_thumbprint(&jwk).expect("an EC, OKP or RSA JWK of strings has a thumbprint");
        DpopKey(Arc::new(Inner { signer, jwk, jkt }))
    }

    /// The JWS algorithm of the proofs: `ES256`, `EdDSA`, or the RSA key's (`PS256`…).
    pub fn algorithm(&self) -> &'static str {
        match self.0.signer {
            Signer::Es256(_) => "ES256",
            Signer::Ed25519(_) => "EdDSA",
            Signer::Rsa { alg, .. } => alg.name(),
        }
    }

    /// The public key as a JWK (`kty`, `crv`, `x`, and `y` for P-256; `kty`, `n` and `e` for
    /// RSA): the proofs' `jwk` header. It has no private member.
    pub fn public_jwk(&self) -> &Value {
        &self.0.jwk
    }

    /// The public key's RFC 7638 SHA-256 thumbprint, base64url: the `cnf.jkt` of the tokens
    /// bound to this key, and the `dpop_jkt` of an authorization request (RFC 9449 §10).
    pub fn thumbprint(&self) -> &str {
        &self.0.jkt
    }

    /// A fresh DPoP proof (RFC 9449 §4.2) for a request: a compact JWS whose header is
    /// `{"typ":"dpop+jwt","alg":…,"jwk":…}` and whose claims are a new `jti` (128 bits from
    /// the OS's random number generator), `htm` = `method`, `htu` = `uri` without its query
    /// and fragment, `iat` = now, `ath` = the hash of `access_token` when one is given
    /// ([`access_token_hash`]), and `nonce` when the server sent one (`DPoP-Nonce`).
    ///
    /// `uri` is the absolute URI the request goes to (`https://api.example/things`). It is not
    /// checked here; the server compares it with its own view of the request.
    ///
    /// # Panics
    ///
    /// If the OS's random number generator fails.
    pub fn proof(
        &self,
        method: &str,
        uri: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let htu = uri.find(['?', '#']).map_or(uri, |end| &uri[..end]);
        let mut jti = [0u8; JTI_BYTES];
        getrandom::fill(&mut jti).expect("the OS random number generator failed");
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut claims = json!({
            "jti": Base64UrlUnpadded::encode_string(&jti),
            "htm": method,
            "htu": htu,
            "iat": iat,
        });
        if let Some(token) = access_token {
            claims["ath"] = Value::String(access_token_hash(token));
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = Value::String(nonce.to_owned());
        }
        let header = json!({"typ": "dpop+jwt", "alg": self.algorithm(), "jwk": self.0.jwk});
        let mut jws = Base64UrlUnpadded::encode_string(header.to_string().as_bytes());
        jws.push('.');
        jws.push_str(&Base64UrlUnpadded::encode_string(
            claims.to_string().as_bytes(),
        ));
        let signature = self.sign(jws.as_bytes());
        jws.push('.');
        jws.push_str(&Base64UrlUnpadded::encode_string(&signature));
        jws
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        match &self.0.signer {
            Signer::Es256(pair) => pair
                .sign(&SystemRandom::new(), input)
                .expect("the OS random number generator failed")
                .as_ref()
                .to_vec(),
            Signer::Ed25519(key) => {
                use ed25519_dalek::Signer as _;
                key.sign(input).to_bytes().to_vec()
            }
            Signer::Rsa { pair, padding, .. } => {
                let mut signature = vec![0; pair.public().modulus_len()];
                // Fails only when the RNG does (PSS's salt; ring's blinding for both).
                pair.sign(*padding, &SystemRandom::new(), input, &mut signature)
                    .expect("the OS random number generator failed");
                signature
            }
        }
    }
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.algorithm())
            .field("thumbprint", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[path = "client_key_tests.rs"]
mod tests;
