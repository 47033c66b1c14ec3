//! Tower middleware that authenticates HTTP and gRPC requests by bearer token (RFC 6750).
//!
//! [`BearerLayer`] wraps any tower service. For each request it reads the bearer token from the
//! `Authorization` header, resolves it through a [`SessionResolver`], and then either inserts the
//! session into the request's extensions and calls the inner service, or answers by itself:
//!
//! | request | answer |
//! |---|---|
//! | no `Authorization` header, or another scheme | `401`, `WWW-Authenticate: Bearer` |
//! | empty token, token outside the `b64token` grammar, two `Authorization` headers | `400`, `error="invalid_request"` |
//! | token longer than the maximum (4 KiB) | `401`, `error="invalid_token"`; the resolver is not called |
//! | the resolver knows no such session | `401`, `error="invalid_token"` |
//! | the resolver fails or times out | `503`, no challenge; the error goes to `tracing` |
//! | the [`authorize`](BearerLayer::authorize) check refuses the session | `403`, `error="insufficient_scope"`, `scope="…"` |
//! | the session resolves | the inner service's response, untouched |
//!
//! A gRPC call (`content-type: application/grpc`, `application/grpc+…` or `application/grpc;…`)
//! is refused with a trailers-only gRPC
//! response instead: `UNAUTHENTICATED` (16) for 400 and 401, `PERMISSION_DENIED` (7) for 403,
//! `UNAVAILABLE` (14) for 503; gRPC-Web calls get the same, as tonic-web answers them. An
//! [optional mode](BearerLayer::mode) lets anonymous requests through, marked
//! [`Anonymous`]; [`on_rejection`](BearerLayer::on_rejection) shapes the rejection's body.
//! CORS preflights are authenticated like any request: serve them with a CORS layer outside
//! this one, or answer them in it (see [`answer_preflight`](BearerLayer::answer_preflight)).
//!
//! The `Authorization` header reaches the inner service marked sensitive, so tower-http's
//! `TraceLayer` and any `Debug` of the headers print `Sensitive` instead of the token.
//!
//! Where a browser cannot set the header, opt-in sources take the token from the query string
//! ([`query_token`](BearerLayer::query_token)), a WebSocket subprotocol
//! ([`websocket_token`](BearerLayer::websocket_token)), a cookie
//! ([`cookie_token`](BearerLayer::cookie_token)) or a form body
//! ([`form_token`](BearerLayer::form_token)); see
//! [other token sources](BearerLayer#other-token-sources).
//!
//! Around the layer:
//! - [`store`]: [`MemoryStore`](store::MemoryStore), the embedded session store with
//!   better-auth's semantics, and the [`SessionStore`](store::SessionStore) trait that other
//!   backends implement;
//! - `oauth` (features `jwt`, `introspection`): an OAuth 2 resource server, JWT access tokens
//!   verified against a cached JWKS and RFC 7662 introspection;
//! - [`client`]: [`BearerClientLayer`](client::BearerClientLayer), which sends the token on
//!   outgoing requests;
//! - [`integrations`]: the axum extractor and tonic support, behind their features.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use http::{header::AUTHORIZATION, Request, Response, StatusCode};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_bearer::{resolver_fn, BearerLayer, BearerToken};
//!
//! #[derive(Clone)]
//! struct User(&'static str);
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let resolver = resolver_fn(|token: BearerToken<'_>| {
//!     let user = token.matches("s3cr3t").then_some(User("alice"));
//!     async move { Ok::<_, Infallible>(user) }
//! });
//!
//! let service = ServiceBuilder::new()
//!     .layer(BearerLayer::new(resolver))
//!     .service(service_fn(|req: Request<String>| async move {
//!         let user = req.extensions().get::<User>().unwrap();
//!         Ok::<_, Infallible>(Response::new(format!("hello {}", user.0)))
//!     }));
//!
//! let ok = service
//!     .clone()
//!     .oneshot(Request::builder().header(AUTHORIZATION, "Bearer s3cr3t").body(String::new()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(ok.status(), StatusCode::OK);
//!
//! let denied = service
//!     .oneshot(Request::builder().header(AUTHORIZATION, "Bearer wrong").body(String::new()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(
//!     denied.headers()["www-authenticate"],
//!     r#"Bearer error="invalid_token", error_description="the bearer token is invalid, expired or revoked""#
//! );
//! # }
//! ```
//!
//! # Observability
//!
//! Every decision opens a `tower_bearer.authenticate` span at `DEBUG` (quiet unless a
//! subscriber asks for it), with the fields `resolver`, `outcome`, `reason` and `duration_us`
//! (the time of a resolver that waits); a resolver's own events sit inside it. A failing backend is logged at
//! `WARN` with its error's source chain. No span, field or event ever holds a token.
//!
//! Only with the feature `metrics` do the layer and its caches count anything: without it an
//! app's recorder shows no `tower_bearer` series at all (a layer given a
//! [`name`](BearerLayer::name), which only metrics read, says so once at `WARN`).
//!
//! With the feature `metrics`, the layer and its caches publish through the
//! [`metrics`](https://docs.rs/metrics) facade, so the app chooses the exporter. Names follow
//! OpenTelemetry's conventions (dotted, durations in seconds; Prometheus shows
//! `tower_bearer_decisions`). Handles are registered on first use with the recorder installed
//! then, so install it before serving. Labels are bounded: no token, user or path.
//!
//! | metric | kind | labels | counts |
//! |---|---|---|---|
//! | `tower_bearer.decisions` | counter | `outcome` (`authenticated`, `anonymous`, `rejected`, `exempt`, `preflight`); `reason` for `anonymous` and `rejected` (`missing`, `malformed`, `too_long`, `invalid_token`, `insufficient_scope`, `unavailable`, `timeout`, `untrusted_origin`, `insufficient_user_authentication`, `too_many_requests`); `layer` | one per request the layer decides; and one `rejected`, `insufficient_scope` per request a route's [`require`](BearerLayer::require) refuses after the layer authenticated it (so `authenticated` minus those is what the routes served) |
//! | `tower_bearer.resolutions` | counter | `resolver` (its type's name), `result` (`session`, `none`, `error`); `layer` | one per resolver call, timeouts as `error` |
//! | `tower_bearer.resolve.duration` | histogram, seconds | as `tower_bearer.resolutions` | one per resolver call that waits (an answer at hand through [`resolve_ready`](SessionResolver::resolve_ready), such as a `MemoryStore` or `CachedStore` hit, is counted, not timed) |
//! | `tower_bearer.cache.lookups` | counter | `cache`, `result` (`hit`, `miss`, `fenced`: refused because the invalidation feed is not known alive) | lookups in `CachedStore`, the better-auth resolvers', the verified-JWT and introspection caches, the DPoP proof keys |
//! | `tower_bearer.cache.evictions` | counter | `cache` | entries dropped to stay under `max_entries` |
//! | `tower_bearer.cache.invalidations` | counter | `cache` | entries dropped by a revocation, an invalidation message or a lost feed |
//! | `tower_bearer.jwks.fetches` | counter | `cause` (`initial`, `unknown_kid`, `expired`, `refresh`), `result` (`ok`, `error`) | JWKS fetches that reached the issuer |
//! | `tower_bearer.jwt_issuer` | counter | `issuer` (one on an `oauth::Issuers` list, or `unknown`), `result` (`accepted`, `refused`, `error`) | JWTs an `oauth::Issuers` answered: one per request through a layer |
//! | `tower_bearer.redis.invalidations` | counter | | invalidation messages applied (`CachedStore`, `RedisStorageResolver`) |
//! | `tower_bearer.redis.reconnects` | counter | | invalidation channels subscribed again after a loss |
//!
//! `cache` is one of `cached_store`, `better_auth_sql`, `better_auth_redis`,
//! `better_auth_http`, `jwt_verified`, `introspection`, `dpop_proof_keys` (DPoP proof keys
//! loaded already, kept by `dpop::ProofSettings`); `layer` is the
//! [`name`](BearerLayer::name) of a named layer, absent otherwise.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `memory-store` | yes | [`MemoryStore`](store::MemoryStore), the embedded in-memory store |
//! | `store` | with `memory-store` | the [`SessionStore`](store::SessionStore) trait and its [`Session`](store::Session) records, for stores of your own |
//! | `sweeper` | | [`MemoryStore::spawn_sweeper`](store::MemoryStore::spawn_sweeper), a tokio task that drops expired sessions |
//! | `test-util` | | [`store::conformance`], the suite every store must pass, for stores in other crates |
//! | `redis` | | [`RedisStore`](store::RedisStore) and [`CachedStore`](store::CachedStore): sessions in Redis, standalone or Cluster, with a local cache every instance invalidates |
//! | `better-auth` | | [`better_auth`]: better-auth's signed bearer values, checked as its Bearer plugin does, and its `{ session, user }` types |
//! | `better-auth-postgres`, `better-auth-mysql`, `better-auth-sqlite` | | [`better_auth::SqlResolver`]: sessions from better-auth's SQL database (over sqlx) |
//! | `better-auth-redis` | | [`better_auth::RedisStorageResolver`]: sessions from better-auth's Redis secondary storage |
//! | `better-auth-http` | | [`better_auth::HttpResolver`]: sessions from a better-auth server's get-session |
//! | `introspection` | | [`oauth::IntrospectionResolver`]: opaque access tokens checked with an RFC 7662 endpoint, cached never past `exp` |
//! | `rustls` | | HTTPS (rustls over ring, Mozilla's roots or your own) for the JWKS, OpenID discovery and introspection |
//! | `jwt` | | [`oauth`]: JWT access tokens verified against static keys or a cached JWKS (better-auth's `jwt` plugin, any OpenID Connect issuer); signatures verified by ring |
//! | `dpop` | | [`dpop`]: DPoP (RFC 9449) proofs checked (with `jwt`'s keys and algorithms), stateless rotating server nonces, and the `jti` replay store, in memory or (with `redis`) in Redis |
//! | `aws-lc-rs` | with `jwt` | JWT signatures verified by AWS-LC instead of ring (cheaper RSA and ES384, keys parsed once; needs a C compiler) |
//! | `axum` | | [`Authenticated`](integrations::axum::Authenticated) and [`Authorized`](integrations::axum::Authorized), extractors, and `IntoResponse` for [`Rejection`] (over `axum-core`) |
//! | `tonic` | | `NamedService` for [`Bearer`], so `add_service(Bearer::new(svc, resolver))` works |
//! | `protected-resource` | with `jwt`, `introspection` | [`protected_resource`]: RFC 9728 metadata served by the layer and named in its challenges, and RFC 8707 resource identifiers |
//! | `metrics` | | counters and histograms of every decision, resolver and cache, over the `metrics` facade (see [Observability](#observability)) |
//!
//! With `default-features = false` the crate is the layer alone: tower, http, pin-project-lite,
//! bytes, tracing, tokio's timer, and the small decoders of the opt-in token sources (base64ct,
//! form_urlencoded, percent-encoding).

#![cfg_attr(docsrs, feature(doc_cfg))]

mod anonymous;
#[cfg(feature = "better-auth")]
#[cfg_attr(docsrs, doc(cfg(feature = "better-auth")))]
pub mod better_auth;
mod body;
#[cfg(any(
    feature = "redis",
    feature = "better-auth",
    feature = "jwt",
    feature = "introspection"
))]
mod cache;
mod chain;
pub mod client;
#[cfg(any(
    feature = "memory-store",
    feature = "redis",
    feature = "better-auth",
    feature = "jwt",
    feature = "introspection"
))]
mod digest;
#[cfg(feature = "dpop")]
#[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
pub mod dpop;
#[cfg(any(
    feature = "jwt",
    feature = "introspection",
    feature = "better-auth-http"
))]
mod flight;
pub mod integrations;
mod layer;
mod metrics;
#[cfg(any(feature = "jwt", feature = "introspection"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "jwt", feature = "introspection"))))]
pub mod oauth;
#[cfg(feature = "protected-resource")]
#[cfg_attr(docsrs, doc(cfg(feature = "protected-resource")))]
pub mod protected_resource;
mod redact;
mod rejection;
mod require;
mod resolver;
#[cfg(any(feature = "store", feature = "better-auth"))]
mod session_token;
#[cfg(feature = "store")]
#[cfg_attr(docsrs, doc(cfg(feature = "store")))]
pub mod store;
mod token;
mod trace;

pub use anonymous::Anonymous;
pub use body::{RequestBody, ResponseBody};
pub use layer::{future, Bearer, BearerLayer, Mode, RequestHead};
pub use redact::RedactedUri;
pub use rejection::{InsufficientScope, InsufficientUserAuthentication, Rejection, RejectionKind};
pub use require::{RequireSession, RequireSessionLayer};
pub use resolver::{resolver_fn, BoxError, BoxResolver, ResolverFn, SessionResolver};
#[cfg(any(feature = "store", feature = "better-auth"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "store", feature = "better-auth"))))]
pub use session_token::SessionToken;
pub use token::form_layer as form;
pub use token::{
    ApiKeyHeader, BearerToken, QueryParameter, SessionCookie, TokenChars, TokenSource,
    WebSocketProtocol, DEFAULT_MAX_TOKEN_LEN,
};
