//! The decision for one request, in one place: exempt or not, the token or the reason it is
//! malformed, what the resolver's answer leads to under the layer's [`Mode`], and the shape of a
//! refusal. Its first half, up to the token to resolve, is [`start`]'s. `service.rs` only plumbs
//! these into tower, and `future.rs` only polls.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, Request, Response, StatusCode};

mod start;

pub(crate) use start::{Early, Resolve};

use super::head::RequestHead;
use crate::anonymous::{Anonymous, LayerShape, Refuse};
use crate::body::ResponseBody;
use crate::metrics::{Label, LayerMetrics, Outcome, Resolved};
use crate::rejection::grpc::Grpc;
use crate::rejection::reason::{Challenges, Reason};
use crate::rejection::{Rejection, RejectionKind};
use crate::resolver::BoxError;
use crate::token::sources::Sources;
use crate::token::{self, TokenChars};
use crate::trace::Trace;

pub(crate) type AuthorizeFn<T> = dyn Fn(&T) -> Result<(), Rejection> + Send + Sync;
pub(crate) type ExemptFn = dyn Fn(&RequestHead<'_>) -> bool + Send + Sync;
pub(crate) type RejectionFn = dyn Fn(&Rejection) -> Response<Bytes> + Send + Sync;
pub(crate) type PreflightFn = dyn Fn(&RequestHead<'_>) -> Response<Bytes> + Send + Sync;

/// Which requests may pass without a session. Set with
/// [`BearerLayer::mode`](crate::BearerLayer::mode).
///
/// Whatever the mode, a failing resolver is `503` and a refused
/// [`authorize`](crate::BearerLayer::authorize) check is `403`: those are never anonymous. A
/// request that passes without a session has [`Anonymous`] in its extensions.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Every request needs a live session (the default).
    #[default]
    Required,
    /// A request without credentials passes anonymously; malformed, unknown, expired and
    /// revoked tokens are still refused.
    Optional,
    /// Every request without a live session passes anonymously, whatever its credentials:
    /// better-auth's `get-session`, which answers `null` to a bad token.
    Lenient,
}

/// The layer's settings, shared by every service it builds, and the decisions made with them.
pub(crate) struct Config<T> {
    /// The realm, the metadata's URL and the scopes to ask for, and the layer's own challenges
    /// built with them.
    pub(crate) challenges: Challenges,
    /// The RFC 9728 metadata the layer serves, when configured.
    #[cfg(feature = "protected-resource")]
    pub(crate) resource: Option<crate::protected_resource::Served>,
    pub(crate) max_token_len: usize,
    pub(crate) token_chars: TokenChars,
    pub(crate) timeout: Option<Duration>,
    pub(crate) mode: Mode,
    /// Answers CORS preflights in the layer, when set.
    pub(crate) preflight: Option<Arc<PreflightFn>>,
    pub(crate) authorize: Option<Arc<AuthorizeFn<T>>>,
    pub(crate) exempt: Vec<Arc<ExemptFn>>,
    /// Where else than the `Authorization` header a token may come from, when anywhere.
    pub(crate) sources: Option<Arc<Sources>>,
    pub(crate) on_rejection: Option<Arc<RejectionFn>>,
    /// A realm or an `on_rejection` handler is set: sessions travel with a [`LayerShape`].
    pub(crate) custom_shape: bool,
    /// The resolver's name, for the span and the metrics.
    pub(crate) resolver_name: &'static str,
    pub(crate) metrics: LayerMetrics,
}

impl<T> Clone for Config<T> {
    fn clone(&self) -> Self {
        Config {
            challenges: self.challenges.clone(),
            #[cfg(feature = "protected-resource")]
            resource: self.resource.clone(),
            max_token_len: self.max_token_len,
            token_chars: self.token_chars,
            timeout: self.timeout,
            mode: self.mode,
            preflight: self.preflight.clone(),
            authorize: self.authorize.clone(),
            exempt: self.exempt.clone(),
            sources: self.sources.clone(),
            on_rejection: self.on_rejection.clone(),
            custom_shape: self.custom_shape,
            resolver_name: self.resolver_name,
            metrics: self.metrics.clone(),
        }
    }
}

impl<T> std::fmt::Debug for Config<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("realm", &self.challenges.realm())
            .field("max_token_len", &self.max_token_len)
            .field("token_chars", &self.token_chars)
            .field("timeout", &self.timeout)
            .field("mode", &self.mode)
            .field("preflight", &self.preflight.is_some())
            .field("authorize", &self.authorize.is_some())
            .field("exemptions", &self.exempt.len())
            .field("sources", &self.sources)
            .field("on_rejection", &self.on_rejection.is_some())
            .finish()
    }
}

