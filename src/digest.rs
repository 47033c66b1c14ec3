//! The one token digest every in-memory index and cache keys by: a [`Tag`], SipHash-1-3 with
//! 128-bit output under a secret key drawn from the OS CSPRNG when the [`TokenDigest`] is made.
//!
//! Keying by a tag rather than by the token keeps the secret itself out of every map, and a
//! keyed pseudo-random function makes the maps' timing worthless to an attacker: learning bits
//! of a tag says nothing about any token without the key. Redis keys use SHA-256 instead
//! (`store::redis`), because every instance must compute the same name for a token.

use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// A token's key in a map: its keyed 128-bit digest.
///
/// Two words rather than a `u128`: a `u128` is 16-byte aligned, which pads every map entry
/// that holds a tag beside a pointer from 24 bytes to 32 (about 67 bytes per session across
/// `MemoryStore`'s two maps at a million sessions, `benches/memory.rs`).
///
/// Equality folds the two halves' difference into one word and tests it once: no branch on a
/// partial match, so a map's key comparison takes the same time wherever two tags differ.
#[derive(Clone, Copy, Eq)]
pub(crate) struct Tag(pub(crate) [u64; 2]);

impl Tag {
    /// The tag as one number, low word first.
    #[cfg(test)]
    pub(crate) fn from_u128(n: u128) -> Tag {
        Tag([n as u64, (n >> 64) as u64])
    }
}

impl PartialEq for Tag {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        let [a0, a1] = self.0;
        let [b0, b1] = other.0;
        // `black_box` keeps the optimizer from splitting the test back into two branches.
        std::hint::black_box((a0 ^ b0) | (a1 ^ b1)) == 0
    }
}

impl std::hash::Hash for Tag {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0[0]);
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
///
/// SipHash-1-3 with 128-bit output, written out here rather than taken from `siphasher`: a
/// token is hashed whole, once, so the eight-byte blocks are read straight from the slice and
/// the function is one straight run with no buffering (callgrind, end to end: 246 instructions
/// for a 43-byte session token against `siphasher`'s 274). The tests check every tag against
/// `siphasher` as the reference.
#[derive(Clone)]
pub(crate) struct TokenDigest {
    k0: u64,
    k1: u64,
}

impl TokenDigest {
    /// A digest under a fresh key from the OS CSPRNG.
    pub(crate) fn new() -> Result<Self, getrandom::Error> {
        let mut key = [0u8; 16];
        getrandom::fill(&mut key)?;
        Ok(Self::with_key(key))
    }

    pub(crate) fn with_key(key: [u8; 16]) -> Self {
        let key = u128::from_le_bytes(key);
        TokenDigest {
            k0: key as u64,
            k1: (key >> 64) as u64,
        }
    }

    #[inline]
    pub(crate) fn tag(&self, token: &[u8]) -> Tag {
        let mut v = Sip([
            self.k0 ^ 0x736f_6d65_7073_6575,
            // `^ 0xee`: the 128-bit variant.
            self.k1 ^ 0x646f_7261_6e64_6f6d ^ 0xee,
            self.k0 ^ 0x6c79_6765_6e65_7261,
            self.k1 ^ 0x7465_6462_7974_6573,
        ]);
        let (blocks, tail) = token.as_chunks::<8>();
        for block in blocks {
            v.compress(u64::from_le_bytes(*block));
        }
        let mut last = [0u8; 8];
        last[..tail.len()].copy_from_slice(tail);
        v.compress(u64::from_le_bytes(last) | ((token.len() as u64) << 56));
        v.0[2] ^= 0xee;
        v.rounds::<3>();
        let low = v.fold();
        v.0[1] ^= 0xdd;
        v.rounds::<3>();
        Tag([low, v.fold()])
    }
}

/// SipHash's state: `v0..v3`.
struct Sip([u64; 4]);

impl Sip {
    /// One message word, with SipHash-1-3's one compression round.
    #[inline(always)]
    fn compress(&mut self, m: u64) {
        self.0[3] ^= m;
        self.rounds::<1>();
        self.0[0] ^= m;
    }

    #[inline(always)]
    fn rounds<const N: usize>(&mut self) {
        let [mut v0, mut v1, mut v2, mut v3] = self.0;
        for _ in 0..N {
            v0 = v0.wrapping_add(v1);
            v1 = v1.rotate_left(13) ^ v0;
            v0 = v0.rotate_left(32);
            v2 = v2.wrapping_add(v3);
            v3 = v3.rotate_left(16) ^ v2;
            v0 = v0.wrapping_add(v3);
            v3 = v3.rotate_left(21) ^ v0;
            v2 = v2.wrapping_add(v1);
            v1 = v1.rotate_left(17) ^ v2;
            v2 = v2.rotate_left(32);
        }
        self.0 = [v0, v1, v2, v3];
    }

    #[inline(always)]
    fn fold(&self) -> u64 {
        self.0[0] ^ self.0[1] ^ self.0[2] ^ self.0[3]
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
    use proptest::prelude::*;
    use siphasher::sip128::SipHasher13;

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
            assert!(digest.tag(token) == Tag::from_u128(reference.hash(token).as_u128()));
        }
        assert!(digest.tag(b"a") != digest.tag(b"b"));
        let other = TokenDigest::new().unwrap();
        assert!(
            other.tag(b"a") != digest.tag(b"a"),
            "each digest has its own key"
        );
        assert_eq!(format!("{:?}", digest.tag(b"a")), "Tag(***)");
    }

    proptest! {
        /// Every length (the tail's every size, several blocks) under any key.
        #[test]
        fn tags_match_the_reference_for_any_key_and_token(
            key in any::<[u8; 16]>(),
            token in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap());
            let reference = SipHasher13::new_with_keys(word(&key[..8]), word(&key[8..]));
            let expected = reference.hash(&token).as_u128();
            prop_assert!(TokenDigest::with_key(key).tag(&token) == Tag::from_u128(expected));
        }
    }
}
