//! [`DpopLayer`]: DPoP (RFC 9449) in front of a [`BearerLayer`](crate::BearerLayer). It checks
//! the proof of a `DPoP`-scheme request (its signature, `htm`, `htu`, `iat`, `ath`, the server
//! nonce, and that its `jti` was never seen), then hands the token on to the bearer layer as a
//! token presented with a proof ([`BearerToken::dpop_thumbprint`](crate::BearerToken)), whose
//! resolvers check that the proof's key is the one the token is bound to (`cnf.jkt`). Its
//! answers carry the `DPoP` challenges; see [`challenge`](super::challenge).

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::challenge::{Post, Refused};
use super::pending::{DpopFuture, FirstUse};
use super::{check_proof, Nonces, ProofRequest, ProofSettings, ReplayStore};
use crate::body::ResponseBody;
use crate::resolver::BoxError;

/// The `DPoP` request header.
pub(crate) const DPOP: &str = "dpop";

/// What a handler reads from a request that came with a valid DPoP proof: the thumbprint of
/// the proof's key (RFC 7638), which the token was bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpopProof {
    jkt: Arc<str>,
}

impl DpopProof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's public key, base64url.
    pub fn thumbprint(&self) -> &str {
        &self.jkt
    }

    pub(crate) fn thumbprint_arc(&self) -> Arc<str> {
        self.jkt.clone()
    }
}

/// Whether a layer takes DPoP next to Bearer, or DPoP alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DpopMode {
    /// `Authorization: Bearer` and `Authorization: DPoP` are both accepted (a token bound to a
    /// key is still refused as Bearer).
    Allowed,
    /// Only `Authorization: DPoP`: a Bearer request is refused with a `DPoP` challenge.
    Required,
}

/// Where `htu` is checked against: the origin clients send requests to.
#[derive(Clone, Debug)]
enum Origin {
    /// `https://api.example`: the external origin, which need not be the listening address
    /// (several instances behind one load balancer share it).
    Fixed(String),
    /// The request's absolute URI, or its `Host` header: only when the user says so.
    FromHost { scheme: &'static str },
    /// Not set: every proof is refused (and the layer says why, once, at WARN).
    Unset,
}

impl Origin {
    fn uri<B>(&self, req: &Request<B>) -> Option<String> {
        let path = req.uri().path();
        match self {
            Origin::Fixed(origin) => Some(format!("{origin}{path}")),
            Origin::FromHost { scheme } => {
                let host = match req.uri().authority() {
                    Some(authority) => authority.as_str().to_owned(),
                    None => req
                        .headers()
                        .get(http::header::HOST)?
                        .to_str()
                        .ok()?
                        .to_owned(),
                };
                Some(format!("{scheme}://{host}{path}"))
            }
            Origin::Unset => {
                static SAID: std::sync::Once = std::sync::Once::new();
                SAID.call_once(|| {
                    tracing::warn!(
                        "bearer: DpopLayer has no origin, so no proof's htu can be checked and \
                         every DPoP request is refused: set .origin(\"https://your.api\")"
                    );
                });
                None
            }
        }
    }
}

#[derive(Clone)]
pub(super) struct Settings {
    pub(super) mode: DpopMode,
    pub(super) proof: ProofSettings,
    replay: Arc<dyn ReplayStore>,
    pub(super) nonces: Option<Nonces>,
    origin: Origin,
    /// The RFC 9728 metadata URL, named in every `DPoP` challenge.
    pub(super) resource_metadata: Option<String>,
    /// `algs="ES256 EdDSA …"`'s value.
    pub(super) algs: String,
}

/// DPoP for the [`BearerLayer`](crate::BearerLayer) it is put in front of.
///
/// ```
/// use tower::ServiceBuilder;
/// use tower_bearer::dpop::{DpopLayer, MemoryReplayStore};
/// use tower_bearer::oauth::{JwtResolver, Key, KeySet};
/// use tower_bearer::BearerLayer;
/// # fn key() -> Key { Key::from_jwk(&serde_json::json!({"kty": "OKP", "crv": "Ed25519",
/// #     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})).unwrap() }
///
/// let jwt: JwtResolver = JwtResolver::builder()
///     .audience("https://api.example")
///     .keys(KeySet::new([key()]))
///     .unwrap();
/// let dpop = DpopLayer::allowed(MemoryReplayStore::new())
///     .origin("https://api.example")
///     .unwrap();
/// let stack = ServiceBuilder::new().layer(dpop).layer(BearerLayer::new(jwt));
/// # let _ = stack;
/// ```
#[derive(Clone)]
pub struct DpopLayer {
    settings: Arc<Settings>,
}

impl DpopLayer {
    /// Bearer and DPoP both accepted; `jti`s remembered in `replay`.
    pub fn allowed(replay: impl ReplayStore) -> Self {
        Self::new(DpopMode::Allowed, Arc::new(replay))
    }

