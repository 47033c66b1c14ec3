//! [`DpopFuture`]: a DPoP request's answer under way: the replay store asked whether the
//! proof's `jti` is new, then the bearer layer's answer made to speak DPoP, or the DPoP
//! layer's own refusal.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::challenge::{Post, Refused};
use crate::body::ResponseBody;
use crate::resolver::BoxError;

pin_project_lite::pin_project! {
    /// The future of [`Dpop`]: the replay check, then the bearer layer's answer.
    pub struct DpopFuture<S: Service<Request<B>>, B> {
        #[pin]
        state: State<S, B>,
    }
}

pub(super) type FirstUse = Pin<Box<dyn Future<Output = Result<bool, BoxError>> + Send>>;

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<S: Service<Request<B>>, B> {
        Checking { first: FirstUse, call: Option<(S, Request<B>)>, post: Option<Post>, grpc: Option<crate::rejection::grpc::Grpc> },
        Calling { #[pin] future: S::Future, post: Option<Post> },
        Refused { answer: Option<Response<bytes::Bytes>> },
    }
}

impl<S: Service<Request<B>>, B> DpopFuture<S, B> {
    pub(super) fn refused(answer: Response<bytes::Bytes>) -> Self {
        DpopFuture {
            state: State::Refused {
                answer: Some(answer),
            },
        }
    }

    pub(super) fn calling(mut inner: S, req: Request<B>, post: Post) -> Self {
        DpopFuture {
            state: State::Calling {
                future: inner.call(req),
                post: Some(post),
            },
        }
    }

    pub(super) fn checking(
        first: FirstUse,
        inner: S,
        req: Request<B>,
        post: Post,
        grpc: Option<crate::rejection::grpc::Grpc>,
    ) -> Self {
        DpopFuture {
            state: State::Checking {
                first,
                call: Some((inner, req)),
                post: Some(post),
                grpc,
            },
        }
    }
}

impl<S, B, ResBody> Future for DpopFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Checking {
                    first,
                    call,
                    post,
                    grpc,
                } => {
                    let answer = ready!(first.as_mut().poll(cx));
                    let post = post.take().expect("polled after completion");
                    let refused = match answer {
                        Ok(true) => None,
                        Ok(false) => {
                            tracing::debug!("bearer: the DPoP proof's jti was used before");
                            crate::metrics::dpop_proof("replayed");
                            Some(Refused::Invalid("the DPoP proof was used before".into()))
                        }
                        Err(error) => {
                            tracing::warn!(%error, "bearer: the DPoP replay store failed");
                            crate::metrics::dpop_proof("unavailable");
                            Some(Refused::Unavailable)
                        }
                    };
                    if let Some(refused) = refused {
                        let answer = refused.answer(post.settings(), *grpc);
                        this.state.set(State::Refused {
                            answer: Some(answer),
                        });
                        continue;
                    }
                    crate::metrics::dpop_proof("accepted");
                    let (mut inner, req) = call.take().expect("polled after completion");
                    let future = inner.call(req);
                    this.state.set(State::Calling {
                        future,
                        post: Some(post),
                    });
                }
                StateProj::Calling { future, post } => {
                    let response = ready!(future.poll(cx))?;
                    let post = post.take().expect("polled after completion");
                    return Poll::Ready(Ok(post.apply(response.map(ResponseBody::new))));
                }
                StateProj::Refused { answer } => {
                    let answer = answer.take().expect("polled after completion");
                    return Poll::Ready(Ok(answer.map(ResponseBody::full)));
                }
            }
        }
    }
}

impl<S: Service<Request<B>>, B> fmt::Debug for DpopFuture<S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DpopFuture")
    }
}
