//! The conformance suite every [`SessionStore`] runs: one line per store, through
//! [`store_conformance!`](crate::store_conformance).
//!
//! Each case gets a fresh store built on a [`ManualClock`], so expiry is tested without
//! sleeping.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use tower::{service_fn, ServiceBuilder};
use tower_bearer::store::{CreateOptions, ManualClock, Session, SessionStore, Timestamp};
use tower_bearer::{BearerLayer, BearerToken};

pub const START: Timestamp = Timestamp::from_millis(1_700_000_000_000);
pub const DAY: Duration = Duration::from_secs(86_400);

/// Runs the whole suite against stores made by `$make`, a `Fn(ManualClock) -> Store`.
#[macro_export]
macro_rules! store_conformance {
    ($make:expr) => {
        $crate::conformance_cases!($make;
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

/// One `#[tokio::test]` per suite function.
#[macro_export]
macro_rules! conformance_cases {
    ($make:expr; $($name:ident),*) => {
        mod conformance {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    $crate::support::conformance::$name($make).await;
                }
            )*
        }
    };
}

async fn resolve<S: SessionStore<()>>(store: &S, token: &str) -> Option<Arc<Session>> {
    store
        .resolve(BearerToken::new(token))
        .await
        .unwrap_or_else(|e| panic!("resolve failed: {e}"))
}

async fn issue<S: SessionStore<()>>(store: &S, user: &str) -> tower_bearer::store::Issued {
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

fn setup<S>(make: impl Fn(ManualClock) -> S) -> (S, ManualClock) {
    let clock = ManualClock::new(START);
    (make(clock.clone()), clock)
}

pub async fn create_then_resolve<S: SessionStore<()>>(make: impl Fn(ManualClock) -> S) {
    let (store, _) = setup(make);
    let issued = issue(&store, "alice").await;
    let s = resolve(&store, issued.token.as_str())
        .await
        .expect("resolves");
    assert_eq!(s.id, issued.session.id);
    assert_eq!(&*s.user_id, "alice");
    assert_eq!(s.created_at, START);
    assert_eq!(s.expires_at(), (START + 7 * DAY));
}

pub async fn unknown_token_is_none<S: SessionStore<()>>(make: impl Fn(ManualClock) -> S) {
    let (store, _) = setup(make);
    let issued = issue(&store, "alice").await;
    assert!(resolve(&store, "not-a-token").await.is_none());
    // One character off.
    let mut near = issued.token.as_str().to_string();
    let last = near.pop().unwrap();
    near.push(if last == 'A' { 'B' } else { 'A' });
    assert!(resolve(&store, &near).await.is_none());
}

pub async fn token_never_resolves_to_another_user<S: SessionStore<()>>(
    make: impl Fn(ManualClock) -> S,
) {
    let (store, _) = setup(make);
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

pub async fn list_is_active_sessions_only<S: SessionStore<()>>(make: impl Fn(ManualClock) -> S) {
    let (store, clock) = setup(make);
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

pub async fn revoke_by_id_is_owner_scoped<S: SessionStore<()>>(make: impl Fn(ManualClock) -> S) {
    let (store, _) = setup(make);
    let a = issue(&store, "alice").await;
    assert!(!store.revoke("bob", a.session.id).await.unwrap());
    assert!(resolve(&store, a.token.as_str()).await.is_some());
    assert!(store.revoke("alice", a.session.id).await.unwrap());
    assert!(resolve(&store, a.token.as_str()).await.is_none());
    assert!(store.list("alice").await.unwrap().is_empty());
    assert!(!store.revoke("alice", a.session.id).await.unwrap());
}

pub async fn revoke_by_token<S: SessionStore<()>>(make: impl Fn(ManualClock) -> S) {
    let (store, _) = setup(make);
    let a = issue(&store, "alice").await;
    let b = issue(&store, "alice").await;
    assert!(store.revoke_token(a.token.as_bearer()).await.unwrap());
    assert!(!store.revoke_token(a.token.as_bearer()).await.unwrap());
    assert!(resolve(&store, a.token.as_str()).await.is_none());
    assert!(resolve(&store, b.token.as_str()).await.is_some());
    let listed = listed_ids(&store, "alice").await;
    assert_eq!(listed, [b.session.id]);
}

pub async fn revoke_token_of_is_owner_scoped<S: SessionStore<()>>(make: impl Fn(ManualClock) -> S) {
    let (store, _) = setup(make);
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

pub async fn revoke_all<S: SessionStore<()>>(make: impl Fn(ManualClock) -> S) {
    let (store, _) = setup(make);
    let a = issue(&store, "alice").await;
    let b = issue(&store, "alice").await;
    let bob = issue(&store, "bob").await;
    assert_eq!(store.revoke_all("alice").await.unwrap(), 2);
    assert!(resolve(&store, a.token.as_str()).await.is_none());
    assert!(resolve(&store, b.token.as_str()).await.is_none());
    assert!(resolve(&store, bob.token.as_str()).await.is_some());
    assert!(store.list("alice").await.unwrap().is_empty());
}

pub async fn revoke_others<S: SessionStore<()>>(make: impl Fn(ManualClock) -> S) {
    let (store, _) = setup(make);
    let a = issue(&store, "alice").await;
    let b = issue(&store, "alice").await;
    let c = issue(&store, "alice").await;
    assert_eq!(store.revoke_others("alice", b.session.id).await.unwrap(), 2);
    assert!(resolve(&store, a.token.as_str()).await.is_none());
    assert!(resolve(&store, b.token.as_str()).await.is_some());
    assert!(resolve(&store, c.token.as_str()).await.is_none());
}

pub async fn expired_is_never_returned<S: SessionStore<()>>(make: impl Fn(ManualClock) -> S) {
    let (store, clock) = setup(make);
    let a = issue(&store, "alice").await;
    clock.advance(7 * DAY);
    assert!(resolve(&store, a.token.as_str()).await.is_none());
    assert!(store.list("alice").await.unwrap().is_empty());
    // Met once, it is deleted: moving the clock back does not bring it back.
    clock.set(START);
    assert!(resolve(&store, a.token.as_str()).await.is_none());
}

pub async fn sliding_refresh<S: SessionStore<()>>(make: impl Fn(ManualClock) -> S) {
    let (store, clock) = setup(make);
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

pub async fn short_lifetime_without_remember_me<S: SessionStore<()>>(
    make: impl Fn(ManualClock) -> S,
) {
    let (store, clock) = setup(make);
    let options = CreateOptions::default().remember_me(false);
    let a = store.create("alice", (), options).await.unwrap();
    assert_eq!(a.session.expires_at(), (START + DAY));
    clock.advance(DAY - Duration::from_millis(1));
    assert!(resolve(&store, a.token.as_str()).await.is_some());
    clock.advance(Duration::from_millis(1));
    assert!(resolve(&store, a.token.as_str()).await.is_none());
}

pub async fn len_counts_sessions<S: SessionStore<()>>(make: impl Fn(ManualClock) -> S) {
    let (store, _) = setup(make);
    assert_eq!(store.len().await.unwrap(), 0);
    let a = issue(&store, "alice").await;
    issue(&store, "bob").await;
    assert_eq!(store.len().await.unwrap(), 2);
    store.revoke_token(a.token.as_bearer()).await.unwrap();
    assert_eq!(store.len().await.unwrap(), 1);
}

pub async fn end_to_end_through_the_layer<S>(make: impl Fn(ManualClock) -> S)
where
    S: SessionStore<()> + Send + Sync + 'static,
    S::Future: Send,
{
    let (store, _) = setup(make);
    let store = Arc::new(store);
    let issued = issue(&*store, "alice").await;
    let service = ServiceBuilder::new()
        .layer(BearerLayer::from_shared(store.clone()))
        .service(service_fn(|req: Request<Incoming>| async move {
            let session = req
                .extensions()
                .get::<Arc<Session>>()
                .expect("session inserted");
            Ok::<_, Infallible>(Response::new(http_body_util::Full::new(
                bytes::Bytes::from(session.user_id.to_string()),
            )))
        }));
    let addr = super::serve(service).await;
    let auth = format!("authorization: Bearer {}", issued.token.as_str());
    let ok = super::get(addr, "/", &[auth.as_bytes()]).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body_str(), "alice");

    store.revoke_token(issued.token.as_bearer()).await.unwrap();
    let revoked = super::get(addr, "/", &[auth.as_bytes()]).await;
    assert_eq!(revoked.status, 401);
    assert!(revoked
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));
}
