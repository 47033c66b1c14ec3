//! [`BearerLayer`]: the layer, and the settings it hands every service it builds.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION};
use http::{HeaderMap, Method, Response, Uri};
use tower_layer::Layer;

use crate::challenge::{sanitize_realm, Challenges};
use crate::decision::{Config, Mode};
use crate::rejection::{InsufficientScope, Rejection};
use crate::resolver::SessionResolver;
use crate::service::Bearer;
use crate::token::{TokenChars, DEFAULT_MAX_TOKEN_LEN};

/// The parts of a request an [`exempt`](BearerLayer::exempt) predicate may look at.
///
/// Its `Debug` output shows the header names, with the values of `authorization`,
/// `proxy-authorization` and `cookie` replaced by `***`.
#[derive(Clone, Copy)]
pub struct RequestHead<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
}

impl<'a> RequestHead<'a> {
    /// The request method.
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The request target.
    pub fn uri(&self) -> &'a Uri {
        self.uri
    }

    /// The request headers. The `Authorization` header is among them: do not log it.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }
}

impl fmt::Debug for RequestHead<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted<'a>(&'a HeaderMap);
        impl fmt::Debug for Redacted<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let secret =
                    |name: &HeaderName| [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE].contains(name);
                f.debug_map()
                    .entries(self.0.iter().map(|(name, value)| {
                        let value: &dyn fmt::Debug = if secret(name) { &"***" } else { value };
                        (name, value)
                    }))
                    .finish()
            }
        }
        f.debug_struct("RequestHead")
            .field("method", self.method)
            .field("uri", self.uri)
            .field("headers", &Redacted(self.headers))
            .finish()
    }
}

/// Authenticates requests by bearer token; builds [`Bearer`] services.
///
/// See the [crate documentation](crate) for what each request gets. The resolver is shared
/// through an [`Arc`], so it needs no `Clone`; cloning the layer is two reference-count bumps.
///
/// ```
/// use std::time::Duration;
/// use tower_bearer::{resolver_fn, BearerLayer, BearerToken, InsufficientScope};
///
/// #[derive(Clone)]
/// struct Session { admin: bool }
///
/// let layer = BearerLayer::new(resolver_fn(|token: BearerToken<'_>| {
///     let admin = token.matches("root");
///     async move { Ok::<_, std::io::Error>(Some(Session { admin })) }
/// }))
/// .realm("api")
/// .timeout(Duration::from_secs(2))
/// .authorize(|s: &Session| if s.admin { Ok(()) } else { Err(InsufficientScope::new("admin")) })
/// .exempt_path_prefix("/grpc.health.v1.Health/")
/// .exempt_path_prefix("/metrics");
/// # let _ = layer;
/// ```
pub struct BearerLayer<R: SessionResolver> {
    resolver: Arc<R>,
    config: Arc<Config<R::Session>>,
}

impl<R: SessionResolver> BearerLayer<R> {
    /// A layer that resolves tokens with `resolver`.
    ///
    /// Defaults: credentials required, no realm, tokens up to 4 KiB, no timeout, CORS
    /// preflights authenticated like any request, empty rejection bodies.
    pub fn new(resolver: R) -> Self {
        Self::from_shared(Arc::new(resolver))
    }

    /// A layer over a resolver that is already shared.
    pub fn from_shared(resolver: Arc<R>) -> Self {
        BearerLayer {
            resolver,
            config: Arc::new(Config {
                challenges: Challenges::new(None),
                max_token_len: DEFAULT_MAX_TOKEN_LEN,
                token_chars: TokenChars::B64Token,
                timeout: None,
                mode: Mode::Required,
                allow_preflight: false,
                authorize: None,
                exempt: Vec::new(),
                on_rejection: None,
            }),
        }
    }

    fn config_mut(&mut self) -> &mut Config<R::Session> {
        Arc::make_mut(&mut self.config)
    }

    /// The `realm` every challenge names. Characters RFC 6750 does not allow are dropped.
    pub fn realm(mut self, realm: impl AsRef<str>) -> Self {
        self.config_mut().challenges = Challenges::new(Some(sanitize_realm(realm.as_ref())));
        self
    }

