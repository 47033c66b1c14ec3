//! Why and how a request is refused. Here: why a request was refused ([`RejectionKind`]), the
//! refusal of an authorization check ([`InsufficientScope`]), and the [`Rejection`] a custom
//! handler turns into a response. Beside it: `reason.rs`, the layer's own reasons and the
//! answers they get; `challenge.rs`, the `WWW-Authenticate` value; `grpc.rs`, the trailers-only
//! gRPC status a gRPC call gets instead.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};

pub(crate) mod challenge;
mod check;
pub(crate) mod grpc;
pub(crate) mod reason;

use challenge::{is_description_char, sanitize, sanitize_realm};
pub use check::{InsufficientScope, InsufficientUserAuthentication};
use grpc::Grpc;

/// Why the layer refused a request.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectionKind {
    /// No credentials: no `Authorization` header, or another scheme. `401`, and a challenge
    /// without an `error` attribute.
    MissingCredentials,
    /// A malformed attempt: empty token, a token outside the `b64token` grammar, or two
    /// `Authorization` headers. `400 invalid_request`.
    InvalidRequest,
    /// A well-formed token that names no live session (unknown, expired, revoked, or longer than
    /// the configured maximum). `401 invalid_token`.
    InvalidToken,
    /// The session exists but the layer's authorization check refused it.
    /// `403 insufficient_scope`.
    InsufficientScope,
    /// The resolver failed or ran past its timeout. `503`, no challenge.
    Unavailable,
    /// A request that a [session cookie](crate::SessionCookie) authenticates and that can change
    /// state (or opens a WebSocket) came from an origin that is not trusted: a cross-site
    /// request. `403 invalid_request`.
    UntrustedOrigin,
    /// The token is valid, but the authentication behind it is not strong enough or too old
    /// for this resource (RFC 9470 step-up): `401 insufficient_user_authentication`, with
    /// `acr_values` and/or `max_age` saying what is needed.
    InsufficientUserAuthentication,
    /// The credential is valid but may not be used now: out of uses, or over its rate limit
    /// (better-auth's API keys: `USAGE_EXCEEDED`, `RATE_LIMITED`). `429`, no challenge, and a
    /// `Retry-After` when the resolver knows when it may be used again.
    TooManyRequests,
}

impl RejectionKind {
    /// The HTTP status this kind answers with.
    pub fn status(self) -> StatusCode {
        match self {
            RejectionKind::MissingCredentials
            | RejectionKind::InvalidToken
            | RejectionKind::InsufficientUserAuthentication => StatusCode::UNAUTHORIZED,
            RejectionKind::InvalidRequest => StatusCode::BAD_REQUEST,
            RejectionKind::InsufficientScope | RejectionKind::UntrustedOrigin => {
                StatusCode::FORBIDDEN
            }
            RejectionKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            RejectionKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The RFC 6750 `error` code, where the kind has one.
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            RejectionKind::InvalidRequest | RejectionKind::UntrustedOrigin => {
                Some("invalid_request")
            }
            RejectionKind::InvalidToken => Some("invalid_token"),
            RejectionKind::InsufficientScope => Some("insufficient_scope"),
            RejectionKind::InsufficientUserAuthentication => {
                Some("insufficient_user_authentication")
            }
            RejectionKind::MissingCredentials
            | RejectionKind::Unavailable
            | RejectionKind::TooManyRequests => None,
        }
    }

    /// The gRPC status code a gRPC call is answered with: `UNAUTHENTICATED` (16),
    /// `PERMISSION_DENIED` (7), `RESOURCE_EXHAUSTED` (8) or `UNAVAILABLE` (14).
    pub fn grpc_code(self) -> u16 {
        match self {
            RejectionKind::MissingCredentials
            | RejectionKind::InvalidRequest
            | RejectionKind::InvalidToken
            | RejectionKind::InsufficientUserAuthentication => 16,
            RejectionKind::InsufficientScope | RejectionKind::UntrustedOrigin => 7,
            RejectionKind::Unavailable => 14,
            RejectionKind::TooManyRequests => 8,
        }
    }

