//! Reading the bearer token out of a request: the `Authorization` header (RFC 6750 §2.1,
//! RFC 9110 §11) always, and the opt-in sources a browser can use (the query string, a form
//! body, a WebSocket subprotocol, a cookie). `form_layer.rs` is the layer in front that reads a
//! form body for its token (public as `tower_bearer::form`).

mod b64token;
mod cookie;
pub(crate) mod form;
pub mod form_layer;
mod header;
mod query;
mod secret;
pub(crate) mod sources;
mod subprotocol;

pub(crate) use b64token::is_b64token;
pub(crate) use form::form_token;
pub(crate) use header::{from_headers, from_headers_unchecked, mark_sensitive};
pub(crate) use secret::Secret;
pub use sources::{ApiKeyHeader, QueryParameter, SessionCookie, TokenSource, WebSocketProtocol};

use std::fmt;

/// The default upper bound on a token's length, in bytes: 4 KiB.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 4096;

/// A bearer token borrowed from a request.
///
/// Its `Debug` output is `Bearer ***`: the token never reaches a log through this type.
/// Call [`as_str`](Self::as_str) where the secret itself is needed (to hash it, or to send it on).
/// To check it against a known secret, use [`matches`](Self::matches), which takes as long
/// wherever the two differ; `==` between tokens does the same.
///
/// ```
/// use tower_bearer::BearerToken;
///
/// let token = BearerToken::new("mF_9.B5f-4.1JqM");
/// assert!(token.matches("mF_9.B5f-4.1JqM"));
/// assert!(!token.matches("mF_9.B5f-4.1Jq"));
/// assert_eq!(format!("{token:?}"), "Bearer ***");
/// ```
#[derive(Clone, Copy)]
pub struct BearerToken<'a>(&'a [u8], Option<&'a str>, TokenSource);

impl<'a> BearerToken<'a> {
    /// Wraps a token string. Nothing is checked: use this to call a resolver by hand.
    pub fn new(token: &'a str) -> Self {
        BearerToken(token.as_bytes(), None, TokenSource::Authorization)
    }

    /// This token as presented with a DPoP proof (RFC 9449) whose key has this RFC 7638
    /// thumbprint: what the layer hands resolvers behind a `DpopLayer`, and what a test or a
    /// hand-made call passes to a resolver that checks `cnf.jkt`.
    pub fn with_dpop_thumbprint<'b>(self, jkt: &'b str) -> BearerToken<'b>
    where
        'a: 'b,
    {
        BearerToken(self.0, Some(jkt), self.2)
    }

    /// Where the request carried the token: the `Authorization` header, or one of the layer's
    /// opt-in sources. A resolver behind a layer with several sources can tell an API key
    /// from a bearer token by it.
    ///
    /// ```
    /// use tower_bearer::{BearerToken, TokenSource};
    ///
    /// assert_eq!(BearerToken::new("t").source(), TokenSource::Authorization);
    /// ```
    pub fn source(&self) -> TokenSource {
        self.2
    }

    /// The thumbprint of the key of the DPoP proof the token came with, when it came with one
    /// (`Authorization: DPoP`, checked by a `DpopLayer`): a resolver whose tokens are bound to
    /// a key (`cnf.jkt`) accepts a bound token only with its key's proof, and refuses a token
    /// bound to no key that came with one.
    pub fn dpop_thumbprint(&self) -> Option<&'a str> {
        self.1
    }

    /// The secret token itself.
    pub fn as_str(&self) -> &'a str {
        // The bytes come from a `&str` or passed the `b64token` check, which admits ASCII only,
        // so this never falls back; except in `resolve_ready` of a resolver that
        // `knows_only_b64tokens`, which may see an unchecked token and must answer it as unknown.
        // (Checked here rather than when parsing: a resolver that hashes `as_bytes` never pays.)
        std::str::from_utf8(self.0).unwrap_or_default()
    }

    /// The secret token's bytes (ASCII): what a resolver hashes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The token's length in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl BearerToken<'_> {
    /// Whether the token equals `secret`, compared without an early exit: the time taken
    /// depends on the lengths only, never on where the two differ.
    pub fn matches(&self, secret: impl AsRef<[u8]>) -> bool {
        constant_time_eq(self.0, secret.as_ref())
    }
}

/// `a == b`, in time that depends only on the lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Keeps the compiler from turning the fold back into a compare that stops early.
    std::hint::black_box(diff) == 0
}

/// Constant-time, as [`BearerToken::matches`].
impl PartialEq for BearerToken<'_> {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0, other.0)
    }
}

impl Eq for BearerToken<'_> {}

impl fmt::Debug for BearerToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bearer ***")
    }
}

/// Which characters a token may have: the layer's [`token_chars`](crate::BearerLayer::token_chars).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenChars {
    /// RFC 6750's `b64token`: letters, digits, `-._~+/`, then any `=` padding. The default.
    #[default]
    B64Token,
    /// Any visible ASCII character (`!` to `~`), as better-auth's Bearer plugin takes: it
    /// accepts a signed token percent-encoded (`%2B`, `%2F`, `%3D`), as it comes from a cookie.
    Visible,
}

/// Why an `Authorization` header is malformed; each maps to `400 invalid_request`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// `Bearer` with nothing after it.
    Empty,
    /// A character outside `b64token`, or a separator other than spaces.
    Grammar,
    /// More than one `Authorization` field line.
    Repeated,
    /// The token query parameter on a method that may not carry it.
    Method,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_is_by_content_and_constant_time() {
        let t = BearerToken::new("abcdef");
        assert!(t.matches("abcdef"));
        assert!(t.matches(b"abcdef"));
        for other in ["abcdeg", "bbcdef", "abcde", "abcdefg", ""] {
            assert!(!t.matches(other), "{other}");
            assert_ne!(t, BearerToken::new(other));
        }
        assert_eq!(t, BearerToken::new("abcdef"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn debug_redacts() {
        let t = BearerToken::new("secret-token");
        assert_eq!(format!("{t:?}"), "Bearer ***");
        assert_eq!(format!("{:?}", Some(t)), "Some(Bearer ***)");
    }
}
