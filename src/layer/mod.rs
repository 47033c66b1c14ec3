//! The middleware: [`BearerLayer`] here, the [`Bearer`] service it builds, the
//! [`ResponseFuture`](future::ResponseFuture) that service returns, and the decision all three
//! carry out (`decision/`: exempt or not, the token, the resolver's answer, admit or refuse). The
//! layer's settings are in `settings.rs` and `sources.rs`; the request as a check sees it in
//! `head.rs`. Why and how a request is refused is in `crate::rejection`, the token's grammar in
//! `crate::token`.
//!
//! Arrows run one way: this file builds the service (`build`, `Bearer::new`, `Bearer::layer`),
//! the service calls the decision and hands the future on, and the shared `Config` sits in
//! `decision/`, below them all.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use crate::metrics::LayerMetrics;
use crate::rejection::reason::{Challenges, Decorations};
use crate::resolver::SessionResolver;
use crate::token::{TokenChars, DEFAULT_MAX_TOKEN_LEN};
use crate::trace::short_type_name;

mod decision;
pub mod future;
mod head;
mod resource;
mod service;
mod settings;
mod sources;

pub use decision::Mode;
pub use head::RequestHead;
pub use service::Bearer;

use decision::Config;

/// Authenticates requests by bearer token; builds [`Bearer`] services.
///
/// See the [crate documentation](crate) for what each request gets. The resolver is shared
/// through an [`Arc`], so it needs no `Clone`; cloning the layer is two reference-count bumps.
///
/// ```
/// use std::time::Duration;
/// use tower_bearer::{resolver_fn, BearerLayer, BearerToken, InsufficientScope};
///
/// #[derive(Clone)]
/// struct Session { admin: bool }
///
/// let layer = BearerLayer::new(resolver_fn(|token: BearerToken<'_>| {
///     let admin = token.matches("root");
///     async move { Ok::<_, std::io::Error>(Some(Session { admin })) }
/// }))
/// .realm("api")
/// .timeout(Duration::from_secs(2))
/// .authorize(|s: &Session| if s.admin { Ok(()) } else { Err(InsufficientScope::new("admin")) })
/// .exempt_path_prefix("/grpc.health.v1.Health/")
/// .exempt_path_prefix("/metrics");
/// # let _ = layer;
/// ```
pub struct BearerLayer<R: SessionResolver> {
    resolver: Arc<R>,
    config: Arc<Config<R::Session>>,
}

impl<R: SessionResolver> BearerLayer<R> {
    /// A layer that resolves tokens with `resolver`.
    ///
    /// Defaults: credentials required, no realm, tokens up to 4 KiB, no timeout, CORS
    /// preflights authenticated like any request, empty rejection bodies.
    pub fn new(resolver: R) -> Self {
        Self::from_shared(Arc::new(resolver))
    }

    /// A layer over a resolver that is already shared.
    pub fn from_shared(resolver: Arc<R>) -> Self {
        crate::require::note_session_type::<R::Session>();
        BearerLayer {
            resolver,
            config: Arc::new(Config {
                challenges: Challenges::new(Decorations::default()),
                #[cfg(feature = "protected-resource")]
                resource: None,
                max_token_len: DEFAULT_MAX_TOKEN_LEN,
                token_chars: TokenChars::B64Token,
                timeout: None,
                mode: Mode::Required,
                preflight: None,
                authorize: None,
                exempt: Vec::new(),
                sources: None,
                on_rejection: None,
                custom_shape: false,
                resolver_name: short_type_name::<R>(),
                metrics: LayerMetrics::new(None, short_type_name::<R>()),
            }),
        }
    }

    fn config_mut(&mut self) -> &mut Config<R::Session> {
        Arc::make_mut(&mut self.config)
    }

    /// The resolver.
    pub fn resolver(&self) -> &R {
        &self.resolver
    }

    /// Wraps `inner`: what [`Layer::layer`] does, without `tower::Layer` in scope.
    pub fn build<S>(&self, inner: S) -> Bearer<S, R> {
        Bearer::from_parts(inner, self.resolver.clone(), self.config.clone())
    }
}

impl<R: SessionResolver> Clone for BearerLayer<R> {
    fn clone(&self) -> Self {
        BearerLayer {
            resolver: self.resolver.clone(),
            config: self.config.clone(),
        }
    }
}

impl<R: SessionResolver> fmt::Debug for BearerLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerLayer")
            .field("resolver", &std::any::type_name::<R>())
            .field("config", &self.config)
            .finish()
    }
}

impl<S, R: SessionResolver> Layer<S> for BearerLayer<R> {
    type Service = Bearer<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        self.build(inner)
    }
}

// `Bearer`'s constructors that go through the layer live here, beside the layer, so that the
// layer depends on the service and never the other way round.
impl<S, R: SessionResolver> Bearer<S, R> {
    /// `inner`, with requests authenticated through `resolver` and the layer's defaults.
    pub fn new(inner: S, resolver: R) -> Self {
        BearerLayer::new(resolver).build(inner)
    }
}

impl<R: SessionResolver> Bearer<(), R> {
    /// The layer, as [`BearerLayer::new`]; for tonic's per-service `add_service` without
    /// `tower::Layer` in scope. (On `Bearer<(), R>` alone, so that `Bearer::layer(…)` needs no
    /// service type before `build` names it.)
    ///
    /// ```
    /// use tower_bearer::{store::MemoryStore, Bearer};
    ///
    /// let inner = tower::service_fn(|_: http::Request<()>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(()))
    /// });
    /// // As in `Server::builder().add_service(Bearer::layer(store).build(svc))`:
    /// let service = Bearer::layer(MemoryStore::new()).build(inner);
    /// # let _ = service;
    /// ```
    pub fn layer(resolver: R) -> BearerLayer<R> {
        BearerLayer::new(resolver)
    }
}
