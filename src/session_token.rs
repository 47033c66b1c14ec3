//! Secrets at rest in memory: [`SessionToken`], the token a store issues or a better-auth
//! session carries, and how new ones are drawn. Every store and resolver uses these; base64
//! everywhere goes through `base64ct`, whose encoders and decoders run in constant time.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A secret session token: the value a client sends as `Authorization: Bearer <token>`.
///
/// `Debug` prints `SessionToken(***)`, equality runs in constant time, and serde reads and
/// writes it as a plain string (better-auth's JSON carries it).
///
/// ```
/// use tower_bearer::SessionToken;
///
/// let token = SessionToken::new("s3cr3t");
/// assert_eq!(format!("{token:?}"), "SessionToken(***)");
/// assert!(token == SessionToken::new("s3cr3t"));
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionToken(String);

impl SessionToken {
    /// Wraps a token string.
    pub fn new(token: impl Into<String>) -> Self {
        SessionToken(token.into())
    }

    /// The secret itself, to send to the client.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The secret as a [`BearerToken`](crate::BearerToken), to resolve or revoke it.
    pub fn as_bearer(&self) -> crate::BearerToken<'_> {
        crate::BearerToken::new(&self.0)
    }
}

/// Constant-time: no early exit at the first differing byte.
impl PartialEq for SessionToken {
    fn eq(&self, other: &Self) -> bool {
        crate::token::constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for SessionToken {}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(***)")
    }
}

/// A new token: 32 bytes from the OS CSPRNG, base64url without padding (43 characters, inside
/// RFC 6750's `b64token`).
#[cfg(any(feature = "memory-store", feature = "redis"))]
pub(crate) fn generate_token() -> Result<SessionToken, getrandom::Error> {
    use base64ct::Encoding as _;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(SessionToken::new(
        base64ct::Base64UrlUnpadded::encode_string(&bytes),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_and_equality_by_content() {
        let t = SessionToken::new("very-secret");
        assert_eq!(format!("{t:?}"), "SessionToken(***)");
        assert!(t == SessionToken::new("very-secret"));
        assert!(t != SessionToken::new("very-secreT"));
        assert!(t != SessionToken::new("very-secre"));
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"very-secret\"");
    }

    #[cfg(any(feature = "memory-store", feature = "redis"))]
    #[test]
    fn generated_tokens_are_43_base64url_characters_and_distinct() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_eq!(a.as_str().len(), 43);
        assert!(a
            .as_str()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert!(a != b);
    }
}
