//! Serving the metadata: `GET` and `HEAD` at the path-inserted well-known URL and at the root
//! one, without a token and with CORS (a browser client reads it cross-origin, with an
//! `MCP-Protocol-Version` header), and [`ProtectedResourceService`] for apps that route it
//! themselves.

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ALLOW, CACHE_CONTROL, CONTENT_TYPE,
};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use tower_service::Service;

use super::metadata::{ProtectedResourceMetadata, WELL_KNOWN};

/// The metadata ready to serve: its paths and its bytes, computed once.
#[derive(Clone, Debug)]
pub(crate) struct Served {
    pub(crate) metadata: Arc<ProtectedResourceMetadata>,
    /// The path-inserted well-known path, and the URL challenges name.
    path: String,
    pub(crate) url: Arc<str>,
    json: Bytes,
    /// The user's metadata named its bearer methods itself: the layer leaves them.
    user_set_methods: bool,
}

impl Served {
    pub(crate) fn new(metadata: ProtectedResourceMetadata) -> Self {
        Served {
            user_set_methods: !metadata.bearer_methods_supported.is_empty(),
            path: metadata.well_known_path(),
            url: metadata.well_known_url().into(),
            json: Bytes::from(metadata.to_json()),
            metadata: Arc::new(metadata),
        }
    }

    /// The document with `bearer_methods_supported` as the layer's sources make it, unless the
    /// user set it.
    pub(crate) fn with_bearer_methods(&self, methods: Vec<String>) -> Self {
        match self.user_set_methods {
            true => self.clone(),
            false => {
                let mut metadata = (*self.metadata).clone();
                metadata.bearer_methods_supported = methods;
                Served {
                    user_set_methods: false,
                    ..Served::new(metadata)
                }
            }
        }
    }

    /// Whether a request for `path` asks for the document: the path-inserted well-known path,
    /// or the root one (clients fall back to it).
    pub(crate) fn is_for(&self, path: &str) -> bool {
        path == self.path || path == WELL_KNOWN
    }

    /// The answer to a request for the document.
    pub(crate) fn answer(&self, method: &Method) -> Response<Bytes> {
        let mut response = match *method {
            Method::GET | Method::HEAD => {
                let mut response = Response::new(match *method {
                    Method::HEAD => Bytes::new(),
                    _ => self.json.clone(),
                });
                let headers = response.headers_mut();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
                response
            }
            // A CORS preflight, or a plain OPTIONS: what a browser may send.
            Method::OPTIONS => {
                let mut response = Response::new(Bytes::new());
                *response.status_mut() = StatusCode::NO_CONTENT;
                let headers = response.headers_mut();
                headers.insert(
                    ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static("GET, HEAD, OPTIONS"),
                );
                headers.insert(
                    ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static("authorization, mcp-protocol-version"),
                );
                headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
                response
            }
            _ => {
                let mut response = Response::new(Bytes::new());
                *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
                response
            }
        };
        // Public, and read cross-origin by browser clients.
        response
            .headers_mut()
            .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        response
    }
}

/// A service that serves [`ProtectedResourceMetadata`] at its well-known paths (the
/// path-inserted one and the root one) and answers `404` to anything else. Mount it where no
/// bearer layer stands in front of it; or let the layer serve the document itself with
/// [`BearerLayer::protected_resource`](crate::BearerLayer::protected_resource), which cannot be
/// put behind itself by accident.
///
/// ```
/// use tower::ServiceExt;
/// use tower_bearer::protected_resource::{ProtectedResourceMetadata, ProtectedResourceService};
///
/// # tokio_test::block_on(async {
/// let metadata = ProtectedResourceMetadata::new("https://api.example/mcp")?
///     .authorization_server("https://auth.example");
/// let service = ProtectedResourceService::new(metadata);
/// let request = http::Request::get("/.well-known/oauth-protected-resource/mcp")
///     .body(())
///     .unwrap();
/// let response = service.oneshot(request).await?;
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["access-control-allow-origin"], "*");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// As axum routes, on both well-known paths, beside (not under) the layer:
///
/// ```
/// use tower_bearer::protected_resource::{ProtectedResourceMetadata, ProtectedResourceService};
///
/// let metadata = ProtectedResourceMetadata::new("https://api.example/mcp")?
///     .authorization_server("https://auth.example");
/// let service = ProtectedResourceService::new(metadata.clone());
/// let public: axum::Router = axum::Router::new()
///     .route_service(&metadata.well_known_path(), service.clone())
///     .route_service("/.well-known/oauth-protected-resource", service);
/// # let _ = public;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ProtectedResourceService {
    served: Served,
}

impl ProtectedResourceService {
    /// A service serving `metadata`.
    pub fn new(metadata: ProtectedResourceMetadata) -> Self {
        ProtectedResourceService {
            served: Served::new(metadata),
        }
    }
}

impl<B> Service<Request<B>> for ProtectedResourceService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let response = match self.served.is_for(request.uri().path()) {
            true => self.served.answer(request.method()),
            false => {
                let mut response = Response::new(Bytes::new());
                *response.status_mut() = StatusCode::NOT_FOUND;
                response
            }
        };
        ready(Ok(response.map(Full::new)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_head_preflight_and_the_rest() {
        let served = Served::new(
            ProtectedResourceMetadata::new("https://api.example/tenant/a/mcp")
                .unwrap()
                .authorization_server("https://auth.example"),
        );
        assert!(served.is_for("/.well-known/oauth-protected-resource/tenant/a/mcp"));
        assert!(served.is_for("/.well-known/oauth-protected-resource"));
        assert!(!served.is_for("/.well-known/oauth-protected-resource/tenant/a"));
        assert!(!served.is_for("/tenant/a/mcp"));
        let get = served.answer(&Method::GET);
        assert_eq!(get.status(), 200);
        assert_eq!(get.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(get.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        let json: serde_json::Value = serde_json::from_slice(get.body()).unwrap();
        assert_eq!(json["resource"], "https://api.example/tenant/a/mcp");
        let head = served.answer(&Method::HEAD);
        assert_eq!((head.status(), head.body().len()), (StatusCode::OK, 0));
        let preflight = served.answer(&Method::OPTIONS);
        assert_eq!(preflight.status(), 204);
        assert_eq!(preflight.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(
            preflight.headers()[ACCESS_CONTROL_ALLOW_HEADERS],
            "authorization, mcp-protocol-version"
        );
        let post = served.answer(&Method::POST);
        assert_eq!(post.status(), 405);
        assert_eq!(post.headers()[ALLOW], "GET, HEAD, OPTIONS");
    }
}
