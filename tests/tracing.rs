//! What operators see in `tracing`: one `tower_bearer.authenticate` span per decision with its
//! outcome, reason and resolver; backend errors at `warn` with their source chain; and, with
//! every event and span captured at `TRACE`, no token or part of one from any source.

mod support;

use std::convert::Infallible;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tower::{service_fn, ServiceBuilder};
use tower_bearer::{
    resolver_fn, BearerLayer, BearerToken, QueryParameter, SessionCookie, WebSocketProtocol,
};
use tracing_subscriber::fmt::format::FmtSpan;

const LIVE: &str = "LiveSecretToken0123456789abcdefXYZ";
const UNKNOWN: &str = "UnknownSecretToken9876543210zyxwvQ";
const FAILING: &str = "FailingSecretToken5555555555aaaaaB";
const SLOW: &str = "SlowSecretToken77777777777777bbbbbC";

/// A backend failure with a cause, as a driver reports one.
#[derive(Debug)]
struct Backend(std::io::Error);

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the session database failed")
    }
}

impl std::error::Error for Backend {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn ok<B>(_: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    tracing::info!("inner service reached");
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

#[tokio::test]
async fn spans_and_events_at_trace_carry_the_decision_and_never_a_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let layers = BearerLayer::new(resolver_fn(|token: BearerToken<'_>| {
        let token = token.as_str().to_owned();
        async move {
            tracing::trace!("resolver polled");
            match token.as_str() {
                LIVE => Ok(Some(())),
                FAILING => Err(Backend(std::io::Error::other(
                    "connection to 10.0.0.9:5432 refused",
                ))),
                SLOW => {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    Ok(None)
                }
                _ => Ok(None),
            }
        }
    }))
    .timeout(Duration::from_millis(50))
    .query_token(QueryParameter::default())
    .websocket_token(WebSocketProtocol::kubernetes())
    .cookie_token(SessionCookie::named("sid").trusted_origin("https://app.example"))
    .form_token(1024);
    let addr = support::serve(ServiceBuilder::new().layer(layers).service(service_fn(ok))).await;

    let header = |t: &str| format!("authorization: Bearer {t}");
    let entry = |t: &str| {
        let b64 = Base64UrlUnpadded::encode_string(t.as_bytes());
        format!(
            "sec-websocket-protocol: chat, {}{b64}",
            WebSocketProtocol::KUBERNETES_PREFIX
        )
    };
    let form = "content-type: application/x-www-form-urlencoded".to_string();
    for token in [LIVE, UNKNOWN, FAILING, SLOW] {
        let q = format!("/p?access_token={token}");
        let body = format!("access_token={token}");
        let requests: [(&str, String, Vec<String>, &[u8]); 5] = [
            ("GET", "/p".into(), vec![header(token)], b""),
            ("GET", q, vec![], b""),
            ("GET", "/p".into(), vec![entry(token)], b""),
            (
                "GET",
                "/p".into(),
                vec![format!("cookie: sid={token}")],
                b"",
            ),
            ("POST", "/p".into(), vec![form.clone()], body.as_bytes()),
        ];
        for (method, path, lines, body) in &requests {
            let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
            let status = support::request(addr, method, path, &lines, body)
                .await
                .status;
            let expected = match token {
                LIVE => 200,
                UNKNOWN => 401,
                _ => 503,
            };
            assert_eq!(status, expected, "{method} {path}");
        }
    }
    // Two methods, and a malformed one, so that refusals without resolving are traced too.
    let two = [header(LIVE), entry(LIVE)];
    let two: Vec<&[u8]> = two.iter().map(|l| l.as_bytes()).collect();
    assert_eq!(
        support::request(addr, "GET", "/p", &two, b"").await.status,
        400
    );

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for token in [LIVE, UNKNOWN, FAILING, SLOW] {
        // Any 8 characters in a row of a token would be a leak.
        for window in token.as_bytes().windows(8) {
            let piece = std::str::from_utf8(window).unwrap();
            assert!(
                !text.contains(piece),
                "{piece:?} of a token in the logs:\n{text}"
            );
        }
        let b64 = Base64UrlUnpadded::encode_string(token.as_bytes());
        assert!(!text.contains(&b64[..12]), "an encoded token in the logs");
    }
    // The span, closed once per decision, with what was decided.
    let closes = text
        .lines()
        .filter(|l| l.contains("tower_bearer.authenticate") && l.contains("close"))
        .count();
    assert_eq!(closes, 21, "one span per request:\n{text}");
    assert!(
        text.contains("outcome=\"authenticated\"") || text.contains("outcome=authenticated"),
        "{text}"
    );
    assert!(
        text.contains("reason=\"invalid_token\"") || text.contains("reason=invalid_token"),
        "{text}"
    );
    assert!(
        text.contains("reason=\"timeout\"") || text.contains("reason=timeout"),
        "{text}"
    );
    assert!(
        text.contains("reason=\"malformed\"") || text.contains("reason=malformed"),
        "{text}"
    );
    assert!(
        text.contains("resolver=\"ResolverFn\"") || text.contains("resolver=ResolverFn"),
        "{text}"
    );
    // The resolver's own events sit inside the decision's span.
    assert!(
        text.lines()
            .any(|l| l.contains("tower_bearer.authenticate") && l.contains("resolver polled")),
        "{text}"
    );
    // A backend failure at warn, with its cause.
    let warn = text
        .lines()
        .find(|l| l.contains("WARN") && l.contains("the session resolver failed"))
        .expect("a warning for the failing backend");
    assert!(
        warn.contains("the session database failed: connection to 10.0.0.9:5432 refused"),
        "{warn}"
    );
}
