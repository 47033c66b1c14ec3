//! [`MemoryStore`]: sessions in process memory, on two DashMaps.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::{ready, Ready};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use siphasher::sip128::SipHasher13;
use uuid::Uuid;

use super::{
    Clock, CreateOptions, Issued, Session, SessionStore, SessionToken, StoreError, SystemClock,
};
use crate::{BearerToken, SessionResolver};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

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

struct Inner<D> {
    /// Sessions by their token's tag.
    tokens: DashMap<Tag, Arc<Session<D>>, BuildHasherDefault<TagHasher>>,
    /// SipHash keyed with the store's secret: every tag is computed from it.
    tagger: SipHasher13,
    /// Sessions by a keyed 64-bit hash of their user id. Two users may share a bucket, so every
    /// read filters on `user_id`; the narrow key keeps the index small.
    users: DashMap<u64, UserSessions<D>>,
    user_hasher: RandomState,
    clock: StoreClock,
    expires_in: Duration,
    expires_in_short: Duration,
    update_age: Duration,
    max_per_user: Option<usize>,
}

/// The store's clock: the system clock called directly (every resolve reads it), or an
/// injected one behind a trait object.
enum StoreClock {
    System,
    Injected(Arc<dyn Clock>),
}

impl StoreClock {
    #[inline]
    fn now(&self) -> super::Timestamp {
        match self {
            StoreClock::System => SystemClock.now(),
            StoreClock::Injected(clock) => clock.now(),
        }
    }
}

/// One user's sessions. Most users have one, which is kept inline: a `Vec` would cost a
/// 32-byte allocation per user.
enum UserSessions<D> {
    One(Arc<Session<D>>),
    Many(Vec<Arc<Session<D>>>),
}

impl<D> Default for UserSessions<D> {
    fn default() -> Self {
        UserSessions::Many(Vec::new())
    }
}

impl<D> UserSessions<D> {
    fn as_slice(&self) -> &[Arc<Session<D>>] {
        match self {
            UserSessions::One(s) => std::slice::from_ref(s),
            UserSessions::Many(v) => v,
        }
    }

    fn iter(&self) -> std::slice::Iter<'_, Arc<Session<D>>> {
        self.as_slice().iter()
    }

    fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    fn push(&mut self, session: Arc<Session<D>>) {
        *self = match std::mem::take(self) {
            UserSessions::Many(v) if v.is_empty() => UserSessions::One(session),
            UserSessions::One(first) => UserSessions::Many(vec![first, session]),
            UserSessions::Many(mut v) => {
                v.push(session);
                UserSessions::Many(v)
            }
        };
    }

    fn retain(&mut self, mut keep: impl FnMut(&Arc<Session<D>>) -> bool) {
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
struct Tag(u128);

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
struct TagHasher(u64);

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

/// Configures a [`MemoryStore`].
pub struct MemoryStoreBuilder {
    clock: StoreClock,
    expires_in: Duration,
    expires_in_short: Duration,
    update_age: Duration,
    max_per_user: Option<usize>,
}

impl MemoryStoreBuilder {
    /// Session lifetime with remember-me. Default: 7 days.
    pub fn expires_in(mut self, d: Duration) -> Self {
        self.expires_in = d;
        self
    }

    /// Session lifetime without remember-me. Default: 1 day.
    pub fn expires_in_short(mut self, d: Duration) -> Self {
        self.expires_in_short = d;
        self
    }

    /// How long after the last refresh a resolve moves the expiry on again. Default: 1 day.
    pub fn update_age(mut self, d: Duration) -> Self {
        self.update_age = d;
        self
    }

    /// At most this many live sessions per user; issuing one more revokes the oldest.
    pub fn max_sessions_per_user(mut self, max: usize) -> Self {
        self.max_per_user = Some(max.max(1));
        self
    }

    /// The clock the store reads (a [`ManualClock`](super::ManualClock) in tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = StoreClock::Injected(Arc::new(clock));
        self
    }

    /// Builds the store, drawing its tag key from the OS CSPRNG.
    ///
    /// # Panics
    ///
    /// If the OS random number generator fails, as `std`'s `HashMap::new` does; on Linux that
    /// cannot happen once the kernel's pool is initialised at boot.
    pub fn build<D>(self) -> MemoryStore<D> {
        let mut key = [0u8; 16];
        getrandom::fill(&mut key).expect("the OS random number generator failed");
        let key = u128::from_le_bytes(key);
        MemoryStore {
            inner: Arc::new(Inner {
                tokens: DashMap::default(),
                tagger: SipHasher13::new_with_keys(key as u64, (key >> 64) as u64),
                users: DashMap::new(),
                user_hasher: RandomState::new(),
                clock: self.clock,
                expires_in: self.expires_in,
                expires_in_short: self.expires_in_short,
                update_age: self.update_age,
                max_per_user: self.max_per_user,
            }),
        }
    }
}

