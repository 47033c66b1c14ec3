//! tonic: per-service layering.
//!
//! Server-wide, the layer needs nothing extra: `Server::builder().layer(BearerLayer::new(r))`.
//! Per service, tonic's `add_service` wants the service's `NamedService` name, which [`Bearer`]
//! forwards from the service it wraps:
//!
//! ```no_run
//! # use tonic_health::server::health_reporter;
//! # use tower_bearer::{BearerLayer, store::MemoryStore};
//! # use tower_layer::Layer;
//! # async fn run() {
//! let (_, health) = health_reporter();
//! let layer = BearerLayer::new(MemoryStore::new());
//! tonic::transport::Server::builder()
//!     .add_service(layer.layer(health))
//!     .serve("127.0.0.1:50051".parse().unwrap())
//!     .await
//!     .unwrap();
//! # }
//! ```
//!
//! A rejected call gets the gRPC status that `tonic::Status::into_http` would build:
//! `Code::Unauthenticated`, `Code::PermissionDenied` or `Code::Unavailable`, with the message.
//! To leave the health service open, use
//! [`skip_path_prefix("/grpc.health.v1.Health/")`](crate::BearerLayer::skip_path_prefix).

use tonic::server::NamedService;

use crate::{Bearer, SessionResolver};

impl<S: NamedService, R: SessionResolver> NamedService for Bearer<S, R> {
    const NAME: &'static str = S::NAME;
}