    /// Tokens longer than this (in bytes) get `401 invalid_token` without reaching the resolver.
    /// Default: 4096.
    pub fn max_token_len(mut self, max: usize) -> Self {
        self.config_mut().max_token_len = max;
        self
    }

    /// Which characters a token may have. Default: [`TokenChars::B64Token`], RFC 6750's
    /// grammar; a token with any other character gets `400 invalid_request`.
    ///
    /// Behind a better-auth server, use [`TokenChars::Visible`]: better-auth's Bearer plugin
    /// also accepts a signed token percent-encoded, as it appears in the session cookie.
    ///
    /// ```
    /// use tower_bearer::{store::MemoryStore, BearerLayer, TokenChars};
    ///
    /// let layer = BearerLayer::new(MemoryStore::new()).token_chars(TokenChars::Visible);
    /// # let _ = layer;
    /// ```
    pub fn token_chars(mut self, chars: TokenChars) -> Self {
        self.config_mut().token_chars = chars;
        self
    }

    /// A resolver that has not answered within `timeout` counts as failed: `503`.
    ///
    /// The deadline is a tokio timer, so the service must run inside a tokio runtime with the
    /// time driver enabled (as every hyper, axum and tonic server does).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config_mut().timeout = Some(timeout);
        self
    }

    /// Whether a CORS preflight passes through unauthenticated. Default: `false`.
    ///
    /// Browsers send preflights without credentials, so a preflight must be answered before
    /// authentication. The way to do that is a CORS layer *outside* this one, which answers
    /// preflights itself and never passes them on:
    ///
    /// ```
    /// use http::{header, Method};
    /// use tower::ServiceBuilder;
    /// use tower_bearer::{store::MemoryStore, BearerLayer};
    /// use tower_http::cors::{AllowOrigin, CorsLayer};
    ///
    /// let stack = ServiceBuilder::new()
    ///     // Outermost: answers `OPTIONS` preflights, adds `Access-Control-Allow-*` to the rest.
    ///     .layer(
    ///         CorsLayer::new()
    ///             .allow_origin(AllowOrigin::exact("https://app.example".parse().unwrap()))
    ///             .allow_methods([Method::GET, Method::POST])
    ///             .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
    ///     )
    ///     // Then: every request that reaches here is authenticated.
    ///     .layer(BearerLayer::new(MemoryStore::new()));
    /// # let _ = stack;
    /// ```
    ///
    /// With `allow(true)`, a request passes only when it is a real preflight: method `OPTIONS`,
    /// with both `Origin` and `Access-Control-Request-Method`, and no gRPC content type. The
    /// inner service then receives that unauthenticated `OPTIONS` request (with [`Anonymous`]
    /// in its extensions), and must not treat it as anything but a preflight.
    ///
    /// [`Anonymous`]: crate::Anonymous
    pub fn allow_preflight(mut self, allow: bool) -> Self {
        self.config_mut().allow_preflight = allow;
        self
    }

    /// Which requests may pass without a session: [`Mode::Required`] (the default),
    /// [`Mode::Optional`] or [`Mode::Lenient`].
    ///
    /// ```
    /// use tower_bearer::{store::MemoryStore, BearerLayer, Mode};
    ///
    /// // better-auth's get-session: a bad token is answered as no token.
    /// let layer = BearerLayer::new(MemoryStore::new()).mode(Mode::Lenient);
    /// # let _ = layer;
    /// ```
    pub fn mode(mut self, mode: Mode) -> Self {
        self.config_mut().mode = mode;
        self
    }

    /// A check every resolved session must pass; a refusal is `403 insufficient_scope`.
    pub fn authorize<F>(mut self, check: F) -> Self
    where
        F: Fn(&R::Session) -> Result<(), InsufficientScope> + Send + Sync + 'static,
    {
        self.config_mut().authorize = Some(Arc::new(check));
        self
    }

    /// Requests for which `exempt` returns `true` pass without authentication, with
    /// [`Anonymous`](crate::Anonymous) in their extensions: health checks, metrics, public
    /// routes. Each call adds an exemption; a request is exempt when any of them says so.
    pub fn exempt<F>(mut self, exempt: F) -> Self
    where
        F: Fn(&RequestHead<'_>) -> bool + Send + Sync + 'static,
    {
        self.config_mut().exempt.push(Arc::new(exempt));
        self
    }

    /// Exempts requests whose path starts with `prefix`; for tonic's health service,
    /// `"/grpc.health.v1.Health/"`. Adds to the other exemptions, like [`exempt`](Self::exempt).
    pub fn exempt_path_prefix(self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.exempt(move |head| head.uri().path().starts_with(&prefix))
    }

    /// Builds the HTTP answer for a rejection (a JSON error body, say). The layer keeps the
    /// rejection's `WWW-Authenticate` challenge unless the response sets its own. gRPC calls
    /// always get the gRPC status, since a gRPC client cannot read an HTTP body.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use tower_bearer::{resolver_fn, BearerLayer, BearerToken};
    ///
    /// let layer = BearerLayer::new(resolver_fn(|_: BearerToken<'_>| async {
    ///     Ok::<Option<String>, std::io::Error>(None)
    /// }))
    /// .on_rejection(|rejection| {
    ///     let body = format!(r#"{{"error":"{}"}}"#, rejection.kind().error_code().unwrap_or("unauthorized"));
    ///     http::Response::builder()
    ///         .status(rejection.status())
    ///         .header("content-type", "application/json")
    ///         .body(Bytes::from(body))
    ///         .unwrap()
    /// });
    /// # let _ = layer;
    /// ```
    pub fn on_rejection<F>(mut self, f: F) -> Self
    where
        F: Fn(&Rejection) -> Response<Bytes> + Send + Sync + 'static,
    {
        self.config_mut().on_rejection = Some(Arc::new(f));
        self
    }

    /// The resolver.
    pub fn resolver(&self) -> &R {
        &self.resolver
    }

    /// Wraps `inner`: what [`Layer::layer`] does, without `tower::Layer` in scope.
    pub fn build<S>(&self, inner: S) -> Bearer<S, R> {
        Bearer::from_parts(inner, self.resolver.clone(), self.config.clone())
    }
}

