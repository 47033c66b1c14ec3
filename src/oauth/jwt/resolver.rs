//! [`JwtResolver`]: a [`SessionResolver`] whose sessions are verified JWT claims.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::fetch::{HttpFetcher, JwksFetcher};
use super::jwks::{Jwks, JwksSettings, Lookup};
use super::jws::{self, Jws};
use super::keyset::KeySet;
use crate::cache::Cache;
use crate::digest::TokenDigest;
use crate::oauth::claims::{held_by, now_secs, Claims};
use crate::oauth::validation::Validation;
use crate::{BearerToken, BoxError, SessionResolver};

/// Verifies JWT access tokens against static keys or a cached JWKS; the session is the token's
/// [`Claims`], typed as `T` beyond the registered ones.
///
/// A token is accepted only when its header names an algorithm that fits one of the keys
/// (by `kid` when the token names one), the signature verifies, and the claims pass the
/// checks (`exp` required, `nbf`, `iat`, leeway 60 s, and `iss`/`aud` when configured).
/// Everything else is `401 invalid_token`; a token that cannot be decided because the JWKS is
/// unreachable is `503`. A verified token is remembered (by a keyed digest, never past its
/// `exp`), so a repeated token skips the signature check.
///
/// JWTs are often longer than the layer's default 4 KiB limit (Keycloak's with many roles):
/// raise it with [`BearerLayer::max_token_len`](crate::BearerLayer::max_token_len).
///
/// ```
/// use serde_json::json;
/// use tower_bearer::oauth::{JwtResolver, Key, KeySet};
/// use tower_bearer::BearerLayer;
///
/// let key = Key::from_jwk(&json!({
///     "kty": "OKP", "crv": "Ed25519", "kid": "k1",
///     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
/// })).unwrap();
/// let resolver: JwtResolver = JwtResolver::builder()
///     .issuer("https://auth.example")
///     .audience("https://api.example")
///     .keys(KeySet::new([key]))
///     .unwrap();
/// let layer = BearerLayer::new(resolver).max_token_len(16 * 1024);
/// # let _ = layer;
/// ```
pub struct JwtResolver<T = Map<String, Value>> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    keys: Keys,
    validation: Validation,
    verified: Option<(Cache<Arc<Remembered<T>>>, Duration)>,
    digest: TokenDigest,
}

/// A verified token in the cache: keyed by the keyed digest of its signature segment (the
/// part no one can make without the signing key), holding the `header.payload` it signed.
/// A hit compares that text to the token's, so a token whose header or payload differs from
/// the verified one never hits, and the digest runs over the signature alone, whatever the
/// length of the claims (a 2 KiB token costs a hit about what a 300-byte one does). The text
/// is no secret the cache did not hold already: the payload's claims are in the entry anyway,
/// and without the signature it grants nothing.
struct Remembered<T> {
    signed: Box<[u8]>,
    claims: Arc<Claims<T>>,
}

/// `header.payload` and the signature segment of a compact JWS (or of anything with a dot).
/// `memrchr` reads the signature a word at a time (a byte loop cost 600 instructions a hit).
fn split_signature(token: &[u8]) -> Option<(&[u8], &[u8])> {
    let dot = memchr::memrchr(b'.', token)?;
    Some((&token[..dot], &token[dot + 1..]))
}

enum Keys {
    Static(Arc<KeySet>),
    Remote(Arc<Jwks>),
}

/// Settings for a [`JwtResolver`]; finish with [`keys`](Self::keys), [`jwks_url`](Self::jwks_url)
/// or [`jwks`](Self::jwks).
pub struct JwtResolverBuilder<T = Map<String, Value>> {
    validation: Validation,
    jwks: JwksSettings,
    roots: crate::oauth::http::Roots,
    verified: Option<(usize, Duration)>,
    _claims: PhantomData<fn() -> T>,
}

impl<T> JwtResolver<T> {
    /// Settings: `exp` required, 60 s leeway, no issuer, the audience to be decided
    /// ([`audience`](JwtResolverBuilder::audience) or
    /// [`any_audience`](JwtResolverBuilder::any_audience)), a verified-token cache of
    /// 100,000 tokens for at most 5 minutes each (never past `exp`), the JWKS defaults.
    pub fn builder() -> JwtResolverBuilder<T> {
        JwtResolverBuilder {
            validation: Validation::default(),
            jwks: JwksSettings::default(),
            roots: None,
            verified: Some((100_000, Duration::from_secs(300))),
            _claims: PhantomData,
        }
    }
}

