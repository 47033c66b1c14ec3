//! [`jwk_thumbprint`]: the RFC 7638 SHA-256 thumbprint of a public JWK, the `jkt` that binds
//! a token to a DPoP key (RFC 9449 §6).

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// Why a JWK has no thumbprint here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThumbprintError(&'static str);

impl ThumbprintError {
    /// The reason, fit for a log or an `error_description`: it never quotes the JWK.
    pub fn why(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for ThumbprintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no JWK thumbprint: {}", self.0)
    }
}

impl std::error::Error for ThumbprintError {}

/// The RFC 7638 thumbprint of a public JWK, SHA-256, base64url without padding: the hash of
/// the key's required members only, in lexicographic order, with no whitespace (`EC`: `crv`,
/// `kty`, `x`, `y`; `OKP`: `crv`, `kty`, `x`; `RSA`: `e`, `kty`, `n`). Other members (`kid`,
/// `alg`, `use`) do not change it. Refused: a JWK that is not an object, a `kty` other than
/// those three (an `oct` key is a secret, never bound to), a required member that is missing
/// or not a string.
///
/// ```
/// use serde_json::json;
/// use tower_bearer::dpop::jwk_thumbprint;
///
/// let jwk = json!({
///     "kty": "OKP", "crv": "Ed25519", "kid": "ignored",
///     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
/// });
/// assert_eq!(jwk_thumbprint(&jwk).unwrap(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
/// ```
pub fn jwk_thumbprint(jwk: &Value) -> Result<String, ThumbprintError> {
    let Value::Object(members) = jwk else {
        return Err(ThumbprintError("the JWK is not a JSON object"));
    };
    let required = match members.get("kty").and_then(Value::as_str) {
        Some(kty) => {
            required_members(kty).ok_or(ThumbprintError("a kty other than EC, OKP or RSA"))?
        }
        None => return Err(ThumbprintError("no kty string")),
    };
    let mut canonical = Vec::with_capacity(128);
    canonical.push(b'{');
    for (i, name) in required.iter().enumerate() {
        let Some(Value::String(value)) = members.get(*name) else {
            return Err(ThumbprintError(
                "a required member is missing or not a string",
            ));
        };
        if i > 0 {
            canonical.push(b',');
        }
        // serde_json writes a string as RFC 8259 does, escapes and all (RFC 7638 §3.3); the
        // names need none.
        canonical.push(b'"');
        canonical.extend_from_slice(name.as_bytes());
        canonical.extend_from_slice(b"\":");
        serde_json::to_writer(&mut canonical, value).expect("a string serialises into a Vec");
    }
    canonical.push(b'}');
    Ok(Base64UrlUnpadded::encode_string(&Sha256::digest(
        &canonical,
    )))
}

/// The members of a public JWK of type `kty` that its thumbprint covers, in lexicographic
/// order (RFC 7638 §3.2); `None` for a `kty` that has no thumbprint here.
pub(super) fn required_members(kty: &str) -> Option<&'static [&'static str]> {
    match kty {
        "EC" => Some(&["crv", "kty", "x", "y"]),
        "OKP" => Some(&["crv", "kty", "x"]),
        "RSA" => Some(&["e", "kty", "n"]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// RFC 7638 §3.1: the RSA key of RFC 7517 appendix A.1 and its thumbprint (the RFC's
    /// text, as every other implementation has it).
    #[test]
    fn rfc_7638_example() {
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    /// The members are taken in lexicographic order, whatever the JWK's order, and only the
    /// required ones: the hash is of exactly the canonical text.
    /// RFC 9449 §6: the `cnf.jkt` of the examples' P-256 key.
    #[test]
    fn rfc_9449_example_key() {
        let jwk = json!({
            "kty": "EC",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
            "crv": "P-256"
        });
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
    }

    #[test]
    fn only_required_members_in_order() {
        let ec = json!({"y": "Y", "x": "X", "kid": "k", "crv": "P-256", "kty": "EC", "use": "sig"});
        let expected = Base64UrlUnpadded::encode_string(&Sha256::digest(
            br#"{"crv":"P-256","kty":"EC","x":"X","y":"Y"}"#,
        ));
        assert_eq!(jwk_thumbprint(&ec).unwrap(), expected);
        let okp = json!({"x": "X", "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA"});
        let expected = Base64UrlUnpadded::encode_string(&Sha256::digest(
            br#"{"crv":"Ed25519","kty":"OKP","x":"X"}"#,
        ));
        assert_eq!(jwk_thumbprint(&okp).unwrap(), expected);
    }

    #[test]
    fn unusable_jwks_are_refused() {
        for (jwk, why) in [
            (json!("RSA"), "not a JSON object"),
            (json!({"n": "n", "e": "e"}), "no kty"),
            (json!({"kty": "oct", "k": "c2VjcmV0"}), "a kty other"),
            (json!({"kty": "EC", "crv": "P-256", "x": "X"}), "missing"),
            (json!({"kty": "RSA", "n": "n", "e": 65537}), "not a string"),
        ] {
            let error = jwk_thumbprint(&jwk).unwrap_err();
            assert!(error.why().contains(why), "{jwk}: {error}");
        }
    }
}
