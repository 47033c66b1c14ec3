//! Keys and tags: where a user's keys live on Cluster, and how a token is stored (its SHA-256).

use std::time::Duration;

use sha2::{Digest, Sha256};

/// The 4-hex-digit hash tag of a user: where all of that user's keys live on Cluster.
pub(super) fn user_tag(user_id: &str) -> String {
    let digest = Sha256::digest(user_id.as_bytes());
    format!("{:02x}{:02x}", digest[0], digest[1])
}

/// The tag a token of this store starts with, if it has one.
pub(super) fn token_tag(token: &[u8]) -> Option<&str> {
    let (tag, rest) = token.split_first_chunk::<5>()?;
    let valid = tag[4] == b'.'
        && tag[..4]
            .iter()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    (valid && !rest.is_empty()).then(|| std::str::from_utf8(&tag[..4]).expect("ASCII"))
}

pub(super) fn digest_hex(token: &[u8]) -> String {
    Sha256::digest(token)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(super) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_their_users_tag() {
        assert_eq!(user_tag("alice").len(), 4);
        assert_eq!(user_tag("alice"), user_tag("alice"));
        assert_ne!(user_tag("alice"), user_tag("bob"));
        assert_eq!(token_tag(b"a1b2.rest"), Some("a1b2"));
        for bad in [&b"a1b2"[..], b"a1b2.", b"A1B2.x", b"a1b2-x", b"zzzz.x", b""] {
            assert_eq!(token_tag(bad), None, "{bad:?}");
        }
        assert_eq!(
            digest_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
