//! Arbitrary header maps through the layer's full `call` over a MemoryStore: the answer is one
//! of the documented statuses, never a panic, never a 5xx.
#![no_main]

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request, Response};
use libfuzzer_sys::fuzz_target;
use tower_bearer::store::{CreateOptions, MemoryStore};
use tower_bearer::{Bearer, BearerLayer, Mode, TokenChars};
use tower_service::Service;

#[derive(Clone, Copy)]
struct Inner;

impl Service<Request<()>> for Inner {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Ready<Result<Response<()>, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: Request<()>) -> Self::Future {
        ready(Ok(Response::new(())))
    }
}

struct Fixture {
    store: MemoryStore,
    token: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let store = MemoryStore::new();
        let token = store
            .create_now("fuzz", (), CreateOptions::default())
            .unwrap()
            .token
            .as_str()
            .to_owned();
        Fixture { store, token }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let fixture = fixture();
    let mode = [Mode::Required, Mode::Optional, Mode::Lenient][usize::from(control % 3)];
    let layer = BearerLayer::new(fixture.store.clone())
        .mode(mode)
        .realm("fuzz")
        .answer_preflight(|_| http::Response::new(bytes::Bytes::new()))
        .max_token_len(64)
        .token_chars(match control & 32 {
            0 => TokenChars::B64Token,
            _ => TokenChars::Visible,
        });
    let mut service: Bearer<Inner, MemoryStore> = layer.build(Inner);

    let mut req = Request::new(());
    if control & 8 != 0 {
        *req.method_mut() = Method::OPTIONS;
    }
    if control & 16 != 0 {
        req.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    }
    // Each line is one header: `Authorization` values, a known token if a line says so, or
    // another header name and value.
    for line in rest.split(|&b| b == b'\n').take(8) {
        match line.split_first() {
            Some((b'!', _)) => {
                let value = format!("Bearer {}", fixture.token);
                req.headers_mut()
                    .append(AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
            }
            Some((b'#', header)) => {
                if let Some(at) = header.iter().position(|&b| b == b':') {
                    if let (Ok(name), Ok(value)) = (
                        HeaderName::from_bytes(&header[..at]),
                        HeaderValue::from_bytes(&header[at + 1..]),
                    ) {
                        req.headers_mut().append(name, value);
                    }
                }
            }
            _ => {
                if let Ok(value) = HeaderValue::from_bytes(line) {
                    req.headers_mut().append(AUTHORIZATION, value);
                }
            }
        }
    }
    let grpc = req
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/grpc"));

    let mut cx = Context::from_waker(Waker::noop());
    assert!(service.poll_ready(&mut cx).is_ready());
    let mut future = pin!(service.call(req));
    let Poll::Ready(Ok(response)) = future.as_mut().poll(&mut cx) else {
        panic!("a MemoryStore answers at once");
    };
    let status = response.status().as_u16();
    assert!(
        matches!(status, 200 | 400 | 401),
        "status {status} for a bad or good request"
    );
    if status != 200 {
        let challenge = response
            .headers()
            .get("www-authenticate")
            .expect("a challenge");
        assert!(challenge.as_bytes().starts_with(b"Bearer"));
    }
    if grpc && status == 200 {
        if let Some(code) = response.headers().get("grpc-status") {
            assert_eq!(code, "16");
        }
    }
    let _ = Bytes::new();
});
