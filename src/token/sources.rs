//! The opt-in token sources ([`QueryParameter`], [`WebSocketProtocol`], [`SessionCookie`],
//! [`ApiKeyHeader`], and the form body that [`FormTokenLayer`](crate::form::FormTokenLayer)
//! reads), and how the layer picks the one token a request presents ([`TokenSource`] says
//! which it was).

use std::borrow::Cow;

use http::header::{HeaderMap, HeaderName, HeaderValue, CACHE_CONTROL};
use http::{Method, Request};

use super::secret::{one_of, Presented, Secret};
use super::{cookie, query, subprotocol, Malformed};

/// The query parameter that may carry the token (RFC 6750 §2.3), for
/// [`BearerLayer::query_token`](crate::BearerLayer::query_token).
///
/// By default `access_token`, on `GET` requests only. On other methods the parameter is cut
/// out of the URI all the same, and the request gets `400 invalid_request`: the token in it
/// was meant as a credential, and has been exposed where RFC 6750 says it should not be.
///
/// ```
/// use tower_bearer::QueryParameter;
///
/// let default = QueryParameter::default(); // `?access_token=…` on GET
/// let custom = QueryParameter::named("token").methods([http::Method::GET, http::Method::HEAD]);
/// # let _ = (default, custom);
/// ```
#[derive(Clone, Debug)]
pub struct QueryParameter {
    pub(crate) name: Cow<'static, str>,
    pub(crate) methods: Vec<Method>,
}

impl QueryParameter {
    /// RFC 6750's `access_token`, on `GET`.
    pub fn access_token() -> Self {
        Self::named("access_token")
    }

    /// A parameter of another name, on `GET`.
    pub fn named(name: impl Into<Cow<'static, str>>) -> Self {
        QueryParameter {
            name: name.into(),
            methods: vec![Method::GET],
        }
    }

    /// The methods whose requests may carry it (by default `GET` alone).
    pub fn methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        self.methods = methods.into_iter().collect();
        self
    }
}

impl Default for QueryParameter {
    fn default() -> Self {
        Self::access_token()
    }
}

/// The `Sec-WebSocket-Protocol` entry that may carry the token, for
/// [`BearerLayer::websocket_token`](crate::BearerLayer::websocket_token).
///
/// The entry is the prefix followed by the token in unpadded base64url, as Kubernetes takes it
/// (the default prefix is Kubernetes' own). A browser offers it beside the protocol it speaks:
///
/// ```js
/// const entry = "base64url.bearer.authorization.k8s.io." +
///   btoa(token).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
/// new WebSocket("wss://api.example/ws", ["chat", entry]);
/// ```
///
/// The layer cuts the entry out before the inner service sees the header; the other protocols
/// stay, so the server still selects one (`chat` here), which browsers require when they
/// offered any.
#[derive(Clone, Debug)]
pub struct WebSocketProtocol {
    pub(crate) prefix: Cow<'static, str>,
}

impl WebSocketProtocol {
    /// Kubernetes' prefix for a bearer token in a subprotocol.
    pub const KUBERNETES_PREFIX: &'static str = "base64url.bearer.authorization.k8s.io.";

    /// Entries that start with [`KUBERNETES_PREFIX`](Self::KUBERNETES_PREFIX).
    pub fn kubernetes() -> Self {
        Self::prefixed(Self::KUBERNETES_PREFIX)
    }

    /// Entries that start with `prefix` (a subprotocol is an RFC 9110 token: no spaces or
    /// commas).
    pub fn prefixed(prefix: impl Into<Cow<'static, str>>) -> Self {
        WebSocketProtocol {
            prefix: prefix.into(),
        }
    }
}

impl Default for WebSocketProtocol {
    fn default() -> Self {
        Self::kubernetes()
    }
}

/// A cookie that may carry the token, for
/// [`BearerLayer::cookie_token`](crate::BearerLayer::cookie_token), and the origins that may
/// send requests it authenticates.
///
/// Browsers attach cookies to requests other sites make, so a request the cookie authenticates
/// must come from a trusted origin when it can change something: for any method but `GET`,
/// `HEAD`, `OPTIONS` and `TRACE`, and for every WebSocket handshake, the request's `Origin`
/// (else the origin of its `Referer`) must be one of [`trusted_origin`](Self::trusted_origin)'s,
/// or the layer answers `403`. That is better-auth's own origin check.
///
/// ```
/// use tower_bearer::SessionCookie;
///
/// let cookie = SessionCookie::better_auth().trusted_origin("https://app.example");
/// # let _ = cookie;
/// ```
#[derive(Clone, Debug)]
pub struct SessionCookie {
    pub(crate) names: Vec<Cow<'static, str>>,
    pub(crate) trusted: Vec<String>,
}

