//! [`AccessPolicy`]: what a verified token must grant to reach a resource: scopes (with a
//! hierarchy, so a broader scope covers narrower ones) and, for step-up, how strong and how
//! recent the user's authentication must be (RFC 9470).

use std::collections::BTreeSet;
use std::time::Duration;

use super::claims::{now_secs, Claims};
use crate::rejection::{InsufficientScope, InsufficientUserAuthentication, Rejection};

/// The scopes a token must grant, and the authentication behind it, checked against its
/// [`Claims`]: a token without a required scope gets `403 insufficient_scope` naming every
/// required scope (a client re-authorizes with exactly the challenge's scopes, so naming only
/// the missing ones would lose the others); a token whose `acr` or `auth_time` falls short gets
/// RFC 9470's `401 insufficient_user_authentication` with `acr_values` and `max_age`.
///
/// ```
/// use std::time::Duration;
/// use tower_bearer::oauth::{AccessPolicy, Claims};
///
/// let policy = AccessPolicy::new()
///     .require_scopes(["files:read"])
///     .implies("files:write", ["files:read"]);
/// let claims: Claims = serde_json::from_value(serde_json::json!({"scope": "files:write"}))?;
/// assert!(policy.check(&claims).is_ok(), "files:write covers files:read");
///
/// let step_up = AccessPolicy::new()
///     .acr_values(["urn:example:mfa"])
///     .max_age(Duration::from_secs(300));
/// let rejection = step_up.check(&claims).unwrap_err();
/// assert_eq!(rejection.status(), 401);
/// assert_eq!(rejection.acr_values(), Some("urn:example:mfa"));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct AccessPolicy {
    scopes: Vec<String>,
    implies: Vec<(String, Vec<String>)>,
    acr_values: Vec<String>,
    max_age: Option<Duration>,
}

impl AccessPolicy {
    /// A policy that requires nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scopes every token must grant (added to those already required).
    pub fn require_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for scope in scopes {
            let scope = scope.into();
            if !self.scopes.contains(&scope) {
                self.scopes.push(scope);
            }
        }
        self
    }

    /// A scope hierarchy: a token granted `broader` is taken to grant each of `narrower` too
    /// (`files:write` implies `files:read`). Transitive.
    pub fn implies<I, S>(mut self, broader: impl Into<String>, narrower: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let narrower = narrower.into_iter().map(Into::into).collect();
        self.implies.push((broader.into(), narrower));
        self
    }

    /// The authentication context classes that satisfy the policy, in order of preference: a
    /// token whose `acr` is none of them (or that has none) is refused with a step-up
    /// challenge naming them.
    pub fn acr_values<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.acr_values = values.into_iter().map(Into::into).collect();
        self
    }

    /// The greatest age the user's authentication may have: a token whose `auth_time` is
    /// older (or absent) is refused with a step-up challenge naming it.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// The required scopes, space-separated: what a `401` asks a client to get.
    pub fn scope(&self) -> Option<String> {
        (!self.scopes.is_empty()).then(|| self.scopes.join(" "))
    }

    /// Whether `claims` pass: the authentication first (a fresh login can also grant more
    /// scopes), then the scopes.
    // The refusal is the layer's own type, handed on as it is: no box on the cold path.
    #[allow(clippy::result_large_err)]
    pub fn check<T>(&self, claims: &Claims<T>) -> Result<(), Rejection> {
        let acr_short = !self.acr_values.is_empty()
            && !claims
                .acr
                .as_ref()
                .is_some_and(|acr| self.acr_values.contains(acr));
        let too_old = self.max_age.is_some_and(|max_age| {
            let max_age = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
            claims
                .auth_time
                .is_none_or(|at| now_secs().saturating_sub(at) > max_age)
        });
        if acr_short || too_old {
            let mut refusal = InsufficientUserAuthentication::new();
            if !self.acr_values.is_empty() {
                refusal = refusal.acr_values(self.acr_values.join(" "));
            }
            if let Some(max_age) = self.max_age {
                refusal = refusal.max_age(max_age.as_secs());
            }
            tracing::debug!(
                acr_short,
                too_old,
                "bearer: the token's authentication is not enough here (step-up)"
            );
            return Err(refusal.into());
        }
        let granted = self.granted(&claims.scopes);
        if let Some(missing) = self.scopes.iter().find(|s| !granted.contains(s.as_str())) {
            tracing::debug!(missing = %missing, "bearer: the token lacks a required scope");
            return Err(InsufficientScope::new(self.scopes.join(" ")).into());
        }
        Ok(())
    }

    /// The scopes `scopes` grant, with everything they imply.
    fn granted<'a>(&'a self, scopes: &'a [String]) -> BTreeSet<&'a str> {
        let mut granted: BTreeSet<&str> = scopes.iter().map(String::as_str).collect();
        loop {
            let before = granted.len();
            for (broader, narrower) in &self.implies {
                if granted.contains(broader.as_str()) {
                    granted.extend(narrower.iter().map(String::as_str));
                }
            }
            if granted.len() == before {
                return granted;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: serde_json::Value) -> Claims {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn scopes_with_a_hierarchy_and_every_required_scope_in_the_refusal() {
        let policy = AccessPolicy::new()
            .require_scopes(["files:read", "mcp:tools"])
            .implies("files:admin", ["files:write"])
            .implies("files:write", ["files:read"]);
        assert!(policy
            .check(&claims(json!({"scope": "files:read mcp:tools"})))
            .is_ok());
        assert!(
            policy
                .check(&claims(json!({"scope": "files:admin mcp:tools"})))
                .is_ok(),
            "transitive"
        );
        let refused = policy
            .check(&claims(json!({"scope": "files:read"})))
            .unwrap_err();
        assert_eq!(refused.status(), 403);
        assert_eq!(
            refused.scope(),
            Some("files:read mcp:tools"),
            "all of them, not the missing one"
        );
        let narrower = policy
            .check(&claims(json!({"scope": "mcp:tools files:list"})))
            .unwrap_err();
        assert_eq!(narrower.scope(), Some("files:read mcp:tools"));
        assert_eq!(policy.scope().as_deref(), Some("files:read mcp:tools"));
        assert!(AccessPolicy::new().check(&claims(json!({}))).is_ok());
    }

    #[test]
    fn step_up_on_acr_and_auth_time() {
        let policy = AccessPolicy::new()
            .acr_values(["urn:loa:2", "urn:loa:3"])
            .max_age(Duration::from_secs(600));
        let now = now_secs();
        assert!(policy
            .check(&claims(json!({"acr": "urn:loa:3", "auth_time": now - 10})))
            .is_ok());
        for (case, token) in [
            ("weak acr", json!({"acr": "urn:loa:1", "auth_time": now})),
            ("no acr", json!({"auth_time": now})),
            (
                "old login",
                json!({"acr": "urn:loa:2", "auth_time": now - 601}),
            ),
            ("no auth_time", json!({"acr": "urn:loa:2"})),
        ] {
            let refused = policy.check(&claims(token)).unwrap_err();
            assert_eq!(refused.status(), 401, "{case}");
            assert_eq!(
                refused.challenge().unwrap(),
                r#"Bearer error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required", acr_values="urn:loa:2 urn:loa:3", max_age="600""#,
                "{case}"
            );
        }
        let acr_only = AccessPolicy::new().acr_values(["urn:loa:2"]);
        let refused = acr_only
            .check(&claims(json!({"acr": "urn:loa:1"})))
            .unwrap_err();
        assert_eq!(
            (refused.acr_values(), refused.max_age()),
            (Some("urn:loa:2"), None)
        );
    }
}
