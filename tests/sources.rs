//! The opt-in token sources over real sockets: the query string, a form body, a WebSocket
//! subprotocol and a cookie, each alone and in every pair with the others and the header.

mod support;

use std::convert::Infallible;
use std::sync::Arc;

use base64ct::{Base64UrlUnpadded, Encoding};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use support::{request, serve, RawResponse};
use tower::{service_fn, ServiceBuilder};
use tower_bearer::{
    resolver_fn, BearerLayer, BearerToken, QueryParameter, SessionCookie, WebSocketProtocol,
};

#[derive(Clone)]
struct User(Arc<str>);

const K8S: &str = WebSocketProtocol::KUBERNETES_PREFIX;
const TRUSTED: &str = "https://app.example";

/// `alice+/=` and `bob` are live; the `+/=` checks that every source decodes before resolving.
fn layer() -> BearerLayer<
    impl tower_bearer::SessionResolver<Session = User, Future = impl Send> + Send + Sync + 'static,
> {
    BearerLayer::new(resolver_fn(|token: BearerToken<'_>| {
        let user = ["alice+/=", "bob"]
            .into_iter()
            .find(|known| token.matches(known))
            .map(|known| User(known.trim_end_matches("+/=").into()));
        async move { Ok::<_, Infallible>(user) }
    }))
    .realm("test")
}

/// What the inner service saw: the user, the URI, the subprotocols, the cookie and the body.
async fn echo<B>(req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    let (parts, body) = req.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("|")
    };
    let who = parts
        .extensions
        .get::<User>()
        .map_or("-".into(), |u| u.0.to_string());
    let body = body.collect().await.unwrap().to_bytes();
    let text = format!(
        "who={who}\nuri={}\nproto={}\ncookie={}\nbody={}\n",
        parts.uri,
        header("sec-websocket-protocol"),
        header("cookie"),
        String::from_utf8_lossy(&body)
    );
    Ok(Response::new(Full::new(Bytes::from(text))))
}

/// Every source on, the form body read up to 64 bytes.
async fn all_sources() -> std::net::SocketAddr {
    let layers = layer()
        .query_token(QueryParameter::default())
        .websocket_token(WebSocketProtocol::kubernetes())
        .cookie_token(SessionCookie::named("sid").trusted_origin(TRUSTED))
        .form_token(64);
    serve(
        ServiceBuilder::new()
            .layer(layers)
            .service(service_fn(echo)),
    )
    .await
}

fn field<'a>(response: &'a RawResponse, name: &str) -> &'a str {
    let prefix = format!("{name}=");
    response
        .body_str()
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no {name} in {:?}", response.body_str()))
}

fn entry(token: &str) -> String {
    format!(
        "{K8S}{}",
        Base64UrlUnpadded::encode_string(token.as_bytes())
    )
}

const METHODS: &str = r#"Bearer realm="test", error="invalid_request", error_description="more than one bearer token in the request""#;
const INVALID: &str = r#"Bearer realm="test", error="invalid_token", error_description="the bearer token is invalid, expired or revoked""#;
const UNTRUSTED: &str = r#"Bearer realm="test", error="invalid_request", error_description="a cookie from a request of an untrusted origin""#;

#[tokio::test]
async fn the_query_parameter_is_decoded_cut_out_and_the_answer_private() {
    let addr = all_sources().await;
    let ok = request(
        addr,
        "GET",
        "/p?a=1&access_token=alice%2B%2F%3D&b=%20",
        &[],
        b"",
    )
    .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(field(&ok, "who"), "alice");
    assert_eq!(field(&ok, "uri"), "/p?a=1&b=%20");
    assert_eq!(ok.header("cache-control"), Some("private"));

    let unknown = request(addr, "GET", "/p?access_token=carol", &[], b"").await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.header("www-authenticate"), Some(INVALID));
    assert_eq!(unknown.header("cache-control"), None);

    // An unencoded `+` is a space: outside the grammar.
    let plus = request(addr, "GET", "/p?access_token=alice+/=", &[], b"").await;
    assert_eq!(plus.status, 400);

    // Decoded, the token is held to the same length limit as the header's.
    let long = format!("/p?access_token={}", "a".repeat(5000));
    assert_eq!(request(addr, "GET", &long, &[], b"").await.status, 401);

    // Not on POST by default: there the parameter is a malformed request.
    let post = request(addr, "POST", "/p?access_token=bob", &[], b"x").await;
    assert_eq!(post.status, 400);
    assert_eq!(
        post.header("www-authenticate"),
        Some(
            r#"Bearer realm="test", error="invalid_request", error_description="a bearer token in the query of a method that may not carry one""#
        )
    );

    // Two parameters are two tokens.
    let two = request(
        addr,
        "GET",
        "/p?access_token=bob&access_token=bob",
        &[],
        b"",
    )
    .await;
    assert_eq!(two.status, 400);
    assert_eq!(two.header("www-authenticate"), Some(METHODS));
}

