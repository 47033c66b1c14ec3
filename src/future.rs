//! [`ResponseFuture`]: resolution, then the inner call, as one state machine.
//!
//! A request whose resolver answered at once (see [`SessionResolver::resolve_ready`]) starts in
//! `Calling` or `Rejected` and never allocates here; only a resolver that must wait gets the
//! boxed `Resolving` state.
//!
//! [`SessionResolver::resolve_ready`]: crate::SessionResolver::resolve_ready

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::header::{HeaderValue, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::anonymous::Anonymous;
use crate::body::ResponseBody;
use crate::challenge::{Reason, Rejection, RejectionKind};
use crate::grpc::Grpc;
use crate::layer::Config;
use crate::resolver::{BoxError, SessionResolver};
use crate::token;

pin_project! {
    /// The future of [`Bearer`](crate::Bearer)'s responses.
    pub struct ResponseFuture<S, R, ReqBody>
    where
        S: Service<Request<ReqBody>>,
        R: SessionResolver,
    {
        #[pin]
        state: State<S, R, ReqBody>,
    }
}

/// What a resolving future holds until the session is known: the readied inner service and the
/// request it will be called with.
struct Pending<S, T, ReqBody> {
    inner: S,
    request: Request<ReqBody>,
    config: Arc<Config<T>>,
}

pin_project! {
    #[project = StateProj]
    enum State<S, R, ReqBody>
    where
        S: Service<Request<ReqBody>>,
        R: SessionResolver,
    {
        // Boxed: only a resolver that must wait gets here, and there the allocation is noise
        // next to its I/O, while keeping the request, the timer and the resolver's future inline
        // would make every future of the answered-at-once path several times larger to move.
        Resolving {
            resolving: Pin<Box<Resolving<S, R, ReqBody>>>,
        },
        Calling {
            #[pin]
            future: S::Future,
        },
        Rejected {
            refusal: Option<Refusal>,
        },
    }
}

/// A refusal, held until the future is polled.
pub(crate) enum Refusal {
    /// One of the layer's own, in its default form: a status and its prebuilt challenge. The
    /// response is built where it is returned, in `poll`, rather than built in `call` and moved
    /// through the future.
    Challenge(StatusCode, Option<HeaderValue>),
    /// A response built already: gRPC, or an `on_rejection` handler's.
    Response(Response<Bytes>),
}

impl Refusal {
    #[inline]
    fn into_response<B>(self) -> Response<ResponseBody<B>> {
        match self {
            Refusal::Challenge(status, challenge) => {
                let mut response = Response::new(ResponseBody::full(Bytes::new()));
                *response.status_mut() = status;
                if let Some(challenge) = challenge {
                    response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
                }
                response
            }
            Refusal::Response(response) => response.map(ResponseBody::full),
        }
    }
}

pin_project! {
    /// A resolution in progress: the resolver's future, its deadline, and what the answer needs.
    #[project = ResolvingProj]
    struct Resolving<S, R, ReqBody>
    where
        S: Service<Request<ReqBody>>,
        R: SessionResolver,
    {
        #[pin]
        resolve: R::Future,
        #[pin]
        deadline: Deadline,
        pending: Option<Pending<S, R::Session, ReqBody>>,
    }
}

pin_project! {
    #[project = DeadlineProj]
    enum Deadline {
        Armed { #[pin] sleep: tokio::time::Sleep },
        Off,
    }
}

impl<S, R, ReqBody> ResponseFuture<S, R, ReqBody>
where
    S: Service<Request<ReqBody>>,
    R: SessionResolver,
{
    pub(crate) fn called(future: S::Future) -> Self {
        ResponseFuture {
            state: State::Calling { future },
        }
    }

    pub(crate) fn rejected(refusal: Refusal) -> Self {
        ResponseFuture {
            state: State::Rejected {
                refusal: Some(refusal),
            },
        }
    }

    pub(crate) fn resolving(
        resolve: R::Future,
        inner: S,
        request: Request<ReqBody>,
        config: Arc<Config<R::Session>>,
    ) -> Self {
        let deadline = match config.timeout {
            Some(timeout) => Deadline::Armed {
                sleep: tokio::time::sleep(timeout),
            },
            None => Deadline::Off,
        };
        ResponseFuture {
            state: State::Resolving {
                resolving: Box::pin(Resolving {
                    resolve,
                    deadline,
                    pending: Some(Pending {
                        inner,
                        request,
                        config,
                    }),
                }),
            },
        }
    }
}

impl<S, R, ReqBody> fmt::Debug for ResponseFuture<S, R, ReqBody>
where
    S: Service<Request<ReqBody>>,
    R: SessionResolver,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Resolving { .. } => "Resolving",
            State::Calling { .. } => "Calling",
            State::Rejected { .. } => "Rejected",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

impl<S, R, ReqBody, ResBody> Future for ResponseFuture<S, R, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    R: SessionResolver,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let next = match state.as_mut().project() {
                StateProj::Calling { future } => {
                    return future.poll(cx).map_ok(|res| res.map(ResponseBody::new));
                }
                StateProj::Rejected { refusal } => {
                    let refusal = refusal
                        .take()
                        .expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok(refusal.into_response()));
                }
                StateProj::Resolving { resolving } => ready!(resolving.as_mut().poll_settle(cx)),
            };
            state.set(next);
        }
    }
}

