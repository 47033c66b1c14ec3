//! [`RequireSessionLayer`]: a per-route check of the session an outer
//! [`BearerLayer`](crate::BearerLayer) already resolved, without resolving the token again.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::anonymous::{Anonymous, LayerShape};
use crate::body::ResponseBody;
use crate::rejection::grpc::Grpc;
use crate::rejection::{InsufficientScope, Rejection};

/// Builds [`RequireSession`] services: a per-route check of the session an outer
/// [`BearerLayer`](crate::BearerLayer) resolved, without resolving the token again.
///
/// A router-wide layer authenticates; an `/admin` route adds its own requirement:
///
/// ```
/// use std::convert::Infallible;
/// use http::{header::AUTHORIZATION, Request, Response, StatusCode};
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
/// use tower_bearer::{resolver_fn, BearerLayer, InsufficientScope, RequireSessionLayer};
///
/// #[derive(Clone)]
/// struct User { admin: bool }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let resolver = resolver_fn(|token| {
///     let user = if token.matches("root") {
///         Some(User { admin: true })
///     } else if token.matches("guest") {
///         Some(User { admin: false })
///     } else {
///         None
///     };
///     async move { Ok::<_, Infallible>(user) }
/// });
/// let admin = ServiceBuilder::new()
///     .layer(BearerLayer::new(resolver))
///     .layer(RequireSessionLayer::new(|user: &User| {
///         if user.admin { Ok(()) } else { Err(InsufficientScope::new("admin")) }
///     }))
///     .service(service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) }));
///
/// let call = |token: &str| {
///     let req = Request::builder().header(AUTHORIZATION, format!("Bearer {token}"));
///     admin.clone().oneshot(req.body(()).unwrap())
/// };
/// assert_eq!(call("root").await.unwrap().status(), StatusCode::OK);
/// let refused = call("guest").await.unwrap();
/// assert_eq!(refused.status(), StatusCode::FORBIDDEN);
/// assert_eq!(
///     refused.headers()["www-authenticate"],
///     r#"Bearer error="insufficient_scope", error_description="insufficient scope", scope="admin""#
/// );
/// # }
/// ```
///
/// - A request with a session of type `T` that passes `check` reaches the inner service.
/// - One whose session fails `check`: `403 insufficient_scope` with the `scope` the check
///   names, exactly as the outer layer's own
///   [`authorize`](crate::BearerLayer::authorize) answers: its realm, its
///   [`on_rejection`](crate::BearerLayer::on_rejection) shape, a gRPC status for a gRPC call.
/// - An anonymous request (the outer layer is optional, or the path exempt): the outer layer's
///   own `401`, in its shape, through [`Anonymous`].
/// - No session and no outer layer: `500` (gRPC `INTERNAL` for a gRPC call), a server
///   misconfiguration logged to `tracing`.
pub struct RequireSessionLayer<T, F> {
    check: Arc<F>,
    _session: PhantomData<fn(&T)>,
}

impl<T, F> RequireSessionLayer<T, F>
where
    F: Fn(&T) -> Result<(), InsufficientScope>,
{
    /// A requirement on sessions of type `T`.
    ///
    /// Nothing here names `T`, so a closure needs its parameter's type: `|s: &MySession| …`.
    /// [`BearerLayer::require`](crate::BearerLayer::require) takes `T` from the layer's
    /// resolver instead, and the closure needs no annotation.
    pub fn new(check: F) -> Self {
        RequireSessionLayer {
            check: Arc::new(check),
            _session: PhantomData,
        }
    }
}

impl<T, F> Clone for RequireSessionLayer<T, F> {
    fn clone(&self) -> Self {
        RequireSessionLayer {
            check: self.check.clone(),
            _session: PhantomData,
        }
    }
}

impl<T, F> fmt::Debug for RequireSessionLayer<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireSessionLayer")
            .field("session", &std::any::type_name::<T>())
            .finish()
    }
}

impl<S, T, F> Layer<S> for RequireSessionLayer<T, F> {
    type Service = RequireSession<S, T, F>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireSession {
            inner,
            check: self.check.clone(),
            _session: PhantomData,
        }
    }
}

/// Checks the session the outer layer resolved; built by [`RequireSessionLayer`].
pub struct RequireSession<S, T, F> {
    inner: S,
    check: Arc<F>,
    _session: PhantomData<fn(&T)>,
}

