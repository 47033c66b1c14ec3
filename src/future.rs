//! [`ResponseFuture`]: resolution, then the inner call, as one unboxed state machine.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::challenge::{Reason, Rejection, RejectionKind};
use crate::integrations::Anonymous;
use crate::layer::Config;
use crate::resolver::{BoxError, SessionResolver};

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
            response: Option<Response<Bytes>>,
        },
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

    pub(crate) fn rejected(response: Response<Bytes>) -> Self {
        ResponseFuture {
            state: State::Rejected {
                response: Some(response),
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

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let next = match state.as_mut().project() {
                StateProj::Calling { future } => {
                    return future.poll(cx).map_ok(|res| res.map(ResponseBody::new));
                }
                StateProj::Rejected { response } => {
                    let response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok(response.map(ResponseBody::full)));
                }
                StateProj::Resolving { resolving } => {
                    let ResolvingProj {
                        resolve,
                        deadline,
                        pending,
                    } = resolving.as_mut().project();
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
                    pending.settle::<R>(outcome)
                }
            };
            state.set(next);
        }
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
            request,
            config,
        } = self;
        match config.settle(&mut inner, request, outcome) {
            Ok(future) => State::Calling { future },
            Err(response) => State::Rejected {
                response: Some(response),
            },
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Config<T> {
    /// What the resolver's answer leads to: the readied `inner` called with the session in the
    /// request's extensions, or the rejection to send.
    pub(crate) fn settle<S, ReqBody>(
        &self,
        inner: &mut S,
        mut request: Request<ReqBody>,
        outcome: Result<Option<T>, BoxError>,
    ) -> Result<S::Future, Response<Bytes>>
    where
        S: Service<Request<ReqBody>>,
    {
        let rejection = match outcome {
            Ok(Some(session)) => match self.authorize.as_ref().map(|check| check(&session)) {
                Some(Err(refusal)) => Rejection::from_scope(refusal),
                Some(Ok(())) | None => {
                    request.extensions_mut().insert(session);
                    return Ok(inner.call(request));
                }
            },
            Ok(None) if self.optional && self.pass_invalid => {
                request.extensions_mut().insert(Anonymous);
                return Ok(inner.call(request));
            }
            Ok(None) => self.challenges.rejection(Reason::Unknown),
            Err(error) => {
                tracing::error!(error = %error, "bearer: the session resolver failed");
                Rejection::new(RejectionKind::Unavailable)
            }
        };
        Err(self.reject(rejection, &request))
    }
}
