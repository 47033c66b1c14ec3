//! CORS for better-auth's browser client, which sends every request with
//! `credentials: "include"` and reads the token from `set-auth-token`.
//!
//! With `--trusted-origin` (repeatable) only those origins are let in, like better-auth's
//! `trustedOrigins`. Without it, any origin is mirrored: a development default that is safe
//! here because this server never sets a cookie. A page on another origin gets no ambient
//! credential from the browser; it can only send a token its own script already holds. A
//! server that sets cookies must list its trusted origins.

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

pub(crate) fn layer(trusted: &[HeaderValue]) -> CorsLayer {
    let origins = if trusted.is_empty() {
        AllowOrigin::mirror_request()
    } else {
        AllowOrigin::list(trusted.iter().cloned())
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([AUTHORIZATION, CONTENT_TYPE])
        // The token after sign-in, and the RFC 6750 challenge of a refusal.
        .expose_headers([HeaderName::from_static("set-auth-token"), WWW_AUTHENTICATE])
}
