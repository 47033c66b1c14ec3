//! [`IntrospectionResolver`]: opaque access tokens checked with the issuer's RFC 7662
//! introspection endpoint.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64, Encoding as _};
use bytes::Bytes;
use dashmap::DashMap;
use http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::claims::{now_secs, Claims};
use super::http::{self as client, Connector, Roots};
use crate::cache::Cache;
use crate::digest::{Tag, TagBuildHasher, TokenDigest};
use crate::{BearerToken, BoxError, SessionResolver};

type Answer<T> = Result<Option<Arc<Claims<T>>>, BoxError>;

/// One call to the endpoint, shared by every request for the same token while it runs; its
/// error is a message, so that every waiter gets a copy.
type Call<T> = tokio::sync::OnceCell<Result<Option<Arc<Claims<T>>>, String>>;

/// Checks each token with an RFC 7662 introspection endpoint: `active: true` gives the
/// response's claims (`scope`, `client_id`, `sub`, `exp`, … and the rest as `T`), `active:
/// false` is `401`, and an endpoint that fails, times out or answers anything but `200` with
/// JSON is `503`.
///
/// Answers are cached by a keyed digest of the token: an active token for at most the cache
/// TTL (default 10 s) and never past its `exp`, an inactive one for the negative TTL (default
/// 10 s). The TTL is the revocation lag: a token revoked at the issuer is accepted here until
/// its entry ends. Concurrent requests with one token share one call.
///
/// ```no_run
/// use tower_bearer::oauth::IntrospectionResolver;
/// use tower_bearer::BearerLayer;
///
/// # fn run() -> Result<(), tower_bearer::BoxError> {
/// let resolver: IntrospectionResolver = IntrospectionResolver::builder("http://127.0.0.1:8080/introspect")
///     .client_basic("resource-server", "its-secret")
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
    authorization: Option<HeaderValue>,
    timeout: Duration,
    positive: Duration,
    negative: Duration,
    cache: Cache<Option<Arc<Claims<T>>>>,
    digest: TokenDigest,
    /// One call per token at a time: later requests wait for the first one's answer.
    in_flight: DashMap<Tag, Arc<Call<T>>, TagBuildHasher>,
}

/// Settings for an [`IntrospectionResolver`].
pub struct IntrospectionResolverBuilder<T = Map<String, Value>> {
    endpoint: String,
    authorization: Option<String>,
    timeout: Duration,
    positive: Duration,
    negative: Duration,
    max_entries: usize,
    roots: Roots,
    _claims: PhantomData<fn() -> T>,
}

impl<T> IntrospectionResolver<T> {
    /// Settings for the endpoint at `endpoint` (`http://`, or `https://` with feature `rustls`):
    /// no client authentication, 5 s timeout, 10 s positive and negative cache, 100,000
    /// entries.
    pub fn builder(endpoint: impl Into<String>) -> IntrospectionResolverBuilder<T> {
        IntrospectionResolverBuilder {
            endpoint: endpoint.into(),
            authorization: None,
            timeout: Duration::from_secs(5),
            positive: Duration::from_secs(10),
            negative: Duration::from_secs(10),
            max_entries: 100_000,
            roots: None,
            _claims: PhantomData,
        }
    }
}

