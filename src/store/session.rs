//! The session record, its timestamps, and the secret token handed out once.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// A point in time, in milliseconds since the Unix epoch. Serialized as ISO-8601 with
/// milliseconds and `Z` (`2026-11-27T08:36:52.123Z`), as better-auth's JSON has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The time `millis` milliseconds after the Unix epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    fn to_system_time(self) -> SystemTime {
        if self.0 >= 0 {
            UNIX_EPOCH + Duration::from_millis(self.0 as u64)
        } else {
            UNIX_EPOCH - Duration::from_millis(self.0.unsigned_abs())
        }
    }
}

#[inline]
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `t + d`, saturating.
impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;
    #[inline]
    fn add(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(millis(d)))
    }
}

/// `t - d`, saturating.
impl std::ops::Sub<Duration> for Timestamp {
    type Output = Timestamp;
    #[inline]
    fn sub(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(millis(d)))
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(d.as_millis() as i64),
            Err(e) => Timestamp(-(e.duration().as_millis() as i64)),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}",
            humantime::format_rfc3339_millis(self.to_system_time())
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        humantime::parse_rfc3339_weak(&s)
            .map(Timestamp::from)
            .map_err(serde::de::Error::custom)
    }
}

/// A [`Timestamp`] that a shared session can move forward (the sliding refresh) without a lock.
#[derive(Default)]
struct AtomicTimestamp(AtomicI64);

// `#[inline]` on these one-instruction helpers: callers in other crates (every store generic
// over the app data) would otherwise make a function call for each.
#[cfg_attr(
    not(any(feature = "memory-store", feature = "redis")),
    allow(dead_code)
)]
impl AtomicTimestamp {
    #[inline]
    fn new(t: Timestamp) -> Self {
        AtomicTimestamp(AtomicI64::new(t.0))
    }
    #[inline]
    fn get(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::Relaxed))
    }
    #[inline]
    fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::Relaxed)
    }
}

/// A session: who it belongs to, when it ends, and the application's own data.
///
/// The JSON shape follows better-auth's session object: `id`, `userId`, `createdAt`,
/// `expiresAt`, `updatedAt`, `ipAddress`, `userAgent` (camelCase, ISO-8601 dates), plus
/// `rememberMe` and the app's `data`. The secret token is not part of the record: a store keeps
/// only a keyed hash of it, and hands the token out once, in [`Issued`].
#[derive(Serialize, Deserialize)]
#[serde(
    into = "SessionWire<D>",
    from = "SessionWire<D>",
    bound(
        serialize = "D: Serialize + Clone",
        deserialize = "D: Deserialize<'de>"
    )
)]
pub struct Session<D = ()> {
    /// The public handle, used to list and revoke sessions.
    pub id: Uuid,
    /// The user the session belongs to.
    pub user_id: Arc<str>,
    /// When the session was issued.
    pub created_at: Timestamp,
    expires_at: AtomicTimestamp,
    updated_at: AtomicTimestamp,
    /// Boxed: most sessions in a large store have none, and two inline strings would cost 24
    /// bytes more per session.
    client: Option<Box<ClientInfo>>,
    /// Whether the session was issued with remember-me (the long lifetime).
    pub remember_me: bool,
    /// The application's own data.
    pub data: D,
}

#[derive(Clone, Debug, Default)]
struct ClientInfo {
    ip_address: Option<Box<str>>,
    user_agent: Option<Box<str>>,
}

/// The JSON form of a [`Session`].
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionWire<D> {
    id: Uuid,
    user_id: Arc<str>,
    created_at: Timestamp,
    expires_at: Timestamp,
    updated_at: Timestamp,
    ip_address: Option<Box<str>>,
    user_agent: Option<Box<str>>,
    #[serde(default = "yes")]
    remember_me: bool,
    data: D,
}

impl<D: Clone> From<Session<D>> for SessionWire<D> {
    fn from(s: Session<D>) -> Self {
        let client = s.client.map(|c| *c).unwrap_or_default();
        SessionWire {
            id: s.id,
            user_id: s.user_id,
            created_at: s.created_at,
            expires_at: s.expires_at.get(),
            updated_at: s.updated_at.get(),
            ip_address: client.ip_address,
            user_agent: client.user_agent,
            remember_me: s.remember_me,
            data: s.data,
        }
    }
}

impl<D> From<SessionWire<D>> for Session<D> {
    fn from(w: SessionWire<D>) -> Self {
        Session {
            id: w.id,
            user_id: w.user_id,
            created_at: w.created_at,
            expires_at: AtomicTimestamp::new(w.expires_at),
            updated_at: AtomicTimestamp::new(w.updated_at),
            client: client_info(w.ip_address, w.user_agent),
            remember_me: w.remember_me,
            data: w.data,
        }
    }
}

fn client_info(
    ip_address: Option<Box<str>>,
    user_agent: Option<Box<str>>,
) -> Option<Box<ClientInfo>> {
    (ip_address.is_some() || user_agent.is_some()).then(|| {
        Box::new(ClientInfo {
            ip_address,
            user_agent,
        })
    })
}

