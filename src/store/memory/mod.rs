//! [`MemoryStore`]: sessions in process memory, on two DashMaps.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::{ready, Ready};
use std::hash::BuildHasher;
use std::sync::Arc;

use dashmap::DashMap;
use uuid::Uuid;

use super::lifetimes::Lifetimes;
use super::{CreateOptions, Issued, Session, SessionStore, StoreError, Timestamp};
use crate::{BearerToken, SessionResolver};

mod builder;
mod index;
#[cfg(test)]
mod tests;

use crate::digest::{Tag, TagBuildHasher, TokenDigest};
use crate::session_token::generate_token;
pub use builder::MemoryStoreBuilder;
use builder::StoreClock;
use index::{Indexed, UserSessions};

/// The in-memory session store: the crate's embedded default, for servers on one machine.
///
/// Tokens are 256 bits from the OS CSPRNG, base64url-encoded (43 characters, inside the
/// `b64token` grammar). The store never keeps a token: it indexes sessions by a 128-bit tag,
/// SipHash-1-3 of the token under a 128-bit key the store draws from the OS CSPRNG when it is
/// built, and compares tags without an early exit. Without the key, a tag says nothing about its
/// token and no token can be made to match one; the key never leaves the process, and neither
/// does the map, which is never persisted. (SipHash is a keyed pseudo-random function, not a
/// one-way hash: a store whose records leave the process, such as a database, should index by
/// SHA-256 instead, which costs about twice as much as this tag.)
///
/// Expiry follows better-auth: 7 days (1 day without remember-me), refreshed on use once a day
/// has passed since the last refresh. An expired session is never returned and is deleted when
/// met. Sessions nobody looks up again are dropped in three ways, none of which stops the world
/// (each locks one shard of one map at a time):
/// - amortised: issuing a session drops that user's expired sessions;
/// - [`sweep`](Self::sweep), to call from a timer of your own;
/// - [`spawn_sweeper`](Self::spawn_sweeper), a tokio task (feature `sweeper`).
///
/// Cloning is cheap; clones share the sessions.
///
/// ```
/// use tower_bearer::store::{CreateOptions, MemoryStore, SessionStore};
/// use tower_bearer::SessionResolver;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = MemoryStore::new();
/// let issued = store.create("user-1", (), CreateOptions::default()).await.unwrap();
/// let session = store.resolve(issued.token.as_bearer()).await.unwrap().unwrap();
/// assert_eq!(&*session.user_id, "user-1");
///
/// store.revoke_token(issued.token.as_bearer()).await.unwrap();
/// assert!(store.resolve(issued.token.as_bearer()).await.unwrap().is_none());
/// # }
/// ```
pub struct MemoryStore<D = ()> {
    inner: Arc<Inner<D>>,
}

pub(super) struct Inner<D> {
    /// Sessions by their token's tag.
    tokens: DashMap<Tag, Arc<Session<D>>, TagBuildHasher>,
    /// SipHash keyed with the store's secret: every tag is computed from it.
    tagger: TokenDigest,
    /// Sessions by a keyed 64-bit hash of their user id. Two users may share a bucket, so every
    /// read filters on `user_id`; the narrow key keeps the index small.
    users: DashMap<u64, UserSessions<D>>,
    user_hasher: RandomState,
    clock: StoreClock,
    lifetimes: Lifetimes,
    /// [`Lifetimes::refresh_shift`] without and with remember-me, in milliseconds: worked out
    /// once, so a hit compares integers instead of converting two `Duration`s.
    refresh_shift: [i64; 2],
}

impl<D> Clone for MemoryStore<D> {
    fn clone(&self) -> Self {
        MemoryStore {
            inner: self.inner.clone(),
        }
    }
}

impl<D> fmt::Debug for MemoryStore<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("sessions", &self.inner.tokens.len())
            .field("expires_in", &self.inner.lifetimes.expires_in)
            .field("update_age", &self.inner.lifetimes.update_age)
            .finish_non_exhaustive()
    }
}

