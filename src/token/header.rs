//! The `Authorization` header: `Bearer 1*SP b64token` (RFC 6750 §2.1, RFC 9110 §11).

use http::header::{Entry, HeaderMap, AUTHORIZATION};

use super::{is_b64token, BearerToken, Malformed, TokenChars, TokenSource};

/// Finds the bearer token in `headers`, and marks the `Authorization` value sensitive on the
/// way, so that logging code further in (tower-http's `TraceLayer`, a `Debug` of the headers)
/// prints `Sensitive` instead of the token.
///
/// `Ok(None)`: no credentials (no header, or another scheme such as `Basic`).
/// `Err`: the request tried to present a bearer token and got it wrong.
#[inline]
pub(crate) fn from_headers(
    headers: &mut HeaderMap,
    chars: TokenChars,
) -> Result<Option<BearerToken<'_>>, Malformed> {
    let Some(value) = authorization(headers)? else {
        return Ok(None);
    };
    match (chars, parse(value)) {
        // Only what failed the strict grammar is looked at again.
        (TokenChars::Visible, Err(Malformed::Grammar)) => parse_visible(value),
        (_, token) => token,
    }
}

/// [`from_headers`] under [`TokenChars::B64Token`], with every check but the token's
/// characters: the caller checks them with [`is_b64token`] before it answers anything but a
/// session. (A resolver that knows only `b64token`s proves a token well-formed by finding it,
/// and the characters decide only between `400` and `401`.)
#[inline]
pub(crate) fn from_headers_unchecked(
    headers: &mut HeaderMap,
) -> Result<Option<BearerToken<'_>>, Malformed> {
    match authorization(headers)? {
        Some(value) => parse_unchecked(value),
        None => Ok(None),
    }
}

/// The one `Authorization` value, marked sensitive; `Err` when there are several.
#[inline]
fn authorization(headers: &mut HeaderMap) -> Result<Option<&[u8]>, Malformed> {
    // One lookup on the usual path: `get_mut` finds the value to mark and to parse. Whether it
    // is repeated needs a second only when some header is (`len` counts values, `keys_len`
    // names), which callgrind shows saves ~130 instructions a request over `get_all` + `get_mut`.
    if headers.len() != headers.keys_len() && headers.get_all(AUTHORIZATION).iter().nth(1).is_some()
    {
        mark_sensitive(headers);
        return Err(Malformed::Repeated);
    }
    let Some(value) = headers.get_mut(AUTHORIZATION) else {
        return Ok(None);
    };
    value.set_sensitive(true);
    // A field value has no trailing whitespace (RFC 9110 §5.5): hyper trims it when it parses a
    // request, but a value built in code or by another server may still carry it.
    Ok(Some(value.as_bytes().trim_ascii_end()))
}

/// `Bearer 1*SP 1*VCHAR`: the lenient grammar of [`TokenChars::Visible`].
fn parse_visible(value: &[u8]) -> Result<Option<BearerToken<'_>>, Malformed> {
    // `parse` has checked the scheme and the separator already; only the token is left.
    let token = trim_spaces(&value[6..]);
    match token.iter().all(|c| c.is_ascii_graphic()) {
        true if !token.is_empty() => Ok(Some(BearerToken(token, None, TokenSource::Authorization))),
        _ => Err(Malformed::Grammar),
    }
}

/// Marks every `Authorization` value sensitive, however many there are.
pub(crate) fn mark_sensitive(headers: &mut HeaderMap) {
    // `entry` reserves room even when it finds nothing, which would allocate an empty map.
    if !headers.contains_key(AUTHORIZATION) {
        return;
    }
    if let Entry::Occupied(mut entry) = headers.entry(AUTHORIZATION) {
        entry.iter_mut().for_each(|value| value.set_sensitive(true));
    }
}

/// Parses one `Authorization` field value: `Bearer 1*SP b64token`.
#[inline]
pub(crate) fn parse(value: &[u8]) -> Result<Option<BearerToken<'_>>, Malformed> {
    match parse_unchecked(value)? {
        Some(token) if !is_b64token(token.0) => Err(Malformed::Grammar),
        token => Ok(token),
    }
}

