//! What keeps the server standing under hostile traffic: every body read (so keep-alive
//! connections survive an early answer), better-auth's rate limits, and the connection loop's
//! bounds (a header read timeout, a cap on open connections).

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::routes::ApiError;

/// The largest request body read, in bytes.
pub(crate) const MAX_BODY: usize = 16 * 1024;

/// Reads the whole request body before anything answers, so that no answer (a rejection
/// included) leaves unread bytes on a keep-alive connection, which would make hyper close it.
pub(crate) async fn read_body(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(_) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "body too large",
        )
        .into_response(),
    }
}

/// better-auth's rate limits: 100 requests per 10 s per client address and path, and 3 per
/// 10 s for sign-in and sign-up. A GCRA (governor's): the full burst at once, then one more
/// every 10 s / max.
pub(crate) struct RateLimits {
    general: DefaultKeyedRateLimiter<(IpAddr, String)>,
    sign_in: DefaultKeyedRateLimiter<(IpAddr, String)>,
}

impl RateLimits {
    pub(crate) fn better_auth() -> Self {
        let quota = |max: u32| {
            let max = NonZeroU32::new(max).expect("a positive limit");
            Quota::with_period(Duration::from_secs(10) / max.get())
                .expect("a positive period")
                .allow_burst(max)
        };
        RateLimits {
            general: RateLimiter::dashmap(quota(100)),
            sign_in: RateLimiter::dashmap(quota(3)),
        }
    }
}

/// Answers `429` in better-auth's shape, with `X-Retry-After` in seconds, past the limit.
pub(crate) async fn rate_limit(
    State(limits): State<Arc<RateLimits>>,
    req: Request,
    next: Next,
) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let path = req.uri().path();
    let limiter = if path.starts_with("/api/auth/sign-in") || path.starts_with("/api/auth/sign-up")
    {
        &limits.sign_in
    } else {
        &limits.general
    };
    if let Err(not_until) = limiter.check_key(&(ip, path.to_owned())) {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(limiter.clock()));
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let body = Json(json!({ "message": "Too many requests. Please try again later." }));
        let mut response = (StatusCode::TOO_MANY_REQUESTS, body).into_response();
        response
            .headers_mut()
            .insert("x-retry-after", HeaderValue::from(seconds.max(1)));
        return response;
    }
    next.run(req).await
}

/// Bounds of the connection loop.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnectionLimits {
    /// A client that has not sent a whole request head by then is disconnected.
    pub(crate) header_timeout: Duration,
    /// Connections open at once; further ones wait in the listen backlog.
    pub(crate) max_connections: usize,
}

/// Serves `app` over HTTP/1.1 on `listener`, forever.
pub(crate) async fn serve(listener: TcpListener, app: Router, limits: ConnectionLimits) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let Ok(permit) = open.clone().acquire_owned().await else {
            return;
        };
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, say: back off rather than spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = app
            .clone()
            .map_request(move |req: Request<hyper::body::Incoming>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo(remote));
                req
            });
        tokio::spawn(async move {
            let result = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .await;
            if let Err(error) = result {
                tracing::debug!(%error, %remote, "connection ended");
            }
            drop(permit);
        });
    }
}
