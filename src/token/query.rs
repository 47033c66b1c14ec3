//! The `access_token` query parameter (RFC 6750 §2.3): found, decoded, and cut out of the URI.

use http::uri::{PathAndQuery, Uri};

use super::secret::{one_of, Presented, Secret};
use super::Malformed;

/// Takes every `name` parameter out of `uri`'s query. `None` when there is none; else what was
/// presented and the URI without it (the other parameters keep their encoding and order).
pub(crate) fn take(uri: &Uri, name: &str) -> Option<(Presented, Uri)> {
    let query = uri.query()?;
    // Most queries name no token: they are looked at, and nothing is allocated for them.
    if !form_urlencoded::parse(query.as_bytes()).any(|(key, _)| key == name) {
        return None;
    }
    let mut kept = String::with_capacity(query.len());
    let mut found = Vec::new();
    for pair in query.split('&') {
        let (key, value) = form_urlencoded::parse(pair.as_bytes())
            .next()
            .unwrap_or_default();
        if pair.is_empty() || key != name {
            if !pair.is_empty() {
                if !kept.is_empty() {
                    kept.push('&');
                }
                kept.push_str(pair);
            }
            continue;
        }
        found.push(match value.is_empty() {
            true => Err(Malformed::Empty),
            false => Ok(Secret::new(value.into_owned().into_bytes())),
        });
    }
    let mut target = uri.path().to_owned();
    if !kept.is_empty() {
        target.push('?');
        target.push_str(&kept);
    }
    let mut parts = uri.clone().into_parts();
    // A path and query cut from a valid one stays valid.
    parts.path_and_query = PathAndQuery::try_from(target).ok();
    let stripped = Uri::from_parts(parts).ok()?;
    Some((one_of(found), stripped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::TokenChars;

    fn take_str(uri: &str) -> Option<(Result<String, Malformed>, String)> {
        let (presented, uri) = take(&uri.parse().unwrap(), "access_token")?;
        let token = presented.unwrap().and_then(|s| {
            s.checked(TokenChars::B64Token)
                .map(|t| t.as_str().to_owned())
        });
        Some((token, uri.to_string()))
    }

    #[test]
    fn the_parameter_is_decoded_and_cut_out() {
        assert_eq!(
            take_str("/ws?room=1&access_token=a%2Bb%3D&x=%20y"),
            Some((Ok("a+b=".into()), "/ws?room=1&x=%20y".into()))
        );
        assert_eq!(
            take_str("/ws?access_token=abc"),
            Some((Ok("abc".into()), "/ws".into()))
        );
        assert_eq!(
            take_str("http://h:1/p?access_token=abc&&z"),
            Some((Ok("abc".into()), "http://h:1/p?z".into()))
        );
        // `+` is a space in a query: an unencoded `+` leaves a token outside the grammar.
        assert_eq!(
            take_str("/p?access_token=a+b").map(|t| t.0),
            Some(Err(Malformed::Grammar))
        );
        // An encoded name is the same name.
        assert!(take_str("/p?access%5Ftoken=abc").is_some());
    }

    #[test]
    fn none_empty_and_repeated() {
        assert_eq!(take_str("/p"), None);
        assert_eq!(take_str("/p?token=abc&access_tokens=x"), None);
        assert_eq!(
            take_str("/p?access_token="),
            Some((Err(Malformed::Empty), "/p".into()))
        );
        assert_eq!(
            take_str("/p?access_token").map(|t| t.0),
            Some(Err(Malformed::Empty))
        );
        assert_eq!(
            take_str("/p?access_token=a&b=1&access_token=a"),
            Some((Err(Malformed::Repeated), "/p?b=1".into()))
        );
    }
}
