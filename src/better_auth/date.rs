//! Dates as better-auth writes them: ISO-8601 text to the millisecond (JavaScript's
//! `Date.prototype.toISOString`), or epoch milliseconds where a store keeps numbers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
pub(super) mod iso {
    use std::time::SystemTime;

    use serde::de::{self, Visitor};
    use serde::ser::Error as _;
    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        // A time set by hand outside 1970 to 9999 is an error, not a panic in the formatter.
        let iso = super::to_iso(*t).ok_or_else(|| S::Error::custom("date outside 1970 to 9999"))?;
        s.serialize_str(&iso)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
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

/// Optional dates as ISO strings, or `null`.
#[cfg_attr(
    not(any(
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql",
        feature = "better-auth-redis"
    )),
    allow(dead_code)
)]
pub(super) mod iso_option {
    use std::time::SystemTime;

    use serde::Serializer;

    pub(crate) fn serialize<S: Serializer>(
        t: &Option<SystemTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::iso::serialize(t, s),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::better_auth::BetterAuthSession;

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
}
