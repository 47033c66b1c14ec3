//! [`BearerLayer`]'s RFC 9728 settings: the protected resource metadata it serves and names in
//! its challenges, and the scopes its `401`s tell a client to ask for.

use std::sync::Arc;

use super::BearerLayer;
use crate::rejection::challenge::{is_scope_char, sanitize};
use crate::rejection::reason::Challenges;
use crate::resolver::SessionResolver;

impl<R: SessionResolver> BearerLayer<R> {
    /// The scopes a client should ask for, named in the layer's `401` challenges
    /// (`scope="files:read files:write"`), so that a client without a token, or with a bad
    /// one, asks its authorization server for all of them at once. Checking that a token has
    /// them is [`authorize`](Self::authorize)'s.
    pub fn challenge_scope(mut self, scope: impl Into<String>) -> Self {
        let scope = sanitize(scope.into().into(), is_scope_char);
        let config = self.config_mut();
        let mut decorations = config.challenges.decorations().clone();
        decorations.scope = Some(Arc::from(&*scope));
        config.challenges = Challenges::new(decorations);
        config.custom_shape = true;
        self
    }

    /// Serves RFC 9728 protected resource metadata and names it in every challenge.
    ///
    /// - The layer answers `GET`, `HEAD` and `OPTIONS` (CORS, `Access-Control-Allow-Origin:
    ///   *`) at the metadata's path-inserted well-known path
    ///   (`/.well-known/oauth-protected-resource/mcp` for `https://api.example/mcp`) and at
    ///   the root one, without a token: the layer cannot stand in front of its own document.
    /// - Every `400`, `401` and `403` it sends, and every refusal of a
    ///   [`RequireSessionLayer`](crate::RequireSessionLayer) or axum requirement behind it,
    ///   carries `resource_metadata="<the document's URL>"`, also under a custom
    ///   [`on_rejection`](Self::on_rejection) body.
    /// - `bearer_methods_supported` follows the layer's token sources (`header`, and `query`
    ///   and `body` when those sources are on), unless the metadata sets it.
    ///
    /// ```
    /// use tower_bearer::protected_resource::ProtectedResourceMetadata;
    /// use tower_bearer::{resolver_fn, BearerLayer, BearerToken};
    ///
    /// let metadata = ProtectedResourceMetadata::new("https://api.example/mcp")?
    ///     .authorization_server("https://auth.example")
    ///     .scopes_supported(["files:read"]);
    /// let layer = BearerLayer::new(resolver_fn(|_: BearerToken<'_>| async {
    ///     Ok::<Option<()>, std::io::Error>(None)
    /// }))
    /// .protected_resource(metadata)
    /// .challenge_scope("files:read");
    /// # let _ = layer;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "protected-resource")]
    #[cfg_attr(docsrs, doc(cfg(feature = "protected-resource")))]
    pub fn protected_resource(
        mut self,
        metadata: crate::protected_resource::ProtectedResourceMetadata,
    ) -> Self {
        let served = crate::protected_resource::Served::new(metadata);
        let config = self.config_mut();
        let mut decorations = config.challenges.decorations().clone();
        decorations.resource_metadata = Some(served.url.clone());
        config.challenges = Challenges::new(decorations);
        config.resource = Some(served);
        config.custom_shape = true;
        self.with_bearer_methods()
    }

    /// The served metadata's `bearer_methods_supported`, from the token sources as they are
    /// now; called again whenever a source is turned on.
    #[cfg(feature = "protected-resource")]
    pub(super) fn with_bearer_methods(mut self) -> Self {
        let config = self.config_mut();
        if let Some(served) = &config.resource {
            let sources = config.sources.as_deref();
            let mut methods = vec!["header".to_owned()];
            if sources.is_some_and(|s| s.form) {
                methods.push("body".to_owned());
            }
            if sources.is_some_and(|s| s.query.is_some()) {
                methods.push("query".to_owned());
            }
            config.resource = Some(served.with_bearer_methods(methods));
        }
        self
    }

    /// Without metadata to serve, nothing to update.
    #[cfg(not(feature = "protected-resource"))]
    pub(super) fn with_bearer_methods(self) -> Self {
        self
    }
}
