//! [`BetterAuthProvider`]: the set-up for access tokens from better-auth's OAuth 2.1 provider
//! (`@better-auth/oauth-provider` 1.7, which also backs better-auth's MCP support).

use super::resource_server::ResourceServer;
use crate::protected_resource::ResourceError;

/// Accepts the access tokens better-auth's OAuth provider issues for one resource, as that
/// provider issues them:
///
/// - a token requested with RFC 8707's `resource` (and the `jwt` plugin, which the provider
///   requires) is a JWT (`typ: at+jwt`), signed with the `jwt` plugin's keys: verified locally
///   against `<issuer>/jwks`, with `iss` the issuer and `aud` naming this resource
///   ([`jwt_resolver`](Self::jwt_resolver));
/// - a token requested without one is opaque, and checked at `<issuer>/oauth2/introspect` with
///   a client's credentials ([`introspection`](Self::introspection)). better-auth answers
///   `active` for an opaque token only to the client it was issued to (it has no audience),
///   so this path serves tokens of the client whose credentials it holds; clients of other
///   services should ask for a token for this resource, which is a JWT;
/// - both in one layer: [`resolver`](Self::resolver).
///
/// The issuer is better-auth's base URL with its base path: `https://auth.example/api/auth`
/// (the `issuer` of its `/.well-known/oauth-authorization-server/api/auth`). The resource is
/// one of the provider's `resources`, to which the clients are linked.
///
/// Tokens bound to a DPoP key (`token_type: "DPoP"`, `cnf.jkt`) are accepted with their proof
/// once a [`DpopLayer`](crate::dpop::DpopLayer) is in front (feature `dpop`); presented as
/// `Bearer`, they are refused.
///
/// ```no_run
/// # #[cfg(feature = "introspection")]
/// # fn run() -> Result<(), tower_bearer::BoxError> {
/// use tower_bearer::oauth::BetterAuthProvider;
///
/// let provider = BetterAuthProvider::new("https://auth.example/api/auth", "https://api.example/")?
///     .scopes(["read"]);
/// let resolver = provider.resolver::<serde_json::Map<String, serde_json::Value>>(
///     &std::env::var("CLIENT_ID")?,
///     &std::env::var("CLIENT_SECRET")?,
/// )?;
/// // The metadata at /.well-known/oauth-protected-resource, the challenges naming it, `read`
/// // required of every token; handlers get `Arc<Claims>`.
/// let layer = provider.layer(resolver);
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct BetterAuthProvider {
    issuer: String,
    server: ResourceServer,
}

impl BetterAuthProvider {
    /// Tokens `issuer` (`https://auth.example/api/auth`) issues for `resource`.
    pub fn new(
        issuer: impl Into<String>,
        resource: impl Into<String>,
    ) -> Result<Self, ResourceError> {
        let issuer = issuer.into().trim_end_matches('/').to_owned();
        Ok(BetterAuthProvider {
            server: ResourceServer::new(resource, issuer.clone())?,
            issuer,
        })
    }

    /// Scopes every token must grant (see [`ResourceServer::scopes`]).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.server = self.server.scopes(scopes);
        self
    }

    /// The resource server: its metadata and policy, to change them.
    pub fn resource_server_mut(&mut self) -> &mut ResourceServer {
        &mut self.server
    }

    /// The issuer, as tokens name it.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `jwt` plugin's JWKS: `<issuer>/jwks`.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    /// The introspection endpoint: `<issuer>/oauth2/introspect`.
    pub fn introspection_endpoint(&self) -> String {
        format!("{}/oauth2/introspect", self.issuer)
    }

    /// The JWT access tokens: RFC 9068's profile (`typ: at+jwt`, `iss`, `exp`, `aud`, `sub`,
    /// `client_id`, `iat`, `jti`), `iss` the issuer, `aud` this resource, keys from the JWKS.
    #[cfg(feature = "jwt")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
    pub fn jwt_resolver<T>(&self) -> Result<super::JwtResolver<T>, crate::BoxError> {
        self.server
            .jwt_resolver()
            .issuer(self.issuer.clone())
            .access_token_profile(true)
            .jwks_url(&self.jwks_url())
    }

    /// The opaque access tokens, introspected as `client_id` (HTTP Basic, better-auth's default
    /// `client_secret_basic`), with settings for better-auth's endpoint: `iss` the issuer, no
    /// audience (its opaque tokens have none), at most 90 calls a minute (its rate limit is 100
    /// a minute per client address), a 30 s cache (the longest a revoked token is still
    /// accepted), and only tokens of its shape (32 to 128 base64url characters) introspected.
    /// Change any of it on the builder.
    #[cfg(feature = "introspection")]
    #[cfg_attr(docsrs, doc(cfg(feature = "introspection")))]
    pub fn introspection<T>(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> super::IntrospectionResolverBuilder<T> {
        super::IntrospectionResolver::builder(self.introspection_endpoint())
            .client_basic(client_id, client_secret)
            .issuer(self.issuer.clone())
            .any_audience()
            .call_budget(90, std::time::Duration::from_secs(60))
            .cache_ttl(std::time::Duration::from_secs(30))
            .token_shape(|token| {
                (32..=128).contains(&token.len())
                    && token
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    }

    /// Both: JWTs verified locally, opaque tokens introspected as `client_id`.
    #[cfg(all(feature = "jwt", feature = "introspection"))]
    #[cfg_attr(docsrs, doc(cfg(all(feature = "jwt", feature = "introspection"))))]
    pub fn resolver<T>(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> Result<
        super::Unified<super::JwtResolver<T>, super::IntrospectionResolver<T>>,
        crate::BoxError,
    > {
        let jwt = self.jwt_resolver()?;
        let opaque = self.introspection(client_id, client_secret).build()?;
        Ok(super::JwtOr::new(jwt, opaque).unified())
    }

    /// The layer (see [`ResourceServer::layer`]): tokens from the `Authorization` header, the
    /// metadata served (`authorization_servers` = the issuer) and named in every challenge,
    /// the scopes required.
    pub fn layer<R, T>(&self, resolver: R) -> crate::BearerLayer<R>
    where
        R: crate::SessionResolver<Session = std::sync::Arc<super::Claims<T>>>,
        T: Send + Sync + 'static,
    {
        self.server.layer(resolver)
    }
}