/// A refusal, held until the future is polled.
pub(crate) enum Refusal {
    /// One of the layer's own, in its default form: a status and its prebuilt challenge. The
    /// response is built where it is returned, in `poll`, rather than built in `call` and moved
    /// through the future.
    Challenge(StatusCode, HeaderValue),
    /// A response built already: gRPC, a 403 or 503, an `on_rejection` handler's, or the
    /// answer to a preflight. Boxed, so that the refusal is smaller than most inner futures
    /// and never sets the size of the layer's future, which hyper moves several times a
    /// request; these refusals allocate their headers anyway.
    Response(Box<Response<Bytes>>),
}

impl Refusal {
    #[inline]
    pub(crate) fn into_response<B>(self) -> Response<ResponseBody<B>> {
        match self {
            Refusal::Challenge(status, challenge) => {
                let mut response = Response::new(ResponseBody::full(Bytes::new()));
                *response.status_mut() = status;
                response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
                response
            }
            Refusal::Response(response) => (*response).map(ResponseBody::full),
        }
    }
}

impl<T> Config<T> {
    /// The answer to one of the layer's own refusals. Without an `on_rejection` handler and
    /// for plain HTTP, that is the prebuilt challenge and status: no `Rejection` is assembled.
    fn reject_reason(&self, reason: Reason, headers: &HeaderMap) -> Refusal {
        let grpc = Grpc::of(headers);
        if self.on_rejection.is_none() && grpc.is_none() {
            return Refusal::Challenge(reason.status(), self.challenges.challenge(reason));
        }
        Refusal::Response(Box::new(
            self.reject(self.challenges.rejection(reason), grpc),
        ))
    }

