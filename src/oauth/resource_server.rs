//! [`ResourceServer`]: one value that sets up what an OAuth 2 resource server, and an MCP
//! server in particular, must do: serve RFC 9728 metadata, name it and the needed scopes in
//! every challenge, take tokens from the `Authorization` header only, accept only tokens issued
//! for this resource (RFC 8707 audience), and refuse the rest with the exact challenge.

use std::sync::Arc;

use super::claims::Claims;
use super::policy::AccessPolicy;
use crate::protected_resource::{ProtectedResourceMetadata, ResourceError};
use crate::{BearerLayer, SessionResolver};

/// A protected resource: its metadata and the policy its tokens must pass. Build the resolver
/// from it (so the audience is the resource), then the layer.
///
/// ```
/// use tower_bearer::oauth::ResourceServer;
///
/// # fn run() -> Result<(), tower_bearer::BoxError> {
/// let mcp = ResourceServer::new("https://api.example/mcp", "https://auth.example")?
///     .scopes(["mcp:tools"]);
/// // The issuer's keys by OpenID discovery; `aud` must name https://api.example/mcp.
/// let resolver = mcp.jwt_resolver::<serde_json::Map<String, serde_json::Value>>()
///     .issuer_url("https://auth.example")?;
/// let layer = mcp.layer(resolver);
/// // app.layer(layer): the metadata at /.well-known/oauth-protected-resource/mcp, and
/// // 401 `Bearer scope="mcp:tools", resource_metadata="…"` without a token.
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ResourceServer {
    metadata: ProtectedResourceMetadata,
    policy: AccessPolicy,
}

impl ResourceServer {
    /// The resource `resource` (its canonical URI, as clients name it: never derived from a
    /// request's `Host`), whose tokens `authorization_server` issues.
    pub fn new(
        resource: impl Into<String>,
        authorization_server: impl Into<String>,
    ) -> Result<Self, ResourceError> {
        Ok(ResourceServer {
            metadata: ProtectedResourceMetadata::new(resource)?
                .authorization_server(authorization_server),
            policy: AccessPolicy::new(),
        })
    }

    /// Scopes every token must grant: advertised in the metadata's `scopes_supported`, named
    /// in every `401` and in the `403 insufficient_scope` of a token without them.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        self.policy = self.policy.require_scopes(scopes.iter().cloned());
        let mut supported = self.metadata.scopes_supported.clone();
        for scope in scopes {
            if !supported.contains(&scope) {
                supported.push(scope);
            }
        }
        self.metadata = self.metadata.scopes_supported(supported);
        self
    }

    /// The whole policy (scope hierarchy, step-up), in place of the one [`scopes`](Self::scopes)
    /// builds.
    pub fn policy(mut self, policy: AccessPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The metadata, to set more of its members.
    pub fn metadata_mut(&mut self) -> &mut ProtectedResourceMetadata {
        &mut self.metadata
    }

    /// The metadata as it will be served.
    pub fn metadata(&self) -> &ProtectedResourceMetadata {
        &self.metadata
    }

    /// A [`JwtResolver`](super::JwtResolver) builder whose audience is this resource.
    #[cfg(feature = "jwt")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
    pub fn jwt_resolver<T>(&self) -> super::JwtResolverBuilder<T> {
        super::JwtResolver::builder().audience(self.metadata.resource.clone())
    }

    /// An [`IntrospectionResolver`](super::IntrospectionResolver) builder for `endpoint` whose
    /// audience is this resource.
    #[cfg(feature = "introspection")]
    #[cfg_attr(docsrs, doc(cfg(feature = "introspection")))]
    pub fn introspection_resolver<T>(
        &self,
        endpoint: impl Into<String>,
    ) -> super::IntrospectionResolverBuilder<T> {
        super::IntrospectionResolver::builder(endpoint).audience(self.metadata.resource.clone())
    }

    /// The layer: `resolver`'s tokens from the `Authorization` header alone (MCP forbids the
    /// query string), the metadata served and named in every challenge, the required scopes
    /// in every `401`, and the policy checked on every verified token.
    pub fn layer<R, T>(&self, resolver: R) -> BearerLayer<R>
    where
        R: SessionResolver<Session = Arc<Claims<T>>>,
        T: Send + Sync + 'static,
    {
        let policy = self.policy.clone();
        #[allow(clippy::result_large_err)] // as `AccessPolicy::check`
        let check = move |claims: &Arc<Claims<T>>| policy.check(claims);
        let mut layer = BearerLayer::new(resolver)
            .protected_resource(self.metadata.clone())
            .authorize(check);
        if let Some(scope) = self.policy.scope() {
            layer = layer.challenge_scope(scope);
        }
        layer
    }
}
