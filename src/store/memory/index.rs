//! The store's two indexes: sessions by their token's [`Tag`], and each user's sessions.

use std::sync::Arc;

use crate::digest::Tag;
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
