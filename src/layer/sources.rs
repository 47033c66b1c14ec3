//! The layer's opt-in token sources: where else than the `Authorization` header a browser can
//! put the token.

use std::sync::Arc;

use tower_layer::Stack;

use super::BearerLayer;
use crate::resolver::SessionResolver;
use crate::token::form_layer::FormTokenLayer;
use crate::token::sources::Sources;
use crate::token::{ApiKeyHeader, QueryParameter, SessionCookie, WebSocketProtocol};

/// # Other token sources
///
/// The `Authorization` header always carries a token. A browser cannot set it on a WebSocket
/// handshake, an `EventSource` stream, an `<img>` or a download link, so these opt-in sources
/// take the token where it can put it. Each token is treated as the header's: the same grammar
/// ([`token_chars`](Self::token_chars)) and length limit after decoding, the same resolver and
/// rejections, and it is never logged. RFC 6750 §2 forbids sending a token by more than one
/// method: a request with tokens in two of the header, the query, the form body and a
/// subprotocol (or two in one of them) gets `400 invalid_request`. A cookie is different:
/// browsers send it by themselves, so it counts only when no other source has a token, and
/// a header beside it wins.
impl<R: SessionResolver> BearerLayer<R> {
    fn sources_mut(&mut self) -> &mut Sources {
        let sources = &mut self.config_mut().sources;
        Arc::make_mut(sources.get_or_insert_with(Default::default))
    }

    /// Takes the token from a query parameter (RFC 6750 §2.3), `?access_token=…` on `GET` by
    /// default.
    ///
    /// The parameter is percent-decoded (a `+` is a space, so clients encode a token's `+` as
    /// `%2B`), then cut out of the URI before any exemption predicate, handler or log further
    /// in sees it; the rest of the query stays as it came. A response to a request authenticated
    /// this way gets `Cache-Control: private`, as §2.3 asks.
    ///
    /// RFC 9700 (OAuth 2.0 Security Best Current Practice) discourages tokens in URIs: they end
    /// up in browser history, proxy and server access logs, and `Referer` headers. Use it where
    /// nothing else works: a browser's `WebSocket` (or use [`websocket_token`](Self::websocket_token))
    /// and `EventSource`, which cannot set headers; keep such tokens short-lived, and keep access
    /// logs in front of this layer from recording query strings.
    ///
    /// ```
    /// use tower_bearer::{store::MemoryStore, BearerLayer, QueryParameter};
    ///
    /// let layer = BearerLayer::new(MemoryStore::new()).query_token(QueryParameter::default());
    /// # let _ = layer;
    /// ```
    pub fn query_token(mut self, parameter: QueryParameter) -> Self {
        self.sources_mut().query = Some(parameter);
        self.with_bearer_methods()
    }

    /// Takes the token from an entry of `Sec-WebSocket-Protocol`, as Kubernetes does: the
    /// prefix, then the token in unpadded base64url (see [`WebSocketProtocol`]).
    ///
    /// The entry is cut out of the header before the inner service sees it; the other
    /// protocols pass through, so axum's `WebSocketUpgrade::protocols` still selects one. A
    /// handshake without a valid token is refused (`401`) before any upgrade.
    ///
    /// ```
    /// use tower_bearer::{store::MemoryStore, BearerLayer, WebSocketProtocol};
    ///
    /// let layer = BearerLayer::new(MemoryStore::new()).websocket_token(WebSocketProtocol::kubernetes());
    /// # let _ = layer;
    /// ```
    pub fn websocket_token(mut self, protocol: WebSocketProtocol) -> Self {
        self.sources_mut().websocket = Some(protocol);
        self
    }

    /// Takes the token from a cookie, such as better-auth's session cookie
    /// ([`SessionCookie::better_auth`]), when no other source has one.
    ///
    /// The value is percent-decoded. A request the cookie authenticates that can change state
    /// (any method but `GET`, `HEAD`, `OPTIONS`, `TRACE`) or opens a WebSocket must come from
    /// one of the cookie's trusted origins, by its `Origin` (else `Referer`) header, or it gets
    /// `403`: browsers attach cookies to requests other sites make, which a bearer header never
    /// is. The cookie is left in the request.
    ///
    /// ```
    /// use tower_bearer::{store::MemoryStore, BearerLayer, SessionCookie};
    ///
    /// let layer = BearerLayer::new(MemoryStore::new())
    ///     .cookie_token(SessionCookie::named("session").trusted_origin("https://app.example"));
    /// # let _ = layer;
    /// ```
    pub fn cookie_token(mut self, cookie: SessionCookie) -> Self {
        self.sources_mut().cookie = Some(cookie);
        self
    }

    /// Takes an API key from a request header: `x-api-key` with
    /// [`ApiKeyHeader::default`], as better-auth's API key plugin reads it.
    ///
    /// The key is treated as a bearer token from any other source: the same grammar and length
    /// limit, the same resolver, decision, metrics and rejections, and it is never logged. The
    /// resolver sees where it came from ([`BearerToken::source`](crate::BearerToken::source) is
    /// [`TokenSource::ApiKeyHeader`](crate::TokenSource::ApiKeyHeader)). A request with a key
    /// and an `Authorization` header (or a token in another explicit source) gets
    /// `400 invalid_request`. For better-auth's keys, resolve them with
    /// `better_auth::ApiKeyResolver`.
    ///
    /// ```
    /// use tower_bearer::{store::MemoryStore, ApiKeyHeader, BearerLayer};
    ///
    /// let layer = BearerLayer::new(MemoryStore::new()).api_key_header(ApiKeyHeader::default());
    /// # let _ = layer;
    /// ```
    pub fn api_key_header(mut self, header: ApiKeyHeader) -> Self {
        self.sources_mut().api_key = Some(header);
        self
    }

    /// Takes the token from `access_token` in an `application/x-www-form-urlencoded` body of a
    /// request other than `GET` and `HEAD` (RFC 6750 §2.2), reading at most `limit` bytes of
    /// such a body (over it: `413`; [`DEFAULT_FORM_LIMIT`](crate::form::DEFAULT_FORM_LIMIT) is
    /// a sensible one).
    ///
    /// This returns the two layers stacked, a [`FormTokenLayer`] in front of this one, so call
    /// it last. The inner service gets the form's bytes intact, as a
    /// [`RequestBody`](crate::RequestBody); other bodies stream through.
    ///
    /// ```
    /// use tower_bearer::{form::DEFAULT_FORM_LIMIT, store::MemoryStore, BearerLayer};
    ///
    /// let layers = BearerLayer::new(MemoryStore::new()).realm("api").form_token(DEFAULT_FORM_LIMIT);
    /// # let _ = layers;
    /// ```
    pub fn form_token(mut self, limit: usize) -> Stack<BearerLayer<R>, FormTokenLayer> {
        self.sources_mut().form = true;
        Stack::new(self.with_bearer_methods(), FormTokenLayer::new(limit))
    }
}
