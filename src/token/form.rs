//! `access_token` in an `application/x-www-form-urlencoded` body (RFC 6750 §2.2).

use http::header::{HeaderMap, CONTENT_TYPE};
use http::Method;

use super::secret::{one_of, Presented, Secret};
use super::Malformed;

/// Whether RFC 6750 §2.2 lets this request carry the token in its body: not `GET`, and a
/// single-part `application/x-www-form-urlencoded` body.
pub(crate) fn is_form(method: &Method, headers: &HeaderMap) -> bool {
    if *method == Method::GET || *method == Method::HEAD {
        return false;
    }
    let Some(content_type) = headers.get(CONTENT_TYPE) else {
        return false;
    };
    let essence = content_type
        .as_bytes()
        .split(|&c| c == b';')
        .next()
        .unwrap_or_default();
    essence
        .trim_ascii()
        .eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
}

/// Every `name` parameter of a form body: `None` when there is none.
pub(crate) fn form_token(body: &[u8], name: &str) -> Presented {
    one_of(
        form_urlencoded::parse(body)
            .filter(|(key, _)| key == name)
            .map(|(_, value)| match value.is_empty() {
                true => Err(Malformed::Empty),
                false => Ok(Secret::new(value.into_owned().into_bytes())),
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::TokenChars;

    #[test]
    fn forms_and_their_tokens() {
        let with = |ct: &'static str| {
            let mut map = HeaderMap::new();
            map.insert(CONTENT_TYPE, ct.parse().unwrap());
            map
        };
        let form = with("Application/X-WWW-Form-Urlencoded; charset=UTF-8");
        assert!(is_form(&Method::POST, &form));
        assert!(!is_form(&Method::GET, &form));
        assert!(!is_form(&Method::POST, &with("application/json")));
        assert!(!is_form(
            &Method::POST,
            &with("multipart/form-data; boundary=x")
        ));
        assert!(!is_form(&Method::POST, &HeaderMap::new()));

        let token = |body: &str| {
            form_token(body.as_bytes(), "access_token").map(|r| {
                r.and_then(|s| {
                    s.checked(TokenChars::B64Token)
                        .map(|t| t.as_str().to_owned())
                })
            })
        };
        assert_eq!(token("a=1&access_token=x%2By&b=2"), Some(Ok("x+y".into())));
        assert_eq!(token("a=1"), None);
        assert_eq!(token("access_token="), Some(Err(Malformed::Empty)));
        assert_eq!(
            token("access_token=a&access_token=a"),
            Some(Err(Malformed::Repeated))
        );
    }
}
