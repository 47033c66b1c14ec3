//! [`check_proof`]: one DPoP proof checked as RFC 9449 §4.3 says, with the crate's one JWS
//! parser and its key types.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::htu;
use super::proof_keys::{ProofKey, ProofKeys};
use super::replay::ReplayKey;
use super::thumbprint::jwk_thumbprint;
use crate::oauth::jwt::{jws, key::PRIVATE_MEMBERS};
use crate::oauth::{json, Algorithm, Key};

/// The longest proof read: far above a proof signed by an 8192-bit RSA key (about 5 KiB).
pub(super) const MAX_PROOF_LEN: usize = 8 * 1024;
/// The longest `jti` accepted (panva's `dpop` sends 43 characters).
pub(super) const MAX_JTI_LEN: usize = 256;

/// What a proof may be signed with, and how old or how far ahead its `iat` may be.
///
/// It also remembers the proof keys that verified lately (up to 4,096, by their RFC 7638
/// thumbprint, shared by its clones), so that a client sending many proofs with one key does
/// not have its key loaded for each: for an Ed25519 key that is a point decompression, 9% of
/// the check (benches/README.md). Only a JWK made of exactly its thumbprint's members is
/// remembered; every check but the key's loading still runs on every proof.
#[derive(Debug, Clone)]
pub struct ProofSettings {
    algorithms: Vec<Algorithm>,
    max_age: Duration,
    future_skew: Duration,
    pub(super) keys: Arc<ProofKeys>,
}

impl Default for ProofSettings {
    fn default() -> Self {
        use Algorithm::*;
        ProofSettings {
            algorithms: vec![
                EdDSA, Ed25519, ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512,
            ],
            max_age: Duration::from_secs(300),
            future_skew: Duration::from_secs(5),
            keys: Arc::new(ProofKeys::new()),
        }
    }
}

impl ProofSettings {
    /// Every asymmetric algorithm (`EdDSA`, `Ed25519`, `ES256`, `ES384`, `ES512`, `RS256`,
    /// `RS384`, `RS512`, `PS256`, `PS384`, `PS512`); an `iat` up to 300 s old and 5 s ahead.
    pub fn new() -> Self {
        Self::default()
    }

    /// The algorithms a proof may be signed with, in the order the `algs` challenge parameter
    /// lists them. HMAC algorithms are dropped: a proof is signed by a key whose public half is
    /// in its header, never a shared secret (and `none` is not an [`Algorithm`]).
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms
            .iter()
            .copied()
            .filter(|alg| !alg.is_symmetric())
            .fold(Vec::new(), |mut kept, alg| {
                if !kept.contains(&alg) {
                    kept.push(alg);
                }
                kept
            });
        self
    }

    /// How old a proof's `iat` may be. Default: 300 s. Replays are refused for this long plus
    /// the future skew, so it is also how long a replay store keeps each proof.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// How far ahead of the server's clock a proof's `iat` may be. Default: 5 s.
    pub fn future_skew(mut self, skew: Duration) -> Self {
        self.future_skew = skew;
        self
    }

    /// The algorithms allowed, for the `algs` challenge parameter and the metadata's
    /// `dpop_signing_alg_values_supported`.
    pub fn algorithms_list(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// How long a proof stays acceptable: the `ttl` for a [`ReplayStore`](super::ReplayStore).
    pub fn replay_window(&self) -> Duration {
        self.max_age.saturating_add(self.future_skew)
    }
}

/// The request a proof must match.
#[derive(Clone, Copy)]
pub struct ProofRequest<'a> {
    /// The HTTP method, as sent (`GET`); compared with `htm` exactly.
    pub method: &'a str,
    /// The absolute URI the request was sent to: the external origin (scheme, host, port)
    /// that clients use, and the path; the query and the fragment are ignored. Behind a proxy,
    /// the origin must be configured, never read from `Host` or forwarded headers.
    pub uri: &'a str,
    /// The access token sent with the proof, if any: the proof's `ath` must then be its hash.
    pub access_token: Option<&'a str>,
    /// Now, in Unix seconds.
    pub now: i64,
}

impl fmt::Debug for ProofRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the token; the URI without its query, which may hold one.
        f.debug_struct("ProofRequest")
            .field("method", &self.method)
            .field("uri", &crate::redact::redact(self.uri))
            .field("access_token", &self.access_token.map(|_| "***"))
            .field("now", &self.now)
            .finish()
    }
}

