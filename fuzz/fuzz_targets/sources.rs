//! Arbitrary query strings, `Sec-WebSocket-Protocol` and `Cookie` values through the layer's
//! full `call` with the query, subprotocol and cookie sources on, over a MemoryStore holding one
//! live and one revoked token. The answer is one of the documented statuses, never a panic or a
//! 5xx; the inner service never sees an `access_token` parameter or a token entry in the
//! subprotocols; it sees the live session only when the request carries the live token; and a
//! cross-site `POST` that only a cookie authenticates never gets through.
#![no_main]

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use base64ct::{Base64UrlUnpadded, Encoding};
use http::header::{HeaderValue, AUTHORIZATION, COOKIE, ORIGIN, SEC_WEBSOCKET_PROTOCOL};
use http::{Method, Request, Response, Uri};
use libfuzzer_sys::fuzz_target;
use tower_bearer::store::{CreateOptions, MemoryStore, Session};
use tower_bearer::{
    Bearer, BearerLayer, QueryParameter, SessionCookie, TokenChars, WebSocketProtocol,
};
use tower_service::Service;

const PREFIX: &str = WebSocketProtocol::KUBERNETES_PREFIX;

/// Checks what reached it, and says whether the live session came along.
#[derive(Clone, Copy)]
struct Inner {
    /// The token parameter's name.
    name: &'static str,
}

impl Service<Request<()>> for Inner {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Ready<Result<Response<()>, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: Request<()>) -> Self::Future {
        if let Some(query) = req.uri().query() {
            assert!(
                !query_names(query).iter().any(|n| n == self.name),
                "a token parameter reached the service: {query:?}"
            );
        }
        for value in req.headers().get_all(SEC_WEBSOCKET_PROTOCOL) {
            assert!(
                !value
                    .as_bytes()
                    .split(|&c| c == b',')
                    .any(|e| e.trim_ascii().starts_with(PREFIX.as_bytes())),
                "a token entry reached the service"
            );
        }
        let live = req.extensions().get::<Arc<Session>>().is_some();
        let mut response = Response::new(());
        if live {
            response
                .headers_mut()
                .insert("x-live", HeaderValue::from_static("1"));
        }
        ready(Ok(response))
    }
}

fn query_names(query: &str) -> Vec<String> {
    // The same decoding the layer applies: the name as the parameter's decoded key.
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let key = p.split('=').next().unwrap_or_default().replace('+', " ");
            percent_decode(&key)
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Fixture {
    store: MemoryStore,
    live: String,
    revoked: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let store = MemoryStore::new();
        let issue = |user| {
            store
                .create_now(user, (), CreateOptions::default())
                .unwrap()
                .token
        };
        let live = issue("fuzz").as_str().to_owned();
        let revoked = issue("fuzz-revoked");
        assert!(store.revoke_token_now(revoked.as_str()));
        let revoked = revoked.as_str().to_owned();
        Fixture {
            store,
            live,
            revoked,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let fixture = fixture();
    let param = match control & 1 {
        0 => QueryParameter::default(),
        _ => QueryParameter::named("t").methods([Method::GET, Method::POST]),
    };
    let layer = BearerLayer::new(fixture.store.clone())
        .query_token(param)
        .websocket_token(WebSocketProtocol::kubernetes())
        .cookie_token(SessionCookie::named("sid").trusted_origin("https://app.example"))
        .max_token_len(64)
        .token_chars(match control & 2 {
            0 => TokenChars::B64Token,
            _ => TokenChars::Visible,
        });
    let name = if control & 1 == 0 {
        "access_token"
    } else {
        "t"
    };
    let mut service: Bearer<Inner, MemoryStore> = layer.build(Inner { name });

    let mut query = String::new();
    let mut req = Request::new(());
    if control & 4 != 0 {
        *req.method_mut() = Method::POST;
    }
    match (control >> 3) & 3 {
        0 => {}
        1 => drop(
            req.headers_mut()
                .insert(ORIGIN, HeaderValue::from_static("https://app.example")),
        ),
        _ => drop(
            req.headers_mut()
                .insert(ORIGIN, HeaderValue::from_static("https://evil.example")),
        ),
    }
    let mut carries_live = false;
    let mut only_cookies = true;
    for line in rest.split(|&b| b == b'\n').take(8) {
        let Some((&kind, body)) = line.split_first() else {
            continue;
        };
        let header = |bytes: &[u8]| HeaderValue::from_bytes(bytes).ok();
        match kind {
            b'?' => {
                only_cookies = false;
                if let Ok(text) = std::str::from_utf8(body) {
                    query.push('&');
                    query.push_str(text);
                }
            }
            b'!' | b'-' => {
                only_cookies = false;
                carries_live |= kind == b'!';
                let token = if kind == b'!' {
                    &fixture.live
                } else {
                    &fixture.revoked
                };
                query.push_str(&format!("&{name}={token}"));
            }
            b'@' => {
                only_cookies = false;
                if let Some(value) = header(body) {
                    req.headers_mut().append(SEC_WEBSOCKET_PROTOCOL, value);
                }
            }
            b'*' => {
                only_cookies = false;
                carries_live = true;
                let entry = format!(
                    "chat, {PREFIX}{}",
                    Base64UrlUnpadded::encode_string(fixture.live.as_bytes())
                );
                req.headers_mut().append(
                    SEC_WEBSOCKET_PROTOCOL,
                    HeaderValue::from_str(&entry).unwrap(),
                );
            }
            b'c' => {
                if let Some(value) = header(body) {
                    req.headers_mut().append(COOKIE, value);
                }
            }
            b'%' => {
                carries_live = true;
                let value = format!("sid={}", fixture.live);
                req.headers_mut()
                    .append(COOKIE, HeaderValue::from_str(&value).unwrap());
            }
            _ => {
                only_cookies = false;
                if let Some(value) = header(line) {
                    req.headers_mut().append(AUTHORIZATION, value);
                }
            }
        }
    }
    if !query.is_empty() {
        match Uri::try_from(format!("/p?{}", &query[1..])) {
            Ok(uri) => *req.uri_mut() = uri,
            Err(_) => return,
        }
    }
    let cross_site_post = req.method() == Method::POST
        && req
            .headers()
            .get(ORIGIN)
            .is_none_or(|o| o != "https://app.example");

    let mut cx = Context::from_waker(Waker::noop());
    assert!(service.poll_ready(&mut cx).is_ready());
    let mut future = pin!(service.call(req));
    let Poll::Ready(Ok(response)) = future.as_mut().poll(&mut cx) else {
        panic!("a MemoryStore answers at once");
    };
    let status = response.status().as_u16();
    assert!(matches!(status, 200 | 400 | 401 | 403), "status {status}");
    let live = response.headers().contains_key("x-live");
    if live {
        assert!(
            carries_live,
            "the live session for a request without the live token"
        );
        assert!(
            !(only_cookies && cross_site_post),
            "a cross-site POST on a cookie alone"
        );
    }
    if status != 200 {
        assert!(!live);
        assert!(
            response.headers().contains_key("www-authenticate"),
            "a challenge"
        );
    }
});
