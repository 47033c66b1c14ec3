//! [`Claims`]: a verified token's payload, the registered claims typed and the rest through
//! serde.

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::InsufficientScope;

/// The claims of a verified JWT: what handlers get (as `Arc<Claims<T>>`) in the request's
/// extensions.
///
/// The registered claims (RFC 7519 §4.1, RFC 9068, RFC 8693's `scope` and `client_id`) are
/// typed; every other claim goes to `extra`, a JSON object by default, or your own type, for
/// example better-auth's user record, which its `jwt` plugin puts at the top level of the
/// payload:
///
/// ```
/// use serde::Deserialize;
/// use tower_bearer::oauth::Claims;
///
/// #[derive(Clone, Deserialize)]
/// struct User { email: String, name: String }
///
/// let claims: Claims<User> = serde_json::from_str(
///     r#"{"sub":"u1","exp":2000000000,"email":"ada@example.com","name":"Ada","scope":"read write"}"#,
/// ).unwrap();
/// assert_eq!(claims.sub.as_deref(), Some("u1"));
/// assert_eq!(claims.extra.email, "ada@example.com");
/// assert!(claims.has_scope("write"));
/// ```
#[non_exhaustive]
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: DeserializeOwned", serialize = "T: Serialize"))]
pub struct Claims<T = Map<String, Value>> {
    /// `sub`: whom the token is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// `iss`: who issued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// `aud`: whom it is for, a string or a list.
    #[serde(default, skip_serializing_if = "Audience::is_empty")]
    pub aud: Audience,
    /// `exp`: when it expires, in seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// `nbf`: not valid before, in seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// `iat`: when it was issued, in seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// `jti`: the token's own id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// `client_id`: the OAuth client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `acr`: the authentication context class the user authenticated with (RFC 9068 §2.2.1,
    /// OpenID Connect Core §2), for step-up checks ([`AccessPolicy`](super::AccessPolicy)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// `auth_time`: when the user authenticated, in seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The granted scopes, from `scope` (space-separated, RFC 8693) or `scp` (a list, as
    /// Entra ID and Okta write it).
    #[serde(
        default,
        rename = "scope",
        alias = "scp",
        deserialize_with = "scopes",
        serialize_with = "join_scopes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub scopes: Vec<String>,
    /// `cnf`: the key the token is bound to (RFC 7800); a DPoP-bound token's `jkt` (RFC 9449
    /// §6), which only a request with that key's proof may present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: T,
}

/// A token's `cnf` claim (RFC 7800): the key it is bound to.
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// `jkt`: the RFC 7638 SHA-256 thumbprint of a DPoP key (RFC 9449 §6.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
    /// `x5t#S256`: a certificate thumbprint (RFC 8705, mutual TLS): a token bound so is refused
    /// here, since this crate does not see the client's certificate.
    #[serde(default, rename = "x5t#S256", skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
}

/// `claims`, if the request may present them: a token bound to a key (`cnf.jkt`) only with
/// that key's DPoP proof, a token bound to none only without a proof (RFC 9449 §7.1, §7.2).
/// Resolvers check it after their caches, so a cached token is held to it on every request.
pub(crate) fn held_by<T>(
    claims: Option<std::sync::Arc<Claims<T>>>,
    sender: Option<&str>,
) -> Option<std::sync::Arc<Claims<T>>> {
    let claims = claims?;
    match sender_fits(claims.cnf.as_ref(), sender) {
        Ok(()) => Some(claims),
        Err(why) => {
            tracing::debug!(why, "bearer: the token is refused");
            None
        }
    }
}

/// Whether a token bound as `cnf` says may be used by a request that came with a DPoP proof
/// of the key `presented` (or with none): a bound token only with its key's proof, an
/// unbound one only without a proof. `Err` says why not.
pub(crate) fn sender_fits(
    cnf: Option<&Confirmation>,
    presented: Option<&str>,
) -> Result<(), &'static str> {
    let bound = cnf.and_then(|c| c.jkt.as_deref());
    if cnf.is_some_and(|c| c.x5t_s256.is_some()) {
        return Err("the token is bound to a TLS client certificate (cnf x5t#S256)");
    }
    match (bound, presented) {
        (None, None) => Ok(()),
        (Some(jkt), Some(proof))
            if crate::token::constant_time_eq(jkt.as_bytes(), proof.as_bytes()) =>
        {
            Ok(())
        }
        (Some(_), Some(_)) => {
            Err("the DPoP proof's key is not the one the token is bound to (cnf.jkt)")
        }
        (Some(_), None) => Err("a DPoP-bound token (cnf.jkt) presented as Bearer"),
        (None, Some(_)) => Err("a token bound to no key presented with a DPoP proof"),
    }
}

