//! Arbitrary header maps through the layer's full `call` over a MemoryStore holding one live
//! and one revoked token: the answer is one of the documented statuses, never a panic, never a
//! 5xx, and every answer is checked against a model of what the request is entitled to: the
//! inner service sees a session only for the one live token, never for the revoked one, and an
//! anonymous request only in a mode that lets it pass.
#![no_main]

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request, Response};
use libfuzzer_sys::fuzz_target;
use tower_bearer::store::{CreateOptions, MemoryStore, Session};
use tower_bearer::{Anonymous, Bearer, BearerLayer, Mode, TokenChars};
use tower_service::Service;

/// Says in a header what it was called with: `live`, `anonymous`, or `nothing`.
#[derive(Clone, Copy)]
struct Inner;

impl Service<Request<()>> for Inner {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Ready<Result<Response<()>, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: Request<()>) -> Self::Future {
        let seen = if let Some(session) = req.extensions().get::<Arc<Session>>() {
            assert_eq!(&*session.user_id, "fuzz", "the live token's own session");
            "live"
        } else if req.extensions().get::<Anonymous>().is_some() {
            "anonymous"
        } else {
            "nothing"
        };
        let mut response = Response::new(());
        response
            .headers_mut()
            .insert("x-inner", HeaderValue::from_static(seen));
        ready(Ok(response))
    }
}

struct Fixture {
    store: MemoryStore,
    token: String,
    revoked: String,
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
        let revoked = store
            .create_now("fuzz-revoked", (), CreateOptions::default())
            .unwrap()
            .token;
        assert!(store.revoke_token_now(revoked.as_str()));
        let revoked = revoked.as_str().to_owned();
        Fixture {
            store,
            token,
            revoked,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let fixture = fixture();
    let mode = [Mode::Required, Mode::Optional, Mode::Lenient][usize::from(control % 3)];
    let mut layer = BearerLayer::new(fixture.store.clone())
        .mode(mode)
        .realm("fuzz");
    let answers_preflights = control & 4 != 0;
    if answers_preflights {
        layer = layer.answer_preflight(|_| {
            let mut response = Response::new(Bytes::new());
            response
                .headers_mut()
                .insert("x-preflight", HeaderValue::from_static("yes"));
            response
        });
    }
    let layer = layer.max_token_len(64).token_chars(match control & 32 {
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
            Some((b'-', _)) => {
                let value = format!("Bearer {}", fixture.revoked);
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
    // The model: what this request may be given.
    let values: Vec<Vec<u8>> = req
        .headers()
        .get_all(AUTHORIZATION)
        .iter()
        .map(|v| v.as_bytes().to_vec())
        .collect();
    let names = |token: &str, value: &[u8]| {
        let spaces = |b: &&u8| **b == b' ';
        let rest = value.get(6..).unwrap_or_default();
        let start = rest.iter().take_while(spaces).count();
        // Trailing whitespace, spaces and tabs, is not part of a field value (RFC 9110 §5.5).
        let end = rest.len()
            - rest
                .iter()
                .rev()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count();
        value.len() > 7
            && value[..6].eq_ignore_ascii_case(b"bearer")
            && start > 0
            && start < end
            && &rest[start..end] == token.as_bytes()
    };
    let entitled = values.len() == 1 && names(&fixture.token, &values[0]);
    let preflight = req.method() == Method::OPTIONS
        && req.headers().contains_key("origin")
        && req.headers().contains_key("access-control-request-method")
        && req
            .headers()
            .get(CONTENT_TYPE)
            .is_none_or(|ct| !ct.as_bytes().starts_with(b"application/grpc"));

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
    let inner = response.headers().get("x-inner").map(|v| v.as_bytes());
    if answers_preflights && preflight {
        assert_eq!(response.headers()["x-preflight"], "yes");
        assert_eq!(inner, None, "a preflight never reaches the inner service");
        return;
    }
    match inner {
        Some(b"live") => assert!(entitled, "a session for a request that names no live token"),
        Some(b"anonymous") => assert!(mode != Mode::Required, "anonymous in required mode"),
        Some(other) => panic!("the inner service saw {other:?}"),
        None => {}
    }
    if entitled {
        assert_eq!(inner, Some(&b"live"[..]), "the live token, refused");
    }
    if status != 200 {
        assert_eq!(inner, None);
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
});
