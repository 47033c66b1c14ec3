//! The client side of DPoP: [`DpopClientLayer`] sends the [`SharedToken`] as
//! `Authorization: DPoP …` with a fresh proof signed by a [`DpopKey`] on every request, and
//! answers a server's `use_dpop_nonce` by sending the request once more with the nonce.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use http::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode, Uri};
use tower_layer::Layer;
use tower_service::Service;

use super::challenge::DPOP_NONCE;
use super::gate::DPOP;
use super::normalize_htu;
use crate::client::SharedToken;
use crate::resolver::BoxError;

pub use super::client_key::{DpopKey, InvalidDpopKey};

/// The longest `DPoP-Nonce` remembered; a longer one is ignored.
const MAX_NONCE_LEN: usize = 1024;
/// The most origins whose nonce is remembered at once; past it, all are forgotten.
const MAX_ORIGINS: usize = 64;

/// A request with a token to send whose URI is not an absolute `http(s)` URI (it is in
/// origin-form, `/things`) while no [`origin`](DpopClientLayer::origin) is configured: the
/// proof's `htu` cannot be known, so the request is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingOrigin;

impl fmt::Display for MissingOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "DPoP: the request URI is not an absolute http(s) URI and no origin is configured",
        )
    }
}

impl std::error::Error for MissingOrigin {}

/// The last `DPoP-Nonce` each origin sent, shared by every clone of the layer and its
/// services.
#[derive(Clone, Default)]
struct NonceMemory(Arc<Mutex<HashMap<String, String>>>);

impl NonceMemory {
    fn get(&self, origin: &str) -> Option<String> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(origin).cloned()
    }

    /// Remembers the response's `DPoP-Nonce`, if it has a well-formed one; returns it.
    fn learn<B>(&self, origin: &str, response: &Response<B>) -> Option<String> {
        let nonce = response.headers().get(DPOP_NONCE)?.to_str().ok()?;
        // RFC 9449 §8.1: nonce = 1*NQCHAR.
        let nqchar = |b: u8| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E);
        if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN || !nonce.bytes().all(nqchar) {
            return None;
        }
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ORIGINS && !map.contains_key(origin) {
            map.clear();
        }
        map.insert(origin.to_owned(), nonce.to_owned());
        Some(nonce.to_owned())
    }
}

