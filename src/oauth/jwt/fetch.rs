//! [`JwksFetcher`]: how a JWKS document is fetched, and [`HttpFetcher`], the plain-HTTP one.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, USER_AGENT};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;

use crate::oauth::http::{self as client, Connector, Roots};
use crate::BoxError;

/// A fetched JWKS document, and how long its server says it may be cached.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The document.
    pub body: Bytes,
    /// `Cache-Control: max-age`, when the server sent one.
    pub max_age: Option<Duration>,
}

/// Fetches the JWKS. Implement it to bring your own HTTP client (HTTPS with your TLS stack, a
/// proxy, a file); [`HttpFetcher`] speaks plain HTTP/1.1.
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use tower_bearer::oauth::{Fetched, JwksFetcher};
/// use tower_bearer::BoxError;
///
/// /// Keys from a file, read on every fetch.
/// struct FromFile(std::path::PathBuf);
///
/// impl JwksFetcher for FromFile {
///     fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Fetched, BoxError>> + Send>> {
///         let path = self.0.clone();
///         Box::pin(async move {
///             let body = std::fs::read(path)?.into();
///             Ok(Fetched { body, max_age: None })
///         })
///     }
/// }
/// ```
pub trait JwksFetcher: Send + Sync + 'static {
    /// Fetches the document once. Timeouts and retries are the cache's business.
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Fetched, BoxError>> + Send>>;
}

/// The largest JWKS document read: far beyond any real key set.
const MAX_DOCUMENT: usize = 512 * 1024;

/// Fetches over HTTP/1.1 with hyper's pooled client: plain HTTP, and HTTPS with feature
/// `rustls` (Mozilla's roots, or [`with_roots`](Self::with_roots) for a private CA). Without
/// that feature, implement [`JwksFetcher`] over the HTTPS client your service already uses.
#[derive(Clone)]
pub struct HttpFetcher {
    client: Client<Connector, Empty<Bytes>>,
    uri: Uri,
}

impl HttpFetcher {
    /// A fetcher of `url`: `http://`, or `https://` with feature `rustls`.
    pub fn new(url: &str) -> Result<Self, BoxError> {
        Self::build("HttpFetcher::new", url, None)
    }

    /// A fetcher of `url` over HTTPS that trusts `roots` (a private CA) instead of Mozilla's.
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    pub fn with_roots(url: &str, roots: rustls::RootCertStore) -> Result<Self, BoxError> {
        Self::build("HttpFetcher::with_roots", url, Some(roots))
    }

    /// A fetcher of `url`, which came from `setting` (named by an error).
    pub(crate) fn build(setting: &str, url: &str, roots: Roots) -> Result<Self, BoxError> {
        Ok(HttpFetcher {
            client: client::client(roots),
            uri: checked(setting, url)?,
        })
    }

    /// Another URL over the same client (and so the same trusted roots).
    fn at(&self, setting: &str, url: &str) -> Result<Self, BoxError> {
        Ok(HttpFetcher {
            client: self.client.clone(),
            uri: checked(setting, url)?,
        })
    }
}

/// A URL this build can fetch; the error names the setting it came from and the URL, redacted:
/// `jwks_url: "not a url" is not a URL: invalid uri character`.
fn checked(setting: &str, url: &str) -> Result<Uri, BoxError> {
    use crate::chain::said;
    let at = || crate::redact::redact(url);
    let uri: Uri = url
        .parse()
        .map_err(|e| said(format!("{setting}: {:?} is not a URL: {e}", at())))?;
    client::check_scheme(&uri).map_err(|e| said(format!("{setting}: {:?}: {e}", at())))?;
    Ok(uri)
}

impl fmt::Debug for HttpFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpFetcher")
            .field("uri", &client::shown(&self.uri))
            .finish()
    }
}

impl JwksFetcher for HttpFetcher {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Fetched, BoxError>> + Send>> {
        let (client, uri) = (self.client.clone(), self.uri.clone());
        Box::pin(async move {
            let at = client::shown(&uri);
            let request = Request::get(uri)
                .header(USER_AGENT, "tower-bearer")
                .body(Empty::new())?;
            let response = client
                .request(request)
                .await
                .map_err(|e| format!("JWKS {at}: {e} ({:?})", std::error::Error::source(&e)))?;
            if response.status() != StatusCode::OK {
                return Err(format!("JWKS {at}: status {}", response.status()).into());
            }
            let max_age = max_age(response.headers());
            let body = Limited::new(response.into_body(), MAX_DOCUMENT)
                .collect()
                .await
                .map_err(|e| format!("JWKS {at}: {e}"))?
                .to_bytes();
            Ok(Fetched { body, max_age })
        })
    }
}

