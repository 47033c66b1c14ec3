//! [`JwtOr`]: one layer for both kinds of token a better-auth user holds: JWT-shaped tokens to
//! a [`JwtResolver`](crate::oauth::JwtResolver), every other token to another resolver.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::jws::looks_like_jwt;
use crate::{BearerToken, BoxError, SessionResolver};

/// Sends a token that has the shape of a JWT (three base64url segments, the first a JSON
/// object) to `jwt`, and any other token to `other`, so that a better-auth user's session
/// token and the JWT it fetched both work behind one layer. Each token is resolved once, by
/// one of the two; handlers get a [`Verified`].
///
/// ```
/// use serde_json::json;
/// use tower_bearer::oauth::{JwtOr, JwtResolver, Key, KeySet, Verified};
/// use tower_bearer::store::MemoryStore;
/// use tower_bearer::BearerLayer;
///
/// let key = Key::from_jwk(&json!({
///     "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
/// })).unwrap();
/// let jwt: JwtResolver = JwtResolver::builder()
///     .audience("https://api.example")
///     .keys(KeySet::new([key]))
///     .unwrap();
/// let layer = BearerLayer::new(JwtOr::new(jwt, MemoryStore::new()));
/// // Handlers read `Verified<Arc<Claims>, Arc<Session>>` from the extensions.
/// # let _ = layer;
/// ```
#[derive(Clone, Debug)]
pub struct JwtOr<J, O> {
    jwt: J,
    other: O,
}

impl<J, O> JwtOr<J, O> {
    /// JWTs to `jwt`, everything else to `other`.
    pub fn new(jwt: J, other: O) -> Self {
        JwtOr { jwt, other }
    }
}

/// The session behind a token that [`JwtOr`] resolved: the JWT resolver's or the other's.
#[derive(Clone, Debug)]
pub enum Verified<J, O> {
    /// A JWT's verified claims.
    Jwt(J),
    /// The other resolver's session (an opaque session token's).
    Other(O),
}

pin_project! {
    /// The future of [`JwtOr`]'s resolutions.
    pub struct RouteFuture<J, O> {
        #[pin]
        route: Route<J, O>,
    }
}

pin_project! {
    #[project = RouteProj]
    enum Route<J, O> {
        Jwt { #[pin] future: J },
        Other { #[pin] future: O },
    }
}

impl<J, O> std::fmt::Debug for RouteFuture<J, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.route {
            Route::Jwt { .. } => "RouteFuture::Jwt",
            Route::Other { .. } => "RouteFuture::Other",
        })
    }
}

type Routed<J, O> = Result<
    Option<Verified<<J as SessionResolver>::Session, <O as SessionResolver>::Session>>,
    BoxError,
>;

fn lift<T, E: Into<BoxError>, V>(
    answer: Result<Option<T>, E>,
    wrap: impl FnOnce(T) -> V,
) -> Result<Option<V>, BoxError> {
    answer.map(|found| found.map(wrap)).map_err(Into::into)
}

impl<JF, OF, JS, OS, JE, OE> Future for RouteFuture<JF, OF>
where
    JF: Future<Output = Result<Option<JS>, JE>>,
    OF: Future<Output = Result<Option<OS>, OE>>,
    JE: Into<BoxError>,
    OE: Into<BoxError>,
{
    type Output = Result<Option<Verified<JS, OS>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().route.project() {
            RouteProj::Jwt { future } => future.poll(cx).map(|a| lift(a, Verified::Jwt)),
            RouteProj::Other { future } => future.poll(cx).map(|a| lift(a, Verified::Other)),
        }
    }
}

impl<J: SessionResolver, O: SessionResolver> SessionResolver for JwtOr<J, O> {
    type Session = Verified<J::Session, O::Session>;
    type Error = BoxError;
    type Future = RouteFuture<J::Future, O::Future>;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        match looks_like_jwt(token.as_str()) {
            true => RouteFuture {
                route: Route::Jwt {
                    future: self.jwt.resolve(token),
                },
            },
            false => RouteFuture {
                route: Route::Other {
                    future: self.other.resolve(token),
                },
            },
        }
    }

    fn resolve_ready(&self, token: BearerToken<'_>) -> Option<Routed<J, O>> {
        match looks_like_jwt(token.as_str()) {
            true => Some(lift(self.jwt.resolve_ready(token)?, Verified::Jwt)),
            false => Some(lift(self.other.resolve_ready(token)?, Verified::Other)),
        }
    }

    /// Both know only `b64token`s: then so does the pair.
    fn knows_only_b64tokens(&self) -> bool {
        self.jwt.knows_only_b64tokens() && self.other.knows_only_b64tokens()
    }
}

impl<J, O> JwtOr<J, O> {
    /// The pair for two resolvers of one session type (a [`JwtResolver`](crate::oauth::JwtResolver)
    /// and an [`IntrospectionResolver`](crate::oauth::IntrospectionResolver), both
    /// `Arc<Claims<T>>`): handlers get the session itself rather than a [`Verified`], and a
    /// [`ResourceServer`](crate::oauth::ResourceServer)'s policy applies to both.
    pub fn unified(self) -> Unified<J, O> {
        Unified(self)
    }
}

/// [`JwtOr`] over two resolvers of one session type, which it hands over as it is; see
/// [`JwtOr::unified`].
#[derive(Clone, Debug)]
pub struct Unified<J, O>(JwtOr<J, O>);

pin_project! {
    /// The future of [`Unified`]'s resolutions.
    pub struct UnifiedFuture<J, O> {
        #[pin]
        inner: RouteFuture<J, O>,
    }
}

impl<J, O> std::fmt::Debug for UnifiedFuture<J, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl<T> Verified<T, T> {
    /// The session, whichever resolver found it.
    pub fn into_inner(self) -> T {
        match self {
            Verified::Jwt(session) | Verified::Other(session) => session,
        }
    }
}

impl<JF, OF, S, JE, OE> Future for UnifiedFuture<JF, OF>
where
    JF: Future<Output = Result<Option<S>, JE>>,
    OF: Future<Output = Result<Option<S>, OE>>,
    JE: Into<BoxError>,
    OE: Into<BoxError>,
{
    type Output = Result<Option<S>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll(cx)
            .map(|answer| answer.map(|found| found.map(Verified::into_inner)))
    }
}

impl<J, O> SessionResolver for Unified<J, O>
where
    J: SessionResolver,
    O: SessionResolver<Session = J::Session>,
{
    type Session = J::Session;
    type Error = BoxError;
    type Future = UnifiedFuture<J::Future, O::Future>;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        UnifiedFuture {
            inner: self.0.resolve(token),
        }
    }

    fn resolve_ready(
        &self,
        token: BearerToken<'_>,
    ) -> Option<Result<Option<J::Session>, BoxError>> {
        let answer = self.0.resolve_ready(token)?;
        Some(answer.map(|found| found.map(Verified::into_inner)))
    }

    fn knows_only_b64tokens(&self) -> bool {
        self.0.knows_only_b64tokens()
    }
}
