//! The HTTP client of the oauth fetchers (JWKS, OpenID discovery, introspection): hyper's
//! pooled client, plain HTTP, and HTTPS through rustls with feature `rustls`.

use bytes::Bytes;
use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::BoxError;

#[cfg(feature = "rustls")]
pub(crate) type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(feature = "rustls"))]
pub(crate) type Connector = HttpConnector;

/// The roots an HTTPS client trusts: Mozilla's (webpki-roots) unless given others.
#[cfg(feature = "rustls")]
pub(crate) type Roots = Option<rustls::RootCertStore>;
#[cfg(not(feature = "rustls"))]
pub(crate) type Roots = Option<std::convert::Infallible>;

/// Refuses what this build cannot fetch: anything but `http`, and `https` without `rustls`.
/// The message does not repeat the URL: callers name the setting and the URL, redacted.
pub(crate) fn check_scheme(uri: &Uri) -> Result<(), BoxError> {
    match uri.scheme_str() {
        Some("http") => Ok(()),
        Some("https") if cfg!(feature = "rustls") => Ok(()),
        Some("https") => {
            Err("https needs tower-bearer's `rustls` feature (or a JwksFetcher of your own)".into())
        }
        _ => Err("not an http(s) URL".into()),
    }
}

/// A URL's text as errors show it: without user info or query ([`redact`](crate::redact)).
#[cfg_attr(not(feature = "jwt"), allow(dead_code))] // the JWKS fetcher's
pub(crate) fn shown(uri: &Uri) -> String {
    crate::redact::redact(&uri.to_string())
}

pub(crate) fn client<B>(roots: Roots) -> Client<Connector, B>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Data: Send,
{
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(std::time::Duration::from_secs(5)));
    #[cfg(feature = "rustls")]
    let connector = {
        http.enforce_http(false);
        let roots = roots.unwrap_or_else(|| {
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned())
        });
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http)
    };
    #[cfg(not(feature = "rustls"))]
    let connector = {
        let _ = roots;
        http
    };
    Client::builder(TokioExecutor::new()).build(connector)
}