#[tokio::test]
async fn the_subprotocol_entry_is_decoded_and_cut_out_and_the_rest_pass_through() {
    let addr = all_sources().await;
    let line = format!(
        "sec-websocket-protocol: chat, {}, v2.chat",
        entry("alice+/=")
    );
    let ok = request(addr, "GET", "/ws", &[line.as_bytes()], b"").await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(field(&ok, "who"), "alice");
    assert_eq!(field(&ok, "proto"), "chat, v2.chat");
    assert_eq!(ok.header("cache-control"), None);

    let alone = format!("sec-websocket-protocol: {}", entry("bob"));
    let ok = request(addr, "GET", "/ws", &[alone.as_bytes()], b"").await;
    assert_eq!(
        (ok.status, field(&ok, "who"), field(&ok, "proto")),
        (200, "bob", "")
    );

    let unknown = format!("sec-websocket-protocol: chat, {}", entry("carol"));
    let refused = request(addr, "GET", "/ws", &[unknown.as_bytes()], b"").await;
    assert_eq!(refused.status, 401);
    let padded = format!("sec-websocket-protocol: {K8S}Ym9i=");
    assert_eq!(
        request(addr, "GET", "/ws", &[padded.as_bytes()], b"")
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn the_form_body_is_read_and_reaches_the_service_intact() {
    let addr = all_sources().await;
    let form: &[u8] = b"content-type: application/x-www-form-urlencoded";
    let body = b"a=1&access_token=alice%2B%2F%3D&b=2";
    let ok = request(addr, "POST", "/f", &[form], body).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(field(&ok, "who"), "alice");
    assert_eq!(field(&ok, "body"), std::str::from_utf8(body).unwrap());

    // Over the limit, declared or not.
    let big = [b"access_token=bob&pad=".as_slice(), &[b'x'; 64]].concat();
    let over = request(addr, "POST", "/f", &[form], &big).await;
    assert_eq!(over.status, 413);
    let chunked = [
        format!("{:x}\r\n", big.len()).into_bytes(),
        big.clone(),
        b"\r\n0\r\n\r\n".to_vec(),
    ]
    .concat();
    let te: &[u8] = b"transfer-encoding: chunked";
    let over = request(addr, "POST", "/f", &[form, te], &chunked).await;
    assert_eq!(over.status, 413);

    // Another media type is no form: the body streams through unread.
    let json: &[u8] = b"content-type: application/json";
    let other = request(addr, "POST", "/f", &[json], b"access_token=bob").await;
    assert_eq!(other.status, 401);
    // A form without a token is refused as if it had none, and a bigger non-form passes.
    let none = request(addr, "POST", "/f", &[form], b"a=1").await;
    assert_eq!(
        none.header("www-authenticate"),
        Some(r#"Bearer realm="test""#)
    );
    let header: &[u8] = b"authorization: Bearer bob";
    let big_json = request(addr, "POST", "/f", &[json, header], &[b'y'; 500]).await;
    assert_eq!(big_json.status, 200);
    assert_eq!(field(&big_json, "body").len(), 500);

    let two = request(
        addr,
        "POST",
        "/f",
        &[form],
        b"access_token=bob&access_token=bob",
    )
    .await;
    assert_eq!(two.header("www-authenticate"), Some(METHODS));
}

#[tokio::test]
async fn the_cookie_is_checked_against_the_origin_for_unsafe_methods_and_websockets() {
    let addr = all_sources().await;
    let cookie: &[u8] = b"cookie: theme=dark; sid=alice%2B%2F%3D";
    let ok = request(addr, "GET", "/c", &[cookie], b"").await;
    assert_eq!((ok.status, field(&ok, "who")), (200, "alice"));
    // The cookie stays for the service.
    assert_eq!(field(&ok, "cookie"), "theme=dark; sid=alice%2B%2F%3D");

    let trusted: &[u8] = b"origin: https://app.example";
    let foreign: &[u8] = b"origin: https://evil.example";
    let post = |lines: Vec<&'static [u8]>| async move {
        let mut all = vec![b"cookie: sid=bob".as_slice()];
        all.extend(lines);
        request(addr, "POST", "/c", &all, b"x").await
    };
    assert_eq!(post(vec![trusted]).await.status, 200);
    let refused = post(vec![foreign]).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.header("www-authenticate"), Some(UNTRUSTED));
    assert_eq!(post(vec![]).await.status, 403, "no origin at all");
    assert_eq!(post(vec![b"origin: null"]).await.status, 403);
    assert_eq!(
        post(vec![b"referer: https://app.example/page"])
            .await
            .status,
        200
    );
    assert_eq!(
        post(vec![b"referer: https://evil.example/"]).await.status,
        403
    );

    // A WebSocket handshake is a GET, and checked all the same.
    let upgrade: &[u8] = b"upgrade: websocket";
    let hijack = request(
        addr,
        "GET",
        "/ws",
        &[b"cookie: sid=bob", upgrade, foreign],
        b"",
    )
    .await;
    assert_eq!(hijack.status, 403);
    let own = request(
        addr,
        "GET",
        "/ws",
        &[b"cookie: sid=bob", upgrade, trusted],
        b"",
    )
    .await;
    assert_eq!(own.status, 200);

    // An unknown cookie is an invalid token.
    let unknown = request(addr, "GET", "/c", &[b"cookie: sid=carol"], b"").await;
    assert_eq!(unknown.header("www-authenticate"), Some(INVALID));
}

/// One source's credential: how it is sent, for `GET` or `POST`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Source {
    Header,
    Query,
    Form,
    Subprotocol,
    Cookie,
}

