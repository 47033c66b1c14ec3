//! [`SessionResolver`]: the one plug-in point, turning a token into a session.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::BearerToken;

/// The error type resolvers may return: anything that converts into a boxed error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Turns a bearer token into a session.
///
/// The answer is one of three:
/// - `Ok(Some(session))`: the token names a live session;
/// - `Ok(None)`: unknown, expired or revoked; the client gets `401 invalid_token`;
/// - `Err(e)`: the backend failed; the client gets `503` and `e` goes to `tracing`.
///
/// A resolver that must refuse a token with another answer than `401` returns a
/// [`Rejection`](crate::Rejection) as its error (boxed, as any error): a `429` for an API key
/// out of uses, with its `Retry-After`, say. The layer answers with that rejection in its own
/// shape (realm, metadata, gRPC), counts it under its kind, says why at `DEBUG`, and never
/// lets it pass anonymously.
///
/// The trait is async and fallible and assumes nothing about memory, so stores over the network
/// (Redis, SQL, an introspection endpoint) fit it as well as the in-memory one. The future is an
/// associated type, not a boxed trait object. A resolver that has its answer at hand also
/// implements [`resolve_ready`](Self::resolve_ready), and the layer then answers from `call`
/// without allocating; a resolver that must wait has its future, the request and the timer
/// parked in one allocation, which is noise next to the I/O it waits on.
///
/// The future may not borrow the token: a resolver that needs it across an `.await` copies it.
///
/// # Bounds for axum and tonic
///
/// Servers run each request on a multi-threaded runtime, so there the resolver must be
/// `Send + Sync + 'static` and its `Future` `Send + 'static`; `Session` always is
/// `Clone + Send + Sync + 'static`. A layer over a closure has a type that cannot be written
/// down; to keep one in a struct field, erase it with [`BoxResolver`].
/// A resolver's error must not contain the token, because the layer logs it. Compare a token
/// with a known secret by [`BearerToken::matches`] (no early exit) or look it up by hash, never
/// with `==` on strings.
///
/// # Example
///
/// ```
/// use std::future::{ready, Ready};
/// use std::collections::HashMap;
/// use std::convert::Infallible;
/// use std::sync::Arc;
/// use tower_bearer::{BearerToken, SessionResolver};
///
/// #[derive(Clone)]
/// struct User(Arc<str>);
///
/// struct StaticTokens(HashMap<String, User>);
///
/// impl SessionResolver for StaticTokens {
///     type Session = User;
///     type Error = Infallible;
///     type Future = Ready<Result<Option<User>, Infallible>>;
///
///     fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
///         // A lookup by hash: the map hashes the token under a random key before it compares
///         // anything, so how long a guess takes says nothing about how close it came.
///         ready(Ok(self.0.get(token.as_str()).cloned()))
///     }
/// }
/// ```
pub trait SessionResolver {
    /// What a resolved token stands for. It reaches handlers through the request's extensions,
    /// hence the bounds; wrap it in an [`Arc`] to make the per-request clone cheap.
    type Session: Clone + Send + Sync + 'static;
    /// The backend's failure.
    type Error: Into<BoxError>;
    /// The resolution in progress.
    type Future: Future<Output = Result<Option<Self::Session>, Self::Error>>;

    /// Looks the token up.
    fn resolve(&self, token: BearerToken<'_>) -> Self::Future;

    /// Answers at once, without a future, when the answer is at hand; `None` when it is not.
    ///
    /// The layer calls this first and [`resolve`](Self::resolve) only when it returns `None`,
    /// which is the default. A resolver that never waits (an in-memory map, such as
    /// [`MemoryStore`](crate::store::MemoryStore)) overrides it, so its hits and misses skip
    /// the layer's future altogether: the request is not parked, nothing is reference-counted,
    /// and the inner service is called from `call` itself. An override must answer exactly as
    /// `resolve` would; a resolver that waits on I/O keeps the default.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use std::convert::Infallible;
    /// use std::future::{ready, Ready};
    /// use tower_bearer::{BearerToken, SessionResolver};
    ///
    /// struct StaticTokens(HashMap<String, u64>);
    ///
    /// impl SessionResolver for StaticTokens {
    ///     type Session = u64;
    ///     type Error = Infallible;
    ///     type Future = Ready<Result<Option<u64>, Infallible>>;
    ///
    ///     fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
    ///         ready(self.resolve_ready(token).expect("always at hand"))
    ///     }
    ///
    ///     fn resolve_ready(&self, token: BearerToken<'_>) -> Option<Result<Option<u64>, Infallible>> {
    ///         Some(Ok(self.0.get(token.as_str()).copied()))
    ///     }
    /// }
    /// ```
    #[allow(clippy::type_complexity)]
    fn resolve_ready(
        &self,
        token: BearerToken<'_>,
    ) -> Option<Result<Option<Self::Session>, Self::Error>> {
        let _ = token;
        None
    }

    /// Whether every token this resolver answers with a session is an RFC 6750 `b64token`, as
    /// the tokens a store issues itself are. Default `false`.
    ///
    /// When `true`, and the layer reads the `Authorization` header with the default
    /// [`TokenChars::B64Token`](crate::TokenChars::B64Token), the layer checks a token's
    /// characters only when [`resolve_ready`](Self::resolve_ready) does not answer it with a
    /// session: a session found proves the token well-formed, and the characters decide only
    /// between `400` and `401`. Every request is answered exactly as with `false`; a hit just
    /// skips the check. `resolve_ready` may then see a malformed token (it must answer it as
    /// unknown); [`resolve`](Self::resolve) never does.
    fn knows_only_b64tokens(&self) -> bool {
        false
    }
}

impl<R: SessionResolver + ?Sized> SessionResolver for Arc<R> {
    type Session = R::Session;
    type Error = R::Error;
    type Future = R::Future;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        (**self).resolve(token)
    }

