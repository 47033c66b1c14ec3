//! tonic with tower-bearer: the layer server-wide, the standard health service left open, and a
//! second health service that needs a token.
//!
//! ```text
//! cargo run --example tonic --features tonic
//! ```
//! It prints a token; call `grpc.health.v1.Health/Check` with `authorization: Bearer <token>`
//! on port 50052 (the guarded service) or without one on 50051.

use tonic::transport::Server;
use tonic_health::server::health_reporter;
use tower_bearer::store::{CreateOptions, MemoryStore};
use tower_bearer::BearerLayer;
use tower_layer::Layer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = MemoryStore::new();
    let issued = store.create_now("grpc-user", (), CreateOptions::default())?;
    println!("token for the guarded server: {}", issued.token.as_str());

    // Server-wide, with the health service exempt.
    let (_, open_health) = health_reporter();
    let open = Server::builder()
        .layer(BearerLayer::new(store.clone()).skip_path_prefix("/grpc.health.v1.Health/"))
        .add_service(open_health)
        .serve("127.0.0.1:50051".parse()?);

    // Per service: `Bearer` forwards the service's name, so `add_service` accepts it.
    let (_, guarded_health) = health_reporter();
    let guarded = Server::builder()
        .add_service(BearerLayer::new(store).layer(guarded_health))
        .serve("127.0.0.1:50052".parse()?);

    println!("listening on 127.0.0.1:50051 (open health) and 127.0.0.1:50052 (bearer)");
    tokio::try_join!(open, guarded)?;
    Ok(())
}
