//! `--metrics-addr`: tower-bearer's metrics in Prometheus' text format, at `/metrics` on an
//! address of its own (so the API's port never exposes them).

use std::net::SocketAddr;

/// Installs the Prometheus recorder and serves its scrape endpoint.
#[cfg(feature = "metrics")]
pub(crate) async fn serve(addr: SocketAddr) -> Result<(), String> {
    use axum::{routing::get, Router};
    use metrics_exporter_prometheus::PrometheusBuilder;

    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("--metrics-addr: {e}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("--metrics-addr {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let app = Router::new().route("/metrics", get(move || std::future::ready(handle.render())));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::warn!(%error, "the metrics endpoint stopped");
        }
    });
    println!("metrics on http://{bound}/metrics");
    Ok(())
}

#[cfg(not(feature = "metrics"))]
pub(crate) async fn serve(_: SocketAddr) -> Result<(), String> {
    Err("--metrics-addr needs the metrics feature: \
         cargo run --example server --features metrics -- --metrics-addr 127.0.0.1:9100"
        .into())
}
