//! [`Issuers`]: one [`SessionResolver`] over several trusted issuers, each its own
//! [`JwtResolver`].

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::jws;
use super::resolver::JwtResolver;
use crate::metrics::{IssuerMetrics, IssuerResult};
use crate::oauth::claims::Claims;
use crate::{BearerToken, BoxError, SessionResolver};

/// The longest part of an unknown `iss` a DEBUG line shows.
const LOGGED_ISS: usize = 128;

/// Verifies JWTs from an allow-list of issuers, each with its own [`JwtResolver`]: its own keys
/// or discovery, audience, algorithms and caches. The session is the token's [`Claims`], as
/// with a single `JwtResolver`.
///
/// The token's `iss`, read from its payload *before* any verification, only picks the
/// resolver; that resolver then verifies the signature with its own keys and checks `iss`
/// exactly. So each entry's resolver must require the same issuer it is listed under
/// ([`issuer`](crate::oauth::JwtResolverBuilder::issuer), which
/// [`issuer_url`](crate::oauth::JwtResolverBuilder::issuer_url) sets too):
/// [`build`](IssuersBuilder::build) refuses a resolver that requires another issuer or none.
///
/// - A token whose `iss` is not on the list, or that has no `iss` (or is no JWS), is refused
///   (`401`) at once: no issuer's JWKS is fetched or even looked at, and nothing is kept
///   for it, so a flood of made-up issuers costs no fetch and no memory.
/// - Two issuers that publish the same `kid` never verify each other's tokens: each resolver
///   holds only its own issuer's keys.
/// - [`resolve_ready`](SessionResolver::resolve_ready) answers at once whenever the chosen
///   issuer's resolver does (a verified token, static keys, a cached JWKS).
/// - With feature `metrics`, the counter `tower_bearer.jwt_issuer` counts tokens by `issuer`
///   (one of the list, or `unknown`; never a token's own `iss`) and `result` (`accepted`,
///   `refused`, `error`).
///
/// ```
/// use serde_json::json;
/// use tower_bearer::oauth::{Algorithm, Issuers, JwtResolver, Key, KeySet};
/// use tower_bearer::BearerLayer;
///
/// let a_key = Key::from_jwk(&json!({
///     "kty": "OKP", "crv": "Ed25519", "kid": "k1",
///     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
/// })).unwrap();
/// let a: JwtResolver = JwtResolver::builder()
///     .issuer("https://a.example")
///     .audience("https://api.example")
///     .keys(KeySet::new([a_key]))
///     .unwrap();
/// let b_key = Key::hmac(b"a-shared-secret-of-32-bytes-or-more!", Algorithm::HS256, None).unwrap();
/// let b: JwtResolver = JwtResolver::builder()
///     .issuer("https://b.example")
///     .any_audience()
///     .keys(KeySet::new([b_key]))
///     .unwrap();
/// let issuers = Issuers::builder()
///     .issuer("https://a.example", a)
///     .issuer("https://b.example", b)
///     .build()
///     .unwrap();
/// let layer = BearerLayer::new(issuers).max_token_len(16 * 1024);
/// # let _ = layer;
///
/// // A resolver that requires another issuer than the one it is listed under is refused.
/// let c: JwtResolver = JwtResolver::builder()
///     .issuer("https://c.example")
///     .any_audience()
///     .keys(KeySet::new([]))
///     .unwrap();
/// let error = Issuers::builder().issuer("https://a.example", c).build().unwrap_err();
/// assert!(error.to_string().contains("https://c.example"));
/// ```
pub struct Issuers<T = Map<String, Value>> {
    by_iss: Arc<HashMap<Box<str>, Arc<Entry<T>>>>,
}

struct Entry<T> {
    resolver: JwtResolver<T>,
    metrics: IssuerMetrics,
}

/// The issuers an [`Issuers`] trusts; finish with [`build`](Self::build).
pub struct IssuersBuilder<T = Map<String, Value>> {
    entries: Vec<(String, JwtResolver<T>)>,
}

impl<T> Issuers<T> {
    /// No issuer yet: add each with [`IssuersBuilder::issuer`].
    pub fn builder() -> IssuersBuilder<T> {
        IssuersBuilder {
            entries: Vec::new(),
        }
    }

    /// The trusted issuers, in no particular order.
    pub fn issuers(&self) -> impl Iterator<Item = &str> + '_ {
        self.by_iss.keys().map(|iss| &**iss)
    }
}

impl<T> IssuersBuilder<T> {
    /// Trusts tokens whose `iss` is exactly `issuer`, verified by `resolver`, which must
    /// require that same `iss` (checked by [`build`](Self::build)).
    pub fn issuer(mut self, issuer: impl Into<String>, resolver: JwtResolver<T>) -> Self {
        self.entries.push((issuer.into(), resolver));
        self
    }

