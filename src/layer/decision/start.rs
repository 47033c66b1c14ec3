//! The first half of the decision, before any resolver runs: the header token to resolve, or
//! what else to do with the request (exempt it, answer its preflight, take its token from
//! another source, or refuse it for one of the layer's own reasons).

use bytes::Bytes;
use http::header::{ACCESS_CONTROL_REQUEST_METHOD, ORIGIN};
use http::{Method, Request, Response};

use super::super::head::RequestHead;
use super::Config;
use crate::rejection::grpc::Grpc;
use crate::rejection::reason::Reason;
use crate::token::sources::{Choice, Sources, TokenSource};
use crate::token::{self, BearerToken, Malformed, Secret, TokenChars};

/// A token from the `Authorization` header to resolve: well-formed, or, when `unchecked`,
/// well-formed but for its characters, which `call` checks unless the resolver finds a session.
pub(crate) struct Resolve<'a> {
    pub(crate) token: BearerToken<'a>,
    pub(crate) unchecked: bool,
}

/// What `call` does with a request that has no header token to resolve.
pub(crate) enum Early {
    /// Exempt: passes without authentication.
    Exempt,
    /// A CORS preflight or a request for the RFC 9728 metadata, answered by the layer: it
    /// never reaches the inner service. Boxed as the refusal that carries it will be, which
    /// keeps the hit path's `Result` small.
    Preflight(Box<Response<Bytes>>),
    /// A well-formed token from another source, decoded and checked, and where it came from.
    Taken(Secret, TokenSource),
    /// One of the layer's own reasons to refuse (which the mode may let pass).
    Refuse(Reason),
}

/// A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`, and not a
/// gRPC call.
fn is_preflight<B>(req: &Request<B>) -> bool {
    let headers = req.headers();
    req.method() == Method::OPTIONS
        && headers.contains_key(ORIGIN)
        && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
        && Grpc::of(headers).is_none()
}

impl<T> Config<T> {
    /// The layer reads the `Authorization` header and nothing else: it answers no preflight,
    /// takes tokens from no other source and exempts no request. Its services then skip those
    /// steps in [`start`](Self::start) with one test.
    pub(crate) fn reads_header_only(&self) -> bool {
        self.preflight.is_none()
            && self.sources.is_none()
            && self.exempt.is_empty()
            && !self.serves_metadata()
    }

    fn serves_metadata(&self) -> bool {
        #[cfg(feature = "protected-resource")]
        return self.resource.is_some();
        #[cfg(not(feature = "protected-resource"))]
        return false;
    }

