//! The JWS compact serialization (RFC 7515 §7.1): `header.payload.signature`, each segment
//! base64url without padding. Strict: anything else is not a JWS here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use super::alg::Algorithm;
use crate::oauth::json;

/// A compact JWS whose header names an algorithm this crate verifies; not yet verified.
/// Its `Debug` shows the header's members only: the signing input, the payload and the
/// signature are parts of a token.
pub(crate) struct Jws<'a> {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) typ: Option<String>,
    /// The header's `jwk` (RFC 7515 §4.1.3), always a JSON object when present: the key a
    /// DPoP proof is signed with. Nothing else trusts it.
    #[cfg_attr(not(feature = "dpop"), allow(dead_code))]
    pub(crate) jwk: Option<Value>,
    /// `header.payload`, what the signature covers.
    pub(crate) signing_input: &'a [u8],
    pub(crate) payload: Vec<u8>,
    pub(crate) signature: Vec<u8>,
}

impl std::fmt::Debug for Jws<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jws")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("typ", &self.typ)
            .finish_non_exhaustive()
    }
}

/// Whether `token` has the shape of a compact JWS (three base64url segments): the cheap test
/// that routes a token to the JWT resolver rather than to an opaque-token one.
pub fn looks_like_jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    let shaped = |p: Option<&str>| {
        p.is_some_and(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    };
    let (h, p, s) = (parts.next(), parts.next(), parts.next());
    parts.next().is_none()
        && h.is_some_and(|h| h.starts_with("eyJ"))
        && shaped(h)
        && shaped(p)
        && shaped(s)
}

/// A segment, decoded strictly: no padding, no character outside the URL-safe alphabet, no
/// non-zero trailing bits. The segments are public, so the decoder need not be constant-time.
fn segment(text: &str) -> Result<Vec<u8>, &'static str> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| "a segment is not unpadded base64url")
}