/// A proof that passed every check of [`check_proof`]. Its `jti` is not yet known to be
/// unused: give [`replay_key`](Self::replay_key) to a [`ReplayStore`](super::ReplayStore).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key (base64url), to compare with the
    /// token's `cnf.jkt`.
    pub jkt: String,
    /// The algorithm the proof was signed with.
    pub alg: Algorithm,
    /// The proof's unique identifier.
    pub jti: String,
    /// When the proof was made, in Unix seconds (rounded down).
    pub iat: i64,
    /// The HTTP method the proof is for.
    pub htm: String,
    /// The URI the proof is for, normalised ([`normalize_htu`](super::normalize_htu)).
    pub htu: String,
    /// The server nonce the proof carries, for the caller to check
    /// ([`Nonces::check`](super::Nonces::check)).
    pub nonce: Option<String>,
}

impl VerifiedProof {
    /// The key under which a replay of this proof is recognised: SHA-256 over the
    /// thumbprint, `htm`, `htu` and `jti`, each prefixed with its length, so no two different
    /// proofs share one.
    pub fn replay_key(&self) -> ReplayKey {
        let mut hash = Sha256::new();
        hash.update(b"tower-bearer dpop replay v1\0");
        for part in [&self.jkt, &self.htm, &self.htu, &self.jti] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        ReplayKey::from_bytes(hash.finalize().into())
    }
}

/// Why a proof was refused: a precise reason, fit for an `error_description` and a `DEBUG`
/// log. It never quotes the proof, its claims or the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofError {
    why: Cow<'static, str>,
}

impl ProofError {
    fn new(why: impl Into<Cow<'static, str>>) -> Self {
        ProofError { why: why.into() }
    }

    /// The reason (`"htm is not the request's method"`).
    pub fn why(&self) -> &str {
        &self.why
    }
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid DPoP proof: {}", self.why)
    }
}

impl std::error::Error for ProofError {}

/// `ath`: base64url(SHA-256(the access token's ASCII)), without padding (RFC 9449 §4.2).
///
/// ```
/// assert_eq!(
///     tower_bearer::dpop::access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
///     "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo",
/// );
/// ```
pub fn access_token_hash(token: &str) -> String {
    Base64UrlUnpadded::encode_string(&Sha256::digest(token.as_bytes()))
}

