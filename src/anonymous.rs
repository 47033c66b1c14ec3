//! [`Anonymous`]: the mark of a request the layer let through without a session.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Response};

use crate::rejection::{Rejection, RejectionKind};

/// How a layer answers a refusal: its realm, its `on_rejection` shape, gRPC or HTTP.
pub(crate) trait Refuse: Send + Sync {
    fn refuse(&self, rejection: Rejection, headers: &HeaderMap) -> Response<Bytes>;

    /// Counts a route's refusal of a session this layer authenticated (`require(…)`'s `403`).
    fn route_refused(&self) {}
}

/// In the extensions of an authenticated request when its layer has a realm or an
/// `on_rejection` shape of its own, so that a later [`RequireSession`](crate::RequireSession)
/// refuses in that shape, and with the `metrics` feature, so that the route's refusal is
/// counted on the layer's metrics. Otherwise a layer inserts nothing: the default shape needs
/// no marker, and the hit path stays as it was.
#[derive(Clone)]
pub(crate) struct LayerShape(pub(crate) Arc<dyn Refuse>);

/// In the extensions of every request that [`BearerLayer`](crate::BearerLayer) let through
/// without a session: an optional layer's anonymous requests, exempt requests, and (when
/// allowed) CORS preflights.
///
/// It tells "anonymous" apart from "no layer in front of this route", and it carries the
/// layer's way of refusing, so that a handler or a later check that does need a session answers
/// exactly as the layer would have: `401` with the layer's challenge, in its
/// [`on_rejection`](crate::BearerLayer::on_rejection) shape, or a gRPC status for a gRPC call.
///
/// ```
/// use http::{HeaderMap, StatusCode};
/// use tower_bearer::{Anonymous, Rejection, RejectionKind};
///
/// fn require<T: Clone + Send + Sync + 'static>(
///     extensions: &http::Extensions,
///     headers: &HeaderMap,
/// ) -> Result<T, http::Response<bytes::Bytes>> {
///     if let Some(session) = extensions.get::<T>() {
///         return Ok(session.clone());
///     }
///     match extensions.get::<Anonymous>() {
///         Some(anonymous) => Err(anonymous.unauthorized(headers)),
///         None => Err(Rejection::new(RejectionKind::Unavailable).into_http()),
///     }
/// }
/// ```
#[derive(Clone)]
pub struct Anonymous {
    layer: Arc<dyn Refuse>,
}

impl Anonymous {
    pub(crate) fn new(layer: Arc<dyn Refuse>) -> Self {
        Anonymous { layer }
    }

    /// The layer's answer to `rejection` for a request with these headers.
    pub fn refuse(&self, rejection: Rejection, headers: &HeaderMap) -> Response<Bytes> {
        self.layer.refuse(rejection, headers)
    }

    /// The layer's answer to a request that brought no credentials where they are required:
    /// `401` with the challenge (or gRPC `UNAUTHENTICATED`).
    pub fn unauthorized(&self, headers: &HeaderMap) -> Response<Bytes> {
        self.refuse(Rejection::new(RejectionKind::MissingCredentials), headers)
    }
}

impl fmt::Debug for Anonymous {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Anonymous")
    }
}