impl fmt::Debug for MemoryStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStoreBuilder")
            .field("expires_in", &self.expires_in)
            .field("expires_in_short", &self.expires_in_short)
            .field("update_age", &self.update_age)
            .field("max_per_user", &self.max_per_user)
            .finish_non_exhaustive()
    }
}

impl MemoryStore<()> {
    /// A store with better-auth's defaults and the system clock.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder, to change lifetimes, the per-user cap or the clock. The app data type is
    /// chosen at [`build`](MemoryStoreBuilder::build).
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder {
            clock: StoreClock::System,
            expires_in: 7 * DAY,
            expires_in_short: DAY,
            update_age: DAY,
            max_per_user: None,
        }
    }
}

impl Default for MemoryStore<()> {
    fn default() -> Self {
        Self::new()
    }
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
            .field("expires_in", &self.inner.expires_in)
            .field("update_age", &self.inner.update_age)
            .finish_non_exhaustive()
    }
}

/// 32 bytes from the OS CSPRNG, base64url without padding.
fn generate_token() -> Result<SessionToken, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::new(e.to_string()))?;
    Ok(SessionToken::new(base64url(&bytes)))
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

impl<D: Send + Sync + 'static> MemoryStore<D> {
    /// The token's tag under this store's key.
    #[inline]
    fn tag(&self, token: &[u8]) -> Tag {
        // The one-shot `hash`: whole words straight from the slice, no streaming buffer.
        Tag(self.inner.tagger.hash(token).as_u128())
    }

    fn user_key(&self, user_id: &str) -> u64 {
        self.inner.user_hasher.hash_one(user_id)
    }

    fn lifetime(&self, remember_me: bool) -> Duration {
        if remember_me {
            self.inner.expires_in
        } else {
            self.inner.expires_in_short
        }
    }

    /// Issues a session for `user_id`, with the app's `data`.
    pub fn create_now(
        &self,
        user_id: &str,
        data: D,
        options: CreateOptions,
    ) -> Result<Issued<D>, StoreError> {
        let token = generate_token()?;
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
                self.inner.tokens.remove(&Tag(s.tag));
            }
            keep
        });
        if let Some(max) = self.inner.max_per_user {
            while sessions.iter().filter(|s| &*s.user_id == user_id).count() >= max {
                let Some((oldest, _)) = sessions
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| &*s.user_id == user_id)
                    .min_by_key(|(_, s)| s.created_at)
                else {
                    break;
                };
                let oldest = sessions.as_slice()[oldest].clone();
                sessions.retain(|s| !Arc::ptr_eq(s, &oldest));
                self.inner.tokens.remove(&Tag(oldest.tag));
            }
        }
        let user_id: Arc<str> = sessions
            .iter()
            .find(|s| &*s.user_id == user_id)
            .map_or_else(|| user_id.into(), |s| s.user_id.clone());
        let lifetime = self.lifetime(options.remember_me);
        let mut session = Session::new(user_id, now, now + lifetime, options, data);
        session.tag = tag.0;
        let session = Arc::new(session);
        // Two fresh tokens' 128-bit tags do not collide (one in 2^64 after 2^32 sessions).
        self.inner.tokens.insert(tag, session.clone());
        sessions.push(session.clone());
        Ok(Issued { session, token })
    }

    /// Resolves a token without a future: the live session, refreshed if due.
    pub fn resolve_now(&self, token: &str) -> Option<Arc<Session<D>>> {
        self.resolve_bytes(token.as_bytes())
    }

    #[inline]
    fn resolve_bytes(&self, token: &[u8]) -> Option<Arc<Session<D>>> {
        let session = self.find(token)?;
        let now = self.inner.clock.now();
        if session.is_expired(now) {
            self.forget(&session);
            return None;
        }
        let lifetime = self.lifetime(session.remember_me);
        // better-auth's sliding refresh: due once `update_age` has passed since the last one.
        if session.expires_at() - lifetime + self.inner.update_age <= now {
            session.refresh(now, now + lifetime);
        }
        Some(session)
    }

    /// The session this token names, live or not, without refreshing it: one tag, one lookup
    /// (whose key comparison has no early exit).
    fn find(&self, token: &[u8]) -> Option<Arc<Session<D>>> {
        let tag = self.tag(token);
        Some(self.inner.tokens.get(&tag)?.value().clone())
    }

    /// Removes one session from both maps, the token map first so it stops resolving at once.
    fn forget(&self, session: &Arc<Session<D>>) -> bool {
        let removed = self
            .inner
            .tokens
            .remove_if(&Tag(session.tag), |_, s| Arc::ptr_eq(s, session))
            .is_some();
        let user_key = self.user_key(&session.user_id);
        if let Some(mut sessions) = self.inner.users.get_mut(&user_key) {
            sessions.retain(|s| !Arc::ptr_eq(s, session));
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
                    .get(&Tag(s.tag))
                    .is_some_and(|t| Arc::ptr_eq(t.value(), s))
            })
            .cloned()
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
                    .remove_if(&Tag(s.tag), |_, t| Arc::ptr_eq(t, s))
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
            .is_some_and(|session| self.revoke_found(&session))
    }

    /// Revokes the session this token names only if it belongs to `user_id` (better-auth's
    /// revoke-session, where a user may revoke only their own sessions); `true` if it was live.
    pub fn revoke_token_of(&self, user_id: &str, token: &str) -> bool {
        self.find(token.as_bytes())
            .is_some_and(|session| &*session.user_id == user_id && self.revoke_found(&session))
    }

    fn revoke_found(&self, session: &Arc<Session<D>>) -> bool {
        let live = !session.is_expired(self.inner.clock.now());
        self.forget(session) && live
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
                    .remove_if(&Tag(s.tag), |_, t| Arc::ptr_eq(t, s))
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
    pub fn spawn_sweeper(&self, period: Duration) -> tokio::task::JoinHandle<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ManualClock, Timestamp};

    const START: Timestamp = Timestamp::from_millis(1_700_000_000_000);

    fn store() -> (MemoryStore, ManualClock) {
        let clock = ManualClock::new(START);
        (MemoryStore::builder().clock(clock.clone()).build(), clock)
    }

    fn create(store: &MemoryStore, user: &str) -> Issued {
        store
            .create_now(user, (), CreateOptions::default())
            .unwrap()
    }

    #[test]
    fn tokens_are_256_bit_url_safe_and_unique() {
        let (store, _) = store();
        let a = create(&store, "u");
        let b = create(&store, "u");
        assert_eq!(a.token.as_str().len(), 43);
        assert!(crate::token::is_b64token(a.token.as_str().as_bytes()));
        assert!(a
            .token
            .as_str()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a.token, b.token);
        assert!(!a
            .token
            .as_str()
            .contains(&a.session.id.simple().to_string()));
    }

    #[test]
    fn tags_compare_every_bit() {
        let a = Tag(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
        for bit in 0..128 {
            assert!(a != Tag(a.0 ^ (1 << bit)), "bit {bit}");
        }
        assert!(a == Tag(a.0));
    }

    #[test]
    fn tags_are_siphash_1_3_under_the_store_key() {
        use siphasher::sip128::Hasher128 as _;
        use std::hash::Hasher as _;
        let store = MemoryStore::new();
        let key = store.inner.tagger.key();
        let word = |half: &[u8]| u64::from_le_bytes(half.try_into().unwrap());
        let mut reference = SipHasher13::new_with_keys(word(&key[..8]), word(&key[8..]));
        reference.write(b"some-token");
        assert_eq!(store.tag(b"some-token").0, reference.finish128().as_u128());
        assert!(store.tag(b"some-token") != store.tag(b"some-tokem"));
    }

    #[test]
    fn each_store_draws_its_own_key() {
        let (a, b) = (MemoryStore::new(), MemoryStore::new());
        assert_ne!(a.inner.tagger.key(), b.inner.tagger.key());
        assert!(a.tag(b"t") != b.tag(b"t"));
        // A token of one store means nothing to another.
        let issued = a.create_now("u", (), CreateOptions::default()).unwrap();
        assert!(b.resolve_now(issued.token.as_str()).is_none());
    }

    #[test]
    fn the_record_keeps_the_tag_not_the_token() {
        let store = MemoryStore::new();
        let issued = store.create_now("u", (), CreateOptions::default()).unwrap();
        assert_eq!(
            issued.session.tag,
            store.tag(issued.token.as_str().as_bytes()).0
        );
        let json = serde_json::to_string(&*issued.session).unwrap();
        assert!(!json.contains(issued.token.as_str()));
    }

    #[test]
    fn base64url_matches_rfc_4648_vectors() {
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn create_then_resolve() {
        let (store, _) = store();
        let issued = create(&store, "alice");
        let session = store.resolve_now(issued.token.as_str()).unwrap();
        assert!(Arc::ptr_eq(&session, &issued.session));
        assert_eq!(&*session.user_id, "alice");
        assert_eq!(session.created_at, START);
        assert_eq!(session.updated_at(), START);
        assert_eq!(session.expires_at(), (START + 7 * DAY));
        assert_eq!(store.len(), 1);
        assert!(store.resolve_now("unknown").is_none());
    }

    #[test]
    fn without_remember_me_the_session_lasts_a_day() {
        let (store, clock) = store();
        let options = CreateOptions {
            remember_me: false,
            ..CreateOptions::default()
        };
        let issued = store.create_now("alice", (), options).unwrap();
        assert_eq!(issued.session.expires_at(), (START + DAY));
        clock.advance(DAY);
        assert!(store.resolve_now(issued.token.as_str()).is_none());
    }

    #[test]
    fn expired_sessions_are_never_returned_and_deleted_when_met() {
        let (store, clock) = store();
        let issued = create(&store, "alice");
        clock.advance(7 * DAY - Duration::from_millis(1));
        assert!(store.resolve_now(issued.token.as_str()).is_some());
        // That resolve refreshed it (a day had passed); move past the new expiry.
        clock.advance(7 * DAY);
        assert!(store.resolve_now(issued.token.as_str()).is_none());
        assert_eq!(store.len(), 0);
        assert!(store.list_now("alice").is_empty());
        assert!(store.inner.users.is_empty());
    }

    #[test]
    fn sliding_refresh_after_update_age() {
        let (store, clock) = store();
        let issued = create(&store, "alice");
        clock.advance(DAY - Duration::from_millis(1));
        let s = store.resolve_now(issued.token.as_str()).unwrap();
        assert_eq!(
            s.expires_at(),
            (START + 7 * DAY),
            "not due before update_age"
        );
        assert_eq!(s.updated_at(), START);
        clock.advance(Duration::from_millis(1));
        let now = START + DAY;
        let s = store.resolve_now(issued.token.as_str()).unwrap();
        assert_eq!(s.expires_at(), (now + 7 * DAY));
        assert_eq!(s.updated_at(), now);
        // Refreshing does not rotate the token.
        assert!(store.resolve_now(issued.token.as_str()).is_some());
    }

    #[test]
    fn list_shows_live_sessions_of_that_user_only() {
        let (store, clock) = store();
        let short = store
            .create_now(
                "alice",
                (),
                CreateOptions {
                    remember_me: false,
                    ..Default::default()
                },
            )
            .unwrap();
        let long = create(&store, "alice");
        create(&store, "bob");
        let ids: Vec<_> = store.list_now("alice").iter().map(|s| s.id).collect();
        assert_eq!(ids, [short.session.id, long.session.id]);
        clock.advance(DAY);
        let ids: Vec<_> = store.list_now("alice").iter().map(|s| s.id).collect();
        assert_eq!(ids, [long.session.id]);
        assert!(store.list_now("carol").is_empty());
    }

    #[test]
    fn revoke_by_id_needs_the_owner() {
        let (store, _) = store();
        let a = create(&store, "alice");
        assert!(!store.revoke_now("bob", a.session.id));
        assert!(store.resolve_now(a.token.as_str()).is_some());
        assert!(store.revoke_now("alice", a.session.id));
        assert!(store.resolve_now(a.token.as_str()).is_none());
        assert!(
            !store.revoke_now("alice", a.session.id),
            "second revoke finds nothing"
        );
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn revoke_by_token() {
        let (store, _) = store();
        let a = create(&store, "alice");
        let b = create(&store, "alice");
        assert!(!store.revoke_token_now("nope"));
        assert!(store.revoke_token_now(a.token.as_str()));
        assert!(store.resolve_now(a.token.as_str()).is_none());
        assert!(store.resolve_now(b.token.as_str()).is_some());
        assert_eq!(store.list_now("alice").len(), 1);
    }

    #[test]
    fn revoke_token_of_checks_the_owner() {
        let (store, _) = store();
        let a = create(&store, "alice");
        assert!(!store.revoke_token_of("bob", a.token.as_str()));
        assert!(store.resolve_now(a.token.as_str()).is_some());
        assert!(store.revoke_token_of("alice", a.token.as_str()));
        assert!(store.resolve_now(a.token.as_str()).is_none());
    }

    #[test]
    fn revoke_all_and_revoke_others() {
        let (store, _) = store();
        let a = create(&store, "alice");
        let b = create(&store, "alice");
        let c = create(&store, "alice");
        let bob = create(&store, "bob");
        assert_eq!(store.revoke_others_now("alice", b.session.id), 2);
        assert!(store.resolve_now(a.token.as_str()).is_none());
        assert!(store.resolve_now(b.token.as_str()).is_some());
        assert!(store.resolve_now(c.token.as_str()).is_none());
        assert_eq!(store.revoke_all_now("alice"), 1);
        assert!(store.resolve_now(b.token.as_str()).is_none());
        assert!(store.resolve_now(bob.token.as_str()).is_some());
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn per_user_cap_revokes_the_oldest() {
        let clock = ManualClock::new(START);
        let store: MemoryStore = MemoryStore::builder()
            .clock(clock.clone())
            .max_sessions_per_user(2)
            .build();
        let first = create(&store, "alice");
        clock.advance(Duration::from_secs(1));
        let second = create(&store, "alice");
        clock.advance(Duration::from_secs(1));
        let third = create(&store, "alice");
        create(&store, "bob");
        assert!(store.resolve_now(first.token.as_str()).is_none());
        assert!(store.resolve_now(second.token.as_str()).is_some());
        assert!(store.resolve_now(third.token.as_str()).is_some());
        assert_eq!(store.list_now("alice").len(), 2);
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn sweep_drops_sessions_nobody_looks_up() {
        let (store, clock) = store();
        for i in 0..10 {
            create(&store, &format!("user-{i}"));
        }
        let keep = create(&store, "late");
        clock.advance(7 * DAY - Duration::from_secs(1));
        let keep2 = create(&store, "later");
        clock.advance(Duration::from_secs(1));
        assert_eq!(store.len(), 12);
        assert_eq!(store.sweep(), 11);
        assert_eq!(store.len(), 1);
        assert!(store.resolve_now(keep.token.as_str()).is_none());
        assert!(store.resolve_now(keep2.token.as_str()).is_some());
    }

    #[test]
    fn creating_drops_that_users_expired_sessions() {
        let (store, clock) = store();
        create(&store, "alice");
        clock.advance(8 * DAY);
        create(&store, "alice");
        assert_eq!(store.len(), 1);
    }

    #[cfg(feature = "sweeper")]
    #[tokio::test]
    async fn the_sweeper_task_drops_expired_sessions_and_ends_with_the_store() {
        let (store, clock) = store();
        for i in 0..5 {
            create(&store, &format!("user-{i}"));
        }
        let task = store.spawn_sweeper(Duration::from_millis(10));
        clock.advance(8 * DAY);
        for _ in 0..200 {
            if store.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(store.is_empty(), "the sweeper did not run");
        drop(store);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the sweeper ends once the store is gone")
            .unwrap();
    }

    #[test]
    fn app_data_is_kept() {
        let store: MemoryStore<Vec<&'static str>> = MemoryStore::builder().build();
        let issued = store
            .create_now("alice", vec!["admin"], CreateOptions::default())
            .unwrap();
        let s = store.resolve_now(issued.token.as_str()).unwrap();
        assert_eq!(s.data, ["admin"]);
    }
}
