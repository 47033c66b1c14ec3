//! [`HttpResolver`]: sessions from a better-auth server's get-session endpoint.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, AUTHORIZATION};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::cache::{Cache, CacheSettings};
use super::failed::Failed;
use super::{BetterAuthSession, ResolveFuture, Signatures};
use crate::chain::said;
use crate::digest::{Tag, TagBuildHasher};
use crate::flight::{Flights, SharedError};
use crate::redact::redact;
use crate::trace::refused;
use crate::{BearerToken, BoxError, SessionResolver};

/// The resolver's name in its `DEBUG` lines.
const RESOLVER: &str = "better_auth::HttpResolver";

/// The largest get-session answer read: a session and its user are well under 64 KiB.
const MAX_BODY: usize = 64 * 1024;

/// Resolves bearer tokens by asking a better-auth server: `GET
/// {base}/api/auth/get-session?disableRefresh=true` with the request's bearer value. The
/// server checks the signature and its own storage, so this resolver accepts exactly what
/// better-auth accepts, whatever its database; `disableRefresh` keeps it from writing.
///
/// - `200` with a session: the session; `200 null`: `Ok(None)` (a `401`);
/// - any other status, a timeout, a refused connection or a body that is not a session:
///   `Err` (a `503`).
///
/// Answers are cached for a short while, positive and negative (default 5 s each,
/// [`CacheSettings`]): **a sign-out or revocation in better-auth is seen here only when the
/// entry expires**, up to `positive` later. Set a shorter lifetime for a shorter lag, or
/// [`no_cache`](HttpResolverBuilder::no_cache) for none, at one call per request.
///
/// Rate limits: in production, better-auth limits get-session to 100 requests per 10 s per
/// client IP, and every call from this resolver comes from the service's own address. A `429`
/// is an `Err` (a `503`), so a busy service needs the cache, or better-auth's `rateLimit`
/// options raised for its address (`customRules` for `/get-session`). The requests carry no
/// `Cookie`, so better-auth's origin check does not apply to them.
///
/// Plain HTTP only (a server beside the service, or a sidecar); with [`Signatures`] set, values
/// with a bad signature are refused without a call.
///
/// ```no_run
/// use tower_bearer::better_auth::HttpResolver;
///
/// # fn run() -> Result<(), tower_bearer::BoxError> {
/// let resolver = HttpResolver::builder("http://127.0.0.1:3000").build()?;
/// # let _ = resolver;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct HttpResolver {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client<HttpConnector, Empty<Bytes>>,
    uri: Uri,
    signatures: Option<Signatures>,
    cache: Option<Cache>,
    timeout: Duration,
    /// With a cache, one call per token at a time, in a task of its own: requests with the
    /// same token join it, and a request dropped while it waits does not cancel it, so its
    /// answer is cached for the next one rather than asked for again (get-session is
    /// rate-limited per client address).
    calls: Flights<Tag, Result<Option<BetterAuthSession>, SharedError>, TagBuildHasher>,
}

/// Settings for an [`HttpResolver`].
#[derive(Debug)]
pub struct HttpResolverBuilder {
    base_url: String,
    base_path: String,
    signatures: Option<Signatures>,
    cache: Option<CacheSettings>,
    timeout: Duration,
}

impl HttpResolver {
    /// Settings for the better-auth server at `base_url` (`http://HOST:PORT`): its default
    /// `basePath` `/api/auth`, the default cache, a 2 s timeout.
    pub fn builder(base_url: impl Into<String>) -> HttpResolverBuilder {
        HttpResolverBuilder {
            base_url: base_url.into(),
            base_path: "/api/auth".into(),
            signatures: None,
            cache: Some(CacheSettings::default()),
            timeout: Duration::from_secs(2),
        }
    }

    /// Asks the server about one bearer value (signed, raw or percent-encoded), without the
    /// cache.
    pub async fn get_session(&self, value: &str) -> Result<Option<BetterAuthSession>, BoxError> {
        self.inner.call(value).await
    }

    /// Calls get-session once without a token, which better-auth answers `200 null`: `Ok`
    /// when the server is there at the configured URL and base path, otherwise the error, with
    /// the URL (no credentials) and the cause. The resolver itself connects lazily, so a wrong
    /// URL only shows as `503`s; call this at start-up to find it at once.
    pub async fn ping(&self) -> Result<(), BoxError> {
        let body = self.inner.get(None).await?;
        match serde_json::from_slice::<Option<serde_json::Value>>(&body) {
            Ok(None) => Ok(()),
            _ => Err(self
                .inner
                .failed("did not answer get-session's `null`: is the base path right?".into())),
        }
    }
}

impl HttpResolverBuilder {
    /// better-auth's `basePath`. Default: `/api/auth`.
    pub fn base_path(mut self, path: impl Into<String>) -> Self {
        self.base_path = path.into();
        self
    }

