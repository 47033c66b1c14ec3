//! [`ApiKeyOr`]: API keys and another credential (better-auth's sessions, say) behind one
//! layer, told apart by where the request carried them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::{ApiKey, ApiKeyFuture, ApiKeyResolver};
use crate::{BearerToken, BoxError, SessionResolver, TokenSource};

/// Resolves a token from the layer's [`ApiKeyHeader`](crate::ApiKeyHeader) with an
/// [`ApiKeyResolver`], and every other token (the `Authorization` header's, a cookie's) with
/// `other`: a service that takes better-auth's API keys and its users' sessions. Handlers get
/// a [`Credential`].
///
/// ```no_run
/// # #[cfg(feature = "better-auth-postgres")]
/// # async fn run() -> Result<(), tower_bearer::BoxError> {
/// use tower_bearer::better_auth::{ApiKeyOr, ApiKeyResolver, Credential, Signatures, SqlResolver};
/// use tower_bearer::{ApiKeyHeader, BearerLayer, TokenChars};
///
/// let url = "postgres://app@127.0.0.1/app";
/// let keys = ApiKeyResolver::builder().connect_database(url).await?;
/// let sessions = SqlResolver::builder(Signatures::new([std::env::var("BETTER_AUTH_SECRET")?]))
///     .connect(url)
///     .await?;
/// let layer = BearerLayer::new(ApiKeyOr::new(keys, sessions))
///     .api_key_header(ApiKeyHeader::default())
///     .token_chars(TokenChars::Visible);
/// // A handler: match on `Credential::ApiKey(key)` / `Credential::Other(signed_in)`, or
/// // ask `credential.owner()` for the user's id either way.
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ApiKeyOr<R> {
    keys: ApiKeyResolver,
    other: R,
}

impl<R> ApiKeyOr<R> {
    /// API keys to `keys`, everything else to `other`.
    pub fn new(keys: ApiKeyResolver, other: R) -> Self {
        ApiKeyOr { keys, other }
    }
}

/// What [`ApiKeyOr`] resolved a request's credential to.
#[derive(Clone, Debug)]
pub enum Credential<S> {
    /// A better-auth API key, from the API-key header (shared: a clone is a reference count).
    ApiKey(Arc<ApiKey>),
    /// The other resolver's session.
    Other(S),
}

impl Credential<super::super::BetterAuthSession> {
    /// Whose credential it is: the key's `referenceId` (its owner) or the session's user id.
    pub fn owner(&self) -> &str {
        match self {
            Credential::ApiKey(key) => &key.reference_id,
            Credential::Other(signed_in) => &signed_in.user.id,
        }
    }
}

pin_project! {
    /// The future of [`ApiKeyOr`]'s resolutions.
    pub struct ApiKeyOrFuture<F> {
        #[pin]
        route: Route<F>,
    }
}

pin_project! {
    #[project = RouteProj]
    enum Route<F> {
        ApiKey { #[pin] future: ApiKeyFuture },
        Other { #[pin] future: F },
    }
}

impl<F> std::fmt::Debug for ApiKeyOrFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.route {
            Route::ApiKey { .. } => "ApiKeyOrFuture::ApiKey",
            Route::Other { .. } => "ApiKeyOrFuture::Other",
        })
    }
}

impl<F, S, E> Future for ApiKeyOrFuture<F>
where
    F: Future<Output = Result<Option<S>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Option<Credential<S>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().route.project() {
            RouteProj::ApiKey { future } => future.poll(cx).map(|answer| {
                answer.map(|found| found.map(|key| Credential::ApiKey(Arc::new(key))))
            }),
            RouteProj::Other { future } => future.poll(cx).map(|answer| {
                answer
                    .map(|found| found.map(Credential::Other))
                    .map_err(Into::into)
            }),
        }
    }
}

impl<R: SessionResolver> SessionResolver for ApiKeyOr<R> {
    type Session = Credential<R::Session>;
    type Error = BoxError;
    type Future = ApiKeyOrFuture<R::Future>;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        let route = match token.source() {
            TokenSource::ApiKeyHeader => Route::ApiKey {
                future: self.keys.resolve(token),
            },
            _ => Route::Other {
                future: self.other.resolve(token),
            },
        };
        ApiKeyOrFuture { route }
    }

    fn resolve_ready(
        &self,
        token: BearerToken<'_>,
    ) -> Option<Result<Option<Self::Session>, BoxError>> {
        if token.source() == TokenSource::ApiKeyHeader {
            return None;
        }
        let answer = self.other.resolve_ready(token)?;
        Some(
            answer
                .map(|found| found.map(Credential::Other))
                .map_err(Into::into),
        )
    }
}
