//! The one token digest every in-memory index and cache keys by: a [`Tag`], SipHash-1-3 with
//! 128-bit output under a secret key drawn from the OS CSPRNG when the [`TokenDigest`] is made.
//!
//! Keying by a tag rather than by the token keeps the secret itself out of every map, and a
//! keyed pseudo-random function makes the maps' timing worthless to an attacker: learning bits
//! of a tag says nothing about any token without the key. Redis keys use SHA-256 instead
//! (`store::redis`), because every instance must compute the same name for a token.

use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use siphasher::sip128::SipHasher13;

/// A token's key in a map: its keyed 128-bit digest.
///
/// Equality folds the two halves' difference into one word and tests it once: no branch on a
/// partial match, so a map's key comparison takes the same time wherever two tags differ.
#[derive(Clone, Copy, Eq)]
pub(crate) struct Tag(pub(crate) u128);

impl PartialEq for Tag {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        // `black_box` keeps the optimizer from splitting the test back into two branches.
        let diff = std::hint::black_box(self.0 ^ other.0);
        (diff as u64 | (diff >> 64) as u64) == 0
    }
}

impl std::hash::Hash for Tag {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0 as u64);
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tag(***)")
    }
}

/// Tags are pseudo-random already, uniformly spread: hashing them again would be waste.
#[derive(Default)]
pub(crate) struct TagHasher(u64);

impl Hasher for TagHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is reached (from `Tag::hash`); this keeps any other use correct.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// The hasher builder for maps keyed by [`Tag`].
pub(crate) type TagBuildHasher = BuildHasherDefault<TagHasher>;

/// Turns tokens into [`Tag`]s under a key of its own.
#[derive(Clone)]
pub(crate) struct TokenDigest(SipHasher13);

impl TokenDigest {
    /// A digest under a fresh key from the OS CSPRNG.
    pub(crate) fn new() -> Result<Self, getrandom::Error> {
        let mut key = [0u8; 16];
        getrandom::fill(&mut key)?;
        Ok(Self::with_key(key))
    }

    pub(crate) fn with_key(key: [u8; 16]) -> Self {
        let key = u128::from_le_bytes(key);
        TokenDigest(SipHasher13::new_with_keys(key as u64, (key >> 64) as u64))
    }

    #[inline]
    pub(crate) fn tag(&self, token: &[u8]) -> Tag {
        Tag(self.0.hash(token).as_u128())
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenDigest(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tag is SipHash-1-3/128 of the token under the key, as the reference computes it.
    #[test]
    fn tags_are_keyed_siphash_1_3_128() {
        let key: [u8; 16] = core::array::from_fn(|i| i as u8);
        let digest = TokenDigest::with_key(key);
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap());
        let reference = SipHasher13::new_with_keys(word(&key[..8]), word(&key[8..]));
        for token in [
            &b""[..],
            b"a",
            b"a-much-longer-token-of-forty-three-bytes-xx",
        ] {
            assert!(digest.tag(token) == Tag(reference.hash(token).as_u128()));
        }
        assert!(digest.tag(b"a") != digest.tag(b"b"));
        let other = TokenDigest::new().unwrap();
        assert!(
            other.tag(b"a") != digest.tag(b"a"),
            "each digest has its own key"
        );
        assert_eq!(format!("{:?}", digest.tag(b"a")), "Tag(***)");
    }
}
