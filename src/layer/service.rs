//! [`Bearer`]: the middleware service, plumbing the decision (`decision/`) into tower.

use std::fmt;
use std::mem;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::decision::{Config, Early, Refusal, Resolve};
use super::future::ResponseFuture;
use crate::body::ResponseBody;
use crate::metrics::Outcome;
use crate::rejection::reason::Reason;
use crate::resolver::SessionResolver;
use crate::token::sources::TokenSource;
use crate::token::{self, Secret};
use crate::trace::Trace;

/// Authenticates each request before it reaches `S`; built by [`BearerLayer`](crate::BearerLayer), or by
/// [`Bearer::new`] for one service.
///
/// ```
/// use tower_bearer::{store::MemoryStore, Bearer};
///
/// let inner = tower::service_fn(|_: http::Request<()>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(()))
/// });
/// let service = Bearer::new(inner, MemoryStore::new());
/// # let _ = service;
/// ```
pub struct Bearer<S, R: SessionResolver> {
    inner: S,
    resolver: Arc<R>,
    config: Arc<Config<R::Session>>,
    /// [`Config::reads_header_only`], once.
    header_only: bool,
}

impl<S, R: SessionResolver> Bearer<S, R> {
    pub(crate) fn from_parts(inner: S, resolver: Arc<R>, config: Arc<Config<R::Session>>) -> Self {
        Bearer {
            inner,
            header_only: config.reads_header_only(),
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
            header_only: self.header_only,
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

impl<S, R> Bearer<S, R>
where
    R: SessionResolver,
{
    /// `call` for a token from another source than the header: the same steps, out of line,
    /// and the response marked private when the token came from the query.
    #[inline(never)]
    fn call_taken<ReqBody, ResBody>(
        &self,
        mut inner: S,
        mut req: Request<ReqBody>,
        secret: &Secret,
        via: TokenSource,
        mut trace: Trace,
    ) -> ResponseFuture<S, R, ReqBody>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    {
        let token = secret.token(via);
        let admitted = match self.resolver.resolve_ready(token) {
            Some(outcome) => self
                .config
                .admit(&mut req, outcome.map_err(Into::into), &trace),
            None => {
                trace.resolving();
                let resolve = self.resolver.resolve(token);
                let config = self.config.clone();
                return ResponseFuture::resolving(resolve, inner, req, config, via, trace);
            }
        };
        match admitted {
            Ok(()) => ResponseFuture::called(inner.call(req), via),
            Err(refusal) => ResponseFuture::rejected(refusal),
        }
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

        let mut trace = Trace::start(config.resolver_name);
        let knows_only_b64tokens = self.resolver.knows_only_b64tokens();
        // A `DpopLayer` in front checked a proof: the resolver learns its key. (One test of
        // an empty extension map on every other request.)
        #[cfg(feature = "dpop")]
        let sender = req
            .extensions()
            .get::<crate::dpop::DpopProof>()
            .map(|proof| proof.thumbprint_arc());
        let admitted = match config.start(&mut req, self.header_only, knows_only_b64tokens) {
            Ok(Resolve { token, unchecked }) => {
                #[cfg(feature = "dpop")]
                let token = match &sender {
                    Some(jkt) => token.with_dpop_thumbprint(jkt),
                    None => token,
                };
                let ready = self.resolver.resolve_ready(token);
                // A session found proves the token well-formed; anything else, from a resolver
                // that let the characters go unchecked, is checked before it is answered.
                if unchecked
                    && !matches!(ready, Some(Ok(Some(_))))
                    && !token::is_b64token(token.as_bytes())
                {
                    config.refuse(Reason::Grammar, &mut req, &trace)
                } else {
                    match ready {
                        // The answer is at hand: settled here, without parking the request.
                        Some(outcome) => {
                            config.admit(&mut req, outcome.map_err(Into::into), &trace)
                        }
                        None => {
                            trace.resolving();
                            let resolve = self.resolver.resolve(token);
                            let config = config.clone();
                            return ResponseFuture::resolving(
                                resolve,
                                inner,
                                req,
                                config,
                                TokenSource::Authorization,
                                trace,
                            );
                        }
                    }
                }
            }
            Err(Early::Exempt) => {
                config.pass(&mut req, &trace);
                Ok(())
            }
            Err(Early::Preflight(answer)) => {
                trace.decided(&config.metrics, Outcome::Preflight);
                Err(Refusal::Response(answer))
            }
            Err(Early::Refuse(reason)) => config.refuse(reason, &mut req, &trace),
            Err(Early::Taken(secret, via)) => {
                return self.call_taken(inner, req, &secret, via, trace)
            }
        };
        // One call site for the inner service, which lets the compiler inline a small one.
        match admitted {
            Ok(()) => ResponseFuture::called(inner.call(req), TokenSource::Authorization),
            // `inner` drops here, releasing whatever its readiness reserved.
            Err(refusal) => ResponseFuture::rejected(refusal),
        }
    }
}