impl<D: Send + Sync + 'static> MemoryStore<D> {
    /// The token's tag under this store's key.
    #[inline]
    fn tag(&self, token: &[u8]) -> Tag {
        self.inner.tagger.tag(token)
    }

    fn user_key(&self, user_id: &str) -> u64 {
        self.inner.user_hasher.hash_one(user_id)
    }

    /// Issues a session for `user_id`, with the app's `data`.
    pub fn create_now(
        &self,
        user_id: &str,
        data: D,
        options: CreateOptions,
    ) -> Result<Issued<D>, StoreError> {
        let token = generate_token().map_err(|e| StoreError::new(e.to_string()))?;
        let tag = self.tag(token.as_str().as_bytes());
        let now = self.inner.clock.now();
        let user_key = self.user_key(user_id);

        // The user's entry stays locked until the session is in both maps, so a concurrent
        // revoke_all of this user either sees it whole or not at all. Lock order: users, then
        // tokens; nothing takes them the other way round.
        let mut entry = self.inner.users.entry(user_key).or_default();
        let sessions = entry.value_mut();
        sessions.retain(|s| {
            let keep = !s.is_expired(now);
            if !keep {
                self.inner.tokens.remove(&s.tag);
            }
            keep
        });
        if let Some(max) = self.inner.lifetimes.max_per_user {
            while sessions.iter().filter(|s| &*s.user_id == user_id).count() >= max {
                let Some((oldest, _)) = sessions
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| &*s.user_id == user_id)
                    .min_by_key(|(_, s)| s.created_at)
                else {
                    break;
                };
                let oldest = sessions.as_slice()[oldest].tag;
                sessions.retain(|s| s.tag != oldest);
                self.inner.tokens.remove(&oldest);
            }
        }
        let user_id: Arc<str> = sessions
            .iter()
            .find(|s| &*s.user_id == user_id)
            .map_or_else(|| user_id.into(), |s| s.user_id.clone());
        let lifetime = self.inner.lifetimes.lifetime(options.remember_me);
        let session = Arc::new(Session::new(user_id, now, now + lifetime, options, data));
        // Two fresh tokens' 128-bit tags do not collide (one in 2^64 after 2^32 sessions).
        self.inner.tokens.insert(tag, session.clone());
        sessions.push(Indexed {
            tag,
            session: session.clone(),
        });
        Ok(Issued { session, token })
    }

    /// Resolves a token without a future: the live session, refreshed if due.
    pub fn resolve_now(&self, token: &str) -> Option<Arc<Session<D>>> {
        self.resolve_bytes(token.as_bytes())
    }

    #[inline]
    fn resolve_bytes(&self, token: &[u8]) -> Option<Arc<Session<D>>> {
        let Some((tag, session)) = self.find(token) else {
            crate::trace::refused(
                "MemoryStore",
                "no session has the token (signed out, revoked, swept, or never issued)",
            );
            return None;
        };
        let now = self.inner.clock.now();
        if session.is_expired(now) {
            self.forget(tag, &session);
            crate::trace::refused("MemoryStore", "the session expired");
            return None;
        }
        let shift = self.inner.refresh_shift[usize::from(session.remember_me)];
        if session.expires_at().as_millis().saturating_add(shift) <= now.as_millis() {
            self.refresh(&session, now);
        }
        Some(session)
    }

    /// better-auth's sliding refresh, out of line: at most once per `update_age` a session.
    #[cold]
    #[inline(never)]
    fn refresh(&self, session: &Session<D>, now: Timestamp) {
        let lifetime = self.inner.lifetimes.lifetime(session.remember_me);
        session.refresh(now, now + lifetime);
    }

    /// The session this token names, live or not, without refreshing it, and its tag: one tag,
    /// one lookup (whose key comparison has no early exit).
    #[inline]
    fn find(&self, token: &[u8]) -> Option<(Tag, Arc<Session<D>>)> {
        let tag = self.tag(token);
        let session = self.inner.tokens.get(&tag)?.value().clone();
        Some((tag, session))
    }

    /// Removes one session from both maps, the token map first so it stops resolving at once.
    fn forget(&self, tag: Tag, session: &Arc<Session<D>>) -> bool {
        let removed = self
            .inner
            .tokens
            .remove_if(&tag, |_, s| Arc::ptr_eq(s, session))
            .is_some();
        let user_key = self.user_key(&session.user_id);
        if let Some(mut sessions) = self.inner.users.get_mut(&user_key) {
            sessions.retain(|s| s.tag != tag);
        }
        self.inner.users.remove_if(&user_key, |_, v| v.is_empty());
        removed
    }

    /// The user's live sessions, oldest first.
    pub fn list_now(&self, user_id: &str) -> Vec<Arc<Session<D>>> {
        let now = self.inner.clock.now();
        let Some(sessions) = self.inner.users.get(&self.user_key(user_id)) else {
            return Vec::new();
        };
        let mut live: Vec<_> = sessions
            .iter()
            .filter(|s| &*s.user_id == user_id && !s.is_expired(now))
            // Only what still resolves: a revocation removes the token first.
            .filter(|s| {
                self.inner
                    .tokens
                    .get(&s.tag)
                    .is_some_and(|t| Arc::ptr_eq(t.value(), &s.session))
            })
            .map(|s| s.session.clone())
            .collect();
        drop(sessions);
        live.sort_by_key(|s| s.created_at);
        live
    }

    /// Revokes the sessions of `user_id` that `pred` selects; how many were live.
    fn revoke_where(&self, user_id: &str, pred: impl Fn(&Session<D>) -> bool) -> usize {
        let now = self.inner.clock.now();
        let user_key = self.user_key(user_id);
        let mut count = 0;
        if let Some(mut sessions) = self.inner.users.get_mut(&user_key) {
            sessions.retain(|s| {
                if &*s.user_id != user_id || !pred(s) {
                    return true;
                }
                let removed = self
                    .inner
                    .tokens
                    .remove_if(&s.tag, |_, t| Arc::ptr_eq(t, &s.session))
                    .is_some();
                if removed && !s.is_expired(now) {
                    count += 1;
                }
                false
            });
        }
        self.inner.users.remove_if(&user_key, |_, v| v.is_empty());
        count
    }

    /// Revokes the user's session with this id; `true` if it was live.
    pub fn revoke_now(&self, user_id: &str, id: Uuid) -> bool {
        self.revoke_where(user_id, |s| s.id == id) > 0
    }

    /// Revokes the session this token names; `true` if it was live.
    pub fn revoke_token_now(&self, token: &str) -> bool {
        self.find(token.as_bytes())
            .is_some_and(|(tag, session)| self.revoke_found(tag, &session))
    }

    /// Revokes the session this token names only if it belongs to `user_id` (better-auth's
    /// revoke-session, where a user may revoke only their own sessions); `true` if it was live.
    pub fn revoke_token_of(&self, user_id: &str, token: &str) -> bool {
        self.find(token.as_bytes()).is_some_and(|(tag, session)| {
            &*session.user_id == user_id && self.revoke_found(tag, &session)
        })
    }

    fn revoke_found(&self, tag: Tag, session: &Arc<Session<D>>) -> bool {
        let live = !session.is_expired(self.inner.clock.now());
        self.forget(tag, session) && live
    }

    /// Revokes all of the user's sessions; how many were live.
    pub fn revoke_all_now(&self, user_id: &str) -> usize {
        self.revoke_where(user_id, |_| true)
    }

    /// Revokes all the user's sessions but `keep`; how many were live.
    pub fn revoke_others_now(&self, user_id: &str, keep: Uuid) -> usize {
        self.revoke_where(user_id, |s| s.id != keep)
    }

    /// How many sessions the store holds, including expired ones not yet swept.
    pub fn len(&self) -> usize {
        self.inner.tokens.len()
    }

    /// Whether the store holds no session.
    pub fn is_empty(&self) -> bool {
        self.inner.tokens.is_empty()
    }

    /// Drops every expired session; how many. Locks one shard at a time, so requests on other
    /// shards go on meanwhile.
    pub fn sweep(&self) -> usize {
        let now = self.inner.clock.now();
        let mut swept = 0;
        self.inner.users.retain(|_, sessions| {
            sessions.retain(|s| {
                if !s.is_expired(now) {
                    return true;
                }
                if self
                    .inner
                    .tokens
                    .remove_if(&s.tag, |_, t| Arc::ptr_eq(t, &s.session))
                    .is_some()
                {
                    swept += 1;
                }
                false
            });
            !sessions.is_empty()
        });
        swept
    }

    /// Spawns a tokio task that calls [`sweep`](Self::sweep) every `period`. The task ends when
    /// the last clone of the store is dropped.
    #[cfg(feature = "sweeper")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sweeper")))]
    pub fn spawn_sweeper(&self, period: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let weak: std::sync::Weak<Inner<D>> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await;
            loop {
                interval.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                MemoryStore { inner }.sweep();
            }
        })
    }
}