/// Sends the [`SharedToken`] as a DPoP-bound token (RFC 9449); builds [`AddDpop`].
///
/// For each request that has no `Authorization` header of its own while a token is set:
///
/// - `Authorization: DPoP <token>` (marked sensitive), and a `DPoP` header with a fresh
///   proof by the [`DpopKey`]: a new `jti`, `htm` the request's method, `htu` its URI without
///   the query, `iat` now, `ath` the token's hash, and the server's last nonce if it sent one;
/// - every response's `DPoP-Nonce` is remembered for its origin, by every clone, and goes
///   into the next proofs to that origin;
/// - a `401` whose `WWW-Authenticate` has `DPoP error="use_dpop_nonce"` and which carries a
///   new `DPoP-Nonce` is retried **once**, with a new proof carrying that nonce. The caller
///   sees the retry's answer.
///
/// The retry sends the request again, so the service needs `ReqBody: Clone`
/// (`http_body_util::Full<Bytes>`, `Empty<Bytes>`, `String` and `()` are) and an inner
/// service that is `Clone` (hyper-util's `Client` and tonic's `Channel` are): the request is
/// cloned before it is sent, and the retry goes to a clone of the inner service made ready
/// in the response future. A request without a token (or with an `Authorization` of its
/// own) passes as it is, and is never retried.
///
/// `htu` comes from the request's URI when it is absolute (`https://api.example/things`, as
/// hyper-util's `Client` needs anyway); for a request in origin-form (`/things`), from the
/// [`origin`](Self::origin) configured. Without either, the request fails with
/// [`MissingOrigin`]; hence the service's error is a [`BoxError`] (the inner service's
/// error, boxed, otherwise).
///
/// ```
/// use std::convert::Infallible;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use http::{header::AUTHORIZATION, Request, Response, StatusCode};
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
/// use tower_bearer::client::SharedToken;
/// use tower_bearer::dpop::{check_proof, DpopClientLayer, DpopKey, ProofRequest, ProofSettings};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // A server that wants its nonce in every proof.
/// let calls = Arc::new(AtomicUsize::new(0));
/// let seen = calls.clone();
/// let server = service_fn(move |req: Request<()>| {
///     seen.fetch_add(1, Ordering::SeqCst);
///     let auth = req.headers()[AUTHORIZATION].to_str().unwrap().to_owned();
///     let proof = req.headers()["dpop"].to_str().unwrap().to_owned();
///     async move {
///         let request = ProofRequest {
///             method: "GET",
///             uri: "https://api.example/things",
///             access_token: auth.strip_prefix("DPoP "),
///             now: std::time::SystemTime::now()
///                 .duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64,
///         };
///         let proof = check_proof(&proof, &request, &ProofSettings::new()).unwrap();
///         let answer = if proof.nonce.as_deref() == Some("n-1") {
///             Response::new(())
///         } else {
///             Response::builder()
///                 .status(StatusCode::UNAUTHORIZED)
///                 .header("www-authenticate", r#"DPoP error="use_dpop_nonce""#)
///                 .header("dpop-nonce", "n-1")
///                 .body(())
///                 .unwrap()
///         };
///         Ok::<_, Infallible>(answer)
///     }
/// });
///
/// let token = SharedToken::new();
/// token.set("a-dpop-bound-token").unwrap();
/// let client = ServiceBuilder::new()
///     .layer(DpopClientLayer::new(DpopKey::generate_es256(), token))
///     .service(server);
///
/// let request = Request::get("https://api.example/things?page=2").body(()).unwrap();
/// let response = client.clone().oneshot(request).await.unwrap();
/// assert_eq!(response.status(), StatusCode::OK);
/// assert_eq!(calls.load(Ordering::SeqCst), 2); // the nonce, learned on the way
///
/// let request = Request::get("https://api.example/things").body(()).unwrap();
/// assert_eq!(client.oneshot(request).await.unwrap().status(), StatusCode::OK);
/// assert_eq!(calls.load(Ordering::SeqCst), 3); // sent with the nonce at once
/// # }
/// ```
#[derive(Clone)]
pub struct DpopClientLayer {
    key: DpopKey,
    token: SharedToken,
    origin: Option<Arc<str>>,
    nonces: NonceMemory,
}

impl DpopClientLayer {
    /// Sends `token` with proofs signed by `key`. Clones of the layer, and the services it
    /// builds, share the nonces learned.
    pub fn new(key: DpopKey, token: SharedToken) -> Self {
        DpopClientLayer {
            key,
            token,
            origin: None,
            nonces: NonceMemory::default(),
        }
    }

    /// The origin (`https://api.example`, `http://127.0.0.1:8080`) of the requests whose URI
    /// is in origin-form (`/things`): their proofs' `htu` is this origin and the path. A
    /// request with an absolute URI uses its own. Refused: anything but an `http(s)` origin
    /// without path, query or user info.
    ///
    /// ```
    /// use tower_bearer::client::SharedToken;
    /// use tower_bearer::dpop::{DpopClientLayer, DpopKey};
    ///
    /// let layer = DpopClientLayer::new(DpopKey::generate_ed25519(), SharedToken::new());
    /// assert!(layer.clone().origin("https://API.example:443").is_ok());
    /// assert!(layer.origin("https://api.example/v1").is_err());
    /// ```
    pub fn origin(mut self, origin: &str) -> Result<Self, BoxError> {
        let normalized = normalize_htu(origin)
            .filter(|n| n.matches('/').count() == 3 && n.ends_with('/') && !origin.contains(['?', '#']))
            .ok_or_else(|| {
                format!(
                    "DpopClientLayer::origin: {origin:?} is not an http(s) origin (scheme://host[:port])"
                )
            })?;
        self.origin = Some(normalized.trim_end_matches('/').into());
        Ok(self)
    }

    /// The key the proofs are signed with.
    pub fn key(&self) -> &DpopKey {
        &self.key
    }
}

impl fmt::Debug for DpopClientLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopClientLayer")
            .field("key", &self.key)
            .field("token", &self.token)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for DpopClientLayer {
    type Service = AddDpop<S>;

    fn layer(&self, inner: S) -> AddDpop<S> {
        AddDpop {
            inner,
            layer: self.clone(),
        }
    }
}

