//! A resolver that knows only `b64token`s lets the layer check a token's characters after a
//! miss instead of before the lookup (`SessionResolver::knows_only_b64tokens`). That reordering
//! must never change an answer: the same requests, through a `MemoryStore` (which says it knows
//! only `b64token`s) and through the same store behind a wrapper that says it does not, get the
//! same status, headers and body, and the inner service sees the same session or marker, in
//! every mode, with either grammar, for HTTP and gRPC alike.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response};
use http_body_util::BodyExt;
use proptest::prelude::*;
use tower::{Layer, Service, ServiceExt};
use tower_bearer::store::{CreateOptions, MemoryStore, Session, StoreError};
use tower_bearer::{Anonymous, BearerLayer, BearerToken, Mode, SessionResolver, TokenChars};

/// The store, checked before every lookup as any resolver is by default.
struct Checked(MemoryStore);

impl SessionResolver for Checked {
    type Session = Arc<Session>;
    type Error = StoreError;
    type Future = <MemoryStore as SessionResolver>::Future;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        self.0.resolve(token)
    }

    fn resolve_ready(
        &self,
        token: BearerToken<'_>,
    ) -> Option<Result<Option<Arc<Session>>, StoreError>> {
        self.0.resolve_ready(token)
    }
}

/// What the inner service saw, in its body.
async fn inner(req: Request<()>) -> Result<Response<String>, Infallible> {
    let seen = match (
        req.extensions().get::<Arc<Session>>(),
        req.extensions().get::<Anonymous>(),
    ) {
        (Some(session), _) => format!("session {}", session.user_id),
        (None, Some(_)) => "anonymous".to_owned(),
        (None, None) => "nothing".to_owned(),
    };
    Ok(Response::new(seen))
}

/// Everything a client can observe of one answer.
async fn answer<R>(layer: &BearerLayer<R>, headers: &[HeaderValue], grpc: bool) -> String
where
    R: SessionResolver<Session = Arc<Session>> + Send + Sync + 'static,
    R::Future: Send,
{
    let mut req = Request::builder().uri("/orders/42?expand=items");
    if grpc {
        req = req.header("content-type", "application/grpc");
    }
    for value in headers {
        req = req.header(AUTHORIZATION, value.clone());
    }
    let mut service = layer.clone().layer(tower::service_fn(inner));
    let res = service
        .ready()
        .await
        .unwrap()
        .call(req.body(()).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    let body: Bytes = body.collect().await.unwrap().to_bytes();
    format!("{:?} {:?} {:?}", parts.status, parts.headers, body)
}

/// A header value: live and unknown tokens, each possibly spoiled, and malformed shapes.
fn header(live: Vec<String>) -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        proptest::sample::select(live),
        "[A-Za-z0-9._~+/-]{1,60}={0,3}",
        "[!-~]{1,60}",
        Just("x".repeat(80)),
        Just(format!("{}!", "x".repeat(80))),
    ];
    let spoil = prop_oneof![
        3 => Just(None),
        1 => (0usize..64, proptest::sample::select(vec![b'!', b'%', b',', b'=', b' ', b'"', b'\t', 0x80]))
            .prop_map(Some),
    ];
    let scheme =
        proptest::sample::select(vec!["Bearer ", "bearer   ", "Bearer\t", "Bearer", "Basic "]);
    (scheme, token, spoil).prop_map(|(scheme, token, spoil)| {
        let mut token = token.into_bytes();
        if let Some((at, byte)) = spoil {
            let at = at % (token.len() + 1);
            token.insert(at, byte);
        }
        let mut value = scheme.as_bytes().to_vec();
        value.extend(token);
        value
    })
}

fn layers(
    store: &MemoryStore,
    mode: Mode,
    chars: TokenChars,
    max: usize,
) -> (BearerLayer<MemoryStore>, BearerLayer<Checked>) {
    let deferred = BearerLayer::new(store.clone())
        .mode(mode)
        .token_chars(chars)
        .max_token_len(max);
    let checked = BearerLayer::new(Checked(store.clone()))
        .mode(mode)
        .token_chars(chars)
        .max_token_len(max);
    (deferred, checked)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn checking_after_a_miss_answers_exactly_as_checking_first(
        values in proptest::collection::vec(header(live_tokens().1), 0..3),
        mode in proptest::sample::select(vec![Mode::Required, Mode::Optional, Mode::Lenient]),
        chars in proptest::sample::select(vec![TokenChars::B64Token, TokenChars::Visible]),
        max in proptest::sample::select(vec![50usize, 4096]),
        grpc in any::<bool>(),
    ) {
        let (store, _) = live_tokens();
        let headers: Vec<HeaderValue> = values
            .iter()
            .filter_map(|v| HeaderValue::from_bytes(v).ok())
            .collect();
        let before = store.len();
        let (deferred, checked) = layers(&store, mode, chars, max);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (a, b) = rt.block_on(async {
            (answer(&deferred, &headers, grpc).await, answer(&checked, &headers, grpc).await)
        });
        prop_assert_eq!(a, b);
        prop_assert_eq!(store.len(), before);
    }
}

/// One store for the whole run, with a few live sessions.
fn live_tokens() -> (MemoryStore, Vec<String>) {
    static LIVE: std::sync::OnceLock<(MemoryStore, Vec<String>)> = std::sync::OnceLock::new();
    LIVE.get_or_init(|| {
        let store = MemoryStore::new();
        let tokens = (0..4)
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
    })
    .clone()
}

/// The cases that matter most, spelled out: a live token passes, the same token spoiled is a
/// `400`, an unknown well-formed one a `401`, and a too-long spoiled one the grammar's `400`.
#[tokio::test]
async fn the_deferred_check_still_refuses_every_malformed_token() {
    let (store, tokens) = live_tokens();
    let (deferred, _) = layers(&store, Mode::Required, TokenChars::B64Token, 4096);
    let live = HeaderValue::from_str(&format!("Bearer {}", tokens[0])).unwrap();
    assert!(answer(&deferred, &[live], false).await.starts_with("200 "));
    let spoiled = HeaderValue::from_str(&format!("Bearer {}!", tokens[0])).unwrap();
    let refused = answer(&deferred, &[spoiled], false).await;
    assert!(refused.starts_with("400 "), "{refused}");
    assert!(refused.contains("invalid_request"), "{refused}");
    let unknown = HeaderValue::from_static("Bearer abcdefghijklmnop");
    let refused = answer(&deferred, &[unknown], false).await;
    assert!(refused.starts_with("401 "), "{refused}");
    assert!(refused.contains("invalid_token"), "{refused}");
    let (short, _) = layers(&store, Mode::Required, TokenChars::B64Token, 10);
    let long_spoiled = HeaderValue::from_static("Bearer abcdefghijklmnop!");
    let long_clean = HeaderValue::from_static("Bearer abcdefghijklmnop");
    let (a, b) = (
        answer(&short, &[long_spoiled], false).await,
        answer(&short, &[long_clean], false).await,
    );
    assert!(a.starts_with("400 ") && a.contains("b64token"), "{a}");
    assert!(
        b.starts_with("401 ") && b.contains("longer than allowed"),
        "{b}"
    );
}
