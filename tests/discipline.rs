//! Tower discipline: the readied inner service moves into the future, rejections release
//! what readiness reserved, dropping a future mid-resolution releases everything, and errors
//! stay the inner service's.

mod support;

use std::convert::Infallible;
use std::future::{pending, ready, Future, Pending, Ready};
use std::sync::Arc;

use http::header::AUTHORIZATION;
use http::{Request, Response, StatusCode};
use tokio_test::{assert_pending, assert_ready, assert_ready_ok, task};
use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
use tower_bearer::{BearerLayer, BearerToken, SessionResolver};
use tower_test::mock;

#[derive(Clone, Debug, PartialEq)]
struct User(&'static str);

/// `good` resolves at once; `hang` never resolves; anything else is unknown.
#[derive(Clone)]
struct Resolver;

enum Answer {
    Now(Ready<Result<Option<User>, Infallible>>),
    Never(Pending<Result<Option<User>, Infallible>>),
}

impl Future for Answer {
    type Output = Result<Option<User>, Infallible>;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match self.get_mut() {
            Answer::Now(f) => std::pin::Pin::new(f).poll(cx),
            Answer::Never(f) => std::pin::Pin::new(f).poll(cx),
        }
    }
}

impl SessionResolver for Resolver {
    type Session = User;
    type Error = Infallible;
    type Future = Answer;
    fn resolve(&self, token: BearerToken<'_>) -> Answer {
        match token.as_str() {
            "good" => Answer::Now(ready(Ok(Some(User("alice"))))),
            "hang" => Answer::Never(pending()),
            _ => Answer::Now(ready(Ok(None))),
        }
    }
}