    fn resolve_ready(
        &self,
        token: BearerToken<'_>,
    ) -> Option<Result<Option<Self::Session>, Self::Error>> {
        (**self).resolve_ready(token)
    }

    fn knows_only_b64tokens(&self) -> bool {
        (**self).knows_only_b64tokens()
    }
}

impl<R: SessionResolver + ?Sized> SessionResolver for Box<R> {
    type Session = R::Session;
    type Error = R::Error;
    type Future = R::Future;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        (**self).resolve(token)
    }

    fn resolve_ready(
        &self,
        token: BearerToken<'_>,
    ) -> Option<Result<Option<Self::Session>, Self::Error>> {
        (**self).resolve_ready(token)
    }

    fn knows_only_b64tokens(&self) -> bool {
        (**self).knows_only_b64tokens()
    }
}

impl<R: SessionResolver + ?Sized> SessionResolver for &R {
    type Session = R::Session;
    type Error = R::Error;
    type Future = R::Future;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        (**self).resolve(token)
    }

    fn resolve_ready(
        &self,
        token: BearerToken<'_>,
    ) -> Option<Result<Option<Self::Session>, Self::Error>> {
        (**self).resolve_ready(token)
    }

    fn knows_only_b64tokens(&self) -> bool {
        (**self).knows_only_b64tokens()
    }
}

/// Makes a resolver of a closure that returns a future.
///
/// The closure gets the borrowed token and returns a future that must own whatever it needs
/// (the token does not live past the call). Two ways to get there:
///
/// - Use the token in the closure, before the `async move` block, and move only what the
///   lookup needs into it (a flag, a digest, or a copy made with `token.as_str().to_owned()`
///   when a hand-written lookup needs the text itself after an `.await`).
/// - Wrapping another resolver: call its [`resolve`](SessionResolver::resolve) in the closure,
///   which hands back a future that owns its copy, and `.await` that inside the block.
///   (Copying the token and calling `resolve` inside the block does not compile: the future
///   would borrow a local of the block.)
///
/// ```
/// use std::convert::Infallible;
/// use tower_bearer::resolver_fn;
///
/// // The parameter's type is inferred: no `BearerToken<'_>` annotation needed.
/// let resolver = resolver_fn(|token| {
///     let known = token.matches("let-me-in");
///     async move { Ok::<_, Infallible>(known.then(|| "alice".to_string())) }
/// });
/// # let _ = resolver;
/// ```
///
/// An app's own user type over better-auth's sessions: `SqlResolver` (feature
/// `better-auth-sqlite`) wrapped, its session mapped.
///
/// ```no_run
/// # #[cfg(feature = "better-auth-sqlite")]
/// # async fn run() -> Result<(), tower_bearer::BoxError> {
/// use tower_bearer::better_auth::{Signatures, SqlResolver};
/// // `resolve` is the trait's method: the trait must be in scope.
/// use tower_bearer::{resolver_fn, BearerLayer, BoxError, SessionResolver};
///
/// #[derive(Clone)]
/// struct AppUser { id: String, admin: bool }
///
/// let sql = SqlResolver::builder(Signatures::new([std::env::var("BETTER_AUTH_SECRET")?]))
///     .connect("sqlite:///srv/auth/auth.db")
///     .await?;
/// let layer = BearerLayer::new(resolver_fn(move |token| {
///     // Started here, while the token is borrowed; the future owns what it needs.
///     let lookup = sql.resolve(token);
///     async move {
///         let found = lookup.await?;
///         Ok::<_, BoxError>(found.map(|s| AppUser {
///             admin: s.user.has_role("admin"),
///             id: s.user.id,
///         }))
///     }
/// }));
/// // Handlers find an `AppUser` in the extensions (axum: `Authenticated<AppUser>`).
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
pub fn resolver_fn<F, Fut>(f: F) -> ResolverFn<F>
where
    // Bounding the function, not just the impl, is what lets a closure's parameter infer.
    F: Fn(BearerToken<'_>) -> Fut,
{
    ResolverFn { f }
}

/// A resolver made of a closure; see [`resolver_fn`].
#[derive(Clone, Copy)]
pub struct ResolverFn<F> {
    f: F,
}

impl<F> fmt::Debug for ResolverFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolverFn")
            .field("f", &std::any::type_name::<F>())
            .finish()
    }
}