    /// DPoP alone; `jti`s remembered in `replay`.
    pub fn required(replay: impl ReplayStore) -> Self {
        Self::new(DpopMode::Required, Arc::new(replay))
    }

    fn new(mode: DpopMode, replay: Arc<dyn ReplayStore>) -> Self {
        let proof = ProofSettings::new();
        DpopLayer {
            settings: Arc::new(Settings {
                mode,
                algs: algs(&proof),
                proof,
                replay,
                nonces: None,
                origin: Origin::Unset,
                resource_metadata: None,
            }),
        }
    }

    fn with(mut self, change: impl FnOnce(&mut Settings)) -> Self {
        // A layer cloned before it was finished gets settings of its own.
        let settings = Arc::make_mut(&mut self.settings);
        change(settings);
        self
    }

    /// The external origin (`https://api.example`, `https://api.example:8443`) that each
    /// proof's `htu` must name, with the request's path. Behind a proxy or a load balancer
    /// this is the origin clients use, not the listening address. Without it (or
    /// [`origin_from_host`](Self::origin_from_host)) every proof is refused.
    pub fn origin(self, origin: &str) -> Result<Self, BoxError> {
        let normalized = super::normalize_htu(origin)
            .filter(|n| n.matches('/').count() == 3 && n.ends_with('/'))
            .ok_or_else(|| {
                format!(
                    "DpopLayer::origin: {origin:?} is not an http(s) origin (scheme://host[:port])"
                )
            })?;
        let origin = normalized.trim_end_matches('/').to_owned();
        Ok(self.with(|s| s.origin = Origin::Fixed(origin)))
    }

    /// Takes `htu`'s origin from the request itself (its absolute URI, or its `Host` header)
    /// with `scheme`: only for a server that clients reach directly, since `Host` is the
    /// client's to choose.
    pub fn origin_from_host(self, scheme: &'static str) -> Self {
        self.with(|s| s.origin = Origin::FromHost { scheme })
    }

    /// Server nonces (RFC 9449 §9): a proof must carry the current (or the previous) one; a
    /// proof without it gets `401 use_dpop_nonce` with `DPoP-Nonce`, and answers carry the
    /// next nonce once it rotates. Instances that share the nonces' secret accept each
    /// other's.
    pub fn nonces(self, nonces: Nonces) -> Self {
        self.with(|s| s.nonces = Some(nonces))
    }

    /// The proof algorithms accepted and the `iat` window.
    pub fn proof_settings(self, proof: ProofSettings) -> Self {
        self.with(|s| {
            s.algs = algs(&proof);
            s.proof = proof;
        })
    }

    /// The RFC 9728 metadata URL the bearer layer serves, named in every `DPoP` challenge.
    pub fn resource_metadata(self, url: impl Into<String>) -> Self {
        let url = url.into();
        self.with(|s| s.resource_metadata = Some(url))
    }

    /// `metadata` (RFC 9728) saying what this layer takes: its proof algorithms
    /// (`dpop_signing_alg_values_supported`) and, where DPoP is required,
    /// `dpop_bound_access_tokens_required`. Name the document in the challenges with
    /// [`resource_metadata`](Self::resource_metadata).
    ///
    /// ```
    /// use tower_bearer::dpop::{DpopLayer, MemoryReplayStore};
    /// use tower_bearer::protected_resource::ProtectedResourceMetadata;
    ///
    /// let dpop = DpopLayer::required(MemoryReplayStore::new());
    /// let metadata = dpop.advertise(ProtectedResourceMetadata::new("https://api.example").unwrap());
    /// assert!(metadata.dpop_bound_access_tokens_required);
    /// assert!(metadata.dpop_signing_alg_values_supported.contains(&"ES256".to_owned()));
    /// let dpop = dpop.resource_metadata(metadata.well_known_url());
    /// # let _ = dpop;
    /// ```
    pub fn advertise(
        &self,
        mut metadata: crate::protected_resource::ProtectedResourceMetadata,
    ) -> crate::protected_resource::ProtectedResourceMetadata {
        let algs = self.settings.proof.algorithms_list();
        metadata.dpop_signing_alg_values_supported =
            algs.iter().map(|a| a.name().to_owned()).collect();
        metadata.dpop_bound_access_tokens_required = self.settings.mode == DpopMode::Required;
        metadata
    }