fn req(token: Option<&str>) -> Request<()> {
    let mut b = Request::builder();
    if let Some(t) = token {
        b = b.header(AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(()).unwrap()
}

#[tokio::test]
async fn the_readied_service_is_the_one_called() {
    // tower-test's mock panics if a clone that was not polled ready is called: its clones start
    // not ready.
    let (service, mut handle) = mock::pair::<Request<()>, Response<&'static str>>();
    let mut service = BearerLayer::new(Resolver).layer_service(service);
    handle.allow(1);
    assert_ready_ok!(task::spawn(()).enter(|cx, _| service.poll_ready(cx)));
    let mut response = task::spawn(service.call(req(Some("good"))));
    assert_pending!(response.poll());
    let (request, send) = handle.next_request().await.unwrap();
    assert_eq!(request.extensions().get::<User>(), Some(&User("alice")));
    send.send_response(Response::new("ok"));
    let response = assert_ready_ok!(response.poll());
    assert_eq!(response.status(), StatusCode::OK);
}

/// Answers from memory: `resolve_ready` always has the answer, and `resolve` counts the times
/// the layer fell back to it.
#[derive(Default)]
struct AtHand {
    futures: std::sync::atomic::AtomicUsize,
}

impl SessionResolver for AtHand {
    type Session = User;
    type Error = Infallible;
    type Future = Ready<Result<Option<User>, Infallible>>;
    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        self.futures
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        ready(self.resolve_ready(token).unwrap())
    }
    fn resolve_ready(&self, token: BearerToken<'_>) -> Option<Result<Option<User>, Infallible>> {
        Some(Ok((token.as_str() == "good").then_some(User("alice"))))
    }
}

#[tokio::test]
async fn an_answer_at_hand_reaches_the_inner_service_from_call() {
    // Through an `Arc`, whose impl must forward `resolve_ready` for the fast path to survive.
    let resolver = Arc::new(AtHand::default());
    let (service, mut handle) = mock::pair::<Request<()>, Response<&'static str>>();
    let mut service = BearerLayer::new(resolver.clone()).layer_service(service);
    handle.allow(2);

    assert_ready_ok!(task::spawn(()).enter(|cx, _| service.poll_ready(cx)));
    let mut response = task::spawn(service.call(req(Some("good"))));
    // Not polled yet, and the inner service has the request, session and all.
    let (request, send) = assert_ready!(task::spawn(handle.next_request()).poll()).unwrap();
    assert_eq!(request.extensions().get::<User>(), Some(&User("alice")));
    send.send_response(Response::new("ok"));
    assert_eq!(assert_ready_ok!(response.poll()).status(), StatusCode::OK);

    // An unknown token answered at once is refused on the first poll, inner untouched.
    assert_ready_ok!(task::spawn(()).enter(|cx, _| service.poll_ready(cx)));
    let mut refused = task::spawn(service.call(req(Some("nope"))));
    let refused = assert_ready_ok!(refused.poll());
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.headers()[http::header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\", error_description=\"the bearer token is invalid, expired or revoked\""
    );
    assert_pending!(task::spawn(handle.next_request()).poll());

    assert_eq!(
        resolver.futures.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the layer built a future although the answer was at hand"
    );
}

#[tokio::test]
async fn a_resolver_that_waits_is_polled_before_the_inner_service_is_called() {
    let (service, mut handle) = mock::pair::<Request<()>, Response<&'static str>>();
    let mut service = BearerLayer::new(Resolver).layer_service(service);
    handle.allow(1);
    assert_ready_ok!(task::spawn(()).enter(|cx, _| service.poll_ready(cx)));
    let mut response = task::spawn(service.call(req(Some("good"))));
    assert_pending!(task::spawn(handle.next_request()).poll());
    assert_pending!(response.poll());
    let (_, send) = handle.next_request().await.unwrap();
    send.send_response(Response::new("ok"));
    assert_eq!(assert_ready_ok!(response.poll()).status(), StatusCode::OK);
}

trait LayerExt<S> {
    type Service;
    fn layer_service(self, inner: S) -> Self::Service;
}

impl<S, R: SessionResolver> LayerExt<S> for BearerLayer<R> {
    type Service = tower_bearer::Bearer<S, R>;
    fn layer_service(self, inner: S) -> Self::Service {
        tower::Layer::layer(&self, inner)
    }
}

#[tokio::test]
async fn poll_ready_forwards_backpressure() {
    let (service, mut handle) = mock::pair::<Request<()>, Response<()>>();
    let mut service = BearerLayer::new(Resolver).layer_service(service);
    let mut t = task::spawn(());
    handle.allow(0);
    assert_pending!(t.enter(|cx, _| service.poll_ready(cx)));
    handle.allow(1);
    assert_ready_ok!(t.enter(|cx, _| service.poll_ready(cx)));
}

#[tokio::test]
async fn inner_errors_stay_the_inner_services() {
    let (service, mut handle) = mock::pair::<Request<()>, Response<()>>();
    let mut service = BearerLayer::new(Resolver).layer_service(service);
    handle.allow(1);
    assert_ready_ok!(task::spawn(()).enter(|cx, _| service.poll_ready(cx)));
    let mut response = task::spawn(service.call(req(Some("good"))));
    assert_pending!(response.poll());
    let (_, send) = handle.next_request().await.unwrap();
    send.send_error("inner broke");
    let err = assert_ready!(response.poll()).unwrap_err();
    assert_eq!(err.to_string(), "inner broke");
}

fn limited() -> impl Service<
    Request<()>,
    Response = Response<tower_bearer::ResponseBody<String>>,
    Error = Infallible,
> + Clone {
    ServiceBuilder::new()
        .layer(BearerLayer::new(Resolver))
        .concurrency_limit(1)
        .service(service_fn(|_req: Request<()>| async {
            Ok::<_, Infallible>(Response::new(String::from("ok")))
        }))
}

#[tokio::test]
async fn a_rejected_request_releases_its_permit() {
    let mut service = limited();
    let mut t = task::spawn(());
    for _ in 0..3 {
        assert_ready_ok!(t.enter(|cx, _| service.poll_ready(cx)));
        // Rejected before the inner call: the permit goes back as the readied service drops.
        let response = service.call(req(None)).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_ready_ok!(t.enter(|cx, _| service.poll_ready(cx)));
    let response = service.call(req(Some("unknown"))).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_ready_ok!(t.enter(|cx, _| service.poll_ready(cx)));
    let response = service.call(req(Some("good"))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_in_flight_resolution_holds_the_permit_until_dropped() {
    let mut service = limited();
    let mut other = service.clone();
    let mut t = task::spawn(());
    assert_ready_ok!(t.enter(|cx, _| service.poll_ready(cx)));
    let mut hanging = task::spawn(service.call(req(Some("hang"))));
    assert_pending!(hanging.poll());
    // The permit is in the hanging future: another clone must wait.
    let mut t2 = task::spawn(());
    assert_pending!(t2.enter(|cx, _| other.poll_ready(cx)));
    drop(hanging);
    assert!(t2.is_woken());
    assert_ready_ok!(t2.enter(|cx, _| other.poll_ready(cx)));
}

#[tokio::test]
async fn works_behind_a_buffer() {
    let service = ServiceBuilder::new()
        .layer(BearerLayer::new(Resolver))
        .buffer(1)
        .service(service_fn(|req: Request<()>| async move {
            let user = req
                .extensions()
                .get::<User>()
                .map(|u| u.0)
                .unwrap_or("none");
            Ok::<_, Infallible>(Response::new(user))
        }));
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let svc = service.clone();
            tokio::spawn(async move {
                let token = if i % 2 == 0 {
                    Some("good")
                } else {
                    Some("nope")
                };
                let res = svc.oneshot(req(token)).await.unwrap();
                (i, res.status())
            })
        })
        .collect();
    for t in tasks {
        let (i, status) = t.await.unwrap();
        let want = if i % 2 == 0 {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(status, want);
    }
}

#[tokio::test]
async fn layer_needs_no_clone_on_the_resolver() {
    struct NotClone;
    impl SessionResolver for NotClone {
        type Session = Arc<str>;
        type Error = Infallible;
        type Future = Ready<Result<Option<Arc<str>>, Infallible>>;
        fn resolve(&self, _: BearerToken<'_>) -> Self::Future {
            ready(Ok(Some("x".into())))
        }
    }
    let layer = BearerLayer::new(NotClone);
    let svc = ServiceBuilder::new()
        .layer(layer.clone())
        .service(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(()))
        }));
    assert_eq!(
        svc.oneshot(req(Some("t"))).await.unwrap().status(),
        StatusCode::OK
    );
}

/// A failing backend: its error goes to `tracing`, the token does not, and the client gets 503.
#[tokio::test]
async fn resolver_errors_are_logged_without_the_token() {
    let (logs, _guard) = support::Logs::capture();

    let failing = tower_bearer::resolver_fn(|_: BearerToken<'_>| async {
        Err::<Option<User>, _>(std::io::Error::other("connection refused by sessions-db"))
    });
    let svc = ServiceBuilder::new()
        .layer(BearerLayer::new(failing))
        .service(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(()))
        }));
    let secret = "tOkEn-that-must-not-leak";
    let res = svc.oneshot(req(Some(secret))).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);

    let log = logs.text();
    assert!(log.contains("connection refused by sessions-db"), "{log}");
    assert!(!log.contains(secret) && !log.contains("tOkEn"), "{log}");
}