#[tokio::test]
async fn every_pair_of_sources() {
    use Source::*;
    let addr = all_sources().await;
    let all = [Header, Query, Form, Subprotocol, Cookie];
    for (i, &a) in all.iter().enumerate() {
        for &b in &all[i + 1..] {
            let pair = [a, b];
            // The form needs a POST, the query a GET: a pair of the two sends both on a
            // query-enabled method, so the query is built to count.
            let post = pair.contains(&Form);
            let mut path = "/pair".to_string();
            let mut lines: Vec<Vec<u8>> = vec![b"origin: https://app.example".to_vec()];
            let mut body = Vec::new();
            // `a` names alice, `b` bob, so the winner is visible.
            for (source, who) in [(a, "alice%2B%2F%3D"), (b, "bob")] {
                let plain = who.replace("%2B%2F%3D", "+/=");
                match source {
                    Header => lines.push(format!("authorization: Bearer {plain}").into_bytes()),
                    Query => path.push_str(&format!("?access_token={who}")),
                    Form => {
                        lines.push(b"content-type: application/x-www-form-urlencoded".to_vec());
                        body = format!("access_token={who}").into_bytes();
                    }
                    Subprotocol => lines.push(
                        format!("sec-websocket-protocol: chat, {}", entry(&plain)).into_bytes(),
                    ),
                    Cookie => lines.push(format!("cookie: sid={who}").into_bytes()),
                }
            }
            let lines: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
            let query_with_form = post && pair.contains(&Query);
            let response = if query_with_form {
                // The default query source takes GET only, so this pair is tried with the
                // query allowed on POST, on a server of its own below.
                continue;
            } else {
                let method = if post { "POST" } else { "GET" };
                request(addr, method, &path, &lines, &body).await
            };
            if b == Cookie {
                // The cookie never conflicts: the explicit source wins.
                assert_eq!(response.status, 200, "{pair:?}: {response:?}");
                assert_eq!(field(&response, "who"), "alice", "{pair:?}");
            } else {
                assert_eq!(response.status, 400, "{pair:?}: {response:?}");
                assert_eq!(
                    response.header("www-authenticate"),
                    Some(METHODS),
                    "{pair:?}"
                );
            }
        }
    }

    // Query and form together, where the query source takes POST too.
    let layers = layer()
        .query_token(QueryParameter::default().methods([http::Method::POST]))
        .form_token(64);
    let addr = serve(
        ServiceBuilder::new()
            .layer(layers)
            .service(service_fn(echo)),
    )
    .await;
    let form: &[u8] = b"content-type: application/x-www-form-urlencoded";
    let both = request(
        addr,
        "POST",
        "/p?access_token=bob",
        &[form],
        b"access_token=bob",
    )
    .await;
    assert_eq!(both.status, 400);
    assert_eq!(both.header("www-authenticate"), Some(METHODS));
    let query_only = request(addr, "POST", "/p?access_token=bob", &[form], b"a=b").await;
    assert_eq!((query_only.status, field(&query_only, "uri")), (200, "/p"));
}