/// Adds `Authorization: DPoP …` and a proof to requests, and retries once with the server's
/// nonce; see [`DpopClientLayer`].
#[derive(Clone)]
pub struct AddDpop<S> {
    inner: S,
    layer: DpopClientLayer,
}

impl<S> AddDpop<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The normalised origin (`https://api.example`) of a request's URI, or the one
    /// configured for a URI in origin-form.
    fn origin_of(&self, uri: &Uri) -> Option<String> {
        match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(authority)) => {
                // Without any user info: the host and the port only.
                let port = authority
                    .port()
                    .map(|p| format!(":{p}"))
                    .unwrap_or_default();
                let origin = format!("{scheme}://{}{port}", authority.host());
                let normalized = normalize_htu(&origin)?;
                Some(normalized.trim_end_matches('/').to_owned())
            }
            _ => self.layer.origin.as_deref().map(str::to_owned),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for AddDpop<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddDpop")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AddDpop<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    S::Error: Into<BoxError>,
    ReqBody: Clone,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = AddDpopFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // The service that was made ready takes this call; `self` keeps a fresh clone.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let origin = self.origin_of(req.uri());
        let nonces = self.layer.nonces.clone();
        let header = match req.headers().contains_key(AUTHORIZATION) {
            true => None,
            false => self.layer.token.header(),
        };
        let Some(header) = header else {
            return AddDpopFuture::sent(inner.call(req), None, origin, nonces);
        };
        let Some(origin) = origin else {
            return AddDpopFuture::failed(MissingOrigin.into());
        };
        // The SharedToken holds `Bearer <b64token>`: ASCII, so the slice is text.
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_owned();
        let mut authorization = match HeaderValue::try_from(format!("DPoP {token}")) {
            Ok(value) => value,
            Err(error) => return AddDpopFuture::failed(error.into()),
        };
        authorization.set_sensitive(true);
        let htu = format!("{origin}{}", req.uri().path());
        let nonce = nonces.get(&origin);
        let retry = Retry {
            service: inner.clone(),
            request: None,
            key: self.layer.key.clone(),
            token,
            htu,
            nonce,
        };
        req.headers_mut().insert(AUTHORIZATION, authorization);
        let proof = retry.proof(req.method(), retry.nonce.as_deref());
        req.headers_mut().insert(DPOP, proof);
        let retry = Retry {
            request: Some(req.clone()),
            ..retry
        };
        AddDpopFuture::sent(inner.call(req), Some(retry), Some(origin), nonces)
    }
}

/// What a retry needs: a clone of the service and of the request, and what the new proof
/// says.
struct Retry<S, B> {
    service: S,
    request: Option<Request<B>>,
    key: DpopKey,
    token: String,
    htu: String,
    /// The nonce the first proof carried.
    nonce: Option<String>,
}

impl<S, B> Retry<S, B> {
    fn proof(&self, method: &http::Method, nonce: Option<&str>) -> HeaderValue {
        let proof = self
            .key
            .proof(method.as_str(), &self.htu, Some(&self.token), nonce);
        let mut value = HeaderValue::try_from(proof).expect("a JWS is a header value");
        value.set_sensitive(true);
        value
    }
}

