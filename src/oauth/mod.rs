//! An OAuth 2 resource server: JWT access tokens verified locally against keys the issuer
//! publishes (a JWKS) or keys you configure, with no network call per request (feature `jwt`);
//! and opaque access tokens checked with the issuer's RFC 7662 introspection endpoint
//! ([`IntrospectionResolver`], feature `introspection`).
//!
//! [`JwtResolver`] is a [`SessionResolver`](crate::SessionResolver) like any other: put it
//! under a [`BearerLayer`](crate::BearerLayer) and handlers find the verified
//! [`Claims`] (as `Arc<Claims<T>>`) in the request's extensions.
//!
//! | algorithm | key |
//! |---|---|
//! | `EdDSA`, `Ed25519` (RFC 9864's fully specified name) | `OKP` / `Ed25519` |
//! | `ES256`, `ES384`, `ES512` | `EC` / `P-256`, `P-384`, `P-521` |
//! | `RS256`, `RS384`, `RS512`, `PS256`, `PS384`, `PS512` | `RSA`, 2048 bits or more |
//! | `HS256`, `HS384`, `HS512` | a secret you configure ([`Key::hmac`]), never from a JWKS |
//!
//! The algorithm always follows from the key: `alg: none`, an HMAC token against public keys,
//! and a header `alg` that does not fit the key are refused. Critical header extensions
//! (`crit`) are refused, as none is understood. Segments must be unpadded base64url, and JSON
//! with a duplicate member name is refused.
//!
//! # The JWKS cache
//!
//! - Keys are fresh for 5 minutes (or the server's `Cache-Control: max-age`, between 30 s and
//!   a day) and refreshed in the background in the last fifth of that: no request waits on a
//!   routine fetch.
//! - A token whose `kid` is unknown triggers a fetch, and waits for it: a freshly rotated key
//!   is accepted on its first request. Concurrent requests share one fetch, and fetches for
//!   unknown `kid`s are at most one per cooldown (default 5 s, 1–30 s): a flood of made-up
//!   `kid`s costs one fetch per cooldown. Within the cooldown after a successful fetch, an
//!   unknown `kid` is `401`: a key published less than a cooldown after the last fetch is
//!   refused until the cooldown ends (issuers rotate over days; keep the cooldown short).
//! - A fetch times out after 5 s. Keys already fetched keep verifying through an outage for up
//!   to an hour past their freshness. A token nothing at hand can decide while the JWKS is
//!   unreachable gets `503`, never `401`, including within the cooldown after a failed fetch.
//! - A token under a cached `kid` is verified at once, never behind a fetch in flight.
//! - Nothing is fetched at start-up: the service starts when the JWKS is unreachable, answers
//!   `503` until it is reachable, then `200` without a restart.
//!
//! ```no_run
//! use tower_bearer::oauth::JwtResolver;
//! use tower_bearer::BearerLayer;
//!
//! # fn run() -> Result<(), tower_bearer::BoxError> {
//! // better-auth's jwt plugin: issuer and audience are its baseURL.
//! let resolver: JwtResolver = JwtResolver::builder()
//!     .issuer("http://127.0.0.1:3000")
//!     .audience("http://127.0.0.1:3000")
//!     .jwks_url("http://127.0.0.1:3000/api/auth/jwks")?;
//! let layer = BearerLayer::new(resolver).max_token_len(16 * 1024);
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```

mod better_auth_provider;
mod claims;
mod http;
#[cfg(feature = "introspection")]
mod introspect;
pub(crate) mod json;
mod policy;
mod resource_server;
mod validation;
#[cfg(feature = "jwt")]
pub(crate) mod jwt {
    pub(super) mod alg;
    pub(super) mod backend;
    pub(super) mod fetch;
    pub(super) mod issuers;
    pub(super) mod jwks;
    pub(crate) mod jws;
    pub(crate) mod key;
    pub(super) mod keyset;
    pub(super) mod pem;
    pub(super) mod resolver;
    pub(super) mod route;
}

pub use better_auth_provider::BetterAuthProvider;
pub use claims::{Audience, Claims, Confirmation};
#[cfg(feature = "introspection")]
pub use introspect::{IntrospectionResolver, IntrospectionResolverBuilder};
#[cfg(feature = "jwt")]
pub use jwt::{
    alg::Algorithm,
    backend::signature_backend,
    fetch::{Fetched, HttpFetcher, JwksFetcher},
    issuers::{Issuers, IssuersBuilder},
    jwks::JwksSettings,
    jws::looks_like_jwt,
    key::{Key, KeyError},
    keyset::KeySet,
    resolver::{JwtResolver, JwtResolverBuilder},
    route::{JwtOr, RouteFuture, Unified, UnifiedFuture, Verified},
};
pub use policy::AccessPolicy;
pub use resource_server::ResourceServer;
