//! End to end, in instructions: a hyper 1 server on a loopback socket and a client in the same
//! process, one thread, sending `N` keep-alive requests over one connection (`CONNECTIONS=8` for
//! more), tokens rotating
//! over 64 live sessions. Run it under callgrind at two request counts; the difference divided
//! by the difference in requests is the cost of one request, client and server, with the fixed
//! start-up cancelled out. The same handler runs behind each variant:
//!
//! - `none`: no authentication;
//! - `bearer`: tower-bearer's `BearerLayer` over `MemoryStore` (10,000 sessions);
//! - `peer`: tower-http's `AsyncRequireAuthorizationLayer` over a `DashMap`, in its cheapest
//!   honest form (a struct whose future is `Ready`, no box, no `Arc` clone per request);
//! - `floor`: a hand-written service doing only the work that cannot be avoided: find the
//!   header, parse `Bearer`, one lookup in an immutable `HashMap`, one extensions insert.
//! - `floor_store`: the same hand-written service over what a session store needs at least: a
//!   concurrent map that sessions can be added to and revoked from (`DashMap`), better-auth's
//!   expiry and sliding-refresh checks against the clock tower-bearer reads (coarse real
//!   time), and an `Arc` clone of the session.
//!
//! ```text
//! cargo bench -p tower-bearer-peers --bench e2e_instructions --no-run
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/deps/e2e_instructions-* bearer 2000
//! ```
//!
//! `benches/e2e_instructions.sh` runs every variant at two counts and prints the table. Run
//! directly, without valgrind, it prints the variant's requests per second, as a smoke test.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{ready, Ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use dashmap::DashMap;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tower::{Layer, Service};
use tower_bearer::store::{CreateOptions, MemoryStore, Session};
use tower_bearer::BearerLayer;
use tower_http::auth::{AsyncAuthorizeRequest, AsyncRequireAuthorizationLayer};

const LIVE: usize = 64;

/// The handler: reads who is signed in (any of the variants' session types) and answers 200.
#[derive(Clone)]
struct Handler;

impl Service<Request<Incoming>> for Handler {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let e = req.extensions();
        let signed_in = e.get::<Arc<Session>>().is_some() || e.get::<User>().is_some();
        std::hint::black_box(signed_in);
        ready(Ok(Response::new(Full::new(Bytes::from_static(b"ok")))))
    }
}

/// The peer's and the floors' session (an `Arc` inside: a clone is a count increment).
#[derive(Clone)]
struct User(#[allow(dead_code)] Arc<str>);

/// The peer: tower-http's async authorization over a `DashMap`, with a ready future.
#[derive(Clone)]
struct Peer(Arc<DashMap<String, User>>);

impl<B> AsyncAuthorizeRequest<B> for Peer {
    type RequestBody = B;
    type ResponseBody = Full<Bytes>;
    type Future = Ready<Result<Request<B>, Response<Full<Bytes>>>>;
    fn authorize(&mut self, mut req: Request<B>) -> Self::Future {
        let user = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|token| self.0.get(token).map(|u| u.clone()));
        ready(match user {
            Some(user) => {
                req.extensions_mut().insert(user);
                Ok(req)
            }
            None => {
                let mut res = Response::new(Full::default());
                *res.status_mut() = StatusCode::UNAUTHORIZED;
                res.headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                Err(res)
            }
        })
    }
}

type FloorFuture<F> =
    futures_util::future::Either<F, Ready<Result<Response<Full<Bytes>>, Infallible>>>;

/// Both floors' answer: the user in the extensions and the inner service called, or a 401.
#[inline]
fn admit<S>(inner: &mut S, mut req: Request<Incoming>, user: Option<User>) -> FloorFuture<S::Future>
where
    S: Service<Request<Incoming>, Response = Response<Full<Bytes>>, Error = Infallible>,
{
    match user {
        Some(user) => {
            req.extensions_mut().insert(user);
            futures_util::future::Either::Left(inner.call(req))
        }
        None => {
            let mut res = Response::new(Full::default());
            *res.status_mut() = StatusCode::UNAUTHORIZED;
            futures_util::future::Either::Right(ready(Ok(res)))
        }
    }
}

/// The floor: the unavoidable work, written by hand.
#[derive(Clone)]
struct Floor<S> {
    inner: S,
    users: Arc<HashMap<Box<[u8]>, User>>,
}

impl<S> Service<Request<Incoming>> for Floor<S>
where
    S: Service<Request<Incoming>, Response = Response<Full<Bytes>>, Error = Infallible>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future =
        futures_util::future::Either<S::Future, Ready<Result<Self::Response, Infallible>>>;
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }
    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let user = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
            .and_then(|token| self.users.get(token).cloned());
        admit(&mut self.inner, req, user)
    }
}

/// A session as the least store would keep it: who, and when it expires and is due for refresh.
struct Entry {
    user: User,
    expires_ms: i64,
    refresh_from_ms: i64,
}

/// The floor's work over a store that can add, revoke and expire sessions.
#[derive(Clone)]
struct FloorStore<S> {
    inner: S,
    sessions: Arc<DashMap<Box<[u8]>, Entry>>,
}

