//! [`Validation`]: the checks a verified token's claims must pass, beyond its signature.

use std::time::Duration;

use crate::oauth::claims::Claims;
use crate::protected_resource::uri::same_resource;

/// What a token must carry to be accepted, beyond a valid signature.
///
/// Defaults: `exp` required; `exp`, `nbf` and `iat` checked with 60 s of leeway for clock skew;
/// no `iss` required until you configure one; an audience to be decided (the builders refuse
/// to build until one is set, or any is accepted explicitly); the RFC 9068 access-token
/// profile off.
#[derive(Clone, Debug)]
pub(crate) struct Validation {
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    /// Tokens for any audience are accepted: said explicitly, never by default.
    pub(crate) any_audience: bool,
    pub(crate) leeway: Duration,
    pub(crate) require_exp: bool,
    pub(crate) access_token_profile: bool,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            issuer: None,
            audience: None,
            any_audience: false,
            leeway: Duration::from_secs(60),
            require_exp: true,
            access_token_profile: false,
        }
    }
}

impl Validation {
    /// Why a builder cannot build yet: the audience is neither set nor waived. `what` names
    /// the builder.
    pub(crate) fn decided(&self, what: &str) -> Result<(), String> {
        match self.audience.is_some() || self.any_audience {
            true => Ok(()),
            false => Err(format!(
                "{what}: no audience: set .audience(\"https://api.example\") to the identifier \
                 this service's tokens are issued for, or call .any_audience() to accept tokens \
                 the issuer minted for any audience (RFC 8707; see the README's migration notes)"
            )),
        }
    }

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
                // Neither is secret: the DEBUG line says what was expected and what came.
                tracing::debug!(
                    expected_iss = issuer.as_str(),
                    iss = claims.iss.as_deref(),
                    "bearer: the token's issuer is not the one required"
                );
                return Err("wrong issuer");
            }
        }
        if let Some(audience) = &self.audience {
            // RFC 8707: compared as resource identifiers (scheme and host case, the default
            // port, a trailing slash), so `https://API.example:443/mcp/` is `https://api.example/mcp`.
            if !claims.aud.any(|aud| same_resource(aud, audience)) {
                tracing::debug!(
                    expected_aud = audience.as_str(),
                    aud = ?claims.aud,
                    "bearer: the token is not for this audience"
                );
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