#[tokio::test]
async fn the_header_alone_is_unchanged_and_no_source_is_on_by_default() {
    let addr = all_sources().await;
    let ok = request(addr, "GET", "/h?x=1", &[b"authorization: Bearer bob"], b"").await;
    assert_eq!(
        (ok.status, field(&ok, "who"), field(&ok, "uri")),
        (200, "bob", "/h?x=1")
    );
    assert_eq!(ok.header("cache-control"), None);

    let plain = serve(
        ServiceBuilder::new()
            .layer(layer())
            .service(service_fn(echo)),
    )
    .await;
    let proto = format!("sec-websocket-protocol: {}", entry("bob"));
    for (path, line) in [
        ("/p?access_token=bob", "x-none: 1".to_string()),
        ("/p", "cookie: sid=bob".to_string()),
        ("/p", proto),
    ] {
        let refused = request(plain, "GET", path, &[line.as_bytes()], b"").await;
        assert_eq!(refused.status, 401, "{path} {line}");
        assert_eq!(
            refused.header("www-authenticate"),
            Some(r#"Bearer realm="test""#)
        );
    }
}

#[tokio::test]
async fn better_auths_cookie_names_and_the_secure_one_first() {
    let layers = layer().cookie_token(SessionCookie::better_auth());
    let addr = serve(
        ServiceBuilder::new()
            .layer(layers)
            .service(service_fn(echo)),
    )
    .await;
    let plain = request(
        addr,
        "GET",
        "/",
        &[b"cookie: better-auth.session_token=bob"],
        b"",
    )
    .await;
    assert_eq!(field(&plain, "who"), "bob");
    let both: &[u8] =
        b"cookie: better-auth.session_token=bob; __Secure-better-auth.session_token=alice%2B%2F%3D";
    let secure = request(addr, "GET", "/", &[both], b"").await;
    assert_eq!(field(&secure, "who"), "alice");
    // No trusted origin configured: every unsafe request the cookie authenticates is refused.
    let post = request(
        addr,
        "POST",
        "/",
        &[
            b"cookie: better-auth.session_token=bob",
            b"origin: http://localhost",
        ],
        b"x",
    )
    .await;
    assert_eq!(post.status, 403);
}

#[tokio::test]
async fn predicates_and_services_further_in_never_see_the_query_token() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let record = seen.clone();
    let layers = layer()
        .query_token(QueryParameter::named("t"))
        .exempt(move |head| {
            record.lock().unwrap().push(head.uri().to_string());
            head.uri().path() == "/open"
        });
    let service = ServiceBuilder::new()
        .layer(layers)
        .service(service_fn(echo));
    let addr = serve(service).await;
    let ok = request(addr, "GET", "/p?t=bob&keep=1", &[], b"").await;
    assert_eq!((ok.status, field(&ok, "uri")), (200, "/p?keep=1"));
    let open = request(addr, "GET", "/open?t=bob", &[], b"").await;
    assert_eq!(
        (open.status, field(&open, "who"), field(&open, "uri")),
        (200, "-", "/open")
    );
    // The exemption predicate, the first code of the layer's that sees the request, sees it cut.
    assert_eq!(*seen.lock().unwrap(), ["/p?keep=1", "/open"]);
}
