//! The conformance suite every [`SessionStore`] must pass, for stores in this crate and in
//! others (feature `test-util`). A store proves itself with one line in its tests:
//!
//! ```
//! use tower_bearer::store::{ManualClock, MemoryStore};
//!
//! tower_bearer::store_conformance!(|clock: ManualClock| async move {
//!     MemoryStore::builder().clock(clock).build::<()>()
//! });
//! # fn main() {}
//! ```
//!
//! The macro writes one `#[test]` per case, each on its own tokio runtime (I/O and time
//! enabled, so a store over the network works), with a fresh store from the factory, built on
//! a [`ManualClock`] so that expiry is tested without sleeping. The store must read its time
//! from that clock.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::store::{CreateOptions, Issued, ManualClock, Session, SessionStore, Timestamp};
use crate::{BearerLayer, BearerToken};

/// Makes a fresh store on the given clock: an async closure `|clock| async move { … }`.
pub trait Maker<S> {
    /// The store, once made.
    fn make(&self, clock: ManualClock) -> impl Future<Output = S>;
}

impl<S, F, Fut> Maker<S> for F
where
    F: Fn(ManualClock) -> Fut,
    Fut: Future<Output = S>,
{
    fn make(&self, clock: ManualClock) -> impl Future<Output = S> {
        self(clock)
    }
}

