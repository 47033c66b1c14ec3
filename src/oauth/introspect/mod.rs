//! [`IntrospectionResolver`]: opaque access tokens checked with the issuer's RFC 7662
//! introspection endpoint.

mod answer;
mod budget;
mod builder;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use self::answer::Answer;
use self::budget::CallBudget;
pub use self::builder::IntrospectionResolverBuilder;
use super::claims::{held_by, now_secs, Claims};
use super::http::Connector;
use super::validation::Validation;
use crate::cache::Cache;
use crate::digest::{Tag, TagBuildHasher, TokenDigest};
use crate::flight::Flights;
use crate::{BearerToken, BoxError, SessionResolver};

type Resolved<T> = Result<Option<Arc<Claims<T>>>, BoxError>;

/// One call's outcome, shared by every request that waited on it: its error is a message, so
/// that every waiter gets a copy.
type Shared<T> = Result<Option<Arc<Claims<T>>>, String>;

type ShapeFn = dyn Fn(&str) -> bool + Send + Sync;

/// Checks each token with an RFC 7662 introspection endpoint: `active: true` gives the
/// response's claims (`scope`, `client_id`, `sub`, `exp`, … and the rest as `T`), `active:
/// false` is `401`, and an endpoint that fails, times out or answers anything but `200` with
/// JSON is `503`.
///
/// An active answer is accepted only if it is meant for this service: with
/// [`issuer`](IntrospectionResolverBuilder::issuer) and
/// [`audience`](IntrospectionResolverBuilder::audience) set, its `iss` and `aud` must name
/// them; `nbf` must not be in the future; `token_type`, when present, must be `Bearer` (or
/// RFC 8693's access-token type), and a sender-constrained answer (`cnf`, DPoP) is refused.
/// Each refusal is a `401`, and says why at `DEBUG`.
///
/// Answers are cached by a keyed digest of the token: an active token for at most the cache
/// TTL (default 10 s) and never past its `exp`, an inactive one for the negative TTL (default
/// 10 s). The TTL is the revocation lag: a token revoked at the issuer is accepted here until
/// its entry ends.
///
/// Concurrent requests with one token share one call, which runs in a task of its own: a
/// request that is dropped while it waits (its client gone, the layer's `timeout`) cancels
/// nothing, and the answer is cached for the next one. At most
/// [`call_budget`](IntrospectionResolverBuilder::call_budget) calls start per interval.
///
/// ```no_run
/// use tower_bearer::oauth::IntrospectionResolver;
/// use tower_bearer::BearerLayer;
///
/// # fn run() -> Result<(), tower_bearer::BoxError> {
/// let resolver: IntrospectionResolver = IntrospectionResolver::builder("http://127.0.0.1:8080/introspect")
///     .client_basic("resource-server", "its-secret")
///     .issuer("http://127.0.0.1:8080")
///     .audience("https://api.example")
///     .build()?;
/// let layer = BearerLayer::new(resolver);
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
pub struct IntrospectionResolver<T = Map<String, Value>> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    client: Client<Connector, Full<Bytes>>,
    endpoint: Uri,
    /// The endpoint as errors and logs show it: without user info or query.
    at: String,
    authorization: Option<HeaderValue>,
    timeout: Duration,
    positive: Duration,
    negative: Duration,
    validation: Validation,
    budget: CallBudget,
    shape: Option<Arc<ShapeFn>>,
    cache: Cache<Option<Arc<Claims<T>>>>,
    digest: TokenDigest,
    /// One call per token at a time: later requests join the first one's.
    calls: Flights<Tag, Shared<T>, TagBuildHasher>,
}