    /// The mode: [`DpopMode::Allowed`] or [`DpopMode::Required`].
    pub fn mode(&self) -> DpopMode {
        self.settings.mode
    }
}

fn algs(proof: &ProofSettings) -> String {
    let names: Vec<_> = proof.algorithms_list().iter().map(|a| a.name()).collect();
    names.join(" ")
}

impl fmt::Debug for DpopLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        f.debug_struct("DpopLayer")
            .field("mode", &s.mode)
            .field("origin", &s.origin)
            .field("nonces", &s.nonces.is_some())
            .field("algs", &s.algs)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for DpopLayer {
    type Service = Dpop<S>;
    fn layer(&self, inner: S) -> Dpop<S> {
        Dpop {
            inner,
            settings: self.settings.clone(),
        }
    }
}

/// The service [`DpopLayer`] builds.
#[derive(Clone)]
pub struct Dpop<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S: fmt::Debug> fmt::Debug for Dpop<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dpop")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// The scheme a request's one `Authorization` value uses.
enum Scheme<'a> {
    Dpop(&'a str),
    Bearer,
    Other,
}

fn scheme<B>(req: &Request<B>) -> Scheme<'_> {
    let mut values = req.headers().get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        // None, or several: the bearer layer answers (`400` for several).
        return Scheme::Other;
    };
    let Ok(value) = value.to_str() else {
        return Scheme::Other;
    };
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("dpop") => {
            Scheme::Dpop(token.trim_matches(' '))
        }
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("bearer") => Scheme::Bearer,
        _ => Scheme::Other,
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Dpop<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = DpopFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let settings = self.settings.clone();
        let proofs = req.headers().get_all(DPOP).iter().count();
        let grpc = crate::rejection::grpc::Grpc::of(req.headers());
        let refuse = |refused: Refused| {
            if let Refused::Invalid(_) = refused {
                crate::metrics::dpop_proof("invalid");
            }
            DpopFuture::refused(refused.answer(&settings, grpc))
        };
        let token = match scheme(&req) {
            Scheme::Dpop(token) => token.to_owned(),
            Scheme::Bearer if settings.mode == DpopMode::Required => {
                return refuse(Refused::BearerWhereDpopRequired);
            }
            Scheme::Bearer if proofs > 0 => return refuse(Refused::ProofWithBearer),
            _ => {
                req.headers_mut().remove(DPOP);
                let post = Post::new(&settings, false, None);
                return DpopFuture::calling(inner, req, post);
            }
        };
        if proofs != 1 {
            return refuse(Refused::Invalid(format!(
                "{proofs} DPoP headers: exactly one is needed"
            )));
        }
        let now = now_secs();
        let proof = req.headers().get(DPOP).and_then(|v| v.to_str().ok());
        let Some(uri) = settings.origin.uri(&req) else {
            return refuse(Refused::Invalid("the server cannot check htu".into()));
        };
        let request = ProofRequest {
            method: req.method().as_str(),
            uri: &uri,
            access_token: Some(&token),
            now,
        };
        let verified = match proof.map(|p| check_proof(p, &request, &settings.proof)) {
            Some(Ok(verified)) => verified,
            Some(Err(error)) => {
                tracing::debug!(why = %error, "bearer: the DPoP proof is refused");
                return refuse(Refused::Invalid(error.to_string()));
            }
            None => return refuse(Refused::Invalid("the DPoP header is not text".into())),
        };
        let mut next_nonce = None;
        if let Some(nonces) = &settings.nonces {
            match nonces.check(verified.nonce.as_deref(), now) {
                super::NonceCheck::Current => {}
                super::NonceCheck::Previous => next_nonce = Some(nonces.current(now)),
                _ => {
                    tracing::debug!("bearer: the DPoP proof has no current nonce");
                    crate::metrics::dpop_proof("nonce");
                    return refuse(Refused::UseNonce(nonces.current(now)));
                }
            }
        }
        // The bearer layer sees the token as Bearer, with the proof's key beside it.
        let jkt: Arc<str> = verified.jkt.as_str().into();
        let Ok(mut bearer) = HeaderValue::from_str(&format!("Bearer {token}")) else {
            return refuse(Refused::Invalid("the token is not a header value".into()));
        };
        bearer.set_sensitive(true);
        req.headers_mut().insert(AUTHORIZATION, bearer);
        req.headers_mut().remove(DPOP);
        req.extensions_mut().insert(DpopProof { jkt });
        let post = Post::new(&settings, true, next_nonce);
        let key = verified.replay_key();
        let ttl = settings.proof.replay_window();
        let replay = settings.replay.clone();
        let first: FirstUse = Box::pin(async move { replay.first_use(&key, ttl).await });
        DpopFuture::checking(first, inner, req, post, grpc)
    }
}