    pub(crate) fn default_message(self) -> &'static str {
        match self {
            RejectionKind::MissingCredentials => "missing bearer token",
            RejectionKind::InvalidRequest => "malformed bearer credentials",
            RejectionKind::InvalidToken => "the bearer token is invalid, expired or revoked",
            RejectionKind::InsufficientScope => "insufficient scope",
            RejectionKind::Unavailable => "the session backend is unavailable",
            RejectionKind::UntrustedOrigin => "a cookie from a request of an untrusted origin",
            RejectionKind::InsufficientUserAuthentication => {
                "a stronger or more recent authentication is required"
            }
            RejectionKind::TooManyRequests => "the credential may not be used now",
        }
    }

    /// Whether the answer carries a `WWW-Authenticate` challenge: every kind but `503` and
    /// `429`, which say nothing about the credentials' form.
    fn has_challenge(self) -> bool {
        !matches!(
            self,
            RejectionKind::Unavailable | RejectionKind::TooManyRequests
        )
    }
}

/// A refused request: its [`RejectionKind`], and what the challenge says.
///
/// The layer hands this to a custom rejection handler
/// ([`BearerLayer::on_rejection`](crate::BearerLayer::on_rejection)); without one it answers
/// with [`Rejection::to_response`], or [`Rejection::to_grpc_response`] for a gRPC call.
///
/// A resolver refuses a token with a rejection of its own (a `429` for an API key out of uses,
/// say) by returning it as its error: the layer answers with it rather than with `503`. See
/// [`SessionResolver`](crate::SessionResolver).
///
/// ```
/// use http::StatusCode;
/// use tower_bearer::{Rejection, RejectionKind};
///
/// let rejection = Rejection::new(RejectionKind::InvalidToken).with_realm("api");
/// assert_eq!(rejection.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(
///     rejection.challenge().unwrap(),
///     r#"Bearer realm="api", error="invalid_token", error_description="the bearer token is invalid, expired or revoked""#
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Rejection {
    kind: RejectionKind,
    pub(crate) realm: Option<Arc<str>>,
    pub(crate) description: Option<Cow<'static, str>>,
    pub(crate) scope: Option<Cow<'static, str>>,
    /// RFC 9470: the authentication context classes that would do, and the greatest age of the
    /// authentication, in seconds.
    pub(crate) acr_values: Option<Cow<'static, str>>,
    pub(crate) max_age: Option<u64>,
    /// RFC 9728: where the resource's metadata is.
    pub(crate) resource_metadata: Option<Arc<str>>,
    /// `Retry-After`, in seconds: when the credential may be used again.
    pub(crate) retry_after: Option<u64>,
    /// The challenge, when the layer built it ahead of time (see `reason::Challenges`).
    pub(crate) cached: Option<HeaderValue>,
}

impl Rejection {
    /// A rejection of this kind with its default description.
    pub fn new(kind: RejectionKind) -> Self {
        let description = match kind {
            RejectionKind::InvalidRequest
            | RejectionKind::InvalidToken
            | RejectionKind::InsufficientScope
            | RejectionKind::UntrustedOrigin
            | RejectionKind::InsufficientUserAuthentication => {
                Some(Cow::Borrowed(kind.default_message()))
            }
            // RFC 6750 §3.1: no error information when no credentials were presented.
            RejectionKind::MissingCredentials
            | RejectionKind::Unavailable
            | RejectionKind::TooManyRequests => None,
        };
        Rejection {
            kind,
            realm: None,
            description,
            scope: None,
            acr_values: None,
            max_age: None,
            resource_metadata: None,
            retry_after: None,
            cached: None,
        }
    }

    /// Sets `Retry-After`: how long until the request may succeed (rounded up to whole
    /// seconds), for a `429` or a `503`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_bearer::{Rejection, RejectionKind};
    ///
    /// let limited = Rejection::new(RejectionKind::TooManyRequests)
    ///     .with_description("rate limited")
    ///     .with_retry_after(Duration::from_millis(1500));
    /// let response = limited.to_response();
    /// assert_eq!(response.status(), 429);
    /// assert_eq!(response.headers()["retry-after"], "2");
    /// assert!(response.headers().get("www-authenticate").is_none());
    /// ```
    pub fn with_retry_after(mut self, wait: std::time::Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        self.retry_after = Some(secs);
        self
    }