impl<S, R, ReqBody> Resolving<S, R, ReqBody>
where
    S: Service<Request<ReqBody>>,
    R: SessionResolver,
{
    /// Waits for the resolver (or the deadline), then settles: the state that comes next.
    ///
    /// Kept out of line: a resolver that answers at once never gets here, and keeping
    /// `ResponseFuture::poll` small lets the compiler inline it into the caller.
    #[inline(never)]
    fn poll_settle(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<State<S, R, ReqBody>> {
        let ResolvingProj {
            resolve,
            deadline,
            pending,
        } = self.project();
        let outcome = match resolve.poll(cx) {
            Poll::Ready(outcome) => outcome.map_err(Into::into),
            Poll::Pending => match deadline.project() {
                DeadlineProj::Armed { sleep } => {
                    ready!(sleep.poll(cx));
                    Err(BoxError::from("the session resolver timed out"))
                }
                DeadlineProj::Off => return Poll::Pending,
            },
        };
        let pending = pending
            .take()
            .expect("ResponseFuture polled after completion");
        Poll::Ready(pending.settle::<R>(outcome))
    }
}

impl<S, T, ReqBody> Pending<S, T, ReqBody>
where
    T: Clone + Send + Sync + 'static,
{
    /// The state that follows the resolver's answer.
    fn settle<R>(self, outcome: Result<Option<T>, BoxError>) -> State<S, R, ReqBody>
    where
        S: Service<Request<ReqBody>>,
        R: SessionResolver<Session = T>,
    {
        let Pending {
            mut inner,
            mut request,
            config,
        } = self;
        match config.admit(&mut request, outcome) {
            Ok(()) => State::Calling {
                future: inner.call(request),
            },
            Err(refusal) => State::Rejected {
                refusal: Some(refusal),
            },
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Config<T> {
    /// What the resolver's answer leads to: `Ok` with the session (or, when invalid tokens
    /// pass, the anonymous marker) in the request's extensions, ready for the inner service;
    /// or the refusal to send.
    // Inlined into its two callers, so the large `Err` is written in place rather than moved;
    // boxing it would allocate on every refusal.
    #[inline]
    #[allow(clippy::result_large_err)]
    pub(crate) fn admit<ReqBody>(
        self: &Arc<Self>,
        request: &mut Request<ReqBody>,
        outcome: Result<Option<T>, BoxError>,
    ) -> Result<(), Refusal> {
        let rejection = match outcome {
            Ok(Some(session)) => match self.authorize.as_ref().map(|check| check(&session)) {
                Some(Err(refusal)) => Rejection::from_scope(refusal),
                Some(Ok(())) | None => {
                    token::mark_sensitive_one(request.headers_mut());
                    request.extensions_mut().insert(session);
                    return Ok(());
                }
            },
            Ok(None) => return self.refuse(Reason::Unknown, request),
            Err(error) => {
                tracing::error!(error = %error, "bearer: the session resolver failed");
                Rejection::new(RejectionKind::Unavailable)
            }
        };
        Err(Refusal::Response(
            self.reject(rejection, Grpc::of(request.headers())),
        ))
    }

    /// One of the layer's own reasons to refuse: `Ok` with the anonymous marker when the layer
    /// is optional and lets this reason pass, else the refusal.
    #[inline]
    #[allow(clippy::result_large_err)] // as `admit`
    pub(crate) fn refuse<ReqBody>(
        self: &Arc<Self>,
        reason: Reason,
        request: &mut Request<ReqBody>,
    ) -> Result<(), Refusal> {
        let passes = match reason {
            Reason::Missing => self.optional,
            _ => self.optional && self.pass_invalid,
        };
        if passes {
            token::mark_sensitive(request.headers_mut());
            request
                .extensions_mut()
                .insert(Anonymous::new(self.clone()));
            return Ok(());
        }
        Err(self.reject_reason(reason, request.headers()))
    }
}
