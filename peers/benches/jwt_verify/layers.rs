//! Every way a request is authenticated here, each a `Run`: a closure that takes the index of
//! a token in the rotation, authenticates it and asserts that it was accepted. The layers wrap
//! the same trivial inner service, which answers 200 only when the layer left its claims (or
//! session) in the request's extensions, and are called synchronously: `ready`, then `call`,
//! each future polled once (every resolver here answers at once; one that did not would fail
//! the setup's check).

use std::convert::Infallible;
use std::fmt::Debug;
use std::future::ready;
use std::hint::black_box;
use std::sync::Arc;

use futures_util::FutureExt;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response, StatusCode};
use tower::{Layer, Service, ServiceExt};
use tower_bearer::oauth::{JwtResolver, Key, KeySet};
use tower_bearer::store::{CreateOptions, MemoryStore};
use tower_bearer::{BearerLayer, BearerToken, SessionResolver};

use crate::fixtures::{Fixture, AUD, ISS, TOKENS};

pub type Run = Box<dyn FnMut(usize)>;

/// A JWT resolver over the fixture's key, `iss` and `aud` checked; `cached`: the default
/// verified-token cache, else none.
pub fn resolver(f: &Fixture, cached: bool) -> JwtResolver {
    let builder = JwtResolver::builder().issuer(ISS).audience(AUD);
    let builder = if cached {
        builder
    } else {
        builder.verified_cache(0, std::time::Duration::ZERO)
    };
    builder
        .keys(KeySet::new([Key::from_jwk(&f.jwk).unwrap()]))
        .unwrap()
}

/// The resolver alone, without the layer.
pub fn resolve_ready<R: SessionResolver + 'static>(resolver: R, tokens: Vec<String>) -> Run
where
    R::Error: Debug,
{
    let mut run = move |i: usize| {
        let answer = resolver.resolve_ready(BearerToken::new(&tokens[i]));
        black_box(
            answer
                .expect("answered at once")
                .unwrap()
                .expect("accepted"),
        );
    };
    (0..TOKENS).for_each(&mut run);
    Box::new(run)
}

/// 64 sessions in a `MemoryStore`, and their tokens.
pub fn memory_store() -> (MemoryStore, Vec<String>) {
    let store = MemoryStore::new();
    let tokens = (0..TOKENS)
        .map(|i| {
            let issued = store.create_now(&format!("user-{i}"), (), CreateOptions::default());
            issued.unwrap().token.as_str().to_owned()
        })
        .collect();
    (store, tokens)
}

/// The inner service: 200 when the layer left an `E`, 500 otherwise.
fn inner<E, T>() -> impl Service<Request<()>, Response = T, Error = Infallible> + Clone
where
    E: Send + Sync + 'static,
    T: From<Response<()>>,
{
    tower::service_fn(|req: Request<()>| {
        let mut response = Response::new(());
        if req.extensions().get::<E>().is_none() {
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        }
        ready(Ok(T::from(response)))
    })
}

/// `svc` called once per request, the request made from the token's header value.
fn through<S>(mut svc: S, tokens: &[String], status: fn(&S::Response) -> StatusCode) -> Run
where
    S: Service<Request<()>> + 'static,
    S::Error: Debug,
{
    let headers: Vec<HeaderValue> = tokens
        .iter()
        .map(|t| HeaderValue::try_from(format!("Bearer {t}")).unwrap())
        .collect();
    let mut run = move |i: usize| {
        let mut req = Request::new(());
        req.headers_mut().insert(AUTHORIZATION, headers[i].clone());
        let ready = svc.ready().now_or_never().expect("ready at once").unwrap();
        let response = ready
            .call(req)
            .now_or_never()
            .expect("answered at once")
            .unwrap();
        assert_eq!(status(&response), StatusCode::OK, "a token is refused");
        black_box(response);
    };
    // Every token accepted once before anything is measured (and the caches warmed).
    (0..TOKENS).for_each(&mut run);
    Box::new(run)
}