impl<D: Send + Sync + 'static> SessionResolver for MemoryStore<D> {
    type Session = Arc<Session<D>>;
    type Error = StoreError;
    type Future = Ready<Result<Option<Arc<Session<D>>>, StoreError>>;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        ready(Ok(self.resolve_bytes(token.as_bytes())))
    }

    fn resolve_ready(
        &self,
        token: BearerToken<'_>,
    ) -> Option<Result<Option<Self::Session>, Self::Error>> {
        Some(Ok(self.resolve_bytes(token.as_bytes())))
    }

    /// Its tokens are its own, issued as `b64token`s.
    fn knows_only_b64tokens(&self) -> bool {
        true
    }
}

impl<D: Send + Sync + 'static> SessionStore<D> for MemoryStore<D> {
    fn create(
        &self,
        user_id: &str,
        data: D,
        options: CreateOptions,
    ) -> impl std::future::Future<Output = Result<Issued<D>, StoreError>> + Send {
        ready(self.create_now(user_id, data, options))
    }

    fn list(
        &self,
        user_id: &str,
    ) -> impl std::future::Future<Output = Result<Vec<Arc<Session<D>>>, StoreError>> + Send {
        ready(Ok(self.list_now(user_id)))
    }

    fn revoke(
        &self,
        user_id: &str,
        id: Uuid,
    ) -> impl std::future::Future<Output = Result<bool, StoreError>> + Send {
        ready(Ok(self.revoke_now(user_id, id)))
    }

    fn revoke_token(
        &self,
        token: BearerToken<'_>,
    ) -> impl std::future::Future<Output = Result<bool, StoreError>> + Send {
        ready(Ok(self.revoke_token_now(token.as_str())))
    }

    fn revoke_token_of(
        &self,
        user_id: &str,
        token: BearerToken<'_>,
    ) -> impl std::future::Future<Output = Result<bool, StoreError>> + Send {
        ready(Ok(self.revoke_token_of(user_id, token.as_str())))
    }

    fn revoke_all(
        &self,
        user_id: &str,
    ) -> impl std::future::Future<Output = Result<usize, StoreError>> + Send {
        ready(Ok(self.revoke_all_now(user_id)))
    }

    fn revoke_others(
        &self,
        user_id: &str,
        keep: Uuid,
    ) -> impl std::future::Future<Output = Result<usize, StoreError>> + Send {
        ready(Ok(self.revoke_others_now(user_id, keep)))
    }

    fn len(&self) -> impl std::future::Future<Output = Result<usize, StoreError>> + Send {
        ready(Ok(MemoryStore::len(self)))
    }
}
