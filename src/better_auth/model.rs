//! better-auth's session and user, as its get-session answers them: `{ session, user }` with
//! camelCase field names and ISO-8601 dates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What better-auth's get-session answers for a live session: the session and its user.
///
/// Resolvers in this module yield it, so a handler reads it as better-auth's own client would:
///
/// ```
/// use tower_bearer::better_auth::BetterAuthSession;
///
/// let json = r#"{
///   "session": {"id": "s1", "token": "AbCdEfGhIjKlMnOpQrStUvWxYz012345", "userId": "u1",
///               "expiresAt": "2026-12-04T15:07:31.923Z", "createdAt": "2026-11-27T15:07:31.923Z",
///               "updatedAt": "2026-11-27T15:07:31.923Z", "ipAddress": "", "userAgent": "curl/8"},
///   "user": {"id": "u1", "name": "Ada", "email": "ada@example.com", "emailVerified": false,
///            "image": null, "createdAt": "2026-11-27T15:07:31.900Z", "updatedAt": "2026-11-27T15:07:31.900Z"}
/// }"#;
/// let signed_in: BetterAuthSession = serde_json::from_str(json).unwrap();
/// assert_eq!(signed_in.user.email, "ada@example.com");
/// // The token is a secret: Debug never prints it.
/// assert!(!format!("{signed_in:?}").contains("AbCdEf"));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct BetterAuthSession {
    /// The session row.
    pub session: Session,
    /// The user it belongs to.
    pub user: User,
}

impl BetterAuthSession {
    /// The session and its user.
    pub fn new(session: Session, user: User) -> Self {
        BetterAuthSession { session, user }
    }
}

/// A row of better-auth's `session` table (or its Redis copy).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Session {
    /// The session's id (not its token).
    pub id: String,
    /// The session token, unsigned: what the database and Redis are keyed by.
    pub token: SessionToken,
    /// The user's id.
    pub user_id: String,
    /// When the session ends.
    #[serde(with = "iso")]
    pub expires_at: SystemTime,
    /// When it was created (sign-in).
    #[serde(with = "iso")]
    pub created_at: SystemTime,
    /// When it was last written (sign-in or a refresh of its expiry).
    #[serde(with = "iso")]
    pub updated_at: SystemTime,
    /// The client's address at sign-in, if better-auth recorded one.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// The client's user agent at sign-in.
    #[serde(default)]
    pub user_agent: Option<String>,
}

/// A row of better-auth's `user` table.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct User {
    /// The user's id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email address (unique).
    pub email: String,
    /// Whether the address was verified.
    pub email_verified: bool,
    /// Picture URL.
    #[serde(default)]
    pub image: Option<String>,
    /// When the user signed up.
    #[serde(with = "iso")]
    pub created_at: SystemTime,
    /// When the user was last updated.
    #[serde(with = "iso")]
    pub updated_at: SystemTime,
}

pub use crate::secret::SessionToken;

/// better-auth's session lifetime settings: `session.expiresIn` and `session.updateAge`.
///
/// A session whose `expiresAt − expiresIn + updateAge ≤ now` is due for a refresh: get-session
/// moves its `expiresAt` to `now + expiresIn`. Resolvers that can write (SQL) do the same when
/// asked to, so that traffic to Rust services keeps sessions alive.
///
/// ```
/// use std::time::Duration;
/// use tower_bearer::better_auth::Expiry;
///
/// let day = Duration::from_secs(86_400);
/// let expiry = Expiry::new(30 * day, day);
/// assert_eq!(expiry.expires_in, 30 * day);
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expiry {
    /// `session.expiresIn`: default 7 days.
    pub expires_in: Duration,
    /// `session.updateAge`: default 1 day.
    pub update_age: Duration,
}

impl Default for Expiry {
    fn default() -> Self {
        Expiry {
            expires_in: Duration::from_secs(7 * 24 * 3600),
            update_age: Duration::from_secs(24 * 3600),
        }
    }
}

impl Expiry {
    /// better-auth's `session: { expiresIn, updateAge }`.
    pub fn new(expires_in: Duration, update_age: Duration) -> Self {
        Expiry {
            expires_in,
            update_age,
        }
    }

    /// Whether better-auth would refresh a session that expires at `expires_at`, at `now`.
    pub fn due(&self, expires_at: SystemTime, now: SystemTime) -> bool {
        // expiresAt - expiresIn + updateAge <= now, without going below the epoch.
        expires_at + self.update_age <= now + self.expires_in
    }
}

/// Whether better-auth's get-session treats a session as ended: `expiresAt < now`.
pub(crate) fn expired(session: &Session, now: SystemTime) -> bool {
    session.expires_at < now
}

/// Milliseconds since the epoch, as JavaScript's `Date` counts.
#[cfg_attr(
    not(any(
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql",
        feature = "better-auth-redis"
    )),
    allow(dead_code)
)]
pub(crate) fn to_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The last millisecond an ISO-8601 date can name: 9999-12-31T23:59:59.999Z.
const MAX_MILLIS: i64 = 253_402_300_799_999;

