//! [`BearerLayer`]'s settings: the realm, limits, mode, checks, exemptions and rejection shape
//! it hands every service it builds. (The opt-in token sources are in `sources.rs`.)

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;

use super::decision::Mode;
use super::head::RequestHead;
use super::BearerLayer;
use crate::metrics::LayerMetrics;
use crate::rejection::challenge::sanitize_realm;
use crate::rejection::reason::Challenges;
use crate::rejection::{InsufficientScope, Rejection};
use crate::require::RequireSessionLayer;
use crate::resolver::SessionResolver;
use crate::token::TokenChars;
use crate::trace::short_type_name;

impl<R: SessionResolver> BearerLayer<R> {
    /// The `realm` every challenge names. Characters RFC 6750 does not allow are dropped.
    pub fn realm(mut self, realm: impl AsRef<str>) -> Self {
        let config = self.config_mut();
        let mut decorations = config.challenges.decorations().clone();
        decorations.realm = Some(sanitize_realm(realm.as_ref()));
        config.challenges = Challenges::new(decorations);
        config.custom_shape = true;
        self
    }

    /// Names the layer: its metrics carry the name as the `layer` label, so an app with two
    /// layers tells them apart (feature `metrics`).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        let resolver = short_type_name::<R>();
        self.config_mut().metrics = LayerMetrics::new(Some(name.into()), resolver);
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

    /// Answers CORS preflights in the layer with `respond`'s response. Default: preflights
    /// are authenticated like any request.
    ///
    /// Browsers send preflights without credentials, so a preflight must be answered before
    /// authentication. The usual way is a CORS layer *outside* this one, which answers
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
    /// Where the CORS answer must come from inside, `answer_preflight` builds it here. Only a
    /// real preflight is answered (method `OPTIONS`, with both `Origin` and
    /// `Access-Control-Request-Method`, and no gRPC content type), and it is answered by the
    /// layer: no unauthenticated request ever reaches the inner service this way. (Passing
    /// preflights on would let an `OPTIONS` request run a tonic handler: tonic ignores the
    /// method.)
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::{Response, StatusCode};
    /// use tower_bearer::{store::MemoryStore, BearerLayer};
    ///
    /// let layer = BearerLayer::new(MemoryStore::new()).answer_preflight(|head| {
    ///     let origin = head.headers().get("origin").cloned();
    ///     let mut response = Response::new(Bytes::new());
    ///     *response.status_mut() = StatusCode::NO_CONTENT;
    ///     if let Some(origin) = origin.filter(|o| o == "https://app.example") {
    ///         let headers = response.headers_mut();
    ///         headers.insert("access-control-allow-origin", origin);
    ///         headers.insert("access-control-allow-headers", "authorization".parse().unwrap());
    ///     }
    ///     response
    /// });
    /// # let _ = layer;
    /// ```
    pub fn answer_preflight<F>(mut self, respond: F) -> Self
    where
        F: Fn(&RequestHead<'_>) -> Response<Bytes> + Send + Sync + 'static,
    {
        self.config_mut().preflight = Some(Arc::new(respond));
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

    /// A check every resolved session must pass. Its refusal is what the check returns: an
    /// [`InsufficientScope`] is `403 insufficient_scope`, an
    /// [`InsufficientUserAuthentication`](crate::InsufficientUserAuthentication) is RFC 9470's
    /// `401 insufficient_user_authentication` (step-up), or any [`Rejection`].
    pub fn authorize<F, E>(mut self, check: F) -> Self
    where
        F: Fn(&R::Session) -> Result<(), E> + Send + Sync + 'static,
        E: Into<Rejection>,
    {
        // A refusal is the cold path, written once per refused request: no box for it.
        #[allow(clippy::result_large_err)]
        let check = move |session: &R::Session| check(session).map_err(Into::into);
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

    /// Exempts the path `prefix` and every path below it: `"/metrics"` exempts `/metrics` and
    /// `/metrics/…`, never `/metricsadmin`. A prefix ending in `/` exempts what is below it;
    /// for tonic's health service, `"/grpc.health.v1.Health/"`. Adds to the other exemptions,
    /// like [`exempt`](Self::exempt).
    ///
    /// Paths are compared as they arrive, without percent-decoding: `/%6Detrics` is not
    /// `/metrics` here, so an encoded path is authenticated (the safe side). A router that
    /// decodes paths before matching would still route it to the same handler, authenticated.
    ///
    /// ```
    /// # use tower_bearer::{store::MemoryStore, BearerLayer};
    /// let layer = BearerLayer::new(MemoryStore::new()).exempt_path_prefix("/metrics");
    /// # let _ = layer;
    /// ```
    pub fn exempt_path_prefix(self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.exempt(move |head| is_below(head.uri().path(), &prefix))
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
        let config = self.config_mut();
        config.on_rejection = Some(Arc::new(f));
        config.custom_shape = true;
        self
    }

    /// A per-route requirement on the sessions this layer resolves: a
    /// [`RequireSessionLayer`] whose check takes `&R::Session`, so a closure needs no type
    /// annotation. Stack it inside this layer (axum: `route_layer`); a refusal is `403
    /// insufficient_scope` in this layer's shape.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use http::{header::AUTHORIZATION, Request, Response, StatusCode};
    /// use tower::{service_fn, ServiceBuilder, ServiceExt};
    /// use tower_bearer::{resolver_fn, BearerLayer, BearerToken, InsufficientScope};
    ///
    /// #[derive(Clone)]
    /// struct User { roles: Vec<&'static str> }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let auth = BearerLayer::new(resolver_fn(|token: BearerToken<'_>| {
    ///     let roles = if token.matches("root") { vec!["admin"] } else { vec![] };
    ///     async move { Ok::<_, Infallible>(Some(User { roles })) }
    /// }));
    /// let admin_only = auth.require(|user| match user.roles.contains(&"admin") {
    ///     true => Ok(()),
    ///     false => Err(InsufficientScope::new("admin")),
    /// });
    /// let app = ServiceBuilder::new()
    ///     .layer(auth)
    ///     .layer(admin_only)
    ///     .service(service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) }));
    ///
    /// let call = |token: &str| {
    ///     let req = Request::builder().header(AUTHORIZATION, format!("Bearer {token}"));
    ///     app.clone().oneshot(req.body(()).unwrap())
    /// };
    /// assert_eq!(call("root").await.unwrap().status(), StatusCode::OK);
    /// assert_eq!(call("guest").await.unwrap().status(), StatusCode::FORBIDDEN);
    /// # }
    /// ```
    pub fn require<F>(&self, check: F) -> RequireSessionLayer<R::Session, F>
    where
        F: Fn(&R::Session) -> Result<(), InsufficientScope>,
    {
        RequireSessionLayer::new(check)
    }
}

/// Whether `path` is `prefix` or below it, at a segment boundary.
fn is_below(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || prefix.ends_with('/') || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exempt_prefixes_end_at_a_segment_boundary() {
        for (path, prefix, below) in [
            ("/metrics", "/metrics", true),
            ("/metrics/", "/metrics", true),
            ("/metrics/cpu", "/metrics", true),
            ("/metricsadmin", "/metrics", false),
            ("/metrics-secret", "/metrics", false),
            ("/metric", "/metrics", false),
            ("/%6Detrics", "/metrics", false),
            (
                "/grpc.health.v1.Health/Check",
                "/grpc.health.v1.Health/",
                true,
            ),
            ("/grpc.health.v1.Health", "/grpc.health.v1.Health/", false),
            ("/anything", "/", true),
        ] {
            assert_eq!(is_below(path, prefix), below, "{path} under {prefix}");
        }
    }
}
