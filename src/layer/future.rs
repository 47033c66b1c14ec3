//! The middleware's futures: [`ResponseFuture`], resolution then the inner call as one state
//! machine, and [`RequireSessionFuture`].
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

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

pub use crate::require::RequireSessionFuture;

use super::decision::{Config, Refusal, TimedOut};
use crate::body::ResponseBody;
use crate::resolver::{BoxError, SessionResolver};
use crate::token::sources::{mark_private, TokenSource};
use crate::trace::Trace;

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
    via: TokenSource,
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
        // Authenticated from the query: the response gets `Cache-Control: private`.
        CallingPrivate {
            #[pin]
            future: S::Future,
        },
        Rejected {
            refusal: Option<Refusal>,
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
        trace: Trace,
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
    #[inline]
    pub(crate) fn called(future: S::Future, via: TokenSource) -> Self {
        ResponseFuture {
            state: State::calling(future, via),
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
        via: TokenSource,
        trace: Trace,
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
                        via,
                    }),
                    trace,
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
            State::Calling { .. } | State::CallingPrivate { .. } => "Calling",
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
                StateProj::CallingPrivate { future } => {
                    return future.poll(cx).map_ok(|res| {
                        let mut res = res.map(ResponseBody::new);
                        mark_private(res.headers_mut());
                        res
                    });
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

impl<S, R, ReqBody> State<S, R, ReqBody>
where
    S: Service<Request<ReqBody>>,
    R: SessionResolver,
{
    #[inline]
    fn calling(future: S::Future, via: TokenSource) -> Self {
        match via {
            TokenSource::Query => State::CallingPrivate { future },
            _ => State::Calling { future },
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
            trace,
        } = self.project();
        // The resolver's own events belong to the decision's span.
        let polled = match trace.span() {
            Some(span) => span.in_scope(|| resolve.poll(cx)),
            None => resolve.poll(cx),
        };
        let outcome = match polled {
            Poll::Ready(outcome) => outcome.map_err(Into::into),
            Poll::Pending => match deadline.project() {
                DeadlineProj::Armed { sleep } => {
                    ready!(sleep.poll(cx));
                    Err(BoxError::from(TimedOut))
                }
                DeadlineProj::Off => return Poll::Pending,
            },
        };
        let pending = pending
            .take()
            .expect("ResponseFuture polled after completion");
        Poll::Ready(pending.settle::<R>(outcome, trace))
    }
}

impl<S, T, ReqBody> Pending<S, T, ReqBody>
where
    T: Clone + Send + Sync + 'static,
{
    /// The state that follows the resolver's answer.
    fn settle<R>(self, outcome: Result<Option<T>, BoxError>, trace: &Trace) -> State<S, R, ReqBody>
    where
        S: Service<Request<ReqBody>>,
        R: SessionResolver<Session = T>,
    {
        let Pending {
            mut inner,
            mut request,
            config,
            via,
        } = self;
        match config.admit(&mut request, outcome, trace) {
            Ok(()) => State::calling(inner.call(request), via),
            Err(refusal) => State::Rejected {
                refusal: Some(refusal),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::future::Ready;
    use std::mem::size_of;

    use http::{Request, Response};

    use super::ResponseFuture;
    use crate::resolver::BoxResolver;

    /// A handler whose future is its answer, as most are once inlined.
    #[derive(Clone)]
    struct Handler;

    impl tower_service::Service<Request<()>> for Handler {
        type Response = Response<()>;
        type Error = Infallible;
        type Future = Ready<Result<Response<()>, Infallible>>;
        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Infallible>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Request<()>) -> Self::Future {
            std::future::ready(Ok(Response::new(())))
        }
    }

    /// hyper moves the future several times per request (into its wrapper, out of an
    /// `Option`): it must be no larger than the inner future and a tag, whatever the refusal
    /// it may hold.
    #[test]
    fn the_future_is_the_inner_future_and_a_word() {
        type Inner = <Handler as tower_service::Service<Request<()>>>::Future;
        let ours = size_of::<ResponseFuture<Handler, BoxResolver<()>, ()>>();
        let inner = size_of::<Inner>();
        println!("ResponseFuture: {ours} bytes; the inner future: {inner} bytes");
        assert!(
            ours <= inner + 8,
            "{ours} bytes for an inner future of {inner}"
        );
        assert!(size_of::<super::super::decision::Refusal>() <= 48);
    }
}