/// A time from epoch milliseconds, if ISO-8601 can write it (1970 to 9999): dates outside that
/// are refused where they are read, so that none reaches a formatter that cannot print it.
pub(crate) fn from_millis(ms: i64) -> Option<SystemTime> {
    let ms = u64::try_from(ms)
        .ok()
        .filter(|&ms| ms <= MAX_MILLIS as u64)?;
    Some(UNIX_EPOCH + Duration::from_millis(ms))
}

/// `t` to the millisecond, as better-auth stores it.
#[cfg_attr(
    not(any(
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql"
    )),
    allow(dead_code)
)]
pub(crate) fn truncate_millis(t: SystemTime) -> SystemTime {
    from_millis(to_millis(t)).unwrap_or(t)
}

/// `Date.prototype.toISOString`: `2026-12-04T15:07:31.923Z`; `None` outside 1970 to 9999.
pub(crate) fn to_iso(t: SystemTime) -> Option<String> {
    from_millis(to_millis(t))?;
    Some(humantime::format_rfc3339_millis(t).to_string())
}

/// An ISO-8601 date as better-auth writes it (`Z` or no zone, `T` or a space), to the
/// millisecond.
pub(crate) fn parse_iso(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s.trim_end_matches('Z').trim_end_matches("+00:00"))
        .or_else(|_| humantime::parse_rfc3339_weak(s))
        .ok()
        .filter(|&t| from_millis(to_millis(t)).is_some())
}

/// Dates as ISO strings; numbers (epoch milliseconds) are read too.
mod iso {
    use std::time::SystemTime;

    use serde::de::{self, Visitor};
    use serde::ser::Error as _;
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        // A time set by hand outside 1970 to 9999 is an error, not a panic in the formatter.
        let iso = super::to_iso(*t).ok_or_else(|| S::Error::custom("date outside 1970 to 9999"))?;
        s.serialize_str(&iso)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        struct Date;
        impl Visitor<'_> for Date {
            type Value = SystemTime;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an ISO-8601 date or epoch milliseconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SystemTime, E> {
                super::parse_iso(v).ok_or_else(|| E::custom("not an ISO-8601 date"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SystemTime, E> {
                super::from_millis(v).ok_or_else(|| E::custom("date outside 1970 to 9999"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SystemTime, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<SystemTime, E> {
                // `as` saturates, and NaN is 0.
                self.visit_i64(v as i64)
            }
        }
        d.deserialize_any(Date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_as_javascript_writes_them() {
        let t = parse_iso("2026-12-04T15:07:31.923Z").unwrap();
        assert_eq!(to_millis(t), 1_796_396_851_923);
        assert_eq!(to_iso(t).as_deref(), Some("2026-12-04T15:07:31.923Z"));
        assert_eq!(parse_iso("2026-12-04 15:07:31.923"), Some(t));
        assert_eq!(parse_iso("2026-12-04T15:07:31.923+00:00"), Some(t));
        assert_eq!(from_millis(to_millis(t)), Some(t));
        assert_eq!(parse_iso("yesterday"), None);
    }

    #[test]
    fn dates_javascript_cannot_write_are_refused_not_panicked_on() {
        let user = r#""user":{"id":"u","name":"n","email":"e","emailVerified":true,"createdAt":0,"updatedAt":0}"#;
        let session = |expires: &str| {
            format!(
                r#"{{"session":{{"id":"s","token":"t","userId":"u","expiresAt":{expires},"createdAt":0,"updatedAt":0}},{user}}}"#
            )
        };
        assert!(serde_json::from_str::<BetterAuthSession>(&session("1796396851923")).is_ok());
        for bad in [
            "-1",
            "9223372036854775807",
            "18446744073709551615",
            "1e300",
            "253402300800000",
        ] {
            assert!(
                serde_json::from_str::<BetterAuthSession>(&session(bad)).is_err(),
                "{bad}"
            );
        }
        // A time set by hand outside the range fails to serialize, without a panic.
        let mut ok: BetterAuthSession = serde_json::from_str(&session("0")).unwrap();
        ok.session.expires_at = UNIX_EPOCH - Duration::from_secs(1);
        assert!(serde_json::to_string(&ok).is_err());
        ok.session.expires_at = UNIX_EPOCH + Duration::from_secs(400 * 365 * 86400 * 25);
        assert!(serde_json::to_string(&ok).is_err());
    }

    #[test]
    fn refresh_is_due_as_better_auth_computes_it() {
        let e = Expiry::default();
        let now = parse_iso("2026-11-27T12:00:00Z").unwrap();
        let day = Duration::from_secs(86400);
        // Fresh: expires in 7 days; due once a day has passed (6 days left).
        assert!(!e.due(now + 7 * day, now));
        assert!(e.due(now + 6 * day, now));
        assert!(!e.due(now + 6 * day + Duration::from_millis(1), now));
        let s = Session {
            id: "s".into(),
            token: SessionToken::new("t"),
            user_id: "u".into(),
            expires_at: now,
            created_at: now,
            updated_at: now,
            ip_address: None,
            user_agent: None,
        };
        // `expiresAt < now`: the very millisecond is still valid.
        assert!(!expired(&s, now));
        assert!(expired(&s, now + Duration::from_millis(1)));
    }
}