fn now_ms() -> i64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
    ts.tv_sec * 1_000 + ts.tv_nsec / 1_000_000
}

/// Refreshing a session: never due in this run, and out of line as any store keeps it.
#[cold]
#[inline(never)]
fn refresh(entry: &Entry) {
    std::hint::black_box(entry);
}

impl<S> Service<Request<Incoming>> for FloorStore<S>
where
    S: Service<Request<Incoming>, Response = Response<Full<Bytes>>, Error = Infallible>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future =
        futures_util::future::Either<S::Future, Ready<Result<Self::Response, Infallible>>>;
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }
    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let user = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
            .and_then(|token| {
                let entry = self.sessions.get(token)?;
                let now = now_ms();
                if entry.expires_ms <= now {
                    return None;
                }
                if now >= entry.refresh_from_ms {
                    refresh(&entry);
                }
                Some(entry.user.clone())
            });
        admit(&mut self.inner, req, user)
    }
}

/// 10,000 sessions in a `MemoryStore`, and the same tokens in the peer's and the floor's maps;
/// the first `LIVE` tokens are the ones the client sends.
fn sessions() -> (MemoryStore, Vec<String>) {
    let store = MemoryStore::new();
    let tokens = (0..10_000)
        .map(|i| {
            store
                .create_now(&format!("user-{i}"), (), CreateOptions::default())
                .unwrap()
                .token
                .as_str()
                .to_owned()
        })
        .collect();
    (store, tokens)
}

async fn serve<S, B>(listener: tokio::net::TcpListener, service: S)
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible> + Clone + 'static,
    S::Future: 'static,
    B: http_body::Body<Data = Bytes> + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let service = TowerToHyperService::new(service.clone());
        tokio::task::spawn_local(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let variant = args.next().unwrap_or_else(|| "bearer".into());
    let requests: usize = args.next().map_or(2_000, |n| n.parse().expect("a count"));
    // One connection by default: with several, how the runtime batches their wake-ups varies
    // from run to run by a few hundred instructions a request, as large as what is measured.
    let connections: usize =
        std::env::var("CONNECTIONS").map_or(1, |n| n.parse().expect("a count"));

    let (store, tokens) = sessions();
    let users: HashMap<Box<[u8]>, User> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_bytes().into(), User(format!("user-{i}").into())))
        .collect();
    let peer: DashMap<String, User> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), User(format!("user-{i}").into())))
        .collect();
    let in_a_week = now_ms() + 7 * 86_400_000;
    let store_sessions: DashMap<Box<[u8]>, Entry> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let entry = Entry {
                user: User(format!("user-{i}").into()),
                expires_ms: in_a_week,
                refresh_from_ms: in_a_week - 6 * 86_400_000,
            };
            (t.as_bytes().into(), entry)
        })
        .collect();
    let headers: Vec<HeaderValue> = tokens[..LIVE]
        .iter()
        .map(|t| HeaderValue::from_str(&format!("Bearer {t}")).unwrap())
        .collect();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let started = std::time::Instant::now();
    local.block_on(&rt, async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        match variant.as_str() {
            "none" => drop(tokio::task::spawn_local(serve(listener, Handler))),
            "bearer" => {
                let service = BearerLayer::new(store).layer(Handler);
                drop(tokio::task::spawn_local(serve(listener, service)));
            }
            "peer" => {
                let layer = AsyncRequireAuthorizationLayer::new(Peer(Arc::new(peer)));
                drop(tokio::task::spawn_local(serve(
                    listener,
                    layer.layer(Handler),
                )));
            }
            "floor" => {
                let service = Floor {
                    inner: Handler,
                    users: Arc::new(users),
                };
                drop(tokio::task::spawn_local(serve(listener, service)));
            }
            "floor_store" => {
                let service = FloorStore {
                    inner: Handler,
                    sessions: Arc::new(store_sessions),
                };
                drop(tokio::task::spawn_local(serve(listener, service)));
            }
            other => panic!("unknown variant {other}: none, bearer, peer, floor or floor_store"),
        }
        let headers = Arc::new(headers);
        let clients: Vec<_> = (0..connections)
            .map(|c| {
                let headers = headers.clone();
                tokio::task::spawn_local(async move {
                    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                    let (mut sender, conn) =
                        hyper::client::conn::http1::handshake(TokioIo::new(stream))
                            .await
                            .unwrap();
                    tokio::task::spawn_local(conn);
                    for i in (c..requests).step_by(connections) {
                        let req = Request::post("/api/orders/42?expand=items")
                            .header("host", "127.0.0.1")
                            .header("content-type", "application/json")
                            .header(AUTHORIZATION, headers[i % LIVE].clone())
                            .body(Full::new(Bytes::from_static(br#"{"quantity":2}"#)))
                            .unwrap();
                        let res = sender.send_request(req).await.unwrap();
                        assert_eq!(res.status(), 200);
                        res.into_body().collect().await.unwrap();
                    }
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
    });
    let elapsed = started.elapsed();
    eprintln!(
        "{requests} requests in {elapsed:?} ({:.0} per second, start-up included)",
        requests as f64 / elapsed.as_secs_f64()
    );
}