/// Discovery: the JWKS named by `jwks_uri` in the issuer's OpenID Connect configuration
/// (`{issuer}/.well-known/openid-configuration`) or, when that cannot be had, its RFC 8414
/// authorization server metadata (`/.well-known/oauth-authorization-server` inserted before the
/// issuer's path), whose `issuer` must equal the issuer asked for, exactly (OpenID Connect
/// Discovery §4.3, RFC 8414 §3.3). The document is read on the first fetch and again after any
/// failure; the JWKS on every fetch.
pub(crate) struct DiscoveryFetcher {
    issuer: String,
    discovery: HttpFetcher,
    oauth_metadata: HttpFetcher,
    jwks: std::sync::Mutex<Option<HttpFetcher>>,
}

impl DiscoveryFetcher {
    pub(crate) fn new(issuer: &str, roots: Roots) -> Result<Self, BoxError> {
        // The issuer itself first, so that the error shows what was set.
        checked("issuer_url", issuer)?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let discovery = HttpFetcher::build("issuer_url", &url, roots)?;
        let oauth_metadata = discovery.at("issuer_url", &rfc8414_url(issuer))?;
        Ok(DiscoveryFetcher {
            issuer: issuer.to_owned(),
            discovery,
            oauth_metadata,
            jwks: std::sync::Mutex::new(None),
        })
    }

    async fn jwks_fetcher(&self) -> Result<HttpFetcher, BoxError> {
        if let Some(jwks) = self.jwks.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(jwks);
        }
        let document = match self.discovery.fetch().await {
            Ok(document) => document,
            Err(oidc) => self.oauth_metadata.fetch().await.map_err(|rfc8414| {
                format!("neither OpenID configuration ({oidc}) nor RFC 8414 metadata ({rfc8414})")
            })?,
        };
        let uri = jwks_uri(&self.issuer, &document.body)?;
        let jwks = self.discovery.at("the issuer's jwks_uri", &uri)?;
        *self.jwks.lock().unwrap_or_else(|e| e.into_inner()) = Some(jwks.clone());
        Ok(jwks)
    }
}

