//! A token inside `Sec-WebSocket-Protocol`, as Kubernetes takes it: an entry of the prefix
//! followed by the token in unpadded base64url. The entry is cut out; the other protocols stay.

use base64ct::{Base64UrlUnpadded, Encoding};
use http::header::{HeaderMap, HeaderValue, SEC_WEBSOCKET_PROTOCOL};

use super::secret::{one_of, Presented, Secret};
use super::Malformed;

/// Takes the entries that start with `prefix` out of the request's subprotocols. `None` when
/// there is none.
pub(crate) fn take(headers: &mut HeaderMap, prefix: &str) -> Option<Presented> {
    let offered = || {
        headers
            .get_all(SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .flat_map(|value| value.as_bytes().split(|&c| c == b','))
            .map(<[u8]>::trim_ascii)
    };
    if !offered().any(|entry| entry.starts_with(prefix.as_bytes())) {
        return None;
    }
    let mut found = Vec::new();
    let mut kept = Vec::new();
    for entry in offered() {
        match entry.strip_prefix(prefix.as_bytes()) {
            Some(encoded) => found.push(decode(encoded)),
            None if entry.is_empty() => {}
            None => kept.push(entry.to_vec()),
        }
    }
    headers.remove(SEC_WEBSOCKET_PROTOCOL);
    if !kept.is_empty() {
        let joined = kept.join(&b", "[..]);
        // Joined from parts of valid values with a valid separator.
        if let Ok(value) = HeaderValue::from_bytes(&joined) {
            headers.insert(SEC_WEBSOCKET_PROTOCOL, value);
        }
    }
    Some(one_of(found))
}

fn decode(encoded: &[u8]) -> Result<Secret, Malformed> {
    if encoded.is_empty() {
        return Err(Malformed::Empty);
    }
    let text = std::str::from_utf8(encoded).map_err(|_| Malformed::Grammar)?;
    Base64UrlUnpadded::decode_vec(text)
        .map(Secret::new)
        .map_err(|_| Malformed::Grammar)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::TokenChars;

    const K8S: &str = "base64url.bearer.authorization.k8s.io.";

    fn run(values: &[&str]) -> (Option<Result<String, Malformed>>, Vec<String>) {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(SEC_WEBSOCKET_PROTOCOL, v.parse().unwrap());
        }
        let token = take(&mut headers, K8S).map(|p| {
            p.unwrap().and_then(|s| {
                s.checked(TokenChars::B64Token)
                    .map(|t| t.as_str().to_owned())
            })
        });
        let left = headers
            .get_all(SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        (token, left)
    }

    #[test]
    fn the_entry_is_decoded_and_the_rest_pass_through() {
        // "s3cr3t.Token-1" in base64url without padding.
        let entry = format!(
            "{K8S}{}",
            Base64UrlUnpadded::encode_string(b"s3cr3t.Token-1")
        );
        assert_eq!(
            run(&[&format!("chat, {entry} ,v2.chat")]),
            (
                Some(Ok("s3cr3t.Token-1".into())),
                vec!["chat, v2.chat".into()]
            )
        );
        assert_eq!(
            run(&["chat", &entry]),
            (Some(Ok("s3cr3t.Token-1".into())), vec!["chat".into()])
        );
        assert_eq!(run(&[&entry]), (Some(Ok("s3cr3t.Token-1".into())), vec![]));
    }

    #[test]
    fn other_protocols_are_untouched_and_bad_entries_malformed() {
        assert_eq!(run(&["chat, v2"]), (None, vec!["chat, v2".into()]));
        assert_eq!(run(&[K8S]).0, Some(Err(Malformed::Empty)));
        // Padding, the standard alphabet and stray characters are not unpadded base64url.
        for bad in ["czNjcjN0==", "czNj+3I0", "czNj cjN0"] {
            assert_eq!(
                run(&[&format!("{K8S}{bad}")]).0,
                Some(Err(Malformed::Grammar)),
                "{bad}"
            );
        }
        let two = format!("{K8S}YWJj, {K8S}YWJj");
        assert_eq!(run(&[&two]), (Some(Err(Malformed::Repeated)), vec![]));
        // A decoded token outside the grammar is refused like a header's.
        let spaced = format!("{K8S}{}", Base64UrlUnpadded::encode_string(b"a b"));
        assert_eq!(run(&[&spaced]).0, Some(Err(Malformed::Grammar)));
    }
}