/// Checks one DPoP proof against the request (RFC 9449 §4.3), all but the `jti`'s reuse
/// (a [`ReplayStore`](super::ReplayStore)'s) and the nonce's value (the caller's, with
/// [`Nonces`](super::Nonces)).
///
/// Refused, each with its own reason: a proof that is not one compact JWS (over 8 KiB, not
/// three segments, duplicate JSON members); a header whose `typ` is not exactly `dpop+jwt`,
/// whose `alg` is not in the settings (never `none` or HMAC), whose `jwk` is missing, not a
/// public key (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`), or does not fit `alg`; claims
/// without a non-empty string `jti` of at most 256 bytes, with an `htm` other than the
/// request's method, an `htu` that has a query or fragment or whose normal form is not the
/// request URI's, an `iat` that is not a number within the window, a `nonce` that is not a
/// string; when an access token came, an `ath` missing or not its hash (compared in constant
/// time); and a signature the `jwk` does not verify. The signature is checked last, after
/// every cheaper check.
pub fn check_proof(
    proof: &str,
    request: &ProofRequest<'_>,
    settings: &ProofSettings,
) -> Result<VerifiedProof, ProofError> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::new("longer than 8 KiB"));
    }
    let jws = jws::parse(proof).map_err(|why| ProofError::new(format!("not a JWS: {why}")))?;
    if jws.typ.as_deref() != Some("dpop+jwt") {
        return Err(ProofError::new("typ is not dpop+jwt"));
    }
    if jws.alg.is_symmetric() || !settings.algorithms.contains(&jws.alg) {
        return Err(ProofError::new(format!(
            "alg {} is not an allowed proof algorithm",
            jws.alg
        )));
    }
    let jwk = jws
        .jwk
        .as_ref()
        .ok_or(ProofError::new("no jwk in the header"))?;
    if PRIVATE_MEMBERS.iter().any(|m| jwk.get(m).is_some()) {
        return Err(ProofError::new("the jwk holds private key material"));
    }
    // The thumbprint first: it finds a key loaded for an earlier proof. A JWK without one is
    // refused below, after the reasons it was always refused for.
    let jkt = jwk_thumbprint(jwk);
    let cached = jkt
        .as_ref()
        .ok()
        .and_then(|jkt| settings.keys.get(jwk, jkt));
    let key = match cached {
        Some(key) => key,
        None => ProofKey::Loaded(Box::new(
            Key::from_jwk_once(jwk)
                .map_err(|_| ProofError::new("the jwk is not a usable public key"))?,
        )),
    };
    if !key.key().fits(jws.alg) {
        return Err(ProofError::new("the jwk does not fit alg"));
    }
    let claims = match json::parse(&jws.payload) {
        Ok(Value::Object(claims)) => claims,
        Ok(_) => return Err(ProofError::new("the claims are not a JSON object")),
        Err(_) => {
            return Err(ProofError::new(
                "the claims are not JSON, or repeat a member",
            ))
        }
    };
    let string = |name: &'static str| match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(ProofError::new(format!("{name} is not a string"))),
    };
    let jti = match string("jti")? {
        None | Some("") => return Err(ProofError::new("no jti")),
        Some(jti) if jti.len() > MAX_JTI_LEN => return Err(ProofError::new("jti is too long")),
        Some(jti) => jti,
    };
    let htm = string("htm")?.ok_or(ProofError::new("no htm"))?;
    if htm != request.method {
        return Err(ProofError::new("htm is not the request's method"));
    }
    let htu = check_htu(string("htu")?, request.uri)?;
    let iat = check_iat(&claims, request.now, settings)?;
    if let Some(token) = request.access_token {
        let ath = string("ath")?.ok_or(ProofError::new("no ath, and an access token came"))?;
        let expected = access_token_hash(token);
        if !crate::token::constant_time_eq(ath.as_bytes(), expected.as_bytes()) {
            return Err(ProofError::new("ath is not the access token's hash"));
        }
    }
    let nonce = string("nonce")?.map(str::to_owned);
    if !key.key().verify(jws.alg, jws.signing_input, &jws.signature) {
        return Err(ProofError::new(
            "the signature does not verify with the jwk",
        ));
    }
    let jkt = jkt.map_err(|e| ProofError::new(e.why()))?;
    // Kept only once it verified a proof: a JWK that never did costs the cache nothing.
    settings.keys.put(jwk, &jkt, key);
    Ok(VerifiedProof {
        jkt,
        alg: jws.alg,
        jti: jti.to_owned(),
        iat,
        htm: htm.to_owned(),
        htu,
        nonce,
    })
}

/// The claim's normal form, when it has no query or fragment and matches the request URI's.
fn check_htu(claim: Option<&str>, request_uri: &str) -> Result<String, ProofError> {
    let claim = claim.ok_or(ProofError::new("no htu"))?;
    let claim =
        htu::normalize(claim).ok_or(ProofError::new("htu is not an absolute http(s) URI"))?;
    if claim.had_query_or_fragment {
        return Err(ProofError::new("htu has a query or a fragment"));
    }
    let request = htu::normalize(request_uri).ok_or(ProofError::new(
        "the request URI is not an absolute http(s) URI (configure the external origin)",
    ))?;
    if claim.uri != request.uri {
        return Err(ProofError::new("htu is not the request's URI"));
    }
    Ok(claim.uri)
}

/// `iat`, rounded down, when it is a number within `[now - max_age, now + future_skew]`.
fn check_iat(
    claims: &Map<String, Value>,
    now: i64,
    settings: &ProofSettings,
) -> Result<i64, ProofError> {
    let iat = match claims.get("iat") {
        None => return Err(ProofError::new("no iat")),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .ok_or(ProofError::new("iat is out of range"))?,
        Some(_) => return Err(ProofError::new("iat is not a number")),
    };
    let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    if iat < now.saturating_sub(secs(settings.max_age)) {
        return Err(ProofError::new("iat is too old"));
    }
    if iat > now.saturating_add(secs(settings.future_skew)) {
        return Err(ProofError::new("iat is in the future"));
    }
    Ok(iat)
}

#[cfg(test)]
#[path = "proof_tests.rs"]
mod tests;
