//! [`Algorithm`]: the JWS algorithms this crate verifies.

use std::fmt;

/// A JWS signature algorithm this crate verifies (RFC 7518, RFC 8037).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(clippy::upper_case_acronyms)]
pub enum Algorithm {
    /// Ed25519 (RFC 8037).
    EdDSA,
    /// Ed25519, the fully specified name of RFC 9864 (`"Ed25519"`): verified exactly as
    /// [`EdDSA`](Algorithm::EdDSA) is, by `OKP` / `Ed25519` keys.
    Ed25519,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// ECDSA on P-521 with SHA-512.
    ES512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// HMAC with SHA-256; only with a secret you configure.
    HS256,
    /// HMAC with SHA-384; only with a secret you configure.
    HS384,
    /// HMAC with SHA-512; only with a secret you configure.
    HS512,
}

impl Algorithm {
    const ALL: [Algorithm; 14] = [
        Algorithm::EdDSA,
        Algorithm::Ed25519,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
    ];

    /// The name in a JOSE header (`"ES256"`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::EdDSA => "EdDSA",
            Algorithm::Ed25519 => "Ed25519",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
        }
    }

    /// The algorithm a JOSE header names; `None` for `none` and anything unknown.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// Whether `self` and `other` verify the same way: equal, or `EdDSA` and `Ed25519` (the
    /// same signature under two names, RFC 9864 §2.2).
    pub(crate) fn same_verification(self, other: Algorithm) -> bool {
        use Algorithm::{Ed25519, EdDSA};
        self == other || matches!((self, other), (EdDSA, Ed25519) | (Ed25519, EdDSA))
    }

    /// Whether the algorithm is HMAC, which needs a shared secret.
    #[cfg_attr(not(feature = "dpop"), allow(dead_code))]
    pub(crate) fn is_symmetric(self) -> bool {
        matches!(self, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
