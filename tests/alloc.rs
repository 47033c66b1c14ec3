//! Heap allocations on the hot paths, counted by allocation-counter's global allocator (per
//! thread, so parallel tests do not disturb each other).

use std::convert::Infallible;
use std::future::{ready, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderValue, Request, Response};
use tower::{service_fn, Layer, Service};
use tower_bearer::store::{CreateOptions, MemoryStore, Session};
use tower_bearer::BearerLayer;

/// How many heap allocations `f` makes (allocation-counter counts per thread).
fn allocations<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let mut out = None;
    let info = allocation_counter::measure(|| out = Some(f()));
    (info.count_total as usize, out.unwrap())
}

fn poll_once<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("expected a ready future"),
    }
}

#[test]
fn memory_store_resolve_allocates_nothing() {
    let store: MemoryStore = MemoryStore::new();
    for i in 0..1000 {
        store
            .create_now(&format!("user-{i}"), (), CreateOptions::default())
            .unwrap();
    }
    let issued = store
        .create_now("alice", (), CreateOptions::default())
        .unwrap();
    let token = issued.token.as_str().to_owned();
    let unknown = "A".repeat(43);
    let (hits, found) = allocations(|| store.resolve_now(&token));
    assert!(found.is_some());
    assert_eq!(hits, 0, "a resolve hit allocated");
    let (misses, found) = allocations(|| store.resolve_now(&unknown));
    assert!(found.is_none());
    assert_eq!(misses, 0, "a resolve miss allocated");
}

#[test]
fn the_hit_path_allocates_only_what_extensions_insert_does() {
    let store: MemoryStore = MemoryStore::new();
    let issued = store
        .create_now("alice", (), CreateOptions::default())
        .unwrap();
    let inner = service_fn(|req: Request<()>| {
        assert!(req.extensions().get::<Arc<Session>>().is_some());
        ready(Ok::<_, Infallible>(Response::new(())))
    });
    let mut service = BearerLayer::new(store).layer(inner);
    let make = || {
        let mut req = Request::new(());
        req.headers_mut().insert(
            AUTHORIZATION,
            HeaderValue::try_from(format!("Bearer {}", issued.token.as_str())).unwrap(),
        );
        req
    };

    // What inserting one session into a fresh request's extensions costs by itself.
    let mut bare = make();
    let (floor, _) = allocations(|| bare.extensions_mut().insert(issued.session.clone()));
    assert!(floor >= 1);

    // The first request registers the layer's metric handles (feature `metrics`): once.
    assert_eq!(poll_once(service.call(make())).unwrap().status(), 200);
    let req = make();
    let (used, response) = allocations(|| poll_once(service.call(req)).unwrap());
    assert_eq!(response.status(), 200);
    assert_eq!(used, floor, "the layer allocated beyond Extensions::insert");
}

#[test]
fn a_rejection_allocates_no_more_than_its_response() {
    let inner = service_fn(|_: Request<()>| ready(Ok::<_, Infallible>(Response::new(()))));
    let mut service = BearerLayer::new(MemoryStore::new()).layer(inner);

    // Building the same 401 by hand: a response and one header.
    let (by_hand, _) = allocations(|| {
        let mut r = Response::new(Bytes::new());
        r.headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        r
    });
    // The first request registers the layer's metric handles (feature `metrics`): once.
    assert_eq!(
        poll_once(service.call(Request::new(()))).unwrap().status(),
        401
    );
    let req = Request::new(());
    let (used, response) = allocations(|| poll_once(service.call(req)).unwrap());
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer");
    assert!(
        used <= by_hand,
        "rejection allocated {used}, by hand {by_hand}"
    );
}
