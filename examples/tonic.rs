//! tonic with tower-bearer: the layer server-wide with the standard health service left open,
//! and per service on a second server, then a client that calls both, with and without a token.
//!
//! ```text
//! cargo run --example tonic --features tonic
//! ```

use std::net::SocketAddr;

use tonic::transport::{Channel, Server};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::server::health_reporter;
use tower_bearer::store::{CreateOptions, MemoryStore};
use tower_bearer::{Bearer, BearerLayer};

async fn check(addr: SocketAddr, token: Option<&str>) -> String {
    let channel = match Channel::from_shared(format!("http://{addr}")) {
        Ok(endpoint) => endpoint.connect().await,
        Err(e) => return format!("bad address: {e}"),
    };
    let Ok(channel) = channel else {
        return "cannot connect".into();
    };
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    if let Some(token) = token {
        if let Ok(value) = format!("Bearer {token}").parse() {
            request.metadata_mut().insert("authorization", value);
        }
    }
    match HealthClient::new(channel).check(request).await {
        Ok(response) => format!("status {:?}", response.into_inner().status()),
        Err(status) => format!("{:?}: {}", status.code(), status.message()),
    }
}

#[tokio::main]
async fn main() -> Result<(), tower_bearer::BoxError> {
    // A 503's cause (a failing backend) is logged at WARN: without a subscriber it is lost.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let store = MemoryStore::new();
    let open_addr: SocketAddr = "127.0.0.1:50051".parse()?;
    let guarded_addr: SocketAddr = "127.0.0.1:50052".parse()?;

    // Server-wide, with the health service exempt.
    let (_, open_health) = health_reporter();
    let open = Server::builder()
        .layer(BearerLayer::new(store.clone()).exempt_path_prefix("/grpc.health.v1.Health/"))
        .add_service(open_health)
        .serve(open_addr);
    tokio::spawn(open);

    // Per service: `Bearer` forwards the service's name, so `add_service` accepts it.
    let (_, guarded_health) = health_reporter();
    let guarded = Server::builder()
        .add_service(Bearer::new(guarded_health, store.clone()))
        .serve(guarded_addr);
    tokio::spawn(guarded);
    println!("listening on {open_addr} (health open) and {guarded_addr} (bearer required)");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let issued = store.create_now("grpc-user", (), CreateOptions::default())?;
    println!(
        "open server, no token:     {}",
        check(open_addr, None).await
    );
    println!(
        "guarded server, no token:  {}",
        check(guarded_addr, None).await
    );
    println!(
        "guarded server, bad token: {}",
        check(guarded_addr, Some("not-a-session")).await
    );
    println!(
        "guarded server, token:     {}",
        check(guarded_addr, Some(issued.token.as_str())).await
    );
    println!("serving until Ctrl-C");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