    /// Checks signatures here first: a value better-auth would refuse never costs a call.
    pub fn signatures(mut self, signatures: Signatures) -> Self {
        self.signatures = Some(signatures);
        self
    }

    /// The cache's lifetimes and size. The positive lifetime is the longest a revocation goes
    /// unseen.
    pub fn cache(mut self, settings: CacheSettings) -> Self {
        self.cache = Some(settings);
        self
    }

    /// Every request asks the server.
    pub fn no_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// How long a call may take before it fails (a `503`). Default: 2 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The resolver; fails on a URL that is not `http://…`.
    pub fn build(self) -> Result<HttpResolver, BoxError> {
        let uri: Uri = format!(
            "{}{}/get-session?disableRefresh=true",
            self.base_url.trim_end_matches('/'),
            self.base_path.trim_end_matches('/')
        )
        .parse()
        .map_err(|e| {
            let at = redact(&self.base_url);
            said(format!("HttpResolver::builder: better-auth's base URL {at:?} (with base_path {:?}) is not a URL: {e}", self.base_path))
        })?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            return Err(said(format!(
                "HttpResolver::builder: better-auth's base URL {:?} is not an http:// URL",
                redact(&self.base_url)
            )));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(self.timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(HttpResolver {
            inner: Arc::new(Inner {
                client,
                uri,
                signatures: self.signatures,
                cache: self
                    .cache
                    .map(|settings| Cache::new("better_auth_http", settings)),
                timeout: self.timeout,
                calls: Flights::new(),
            }),
        })
    }
}

impl Inner {
    /// The error for a call that failed with `cause`: the URL without any user info, so a
    /// password in the base URL never reaches a log.
    fn failed(&self, cause: BoxError) -> BoxError {
        Failed::boxed(
            "better-auth's get-session",
            &redact(&self.uri.to_string()),
            cause,
        )
    }

    async fn find(self: Arc<Self>, value: String) -> Result<Option<BetterAuthSession>, BoxError> {
        let Some(cache) = &self.cache else {
            return self.call(&value).await;
        };
        if let Some(hit) = cache.get(&value) {
            if hit.is_none() {
                refused(RESOLVER, "no session (the cache's answer)");
            }
            return Ok(hit);
        }
        let inner = self.clone();
        let call = self.calls.join(cache.tag(&value), move || async move {
            let cache = inner
                .cache
                .as_ref()
                .expect("calls are shared only with a cache");
            let started = cache.start();
            let found = inner.call(&value).await;
            if let Ok(found) = &found {
                cache.put(&value, found.clone(), started);
            }
            found.map_err(|e| SharedError(Arc::from(e)))
        });
        match call.await {
            Some(found) => found.map_err(BoxError::from),
            None => Err(self.failed("the call was lost".into())),
        }
    }

    async fn call(&self, value: &str) -> Result<Option<BetterAuthSession>, BoxError> {
        let mut authorization = HeaderValue::try_from(format!("Bearer {value}"))?;
        authorization.set_sensitive(true);
        let body = self.get(Some(authorization)).await?;
        let found: Option<BetterAuthSession> = serde_json::from_slice(&body)
            .map_err(|e| format!("better-auth's get-session answered no session: {e}"))?;
        if found.is_none() {
            refused(
                RESOLVER,
                "better-auth's get-session answered null (no session, or one it refuses)",
            );
        }
        Ok(found)
    }

    /// get-session's body, with `authorization` if given; any answer but `200` is an error.
    async fn get(&self, authorization: Option<HeaderValue>) -> Result<Bytes, BoxError> {
        let mut request = Request::get(self.uri.clone())
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::new())?;
        if let Some(authorization) = authorization {
            request.headers_mut().insert(AUTHORIZATION, authorization);
        }
        let answer = async {
            let response = self.client.request(request).await?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await?
                .to_bytes();
            Ok::<_, BoxError>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, answer)
            .await
            .map_err(|_| BoxError::from("timed out"))
            .and_then(|answer| answer)
            .map_err(|cause| self.failed(cause))?;
        if status != StatusCode::OK {
            return Err(self.failed(format!("answered {status}").into()));
        }
        Ok(body)
    }
}

impl SessionResolver for HttpResolver {
    type Session = BetterAuthSession;
    type Error = BoxError;
    type Future = ResolveFuture;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        let value = token.as_str();
        if let Some(signatures) = &self.inner.signatures {
            if let Err(why) = signatures.check(value) {
                refused(RESOLVER, why);
                return Box::pin(std::future::ready(Ok(None)));
            }
        }
        Box::pin(self.inner.clone().find(value.to_owned()))
    }
}

impl fmt::Debug for HttpResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResolver")
            .field("uri", &redact(&self.inner.uri.to_string()))
            .field("signatures", &self.inner.signatures)
            .field("cached", &self.inner.cache.as_ref().map(|c| c.len()))
            .field("in_flight", &self.inner.calls.len())
            .field("timeout", &self.inner.timeout)
            .finish()
    }
}
