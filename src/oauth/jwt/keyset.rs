//! [`KeySet`]: the keys a token may be verified with, from a JWKS or your configuration.

use super::alg::Algorithm;
use super::key::{bad, Key, KeyError};

/// The keys a token may be verified with: a JWKS, or keys you configure.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    /// A set of these keys.
    pub fn new(keys: impl IntoIterator<Item = Key>) -> Self {
        KeySet {
            keys: keys.into_iter().collect(),
        }
    }

    /// The keys of a JWKS document (`{"keys": [...]}`). Keys this crate cannot use (another
    /// `kty`, `use: enc`, an `alg` that does not fit) are left out, as RFC 7517 §5 allows; a
    /// document that is not a JWKS at all is an error.
    pub fn from_jwks(document: &[u8]) -> Result<Self, KeyError> {
        let value = crate::oauth::json::parse(document).map_err(|e| bad(format!("JWKS: {e}")))?;
        let keys = value["keys"]
            .as_array()
            .ok_or_else(|| bad("JWKS: no keys array"))?;
        Ok(KeySet::new(keys.iter().filter_map(|jwk| {
            Key::from_jwk(jwk)
                .inspect_err(|error| {
                    let kid = jwk["kid"].as_str().unwrap_or("");
                    tracing::warn!(kid, %error, "bearer: a JWKS key is left out");
                })
                .ok()
        })))
    }

    /// The keys.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Whether the set holds a key with this `kid`.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid() == Some(kid))
    }

    /// The keys that may verify a token with this header: the ones with its `kid` (any key
    /// when it names none) that fit its `alg`.
    pub(crate) fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a Key> + 'a {
        self.keys
            .iter()
            .filter(move |k| kid.is_none_or(|kid| k.kid() == Some(kid)) && k.fits(alg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_keep_usable_keys_and_refuse_dangerous_ones() {
        let doc = br#"{"keys":[
            {"kty":"OKP","crv":"Ed25519","kid":"ok","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":"oct","kid":"secret","k":"c2VjcmV0"},
            {"kty":"OKP","crv":"Ed25519","kid":"enc","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":"OKP","crv":"Ed25519","kid":"wrongalg","alg":"RS256","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":"OKP","crv":"X25519","kid":"x","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
        ]}"#;
        let set = KeySet::from_jwks(doc).unwrap();
        let kids: Vec<_> = set.keys().iter().filter_map(Key::kid).collect();
        assert_eq!(kids, ["ok"]);
        assert!(KeySet::from_jwks(br#"{"keys":{}}"#).is_err());
        assert!(KeySet::from_jwks(br#"{"keys":[],"keys":[]}"#).is_err());
    }
}
