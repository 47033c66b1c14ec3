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
        Resolving {
            #[pin]
            resolve: R::Future,
            #[pin]
            deadline: Deadline,
            pending: Option<Pending<S, R::Session, ReqBody>>,
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
                resolve,
                deadline,
                pending: Some(Pending {
                    inner,
                    request,
                    config,
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
                StateProj::Resolving {
                    resolve,
                    deadline,
                    pending,
                } => {
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
            mut request,
            config,
        } = self;
        let rejection = match outcome {
            Ok(Some(session)) => match config.authorize.as_ref().map(|check| check(&session)) {
                Some(Err(refusal)) => Rejection::from_scope(refusal),
                Some(Ok(())) | None => {
                    request.extensions_mut().insert(session);
                    return State::Calling {
                        future: inner.call(request),
                    };
                }
            },
            Ok(None) if config.optional && config.pass_invalid => {
                request.extensions_mut().insert(Anonymous);
                return State::Calling {
                    future: inner.call(request),
                };
            }
            Ok(None) => config.challenges.rejection(Reason::Unknown),
            Err(error) => {
                tracing::error!(error = %error, "bearer: the session resolver failed");
                Rejection::new(RejectionKind::Unavailable)
            }
        };
        State::Rejected {
            response: Some(config.reject(rejection, &request)),
        }
    }
}
