//! [`Bearer`]: the middleware service.

use std::fmt;
use std::mem;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{ACCESS_CONTROL_REQUEST_METHOD, ORIGIN};
use http::{HeaderMap, Method, Request, Response};
use tower_service::Service;

use crate::anonymous::{Anonymous, Refuse};
use crate::body::ResponseBody;
use crate::challenge::{Reason, Rejection};
use crate::future::{Refusal, ResponseFuture};
use crate::grpc::Grpc;
use crate::layer::{Config, RequestHead};
use crate::resolver::SessionResolver;
use crate::token::{self, Malformed};

/// Authenticates each request before it reaches `S`; built by [`BearerLayer`](crate::BearerLayer).
pub struct Bearer<S, R: SessionResolver> {
    inner: S,
    resolver: Arc<R>,
    config: Arc<Config<R::Session>>,
}

impl<S, R: SessionResolver> Bearer<S, R> {
    pub(crate) fn new(inner: S, resolver: Arc<R>, config: Arc<Config<R::Session>>) -> Self {
        Bearer {
            inner,
            resolver,
            config,
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, R: SessionResolver> Clone for Bearer<S, R> {
    fn clone(&self) -> Self {
        Bearer {
            inner: self.inner.clone(),
            resolver: self.resolver.clone(),
            config: self.config.clone(),
        }
    }
}

impl<S: fmt::Debug, R: SessionResolver> fmt::Debug for Bearer<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bearer")
            .field("inner", &self.inner)
            .field("resolver", &std::any::type_name::<R>())
            .field("config", &self.config)
            .finish()
    }
}

/// A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`, and not a
/// gRPC call.
fn is_preflight<B>(req: &Request<B>) -> bool {
    let headers = req.headers();
    req.method() == Method::OPTIONS
        && headers.contains_key(ORIGIN)
        && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
        && Grpc::of(headers).is_none()
}

impl<T> Config<T> {
    /// Whether the request passes without any authentication.
    fn bypasses<B>(&self, req: &Request<B>) -> bool {
        (self.allow_preflight && is_preflight(req))
            || self.skip.as_ref().is_some_and(|skip| {
                skip(&RequestHead {
                    method: req.method(),
                    uri: req.uri(),
                    headers: req.headers(),
                })
            })
    }

    /// The answer to one of the layer's own refusals. Without an `on_rejection` handler and
    /// for plain HTTP, that is the prebuilt challenge and status: no `Rejection` is assembled.
    pub(crate) fn reject_reason(&self, reason: Reason, headers: &HeaderMap) -> Refusal {
        let grpc = Grpc::of(headers);
        if self.on_rejection.is_none() && grpc.is_none() {
            return Refusal::Challenge(reason.status(), self.challenges.challenge(reason));
        }
        Refusal::Response(self.reject(self.challenges.rejection(reason), grpc))
    }

    /// The answer to a refused request; `grpc` is the request's gRPC flavour, if any.
    pub(crate) fn reject(
        &self,
        rejection: Rejection,
        grpc: Option<Grpc>,
    ) -> Response<bytes::Bytes> {
        let rejection = rejection.or_realm(self.challenges.realm());
        match (&self.on_rejection, grpc) {
            (_, Some(grpc)) => grpc.response(&rejection),
            (None, None) => rejection.into_http(),
            (Some(custom), None) => {
                let mut response = custom(&rejection);
                if let Some(challenge) = rejection.challenge() {
                    response
                        .headers_mut()
                        .entry(http::header::WWW_AUTHENTICATE)
                        .or_insert(challenge);
                }
                response
            }
        }
    }
}

impl<T: Send + Sync> Refuse for Config<T> {
    fn refuse(&self, rejection: Rejection, headers: &HeaderMap) -> Response<bytes::Bytes> {
        self.reject(rejection, Grpc::of(headers))
    }
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for Bearer<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    R: SessionResolver,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, R, ReqBody>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // The readied service goes into the future; `self` keeps a fresh clone, which must be
        // polled ready before its own `call` (tower-service: "Be careful when cloning inner
        // services").
        let clone = self.inner.clone();
        let mut inner = mem::replace(&mut self.inner, clone);
        let config = &self.config;

        let admitted = if config.bypasses(&req) {
            token::mark_sensitive(req.headers_mut());
            req.extensions_mut().insert(Anonymous::new(config.clone()));
            Ok(())
        } else {
            match token::from_headers(req.headers()) {
                Ok(Some(token)) if token.len() > config.max_token_len => {
                    config.refuse(Reason::TooLong, &mut req)
                }
                Ok(Some(token)) => match self.resolver.resolve_ready(token) {
                    // The answer is at hand: settled here, without parking the request.
                    Some(outcome) => config.admit(&mut req, outcome.map_err(Into::into)),
                    None => {
                        let resolve = self.resolver.resolve(token);
                        return ResponseFuture::resolving(resolve, inner, req, config.clone());
                    }
                },
                Ok(None) => config.refuse(Reason::Missing, &mut req),
                Err(Malformed::Empty) => config.refuse(Reason::Empty, &mut req),
                Err(Malformed::Grammar) => config.refuse(Reason::Grammar, &mut req),
                Err(Malformed::Repeated) => config.refuse(Reason::Repeated, &mut req),
            }
        };
        // One call site for the inner service, which lets the compiler inline a small one.
        match admitted {
            Ok(()) => ResponseFuture::called(inner.call(req)),
            // `inner` drops here, releasing whatever its readiness reserved.
            Err(refusal) => ResponseFuture::rejected(refusal),
        }
    }
}
