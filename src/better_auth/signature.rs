//! [`Signatures`]: better-auth's signed bearer values, checked as its Bearer plugin does.

use std::borrow::Cow;
use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// better-auth's secrets, and whether a raw (unsigned) token is accepted.
///
/// better-auth itself signs and verifies with one secret only (the first of its `secrets`).
/// Several here allow rotation: a signature under any of them is accepted, which goes beyond
/// better-auth. `Debug` prints no secret.
#[derive(Clone)]
pub struct Signatures {
    secrets: Vec<Vec<u8>>,
    require_signature: bool,
}

impl Signatures {
    /// Verifies signatures under these secrets (the first is better-auth's `secret`); raw tokens
    /// are accepted, as the plugin does by default.
    pub fn new<S: AsRef<[u8]>>(secrets: impl IntoIterator<Item = S>) -> Self {
        Signatures {
            secrets: secrets.into_iter().map(|s| s.as_ref().to_vec()).collect(),
            require_signature: false,
        }
    }

    /// Refuses raw tokens: the plugin's `requireSignature`.
    pub fn require_signature(mut self, require: bool) -> Self {
        self.require_signature = require;
        self
    }

    /// The session token a bearer value carries, if better-auth would accept the value; the
    /// token is what better-auth's database and Redis storage are keyed by.
    pub fn session_token<'a>(&self, value: &'a str) -> Option<Cow<'a, str>> {
        self.check(value).ok()
    }

    /// The session token, or why better-auth would refuse the value: for the resolvers'
    /// `DEBUG` line, so it never holds the value or a secret.
    pub(crate) fn check<'a>(&self, value: &'a str) -> Result<Cow<'a, str>, &'static str> {
        if !value.contains('.') {
            return match (value.is_empty(), self.require_signature) {
                (true, _) => Err("an empty token"),
                (false, true) => Err(UNSIGNED),
                (false, false) => Ok(Cow::Borrowed(value)),
            };
        }
        let decoded = if value.contains('%') {
            percent_decode(value).map_or(Cow::Borrowed(value), Cow::Owned)
        } else {
            Cow::Borrowed(value)
        };
        let dot = decoded.rfind('.').ok_or(MALFORMED)?;
        let (token, signature) = (&decoded[..dot], &decoded[dot + 1..]);
        if token.is_empty() || !is_padded_base64_of_32_bytes(signature) {
            return Err(MALFORMED);
        }
        let valid = self.secrets.iter().any(|secret| {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
            mac.update(token.as_bytes());
            let expected = base64_standard(&mac.finalize().into_bytes());
            crate::token::constant_time_eq(expected.as_bytes(), signature.as_bytes())
        });
        if !valid {
            return Err(NO_SECRET);
        }
        Ok(match decoded {
            Cow::Borrowed(v) => Cow::Borrowed(&v[..dot]),
            Cow::Owned(v) => Cow::Owned(v[..dot].to_owned()),
        })
    }
}

/// Why a value is refused before any lookup.
const UNSIGNED: &str = "an unsigned token, and require_signature is set";
const MALFORMED: &str =
    "not a value better-auth signs: TOKEN.SIGNATURE, the signature 44 characters of base64";
const NO_SECRET: &str = "the signature verifies with none of the configured secrets: is \
                         BETTER_AUTH_SECRET the better-auth server's own?";

impl fmt::Debug for Signatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signatures")
            .field("secrets", &format_args!("[*** x {}]", self.secrets.len()))
            .field("require_signature", &self.require_signature)
            .finish()
    }
}

/// 43 characters of the standard alphabet and one `=`: the only encoding better-auth accepts.
fn is_padded_base64_of_32_bytes(signature: &str) -> bool {
    let bytes = signature.as_bytes();
    bytes.len() == 44
        && bytes[43] == b'='
        && bytes[..43]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/'))
}

fn base64_standard(bytes: &[u8]) -> String {
    use base64ct::Encoding as _;
    base64ct::Base64::encode_string(bytes)
}

/// `decodeURIComponent`: `None` where it would throw (a bad escape, or bytes that are not
/// UTF-8), and the plugin then keeps the value as it came.
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "better-auth-secret-123456789012345678";
    const TOKEN: &str = "AbCdEfGhIjKlMnOpQrStUvWxYz012345";
    // Node: crypto.createHmac('sha256', SECRET).update(TOKEN).digest('base64')
    const SIGNATURE: &str = "fwxlN3upaA8+Oxxj+F3qJJWajTDcWXJMm1CeUKsJFAw=";

    fn signed() -> String {
        format!("{TOKEN}.{SIGNATURE}")
    }

    #[test]
    fn accepts_what_better_auth_accepts() {
        let s = Signatures::new([SECRET]);
        assert_eq!(s.session_token(&signed()).as_deref(), Some(TOKEN));
        // Percent-encoded, as it comes from a cookie.
        let encoded = signed()
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        assert_eq!(s.session_token(&encoded).as_deref(), Some(TOKEN));
        // A raw token, unless signatures are required.
        assert_eq!(s.session_token(TOKEN).as_deref(), Some(TOKEN));
        assert_eq!(s.clone().require_signature(true).session_token(TOKEN), None);
        assert_eq!(
            s.require_signature(true)
                .session_token(&signed())
                .as_deref(),
            Some(TOKEN)
        );
        // A second vector.
        let s = Signatures::new([SECRET]);
        let other = "0123456789abcdefghijABCDEFGHIJxy.ko4mPPId0IjciP8M2EpBYlP8FXMWCITpG8/9RYDXeCQ=";
        assert_eq!(
            s.session_token(other).as_deref(),
            Some("0123456789abcdefghijABCDEFGHIJxy")
        );
    }

    #[test]
    fn refuses_what_better_auth_refuses() {
        let s = Signatures::new([SECRET]);
        let url = SIGNATURE.replace('+', "-").replace('/', "_");
        for bad in [
            format!("{TOKEN}.{url}"),
            format!("{TOKEN}.{}", SIGNATURE.trim_end_matches('=')),
            format!("{TOKEN}.{}", &SIGNATURE[..40]),
            format!("{TOKEN}x.{SIGNATURE}"),
            format!(".{SIGNATURE}"),
            format!("{TOKEN}."),
            format!("{TOKEN}.{SIGNATURE}x"),
        ] {
            assert_eq!(s.session_token(&bad), None, "{bad}");
        }
        let other = Signatures::new(["another-secret-that-is-long-enough-1234"]);
        assert_eq!(other.session_token(&signed()), None);
        assert_eq!(other.check(&signed()), Err(NO_SECRET));
        assert_eq!(s.check(&format!("{TOKEN}.{url}")), Err(MALFORMED));
        assert_eq!(
            s.clone().require_signature(true).check(TOKEN),
            Err(UNSIGNED)
        );
        // Rotation: any listed secret verifies.
        let rotated = Signatures::new(["new-secret-that-is-long-enough-12345678", SECRET]);
        assert_eq!(rotated.session_token(&signed()).as_deref(), Some(TOKEN));
    }

    #[test]
    fn debug_prints_no_secret() {
        let printed = format!("{:?}", Signatures::new([SECRET]));
        assert!(!printed.contains("better-auth-secret"), "{printed}");
    }

    #[test]
    fn base64_matches_rfc_4648() {
        assert_eq!(base64_standard(b"f"), "Zg==");
        assert_eq!(base64_standard(b"fo"), "Zm8=");
        assert_eq!(base64_standard(b"foo"), "Zm9v");
        assert_eq!(base64_standard(&[0xfb, 0xff]), "+/8=");
    }
}