impl<F, Fut, S, E> SessionResolver for ResolverFn<F>
where
    F: Fn(BearerToken<'_>) -> Fut,
    Fut: Future<Output = Result<Option<S>, E>>,
    S: Clone + Send + Sync + 'static,
    E: Into<BoxError>,
{
    type Session = S;
    type Error = E;
    type Future = Fut;

    fn resolve(&self, token: BearerToken<'_>) -> Fut {
        (self.f)(token)
    }
}

/// A resolver with its type erased: `BearerLayer<BoxResolver<User>>` can be named, stored in a
/// struct, and swapped at run time. Its future is boxed, one allocation per lookup that waits;
/// [`resolve_ready`](SessionResolver::resolve_ready) is kept, so an in-memory store still
/// answers without one.
///
/// ```
/// use std::convert::Infallible;
/// use tower_bearer::{resolver_fn, BearerLayer, BoxResolver};
///
/// #[derive(Clone)]
/// struct User(String);
///
/// struct App {
///     auth: BearerLayer<BoxResolver<User>>,
/// }
///
/// let app = App {
///     auth: BearerLayer::new(BoxResolver::new(resolver_fn(|token| {
///         let user = token.matches("s3cr3t").then(|| User("alice".into()));
///         async move { Ok::<_, Infallible>(user) }
///     }))),
/// };
/// # let _ = app.auth;
/// ```
pub struct BoxResolver<S> {
    inner: Arc<dyn ErasedResolver<S>>,
}

type BoxFuture<S> = Pin<Box<dyn Future<Output = Result<Option<S>, BoxError>> + Send>>;

trait ErasedResolver<S>: Send + Sync {
    fn resolve(&self, token: BearerToken<'_>) -> BoxFuture<S>;
    fn resolve_ready(&self, token: BearerToken<'_>) -> Option<Result<Option<S>, BoxError>>;
    fn knows_only_b64tokens(&self) -> bool;
}

impl<R> ErasedResolver<R::Session> for R
where
    R: SessionResolver + Send + Sync,
    R::Future: Send + 'static,
{
    fn resolve(&self, token: BearerToken<'_>) -> BoxFuture<R::Session> {
        let future = SessionResolver::resolve(self, token);
        Box::pin(async move { future.await.map_err(Into::into) })
    }

    fn resolve_ready(
        &self,
        token: BearerToken<'_>,
    ) -> Option<Result<Option<R::Session>, BoxError>> {
        SessionResolver::resolve_ready(self, token).map(|outcome| outcome.map_err(Into::into))
    }

    fn knows_only_b64tokens(&self) -> bool {
        SessionResolver::knows_only_b64tokens(self)
    }
}

impl<S: Clone + Send + Sync + 'static> BoxResolver<S> {
    /// Erases `resolver`'s type.
    pub fn new<R>(resolver: R) -> Self
    where
        R: SessionResolver<Session = S> + Send + Sync + 'static,
        R::Future: Send + 'static,
    {
        BoxResolver {
            inner: Arc::new(resolver),
        }
    }
}

impl<S> Clone for BoxResolver<S> {
    fn clone(&self) -> Self {
        BoxResolver {
            inner: self.inner.clone(),
        }
    }
}

impl<S> fmt::Debug for BoxResolver<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxResolver").finish_non_exhaustive()
    }
}

impl<S: Clone + Send + Sync + 'static> SessionResolver for BoxResolver<S> {
    type Session = S;
    type Error = BoxError;
    type Future = BoxFuture<S>;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        self.inner.resolve(token)
    }

    fn resolve_ready(&self, token: BearerToken<'_>) -> Option<Result<Option<S>, BoxError>> {
        self.inner.resolve_ready(token)
    }

    fn knows_only_b64tokens(&self) -> bool {
        self.inner.knows_only_b64tokens()
    }
}