/// tower-bearer's layer over `resolver`.
pub fn bearer<R>(resolver: R, tokens: &[String]) -> Run
where
    R: SessionResolver + 'static,
{
    let svc = BearerLayer::new(resolver).layer(inner::<R::Session, Response<()>>());
    through(svc, tokens, |r| r.status())
}

/// No authentication: the inner service alone (told to look for nothing it will miss).
pub fn no_auth(tokens: &[String]) -> Run {
    let svc = tower::service_fn(|_: Request<()>| ready(Ok::<_, Infallible>(Response::new(()))));
    through(svc, tokens, |r| r.status())
}

/// jwt-authorizer's inner service must answer a type its errors convert into.
struct JaResponse(Response<()>);

impl From<Response<()>> for JaResponse {
    fn from(response: Response<()>) -> Self {
        JaResponse(response)
    }
}

impl From<jwt_authorizer::AuthError> for JaResponse {
    fn from(_: jwt_authorizer::AuthError) -> Self {
        let mut response = Response::new(());
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        JaResponse(response)
    }
}

/// jwt-authorizer's layer, the key from its PEM, `iss` and `aud` checked, its default claims.
pub fn jwt_authorizer(f: &Fixture) -> Run {
    use jwt_authorizer::{IntoLayer, JwtAuthorizer, RegisteredClaims, Validation};
    let builder = match f.alg {
        crate::fixtures::Alg::EdDSA => JwtAuthorizer::<RegisteredClaims>::from_ed_pem_text(&f.pem),
        crate::fixtures::Alg::ES256 => JwtAuthorizer::from_ec_pem_text(&f.pem),
        _ => JwtAuthorizer::from_rsa_pem_text(&f.pem),
    };
    let authorizer = builder
        .validation(Validation::new().iss(&[ISS]).aud(&[AUD]))
        .build()
        .now_or_never()
        .expect("built at once")
        .unwrap();
    let layer = [authorizer].into_layer();
    let svc = layer.layer(inner::<jsonwebtoken::TokenData<RegisteredClaims>, JaResponse>());
    through(svc, &f.tokens, |r| r.0.status())
}

/// The claims a jsonwebtoken user would write.
#[derive(Clone, serde::Deserialize)]
#[allow(dead_code)]
struct PeerClaims {
    sub: String,
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
}

/// tower-http's `AsyncRequireAuthorization`, `jsonwebtoken::decode` in its authorizer, the
/// claims inserted; its future `Ready`, no box.
pub fn jsonwebtoken_tower_http(f: &Fixture) -> Run {
    let mut validation = jsonwebtoken::Validation::new(match f.alg {
        crate::fixtures::Alg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        crate::fixtures::Alg::ES256 => jsonwebtoken::Algorithm::ES256,
        crate::fixtures::Alg::RS256 => jsonwebtoken::Algorithm::RS256,
        crate::fixtures::Alg::PS256 => jsonwebtoken::Algorithm::PS256,
    });
    validation.set_issuer(&[ISS]);
    validation.set_audience(&[AUD]);
    let key = Arc::new((f.decoding.clone(), validation));
    let authorize = move |mut req: Request<()>| {
        let token = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let claims = token
            .and_then(|t| t.strip_prefix("Bearer "))
            .and_then(|t| jsonwebtoken::decode::<PeerClaims>(t, &key.0, &key.1).ok());
        ready(match claims {
            Some(data) => {
                req.extensions_mut().insert(data.claims);
                Ok(req)
            }
            None => {
                let mut response = Response::new(());
                *response.status_mut() = StatusCode::UNAUTHORIZED;
                Err(response)
            }
        })
    };
    let layer = tower_http::auth::AsyncRequireAuthorizationLayer::new(authorize);
    let svc = layer.layer(inner::<PeerClaims, Response<()>>());
    through(svc, &f.tokens, |r| r.status())
}
