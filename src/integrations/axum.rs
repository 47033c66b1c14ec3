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
//! // A route behind `BearerLayer::new(store).optional()`.
//! async fn greet(session: Option<Authenticated<Arc<Session>>>) -> String {
//!     match session {
//!         Some(Authenticated(s)) => format!("hello {}", s.user_id),
//!         None => "hello stranger".to_string(),
//!     }
//! }
//! ```

use std::fmt;

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use super::Anonymous;
use crate::Rejection;

/// Extracts the session the layer resolved: `T` is the resolver's `Session` type.
///
/// Without [`BearerLayer`](crate::BearerLayer) in front of the route there is no session, and
/// the extractor answers `500` with [`MissingBearerLayer`]: a server misconfiguration, not the
/// client's fault. `Option<Authenticated<T>>` is `None` for anonymous requests that the layer
/// let through in optional mode.
#[derive(Clone, Debug)]
pub struct Authenticated<T>(pub T);

impl<S, T> FromRequestParts<S> for Authenticated<T>
where
    S: Send + Sync,
    T: Clone + Send + Sync + 'static,
{
    type Rejection = MissingBearerLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<T>()
            .cloned()
            .map(Authenticated)
            .ok_or(MissingBearerLayer {
                session_type: std::any::type_name::<T>(),
            })
    }
}

impl<S, T> OptionalFromRequestParts<S> for Authenticated<T>
where
    S: Send + Sync,
    T: Clone + Send + Sync + 'static,
{
    type Rejection = MissingBearerLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        match parts.extensions.get::<T>() {
            Some(session) => Ok(Some(Authenticated(session.clone()))),
            None if parts.extensions.get::<Anonymous>().is_some() => Ok(None),
            None => Err(MissingBearerLayer {
                session_type: std::any::type_name::<T>(),
            }),
        }
    }
}

/// The extractor found no session: `BearerLayer` is not in front of the route, or resolves a
/// different session type. Answers `500`.
#[derive(Clone, Debug)]
pub struct MissingBearerLayer {
    session_type: &'static str,
}

impl fmt::Display for MissingBearerLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no `{}` session in the request: is `tower_bearer::BearerLayer` applied to this route?",
            self.session_type
        )
    }
}

impl std::error::Error for MissingBearerLayer {}

impl IntoResponse for MissingBearerLayer {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

/// The layer's own answer: status, challenge, empty body.
impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.into_http().map(Body::from)
    }
}
