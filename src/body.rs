//! The bodies the layers hand on: the response's (the inner service's body, or a rejection's
//! bytes) and, behind a form layer, the request's (streamed as it came, or the bytes buffered).
//! Three layers answer with these (`Bearer`, `RequireSession`, `FormToken`), so they sit here,
//! below `layer/` and `token/`, rather than inside either.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The body of every response that passes through [`Bearer`](crate::Bearer).
    ///
    /// A wrapper rather than `B: Default`: a rejection can carry a body of its own (a JSON error,
    /// say) whatever the inner service's body type is, and axum, tonic and hyper all accept any
    /// `http_body::Body<Data = Bytes>`. Passing through costs one branch per frame.
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    /// The body of a request that passed through a
    /// [`FormTokenLayer`](crate::form::FormTokenLayer): the body as it came, or, for a form it
    /// read to find the token, the same bytes from memory.
    #[derive(Debug)]
    pub struct RequestBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

impl<B> RequestBody<B> {
    pub(crate) fn streaming(body: B) -> Self {
        RequestBody {
            kind: Kind::Inner { body },
        }
    }

    pub(crate) fn buffered(data: Bytes) -> Self {
        RequestBody {
            kind: Kind::full(data),
        }
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Full { data: Option<Bytes> },
    }
}

impl<B> ResponseBody<B> {
    /// Wraps the inner service's body.
    pub fn new(body: B) -> Self {
        ResponseBody {
            kind: Kind::Inner { body },
        }
    }

    /// A body of these bytes (empty bytes make an empty body).
    pub fn full(data: Bytes) -> Self {
        ResponseBody {
            kind: Kind::full(data),
        }
    }
}

impl<B> Kind<B> {
    fn full(data: Bytes) -> Self {
        let data = (!data.is_empty()).then_some(data);
        Kind::Full { data }
    }
}

/// One body implementation for both wrappers.
macro_rules! delegate_body {
    ($wrapper:ident) => {
        impl<B> Body for $wrapper<B>
        where
            B: Body<Data = Bytes>,
        {
            type Data = Bytes;
            type Error = B::Error;

            fn poll_frame(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
                self.project().kind.poll_frame(cx)
            }

            fn is_end_stream(&self) -> bool {
                self.kind.is_end_stream()
            }

            fn size_hint(&self) -> SizeHint {
                self.kind.size_hint()
            }
        }
    };
}

delegate_body!(ResponseBody);
delegate_body!(RequestBody);

impl<B> Body for Kind<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Full { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Full { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Kind::Inner { body } => body.size_hint(),
            Kind::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Empty};

    #[tokio::test]
    async fn full_body_yields_its_bytes_once() {
        let body = ResponseBody::<Empty<Bytes>>::full(Bytes::from_static(b"{}"));
        assert_eq!(body.size_hint().exact(), Some(2));
        assert!(!body.is_end_stream());
        assert_eq!(body.collect().await.unwrap().to_bytes(), "{}");
    }

    #[test]
    fn empty_full_body_ends_at_once() {
        let body = ResponseBody::<Empty<Bytes>>::full(Bytes::new());
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
    }
}
