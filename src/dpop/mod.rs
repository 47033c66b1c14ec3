//! DPoP (RFC 9449): sender-constrained access tokens. Each request carries a fresh proof,
//! a JWS signed by a key the client holds, and a token bound to that key (`cnf.jkt`) is
//! useless without it.
//!
//! The pieces, each usable alone:
//!
//! - [`check_proof`]: one proof checked against the request as RFC 9449 §4.3 says (`typ`,
//!   an asymmetric `alg` from [`ProofSettings`], a public `jwk` that verifies the signature,
//!   `jti`, `htm`, `htu` compared after [`normalize_htu`], `iat` within a window, `ath` by
//!   [`access_token_hash`]), giving a [`VerifiedProof`] with the key's RFC 7638 thumbprint
//!   ([`jwk_thumbprint`]) to compare with the token's `cnf.jkt`;
//! - [`ReplayStore`]: whether a proof's [`ReplayKey`] was seen within its window, in memory
//!   ([`MemoryReplayStore`], bounded by time, failing closed when full) or in Redis
//!   (`RedisReplayStore`, feature `redis`, shared by every instance);
//! - [`Nonces`]: server nonces (§9), stateless and rotating, accepted by every instance that
//!   shares the secret.
//!
//! ```
//! use tower_bearer::dpop::{check_proof, ProofRequest, ProofSettings};
//!
//! // RFC 9449 §7.1's example: a GET with a DPoP-bound access token.
//! let proof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA";
//! let request = ProofRequest {
//!     method: "GET",
//!     uri: "https://resource.example.org/protectedresource",
//!     access_token: Some("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
//!     now: 1562262618,
//! };
//! let proof = check_proof(proof, &request, &ProofSettings::new()).unwrap();
//! // The token's cnf.jkt in RFC 9449 §6.2.
//! assert_eq!(proof.jkt, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
//! ```

mod challenge;
mod client;
mod client_key;
mod gate;
mod htu;
mod nonce;
mod pending;
mod proof;
mod proof_keys;
mod replay;
#[cfg(feature = "redis")]
mod replay_redis;
#[cfg(test)]
mod test_support;
mod thumbprint;

pub use client::{AddDpop, AddDpopFuture, DpopClientLayer, DpopKey, InvalidDpopKey, MissingOrigin};
pub use gate::{Dpop, DpopLayer, DpopMode, DpopProof};
pub use htu::normalize_htu;
pub use nonce::{NonceCheck, Nonces};
pub use pending::DpopFuture;
pub use proof::{
    access_token_hash, check_proof, ProofError, ProofRequest, ProofSettings, VerifiedProof,
};
pub use replay::{MemoryReplayStore, ReplayKey, ReplayStore, DEFAULT_REPLAY_CAPACITY};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use replay_redis::RedisReplayStore;
pub use thumbprint::{jwk_thumbprint, ThumbprintError};