impl<T: DeserializeOwned + Send + Sync + 'static> Inner<T> {
    /// One call to the endpoint.
    async fn introspect(&self, token: &str) -> Result<Answer<T>, String> {
        let failed = |e: &dyn fmt::Display| format!("introspection at {}: {e}", self.at);
        let body = format!(
            "token={}&token_type_hint=access_token",
            builder::form_encode(token)
        );
        let mut request = Request::post(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| failed(&e))?;
        if let Some(authorization) = &self.authorization {
            request
                .headers_mut()
                .insert(AUTHORIZATION, authorization.clone());
        }
        let call = async {
            let response = self.client.request(request).await.map_err(|e| failed(&e))?;
            if response.status() != StatusCode::OK {
                return Err(failed(&format_args!("status {}", response.status())));
            }
            Limited::new(response.into_body(), 256 * 1024)
                .collect()
                .await
                .map(|body| body.to_bytes())
                .map_err(|e| failed(&e))
        };
        let body = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| failed(&"timed out"))??;
        answer::read(&body, &self.validation).map_err(|e| failed(&e))
    }

    /// A call, and its answer cached; run in a task of its own.
    async fn call(self: Arc<Self>, tag: Tag, token: String, started: u64) -> Shared<T> {
        let answer = self.introspect(&token).await?;
        let (found, ttl) = match answer {
            Answer::Accepted(claims) => {
                let left = claims.exp.map_or(self.positive, |exp| {
                    Duration::from_secs(u64::try_from(exp - now_secs()).unwrap_or(0))
                });
                (Some(claims), self.positive.min(left))
            }
            Answer::Refused(why) => {
                tracing::debug!(why, "bearer: introspection refuses the token");
                (None, self.negative)
            }
        };
        self.cache.put(tag, None, found.clone(), ttl, started);
        Ok(found)
    }

    async fn resolve(self: Arc<Self>, token: String) -> Resolved<T> {
        let tag = self.digest.tag(token.as_bytes());
        if let Some(hit) = self.cache.get(tag) {
            return Ok(hit);
        }
        if let Some(shape) = &self.shape {
            if !shape(&token) {
                tracing::debug!(
                    why = "not of the issuer's token shape",
                    "bearer: introspection refuses the token"
                );
                return Ok(None);
            }
        }
        let inner = self.clone();
        let call = self.calls.join_or(tag, || {
            if !inner.budget.take() {
                return Err(Err(format!(
                    "introspection at {}: the call budget is spent",
                    inner.at
                )));
            }
            let started = inner.cache.start();
            Ok(inner.clone().call(tag, token, started))
        });
        match call.await {
            Some(answer) => answer.map_err(BoxError::from),
            None => Err(format!("introspection at {}: the call was lost", self.at).into()),
        }
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> SessionResolver for IntrospectionResolver<T> {
    type Session = Arc<Claims<T>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Resolved<T>> + Send>>;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        let sender = token.dpop_thumbprint().map(str::to_owned);
        let resolve = self.inner.clone().resolve(token.as_str().to_owned());
        Box::pin(async move { Ok(held_by(resolve.await?, sender.as_deref())) })
    }

    /// A cached answer, at once.
    fn resolve_ready(&self, token: BearerToken<'_>) -> Option<Resolved<T>> {
        let tag = self.inner.digest.tag(token.as_bytes());
        let cached = self.inner.cache.get(tag)?;
        Some(Ok(held_by(cached, token.dpop_thumbprint())))
    }
}

impl<T> Clone for IntrospectionResolver<T> {
    fn clone(&self) -> Self {
        IntrospectionResolver {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for IntrospectionResolver<T> {
    /// Where the endpoint is (without credentials), and how many answers are cached and how
    /// many calls are under way.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionResolver")
            .field("endpoint", &self.inner.at)
            .field("client_authentication", &self.inner.authorization.is_some())
            .field("issuer", &self.inner.validation.issuer)
            .field("audience", &self.inner.validation.audience)
            .field("cached", &self.inner.cache.len())
            .field("in_flight", &self.inner.calls.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_credentials_are_form_encoded_then_base64() {
        assert_eq!(builder::form_encode("a b:c/é"), "a%20b%3Ac%2F%C3%A9");
        let builder = IntrospectionResolver::<Map<String, Value>>::builder("http://x/i")
            .client_basic("my client", "s3:cr");
        // base64("my%20client:s3%3Acr")
        assert_eq!(
            builder.authorization.as_deref(),
            Some("Basic bXklMjBjbGllbnQ6czMlM0Fjcg==")
        );
        assert!(!format!("{builder:?}").contains("s3"));
        let build = |url: &str| {
            IntrospectionResolver::<Map<String, Value>>::builder(url)
                .any_audience()
                .build()
        };
        assert_eq!(build("https://x/i").is_ok(), cfg!(feature = "rustls"));
        assert!(build("ftp://x/i").is_err());
    }

    #[test]
    fn the_audience_is_decided_or_nothing_is_built() {
        let error = IntrospectionResolver::<Map<String, Value>>::builder("http://x/i")
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("IntrospectionResolver: no audience: set .audience("),
            "{error}"
        );
        assert!(error.contains(".any_audience()"), "{error}");
        let built = IntrospectionResolver::<Map<String, Value>>::builder("http://x/i")
            .audience("https://api.example")
            .build();
        assert!(built.is_ok());
    }

    #[test]
    fn endpoint_credentials_never_reach_errors_or_debug() {
        let resolver = IntrospectionResolver::<Map<String, Value>>::builder(
            "http://user:pa55word@127.0.0.1:1/introspect",
        )
        .any_audience()
        .build()
        .unwrap();
        assert!(!format!("{resolver:?}").contains("pa55word"));
        assert!(format!("{resolver:?}").contains("http://127.0.0.1:1/introspect"));
        let error = IntrospectionResolver::<Map<String, Value>>::builder("ftp://u:pa55word@h/i")
            .any_audience()
            .build()
            .unwrap_err();
        assert!(!error.to_string().contains("pa55word"), "{error}");
        assert!(
            error.to_string().contains("introspection endpoint"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_refused_call_names_the_endpoint_without_credentials() {
        let resolver = IntrospectionResolver::<Map<String, Value>>::builder(
            "http://user:pa55word@127.0.0.1:1/introspect",
        )
        .any_audience()
        .build()
        .unwrap();
        let error = resolver
            .inner
            .clone()
            .resolve("some-token".into())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("introspection at http://127.0.0.1:1/introspect: "),
            "{error}"
        );
        assert!(!error.contains("pa55word"), "{error}");
    }
}