impl<T> Claims<T> {
    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// `Ok` when the token grants every one of `scopes`; else the refusal that names them all,
    /// which the layer answers `403 insufficient_scope, scope="…"`. For
    /// [`BearerLayer::authorize`](crate::BearerLayer::authorize),
    /// [`RequireSessionLayer`](crate::RequireSessionLayer) and axum's `Requirement`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_bearer::oauth::{Claims, JwtResolver, KeySet};
    /// use tower_bearer::{BearerLayer, RequireSessionLayer};
    ///
    /// let resolver: JwtResolver = JwtResolver::builder().any_audience().keys(KeySet::default()).unwrap();
    /// // Every route: `orders:read`; one route: `orders:write` too.
    /// let layer = BearerLayer::new(resolver)
    ///     .authorize(|claims: &Arc<Claims>| claims.require_scopes(&["orders:read"]));
    /// let write = RequireSessionLayer::new(|claims: &Arc<Claims>| {
    ///     claims.require_scopes(&["orders:read", "orders:write"])
    /// });
    /// # let _ = (layer, write);
    /// ```
    pub fn require_scopes(&self, scopes: &[&str]) -> Result<(), InsufficientScope> {
        match scopes.iter().all(|scope| self.has_scope(scope)) {
            true => Ok(()),
            false => Err(InsufficientScope::new(scopes.join(" "))),
        }
    }
}

/// `Debug` shows the registered claims and the type of the rest, never their values: a token's
/// claims are personal data.
impl<T> fmt::Debug for Claims<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("sub", &self.sub)
            .field("iss", &self.iss)
            .field("aud", &self.aud)
            .field("exp", &self.exp)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// Seconds since the epoch, as `exp`, `nbf` and `iat` count.
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `aud`: one audience or several.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// No `aud` claim.
    #[default]
    #[serde(skip)]
    None,
    /// One audience, as a string.
    One(String),
    /// A list of audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `audience` is among them.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::None => false,
            Audience::One(one) => one == audience,
            Audience::Many(many) => many.iter().any(|a| a == audience),
        }
    }

    /// Whether there is no `aud` claim.
    pub fn is_empty(&self) -> bool {
        matches!(self, Audience::None)
    }

    /// Whether any of the audiences passes `f`.
    pub(crate) fn any(&self, f: impl Fn(&str) -> bool) -> bool {
        match self {
            Audience::None => false,
            Audience::One(one) => f(one),
            Audience::Many(many) => many.iter().any(|a| f(a)),
        }
    }
}

fn scopes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scope {
        Spaced(String),
        List(Vec<String>),
    }
    Ok(
        match Scope::deserialize(d)
            .map_err(|_| de::Error::custom("scope is neither a string nor a list of strings"))?
        {
            Scope::Spaced(s) => s
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            Scope::List(list) => list,
        },
    )
}

fn join_scopes<S: serde::Serializer>(scopes: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&scopes.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_claims_are_typed_and_the_rest_kept() {
        let c: Claims = serde_json::from_str(
            r#"{"sub":"u","iss":"https://i","aud":["a","b"],"exp":10,"nbf":1,"iat":2,"jti":"j","client_id":"c","scp":["x","y"],"email":"e"}"#,
        )
        .unwrap();
        assert_eq!(c.aud, Audience::Many(vec!["a".into(), "b".into()]));
        assert!(c.aud.contains("b") && !c.aud.contains("c"));
        assert_eq!(c.scopes, ["x", "y"]);
        assert_eq!(c.extra["email"], "e");
        assert!(
            c.extra.get("sub").is_none(),
            "registered claims are not repeated in extra"
        );
        let c: Claims = serde_json::from_str(r#"{"aud":"a","scope":"read  write"}"#).unwrap();
        assert_eq!(c.aud, Audience::One("a".into()));
        assert_eq!(c.scopes, ["read", "write"]);
        assert!(serde_json::from_str::<Claims>(r#"{"exp":"soon"}"#).is_err());
        assert!(serde_json::from_str::<Claims>(r#"{"aud":7}"#).is_err());
        let debug = format!("{c:?}");
        assert!(!debug.contains("email"));
    }

    /// RFC 9449 §7: a bound token only with its key's proof; an unbound one only without one;
    /// a certificate-bound one never (no client certificate is seen here).
    #[test]
    fn a_token_is_held_to_the_key_it_is_bound_to() {
        let bound = Confirmation {
            jkt: Some("key-a".into()),
            x5t_s256: None,
        };
        assert_eq!(sender_fits(None, None), Ok(()));
        assert_eq!(sender_fits(Some(&bound), Some("key-a")), Ok(()));
        assert!(sender_fits(Some(&bound), Some("key-b"))
            .unwrap_err()
            .contains("cnf.jkt"));
        assert!(sender_fits(Some(&bound), None)
            .unwrap_err()
            .contains("as Bearer"));
        assert!(sender_fits(None, Some("key-a"))
            .unwrap_err()
            .contains("bound to no key"));
        let mtls = Confirmation {
            jkt: None,
            x5t_s256: Some("c".into()),
        };
        assert!(sender_fits(Some(&mtls), None).is_err());
        let claims: Claims = serde_json::from_str(r#"{"sub":"u","cnf":{"jkt":"key-a"}}"#).unwrap();
        assert_eq!(claims.cnf, Some(bound));
        let claims = std::sync::Arc::new(claims);
        assert!(held_by(Some(claims.clone()), Some("key-a")).is_some());
        assert!(held_by(Some(claims), None).is_none());
    }
}