impl SessionCookie {
    /// The cookie called `name`.
    pub fn named(name: impl Into<Cow<'static, str>>) -> Self {
        SessionCookie {
            names: vec![name.into()],
            trusted: Vec::new(),
        }
    }

    /// better-auth's session cookie: `__Secure-better-auth.session_token` (its name over HTTPS)
    /// or `better-auth.session_token`. It holds the signed value, which the
    /// [`better_auth`](crate::better_auth) resolvers verify as they verify a bearer value.
    pub fn better_auth() -> Self {
        Self::better_auth_prefixed("better-auth")
    }

    /// better-auth's session cookie under its `advanced.cookiePrefix`.
    pub fn better_auth_prefixed(prefix: &str) -> Self {
        SessionCookie {
            names: vec![
                format!("__Secure-{prefix}.session_token").into(),
                format!("{prefix}.session_token").into(),
            ],
            trusted: Vec::new(),
        }
    }

    /// Trusts `origin` (`scheme://host[:port]`, as browsers send it in `Origin`) to send
    /// requests the cookie authenticates. Call once per origin.
    pub fn trusted_origin(mut self, origin: impl AsRef<str>) -> Self {
        self.trusted.push(cookie::normalize_origin(origin.as_ref()));
        self
    }
}

/// The request headers that may carry an API key, for
/// [`BearerLayer::api_key_header`](crate::BearerLayer::api_key_header): `x-api-key` by default,
/// as better-auth's API key plugin reads it (its `apiKeyHeaders`).
///
/// The key is the header's whole value. With several names, the first that the request
/// carries is read, as better-auth does; one header twice is `400 invalid_request`.
///
/// ```
/// use http::HeaderName;
/// use tower_bearer::ApiKeyHeader;
///
/// let default = ApiKeyHeader::default(); // x-api-key
/// let custom = ApiKeyHeader::named(HeaderName::from_static("x-partner-key"))
///     .or(HeaderName::from_static("x-api-key"));
/// # let _ = (default, custom);
/// ```
#[derive(Clone, Debug)]
pub struct ApiKeyHeader {
    pub(crate) names: Vec<HeaderName>,
}

impl ApiKeyHeader {
    /// The header called `name`.
    pub fn named(name: HeaderName) -> Self {
        ApiKeyHeader { names: vec![name] }
    }

    /// Reads `name` too, when the request carries none of the names before it.
    pub fn or(mut self, name: HeaderName) -> Self {
        self.names.push(name);
        self
    }

    /// The names, in the order they are read.
    pub fn names(&self) -> &[HeaderName] {
        &self.names
    }

    /// The first of the names the request carries: its value, or a malformed attempt (empty,
    /// or the header twice).
    fn take(&self, headers: &HeaderMap) -> Presented {
        let name = self.names.iter().find(|name| headers.contains_key(*name))?;
        one_of(
            headers
                .get_all(name)
                .iter()
                .map(|value| match value.as_bytes().trim_ascii() {
                    [] => Err(Malformed::Empty),
                    key => Ok(Secret::new(key.to_vec())),
                }),
        )
    }
}

impl Default for ApiKeyHeader {
    /// `x-api-key`, better-auth's default.
    fn default() -> Self {
        Self::named(HeaderName::from_static("x-api-key"))
    }
}

/// Where a request carried its token: see [`BearerToken::source`](crate::BearerToken::source).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenSource {
    /// The `Authorization` header (RFC 6750 §2.1).
    Authorization,
    /// A query parameter (RFC 6750 §2.3, [`QueryParameter`]).
    Query,
    /// A form body (RFC 6750 §2.2, [`FormTokenLayer`](crate::form::FormTokenLayer)).
    Form,
    /// A WebSocket subprotocol ([`WebSocketProtocol`]).
    WebSocket,
    /// A cookie ([`SessionCookie`]).
    Cookie,
    /// An API-key header ([`ApiKeyHeader`]).
    ApiKeyHeader,
}

/// The layer's opt-in sources.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sources {
    pub(crate) query: Option<QueryParameter>,
    pub(crate) websocket: Option<WebSocketProtocol>,
    pub(crate) cookie: Option<SessionCookie>,
    pub(crate) api_key: Option<ApiKeyHeader>,
    /// A [`FormTokenLayer`](crate::form::FormTokenLayer) in front hands the body's token over.
    pub(crate) form: bool,
}

/// A form body's token, handed from the form layer to the bearer layer in the request's
/// extensions; the bearer layer takes it out again, so no service further in sees it.
#[derive(Clone)]
pub(crate) struct FormCredential(pub(crate) Result<Secret, Malformed>);

