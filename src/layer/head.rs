//! [`RequestHead`]: the parts of a request that the layer's predicates and handlers see.

use std::fmt;

use http::header::{HeaderName, AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION};
use http::{HeaderMap, Method, Uri};

/// The parts of a request an [`exempt`](crate::BearerLayer::exempt) predicate may look at.
///
/// Its `Debug` output shows the header names, with the values of `authorization`,
/// `proxy-authorization` and `cookie` replaced by `***`.
#[derive(Clone, Copy)]
pub struct RequestHead<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
}

impl<'a> RequestHead<'a> {
    pub(crate) fn of<B>(req: &'a http::Request<B>) -> Self {
        RequestHead {
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
        }
    }

    /// The request method.
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The request target.
    pub fn uri(&self) -> &'a Uri {
        self.uri
    }

    /// The request headers. The `Authorization` header is among them: do not log it.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }
}

impl fmt::Debug for RequestHead<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted<'a>(&'a HeaderMap);
        impl fmt::Debug for Redacted<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let secret =
                    |name: &HeaderName| [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE].contains(name);
                f.debug_map()
                    .entries(self.0.iter().map(|(name, value)| {
                        let value: &dyn fmt::Debug = if secret(name) { &"***" } else { value };
                        (name, value)
                    }))
                    .finish()
            }
        }
        f.debug_struct("RequestHead")
            .field("method", self.method)
            .field("uri", self.uri)
            .field("headers", &Redacted(self.headers))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_head_debug_redacts_credentials() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, "Bearer s3cr3t-token".parse().unwrap());
        headers.insert(PROXY_AUTHORIZATION, "Basic cHJveHk=".parse().unwrap());
        headers.insert(COOKIE, "sid=c00kie".parse().unwrap());
        headers.insert("x-request-id", "42".parse().unwrap());
        let head = RequestHead {
            method: &Method::GET,
            uri: &"/a?b=c".parse().unwrap(),
            headers: &headers,
        };
        let printed = format!("{head:?}");
        for secret in ["s3cr3t", "cHJveHk", "c00kie"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert_eq!(
            printed,
            r#"RequestHead { method: GET, uri: /a?b=c, headers: {"authorization": "***", "proxy-authorization": "***", "cookie": "***", "x-request-id": "42"} }"#
        );
    }
}