impl JwksFetcher for std::sync::Arc<DiscoveryFetcher> {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Fetched, BoxError>> + Send>> {
        let this = self.clone();
        Box::pin(async move {
            let jwks = this.jwks_fetcher().await?;
            let fetched = jwks.fetch().await;
            if fetched.is_err() {
                // The issuer may have moved its keys: discover again next time.
                *this.jwks.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
            fetched
        })
    }
}

/// RFC 8414 §3.1: the well-known path inserted between the issuer's host and its path.
fn rfc8414_url(issuer: &str) -> String {
    let issuer = issuer.trim_end_matches('/');
    let (scheme, rest) = issuer.split_once("://").unwrap_or(("", issuer));
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    format!("{scheme}://{host}/.well-known/oauth-authorization-server{path}")
}

/// The `jwks_uri` of an OpenID configuration, if the document names `issuer` exactly
/// (OpenID Connect Discovery §4.3), and, for an `https` issuer, if it is `https` too: an
/// issuer reached over TLS must not send the keys' fetch over plain http, where anyone on the
/// path could swap them.
fn jwks_uri(issuer: &str, document: &[u8]) -> Result<String, BoxError> {
    let config =
        crate::oauth::json::parse(document).map_err(|e| format!("OpenID configuration: {e}"))?;
    if config["issuer"].as_str() != Some(issuer) {
        return Err(format!(
            "OpenID configuration names issuer {:?}, not {:?}",
            config["issuer"], issuer
        )
        .into());
    }
    let uri = config["jwks_uri"]
        .as_str()
        .ok_or("OpenID configuration has no jwks_uri")?;
    let https = |url: &str| {
        url.get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    };
    if https(issuer) && !https(uri) {
        return Err(format!(
            "OpenID configuration of {issuer:?} names a jwks_uri that is not https ({:?}): refused",
            crate::redact::redact(uri)
        )
        .into());
    }
    Ok(uri.to_owned())
}

/// `Cache-Control: max-age=N`; `no-store` and `no-cache` count as zero.
fn max_age(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get(CACHE_CONTROL)?.to_str().ok()?;
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(n) = lower.strip_prefix("max-age=") {
            age = n.trim_matches('"').parse().ok().map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_takes_the_jwks_uri_of_its_issuer_and_no_downgrade() {
        let doc = |issuer: &str, jwks: &str| {
            serde_json::json!({"issuer": issuer, "jwks_uri": jwks}).to_string()
        };
        let ok = jwks_uri(
            "https://as.example",
            doc("https://as.example", "https://as.example/k").as_bytes(),
        );
        assert_eq!(ok.unwrap(), "https://as.example/k");
        let downgrade = jwks_uri(
            "https://as.example",
            doc("https://as.example", "http://as.example/k").as_bytes(),
        )
        .unwrap_err()
        .to_string();
        assert!(downgrade.contains("not https"), "{downgrade}");
        let upper = jwks_uri(
            "https://as.example",
            doc("https://as.example", "HTTP://as.example/k").as_bytes(),
        );
        assert!(upper.is_err());
        // A plain-http issuer (a local one) may name a plain-http JWKS.
        let local = jwks_uri(
            "http://127.0.0.1:3000",
            doc("http://127.0.0.1:3000", "http://127.0.0.1:3000/k").as_bytes(),
        );
        assert_eq!(local.unwrap(), "http://127.0.0.1:3000/k");
        let other = jwks_uri(
            "https://as.example",
            doc("https://evil.example", "https://evil.example/k").as_bytes(),
        );
        assert!(other.unwrap_err().to_string().contains("names issuer"));
        let none = jwks_uri("https://as.example", br#"{"issuer": "https://as.example"}"#);
        assert!(none.unwrap_err().to_string().contains("no jwks_uri"));
    }

    #[test]
    fn rfc_8414_inserts_the_well_known_path_before_the_issuers_path() {
        assert_eq!(
            rfc8414_url("https://as.example"),
            "https://as.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            rfc8414_url("https://as.example/tenant/a/"),
            "https://as.example/.well-known/oauth-authorization-server/tenant/a"
        );
    }

    #[test]
    fn urls_in_errors_and_debug_lose_their_credentials() {
        let error = HttpFetcher::new("ftp://user:pa55word@h/jwks")
            .unwrap_err()
            .to_string();
        assert!(
            !error.contains("pa55word") && error.contains("ftp://h/jwks"),
            "{error}"
        );
        let fetcher = HttpFetcher::new("http://user:pa55word@127.0.0.1:1/jwks").unwrap();
        assert!(!format!("{fetcher:?}").contains("pa55word"));
    }

    #[tokio::test]
    async fn a_failed_fetch_names_the_url_without_credentials() {
        let fetcher = HttpFetcher::new("http://user:pa55word@127.0.0.1:1/jwks").unwrap();
        let error = fetcher.fetch().await.unwrap_err().to_string();
        assert!(
            error.starts_with("JWKS http://127.0.0.1:1/jwks: "),
            "{error}"
        );
        assert!(!error.contains("pa55word"), "{error}");
    }

    #[test]
    fn cache_control_max_age() {
        let read = |v: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(CACHE_CONTROL, v.parse().unwrap());
            max_age(&h)
        };
        assert_eq!(read("public, max-age=600"), Some(Duration::from_secs(600)));
        assert_eq!(read("Max-Age=\"30\""), Some(Duration::from_secs(30)));
        assert_eq!(read("no-store"), Some(Duration::ZERO));
        assert_eq!(read("public"), None);
        assert_eq!(max_age(&http::HeaderMap::new()), None);
        assert_eq!(
            HttpFetcher::new("https://issuer.example/jwks").is_ok(),
            cfg!(feature = "rustls")
        );
        assert!(HttpFetcher::new("ftp://issuer.example/jwks").is_err());
        assert!(HttpFetcher::new("http://127.0.0.1:1/jwks").is_ok());
    }
}