fn yes() -> bool {
    true
}

impl<D> Session<D> {
    /// A new record. Stores call this; applications get records from a store.
    pub fn new(
        user_id: Arc<str>,
        now: Timestamp,
        expires_at: Timestamp,
        options: CreateOptions,
        data: D,
    ) -> Self {
        Session {
            id: Uuid::new_v4(),
            user_id,
            created_at: now,
            expires_at: AtomicTimestamp::new(expires_at),
            updated_at: AtomicTimestamp::new(now),
            client: client_info(
                options.ip_address.map(Into::into),
                options.user_agent.map(Into::into),
            ),
            remember_me: options.remember_me,
            data,
        }
    }

    /// When the session ends, unless a refresh moves it on.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at.get()
    }

    /// When the session was last refreshed.
    pub fn updated_at(&self) -> Timestamp {
        self.updated_at.get()
    }

    /// The client's address at sign-in, if known.
    pub fn ip_address(&self) -> Option<&str> {
        self.client.as_ref()?.ip_address.as_deref()
    }

    /// The client's `User-Agent` at sign-in, if known.
    pub fn user_agent(&self) -> Option<&str> {
        self.client.as_ref()?.user_agent.as_deref()
    }

    /// Moves the expiry (a sliding refresh); `updated_at` becomes `now`. Stores only: a handler
    /// holds the very record the store shares, and must not move a live session's expiry.
    #[cfg_attr(
        not(any(feature = "memory-store", feature = "redis")),
        allow(dead_code)
    )]
    pub(crate) fn refresh(&self, now: Timestamp, expires_at: Timestamp) {
        self.expires_at.set(expires_at);
        self.updated_at.set(now);
    }

    /// Whether the session has ended at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at() <= now
    }
}

impl<D: Clone> Clone for Session<D> {
    fn clone(&self) -> Self {
        Session {
            id: self.id,
            user_id: self.user_id.clone(),
            created_at: self.created_at,
            expires_at: AtomicTimestamp::new(self.expires_at()),
            updated_at: AtomicTimestamp::new(self.updated_at()),
            client: self.client.clone(),
            remember_me: self.remember_me,
            data: self.data.clone(),
        }
    }
}

impl<D: fmt::Debug> fmt::Debug for Session<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at())
            .field("updated_at", &self.updated_at())
            .field("ip_address", &self.ip_address())
            .field("user_agent", &self.user_agent())
            .field("remember_me", &self.remember_me)
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

/// How to issue a session: better-auth's sign-in options.
///
/// ```
/// use tower_bearer::store::CreateOptions;
///
/// let options = CreateOptions::default()
///     .remember_me(false)
///     .ip_address("203.0.113.7")
///     .user_agent("curl/8");
/// assert!(!options.remember_me);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CreateOptions {
    /// The long lifetime (7 days by default) when `true`, the short one (1 day) when `false`.
    pub remember_me: bool,
    /// The client's address.
    pub ip_address: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            remember_me: true,
            ip_address: None,
            user_agent: None,
        }
    }
}

impl CreateOptions {
    /// The long lifetime (`true`, the default) or the short one.
    pub fn remember_me(mut self, remember_me: bool) -> Self {
        self.remember_me = remember_me;
        self
    }

    /// Records the client's address on the session.
    pub fn ip_address(mut self, ip_address: impl Into<String>) -> Self {
        self.ip_address = Some(ip_address.into());
        self
    }

    /// Records the client's `User-Agent` on the session.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }
}

pub use crate::session_token::SessionToken;

/// A newly issued session and its token: the only time a store hands the token out.
#[derive(Debug, Clone)]
pub struct Issued<D = ()> {
    /// The session record.
    pub session: Arc<Session<D>>,
    /// The secret token; send it to the client, keep it nowhere.
    pub token: SessionToken,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_8601_with_millis() {
        let t = Timestamp::from_millis(1_764_232_612_345);
        assert_eq!(t.to_string(), "2025-11-27T08:36:52.345Z");
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2025-11-27T08:36:52.345Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
        assert_eq!(
            Timestamp::from_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn session_json_is_camel_case() {
        let now = Timestamp::from_millis(0);
        let s = Session::new(
            "u1".into(),
            now,
            now + Duration::from_secs(1),
            CreateOptions::default(),
            (),
        );
        let v = serde_json::to_value(&s).unwrap();
        for key in [
            "id",
            "userId",
            "createdAt",
            "expiresAt",
            "updatedAt",
            "ipAddress",
            "userAgent",
        ] {
            assert!(v.get(key).is_some(), "{key} missing in {v}");
        }
        assert_eq!(v["expiresAt"], "1970-01-01T00:00:01.000Z");
        assert!(v.get("digest").is_none() && v.get("tag").is_none());
        let back: Session = serde_json::from_value(v).unwrap();
        assert_eq!(back.id, s.id);
        assert_eq!(back.expires_at(), s.expires_at());
    }
}
