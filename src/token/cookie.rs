//! A session cookie: found by name, percent-decoded, and the cross-site check that guards a
//! request it authenticates.

use http::header::{HeaderMap, COOKIE, ORIGIN, REFERER, UPGRADE};
use http::Method;

use super::secret::Secret;
use super::Malformed;

/// The value of the first of `names` (in that order of preference) that the request carries,
/// percent-decoded. `None` when it carries none of them.
pub(crate) fn find<N: AsRef<str>>(
    headers: &HeaderMap,
    names: &[N],
) -> Option<Result<Secret, Malformed>> {
    names
        .iter()
        .find_map(|name| value_of(headers, name.as_ref().as_bytes()))
}

/// The first cookie called `name`: browsers send the one with the longest path first.
fn value_of(headers: &HeaderMap, name: &[u8]) -> Option<Result<Secret, Malformed>> {
    let raw = headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&c| c == b';'))
        .find_map(|pair| {
            let (key, value) = split_once(pair.trim_ascii(), b'=')?;
            (key == name).then_some(value)
        })?;
    // RFC 6265 allows the value in double quotes.
    let raw = match raw {
        [b'"', inner @ .., b'"'] => inner,
        raw => raw,
    };
    if raw.is_empty() {
        return Some(Err(Malformed::Empty));
    }
    let decoded: Vec<u8> = percent_encoding::percent_decode(raw).collect();
    Some(Ok(Secret::new(decoded)))
}

fn split_once(bytes: &[u8], at: u8) -> Option<(&[u8], &[u8])> {
    let i = bytes.iter().position(|&c| c == at)?;
    Some((&bytes[..i], &bytes[i + 1..]))
}

/// Whether a request a cookie authenticates needs the origin check: an unsafe method, or a
/// WebSocket handshake (cross-site WebSocket hijacking rides on `GET`).
pub(crate) fn needs_origin_check(method: &Method, headers: &HeaderMap) -> bool {
    let safe = matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    let websocket = headers.get_all(UPGRADE).iter().any(|v| {
        v.as_bytes()
            .split(|&c| c == b',')
            .any(|p| p.trim_ascii().eq_ignore_ascii_case(b"websocket"))
    });
    !safe || websocket
}

/// Whether the request comes from a trusted origin: its `Origin`, else the origin of its
/// `Referer`, among `trusted` (each `scheme://host[:port]`, lower case). No origin at all, or
/// `Origin: null`, is not trusted.
pub(crate) fn origin_trusted(headers: &HeaderMap, trusted: &[String]) -> bool {
    let origin = match (headers.get(ORIGIN), headers.get(REFERER)) {
        (Some(origin), _) => origin.as_bytes(),
        (None, Some(referer)) => origin_of(referer.as_bytes()),
        (None, None) => return false,
    };
    !origin.is_empty()
        && trusted
            .iter()
            .any(|t| t.as_bytes().eq_ignore_ascii_case(origin))
}

/// `scheme://authority` of a URL: what comes before its path, query or fragment.
fn origin_of(url: &[u8]) -> &[u8] {
    let Some(start) = url.windows(3).position(|w| w == b"://") else {
        return b"";
    };
    let authority = &url[start + 3..];
    let end = authority
        .iter()
        .position(|&c| matches!(c, b'/' | b'?' | b'#'))
        .unwrap_or(authority.len());
    &url[..start + 3 + end]
}

/// A trusted origin as configured, in the form `Origin` carries: no trailing slash, lower case.
pub(crate) fn normalize_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::TokenChars;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn cookie(map: &HeaderMap, names: &[&str]) -> Option<Result<String, Malformed>> {
        find(map, names).map(|r| {
            r.and_then(|s| {
                s.checked(TokenChars::B64Token)
                    .map(|t| t.as_str().to_owned())
            })
        })
    }

    #[test]
    fn the_named_cookie_is_found_and_decoded() {
        let map = headers(&[
            (
                "cookie",
                "theme=dark; better-auth.session_token=abc.fw%2Bx%2F%3D",
            ),
            ("cookie", "sid=\"q1\""),
        ]);
        let ba = [
            "__Secure-better-auth.session_token",
            "better-auth.session_token",
        ];
        assert_eq!(cookie(&map, &ba), Some(Ok("abc.fw+x/=".into())));
        assert_eq!(cookie(&map, &["sid"]), Some(Ok("q1".into())));
        assert_eq!(cookie(&map, &["session_token"]), None);
        // The secure name wins when both are sent.
        let both = headers(&[(
            "cookie",
            "better-auth.session_token=plain; __Secure-better-auth.session_token=secure",
        )]);
        assert_eq!(cookie(&both, &ba), Some(Ok("secure".into())));
        assert_eq!(
            cookie(&headers(&[("cookie", "sid=")]), &["sid"]),
            Some(Err(Malformed::Empty))
        );
        assert_eq!(
            cookie(&headers(&[("cookie", "sid=a%20b")]), &["sid"]),
            Some(Err(Malformed::Grammar))
        );
    }

    #[test]
    fn origins() {
        let trusted = vec![normalize_origin("https://App.example/")];
        assert_eq!(trusted, ["https://app.example"]);
        let ok = |pairs: &[(&'static str, &str)]| origin_trusted(&headers(pairs), &trusted);
        assert!(ok(&[("origin", "https://app.example")]));
        assert!(!ok(&[("origin", "https://evil.example")]));
        assert!(!ok(&[("origin", "null")]));
        assert!(!ok(&[]));
        assert!(ok(&[("referer", "https://app.example/page?q=1")]));
        assert!(ok(&[("referer", "https://app.example")]));
        assert!(!ok(&[("referer", "https://app.example.evil/")]));
        assert!(!ok(&[("referer", "/relative")]));
        // Origin decides when both are there.
        assert!(!ok(&[
            ("origin", "https://evil.example"),
            ("referer", "https://app.example/")
        ]));
    }

    #[test]
    fn which_requests_need_the_check() {
        let none = HeaderMap::new();
        assert!(!needs_origin_check(&Method::GET, &none));
        assert!(!needs_origin_check(&Method::HEAD, &none));
        assert!(needs_origin_check(&Method::POST, &none));
        assert!(needs_origin_check(&Method::DELETE, &none));
        let ws = headers(&[("upgrade", "WebSocket")]);
        assert!(needs_origin_check(&Method::GET, &ws));
    }
}