    /// The header token to resolve (the hit path: `Ok`, tested with one comparison), or what
    /// else to do. `header_only`: [`reads_header_only`](Self::reads_header_only), computed
    /// when the service was built. `knows_only_b64tokens`: the resolver's, which lets a header
    /// token's characters go unchecked until it misses.
    #[inline(always)]
    pub(crate) fn start<'r, B>(
        &self,
        req: &'r mut Request<B>,
        header_only: bool,
        knows_only_b64tokens: bool,
    ) -> Result<Resolve<'r>, Early> {
        if !header_only {
            return self.start_configured(req, knows_only_b64tokens);
        }
        self.start_header(req, knows_only_b64tokens)
    }

    /// [`start`](Self::start) for a layer with a preflight answer, exemptions or other sources.
    /// Out of line, so that a layer that reads the header alone pays nothing for them.
    #[inline(never)]
    fn start_configured<'r, B>(
        &self,
        req: &'r mut Request<B>,
        knows_only_b64tokens: bool,
    ) -> Result<Resolve<'r>, Early> {
        // The metadata first: it is public, and a client reads it without a token (RFC 9728).
        #[cfg(feature = "protected-resource")]
        if let Some(served) = &self.resource {
            if served.is_for(req.uri().path()) {
                token::mark_sensitive(req.headers_mut());
                return Err(Early::Preflight(Box::new(served.answer(req.method()))));
            }
        }
        if let Some(respond) = &self.preflight {
            if is_preflight(req) {
                token::mark_sensitive(req.headers_mut());
                return Err(Early::Preflight(Box::new(respond(&RequestHead::of(req)))));
            }
        }
        if let Some(sources) = &self.sources {
            return self.start_from(sources, req);
        }
        if self.is_exempt(req) {
            return Err(Early::Exempt);
        }
        self.start_header(req, knows_only_b64tokens)
    }

    /// The `Authorization` header's token, its characters left for later when the resolver
    /// knows only `b64token`s and the layer's grammar is the strict one.
    #[inline(always)]
    fn start_header<'r, B>(
        &self,
        req: &'r mut Request<B>,
        knows_only_b64tokens: bool,
    ) -> Result<Resolve<'r>, Early> {
        if knows_only_b64tokens && self.token_chars == TokenChars::B64Token {
            let header = token::from_headers_unchecked(req.headers_mut());
            return self.resolve_or_refuse(header, true);
        }
        self.resolve_or_refuse(
            token::from_headers(req.headers_mut(), self.token_chars),
            false,
        )
    }

    /// A parsed header: its token to resolve unless it is too long, or the reason to refuse.
    #[inline(always)]
    fn resolve_or_refuse<'r>(
        &self,
        header: Result<Option<BearerToken<'r>>, Malformed>,
        unchecked: bool,
    ) -> Result<Resolve<'r>, Early> {
        let reason = match header {
            Ok(Some(token)) if token.len() > self.max_token_len => match unchecked {
                // As checked parsing would: the characters first.
                true if !token::is_b64token(token.as_bytes()) => Reason::Grammar,
                _ => Reason::TooLong,
            },
            Ok(Some(token)) => return Ok(Resolve { token, unchecked }),
            Ok(None) => Reason::Missing,
            Err(Malformed::Empty) => Reason::Empty,
            Err(Malformed::Grammar) => Reason::Grammar,
            // The header is never on the wrong method: `Method` is the query's alone.
            Err(Malformed::Repeated | Malformed::Method) => Reason::Repeated,
        };
        Err(Early::Refuse(reason))
    }

    /// [`start`](Self::start) with opt-in sources: their tokens are cut out of the request
    /// before any predicate sees it, and at most one token may be presented.
    fn start_from<'r, B>(
        &self,
        sources: &Sources,
        req: &'r mut Request<B>,
    ) -> Result<Resolve<'r>, Early> {
        let found = sources.take(req);
        if self.is_exempt(req) {
            return Err(Early::Exempt);
        }
        let header = token::from_headers(req.headers_mut(), self.token_chars);
        let (via, token) = match found.choose(!matches!(header, Ok(None))) {
            Choice::Header => return self.resolve_or_refuse(header, false),
            Choice::Conflict => return Err(Early::Refuse(Reason::Methods)),
            Choice::UntrustedOrigin => return Err(Early::Refuse(Reason::UntrustedOrigin)),
            Choice::Taken(via, token) => (via, token),
        };
        let checked = token.and_then(|secret| {
            let len = secret.checked(self.token_chars)?.len();
            Ok((secret, len))
        });
        let reason = match checked {
            Ok((_, len)) if len > self.max_token_len => Reason::TooLong,
            Ok((secret, _)) => return Err(Early::Taken(secret, via)),
            Err(Malformed::Empty) => Reason::Empty,
            Err(Malformed::Grammar) => Reason::Grammar,
            // Two values of one parameter, or two subprotocol entries.
            Err(Malformed::Repeated) => Reason::Methods,
            Err(Malformed::Method) => Reason::QueryMethod,
        };
        Err(Early::Refuse(reason))
    }

    fn is_exempt<B>(&self, req: &mut Request<B>) -> bool {
        if self.exempt.is_empty() {
            return false;
        }
        // Before any predicate sees the head: one that logs it must print no token.
        token::mark_sensitive(req.headers_mut());
        let head = RequestHead::of(req);
        self.exempt.iter().any(|exempt| exempt(&head))
    }
}