impl<T> JwtResolverBuilder<T> {
    /// The `iss` every token must carry, compared exactly.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.validation.issuer = Some(issuer.into());
        self
    }

    /// The audience every token's `aud` (a string or a list) must contain: this service's
    /// identifier (RFC 8707), compared as a resource URI when it is one (scheme and host
    /// case, default port and a trailing slash do not matter). One of this or
    /// [`any_audience`](Self::any_audience) is required: a token the issuer minted for
    /// another API is never accepted silently.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.validation.audience = Some(audience.into());
        self
    }

    /// Accepts tokens for any audience: for an issuer that mints tokens for this service
    /// alone. Without it, [`audience`](Self::audience) is required.
    pub fn any_audience(mut self) -> Self {
        self.validation.any_audience = true;
        self
    }

    /// Clock-skew allowance for `exp`, `nbf` and `iat`. Default 60 s.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.validation.leeway = leeway;
        self
    }

    /// Whether a token without `exp` is refused. Default `true`.
    pub fn require_exp(mut self, require: bool) -> Self {
        self.validation.require_exp = require;
        self
    }

    /// The RFC 9068 profile: `typ` `at+jwt` (or `application/at+jwt`), and `iss`, `exp`, `aud`,
    /// `sub`, `client_id`, `iat` and `jti` present. Default off.
    pub fn access_token_profile(mut self, on: bool) -> Self {
        self.validation.access_token_profile = on;
        self
    }

    /// How the JWKS is cached and refetched.
    pub fn jwks_settings(mut self, settings: JwksSettings) -> Self {
        self.jwks = settings;
        self
    }

    /// The verified-token cache: at most `max_entries` tokens, each for at most `max_age`
    /// (never past its `exp`). `max_entries` 0 turns it off.
    pub fn verified_cache(mut self, max_entries: usize, max_age: Duration) -> Self {
        self.verified = (max_entries > 0).then_some((max_entries, max_age));
        self
    }

    /// The roots [`jwks_url`](Self::jwks_url) and [`issuer_url`](Self::issuer_url) trust over
    /// HTTPS, for an issuer behind a private CA. Default: Mozilla's (webpki-roots).
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    pub fn tls_roots(mut self, roots: rustls::RootCertStore) -> Self {
        self.roots = Some(roots);
        self
    }

    /// A resolver over keys you configure (JWKs, HMAC secrets); nothing is fetched. Fails
    /// when no audience is decided.
    pub fn keys(self, keys: KeySet) -> Result<JwtResolver<T>, BoxError> {
        self.build(Keys::Static(Arc::new(keys)))
    }

    /// A resolver over the JWKS at `url` (`http://`, or `https://` with feature `rustls`; see
    /// [`HttpFetcher`]). Nothing is fetched until the first token arrives, so the service
    /// starts when the JWKS is unreachable.
    pub fn jwks_url(mut self, url: &str) -> Result<JwtResolver<T>, BoxError> {
        self.validation.decided("JwtResolver")?;
        let fetcher = HttpFetcher::build("jwks_url", url, self.roots.take())?;
        self.jwks(fetcher)
    }

    /// A resolver over the issuer's keys, found by OpenID Connect discovery: the `jwks_uri` of
    /// `{issuer}/.well-known/openid-configuration`, or, when that cannot be had, of its RFC 8414
    /// metadata (`/.well-known/oauth-authorization-server` before the issuer's path), whose
    /// `issuer` must equal `issuer` exactly. An `https` issuer's document may not name an
    /// `http` `jwks_uri`.
    /// Sets the required `iss` to `issuer` too, unless [`issuer`](Self::issuer) set another.
    /// HTTP or HTTPS as [`jwks_url`](Self::jwks_url); nothing is fetched before the first token.
    pub fn issuer_url(mut self, issuer: &str) -> Result<JwtResolver<T>, BoxError> {
        self.validation.decided("JwtResolver")?;
        let roots = self.roots.take();
        let fetcher = std::sync::Arc::new(crate::oauth::jwt::fetch::DiscoveryFetcher::new(
            issuer, roots,
        )?);
        self.validation
            .issuer
            .get_or_insert_with(|| issuer.to_owned());
        self.jwks(fetcher)
    }

    /// A resolver over the JWKS `fetcher` brings. Fails when no audience is decided.
    pub fn jwks(self, fetcher: impl JwksFetcher) -> Result<JwtResolver<T>, BoxError> {
        self.validation.decided("JwtResolver")?;
        let jwks = Jwks::new(Arc::new(fetcher), self.jwks);
        self.build(Keys::Remote(jwks))
    }

    fn build(self, keys: Keys) -> Result<JwtResolver<T>, BoxError> {
        self.validation.decided("JwtResolver")?;
        Ok(JwtResolver {
            inner: Arc::new(Inner {
                keys,
                validation: self.validation,
                verified: self
                    .verified
                    .map(|(max, age)| (Cache::new("jwt_verified", max), age)),
                // As `HashMap::new`: the OS random source does not fail once the kernel's pool
                // is initialised at boot.
                digest: TokenDigest::new().expect("the OS random number generator failed"),
            }),
        })
    }
}

impl<T> fmt::Debug for JwtResolverBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtResolverBuilder")
            .field("validation", &self.validation)
            .field("jwks", &self.jwks)
            .finish_non_exhaustive()
    }
}

