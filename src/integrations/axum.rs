//! axum: the [`Authenticated`] extractor, and `IntoResponse` for [`Rejection`].
//!
//! ```
//! use std::sync::Arc;
//! use axum_core::response::IntoResponse;
//! use tower_bearer::integrations::axum::Authenticated;
//! use tower_bearer::store::Session;
//!
//! // A handler for a route behind `BearerLayer::new(store)`.
//! async fn me(Authenticated(session): Authenticated<Arc<Session>>) -> String {
//!     session.user_id.to_string()
//! }
//!
//! // A route behind `BearerLayer::new(store).mode(Mode::Optional)`.
//! async fn greet(session: Option<Authenticated<Arc<Session>>>) -> String {
//!     match session {
//!         Some(Authenticated(s)) => format!("hello {}", s.user_id),
//!         None => "hello stranger".to_string(),
//!     }
//! }
//! ```

use std::fmt;
use std::marker::PhantomData;

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::require::refusal;
use crate::{Anonymous, InsufficientScope, Rejection};

/// Extracts the session the layer resolved: `T` is the resolver's `Session` type.
///
/// - With a session of type `T` in the request: `Authenticated(session)`.
/// - A request the layer let through without a session (an optional [mode](crate::Mode), an
///   exempt path): `401` with the layer's challenge, in the layer's
///   [`on_rejection`](crate::BearerLayer::on_rejection) shape, or a gRPC status for a gRPC call:
///   what the layer itself would have answered. So "optional layer on the whole router, required
///   extractor per handler" works.
/// - No layer in front of the route, or a layer that resolves another session type: `500`, a
///   server misconfiguration. The details go to `tracing`; the body says nothing of them.
///
/// `Option<Authenticated<T>>` is `None` for anonymous requests instead.
///
/// `T` is exactly the type the layer's resolver inserts (no `Arc` added or taken away):
///
/// | Resolver | `T` |
/// |---|---|
/// | [`MemoryStore<D>`](crate::store::MemoryStore), [`RedisStore<D>`](crate::store::RedisStore), [`CachedStore<D>`](crate::store::CachedStore) | `Arc<store::Session<D>>` |
/// | [`better_auth::SqlResolver`](crate::better_auth::SqlResolver), [`RedisStorageResolver`](crate::better_auth::RedisStorageResolver), [`HttpResolver`](crate::better_auth::HttpResolver) | [`BetterAuthSession`](crate::better_auth::BetterAuthSession) |
/// | [`oauth::JwtResolver<C>`](crate::oauth::JwtResolver), [`oauth::IntrospectionResolver<C>`](crate::oauth::IntrospectionResolver) | `Arc<oauth::Claims<C>>` |
/// | [`oauth::JwtOr<J, O>`](crate::oauth::JwtOr) | `oauth::Verified<J::Session, O::Session>` |
/// | [`resolver_fn`](crate::resolver_fn), [`BoxResolver<S>`](crate::BoxResolver), your own | its `Session` type |
///
/// Asking for another type is a `500`; the log (and, in debug builds, the body) names the type
/// asked for and the types the layers of the process insert.
#[derive(Clone, Debug)]
pub struct Authenticated<T>(pub T);

impl<S, T> FromRequestParts<S> for Authenticated<T>
where
    S: Send + Sync,
    T: Clone + Send + Sync + 'static,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        extract(parts, |_: &T| Ok(())).map(Authenticated)
    }
}

impl<S, T> OptionalFromRequestParts<S> for Authenticated<T>
where
    S: Send + Sync,
    T: Clone + Send + Sync + 'static,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        if parts.extensions.get::<T>().is_none() && parts.extensions.get::<Anonymous>().is_some() {
            return Ok(None);
        }
        extract(parts, |_: &T| Ok(())).map(|session| Some(Authenticated(session)))
    }
}

/// A requirement on a session, for [`Authorized`]: a per-route check of the session the layer
/// already resolved, with no second lookup.
///
/// ```
/// use std::sync::Arc;
/// use tower_bearer::integrations::axum::{Authorized, Requirement};
/// use tower_bearer::store::Session;
/// use tower_bearer::InsufficientScope;
///
/// #[derive(Clone)]
/// struct Role { admin: bool }
///
/// struct Admin;
///
/// impl Requirement<Arc<Session<Role>>> for Admin {
///     fn check(session: &Arc<Session<Role>>) -> Result<(), InsufficientScope> {
///         if session.data.admin { Ok(()) } else { Err(InsufficientScope::new("admin")) }
///     }
/// }
///
/// // `403 insufficient_scope, scope="admin"` for a session without the role.
/// async fn admin_only(Authorized(session, ..): Authorized<Arc<Session<Role>>, Admin>) -> String {
///     session.user_id.to_string()
/// }
/// ```
pub trait Requirement<T> {
    /// `Err` refuses the session: `403 insufficient_scope` with the scope it names.
    fn check(session: &T) -> Result<(), InsufficientScope>;
}

/// Extracts the session if it meets requirement `P`: as [`Authenticated`], and `403
/// insufficient_scope` (or gRPC `PERMISSION_DENIED`) when [`P::check`](Requirement::check)
/// refuses it.
pub struct Authorized<T, P>(pub T, pub PhantomData<P>);

impl<T: Clone, P> Clone for Authorized<T, P> {
    fn clone(&self) -> Self {
        Authorized(self.0.clone(), PhantomData)
    }
}

impl<T: fmt::Debug, P> fmt::Debug for Authorized<T, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Authorized").field(&self.0).finish()
    }
}

impl<S, T, P> FromRequestParts<S> for Authorized<T, P>
where
    S: Send + Sync,
    T: Clone + Send + Sync + 'static,
    P: Requirement<T>,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        extract(parts, P::check).map(|session| Authorized(session, PhantomData))
    }
}

fn extract<T: Clone + Send + Sync + 'static>(
    parts: &Parts,
    check: impl FnOnce(&T) -> Result<(), InsufficientScope>,
) -> Result<T, SessionRejection> {
    match refusal(&parts.extensions, &parts.headers, check) {
        None => Ok(parts
            .extensions
            .get::<T>()
            .cloned()
            .expect("refusal found the session")),
        Some(response) => Err(SessionRejection(Box::new(response))),
    }
}

/// Why [`Authenticated`] or [`Authorized`] found no session it could hand out, as the response
/// to send:
///
/// - `401` (the layer's own answer) for an anonymous request;
/// - `403 insufficient_scope` for a session that fails the requirement;
/// - `500` with a generic body when no `BearerLayer` of that session type is in front of the
///   route (the details went to `tracing`).
// Boxed: extractors return it in a `Result`, on the rejection path only.
pub struct SessionRejection(Box<http::Response<bytes::Bytes>>);

impl SessionRejection {
    /// The status it answers with.
    pub fn status(&self) -> http::StatusCode {
        self.0.status()
    }

    /// The response it answers with.
    pub fn into_inner(self) -> http::Response<bytes::Bytes> {
        *self.0
    }
}

impl fmt::Debug for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SessionRejection")
            .field(&self.0.status())
            .finish()
    }
}

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no session for this request: {}", self.0.status())
    }
}

impl std::error::Error for SessionRejection {}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        self.0.map(Body::from)
    }
}

/// The layer's own answer: status, challenge, empty body.
impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.into_http().map(Body::from)
    }
}
