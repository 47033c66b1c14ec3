//! What keeps the server standing under hostile traffic: every body read (so keep-alive
//! connections survive an early answer), better-auth's rate limits, and the connection loop's
//! bounds (a header read timeout, a cap on open connections).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
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
///
/// hyper's header timeout ends once the head is in: a client that announces a body and never
/// sends it would hold its connection (and a place in the connection cap) forever. The body
/// must arrive within `timeout`; past it the answer is `408` with `Connection: close`, and
/// hyper closes the connection after sending it.
pub(crate) async fn read_body(
    State(timeout): State<Duration>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, MAX_BODY)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(_)) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "body too large",
        )
        .into_response(),
        Err(_) => {
            let mut response = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                "the request body did not arrive in time",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// better-auth's rate limits, with better-auth's own semantics (its `rate-limiter`): per client
/// address and route, at most `max` requests while less than `window` has passed since the last
/// allowed one; an allowed request after a quiet `window` starts the count again at one. So
/// exactly `max` pass in a burst (no GCRA-style second burst), then none until the window has
/// passed since the last of them. 100 per 10 s in general, 3 per 10 s for sign-in and sign-up.
///
/// Memory is bounded: keys are the route *pattern* (`MatchedPath`, one shared key for unmatched
/// paths), so a sweep of made-up paths costs one key per address; a key idle for a whole window
/// is dropped, since its count would start again anyway; and the table holds at most
/// [`MAX_KEYS`] keys. When that many addresses are active within one window, a new address is
/// refused (`429`) rather than let through untracked: the limit protects sign-in from password
/// guessing, and a flood of addresses must not switch it off.
pub(crate) struct RateLimits {
    general: Limiter,
    sign_in: Limiter,
}

/// The most keys one limiter tracks.
pub(crate) const MAX_KEYS: usize = 100_000;

type Key = (IpAddr, Box<str>);

pub(crate) struct Limiter {
    window: Duration,
    max: u32,
    cap: usize,
    state: Mutex<Table>,
}

struct Table {
    keys: HashMap<Key, Count>,
    swept: Option<Instant>,
}

struct Count {
    count: u32,
    last: Instant,
}

impl Limiter {
    pub(crate) fn new(window: Duration, max: u32, cap: usize) -> Self {
        Limiter {
            window,
            max,
            cap,
            state: Mutex::new(Table {
                keys: HashMap::new(),
                swept: None,
            }),
        }
    }

    /// `Ok` if the request may pass (and counts), else how long until it may.
    pub(crate) fn check(&self, key: Key, now: Instant) -> Result<(), Duration> {
        let mut table = self.state.lock().unwrap();
        if let Some(entry) = table.keys.get_mut(&key) {
            let since = now.saturating_duration_since(entry.last);
            if since < self.window && entry.count >= self.max {
                return Err(self.window - since);
            }
            entry.count = if since > self.window {
                1
            } else {
                entry.count + 1
            };
            entry.last = now;
            return Ok(());
        }
        if table.keys.len() >= self.cap {
            // At most one sweep per second: under a flood of new addresses each one would
            // otherwise cost a walk of the whole table.
            if table
                .swept
                .is_none_or(|at| now.saturating_duration_since(at) >= Duration::from_secs(1))
            {
                let window = self.window;
                table
                    .keys
                    .retain(|_, c| now.saturating_duration_since(c.last) <= window);
                table.swept = Some(now);
            }
            if table.keys.len() >= self.cap {
                return Err(self.window);
            }
        }
        table.keys.insert(
            key,
            Count {
                count: 1,
                last: now,
            },
        );
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.state.lock().unwrap().keys.len()
    }
}

impl RateLimits {
    pub(crate) fn better_auth() -> Self {
        let window = Duration::from_secs(10);
        RateLimits {
            general: Limiter::new(window, 100, MAX_KEYS),
            sign_in: Limiter::new(window, 3, MAX_KEYS),
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
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("(unmatched)", MatchedPath::as_str);
    let limiter =
        if route.starts_with("/api/auth/sign-in") || route.starts_with("/api/auth/sign-up") {
            &limits.sign_in
        } else {
            &limits.general
        };
    if let Err(wait) = limiter.check((ip, route.into()), Instant::now()) {
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
                .with_upgrades()
                .await;
            if let Err(error) = result {
                tracing::debug!(%error, %remote, "connection ended");
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: u8, path: &str) -> Key {
        (IpAddr::from([10, 0, 0, ip]), path.into())
    }

    /// better-auth's boundary: `max` pass, the next is refused until a whole window has passed
    /// since the last allowed request, then the count starts again.
    #[test]
    fn exactly_max_per_window_as_better_auth() {
        let limiter = Limiter::new(Duration::from_secs(10), 3, 100);
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(
                limiter.check(key(1, "/a"), t0 + Duration::from_secs(i)),
                Ok(())
            );
        }
        // The fourth, 1 s after the third: refused until 10 s after the third.
        let refused = limiter.check(key(1, "/a"), t0 + Duration::from_secs(3));
        assert_eq!(refused, Err(Duration::from_secs(9)));
        assert!(limiter
            .check(key(1, "/a"), t0 + Duration::from_millis(11_999))
            .is_err());
        // Another key has its own budget.
        assert_eq!(limiter.check(key(2, "/a"), t0), Ok(()));
        assert_eq!(limiter.check(key(1, "/b"), t0), Ok(()));
        // A whole window after the last allowed one: a fresh count of `max`.
        let later = t0 + Duration::from_millis(12_001);
        for i in 0..3 {
            assert_eq!(
                limiter.check(key(1, "/a"), later + Duration::from_millis(i)),
                Ok(()),
                "{i}"
            );
        }
        assert!(limiter
            .check(key(1, "/a"), later + Duration::from_millis(3))
            .is_err());
    }

    /// A sweep of a million distinct keys, spread over time, never holds more than the cap,
    /// and idle keys are dropped so that new clients keep getting in.
    #[test]
    fn a_sweep_of_keys_leaves_the_table_bounded() {
        let cap = 1_000;
        let limiter = Limiter::new(Duration::from_secs(10), 100, cap);
        let t0 = Instant::now();
        let mut refused = 0;
        for i in 0..1_000_000u32 {
            // 1,000 new keys per simulated second: the cap's worth per window is exceeded
            // tenfold, yet keys idle for a window are swept and newcomers get in.
            let now = t0 + Duration::from_millis(u64::from(i));
            let ip = IpAddr::from(i.to_be_bytes());
            if limiter.check((ip, format!("/p{i}").into()), now).is_err() {
                refused += 1;
            }
            assert!(limiter.len() <= cap);
        }
        // Each window brings ten times the cap: the excess is refused, and about the cap's worth
        // of each of the hundred windows is admitted.
        let admitted = 1_000_000 - refused;
        assert!(
            (90 * cap..=110 * cap).contains(&admitted),
            "{admitted} admitted"
        );
    }
}