/// [`parse`] but for the token's characters: the scheme, the separator, and a token that is
/// not empty.
#[inline]
fn parse_unchecked(value: &[u8]) -> Result<Option<BearerToken<'_>>, Malformed> {
    let Some((scheme, rest)) = value.split_first_chunk::<6>() else {
        return Ok(None);
    };
    if !is_bearer_scheme(scheme) {
        return Ok(None);
    }
    let token = match rest.first() {
        None => return Err(Malformed::Empty),
        Some(b' ') => trim_spaces(rest),
        // `Bearer<TAB>token` is a bearer attempt with the wrong separator.
        Some(b'\t') => return Err(Malformed::Grammar),
        // `BearerX…` is some other scheme.
        Some(_) => return Ok(None),
    };
    if token.is_empty() {
        return Err(Malformed::Empty);
    }
    Ok(Some(BearerToken(token, None, TokenSource::Authorization)))
}

/// `scheme` is `Bearer` in any case (RFC 9110 §11.1: schemes are case-insensitive).
///
/// One word compare: `| 0x20` maps exactly two bytes onto each lower-case letter, the letter
/// and its upper case, so the folded word equals `bearer` only for the scheme's spellings.
#[inline]
fn is_bearer_scheme(scheme: &[u8; 6]) -> bool {
    let [a, b, c, d, e, f] = *scheme;
    let word = u64::from_le_bytes([a, b, c, d, e, f, 0, 0]);
    word | 0x2020_2020_2020 == u64::from_le_bytes(*b"bearer\0\0")
}

