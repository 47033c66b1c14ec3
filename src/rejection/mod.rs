//! Why and how a request is refused. Here: why a request was refused ([`RejectionKind`]), the
//! refusal of an authorization check ([`InsufficientScope`]), and the [`Rejection`] a custom
//! handler turns into a response. Beside it: `reason.rs`, the layer's own reasons and the
//! answers they get; `challenge.rs`, the `WWW-Authenticate` value; `grpc.rs`, the trailers-only
//! gRPC status a gRPC call gets instead.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, WWW_AUTHENTICATE};
use http::{Response, StatusCode};

pub(crate) mod challenge;
pub(crate) mod grpc;
pub(crate) mod reason;

use challenge::{is_description_char, is_scope_char, sanitize, sanitize_realm};
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
}

impl RejectionKind {
    /// The HTTP status this kind answers with.
    pub fn status(self) -> StatusCode {
        match self {
            RejectionKind::MissingCredentials | RejectionKind::InvalidToken => {
                StatusCode::UNAUTHORIZED
            }
            RejectionKind::InvalidRequest => StatusCode::BAD_REQUEST,
            RejectionKind::InsufficientScope | RejectionKind::UntrustedOrigin => {
                StatusCode::FORBIDDEN
            }
            RejectionKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
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
            RejectionKind::MissingCredentials | RejectionKind::Unavailable => None,
        }
    }

    /// The gRPC status code a gRPC call is answered with: `UNAUTHENTICATED` (16),
    /// `PERMISSION_DENIED` (7) or `UNAVAILABLE` (14).
    pub fn grpc_code(self) -> u16 {
        match self {
            RejectionKind::MissingCredentials
            | RejectionKind::InvalidRequest
            | RejectionKind::InvalidToken => 16,
            RejectionKind::InsufficientScope | RejectionKind::UntrustedOrigin => 7,
            RejectionKind::Unavailable => 14,
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
        }
    }
}

/// What an authorization check returns to refuse a session: `403 insufficient_scope`.
///
/// ```
/// use tower_bearer::InsufficientScope;
///
/// let refusal = InsufficientScope::new("admin").description("admins only");
/// assert_eq!(refusal.scope(), "admin");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsufficientScope {
    scope: Cow<'static, str>,
    description: Option<Cow<'static, str>>,
}

impl InsufficientScope {
    /// Refuses the session for lack of `scope` (space-separated scope tokens). Characters RFC 6750
    /// does not allow in a scope are dropped.
    pub fn new(scope: impl Into<Cow<'static, str>>) -> Self {
        InsufficientScope {
            scope: sanitize(scope.into(), is_scope_char),
            description: None,
        }
    }

    /// Adds an `error_description`; characters RFC 6750 does not allow are dropped.
    pub fn description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = Some(sanitize(description.into(), is_description_char));
        self
    }

    /// The required scope.
    pub fn scope(&self) -> &str {
        &self.scope
    }
}

/// A refused request: its [`RejectionKind`], and what the challenge says.
///
/// The layer hands this to a custom rejection handler
/// ([`BearerLayer::on_rejection`](crate::BearerLayer::on_rejection)); without one it answers
/// with [`Rejection::to_response`], or [`Rejection::to_grpc_response`] for a gRPC call.
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
    scope: Option<Cow<'static, str>>,
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
            | RejectionKind::UntrustedOrigin => Some(Cow::Borrowed(kind.default_message())),
            // RFC 6750 §3.1: no error information when no credentials were presented.
            RejectionKind::MissingCredentials | RejectionKind::Unavailable => None,
        };
        Rejection {
            kind,
            realm: None,
            description,
            scope: None,
            cached: None,
        }
    }

    pub(crate) fn from_scope(refusal: InsufficientScope) -> Self {
        let mut rejection = Rejection::new(RejectionKind::InsufficientScope);
        rejection.scope = Some(refusal.scope);
        if let Some(description) = refusal.description {
            rejection.description = Some(description);
        }
        rejection
    }

    /// Sets the `realm` attribute; characters RFC 6750 does not allow in it are dropped.
    pub fn with_realm(mut self, realm: impl AsRef<str>) -> Self {
        self.realm = Some(sanitize_realm(realm.as_ref()));
        self.cached = None;
        self
    }

    /// Sets the realm unless the rejection has one.
    pub(crate) fn or_realm(mut self, realm: Option<&Arc<str>>) -> Self {
        if let (None, Some(realm)) = (&self.realm, realm) {
            self.realm = Some(realm.clone());
            self.cached = None;
        }
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

    /// The HTTP status: 400, 401, 403 or 503.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The human-readable `error_description`, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The `scope` a `403` names.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The realm, if the layer has one.
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// The `WWW-Authenticate` value; `None` for `503`, which has no challenge.
    pub fn challenge(&self) -> Option<HeaderValue> {
        if self.kind == RejectionKind::Unavailable {
            return None;
        }
        if let Some(cached) = &self.cached {
            return Some(cached.clone());
        }
        HeaderValue::from_str(&challenge::build(
            self.realm.as_deref(),
            self.kind.error_code(),
            self.description.as_deref(),
            self.scope.as_deref(),
        ))
        .ok()
    }

    /// The message a gRPC client sees in `grpc-message`.
    pub fn message(&self) -> &str {
        self.description
            .as_deref()
            .unwrap_or(self.kind.default_message())
    }

    /// The plain HTTP answer: the status, the challenge, an empty body.
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
    fn display_names_status_and_message() {
        let r = Rejection::new(RejectionKind::InvalidRequest);
        assert_eq!(
            r.to_string(),
            "400 Bad Request: malformed bearer credentials"
        );
    }
}