impl<S, T, F> RequireSession<S, T, F>
where
    F: Fn(&T) -> Result<(), InsufficientScope>,
{
    /// The layer: `RequireSession::layer(check)` is `RequireSessionLayer::new(check)`.
    pub fn layer(check: F) -> RequireSessionLayer<T, F> {
        RequireSessionLayer::new(check)
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

impl<S: Clone, T, F> Clone for RequireSession<S, T, F> {
    fn clone(&self) -> Self {
        RequireSession {
            inner: self.inner.clone(),
            check: self.check.clone(),
            _session: PhantomData,
        }
    }
}

impl<S: fmt::Debug, T, F> fmt::Debug for RequireSession<S, T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireSession")
            .field("inner", &self.inner)
            .field("session", &std::any::type_name::<T>())
            .finish()
    }
}

/// The answer to a request without a session of type `T` that passes `check`, or `None` when
/// it may go on.
pub(crate) fn refusal<T: Send + Sync + 'static>(
    extensions: &http::Extensions,
    headers: &http::HeaderMap,
    check: impl FnOnce(&T) -> Result<(), InsufficientScope>,
) -> Option<Response<Bytes>> {
    if let Some(session) = extensions.get::<T>() {
        let scope = check(session).err()?;
        let rejection = Rejection::from_scope(scope);
        // In the outer layer's shape (its realm, its `on_rejection`), as its own 403 would be,
        // and counted on its metrics as `rejected`, `insufficient_scope`.
        if let Some(LayerShape(layer)) = extensions.get::<LayerShape>() {
            layer.route_refused();
            return Some(layer.refuse(rejection, headers));
        }
        crate::metrics::route_refused();
        return Some(match Grpc::of(headers) {
            Some(grpc) => rejection.to_grpc(grpc),
            None => rejection.into_http(),
        });
    }
    if let Some(anonymous) = extensions.get::<Anonymous>() {
        return Some(anonymous.unauthorized(headers));
    }
    let message = missing_session::<T>();
    tracing::error!("{message}");
    let mut response = internal_error(headers);
    // Debug builds say why in the body too: the mismatch is found at the first request.
    if cfg!(debug_assertions) && Grpc::of(headers).is_none() {
        *response.body_mut() = Bytes::from(message);
    }
    Some(response)
}

/// The session types the `BearerLayer`s of this process insert, by name: what a route that
/// finds none of the type it asks for was most likely meant to ask for.
static SESSION_TYPES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

/// Notes that a `BearerLayer` inserts sessions of type `T` (once per layer built, not per
/// request).
pub(crate) fn note_session_type<T: 'static>() {
    let name = std::any::type_name::<T>();
    let mut types = SESSION_TYPES.lock().unwrap_or_else(|e| e.into_inner());
    if !types.contains(&name) {
        types.push(name);
    }
}

/// Why a route found no `T`, and which types the layers of this process do insert.
fn missing_session<T: 'static>() -> String {
    let wanted = std::any::type_name::<T>();
    let types = SESSION_TYPES.lock().unwrap_or_else(|e| e.into_inner());
    match types.as_slice() {
        [] => format!(
            "no `{wanted}` session in the request, and no `tower_bearer::BearerLayer` was built \
             in this process: put one in front of this route"
        ),
        inserted => format!(
            "no `{wanted}` session in the request: the `BearerLayer`s of this process insert \
             `{}`; ask for that type (e.g. `Authenticated<{}>`), or put a layer that resolves \
             `{wanted}` in front of this route",
            inserted.join("`, `"),
            inserted[0],
        ),
    }
}

/// A server misconfiguration: `500`, or gRPC `INTERNAL` (13) for a gRPC call, which cannot read
/// an HTTP status.
pub(crate) fn internal_error(headers: &http::HeaderMap) -> Response<Bytes> {
    if let Some(grpc) = Grpc::of(headers) {
        return grpc.status(13, "internal error");
    }
    let mut response = Response::new(Bytes::from_static(b"Internal Server Error"));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

impl<S, T, F, ReqBody, ResBody> Service<Request<ReqBody>> for RequireSession<S, T, F>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    T: Send + Sync + 'static,
    F: Fn(&T) -> Result<(), InsufficientScope>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = RequireSessionFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let state = match refusal(req.extensions(), req.headers(), &*self.check) {
            None => State::Called {
                future: self.inner.call(req),
            },
            Some(response) => State::Refused {
                response: Some(response),
            },
        };
        RequireSessionFuture { state }
    }
}

pin_project! {
    /// The future of [`RequireSession`]'s responses.
    pub struct RequireSessionFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Called { #[pin] future: F },
        Refused { response: Option<Response<Bytes>> },
    }
}

impl<F> fmt::Debug for RequireSessionFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireSessionFuture")
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for RequireSessionFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Called { future } => future.poll(cx).map_ok(|r| r.map(ResponseBody::new)),
            StateProj::Refused { response } => {
                let response = response.take().expect("polled after completion");
                Poll::Ready(Ok(response.map(ResponseBody::full)))
            }
        }
    }
}
