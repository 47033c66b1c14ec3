//! The client side: [`BearerClientLayer`] adds `Authorization: Bearer …` to outgoing requests,
//! as better-auth's client does.
//!
//! The token lives in a [`SharedToken`]: set it after sign-in, clear it at sign-out, and every
//! clone of the client sees the change. A request that already carries an `Authorization`
//! header keeps it (that is how a single request sends a token of its own). With
//! [`learn_from_response`](BearerClientLayer::learn_from_response), the layer also picks the
//! token up from a `set-auth-token` response header, as better-auth's client does after sign-in.
//!
//! ```
//! use std::convert::Infallible;
//! use http::{header::AUTHORIZATION, Request, Response};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_bearer::client::{BearerClientLayer, SharedToken};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let token = SharedToken::new();
//! let client = ServiceBuilder::new()
//!     .layer(BearerClientLayer::new(token.clone()))
//!     .service(service_fn(|req: Request<()>| async move {
//!         let auth = req.headers().get(AUTHORIZATION).cloned();
//!         Ok::<_, Infallible>(Response::new(auth))
//!     }));
//!
//! token.set("s3cr3t").unwrap();
//! let sent = client.clone().oneshot(Request::new(())).await.unwrap().into_body().unwrap();
//! assert_eq!(sent, "Bearer s3cr3t");
//! assert!(sent.is_sensitive());
//!
//! token.clear();
//! assert!(client.oneshot(Request::new(())).await.unwrap().into_body().is_none());
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{ready, Context, Poll};

use http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// The response header better-auth's Bearer plugin sends the session token in.
pub const SET_AUTH_TOKEN: HeaderName = HeaderName::from_static("set-auth-token");

/// A token that is not a valid `b64token` (RFC 6750), so it cannot go into a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidToken;

impl fmt::Display for InvalidToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the token is not a valid RFC 6750 b64token")
    }
}

impl std::error::Error for InvalidToken {}

/// The client's current token, shared by every clone; `Debug` never shows it.
#[derive(Clone, Default)]
pub struct SharedToken(Arc<RwLock<Option<HeaderValue>>>);

impl SharedToken {
    /// No token yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `token` (after sign-in). The header value is built once, here, and marked
    /// sensitive so HTTP/2's HPACK never indexes it.
    pub fn set(&self, token: &str) -> Result<(), InvalidToken> {
        if !crate::token::is_b64token(token.as_bytes()) {
            return Err(InvalidToken);
        }
        let mut value =
            HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| InvalidToken)?;
        value.set_sensitive(true);
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(value);
        Ok(())
    }

    /// Forgets the token (at sign-out).
    pub fn clear(&self) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Whether a token is set.
    pub fn is_set(&self) -> bool {
        self.header().is_some()
    }

    pub(crate) fn header(&self) -> Option<HeaderValue> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl fmt::Debug for SharedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.is_set() { "Bearer ***" } else { "unset" };
        f.debug_tuple("SharedToken").field(&state).finish()
    }
}

/// Adds the [`SharedToken`] to outgoing requests; builds [`AddBearer`].
#[derive(Clone, Debug)]
pub struct BearerClientLayer {
    token: SharedToken,
    learn: bool,
}

impl BearerClientLayer {
    /// Sends `token` with every request that has no `Authorization` header of its own.
    pub fn new(token: SharedToken) -> Self {
        BearerClientLayer {
            token,
            learn: false,
        }
    }

    /// Also store the token of any response that carries a `set-auth-token` header.
    pub fn learn_from_response(mut self, learn: bool) -> Self {
        self.learn = learn;
        self
    }
}

impl<S> Layer<S> for BearerClientLayer {
    type Service = AddBearer<S>;

    fn layer(&self, inner: S) -> AddBearer<S> {
        AddBearer {
            inner,
            token: self.token.clone(),
            learn: self.learn,
        }
    }
}

/// Adds `Authorization: Bearer …` to requests; see [`BearerClientLayer`].
#[derive(Clone, Debug)]
pub struct AddBearer<S> {
    inner: S,
    token: SharedToken,
    learn: bool,
}

impl<S> AddBearer<S> {
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AddBearer<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        if !req.headers().contains_key(AUTHORIZATION) {
            if let Some(value) = self.token.header() {
                req.headers_mut().insert(AUTHORIZATION, value);
            }
        }
        ResponseFuture {
            inner: self.inner.call(req),
            learn: self.learn.then(|| self.token.clone()),
        }
    }
}

pin_project! {
    /// [`AddBearer`]'s response future: learns `set-auth-token` when asked to.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        learn: Option<SharedToken>,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let (Some(token), Ok(response)) = (this.learn.as_ref(), &result) {
            let learned = response
                .headers()
                .get(SET_AUTH_TOKEN)
                .and_then(|v| v.to_str().ok());
            if let Some(learned) = learned {
                // A malformed header leaves the current token in place.
                let _ = token.set(learned);
            }
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_rejects_what_cannot_be_a_bearer_token() {
        let token = SharedToken::new();
        assert_eq!(token.set("a b"), Err(InvalidToken));
        assert_eq!(token.set(""), Err(InvalidToken));
        assert_eq!(token.set("caf\u{e9}"), Err(InvalidToken));
        assert!(!token.is_set());
        token.set("abc").unwrap();
        assert!(token.is_set());
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = SharedToken::new();
        token.set("very-secret").unwrap();
        let shown = format!("{token:?} {:?}", BearerClientLayer::new(token.clone()));
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("Bearer ***"));
    }
}
