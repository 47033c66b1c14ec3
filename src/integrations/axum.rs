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

use crate::{Anonymous, Rejection};

/// Extracts the session the layer resolved: `T` is the resolver's `Session` type.
///
/// - With a session of type `T` in the request: `Authenticated(session)`.
/// - A request the layer let through without a session (an [optional](crate::BearerLayer::optional)
///   layer, an exempt path): `401` with the layer's challenge, in the layer's
///   [`on_rejection`](crate::BearerLayer::on_rejection) shape, or a gRPC status for a gRPC call:
///   what the layer itself would have answered. So "optional layer on the whole router, required
///   extractor per handler" works.
/// - No layer in front of the route, or a layer that resolves another session type: `500`, a
///   server misconfiguration. The details go to `tracing`; the body says nothing of them.
///
/// `Option<Authenticated<T>>` is `None` for anonymous requests instead.
#[derive(Clone, Debug)]
pub struct Authenticated<T>(pub T);

impl<S, T> FromRequestParts<S> for Authenticated<T>
where
    S: Send + Sync,
    T: Clone + Send + Sync + 'static,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(session) = parts.extensions.get::<T>() {
            return Ok(Authenticated(session.clone()));
        }
        Err(match parts.extensions.get::<Anonymous>() {
            Some(anonymous) => SessionRejection::Anonymous(anonymous.unauthorized(&parts.headers)),
            None => SessionRejection::missing::<T>(),
        })
    }
}

impl<S, T> OptionalFromRequestParts<S> for Authenticated<T>
where
    S: Send + Sync,
    T: Clone + Send + Sync + 'static,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        match parts.extensions.get::<T>() {
            Some(session) => Ok(Some(Authenticated(session.clone()))),
            None if parts.extensions.get::<Anonymous>().is_some() => Ok(None),
            None => Err(SessionRejection::missing::<T>()),
        }
    }
}

/// Why [`Authenticated`] found no session.
#[non_exhaustive]
pub enum SessionRejection {
    /// The layer let the request through anonymously; this is the layer's own answer to it
    /// (`401` with its challenge, or a gRPC status).
    Anonymous(http::Response<bytes::Bytes>),
    /// No `BearerLayer` in front of the route, or one that resolves a different session type.
    /// Answers `500` with a generic body.
    MissingLayer {
        /// The session type the extractor looked for.
        session_type: &'static str,
    },
}

impl SessionRejection {
    fn missing<T>() -> Self {
        SessionRejection::MissingLayer {
            session_type: std::any::type_name::<T>(),
        }
    }
}

impl fmt::Debug for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionRejection::Anonymous(response) => f
                .debug_tuple("Anonymous")
                .field(&response.status())
                .finish(),
            SessionRejection::MissingLayer { session_type } => f
                .debug_struct("MissingLayer")
                .field("session_type", session_type)
                .finish(),
        }
    }
}

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionRejection::Anonymous(response) => {
                write!(f, "no credentials: {}", response.status())
            }
            SessionRejection::MissingLayer { session_type } => write!(
                f,
                "no `{session_type}` session in the request: is `tower_bearer::BearerLayer` \
                 applied to this route, with a resolver of that session type?"
            ),
        }
    }
}

impl std::error::Error for SessionRejection {}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        match self {
            SessionRejection::Anonymous(response) => response.map(Body::from),
            missing @ SessionRejection::MissingLayer { .. } => {
                tracing::error!("{missing}");
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
            }
        }
    }
}

/// The layer's own answer: status, challenge, empty body.
impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.into_http().map(Body::from)
    }
}