    /// The resolver. Fails, naming the setting and the values, when the list is empty, an
    /// issuer is listed twice or is empty, or an entry's resolver requires another `iss` than
    /// the one it is listed under, or none.
    pub fn build(self) -> Result<Issuers<T>, BoxError> {
        if self.entries.is_empty() {
            return Err(
                "Issuers: no issuer configured; add one with `.issuer(iss, resolver)`".into(),
            );
        }
        let mut by_iss = HashMap::with_capacity(self.entries.len());
        for (issuer, resolver) in self.entries {
            if issuer.is_empty() {
                return Err(
                    "Issuers: `issuer` is empty; name the exact `iss` of its tokens".into(),
                );
            }
            match resolver.required_issuer() {
                Some(required) if required == issuer => {}
                Some(required) => {
                    return Err(format!(
                        "Issuers: the resolver listed under `issuer` {issuer:?} requires `iss` \
                         {required:?}; build it with JwtResolver::builder().issuer({issuer:?})"
                    )
                    .into())
                }
                None => {
                    return Err(format!(
                        "Issuers: the resolver listed under `issuer` {issuer:?} requires no \
                         `iss`; build it with JwtResolver::builder().issuer({issuer:?}), so \
                         that `iss` is checked exactly after verification"
                    )
                    .into())
                }
            }
            let entry = Arc::new(Entry {
                metrics: IssuerMetrics::new(&issuer),
                resolver,
            });
            if by_iss
                .insert(issuer.clone().into_boxed_str(), entry)
                .is_some()
            {
                return Err(format!("Issuers: `issuer` {issuer:?} is listed twice").into());
            }
        }
        Ok(Issuers {
            by_iss: Arc::new(by_iss),
        })
    }
}

/// The token's `iss`, unverified: `None` for a token that is no JWS, whose payload is not a
/// JSON object (or has a duplicate member), or whose `iss` is absent or not a string.
fn unverified_iss(token: &str) -> Option<String> {
    let jws = jws::parse(token).ok()?;
    let Value::Object(mut payload) = crate::oauth::json::parse(&jws.payload).ok()? else {
        return None;
    };
    match payload.remove("iss")? {
        Value::String(iss) => Some(iss),
        _ => None,
    }
}

/// At most [`LOGGED_ISS`] characters of `iss`, for a log line.
fn truncated(iss: &str) -> &str {
    iss.char_indices()
        .nth(LOGGED_ISS)
        .map_or(iss, |(end, _)| &iss[..end])
}

type Answer<T> = Result<Option<Arc<Claims<T>>>, BoxError>;

fn count<T>(entry: &Entry<T>, answer: &Answer<T>) {
    entry.metrics.count(match answer {
        Ok(Some(_)) => IssuerResult::Accepted,
        Ok(None) => IssuerResult::Refused,
        Err(_) => IssuerResult::Error,
    });
}

impl<T> Issuers<T> {
    /// The entry the token's unverified `iss` names, or `None` (logged, counted) when the
    /// token names none on the list.
    fn pick(&self, token: &str) -> Option<&Arc<Entry<T>>> {
        let Some(iss) = unverified_iss(token) else {
            tracing::debug!("bearer: the JWT has no readable `iss`; no trusted issuer to ask");
            crate::metrics::jwt_issuer_unknown();
            return None;
        };
        let entry = self.by_iss.get(iss.as_str());
        if entry.is_none() {
            tracing::debug!(
                iss = ?truncated(&iss),
                "bearer: the JWT's `iss` is not a trusted issuer"
            );
            crate::metrics::jwt_issuer_unknown();
        }
        entry
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> SessionResolver for Issuers<T> {
    type Session = Arc<Claims<T>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Answer<T>> + Send>>;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        let Some(entry) = self.pick(token.as_str()) else {
            return Box::pin(std::future::ready(Ok(None)));
        };
        if let Some(answer) = entry.resolver.resolve_ready(token) {
            count(entry, &answer);
            return Box::pin(std::future::ready(answer));
        }
        let (entry, waiting) = (entry.clone(), entry.resolver.resolve(token));
        Box::pin(async move {
            let answer = waiting.await;
            count(&entry, &answer);
            answer
        })
    }

    /// Answers at once for a token with no trusted `iss`, and whenever the chosen issuer's
    /// resolver answers at once.
    fn resolve_ready(&self, token: BearerToken<'_>) -> Option<Answer<T>> {
        let Some(entry) = self.pick(token.as_str()) else {
            return Some(Ok(None));
        };
        let answer = entry.resolver.resolve_ready(token)?;
        count(entry, &answer);
        Some(answer)
    }
}

impl<T> Clone for Issuers<T> {
    fn clone(&self) -> Self {
        Issuers {
            by_iss: self.by_iss.clone(),
        }
    }
}

impl<T> fmt::Debug for Issuers<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut issuers: Vec<&str> = self.issuers().collect();
        issuers.sort_unstable();
        f.debug_struct("Issuers")
            .field("issuers", &issuers)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for IssuersBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let issuers: Vec<&str> = self.entries.iter().map(|(iss, _)| iss.as_str()).collect();
        f.debug_struct("IssuersBuilder")
            .field("issuers", &issuers)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding as _};

    fn token(payload: &str) -> String {
        let h = Base64UrlUnpadded::encode_string(br#"{"alg":"EdDSA","kid":"k"}"#);
        let p = Base64UrlUnpadded::encode_string(payload.as_bytes());
        format!("{h}.{p}.c2ln")
    }

    #[test]
    fn the_unverified_iss_is_read_strictly() {
        let iss = |p: &str| unverified_iss(&token(p));
        assert_eq!(iss(r#"{"iss":"https://a"}"#).as_deref(), Some("https://a"));
        assert_eq!(iss(r#"{"sub":"u"}"#), None);
        assert_eq!(iss(r#"{"iss":7}"#), None);
        assert_eq!(iss(r#"["iss"]"#), None);
        assert_eq!(iss(r#"{"iss":"https://a","iss":"https://b"}"#), None);
        assert_eq!(unverified_iss("opaque"), None);
    }

    #[test]
    fn a_logged_iss_is_truncated_on_a_character_boundary() {
        assert_eq!(truncated("https://a"), "https://a");
        let long = "é".repeat(500);
        assert_eq!(truncated(&long).chars().count(), LOGGED_ISS);
    }
}