/// `application/x-www-form-urlencoded`: everything but unreserved characters escaped.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl<T> IntrospectionResolverBuilder<T> {
    /// Authenticates to the endpoint with HTTP Basic, as RFC 6749 §2.3.1 says: the id and the
    /// secret form-encoded, then base64.
    pub fn client_basic(mut self, client_id: &str, client_secret: &str) -> Self {
        let pair = format!("{}:{}", form_encode(client_id), form_encode(client_secret));
        self.authorization = Some(format!("Basic {}", Base64::encode_string(pair.as_bytes())));
        self
    }

    /// Authenticates to the endpoint with a bearer token of its own.
    pub fn client_bearer(mut self, token: &str) -> Self {
        self.authorization = Some(format!("Bearer {token}"));
        self
    }

    /// How long one call may take; past it the request gets `503`. Default 5 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long an active token's answer is reused (never past its `exp`): the revocation lag.
    /// Default 10 s; zero turns caching of active tokens off.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.positive = ttl;
        self
    }

    /// How long an inactive token's answer is reused. Default 10 s.
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative = ttl;
        self
    }

    /// The most answers cached. Default 100,000.
    pub fn max_entries(mut self, max: usize) -> Self {
        self.max_entries = max;
        self
    }

    /// The roots trusted over HTTPS, for an endpoint behind a private CA. Default: Mozilla's.
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    pub fn tls_roots(mut self, roots: rustls::RootCertStore) -> Self {
        self.roots = Some(roots);
        self
    }

    /// The resolver. Nothing is called until the first token arrives.
    pub fn build(self) -> Result<IntrospectionResolver<T>, BoxError> {
        let endpoint: Uri = self.endpoint.parse()?;
        client::check_scheme(&endpoint)?;
        let authorization = match self.authorization {
            Some(value) => {
                let mut value = HeaderValue::try_from(value)?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(IntrospectionResolver {
            inner: Arc::new(Inner {
                client: client::client(self.roots),
                endpoint,
                authorization,
                timeout: self.timeout,
                positive: self.positive,
                negative: self.negative,
                cache: Cache::new("introspection", self.max_entries),
                digest: TokenDigest::new()?,
                in_flight: DashMap::default(),
            }),
        })
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> Inner<T> {
    /// One call to the endpoint.
    async fn introspect(&self, token: &str) -> Result<Option<Arc<Claims<T>>>, String> {
        let body = format!("token={}&token_type_hint=access_token", form_encode(token));
        let mut request = Request::post(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        if let Some(authorization) = &self.authorization {
            request
                .headers_mut()
                .insert(AUTHORIZATION, authorization.clone());
        }
        let call = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("introspection at {}: {e}", self.endpoint))?;
            if response.status() != StatusCode::OK {
                return Err(format!(
                    "introspection at {}: status {}",
                    self.endpoint,
                    response.status()
                ));
            }
            let body = Limited::new(response.into_body(), 256 * 1024)
                .collect()
                .await
                .map_err(|e| format!("introspection at {}: {e}", self.endpoint))?
                .to_bytes();
            Ok(body)
        };
        let body = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| format!("introspection at {}: timed out", self.endpoint))??;
        let Ok(Value::Object(mut answer)) = super::json::parse(&body) else {
            return Err(format!(
                "introspection at {}: not a JSON object",
                self.endpoint
            ));
        };
        match answer.remove("active") {
            Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => return Ok(None),
            _ => {
                return Err(format!(
                    "introspection at {}: no boolean active",
                    self.endpoint
                ))
            }
        }
        let claims: Claims<T> = serde_json::from_value(Value::Object(answer))
            .map_err(|e| format!("introspection at {}: {e}", self.endpoint))?;
        // An endpoint that says active for an expired token is not believed.
        if claims.exp.is_some_and(|exp| exp <= now_secs()) {
            return Ok(None);
        }
        Ok(Some(Arc::new(claims)))
    }

    async fn resolve(self: Arc<Self>, token: String) -> Answer<T> {
        let tag = self.digest.tag(token.as_bytes());
        if let Some(hit) = self.cache.get(tag) {
            return Ok(hit);
        }
        let started = self.cache.start();
        let cell = self.in_flight.entry(tag).or_default().clone();
        let answer = cell
            .get_or_init(|| async {
                let answer = self.introspect(&token).await;
                if let Ok(found) = &answer {
                    let ttl = match found {
                        Some(claims) => {
                            let left = claims.exp.map_or(self.positive, |exp| {
                                Duration::from_secs(u64::try_from(exp - now_secs()).unwrap_or(0))
                            });
                            self.positive.min(left)
                        }
                        None => self.negative,
                    };
                    self.cache.put(tag, None, found.clone(), ttl, started);
                }
                answer
            })
            .await
            .clone();
        self.in_flight
            .remove_if(&tag, |_, current| Arc::ptr_eq(current, &cell));
        answer.map_err(BoxError::from)
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> SessionResolver for IntrospectionResolver<T> {
    type Session = Arc<Claims<T>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Answer<T>> + Send>>;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        Box::pin(self.inner.clone().resolve(token.as_str().to_owned()))
    }

    /// A cached answer, at once.
    fn resolve_ready(&self, token: BearerToken<'_>) -> Option<Answer<T>> {
        let tag = self.inner.digest.tag(token.as_bytes());
        self.inner.cache.get(tag).map(Ok)
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionResolver")
            .field("endpoint", &self.inner.endpoint)
            .field("client_authentication", &self.inner.authorization.is_some())
            .field("cached", &self.inner.cache.len())
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for IntrospectionResolverBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionResolverBuilder")
            .field("endpoint", &self.endpoint)
            .field("client_authentication", &self.authorization.is_some())
            .field("timeout", &self.timeout)
            .field("positive", &self.positive)
            .field("negative", &self.negative)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_credentials_are_form_encoded_then_base64() {
        assert_eq!(form_encode("a b:c/é"), "a%20b%3Ac%2F%C3%A9");
        let builder = IntrospectionResolver::<Map<String, Value>>::builder("http://x/i")
            .client_basic("my client", "s3:cr");
        // base64("my%20client:s3%3Acr")
        assert_eq!(
            builder.authorization.as_deref(),
            Some("Basic bXklMjBjbGllbnQ6czMlM0Fjcg==")
        );
        assert!(!format!("{builder:?}").contains("s3"));
        let build = |url: &str| IntrospectionResolver::<Map<String, Value>>::builder(url).build();
        assert_eq!(build("https://x/i").is_ok(), cfg!(feature = "rustls"));
        assert!(build("ftp://x/i").is_err());
    }
}