    /// The `Retry-After` the answer carries, in seconds.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    pub(crate) fn from_scope(refusal: InsufficientScope) -> Self {
        refusal.into()
    }

    /// Sets the `scope` attribute: the scopes a token needs here, space-separated (in a `401`,
    /// what a client should ask for; in a `403 insufficient_scope`, every scope the resource
    /// requires). Characters RFC 6750 does not allow are dropped.
    pub fn with_scope(mut self, scope: impl Into<Cow<'static, str>>) -> Self {
        self.scope = Some(sanitize(scope.into(), challenge::is_scope_char));
        self.cached = None;
        self
    }

    /// Sets the RFC 9728 `resource_metadata` attribute: the URL of the protected resource
    /// metadata, which tells a client where to get a token. A layer with
    /// [`protected_resource`](crate::BearerLayer::protected_resource) sets it on every
    /// rejection it sends.
    pub fn with_resource_metadata(mut self, url: impl AsRef<str>) -> Self {
        self.resource_metadata = Some(sanitize_realm(url.as_ref()));
        self.cached = None;
        self
    }

    /// Fills in what the layer adds to every challenge (its realm, its metadata's URL and, for
    /// a `401`, the scopes it needs), where the rejection has none of its own.
    pub(crate) fn or_layer(
        mut self,
        realm: Option<&Arc<str>>,
        resource_metadata: Option<&Arc<str>>,
        scope: Option<&Arc<str>>,
    ) -> Self {
        if let (None, Some(realm)) = (&self.realm, realm) {
            self.realm = Some(realm.clone());
            self.cached = None;
        }
        if let (None, Some(url)) = (&self.resource_metadata, resource_metadata) {
            self.resource_metadata = Some(url.clone());
            self.cached = None;
        }
        let unauthorized = self.status() == StatusCode::UNAUTHORIZED;
        if let (true, None, Some(scope)) = (unauthorized, &self.scope, scope) {
            self.scope = Some(Cow::Owned(scope.to_string()));
            self.cached = None;
        }
        self
    }

    /// Sets the `realm` attribute; characters RFC 6750 does not allow in it are dropped.
    pub fn with_realm(mut self, realm: impl AsRef<str>) -> Self {
        self.realm = Some(sanitize_realm(realm.as_ref()));
        self.cached = None;
        self
    }

    /// Replaces the `error_description`; characters RFC 6750 does not allow are dropped.
    pub fn with_description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = Some(sanitize(description.into(), is_description_char));
        self.cached = None;
        self
    }

    /// Why the request was refused.
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The HTTP status: 400, 401, 403, 429 or 503.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The human-readable `error_description`, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The `scope` the challenge names: in a `403`, the scopes the resource requires; in a
    /// `401`, the scopes to ask for.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The RFC 9470 `acr_values` of a step-up challenge.
    pub fn acr_values(&self) -> Option<&str> {
        self.acr_values.as_deref()
    }

    /// The RFC 9470 `max_age` of a step-up challenge, in seconds.
    pub fn max_age(&self) -> Option<u64> {
        self.max_age
    }

    /// The RFC 9728 `resource_metadata` URL the challenge names.
    pub fn resource_metadata(&self) -> Option<&str> {
        self.resource_metadata.as_deref()
    }

    /// The realm, if the layer has one.
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// The `WWW-Authenticate` value; `None` for `503` and `429`, which have no challenge.
    pub fn challenge(&self) -> Option<HeaderValue> {
        if !self.kind.has_challenge() {
            return None;
        }
        if let Some(cached) = &self.cached {
            return Some(cached.clone());
        }
        HeaderValue::from_str(&challenge::build(&challenge::Attributes {
            realm: self.realm.as_deref(),
            error: self.kind.error_code(),
            description: self.description.as_deref(),
            scope: self.scope.as_deref(),
            acr_values: self.acr_values.as_deref(),
            max_age: self.max_age,
            resource_metadata: self.resource_metadata.as_deref(),
        }))
        .ok()
    }

    /// The message a gRPC client sees in `grpc-message`.
    pub fn message(&self) -> &str {
        self.description
            .as_deref()
            .unwrap_or(self.kind.default_message())
    }

    /// The plain HTTP answer: the status, the challenge, `Retry-After` if set, an empty body.
    pub fn to_response(&self) -> Response<Bytes> {
        self.clone().into_http()
    }

    /// [`to_response`](Self::to_response), consuming the rejection (no clone of the challenge).
    pub fn into_http(mut self) -> Response<Bytes> {
        let challenge = match self.cached.take() {
            Some(cached) => Some(cached),
            None => self.challenge(),
        };
        let mut response = Response::new(Bytes::new());
        *response.status_mut() = self.status();
        if let Some(challenge) = challenge {
            response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }

    /// The gRPC answer: a trailers-only response, HTTP 200 with `grpc-status` and a
    /// percent-encoded `grpc-message`, as `tonic::Status::into_http` builds it.
    pub fn to_grpc_response(&self) -> Response<Bytes> {
        self.to_grpc(Grpc::Native)
    }

    /// The trailers-only answer in a gRPC flavour.
    pub(crate) fn to_grpc(&self, grpc: Grpc) -> Response<Bytes> {
        grpc.status(self.kind().grpc_code(), self.message())
    }
}