/// Writes one `#[test]` per case of the suite, against stores made by `$make`, an async
/// factory `|clock: ManualClock| async move { store }`.
#[macro_export]
macro_rules! store_conformance {
    ($make:expr) => {
        $crate::__conformance_cases!($make;
            create_then_resolve,
            unknown_token_is_none,
            token_never_resolves_to_another_user,
            list_is_active_sessions_only,
            revoke_by_id_is_owner_scoped,
            revoke_by_token,
            revoke_token_of_is_owner_scoped,
            revoke_all,
            revoke_others,
            expired_is_never_returned,
            sliding_refresh,
            short_lifetime_without_remember_me,
            len_counts_sessions,
            end_to_end_through_the_layer
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($make:expr; $($name:ident),*) => {
        mod conformance {
            use super::*;
            $(
                #[test]
                fn $name() {
                    $crate::store::conformance::run($crate::store::conformance::$name($make));
                }
            )*
        }
    };
}

/// Runs one case on a fresh tokio runtime with I/O and time enabled.
pub fn run<F: Future>(case: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(case)
}

/// The time every case starts at.
pub const START: Timestamp = Timestamp::from_millis(1_700_000_000_000);
/// One day.
pub const DAY: Duration = Duration::from_secs(86_400);

async fn resolve<S: SessionStore<()>>(store: &S, token: &str) -> Option<Arc<Session>> {
    store
        .resolve(BearerToken::new(token))
        .await
        .unwrap_or_else(|e| panic!("resolve failed: {e}"))
}

async fn issue<S: SessionStore<()>>(store: &S, user: &str) -> Issued {
    store
        .create(user, (), CreateOptions::default())
        .await
        .unwrap()
}

/// The ids of the user's listed sessions, in the store's order.
async fn listed_ids<S: SessionStore<()>>(store: &S, user: &str) -> Vec<uuid::Uuid> {
    store
        .list(user)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect()
}

async fn setup<S>(make: impl Maker<S>) -> (S, ManualClock) {
    let clock = ManualClock::new(START);
    (make.make(clock.clone()).await, clock)
}

/// The suite's `create_then_resolve` case.
pub async fn create_then_resolve<S: SessionStore<()>>(make: impl Maker<S>) {
    let (store, _) = setup(make).await;
    let issued = issue(&store, "alice").await;
    let s = resolve(&store, issued.token.as_str())
        .await
        .expect("resolves");
    assert_eq!(s.id, issued.session.id);
    assert_eq!(&*s.user_id, "alice");
    assert_eq!(s.created_at, START);
    assert_eq!(s.expires_at(), (START + 7 * DAY));
}

/// The suite's `unknown_token_is_none` case.
pub async fn unknown_token_is_none<S: SessionStore<()>>(make: impl Maker<S>) {
    let (store, _) = setup(make).await;
    let issued = issue(&store, "alice").await;
    assert!(resolve(&store, "not-a-token").await.is_none());
    // One character off.
    let mut near = issued.token.as_str().to_string();
    let last = near.pop().unwrap();
    near.push(if last == 'A' { 'B' } else { 'A' });
    assert!(resolve(&store, &near).await.is_none());
}

/// The suite's `token_never_resolves_to_another_user` case.
pub async fn token_never_resolves_to_another_user<S: SessionStore<()>>(make: impl Maker<S>) {
    let (store, _) = setup(make).await;
    let a = issue(&store, "alice").await;
    let b = issue(&store, "bob").await;
    assert_eq!(
        &*resolve(&store, a.token.as_str()).await.unwrap().user_id,
        "alice"
    );
    assert_eq!(
        &*resolve(&store, b.token.as_str()).await.unwrap().user_id,
        "bob"
    );
}

/// The suite's `list_is_active_sessions_only` case.
pub async fn list_is_active_sessions_only<S: SessionStore<()>>(make: impl Maker<S>) {
    let (store, clock) = setup(make).await;
    let short = store
        .create("alice", (), CreateOptions::default().remember_me(false))
        .await
        .unwrap();
    let long = issue(&store, "alice").await;
    issue(&store, "bob").await;
    let mut ids = listed_ids(&store, "alice").await;
    ids.sort();
    let mut want = vec![short.session.id, long.session.id];
    want.sort();
    assert_eq!(ids, want);
    clock.advance(DAY);
    let ids = listed_ids(&store, "alice").await;
    assert_eq!(ids, [long.session.id]);
    assert!(store.list("nobody").await.unwrap().is_empty());
}

/// The suite's `revoke_by_id_is_owner_scoped` case.
pub async fn revoke_by_id_is_owner_scoped<S: SessionStore<()>>(make: impl Maker<S>) {
    let (store, _) = setup(make).await;
    let a = issue(&store, "alice").await;
    assert!(!store.revoke("bob", a.session.id).await.unwrap());
    assert!(resolve(&store, a.token.as_str()).await.is_some());
    assert!(store.revoke("alice", a.session.id).await.unwrap());
    assert!(resolve(&store, a.token.as_str()).await.is_none());
    assert!(store.list("alice").await.unwrap().is_empty());
    assert!(!store.revoke("alice", a.session.id).await.unwrap());
}

/// The suite's `revoke_by_token` case.
pub async fn revoke_by_token<S: SessionStore<()>>(make: impl Maker<S>) {
    let (store, _) = setup(make).await;
    let a = issue(&store, "alice").await;
    let b = issue(&store, "alice").await;
    assert!(store.revoke_token(a.token.as_bearer()).await.unwrap());
    assert!(!store.revoke_token(a.token.as_bearer()).await.unwrap());
    assert!(resolve(&store, a.token.as_str()).await.is_none());
    assert!(resolve(&store, b.token.as_str()).await.is_some());
    let listed = listed_ids(&store, "alice").await;
    assert_eq!(listed, [b.session.id]);
}

/// The suite's `revoke_token_of_is_owner_scoped` case.
pub async fn revoke_token_of_is_owner_scoped<S: SessionStore<()>>(make: impl Maker<S>) {
    let (store, _) = setup(make).await;
    let a = issue(&store, "alice").await;
    assert!(!store
        .revoke_token_of("bob", a.token.as_bearer())
        .await
        .unwrap());
    assert!(resolve(&store, a.token.as_str()).await.is_some());
    assert!(store
        .revoke_token_of("alice", a.token.as_bearer())
        .await
        .unwrap());
    assert!(resolve(&store, a.token.as_str()).await.is_none());
    assert!(!store
        .revoke_token_of("alice", a.token.as_bearer())
        .await
        .unwrap());
    assert!(!store
        .revoke_token_of("alice", BearerToken::new("unknown"))
        .await
        .unwrap());
}

/// The suite's `revoke_all` case.
pub async fn revoke_all<S: SessionStore<()>>(make: impl Maker<S>) {
    let (store, _) = setup(make).await;
    let a = issue(&store, "alice").await;
    let b = issue(&store, "alice").await;
    let bob = issue(&store, "bob").await;
    assert_eq!(store.revoke_all("alice").await.unwrap(), 2);
    assert!(resolve(&store, a.token.as_str()).await.is_none());
    assert!(resolve(&store, b.token.as_str()).await.is_none());
    assert!(resolve(&store, bob.token.as_str()).await.is_some());
    assert!(store.list("alice").await.unwrap().is_empty());
}

/// The suite's `revoke_others` case.
pub async fn revoke_others<S: SessionStore<()>>(make: impl Maker<S>) {
    let (store, _) = setup(make).await;
    let a = issue(&store, "alice").await;
    let b = issue(&store, "alice").await;
    let c = issue(&store, "alice").await;
    assert_eq!(store.revoke_others("alice", b.session.id).await.unwrap(), 2);
    assert!(resolve(&store, a.token.as_str()).await.is_none());
    assert!(resolve(&store, b.token.as_str()).await.is_some());
    assert!(resolve(&store, c.token.as_str()).await.is_none());
}

/// The suite's `expired_is_never_returned` case.
pub async fn expired_is_never_returned<S: SessionStore<()>>(make: impl Maker<S>) {
    let (store, clock) = setup(make).await;
    let a = issue(&store, "alice").await;
    clock.advance(7 * DAY);
    assert!(resolve(&store, a.token.as_str()).await.is_none());
    assert!(store.list("alice").await.unwrap().is_empty());
    // Met once, it is deleted: moving the clock back does not bring it back.
    clock.set(START);
    assert!(resolve(&store, a.token.as_str()).await.is_none());
}

/// The suite's `sliding_refresh` case.
pub async fn sliding_refresh<S: SessionStore<()>>(make: impl Maker<S>) {
    let (store, clock) = setup(make).await;
    let a = issue(&store, "alice").await;
    clock.advance(DAY / 2);
    let s = resolve(&store, a.token.as_str()).await.unwrap();
    assert_eq!(s.expires_at(), (START + 7 * DAY));
    clock.advance(DAY);
    let now = START + DAY + DAY / 2;
    let s = resolve(&store, a.token.as_str()).await.unwrap();
    assert_eq!(s.expires_at(), (now + 7 * DAY));
    assert_eq!(s.updated_at(), now);
    // Past the original expiry, the refreshed session still resolves with the same token.
    clock.advance(6 * DAY);
    assert!(resolve(&store, a.token.as_str()).await.is_some());
}

/// The suite's `short_lifetime_without_remember_me` case.
pub async fn short_lifetime_without_remember_me<S: SessionStore<()>>(make: impl Maker<S>) {
    let (store, clock) = setup(make).await;
    let options = CreateOptions::default().remember_me(false);
    let a = store.create("alice", (), options).await.unwrap();
    assert_eq!(a.session.expires_at(), (START + DAY));
    clock.advance(DAY - Duration::from_millis(1));
    assert!(resolve(&store, a.token.as_str()).await.is_some());
    clock.advance(Duration::from_millis(1));
    assert!(resolve(&store, a.token.as_str()).await.is_none());
}

/// The suite's `len_counts_sessions` case.
pub async fn len_counts_sessions<S: SessionStore<()>>(make: impl Maker<S>) {
    let (store, _) = setup(make).await;
    assert_eq!(store.len().await.unwrap(), 0);
    let a = issue(&store, "alice").await;
    issue(&store, "bob").await;
    assert_eq!(store.len().await.unwrap(), 2);
    store.revoke_token(a.token.as_bearer()).await.unwrap();
    assert_eq!(store.len().await.unwrap(), 1);
}

/// The suite's `end_to_end_through_the_layer` case: the store behind `BearerLayer` on a real
/// socket, before and after a revocation.
pub async fn end_to_end_through_the_layer<S>(make: impl Maker<S>)
where
    S: SessionStore<()> + Send + Sync + 'static,
    S::Future: Send,
{
    let (store, _) = setup(make).await;
    let store = Arc::new(store);
    let issued = issue(&*store, "alice").await;
    let addr = http::serve(BearerLayer::from_shared(store.clone())).await;
    let auth = format!("Bearer {}", issued.token.as_str());

    let (status, _, body) = http::get(addr, &auth).await;
    assert_eq!((status, body.as_str()), (200, "alice"));

    store.revoke_token(issued.token.as_bearer()).await.unwrap();
    let (status, challenge, _) = http::get(addr, &auth).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("invalid_token"), "{challenge}");
}

/// A server with the layer in front of a service that answers the session's user id, and a
/// one-request client.
mod http {
    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::sync::Arc;

    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::body::Incoming;
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use crate::store::{Session, SessionStore};
    use crate::BearerLayer;

    #[derive(Clone, Copy)]
    struct WhoAmI;

    impl tower_service::Service<::http::Request<Incoming>> for WhoAmI {
        type Response = ::http::Response<Full<Bytes>>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Infallible>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: ::http::Request<Incoming>) -> Self::Future {
            let user = req
                .extensions()
                .get::<Arc<Session>>()
                .map_or(String::new(), |s| s.user_id.to_string());
            std::future::ready(Ok(::http::Response::new(Full::new(Bytes::from(user)))))
        }
    }

    pub(super) async fn serve<S>(layer: BearerLayer<S>) -> SocketAddr
    where
        S: SessionStore<()> + Send + Sync + 'static,
        S::Future: Send,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let service = TowerToHyperService::new(layer.build(WhoAmI));
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        addr
    }

    /// `GET /` with this `Authorization`: the status, the challenge and the body.
    pub(super) async fn get(addr: SocketAddr, authorization: &str) -> (u16, String, String) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET / HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\nauthorization: {authorization}\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let raw = String::from_utf8(raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let status = head[9..12].parse().unwrap();
        let challenge = head
            .lines()
            .find_map(|l| l.strip_prefix("www-authenticate: "))
            .unwrap_or_default()
            .to_string();
        // The body is short and not chunked when the service answers with a full body.
        (status, challenge, body.to_string())
    }
}
