//! The store's two indexes: sessions by their token's [`Tag`], and each user's sessions.

use std::hash::Hasher;
use std::sync::Arc;

use crate::store::Session;

/// One session in a user's index: the record, and the tag that finds it in the token map.
/// The tag stays here, in the store, not in the record that handlers see.
pub(super) struct Indexed<D> {
    pub(super) tag: Tag,
    pub(super) session: Arc<Session<D>>,
}

impl<D> std::ops::Deref for Indexed<D> {
    type Target = Session<D>;
    fn deref(&self) -> &Session<D> {
        &self.session
    }
}

/// One user's sessions. Most users have one, which is kept inline: a `Vec` would cost a
/// 32-byte allocation per user.
pub(super) enum UserSessions<D> {
    One(Indexed<D>),
    Many(Vec<Indexed<D>>),
}

impl<D> Default for UserSessions<D> {
    fn default() -> Self {
        UserSessions::Many(Vec::new())
    }
}

impl<D> UserSessions<D> {
    pub(super) fn as_slice(&self) -> &[Indexed<D>] {
        match self {
            UserSessions::One(s) => std::slice::from_ref(s),
            UserSessions::Many(v) => v,
        }
    }

    pub(super) fn iter(&self) -> std::slice::Iter<'_, Indexed<D>> {
        self.as_slice().iter()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    pub(super) fn push(&mut self, session: Indexed<D>) {
        *self = match std::mem::take(self) {
            UserSessions::Many(v) if v.is_empty() => UserSessions::One(session),
            UserSessions::One(first) => UserSessions::Many(vec![first, session]),
            UserSessions::Many(mut v) => {
                v.push(session);
                UserSessions::Many(v)
            }
        };
    }

    pub(super) fn retain(&mut self, mut keep: impl FnMut(&Indexed<D>) -> bool) {
        *self = match std::mem::take(self) {
            UserSessions::One(s) if keep(&s) => UserSessions::One(s),
            UserSessions::One(_) => UserSessions::default(),
            UserSessions::Many(mut v) => {
                v.retain(|s| keep(s));
                match v.len() {
                    1 => UserSessions::One(v.pop().expect("one element")),
                    _ => UserSessions::Many(v),
                }
            }
        };
    }
}

/// A token's index key: SipHash-1-3, 128-bit output, under the store's secret key.
///
/// Equality folds the two halves' difference into one word and tests it once: no branch on a
/// partial match, so the map's key comparison (this one) takes the same time wherever two tags
/// differ. And what timing could tell is worthless: a tag is a keyed pseudo-random function of
/// its token, so learning some of its bits says nothing about any token without the key.
#[derive(Clone, Copy, Eq)]
pub(super) struct Tag(pub(super) u128);

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

/// Tags are pseudo-random already, uniformly spread: hashing them again would be waste.
#[derive(Default)]
pub(super) struct TagHasher(u64);

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
