//! [`IntrospectionResolverBuilder`]: where the endpoint is, how to authenticate to it, what
//! an answer must say to be accepted, and how many calls may start.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64, Encoding as _};
use http::header::HeaderValue;
use http::Uri;
use serde_json::{Map, Value};

use super::budget::CallBudget;
use super::{Inner, IntrospectionResolver, ShapeFn};
use crate::cache::Cache;
use crate::chain::said;
use crate::digest::TokenDigest;
use crate::flight::Flights;
use crate::oauth::http::{self as client, Roots};
use crate::oauth::validation::Validation;
use crate::redact::redact;
use crate::BoxError;

/// Settings for an [`IntrospectionResolver`].
pub struct IntrospectionResolverBuilder<T = Map<String, Value>> {
    endpoint: String,
    pub(super) authorization: Option<String>,
    timeout: Duration,
    positive: Duration,
    negative: Duration,
    max_entries: usize,
    roots: Roots,
    validation: Validation,
    budget: (u32, Duration),
    shape: Option<Arc<ShapeFn>>,
    _claims: PhantomData<fn() -> T>,
}

impl<T> IntrospectionResolver<T> {
    /// Settings for the endpoint at `endpoint` (`http://`, or `https://` with feature `rustls`):
    /// no client authentication, 5 s timeout, 10 s positive and negative cache, 100,000
    /// entries, at most 50 calls a second (in bursts of 50), no issuer required, and the
    /// audience to be decided ([`audience`](IntrospectionResolverBuilder::audience) or
    /// [`any_audience`](IntrospectionResolverBuilder::any_audience)).
    pub fn builder(endpoint: impl Into<String>) -> IntrospectionResolverBuilder<T> {
        IntrospectionResolverBuilder {
            endpoint: endpoint.into(),
            authorization: None,
            timeout: Duration::from_secs(5),
            positive: Duration::from_secs(10),
            negative: Duration::from_secs(10),
            max_entries: 100_000,
            roots: None,
            validation: Validation {
                // RFC 7662 §2.2: `exp` is optional in an answer.
                require_exp: false,
                ..Validation::default()
            },
            budget: (50, Duration::from_secs(1)),
            shape: None,
            _claims: PhantomData,
        }
    }
}

/// `application/x-www-form-urlencoded`: everything but unreserved characters escaped.
pub(super) fn form_encode(value: &str) -> String {
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

    /// The issuer an answer must name in `iss`: answers without it, or naming another, are
    /// refused (`401`). Set it when the endpoint answers for more than one issuer, or as a
    /// check that the endpoint is the one you meant.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.validation.issuer = Some(issuer.into());
        self
    }

    /// The audience an answer must name in `aud` (a string or one of a list), compared as a
    /// resource URI when it is one: a token the authorization server issued for another API is
    /// refused (`401`), though the endpoint calls it active. Answers without `aud` are refused
    /// too. One of this or [`any_audience`](Self::any_audience) is required.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.validation.audience = Some(audience.into());
        self
    }

    /// Accepts answers whatever their `aud`: for an authorization server that issues tokens for
    /// this service alone. Without it, [`audience`](Self::audience) is required.
    pub fn any_audience(mut self) -> Self {
        self.validation.any_audience = true;
        self
    }

    /// The clock skew allowed for `nbf` and `iat`. Default 60 s. (`exp` is taken as the
    /// endpoint gives it: an answer past its `exp` is refused whatever the leeway.)
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.validation.leeway = leeway;
        self
    }

    /// At most `calls` calls to the endpoint start per `per` (a token bucket: bursts of up to
    /// `calls`); a token that would need a call beyond it gets `503` without one. Cached
    /// answers and requests that join a call under way spend nothing. Default 50 a second.
    ///
    /// This is what keeps a flood of distinct made-up tokens (each a cache miss) from spending
    /// the authorization server's own rate limit, which would lock real users out there: set
    /// it under that limit (better-auth's OAuth provider allows 100 calls a minute per client
    /// address, so `call_budget(90, Duration::from_secs(60))`). During a flood, tokens already
    /// cached keep working; new ones get `503` until the flood ends.
    pub fn call_budget(mut self, calls: u32, per: Duration) -> Self {
        self.budget = (calls, per);
        self
    }

    /// A cheap check of the token's form, made before any call: a token it refuses gets `401`
    /// without a call and without spending the [`call_budget`](Self::call_budget). Use it
    /// where the issuer's token format is known.
    ///
    /// ```
    /// use tower_bearer::oauth::IntrospectionResolver;
    ///
    /// // An issuer whose opaque tokens are 32 to 64 base64url characters.
    /// let builder = IntrospectionResolver::<serde_json::Map<String, serde_json::Value>>::builder(
    ///     "http://127.0.0.1:8080/introspect",
    /// )
    /// .token_shape(|token| {
    ///     (32..=64).contains(&token.len())
    ///         && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    /// });
    /// # let _ = builder;
    /// ```
    pub fn token_shape(mut self, shape: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.shape = Some(Arc::new(shape));
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

    /// The resolver. Nothing is called until the first token arrives. Fails when the
    /// endpoint is not an `http(s)` URL this build can reach, or no audience is decided.
    pub fn build(self) -> Result<IntrospectionResolver<T>, BoxError> {
        self.validation.decided("IntrospectionResolver")?;
        let at = redact(&self.endpoint);
        let endpoint: Uri = self
            .endpoint
            .parse()
            .map_err(|e| said(format!("introspection endpoint: {at:?} is not a URL: {e}")))?;
        client::check_scheme(&endpoint)
            .map_err(|e| said(format!("introspection endpoint: {at:?}: {e}")))?;
        let authorization = match self.authorization {
            Some(value) => {
                let mut value = HeaderValue::try_from(value).map_err(|_| {
                    said("client_basic: the client id and secret do not make a header value")
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(IntrospectionResolver {
            inner: Arc::new(Inner {
                client: client::client(self.roots),
                endpoint,
                at,
                authorization,
                timeout: self.timeout,
                positive: self.positive,
                negative: self.negative,
                validation: self.validation,
                budget: CallBudget::new(self.budget.0, self.budget.1),
                shape: self.shape,
                cache: Cache::new("introspection", self.max_entries),
                digest: TokenDigest::new()?,
                calls: Flights::new(),
            }),
        })
    }
}

impl<T> fmt::Debug for IntrospectionResolverBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionResolverBuilder")
            .field("endpoint", &redact(&self.endpoint))
            .field("client_authentication", &self.authorization.is_some())
            .field("issuer", &self.validation.issuer)
            .field("audience", &self.validation.audience)
            .field("timeout", &self.timeout)
            .field("positive", &self.positive)
            .field("negative", &self.negative)
            .field("call_budget", &self.budget)
            .field("token_shape", &self.shape.is_some())
            .finish_non_exhaustive()
    }
}
