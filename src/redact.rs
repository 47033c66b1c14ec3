//! What of a URL may be written to a log: never its user info (`user:password@`), never the
//! value of a query parameter (the query source reads tokens there, drivers read passwords).
//!
//! [`RedactedUri`] is the public face, for request logs (`TraceLayer`'s spans); [`redact`] is
//! what the crate's own error messages use for the URLs of its backends.

use std::fmt;

use http::Uri;

/// A request URI fit for a log: the path, and the query's parameter names with every value
/// replaced by `***`; no user info. Use it wherever a URI is logged outside the bearer layer,
/// which sees the request before it and would otherwise log a query-string token
/// (`?access_token=…`) in clear.
///
/// With tower-http's `TraceLayer`, in place of its default span (whose `uri` field, in clear,
/// every event of the request repeats). Its default `on_request`, `on_response` and
/// `on_failure` print no URI; leave its `include_headers` off when it is outside the bearer
/// layer, where the `Authorization` header is not yet marked sensitive:
///
/// ```
/// use http::Request;
/// use tower_bearer::RedactedUri;
///
/// fn make_span<B>(request: &Request<B>) -> tracing::Span {
///     tracing::debug_span!(
///         "request",
///         method = %request.method(),
///         uri = %RedactedUri::new(request.uri()),
///         version = ?request.version(),
///     )
/// }
/// // TraceLayer::new_for_http().make_span_with(make_span::<axum::body::Body>)
///
/// let uri = "http://u:pw@api.example/ws?access_token=s3cret&x=1".parse().unwrap();
/// assert_eq!(
///     RedactedUri::new(&uri).to_string(),
///     "http://api.example/ws?access_token=***&x=***"
/// );
/// let uri = "/ws?access_token=s3cret".parse().unwrap();
/// assert_eq!(RedactedUri::new(&uri).to_string(), "/ws?access_token=***");
/// ```
#[derive(Clone, Copy)]
pub struct RedactedUri<'a>(&'a Uri);

impl<'a> RedactedUri<'a> {
    /// Wraps `uri` for display.
    pub fn new(uri: &'a Uri) -> Self {
        RedactedUri(uri)
    }
}

impl fmt::Display for RedactedUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uri = self.0;
        if let Some(scheme) = uri.scheme_str() {
            write!(f, "{scheme}://")?;
        }
        if let Some(authority) = uri.authority() {
            let host = authority.as_str();
            f.write_str(host.rsplit_once('@').map_or(host, |(_, host)| host))?;
        }
        f.write_str(uri.path())?;
        if let Some(query) = uri.query() {
            f.write_str("?")?;
            for (i, pair) in query.split('&').enumerate() {
                if i > 0 {
                    f.write_str("&")?;
                }
                match pair.split_once('=') {
                    Some((name, _)) => write!(f, "{name}=***")?,
                    // A bare word may itself be a secret.
                    None if pair.is_empty() => {}
                    None => f.write_str("***")?,
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for RedactedUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// A backend's URL fit for an error message: without its user info and without its query
/// (where drivers also take a password); the scheme, host, port and path kept. Unlike
/// [`RedactedUri`] it takes any URL a driver takes (`redis://`, `postgres://`, `sqlite:`).
#[allow(dead_code)] // used by the backends, each behind a feature
pub(crate) fn redact(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    let Some((scheme, rest)) = url.split_once("://") else {
        // `sqlite:path` and the like: no authority, nothing secret but the query.
        return url.to_owned();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_urls_lose_their_credentials_and_keep_where_they_point() {
        for (url, shown) in [
            (
                "postgres://app:s3cret@db.internal:5433/auth?sslmode=require",
                "postgres://db.internal:5433/auth",
            ),
            ("mysql://root:pw@127.0.0.1/app", "mysql://127.0.0.1/app"),
            ("redis://:s3cret@10.0.0.7:6379/2", "redis://10.0.0.7:6379/2"),
            (
                "postgres://db/auth?user=app&password=s3cret",
                "postgres://db/auth",
            ),
            ("sqlite:///srv/auth/auth.db", "sqlite:///srv/auth/auth.db"),
            ("sqlite:auth.db?mode=ro", "sqlite:auth.db"),
            (
                "http://u:p@auth.internal:3000/api/auth",
                "http://auth.internal:3000/api/auth",
            ),
            ("redis://a@b:c@host:1", "redis://host:1"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn request_uris_keep_names_and_lose_values() {
        for (uri, shown) in [
            ("/", "/"),
            ("/a/b", "/a/b"),
            ("/a?access_token=tok", "/a?access_token=***"),
            (
                "/a?x=1&access_token=tok&&y",
                "/a?x=***&access_token=***&&***",
            ),
            ("/a?tokenonly", "/a?***"),
            ("http://h:8/p?q=", "http://h:8/p?q=***"),
            ("https://user:pw@h/p", "https://h/p"),
        ] {
            let uri: Uri = uri.parse().unwrap();
            assert_eq!(RedactedUri::new(&uri).to_string(), shown);
            assert_eq!(format!("{:?}", RedactedUri::new(&uri)), shown);
        }
    }
}