impl<R: SessionResolver> Clone for BearerLayer<R> {
    fn clone(&self) -> Self {
        BearerLayer {
            resolver: self.resolver.clone(),
            config: self.config.clone(),
        }
    }
}

impl<R: SessionResolver> fmt::Debug for BearerLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerLayer")
            .field("resolver", &std::any::type_name::<R>())
            .field("config", &self.config)
            .finish()
    }
}

impl<T> fmt::Debug for Config<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("realm", &self.challenges.realm())
            .field("max_token_len", &self.max_token_len)
            .field("token_chars", &self.token_chars)
            .field("timeout", &self.timeout)
            .field("mode", &self.mode)
            .field("allow_preflight", &self.allow_preflight)
            .field("authorize", &self.authorize.is_some())
            .field("exemptions", &self.exempt.len())
            .field("on_rejection", &self.on_rejection.is_some())
            .finish()
    }
}

impl<S, R: SessionResolver> Layer<S> for BearerLayer<R> {
    type Service = Bearer<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        self.build(inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_head_debug_redacts_credentials() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, "Bearer s3cr3t-token".parse().unwrap());
        headers.insert(PROXY_AUTHORIZATION, "Basic cHJveHk=".parse().unwrap());
        headers.insert(COOKIE, "sid=c00kie".parse().unwrap());
        headers.insert("x-request-id", "42".parse().unwrap());
        let head = RequestHead {
            method: &Method::GET,
            uri: &"/a?b=c".parse().unwrap(),
            headers: &headers,
        };
        let printed = format!("{head:?}");
        for secret in ["s3cr3t", "cHJveHk", "c00kie"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert_eq!(
            printed,
            r#"RequestHead { method: GET, uri: /a?b=c, headers: {"authorization": "***", "proxy-authorization": "***", "cookie": "***", "x-request-id": "42"} }"#
        );
    }
}
