//! tonic with tower-bearer: the layer server-wide with the standard health service left open,
//! and per service on a second server, then a client that calls both, with and without a token.
//!
//! ```text
//! cargo run -p tower-bearer-peers --example tonic --features tonic
//! cargo run -p tower-bearer-peers --example tonic --features tonic -- --addr 127.0.0.1:50051 \
//!     --guarded-addr 127.0.0.1:50052 --token-file /tmp/grpc-token
//! grpcurl -plaintext -H "authorization: Bearer $(cat /tmp/grpc-token)" \
//!     127.0.0.1:50052 grpc.health.v1.Health/Check
//! ```
//!
//! `--token-file` writes the demo session's token to that file (mode 0600) for other clients;
//! the token is never printed.

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio_stream::wrappers::TcpListenerStream;
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

/// The command line: where each server listens, and where the demo token goes.
struct Args {
    open: SocketAddr,
    guarded: SocketAddr,
    token_file: Option<PathBuf>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        open: SocketAddr::from(([127, 0, 0, 1], 50051)),
        guarded: SocketAddr::from(([127, 0, 0, 1], 50052)),
        token_file: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => parsed.open = value()?.parse().map_err(|e| format!("--addr: {e}"))?,
            "--guarded-addr" => {
                parsed.guarded = value()?
                    .parse()
                    .map_err(|e| format!("--guarded-addr: {e}"))?
            }
            "--token-file" => parsed.token_file = Some(value()?.into()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(parsed)
}

/// Writes `secret` to a file only its owner may read.
fn write_secret(path: &std::path::Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(secret.as_bytes())
}

#[tokio::main]
async fn main() -> Result<(), tower_bearer::BoxError> {
    // A 503's cause (a failing backend) is logged at WARN: without a subscriber it is lost.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = parse(std::env::args().skip(1)).unwrap_or_else(|e| {
        eprintln!(
            "{e}\nusage: tonic [--addr HOST:PORT] [--guarded-addr HOST:PORT] [--token-file PATH]"
        );
        std::process::exit(2)
    });
    let store = MemoryStore::new();
    let open_listener = tokio::net::TcpListener::bind(args.open).await?;
    let guarded_listener = tokio::net::TcpListener::bind(args.guarded).await?;
    let open_addr = open_listener.local_addr()?;
    let guarded_addr = guarded_listener.local_addr()?;

    // Server-wide, with the health service exempt.
    let (_, open_health) = health_reporter();
    let open = Server::builder()
        .layer(BearerLayer::new(store.clone()).exempt_path_prefix("/grpc.health.v1.Health/"))
        .add_service(open_health)
        .serve_with_incoming(TcpListenerStream::new(open_listener));
    tokio::spawn(open);

    // Per service: `Bearer` forwards the service's name, so `add_service` accepts it.
    let (_, guarded_health) = health_reporter();
    let guarded = Server::builder()
        .add_service(Bearer::new(guarded_health, store.clone()))
        .serve_with_incoming(TcpListenerStream::new(guarded_listener));
    tokio::spawn(guarded);

    let issued = store.create_now("grpc-user", (), CreateOptions::default())?;
    if let Some(path) = &args.token_file {
        write_secret(path, issued.token.as_str())?;
    }
    println!(
        "listening on http://{open_addr} (health open) and http://{guarded_addr} (bearer required)"
    );
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