fn trim_spaces(mut bytes: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = bytes {
        bytes = rest;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    fn token(v: &str) -> Result<Option<&str>, Malformed> {
        parse(v.as_bytes()).map(|t| t.map(|t| t.as_str()))
    }

    #[test]
    fn accepts_bearer_case_insensitively() {
        assert_eq!(token("Bearer abc"), Ok(Some("abc")));
        assert_eq!(token("bearer abc"), Ok(Some("abc")));
        assert_eq!(token("BEARER abc"), Ok(Some("abc")));
        assert_eq!(token("bEaReR abc"), Ok(Some("abc")));
    }

    #[test]
    fn the_scheme_compare_admits_exactly_the_64_spellings_of_bearer() {
        // Every 6-byte string made of each letter's two cases, and every single-byte change.
        let mut spellings = 0;
        for mask in 0..64u32 {
            let mut s = *b"bearer";
            for (i, c) in s.iter_mut().enumerate() {
                if mask & (1 << i) != 0 {
                    c.make_ascii_uppercase();
                }
            }
            assert!(is_bearer_scheme(&s), "{s:?}");
            spellings += 1;
            for i in 0..6 {
                for byte in 0..=255u8 {
                    let mut t = s;
                    t[i] = byte;
                    assert_eq!(
                        is_bearer_scheme(&t),
                        t.eq_ignore_ascii_case(b"bearer"),
                        "{t:?}"
                    );
                }
            }
        }
        assert_eq!(spellings, 64);
    }

    /// Found by the fuzz target `authorization`: a live token followed by spaces was refused.
    #[test]
    fn trailing_whitespace_is_not_part_of_the_field_value() {
        for value in ["Bearer abc  ", "Bearer abc\t", "Bearer abc \t "] {
            let mut headers = http::HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            let token =
                from_headers(&mut headers, TokenChars::B64Token).map(|t| t.map(|t| t.as_str()));
            assert_eq!(token, Ok(Some("abc")), "{value:?}");
            let token = from_headers_unchecked(&mut headers).map(|t| t.map(|t| t.as_str()));
            assert_eq!(token, Ok(Some("abc")), "{value:?}");
        }
        let mut headers = http::HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer   \t"));
        assert_eq!(
            from_headers(&mut headers, TokenChars::B64Token),
            Err(Malformed::Empty)
        );
    }

    #[test]
    fn one_or_more_spaces_separate_scheme_and_token() {
        assert_eq!(token("Bearer    abc"), Ok(Some("abc")));
    }

    #[test]
    fn full_alphabet_and_padding() {
        let t = "AZaz09-._~+/==";
        assert_eq!(token(&format!("Bearer {t}")), Ok(Some(t)));
    }

    #[test]
    fn other_schemes_are_no_credentials() {
        assert_eq!(token("Basic dXNlcjpwYXNz"), Ok(None));
        assert_eq!(token("BearerX abc"), Ok(None));
        assert_eq!(token("Bearerabc"), Ok(None));
        assert_eq!(token("Bear"), Ok(None));
        assert_eq!(token(""), Ok(None));
    }

    #[test]
    fn empty_token_is_malformed() {
        assert_eq!(token("Bearer"), Err(Malformed::Empty));
        assert_eq!(token("Bearer "), Err(Malformed::Empty));
        assert_eq!(token("Bearer    "), Err(Malformed::Empty));
    }

    #[test]
    fn grammar_violations_are_malformed() {
        for bad in [
            "Bearer\tabc",
            "Bearer ab c",
            "Bearer abc ",
            "Bearer \"abc\"",
            "Bearer a,b",
            "Bearer a=b",
            "Bearer =abc",
            "Bearer ==",
            "Bearer ab\tc",
            "Bearer abc;",
        ] {
            assert_eq!(token(bad), Err(Malformed::Grammar), "{bad:?}");
        }
    }

    #[test]
    fn non_ascii_and_obs_text_are_malformed() {
        assert_eq!(parse(b"Bearer ab\xffc"), Err(Malformed::Grammar));
        assert_eq!(parse(b"Bearer \x80"), Err(Malformed::Grammar));
        assert_eq!(token("Bearer caf\u{e9}"), Err(Malformed::Grammar));
    }

    #[test]
    fn header_map_rules() {
        let mut headers = HeaderMap::new();
        assert_eq!(from_headers(&mut headers, TokenChars::B64Token), Ok(None));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(
            from_headers(&mut headers, TokenChars::B64Token)
                .unwrap()
                .unwrap()
                .as_str(),
            "abc"
        );
        // Another header repeated is no repeated Authorization.
        headers.append("accept", HeaderValue::from_static("a"));
        headers.append("accept", HeaderValue::from_static("b"));
        assert_eq!(
            from_headers(&mut headers, TokenChars::B64Token)
                .unwrap()
                .unwrap()
                .as_str(),
            "abc"
        );
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(
            from_headers(&mut headers, TokenChars::B64Token),
            Err(Malformed::Repeated)
        );
    }

    #[test]
    fn visible_chars_take_what_b64token_refuses_and_nothing_invisible() {
        let visible = |v: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_static(v));
            from_headers(&mut headers, TokenChars::Visible)
                .map(|t| t.map(|t| t.as_str().to_owned()))
        };
        let signed = "Bearer abc.fwxlN3up%2B%2F%3D";
        assert_eq!(visible(signed), Ok(Some("abc.fwxlN3up%2B%2F%3D".into())));
        assert_eq!(visible("bearer   a!b\\c"), Ok(Some("a!b\\c".into())));
        assert_eq!(visible("Bearer abc"), Ok(Some("abc".into())));
        assert_eq!(visible("Bearer a b"), Err(Malformed::Grammar));
        assert_eq!(visible("Bearer\ta%b"), Err(Malformed::Grammar));
        assert_eq!(visible("Bearer   "), Err(Malformed::Empty));
        assert_eq!(visible("Basic a%b"), Ok(None));
        // The default grammar refuses the percent-encoded form.
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static(signed));
        assert_eq!(
            from_headers(&mut headers, TokenChars::B64Token),
            Err(Malformed::Grammar)
        );
    }

    #[test]
    fn authorization_values_are_marked_sensitive() {
        let mut headers = HeaderMap::new();
        mark_sensitive(&mut headers);
        assert_eq!(
            headers.capacity(),
            0,
            "nothing allocated for a map without the header"
        );
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        let _ = from_headers(&mut headers, TokenChars::B64Token);
        assert!(headers[AUTHORIZATION].is_sensitive());
        assert_eq!(format!("{headers:?}"), r#"{"authorization": Sensitive}"#);
        let mut other = HeaderMap::new();
        other.append(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        other.append(AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        assert_eq!(
            from_headers(&mut other, TokenChars::B64Token),
            Err(Malformed::Repeated)
        );
        assert!(other
            .get_all(AUTHORIZATION)
            .iter()
            .all(|v| v.is_sensitive()));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse(&bytes);
            let mut with_scheme = b"Bearer ".to_vec();
            with_scheme.extend_from_slice(&bytes);
            let _ = parse(&with_scheme);
        }

        #[test]
        fn every_grammatical_token_is_accepted_unchanged(t in "[A-Za-z0-9._~+/-]{1,64}={0,3}", spaces in 1usize..4) {
            let header = format!("Bearer{}{}", " ".repeat(spaces), t);
            prop_assert_eq!(token(&header), Ok(Some(t.as_str())));
        }

        #[test]
        fn accepted_tokens_match_the_grammar(bytes in proptest::collection::vec(any::<u8>(), 1..32)) {
            let mut header = b"Bearer ".to_vec();
            header.extend_from_slice(&bytes);
            if let Ok(Some(t)) = parse(&header) {
                prop_assert!(is_b64token(t.as_str().as_bytes()));
                prop_assert_eq!(t.as_str().as_bytes(), trim_spaces(&bytes));
            }
        }
    }
}
