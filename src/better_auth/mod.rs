//! Behind a better-auth server: its bearer tokens accepted exactly as better-auth accepts them
//! (feature `better-auth`, plus one per backend).
//!
//! better-auth (a TypeScript auth server) signs users in and hands out session tokens. With its
//! Bearer plugin, the client sends `Authorization: Bearer <token>.<signature>`, where the token
//! is 32 characters and the signature is `base64(HMAC-SHA256(secret, token))`. This module lets
//! a Rust service beside it accept those tokens:
//!
//! - [`Signatures`] checks the signature as the plugin does (feature `better-auth`);
//! - a resolver turns the token into better-auth's `{ session, user }`
//!   ([`BetterAuthSession`]), reading where better-auth keeps sessions:
//!
//! | Resolver | Reads | Feature | Revocation seen |
//! |---|---|---|---|
//! | [`SqlResolver`] | its PostgreSQL, MySQL or SQLite database | `better-auth-postgres`, `better-auth-mysql`, `better-auth-sqlite` | at once |
//! | [`RedisStorageResolver`] | its Redis secondary storage | `better-auth-redis` | at once (with the cache: within milliseconds) |
//! | [`HttpResolver`] | its `get-session` endpoint | `better-auth-http` | within the cache's lifetime (default 5 s) |
//!
//! Its API keys (`@better-auth/api-key`) are verified by [`ApiKeyResolver`], in its database or
//! its Redis storage, counters and all; handlers get an [`ApiKey`]. Its OAuth provider's access
//! tokens are [`oauth::BetterAuthProvider`](crate::oauth::BetterAuthProvider)'s (feature `jwt`).
//!
//! better-auth also accepts the signed value percent-encoded (`%2B`, `%2F`, `%3D`), which RFC
//! 6750's grammar does not allow; set [`TokenChars::Visible`](crate::TokenChars::Visible) on
//! the layer to accept it too.
//!
//! # Example
//!
//! ```no_run
//! # #[cfg(feature = "better-auth-postgres")]
//! # async fn run() -> Result<(), tower_bearer::BoxError> {
//! use tower_bearer::better_auth::{BetterAuthSession, Signatures, SqlResolver};
//! use tower_bearer::{BearerLayer, TokenChars};
//!
//! let signatures = Signatures::new([std::env::var("BETTER_AUTH_SECRET")?]);
//! let resolver = SqlResolver::builder(signatures)
//!     .connect("postgres://app@127.0.0.1/app")
//!     .await?;
//! let layer = BearerLayer::new(resolver).token_chars(TokenChars::Visible);
//! // Handlers find a `BetterAuthSession` in the request's extensions (with axum:
//! // `Authenticated<BetterAuthSession>`).
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```
//!
//! # The signed value
//!
//! After sign-in, better-auth answers with `set-auth-token: <token>.<signature>`: the
//! 32-character session token, a dot, and `base64(HMAC-SHA256(secret, token))` in the standard
//! alphabet with its `=` padding (44 characters). The plugin accepts:
//!
//! - a value with a `.`, percent-decoded first when it contains `%`, split at the last `.`,
//!   whose signature is 43 standard base64 characters and `=`, and matches the HMAC;
//! - a raw token without a signature, unless signatures are required.
//!
//! Everything else is refused: base64url or unpadded signatures, signatures under another
//! secret, truncated ones.
//!
//! ```
//! use tower_bearer::better_auth::Signatures;
//!
//! let signatures = Signatures::new(["better-auth-secret-123456789012345678"]);
//! let signed = "AbCdEfGhIjKlMnOpQrStUvWxYz012345.fwxlN3upaA8+Oxxj+F3qJJWajTDcWXJMm1CeUKsJFAw=";
//! assert_eq!(signatures.session_token(signed).as_deref(), Some("AbCdEfGhIjKlMnOpQrStUvWxYz012345"));
//! assert_eq!(signatures.session_token("AbCdEfGhIjKlMnOpQrStUvWxYz012345.AAAA").as_deref(), None);
//! ```

// The helpers for dates and expiry serve the backends.
#[cfg_attr(
    not(any(
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql",
        feature = "better-auth-redis",
        feature = "better-auth-http"
    )),
    allow(dead_code)
)]
mod model;
mod signature;

#[cfg_attr(
    not(any(
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql",
        feature = "better-auth-redis",
        feature = "better-auth-http"
    )),
    allow(dead_code)
)]
mod date;
#[cfg(any(
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite",
    feature = "better-auth-mysql",
    feature = "better-auth-redis",
    feature = "better-auth-http"
))]
mod failed;

// Without a backend nothing uses the cache; invalidation serves the Redis resolver only.
#[cfg(any(
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite",
    feature = "better-auth-mysql",
    feature = "better-auth-redis"
))]
mod api_key;
#[cfg_attr(not(feature = "better-auth-redis"), allow(dead_code))]
mod cache;
#[cfg(feature = "better-auth-http")]
mod http;
#[cfg(feature = "better-auth-redis")]
mod redis;
#[cfg(any(
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite",
    feature = "better-auth-mysql"
))]
mod sql;

pub use model::{BetterAuthSession, Expiry, Session, SessionToken, User};
pub use signature::Signatures;

#[cfg(any(
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite",
    feature = "better-auth-mysql",
    feature = "better-auth-redis"
))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql",
        feature = "better-auth-redis"
    )))
)]
pub use api_key::{
    ApiKey, ApiKeyFuture, ApiKeyOr, ApiKeyOrFuture, ApiKeyResolver, ApiKeyResolverBuilder,
    Credential, Permissions,
};
pub use cache::CacheSettings;
#[cfg(feature = "better-auth-http")]
#[cfg_attr(docsrs, doc(cfg(feature = "better-auth-http")))]
pub use http::{HttpResolver, HttpResolverBuilder};
#[cfg(feature = "better-auth-redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "better-auth-redis")))]
pub use redis::{RedisStorageResolver, RedisStorageResolverBuilder};
#[cfg(any(
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite",
    feature = "better-auth-mysql"
))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql"
    )))
)]
pub use sql::{FieldType, Schema, SqlResolver, SqlResolverBuilder};

/// The future every better-auth resolver returns.
pub type ResolveFuture = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<Option<BetterAuthSession>, crate::BoxError>> + Send,
    >,
>;