pin_project_lite::pin_project! {
    /// [`AddDpop`]'s response future: the answer, or the answer to the one retry with the
    /// server's nonce.
    pub struct AddDpopFuture<S: Service<Request<B>>, B> {
        #[pin]
        state: State<S, B>,
        origin: Option<String>,
        nonces: NonceMemory,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<S: Service<Request<B>>, B> {
        First { #[pin] future: S::Future, retry: Option<Retry<S, B>> },
        Readying { retry: Option<Retry<S, B>> },
        Second { #[pin] future: S::Future },
        Failed { error: Option<BoxError> },
    }
}

impl<S: Service<Request<B>>, B> AddDpopFuture<S, B> {
    fn sent(
        future: S::Future,
        retry: Option<Retry<S, B>>,
        origin: Option<String>,
        nonces: NonceMemory,
    ) -> Self {
        AddDpopFuture {
            state: State::First { future, retry },
            origin,
            nonces,
        }
    }

    fn failed(error: BoxError) -> Self {
        AddDpopFuture {
            state: State::Failed { error: Some(error) },
            origin: None,
            nonces: NonceMemory::default(),
        }
    }
}

impl<S, B, ResBody> Future for AddDpopFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
{
    type Output = Result<Response<ResBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::First { future, retry } => {
                    let response = ready!(future.poll(cx)).map_err(Into::into)?;
                    let Some(origin) = this.origin.as_deref() else {
                        return Poll::Ready(Ok(response));
                    };
                    let nonce = this.nonces.learn(origin, &response);
                    let Some(mut retry) = retry.take() else {
                        return Poll::Ready(Ok(response));
                    };
                    let asked = nonce
                        .filter(|n| asks_for_nonce(&response) && Some(n) != retry.nonce.as_ref());
                    let (Some(nonce), Some(mut request)) = (asked, retry.request.take()) else {
                        return Poll::Ready(Ok(response));
                    };
                    tracing::debug!("bearer: DPoP use_dpop_nonce: retrying with the nonce");
                    let proof = retry.proof(request.method(), Some(&nonce));
                    request.headers_mut().insert(DPOP, proof);
                    retry.request = Some(request);
                    this.state.set(State::Readying { retry: Some(retry) });
                }
                StateProj::Readying { retry } => {
                    let pending = retry.as_mut().expect("polled after completion");
                    ready!(pending.service.poll_ready(cx)).map_err(Into::into)?;
                    let mut retry = retry.take().expect("polled after completion");
                    let request = retry.request.take().expect("the retry has its request");
                    let future = retry.service.call(request);
                    this.state.set(State::Second { future });
                }
                StateProj::Second { future } => {
                    let response = ready!(future.poll(cx)).map_err(Into::into)?;
                    if let Some(origin) = this.origin.as_deref() {
                        this.nonces.learn(origin, &response);
                    }
                    return Poll::Ready(Ok(response));
                }
                StateProj::Failed { error } => {
                    return Poll::Ready(Err(error.take().expect("polled after completion")));
                }
            }
        }
    }
}

impl<S: Service<Request<B>>, B> fmt::Debug for AddDpopFuture<S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddDpopFuture").finish_non_exhaustive()
    }
}

/// A `401` whose `WWW-Authenticate` holds a `DPoP` challenge with `error="use_dpop_nonce"`.
fn asks_for_nonce<B>(response: &Response<B>) -> bool {
    response.status() == StatusCode::UNAUTHORIZED
        && response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(says_use_dpop_nonce)
}

/// Whether a `WWW-Authenticate` value (one or several challenges, RFC 9110 §11.6.1) has a
/// `DPoP` challenge whose `error` parameter is `use_dpop_nonce`, quoted or not.
fn says_use_dpop_nonce(value: &str) -> bool {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    let mut rest = value;
    let mut in_dpop = false;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let Some(first) = rest.chars().next() else {
            return false;
        };
        let end = rest.find(|c| !tchar(c)).unwrap_or(rest.len());
        if end == 0 {
            // Not a token (a token68's `/`, `=`): skipped.
            rest = &rest[first.len_utf8()..];
            continue;
        }
        let (name, after) = rest.split_at(end);
        let Some(value) = after.trim_start_matches([' ', '\t']).strip_prefix('=') else {
            // A scheme: the parameters that follow are its own.
            in_dpop = name.eq_ignore_ascii_case("dpop");
            rest = after;
            continue;
        };
        let value = value.trim_start_matches([' ', '\t']);
        let (param, next) = match value.strip_prefix('"') {
            Some(quoted) => quoted_string(quoted),
            None => {
                let end = value.find(|c| !tchar(c)).unwrap_or(value.len());
                (value[..end].to_owned(), &value[end..])
            }
        };
        if in_dpop && name.eq_ignore_ascii_case("error") && param == "use_dpop_nonce" {
            return true;
        }
        rest = next;
    }
}

/// A quoted-string's text (escapes undone) and what follows its closing quote; `text` starts
/// after the opening quote. An unterminated one runs to the end.
fn quoted_string(text: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, &text[i + 1..]),
            '\\' => out.extend(chars.next().map(|(_, c)| c)),
            c => out.push(c),
        }
    }
    (out, "")
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