    /// The answer to a refused request, in the layer's shape; `grpc` is the request's gRPC
    /// flavour, if any.
    pub(crate) fn reject(&self, rejection: Rejection, grpc: Option<Grpc>) -> Response<Bytes> {
        let rejection = self.challenges.decorate_rejection(rejection);
        match (&self.on_rejection, grpc) {
            (_, Some(grpc)) => rejection.to_grpc(grpc),
            (None, None) => rejection.into_http(),
            (Some(custom), None) => {
                let mut response = custom(&rejection);
                if let Some(challenge) = rejection.challenge() {
                    response
                        .headers_mut()
                        .entry(WWW_AUTHENTICATE)
                        .or_insert(challenge);
                }
                if let Some(secs) = rejection.retry_after() {
                    response
                        .headers_mut()
                        .entry(RETRY_AFTER)
                        .or_insert(HeaderValue::from(secs));
                }
                response
            }
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Config<T> {
    /// An exempt request: anonymous, on its way to the inner service.
    pub(crate) fn pass<B>(self: &Arc<Self>, request: &mut Request<B>, trace: &Trace) {
        trace.decided(&self.metrics, Outcome::Exempt);
        token::mark_sensitive(request.headers_mut());
        request
            .extensions_mut()
            .insert(Anonymous::new(self.clone()));
    }

    /// What the resolver's answer leads to: `Ok` with the session (or, in lenient mode for an
    /// unknown token, the anonymous marker) in the request's extensions, ready for the inner
    /// service; or the refusal to send.
    // Inlined into its two callers, so the large `Err` is written in place rather than moved;
    // boxing it would allocate on every refusal.
    #[inline]
    #[allow(clippy::result_large_err)]
    pub(crate) fn admit<B>(
        self: &Arc<Self>,
        request: &mut Request<B>,
        outcome: Result<Option<T>, BoxError>,
        trace: &Trace,
    ) -> Result<(), Refusal> {
        let resolved = match &outcome {
            Ok(Some(_)) => Resolved::Session,
            // A resolver's own refusal is an answer, not a failure.
            Ok(None) => Resolved::None,
            Err(error) if error.is::<Rejection>() => Resolved::None,
            Err(_) => Resolved::Error,
        };
        trace.resolved(&self.metrics, resolved);
        let rejection = match outcome {
            Ok(Some(session)) => match self.authorize.as_ref().map(|check| check(&session)) {
                Some(Err(refusal)) => {
                    let label = match refusal.kind() {
                        RejectionKind::InsufficientUserAuthentication => {
                            Label::InsufficientUserAuthentication
                        }
                        RejectionKind::InsufficientScope => Label::InsufficientScope,
                        _ => Label::InvalidToken,
                    };
                    trace.decided(&self.metrics, Outcome::Rejected(label));
                    tracing::debug!(
                        why = refusal.message(),
                        "bearer: the authorization check refuses the session"
                    );
                    refusal
                }
                Some(Ok(())) | None => {
                    trace.decided(&self.metrics, Outcome::Authenticated);
                    // A named layer's route refusals are counted under its name, which the
                    // route finds here; an unnamed layer's need no marker (`require.rs`).
                    if self.custom_shape || self.metrics.is_named() {
                        request.extensions_mut().insert(LayerShape(self.clone()));
                    }
                    request.extensions_mut().insert(session);
                    return Ok(());
                }
            },
            Ok(None) => return self.refuse(Reason::Unknown, request, trace),
            Err(error) => match error.downcast::<Rejection>() {
                Ok(refusal) => self.refused(*refusal, trace),
                Err(error) => self.failed(&*error, trace),
            },
        };
        Err(Refusal::Response(Box::new(
            self.reject(rejection, Grpc::of(request.headers())),
        )))
    }

    /// A resolver's own refusal (a [`Rejection`] as its error): counted under its kind, said at
    /// `DEBUG`, and answered as it is. Never anonymous, whatever the mode: the credential was
    /// presented and refused.
    #[cold]
    #[inline(never)]
    fn refused(&self, rejection: Rejection, trace: &Trace) -> Rejection {
        let label = match rejection.kind() {
            RejectionKind::MissingCredentials => Label::Missing,
            RejectionKind::InvalidRequest => Label::Malformed,
            RejectionKind::InvalidToken => Label::InvalidToken,
            RejectionKind::InsufficientScope => Label::InsufficientScope,
            RejectionKind::Unavailable => Label::Unavailable,
            RejectionKind::UntrustedOrigin => Label::UntrustedOrigin,
            RejectionKind::InsufficientUserAuthentication => Label::InsufficientUserAuthentication,
            RejectionKind::TooManyRequests => Label::TooManyRequests,
        };
        trace.decided(&self.metrics, Outcome::Rejected(label));
        let _in_span = trace.span().map(|span| span.enter());
        tracing::debug!(
            why = rejection.message(),
            resolver = self.resolver_name,
            "bearer: the resolver refuses the token"
        );
        rejection
    }

    /// A failing resolver: counted, logged at `warn` with its causes, and a `503`. Out of line:
    /// the hit path never comes here.
    #[cold]
    #[inline(never)]
    fn failed(
        &self,
        error: &(dyn std::error::Error + Send + Sync + 'static),
        trace: &Trace,
    ) -> Rejection {
        let label = match error.is::<TimedOut>() {
            true => Label::Timeout,
            false => Label::Unavailable,
        };
        trace.decided(&self.metrics, Outcome::Rejected(label));
        let _in_span = trace.span().map(|span| span.enter());
        tracing::warn!(
            error = %Chain(error),
            resolver = self.resolver_name,
            "bearer: the session resolver failed"
        );
        Rejection::new(RejectionKind::Unavailable)
    }

    /// One of the layer's own reasons to refuse: `Ok` with the anonymous marker when the mode
    /// lets this reason pass, else the refusal.
    #[inline]
    #[allow(clippy::result_large_err)] // as `admit`
    pub(crate) fn refuse<B>(
        self: &Arc<Self>,
        reason: Reason,
        request: &mut Request<B>,
        trace: &Trace,
    ) -> Result<(), Refusal> {
        let passes = match self.mode {
            Mode::Required => false,
            Mode::Optional => reason == Reason::Missing,
            Mode::Lenient => true,
        };
        let label = Label::of(reason);
        let outcome = match passes {
            true => Outcome::Anonymous(label),
            false => Outcome::Rejected(label),
        };
        trace.decided(&self.metrics, outcome);
        if passes {
            // Parsing marked the header sensitive already.
            request
                .extensions_mut()
                .insert(Anonymous::new(self.clone()));
            return Ok(());
        }
        Err(self.reject_reason(reason, request.headers()))
    }
}

impl<T: Send + Sync> Refuse for Config<T> {
    fn refuse(&self, rejection: Rejection, headers: &HeaderMap) -> Response<Bytes> {
        self.reject(rejection, Grpc::of(headers))
    }

    fn route_refused(&self) {
        self.metrics
            .decision(Outcome::Rejected(Label::InsufficientScope));
    }
}

/// The resolver ran past the layer's timeout.
#[derive(Debug)]
pub(crate) struct TimedOut;

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the session resolver timed out")
    }
}

impl std::error::Error for TimedOut {}

/// An error and its sources, `: `-separated, each cause once, as one log field.
struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::chain::text(self.0))
    }
}
