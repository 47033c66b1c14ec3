//! better-auth's session and user, as its get-session answers them: `{ session, user }` with
//! camelCase field names and ISO-8601 dates.

use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::date::{from_millis, iso, parse_iso};

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
///
/// Fields beyond the core ones (the admin and organization plugins', the app's
/// `session.additionalFields`) are kept in [`additional_fields`](Session::additional_fields).
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
    /// Every field beyond the core ones, by better-auth's (camelCase) field name, exactly as
    /// get-session answers them (`null` included): the plugins' (read them typed with
    /// [`impersonated_by`](Session::impersonated_by) and
    /// [`active_organization_id`](Session::active_organization_id)) and the app's
    /// `session.additionalFields` (read them with [`additional`](Session::additional)).
    #[serde(flatten)]
    pub additional_fields: Map<String, Value>,
}

/// A row of better-auth's `user` table.
///
/// Fields beyond the core ones (the admin plugin's, the app's `user.additionalFields`) are kept
/// in [`additional_fields`](User::additional_fields): the admin plugin's are read typed with
/// [`role`](User::role), [`has_role`](User::has_role), [`banned`](User::banned) and the rest,
/// and [`additional`](User::additional) reads any of them into a type of your own.
///
/// ```
/// use serde::Deserialize;
/// use tower_bearer::better_auth::BetterAuthSession;
///
/// // betterAuth({ plugins: [admin()], user: { additionalFields: { plan: { type: "string" },
/// //                                                            seats: { type: "number" } } } })
/// let json = r#"{
///   "session": {"id": "s1", "token": "t", "userId": "u1", "expiresAt": "2026-12-04T15:07:31.923Z",
///               "createdAt": "2026-11-27T15:07:31.923Z", "updatedAt": "2026-11-27T15:07:31.923Z"},
///   "user": {"id": "u1", "name": "Ada", "email": "ada@example.com", "emailVerified": true,
///            "createdAt": "2026-11-27T15:07:31.900Z", "updatedAt": "2026-11-27T15:07:31.900Z",
///            "role": "user,admin", "banned": false, "plan": "team", "seats": 5}
/// }"#;
/// let signed_in: BetterAuthSession = serde_json::from_str(json).unwrap();
/// assert!(signed_in.user.has_role("admin"));
/// assert!(!signed_in.user.banned());
/// assert_eq!(signed_in.user.role(), Some("user,admin"));
///
/// #[derive(Deserialize)]
/// struct Billing { plan: String, seats: u32 }
/// let billing: Billing = signed_in.user.additional().unwrap();
/// assert_eq!((billing.plan.as_str(), billing.seats), ("team", 5));
/// ```
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
    /// Every field beyond the core ones, by better-auth's (camelCase) field name, exactly as
    /// get-session answers them (`null` included): the admin plugin's (read them typed with
    /// [`role`](User::role), [`has_role`](User::has_role), [`banned`](User::banned) and the
    /// rest) and the app's `user.additionalFields` (read them with
    /// [`additional`](User::additional)).
    #[serde(flatten)]
    pub additional_fields: Map<String, Value>,
}

/// A string field of the additional ones; `None` when absent, `null` or not a string.
fn string<'a>(fields: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    fields.get(field)?.as_str()
}

impl User {
    /// The admin plugin's `role`: the user's roles, comma-separated (`"user"`, `"admin"`,
    /// `"user,support"`); `None` without the plugin.
    pub fn role(&self) -> Option<&str> {
        string(&self.additional_fields, "role")
    }

    /// The roles the admin plugin's `role` lists, trimmed; none without the plugin.
    pub fn roles(&self) -> impl Iterator<Item = &str> {
        self.role()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
    }

    /// Whether the admin plugin's `role` lists `role` (better-auth keeps several roles as a
    /// comma-separated list).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles().any(|r| r == role)
    }

    /// The admin plugin's `banned`; `false` without the plugin.
    ///
    /// Banning revokes the user's sessions in better-auth, so no resolver finds them any more.
    /// A session that outlives a ban (one written to the database by hand) is answered as
    /// better-auth's get-session answers it, `banned` set, for the app to refuse with
    /// [`is_banned`](User::is_banned).
    pub fn banned(&self) -> bool {
        self.additional_fields
            .get("banned")
            .and_then(Value::as_bool)
            == Some(true)
    }

    /// The admin plugin's `banReason`.
    pub fn ban_reason(&self) -> Option<&str> {
        string(&self.additional_fields, "banReason")
    }

    /// The admin plugin's `banExpires`: when the ban ends (`None`: never, or not banned).
    pub fn ban_expires(&self) -> Option<SystemTime> {
        match self.additional_fields.get("banExpires")? {
            Value::String(date) => parse_iso(date),
            Value::Number(ms) => from_millis(ms.as_i64()?),
            _ => None,
        }
    }

    /// Whether the admin plugin holds the user banned at `now`: `banned`, with a `banExpires`
    /// that is absent or not yet passed (better-auth lifts an expired ban at the next sign-in).
    pub fn is_banned(&self, now: SystemTime) -> bool {
        self.banned() && self.ban_expires().is_none_or(|end| end >= now)
    }

    /// The [additional fields](User::additional_fields), read into a type of your own.
    pub fn additional<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.additional_fields)
    }
}

impl Session {
    /// The admin plugin's `impersonatedBy`: the admin's user id, in a session an admin opened
    /// as this user.
    pub fn impersonated_by(&self) -> Option<&str> {
        string(&self.additional_fields, "impersonatedBy")
    }

    /// The organization plugin's `activeOrganizationId`: the organization the session acts in.
    pub fn active_organization_id(&self) -> Option<&str> {
        string(&self.additional_fields, "activeOrganizationId")
    }

    /// The [additional fields](Session::additional_fields), read into a type of your own.
    pub fn additional<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.additional_fields)
    }
}

pub use crate::session_token::SessionToken;

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

/// The `DEBUG` line of a session refused as expired, with when it expired (not a secret).
#[cfg_attr(
    not(any(
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql",
        feature = "better-auth-redis"
    )),
    allow(dead_code)
)]
pub(crate) fn refused_expired(resolver: &'static str, expires_at: SystemTime) {
    tracing::debug!(
        resolver,
        why = "the session expired",
        expires_at = %humantime::format_rfc3339_millis(expires_at),
        "bearer: the resolver refuses the token"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An app's own number field survives a read and a write unchanged: serde_json's default
    /// float parsing is off by an ulp on some inputs (the fuzz target `better_auth_json` found
    /// `1.7944444444444e+36` read back as `1.7944444444443997e36`), hence `float_roundtrip`.
    #[test]
    fn additional_numbers_round_trip_exactly() {
        let json = r#"{"id":"u1","name":"Ada","email":"a@example.com","emailVerified":false,"image":null,"createdAt":"2026-11-27T15:07:31.923Z","updatedAt":"2026-11-27T15:07:31.923Z","score":1.7944444444444e36}"#;
        let user: User = serde_json::from_str(json).unwrap();
        let written = serde_json::to_string(&user).unwrap();
        let again: User = serde_json::from_str(&written).unwrap();
        assert_eq!(
            user.additional_fields["score"],
            again.additional_fields["score"]
        );
        assert_eq!(serde_json::to_string(&again).unwrap(), written);
        assert_eq!(
            user.additional_fields["score"].as_f64(),
            Some(1.7944444444444e36)
        );
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
            additional_fields: Map::new(),
        };
        // `expiresAt < now`: the very millisecond is still valid.
        assert!(!expired(&s, now));
        assert!(expired(&s, now + Duration::from_millis(1)));
    }
}
