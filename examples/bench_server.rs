//! The end-to-end benchmark's server: one hyper 1 server, the same inner service on two ports,
//! bare on one and behind `BearerLayer` (MemoryStore, 10k sessions) on the other. Driven by
//! `benches/e2e.sh`: it writes one session's token to TOKEN_FILE (mode 0600; tokens are never
//! printed) and then prints `ready`.
//!
//! ```text
//! cargo run --release --example bench_server -- 127.0.0.1:8081 127.0.0.1:8082 TOKEN_FILE
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tower::{service_fn, Layer};
use tower_bearer::store::{CreateOptions, MemoryStore};
use tower_bearer::BearerLayer;

async fn inner(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

async fn serve<S, B>(addr: SocketAddr, service: S)
where
    S: tower::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn write_secret(path: &str, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(secret.as_bytes())
}

// One core for the server; the load generator gets the other.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let plain: SocketAddr = args
        .next()
        .unwrap_or("127.0.0.1:8081".into())
        .parse()
        .expect("plain addr");
    let bearer: SocketAddr = args
        .next()
        .unwrap_or("127.0.0.1:8082".into())
        .parse()
        .expect("bearer addr");
    let store = MemoryStore::new();
    for i in 0..10_000 {
        store
            .create_now(&format!("user-{i}"), (), CreateOptions::default())
            .expect("rng");
    }
    let issued = store
        .create_now("bench", (), CreateOptions::default())
        .expect("rng");
    let token_file = args
        .next()
        .expect("usage: bench_server PLAIN BEARER TOKEN_FILE");
    write_secret(&token_file, issued.token.as_str()).expect("write the token file");
    let layered = BearerLayer::new(store).layer(service_fn(inner));
    tokio::spawn(serve(plain, service_fn(inner)));
    tokio::spawn(serve(bearer, layered));
    println!("ready");
    std::future::pending::<()>().await;
}
