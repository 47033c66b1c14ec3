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
