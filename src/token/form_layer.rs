//! [`FormTokenLayer`]: reads `access_token` out of a form body (RFC 6750 §2.2) for the bearer
//! layer behind it, and hands the body on intact.

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use http::header::CONTENT_LENGTH;
use http::request::Parts;
use http::{Request, Response, StatusCode};
use http_body::Body;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{RequestBody, ResponseBody};
use crate::token::{self, sources::FormCredential};

/// The default bound on a form body read for its token: 64 KiB.
pub const DEFAULT_FORM_LIMIT: usize = 64 * 1024;

/// Reads the token of a form body for the [`BearerLayer`](crate::BearerLayer) behind it; made
/// by [`BearerLayer::form_token`](crate::BearerLayer::form_token), which stacks the two.
///
/// A request that is not `GET` or `HEAD` and whose body is `application/x-www-form-urlencoded`
/// is read into memory, up to the limit: a longer one gets `413 Payload Too Large` (at once when
/// its `Content-Length` says so), and one whose body fails while being read gets `400`. The
/// inner service gets the same bytes as a [`RequestBody`]; every other request's body streams
/// through untouched.
#[derive(Clone, Debug)]
pub struct FormTokenLayer {
    limit: usize,
}

impl FormTokenLayer {
    pub(crate) fn new(limit: usize) -> Self {
        FormTokenLayer { limit }
    }
}

impl<S> Layer<S> for FormTokenLayer {
    type Service = FormToken<S>;

    fn layer(&self, inner: S) -> FormToken<S> {
        FormToken {
            inner,
            limit: self.limit,
        }
    }
}

/// The service of [`FormTokenLayer`].
#[derive(Clone, Debug)]
pub struct FormToken<S> {
    inner: S,
    limit: usize,
}

impl<S, B, ResBody> Service<Request<B>> for FormToken<S>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResponseBody<ResBody>>> + Clone,
    B: Body<Data = Bytes>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = FormTokenFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = mem::replace(&mut self.inner, clone);
        if !token::form::is_form(req.method(), req.headers()) {
            let future = inner.call(req.map(RequestBody::streaming));
            return FormTokenFuture {
                state: State::Calling { future },
            };
        }
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.limit as u64) {
            return FormTokenFuture::answer(StatusCode::PAYLOAD_TOO_LARGE);
        }
        let (parts, body) = req.into_parts();
        FormTokenFuture {
            state: State::Reading {
                body,
                read: Vec::new(),
                limit: self.limit,
                rest: Some((parts, inner)),
            },
        }
    }
}

pin_project! {
    /// The future of [`FormToken`]'s responses.
    pub struct FormTokenFuture<S, B>
    where
        S: Service<Request<RequestBody<B>>>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<RequestBody<B>>>,
    {
        Reading {
            #[pin]
            body: B,
            read: Vec<u8>,
            limit: usize,
            rest: Option<(Parts, S)>,
        },
        Calling {
            #[pin]
            future: S::Future,
        },
        Answered {
            status: Option<StatusCode>,
        },
    }
}

impl<S, B> FormTokenFuture<S, B>
where
    S: Service<Request<RequestBody<B>>>,
{
    fn answer(status: StatusCode) -> Self {
        FormTokenFuture {
            state: State::Answered {
                status: Some(status),
            },
        }
    }
}

impl<S, B> fmt::Debug for FormTokenFuture<S, B>
where
    S: Service<Request<RequestBody<B>>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FormTokenFuture").finish_non_exhaustive()
    }
}

impl<S, B, ResBody> Future for FormTokenFuture<S, B>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResponseBody<ResBody>>>,
    B: Body<Data = Bytes>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let next = match state.as_mut().project() {
                StateProj::Calling { future } => return future.poll(cx),
                StateProj::Answered { status } => {
                    let status = status
                        .take()
                        .expect("FormTokenFuture polled after completion");
                    let mut response = Response::new(ResponseBody::full(Bytes::new()));
                    *response.status_mut() = status;
                    return Poll::Ready(Ok(response));
                }
                StateProj::Reading {
                    mut body,
                    read,
                    limit,
                    rest,
                } => match ready!(body.as_mut().poll_frame(cx)) {
                    Some(Ok(frame)) => {
                        let Ok(mut data) = frame.into_data() else {
                            continue; // trailers: nothing to read
                        };
                        if read.len() + data.remaining() > *limit {
                            State::Answered {
                                status: Some(StatusCode::PAYLOAD_TOO_LARGE),
                            }
                        } else {
                            while data.has_remaining() {
                                let chunk = data.chunk();
                                read.extend_from_slice(chunk);
                                let n = chunk.len();
                                data.advance(n);
                            }
                            continue;
                        }
                    }
                    Some(Err(_)) => State::Answered {
                        status: Some(StatusCode::BAD_REQUEST),
                    },
                    None => {
                        let (mut parts, mut inner) = rest
                            .take()
                            .expect("FormTokenFuture polled after completion");
                        let bytes = Bytes::from(mem::take(read));
                        if let Some(token) = token::form_token(&bytes, "access_token") {
                            parts.extensions.insert(FormCredential(token));
                        }
                        let request = Request::from_parts(parts, RequestBody::buffered(bytes));
                        State::Calling {
                            future: inner.call(request),
                        }
                    }
                },
            };
            state.set(next);
        }
    }
}
