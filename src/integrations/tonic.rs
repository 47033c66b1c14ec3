//! tonic: per-service layering.
//!
//! Server-wide, the layer needs nothing extra: `Server::builder().layer(BearerLayer::new(r))`.
//! Per service, tonic's `add_service` wants the service's `NamedService` name, which [`Bearer`]
//! forwards from the service it wraps (peers/examples/tonic.rs does this; the snippet is not
//! compiled here, because tonic's transport and tonic-health are not the crate's
//! dev-dependencies):
//!
//! ```ignore
//! # use tonic_health::server::health_reporter;
//! # use tower_bearer::{Bearer, store::MemoryStore};
//! # async fn run() {
//! let (_, health) = health_reporter();
//! tonic::transport::Server::builder()
//!     .add_service(Bearer::new(health, MemoryStore::new()))
//!     .serve("127.0.0.1:50051".parse().unwrap())
//!     .await
//!     .unwrap();
//! # }
//! ```
//!
//! With settings, build the layer and wrap each service: `layer.build(svc)` (no `tower::Layer`
//! import needed).
//!
//! In a handler, the session is in the request's extensions:
//!
//! ```
//! # use std::sync::Arc;
//! # use tower_bearer::store::Session;
//! fn caller(request: &tonic::Request<()>) -> Result<Arc<Session>, tonic::Status> {
//!     request
//!         .extensions()
//!         .get::<Arc<Session>>()
//!         .cloned()
//!         .ok_or_else(|| tonic::Status::unauthenticated("no session"))
//! }
//! ```
//!
//! A rejected call gets the gRPC status that `tonic::Status::into_http` would build:
//! `Code::Unauthenticated`, `Code::PermissionDenied` or `Code::Unavailable`, with the message.
//! To leave the health service open, use
//! [`exempt_path_prefix("/grpc.health.v1.Health/")`](crate::BearerLayer::exempt_path_prefix).

use tonic::server::NamedService;

use crate::{Bearer, SessionResolver};

impl<S: NamedService, R: SessionResolver> NamedService for Bearer<S, R> {
    const NAME: &'static str = S::NAME;
}