impl fmt::Debug for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejection")
            .field("kind", &self.kind)
            .field("realm", &self.realm)
            .field("description", &self.description)
            .field("scope", &self.scope)
            .field("acr_values", &self.acr_values)
            .field("max_age", &self.max_age)
            .field("resource_metadata", &self.resource_metadata)
            .field("retry_after", &self.retry_after)
            .finish()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status(), self.message())
    }
}

impl std::error::Error for Rejection {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes() {
        use RejectionKind::*;
        let table = [
            (MissingCredentials, 401, None, 16),
            (InvalidRequest, 400, Some("invalid_request"), 16),
            (InvalidToken, 401, Some("invalid_token"), 16),
            (InsufficientScope, 403, Some("insufficient_scope"), 7),
            (Unavailable, 503, None, 14),
            (UntrustedOrigin, 403, Some("invalid_request"), 7),
            (
                InsufficientUserAuthentication,
                401,
                Some("insufficient_user_authentication"),
                16,
            ),
            (TooManyRequests, 429, None, 8),
        ];
        for (kind, status, code, grpc) in table {
            assert_eq!(kind.status().as_u16(), status);
            assert_eq!(kind.error_code(), code);
            assert_eq!(kind.grpc_code(), grpc);
        }
    }

    #[test]
    fn missing_credentials_challenge_is_bare() {
        let r = Rejection::new(RejectionKind::MissingCredentials);
        assert_eq!(r.challenge().unwrap(), "Bearer");
        let r = r.with_realm("example");
        assert_eq!(r.challenge().unwrap(), r#"Bearer realm="example""#);
    }

    #[test]
    fn unavailable_has_no_challenge() {
        let r = Rejection::new(RejectionKind::Unavailable);
        assert!(r.challenge().is_none());
        let response = r.to_response();
        assert_eq!(response.status(), 503);
        assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
        assert!(response.body().is_empty());
    }

    #[test]
    fn descriptions_and_realms_are_sanitized() {
        let r = Rejection::new(RejectionKind::InvalidToken)
            .with_realm("a\"b\\c")
            .with_description("bad \"token\"\n\\é");
        assert_eq!(
            r.challenge().unwrap(),
            r#"Bearer realm="abc", error="invalid_token", error_description="bad token""#
        );
    }

    #[test]
    fn scope_is_quoted_and_once() {
        let r = Rejection::from_scope(InsufficientScope::new("read write"));
        assert_eq!(
            r.challenge().unwrap(),
            r#"Bearer error="insufficient_scope", error_description="insufficient scope", scope="read write""#
        );
        assert_eq!(r.to_response().status(), 403);
    }

    #[test]
    fn the_layer_adds_its_realm_metadata_and_scopes_where_a_rejection_has_none() {
        let (realm, url, scope) = (
            Arc::from("api"),
            Arc::from("https://api.example/.well-known/oauth-protected-resource/mcp"),
            Arc::from("files:read files:write"),
        );
        let missing = Rejection::new(RejectionKind::MissingCredentials).or_layer(
            Some(&realm),
            Some(&url),
            Some(&scope),
        );
        assert_eq!(
            missing.challenge().unwrap(),
            r#"Bearer realm="api", scope="files:read files:write", resource_metadata="https://api.example/.well-known/oauth-protected-resource/mcp""#
        );
        // A 403 keeps the requirement's own scopes; a 400 gets no scopes.
        let forbidden = Rejection::from_scope(InsufficientScope::new("admin")).or_layer(
            None,
            Some(&url),
            Some(&scope),
        );
        assert_eq!(forbidden.scope(), Some("admin"));
        assert_eq!(forbidden.resource_metadata(), Some(&*url));
        let bad =
            Rejection::new(RejectionKind::InvalidRequest).or_layer(None, Some(&url), Some(&scope));
        assert_eq!(bad.scope(), None);
        // RFC 9470's step-up challenge, with its own attributes.
        let step_up: Rejection = InsufficientUserAuthentication::new()
            .acr_values("urn:mace:incommon:iap:silver")
            .max_age(300)
            .into();
        assert_eq!(step_up.status(), 401);
        assert_eq!(
            step_up.challenge().unwrap(),
            r#"Bearer error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required", acr_values="urn:mace:incommon:iap:silver", max_age="300""#
        );
    }

    #[test]
    fn display_names_status_and_message() {
        let r = Rejection::new(RejectionKind::InvalidRequest);
        assert_eq!(
            r.to_string(),
            "400 Bad Request: malformed bearer credentials"
        );
    }
}