impl<T> JwtResolver<T> {
    /// The `iss` this resolver requires, when one was set.
    pub(crate) fn required_issuer(&self) -> Option<&str> {
        self.inner.validation.issuer.as_deref()
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> Inner<T> {
    fn cached(&self, token: &[u8]) -> Option<Arc<Claims<T>>> {
        let (cache, _) = self.verified.as_ref()?;
        let (signed, signature) = split_signature(token)?;
        // An entry's deadline never passes the token's `exp`.
        let entry = cache.get(self.digest.tag(signature))?;
        (*entry.signed == *signed).then(|| entry.claims.clone())
    }

    /// The token's claims if one of `keys` verifies it and its claims pass, else `None`.
    fn decide(&self, token: &str, jws: &Jws<'_>, keys: &KeySet) -> Option<Arc<Claims<T>>> {
        let verified = keys
            .candidates(jws.kid.as_deref(), jws.alg)
            .any(|key| key.verify(jws.alg, jws.signing_input, &jws.signature));
        if !verified {
            tracing::debug!(alg = %jws.alg, "bearer: no key verifies the JWT");
            return None;
        }
        let payload = crate::oauth::json::parse(&jws.payload).ok()?;
        let claims: Claims<T> = match serde_json::from_value(payload) {
            Ok(claims) => claims,
            Err(error) => {
                tracing::debug!(%error, "bearer: the JWT's claims do not parse");
                return None;
            }
        };
        let now = now_secs();
        if let Err(why) = self.validation.check(jws.typ.as_deref(), &claims, now) {
            tracing::debug!(why, "bearer: the JWT's claims are refused");
            return None;
        }
        let claims = Arc::new(claims);
        let signed = split_signature(token.as_bytes());
        if let (Some((cache, max_age)), Some((signed, signature))) = (&self.verified, signed) {
            let left = claims.exp.map_or(*max_age, |exp| {
                Duration::from_secs(u64::try_from(exp - now).unwrap_or(0))
            });
            let entry = Remembered {
                signed: signed.into(),
                claims: claims.clone(),
            };
            cache.put(
                self.digest.tag(signature),
                None,
                Arc::new(entry),
                (*max_age).min(left),
                cache.start(),
            );
        }
        Some(claims)
    }
}

type Answer<T> = Result<Option<Arc<Claims<T>>>, BoxError>;

impl<T: DeserializeOwned + Send + Sync + 'static> SessionResolver for JwtResolver<T> {
    type Session = Arc<Claims<T>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Answer<T>> + Send>>;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        if let Some(answer) = self.resolve_ready(token) {
            return Box::pin(std::future::ready(answer));
        }
        let sender = token.dpop_thumbprint().map(str::to_owned);
        let (inner, token) = (self.inner.clone(), token.as_str().to_owned());
        Box::pin(async move {
            let Keys::Remote(jwks) = &inner.keys else {
                unreachable!("static keys always answer at once");
            };
            let Ok(jws) = jws::parse(&token) else {
                return Ok(None);
            };
            match jwks.lookup(jws.kid.as_deref()).await {
                Lookup::Keys(keys) => Ok(held_by(
                    inner.decide(&token, &jws, &keys),
                    sender.as_deref(),
                )),
                Lookup::Unknown => {
                    tracing::debug!("bearer: the JWT names a kid the JWKS does not have");
                    Ok(None)
                }
                Lookup::Unavailable(error) => Err(error),
            }
        })
    }

    /// A token this resolver answers with a session is a token it verified: a strict compact
    /// JWS, every character base64url or a dot, so the layer may leave the `b64token` check
    /// for the tokens it refuses (3,500 instructions of a 2 KiB token's cache hit).
    fn knows_only_b64tokens(&self) -> bool {
        true
    }

    /// Answers at once for a token verified before, a token that is no JWS, and any token the
    /// keys at hand can decide; only a token that needs a JWKS fetch waits.
    fn resolve_ready(&self, token: BearerToken<'_>) -> Option<Answer<T>> {
        let inner = &self.inner;
        let sender = token.dpop_thumbprint();
        if let Some(claims) = inner.cached(token.as_bytes()) {
            return Some(Ok(held_by(Some(claims), sender)));
        }
        let Ok(jws) = jws::parse(token.as_str()) else {
            return Some(Ok(None));
        };
        let keys = match &inner.keys {
            Keys::Static(keys) => keys.clone(),
            Keys::Remote(jwks) => jwks.at_hand(jws.kid.as_deref())?,
        };
        Some(Ok(held_by(
            inner.decide(token.as_str(), &jws, &keys),
            sender,
        )))
    }
}

impl<T> Clone for JwtResolver<T> {
    fn clone(&self) -> Self {
        JwtResolver {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for JwtResolver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = match &self.inner.keys {
            Keys::Static(keys) => format!("{} static keys", keys.keys().len()),
            Keys::Remote(_) => "JWKS".to_owned(),
        };
        f.debug_struct("JwtResolver")
            .field("keys", &keys)
            .field("validation", &self.inner.validation)
            .finish_non_exhaustive()
    }
}
