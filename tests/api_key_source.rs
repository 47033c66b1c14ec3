//! The API-key header source over real sockets, and a resolver's own refusals: a key read from
//! `x-api-key` (or the names configured, in order), never beside another token, and a
//! resolver that answers a key with a `429` and its `Retry-After`.

mod support;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, Request, Response};
use http_body_util::Full;
use support::{request, serve};
use tower::{service_fn, ServiceBuilder};
use tower_bearer::{
    resolver_fn, ApiKeyHeader, BearerLayer, BearerToken, BoxError, Rejection, RejectionKind,
    TokenSource,
};

/// `key-live` is live; `key-spent` is out of uses (429, retry in 1.5 s); the session says
/// which source the token came from.
fn layer(
    header: ApiKeyHeader,
) -> BearerLayer<
    impl tower_bearer::SessionResolver<Session = String, Future = impl Send> + Send + Sync + 'static,
> {
    BearerLayer::new(resolver_fn(|token: BearerToken<'_>| {
        let source = token.source();
        let answer: Result<Option<String>, BoxError> = if token.matches("key-live") {
            Ok(Some(format!("{source:?}")))
        } else if token.matches("key-spent") {
            Err(Rejection::new(RejectionKind::TooManyRequests)
                .with_description("usage exceeded")
                .with_retry_after(Duration::from_millis(1500))
                .into())
        } else {
            Ok(None)
        };
        async move { answer }
    }))
    .realm("api")
    .api_key_header(header)
}

async fn who(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let seen: Vec<String> = req
        .headers()
        .iter()
        .map(|(name, _)| name.as_str().to_owned())
        .collect();
    let source = req
        .extensions()
        .get::<String>()
        .cloned()
        .unwrap_or_default();
    Ok(Response::new(Full::new(Bytes::from(format!(
        "{source} {}",
        seen.join(",")
    )))))
}

async fn server(header: ApiKeyHeader) -> std::net::SocketAddr {
    serve(
        ServiceBuilder::new()
            .layer(layer(header))
            .service(service_fn(who)),
    )
    .await
}

#[tokio::test]
async fn a_key_in_x_api_key_is_resolved_as_the_headers_token_and_said_to_be_an_api_key() {
    let addr = server(ApiKeyHeader::default()).await;
    let ok = request(addr, "GET", "/", &[b"x-api-key: key-live"], b"").await;
    assert_eq!(ok.status, 200);
    let body = String::from_utf8(ok.body.clone()).unwrap();
    let api_key = format!("{:?} ", TokenSource::ApiKeyHeader);
    assert!(body.starts_with(&api_key), "{body}");
    // The bearer header still works, and the resolver tells the two apart.
    let bearer = request(addr, "GET", "/", &[b"authorization: Bearer key-live"], b"").await;
    assert_eq!(bearer.status, 200);
    let authorization = format!("{:?} ", TokenSource::Authorization);
    assert!(String::from_utf8(bearer.body)
        .unwrap()
        .starts_with(&authorization));

    // An unknown key: the layer's 401 with its challenge, as any unknown token.
    let unknown = request(addr, "GET", "/", &[b"x-api-key: nope"], b"").await;
    assert_eq!(unknown.status, 401);
    assert_eq!(
        unknown.header("www-authenticate"),
        Some(
            r#"Bearer realm="api", error="invalid_token", error_description="the bearer token is invalid, expired or revoked""#
        )
    );
    // Nothing at all: 401 without error information.
    let none = request(addr, "GET", "/", &[], b"").await;
    assert_eq!(none.status, 401);
    assert_eq!(
        none.header("www-authenticate"),
        Some(r#"Bearer realm="api""#)
    );
}

#[tokio::test]
async fn a_key_beside_another_token_twice_or_empty_is_400() {
    let addr = server(ApiKeyHeader::default()).await;
    for lines in [
        &[
            &b"x-api-key: key-live"[..],
            b"authorization: Bearer key-live",
        ][..],
        &[b"x-api-key: key-live", b"x-api-key: key-live"],
        &[b"x-api-key: "],
    ] {
        let refused = request(addr, "GET", "/", lines, b"").await;
        assert_eq!(refused.status, 400, "{lines:?}");
        assert!(refused
            .header("www-authenticate")
            .unwrap()
            .contains(r#"error="invalid_request""#));
    }
}

#[tokio::test]
async fn names_are_read_in_order_and_the_first_present_one_counts() {
    let header = ApiKeyHeader::named(HeaderName::from_static("x-partner-key"))
        .or(HeaderName::from_static("x-api-key"));
    assert_eq!(header.names().len(), 2);
    let addr = server(header).await;
    let second = request(addr, "GET", "/", &[b"X-Api-Key: key-live"], b"").await;
    assert_eq!(second.status, 200);
    // The first name wins when both are there: its unknown key is refused, not the other's
    // live one used.
    let both = request(
        addr,
        "GET",
        "/",
        &[b"x-partner-key: nope", b"x-api-key: key-live"],
        b"",
    )
    .await;
    assert_eq!(both.status, 401);
    let first = request(addr, "GET", "/", &[b"x-partner-key: key-live"], b"").await;
    assert_eq!(first.status, 200);
}

#[tokio::test]
async fn a_resolvers_rejection_is_the_answer_with_its_retry_after_and_no_challenge() {
    let addr = server(ApiKeyHeader::default()).await;
    let spent = request(addr, "GET", "/", &[b"x-api-key: key-spent"], b"").await;
    assert_eq!(spent.status, 429);
    assert_eq!(spent.header("retry-after"), Some("2"));
    assert_eq!(spent.header("www-authenticate"), None);

    // A gRPC call gets RESOURCE_EXHAUSTED (8) with the resolver's description.
    let grpc = request(
        addr,
        "POST",
        "/svc/Method",
        &[b"x-api-key: key-spent", b"content-type: application/grpc"],
        b"",
    )
    .await;
    assert_eq!(grpc.status, 200);
    assert_eq!(grpc.header("grpc-status"), Some("8"));
    assert_eq!(grpc.header("grpc-message"), Some("usage%20exceeded"));

    // A layer with a rejection handler of its own: its body, and Retry-After all the same.
    let custom = layer(ApiKeyHeader::default()).on_rejection(|rejection: &Rejection| {
        let mut response = Response::new(Bytes::from(format!("refused: {}", rejection.status())));
        *response.status_mut() = rejection.status();
        response
    });
    let addr = serve(ServiceBuilder::new().layer(custom).service(service_fn(who))).await;
    let spent = request(addr, "GET", "/", &[b"x-api-key: key-spent"], b"").await;
    assert_eq!(spent.status, 429);
    assert_eq!(spent.body_str(), "refused: 429 Too Many Requests");
    assert_eq!(spent.header("retry-after"), Some("2"));
}
