//! [`Validation`]: the checks a verified token's claims must pass, beyond its signature.

use std::time::Duration;

use crate::oauth::claims::Claims;

/// What a token must carry to be accepted, beyond a valid signature.
///
/// Defaults: `exp` required; `exp`, `nbf` and `iat` checked with 60 s of leeway for clock skew;
/// no `iss` or `aud` required until you configure them (do, for any token not minted for this
/// service alone); the RFC 9068 access-token profile off.
#[derive(Clone, Debug)]
pub(crate) struct Validation {
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) leeway: Duration,
    pub(crate) require_exp: bool,
    pub(crate) access_token_profile: bool,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(60),
            require_exp: true,
            access_token_profile: false,
        }
    }
}

impl Validation {
    /// `Ok` when the claims pass every check at `now` (seconds since the epoch), else why not.
    pub(crate) fn check<T>(
        &self,
        typ: Option<&str>,
        claims: &Claims<T>,
        now: i64,
    ) -> Result<(), &'static str> {
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        match claims.exp {
            Some(exp) if now >= exp.saturating_add(leeway) => return Err("expired"),
            None if self.require_exp || self.access_token_profile => return Err("no exp"),
            _ => {}
        }
        if claims
            .nbf
            .is_some_and(|nbf| now.saturating_add(leeway) < nbf)
        {
            return Err("not valid yet (nbf)");
        }
        if claims
            .iat
            .is_some_and(|iat| now.saturating_add(leeway) < iat)
        {
            return Err("issued in the future (iat)");
        }
        if let Some(issuer) = &self.issuer {
            if claims.iss.as_deref() != Some(issuer.as_str()) {
                return Err("wrong issuer");
            }
        }
        if let Some(audience) = &self.audience {
            if !claims.aud.contains(audience) {
                return Err("wrong audience");
            }
        }
        if self.access_token_profile {
            // RFC 9068 §2.1, §4: the type, and the claims an access token must carry.
            let typ_ok = typ.is_some_and(|t| {
                t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
            });
            if !typ_ok {
                return Err("not an at+jwt access token");
            }
            let complete = claims.iss.is_some()
                && !claims.aud.is_empty()
                && claims.sub.is_some()
                && claims.client_id.is_some()
                && claims.iat.is_some()
                && claims.jti.is_some();
            if !complete {
                return Err("an RFC 9068 claim is missing");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: &str) -> Claims {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn times_with_leeway() {
        let v = Validation::default();
        let now = 1_000_000;
        assert!(
            v.check(None, &claims(r#"{"exp":1000000}"#), now).is_ok(),
            "within leeway"
        );
        assert!(
            v.check(None, &claims(r#"{"exp":999940}"#), now).is_err(),
            "past leeway"
        );
        assert!(v.check(None, &claims(r#"{"exp":999941}"#), now).is_ok());
        assert!(v.check(None, &claims("{}"), now).is_err(), "exp required");
        assert!(v
            .check(None, &claims(r#"{"exp":2000000,"nbf":1000061}"#), now)
            .is_err());
        assert!(v
            .check(None, &claims(r#"{"exp":2000000,"nbf":1000060}"#), now)
            .is_ok());
        assert!(v
            .check(None, &claims(r#"{"exp":2000000,"iat":1000061}"#), now)
            .is_err());
        let lax = Validation {
            require_exp: false,
            leeway: Duration::ZERO,
            ..v
        };
        assert!(lax.check(None, &claims("{}"), now).is_ok());
        assert!(lax.check(None, &claims(r#"{"exp":1000000}"#), now).is_err());
    }

    #[test]
    fn issuer_audience_and_profile() {
        let v = Validation {
            issuer: Some("https://issuer".into()),
            audience: Some("api".into()),
            ..Validation::default()
        };
        let now = 0;
        let ok = r#"{"exp":100,"iss":"https://issuer","aud":["x","api"]}"#;
        assert!(v.check(None, &claims(ok), now).is_ok());
        for bad in [
            r#"{"exp":100,"iss":"https://issuer/","aud":"api"}"#,
            r#"{"exp":100,"aud":"api"}"#,
            r#"{"exp":100,"iss":"https://issuer","aud":"apis"}"#,
            r#"{"exp":100,"iss":"https://issuer"}"#,
        ] {
            assert!(v.check(None, &claims(bad), now).is_err(), "{bad}");
        }
        let at = Validation {
            access_token_profile: true,
            ..v
        };
        let full = r#"{"exp":100,"iss":"https://issuer","aud":"api","sub":"u","client_id":"c","iat":0,"jti":"j"}"#;
        assert!(at.check(Some("at+jwt"), &claims(full), now).is_ok());
        assert!(at
            .check(Some("application/AT+JWT"), &claims(full), now)
            .is_ok());
        assert!(at.check(Some("JWT"), &claims(full), now).is_err());
        assert!(at.check(None, &claims(full), now).is_err());
        assert!(at.check(Some("at+jwt"), &claims(ok), now).is_err());
    }
}