/// What the opt-in sources held, taken out of the request.
pub(crate) struct Taken {
    query: Presented,
    form: Presented,
    websocket: Presented,
    api_key: Presented,
    /// The cookie's value, and whether the request passed the origin check (or needs none).
    cookie: Option<(Result<Secret, Malformed>, bool)>,
}

/// The one token a request presents, given whether it has an `Authorization` header.
pub(crate) enum Choice {
    /// Only the header's (or nothing at all, if it has none and no cookie).
    Header,
    /// More than one of RFC 6750's methods (or a subprotocol beside one).
    Conflict,
    /// A cookie, from a cross-site request that needs the origin check and fails it.
    UntrustedOrigin,
    /// A token (or a malformed attempt) from another source.
    Taken(TokenSource, Result<Secret, Malformed>),
}

impl Sources {
    /// Takes the tokens out of the query, the subprotocols and the form handed over, leaving
    /// the request without them; reads the cookie.
    pub(crate) fn take<B>(&self, req: &mut Request<B>) -> Taken {
        let mut taken = Taken {
            query: None,
            form: None,
            websocket: None,
            api_key: None,
            cookie: None,
        };
        if let Some(param) = &self.query {
            if let Some((presented, stripped)) = query::take(req.uri(), &param.name) {
                *req.uri_mut() = stripped;
                taken.query = match param.methods.contains(req.method()) {
                    true => presented,
                    // Cut out all the same, so no service or log further in sees it.
                    false => Some(Err(Malformed::Method)),
                };
            }
        }
        if let Some(protocol) = &self.websocket {
            taken.websocket = subprotocol::take(req.headers_mut(), &protocol.prefix).flatten();
        }
        if let Some(header) = &self.api_key {
            taken.api_key = header.take(req.headers());
        }
        if self.form {
            taken.form = req.extensions_mut().remove::<FormCredential>().map(|c| c.0);
        }
        if let Some(session) = &self.cookie {
            taken.cookie = cookie::find(req.headers(), &session.names).map(|value| {
                let passes = !cookie::needs_origin_check(req.method(), req.headers())
                    || cookie::origin_trusted(req.headers(), &session.trusted);
                (value, passes)
            });
        }
        taken
    }
}

impl Taken {
    /// The one token to resolve. The header, query, form, subprotocol and API-key header are
    /// explicit: two of them are a conflict. The cookie counts only when none of them is
    /// there, since browsers send cookies by themselves.
    pub(crate) fn choose(self, header: bool) -> Choice {
        let explicit = [&self.query, &self.form, &self.websocket, &self.api_key]
            .iter()
            .filter(|p| p.is_some())
            .count()
            + usize::from(header);
        if explicit > 1 {
            return Choice::Conflict;
        }
        if header {
            return Choice::Header;
        }
        let explicit = [
            (TokenSource::Query, self.query),
            (TokenSource::Form, self.form),
            (TokenSource::WebSocket, self.websocket),
            (TokenSource::ApiKeyHeader, self.api_key),
        ];
        if let Some((source, Some(token))) = explicit.into_iter().find(|(_, t)| t.is_some()) {
            return Choice::Taken(source, token);
        }
        match self.cookie {
            Some((_, false)) => Choice::UntrustedOrigin,
            Some((token, true)) => Choice::Taken(TokenSource::Cookie, token),
            None => Choice::Header,
        }
    }
}

/// RFC 6750 §2.3: a response to a request authenticated from the query gets
/// `Cache-Control: private`. A stricter or equal directive the service set stays; a `public`
/// one gives way.
pub(crate) fn mark_private(headers: &mut HeaderMap) {
    let Some(existing) = headers.get(CACHE_CONTROL) else {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
        return;
    };
    let directives: Vec<&str> = existing
        .to_str()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    let name = |d: &&str| d.split('=').next().unwrap_or_default().to_ascii_lowercase();
    if directives
        .iter()
        .any(|d| matches!(name(d).as_str(), "private" | "no-store"))
    {
        return;
    }
    let mut value = String::from("private");
    for directive in directives.iter().filter(|d| name(d) != "public") {
        value.push_str(", ");
        value.push_str(directive);
    }
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(CACHE_CONTROL, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_is_added_and_public_gives_way() {
        let run = |before: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            if let Some(v) = before {
                headers.insert(CACHE_CONTROL, HeaderValue::from_static(v));
            }
            mark_private(&mut headers);
            headers[CACHE_CONTROL].to_str().unwrap().to_owned()
        };
        assert_eq!(run(None), "private");
        assert_eq!(run(Some("no-store")), "no-store");
        assert_eq!(run(Some("Private, max-age=5")), "Private, max-age=5");
        assert_eq!(run(Some("public, max-age=60")), "private, max-age=60");
        assert_eq!(run(Some("max-age=60")), "private, max-age=60");
    }
}