/// Parses a compact JWS. Refused: not three segments; a segment that is not strict unpadded
/// base64url; a header that is not a JSON object, has a duplicate member, names `none`, an
/// unknown algorithm, or a `crit` extension (none is understood here, RFC 7515 §4.1.11), or
/// has a `kid` or `typ` that is not a string or a `jwk` that is not an object.
pub(crate) fn parse(token: &str) -> Result<Jws<'_>, &'static str> {
    let mut parts = token.splitn(4, '.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not three segments");
    };
    if header.is_empty() || signature.is_empty() {
        return Err("an empty header or signature");
    }
    let header_json = json::parse(&segment(header)?).map_err(|_| "the header is not JSON")?;
    let Value::Object(mut header_json) = header_json else {
        return Err("the header is not a JSON object");
    };
    let alg = header_json
        .get("alg")
        .and_then(Value::as_str)
        .and_then(Algorithm::from_name)
        .ok_or("no algorithm this crate verifies")?;
    if header_json.contains_key("crit") {
        return Err("a critical extension");
    }
    let string = |name: &str| match header_json.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err("a header member of the wrong type"),
    };
    let (kid, typ) = (string("kid")?, string("typ")?);
    let jwk = match header_json.remove("jwk") {
        None => None,
        Some(jwk @ Value::Object(_)) => Some(jwk),
        Some(_) => return Err("a header member of the wrong type"),
    };
    Ok(Jws {
        alg,
        kid,
        typ,
        jwk,
        signing_input: &token.as_bytes()[..header.len() + 1 + payload.len()],
        payload: segment(payload)?,
        signature: segment(signature)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding as _};

    fn b64(s: &str) -> String {
        Base64UrlUnpadded::encode_string(s.as_bytes())
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64(payload))
    }

    #[test]
    fn a_well_formed_token_parses() {
        let t = token(
            r#"{"alg":"ES256","kid":"k1","typ":"at+jwt"}"#,
            r#"{"sub":"u"}"#,
        );
        let jws = parse(&t).unwrap();
        assert_eq!(jws.alg, Algorithm::ES256);
        assert_eq!(jws.kid.as_deref(), Some("k1"));
        assert_eq!(jws.typ.as_deref(), Some("at+jwt"));
        assert!(jws.jwk.is_none());
        assert_eq!(jws.payload, br#"{"sub":"u"}"#);
        assert_eq!(jws.signature, b"sig");
        assert_eq!(jws.signing_input, t.rsplit_once('.').unwrap().0.as_bytes());
        let shown = format!("{jws:?}");
        assert!(shown.contains("ES256") && !shown.contains("sig") && !shown.contains("115"));
        assert!(looks_like_jwt(&t));
    }

    #[test]
    fn everything_else_is_refused() {
        let p = r#"{"sub":"u"}"#;
        for bad in [
            token(r#"{"alg":"none"}"#, p),
            token(r#"{"alg":"HS1"}"#, p),
            token(r#"{"kid":"k"}"#, p),
            token(r#"{"alg":"ES256","alg":"none"}"#, p),
            token(r#"{"alg":"ES256","crit":["exp"],"exp":1}"#, p),
            token(r#"{"alg":"ES256","kid":7}"#, p),
            token(r#"{"alg":"ES256","jwk":"k"}"#, p),
            token(r#"{"alg":"ES256","jwk":{"kty":"EC","kty":"EC"}}"#, p),
            token(r#"["alg"]"#, p),
            format!("{}.{}.c2ln=", b64(r#"{"alg":"ES256"}"#), b64(p)),
            format!("{}.{}.c2ln.x", b64(r#"{"alg":"ES256"}"#), b64(p)),
            format!("{}.{}", b64(r#"{"alg":"ES256"}"#), b64(p)),
            format!("{}.{}.", b64(r#"{"alg":"ES256"}"#), b64(p)),
            format!("{}.{}.c2l+", b64(r#"{"alg":"ES256"}"#), b64(p)),
            // Non-canonical trailing bits: `c2k` is "si"; `c2l` differs only in bits that
            // base64url leaves zero.
            format!("{}.{}.c2l", b64(r#"{"alg":"ES256"}"#), b64(p)),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
        let with_jwk = token(r#"{"alg":"Ed25519","jwk":{"kty":"OKP"}}"#, p);
        let jws = parse(&with_jwk).unwrap();
        assert_eq!(jws.alg, Algorithm::Ed25519);
        assert_eq!(jws.jwk, Some(serde_json::json!({"kty": "OKP"})));
        assert!(!looks_like_jwt("opaque-session-token"));
        assert!(looks_like_jwt(&token(r#"{"alg":"ES256"}"#, p)));
        assert!(!looks_like_jwt("abc.def"));
        assert!(!looks_like_jwt("eyJ.a.b.c"));
    }

    proptest::proptest! {
        /// Any payload and signature bytes round-trip through strict base64url; padding any
        /// segment, or a character outside the alphabet, is refused; nothing panics.
        #[test]
        fn segments_round_trip_and_padding_is_refused(
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            signature in proptest::collection::vec(proptest::num::u8::ANY, 1..96),
            junk in "[ -~]{0,80}",
        ) {
            let header = Base64UrlUnpadded::encode_string(br#"{"alg":"EdDSA","kid":"k"}"#);
            let p = Base64UrlUnpadded::encode_string(&payload);
            let s = Base64UrlUnpadded::encode_string(&signature);
            let token = format!("{header}.{p}.{s}");
            let jws = parse(&token).unwrap();
            proptest::prop_assert_eq!(&jws.payload, &payload);
            proptest::prop_assert_eq!(&jws.signature, &signature);
            let input = format!("{header}.{p}");
            proptest::prop_assert_eq!(jws.signing_input, input.as_bytes());
            for padded in [format!("{header}=.{p}.{s}"), format!("{header}.{p}=.{s}"), format!("{header}.{p}.{s}=")] {
                proptest::prop_assert!(parse(&padded).is_err());
            }
            let outside = format!("{header}.{p}+.{s}");
            proptest::prop_assert!(parse(&outside).is_err());
            let _ = parse(&junk);
            let _ = looks_like_jwt(&junk);
        }
    }
}
