//! [`ApiKeyResolver`]: better-auth's API keys (`@better-auth/api-key` 1.7), verified exactly as
//! better-auth verifies them, over its SQL database or its Redis secondary storage; and the
//! [`ApiKey`] a handler gets.

mod api_key_or;
mod builder;
#[cfg(any(
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite",
    feature = "better-auth-mysql"
))]
mod columns;
#[cfg(any(
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite",
    feature = "better-auth-mysql"
))]
mod database;
mod permissions;
mod record;
#[cfg(feature = "better-auth-redis")]
mod storage;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64ct::{Base64UrlUnpadded, Encoding as _};
use sha2::{Digest as _, Sha256};

pub use api_key_or::{ApiKeyOr, ApiKeyOrFuture, Credential};
pub use builder::ApiKeyResolverBuilder;
pub use permissions::{ApiKey, Permissions};

use super::date::to_millis;
use super::failed::Failed;
use crate::trace::refused;
use crate::{BearerToken, BoxError, SessionResolver};
use record::{Record, Refusal};

/// The resolver's name in its `DEBUG` lines.
const RESOLVER: &str = "better_auth::ApiKeyResolver";

/// Resolves better-auth's API keys as its `verifyApiKey` does, with the same refusals and the
/// same bookkeeping, so that a key used through a Rust service and through better-auth is
/// counted once:
///
/// | the key | better-auth | this resolver |
/// |---|---|---|
/// | unknown | 401 `INVALID_API_KEY` | `401 invalid_token` |
/// | `enabled` false | 401 `KEY_DISABLED` | `401 invalid_token` |
/// | past `expiresAt` | 401 `KEY_EXPIRED`, and the key deleted | the same: `401`, deleted |
/// | `remaining` 0, no refill | 429 `USAGE_EXCEEDED`, and the key deleted | `429`, deleted |
/// | `remaining` 0 until its refill | 429 `USAGE_EXCEEDED` | `429`, `Retry-After` to the refill |
/// | over `rateLimitMax` in `rateLimitTimeWindow` | 429 `RATE_LIMITED`, `tryAgainIn` | `429`, `Retry-After` |
/// | otherwise | the key | [`ApiKey`] in the request's extensions |
///
/// Each use moves the counters as better-auth moves them: a due refill resets `remaining` to
/// `refillAmount` (this use included), `remaining` goes down by one, the rate limit's
/// `requestCount` and `lastRequest` move (the window runs from the last request, as
/// better-auth's does; and, as there, a use refused by the rate limit has spent its
/// `remaining` already), and `updatedAt` is now. Dates are written as better-auth writes them
/// (ISO-8601 text as `toISOString()` gives, in SQLite).
///
/// - **In the database** (better-auth's storage `"database"`: PostgreSQL, MySQL or SQLite),
///   every change is a guarded update, as better-auth's own: with better-auth and any number of
///   Rust instances verifying one key at once, no key is used more often than it allows.
/// - **In Redis** (storage `"secondary-storage"`, `@better-auth/redis-storage`), better-auth's
///   own claim is a read-modify-write that can lose updates (its source says so). This
///   resolver swaps the whole record only if it is unchanged since it read it, so Rust
///   instances are exact among themselves, and it keeps both of better-auth's records of a key
///   (`api-key:<hash>` and `api-key:by-id:<id>`) in step.
///
/// No answer is cached: each use is counted where better-auth counts it.
///
/// ```no_run
/// # #[cfg(feature = "better-auth-postgres")]
/// # async fn run() -> Result<(), tower_bearer::BoxError> {
/// use tower_bearer::better_auth::ApiKeyResolver;
/// use tower_bearer::{ApiKeyHeader, BearerLayer};
///
/// let keys = ApiKeyResolver::builder()
///     .connect_database("postgres://app@127.0.0.1/app")
///     .await?;
/// keys.ping().await?;
/// let layer = BearerLayer::new(keys).api_key_header(ApiKeyHeader::default());
/// // Handlers find an `ApiKey` in the request's extensions; a route that needs a permission:
/// let upload = layer.require(|key| key.require_permission("files", "write"));
/// # let _ = upload;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ApiKeyResolver {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    hashing: bool,
    policy: Policy,
    timeout: Duration,
    /// Where the keys are, for errors: the URL without credentials.
    at: String,
}

enum Backend {
    #[cfg(any(
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql"
    ))]
    Database(database::Database),
    #[cfg(feature = "better-auth-redis")]
    Storage(storage::Storage),
    /// better-auth's `fallbackToDatabase`: the database decides, the storage's copies follow.
    #[cfg(all(
        feature = "better-auth-redis",
        any(
            feature = "better-auth-postgres",
            feature = "better-auth-sqlite",
            feature = "better-auth-mysql"
        )
    ))]
    Fallback(database::Database, storage::Storage),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            #[cfg(any(
                feature = "better-auth-postgres",
                feature = "better-auth-sqlite",
                feature = "better-auth-mysql"
            ))]
            Backend::Database(_) => "better-auth's database",
            #[cfg(feature = "better-auth-redis")]
            Backend::Storage(_) => "better-auth's Redis storage",
            #[cfg(all(
                feature = "better-auth-redis",
                any(
                    feature = "better-auth-postgres",
                    feature = "better-auth-sqlite",
                    feature = "better-auth-mysql"
                )
            ))]
            Backend::Fallback(..) => "better-auth's database (with its Redis storage)",
        }
    }
}

/// What the plugin's options say about verification.
#[derive(Debug)]
struct Policy {
    /// The plugin's `rateLimit.enabled`.
    rate_limit: bool,
    /// Only this configuration's keys, if set.
    config_id: Option<String>,
}

/// What verification made of a key.
#[derive(Debug)]
enum Verdict {
    Unknown,
    Disabled,
    Expired,
    Refused(Refusal),
    Accepted(Box<Record>),
}

/// Now, in epoch milliseconds.
fn now_millis() -> i64 {
    to_millis(SystemTime::now())
}

impl ApiKeyResolver {
    /// Settings, starting from better-auth's defaults: keys stored hashed, the plugin's rate
    /// limit on, any `configId`, the table `apikey`, the storage prefix `better-auth:`, a pool
    /// of 10 connections, 5 s for a whole verification.
    pub fn builder() -> ApiKeyResolverBuilder {
        ApiKeyResolverBuilder {
            hashing: true,
            rate_limit: true,
            config_id: None,
            table: "apikey".into(),
            prefix: "better-auth:".into(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(5),
        }
    }

    /// Verifies `key` as a request would, claiming one use: the key, `Ok(None)` for an
    /// unknown, disabled or expired one, or the error (a [`Rejection`](crate::Rejection) with
    /// `429` for one used up or over its rate limit).
    pub async fn verify(&self, key: &str) -> Result<Option<ApiKey>, BoxError> {
        self.inner.verify(key.to_owned()).await
    }

    /// Checks that the keys' store answers (and, in a database, has the `apikey` table with
    /// the columns verification reads): `Ok`, or the error naming where the store is and
    /// what failed. The resolver connects lazily; call this at start-up.
    pub async fn ping(&self) -> Result<(), BoxError> {
        let inner = &self.inner;
        let pinged = match &inner.backend {
            #[cfg(any(
                feature = "better-auth-postgres",
                feature = "better-auth-sqlite",
                feature = "better-auth-mysql"
            ))]
            Backend::Database(database) => database.ping().await,
            #[cfg(feature = "better-auth-redis")]
            Backend::Storage(storage) => storage.ping().await,
            #[cfg(all(
                feature = "better-auth-redis",
                any(
                    feature = "better-auth-postgres",
                    feature = "better-auth-sqlite",
                    feature = "better-auth-mysql"
                )
            ))]
            Backend::Fallback(database, storage) => match database.ping().await {
                Ok(()) => storage.ping().await,
                Err(e) => Err(e),
            },
        };
        pinged.map_err(|cause| Failed::boxed(inner.backend.name(), &inner.at, cause))
    }
}

impl Inner {
    async fn verify(&self, key: String) -> Result<Option<ApiKey>, BoxError> {
        let hash = match self.hashing {
            true => Base64UrlUnpadded::encode_string(&Sha256::digest(key.as_bytes())),
            false => key,
        };
        let verdict = match tokio::time::timeout(self.timeout, self.claim(&hash)).await {
            Ok(verdict) => verdict,
            Err(_) => Err(format!("no answer within {:?}", self.timeout).into()),
        };
        let verdict =
            verdict.map_err(|cause| Failed::boxed(self.backend.name(), &self.at, cause))?;
        match verdict {
            Verdict::Unknown => refused(
                RESOLVER,
                "no API key has the key's hash (or it belongs to another configId)",
            ),
            Verdict::Disabled => refused(RESOLVER, "the API key is disabled (KEY_DISABLED)"),
            Verdict::Expired => refused(
                RESOLVER,
                "the API key has expired (KEY_EXPIRED); deleted, as better-auth deletes it",
            ),
            Verdict::Refused(refusal) => {
                refused(RESOLVER, refusal.why());
                return Err(refusal.rejection().into());
            }
            Verdict::Accepted(record) => return Ok(Some(ApiKey::from(*record))),
        }
        Ok(None)
    }

    async fn claim(&self, hash: &str) -> Result<Verdict, BoxError> {
        match &self.backend {
            #[cfg(any(
                feature = "better-auth-postgres",
                feature = "better-auth-sqlite",
                feature = "better-auth-mysql"
            ))]
            Backend::Database(database) => database.verify(hash, &self.policy).await,
            #[cfg(feature = "better-auth-redis")]
            Backend::Storage(storage) => storage.verify(hash, &self.policy).await,
            #[cfg(all(
                feature = "better-auth-redis",
                any(
                    feature = "better-auth-postgres",
                    feature = "better-auth-sqlite",
                    feature = "better-auth-mysql"
                )
            ))]
            Backend::Fallback(database, storage) => {
                let verdict = database.verify(hash, &self.policy).await?;
                if !matches!(verdict, Verdict::Unknown | Verdict::Disabled) {
                    storage.forget(hash).await?;
                }
                Ok(verdict)
            }
        }
    }
}

/// The future an [`ApiKeyResolver`] returns.
pub type ApiKeyFuture =
    Pin<Box<dyn Future<Output = Result<Option<ApiKey>, BoxError>> + Send + 'static>>;

impl SessionResolver for ApiKeyResolver {
    type Session = ApiKey;
    type Error = BoxError;
    type Future = ApiKeyFuture;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        let (inner, key) = (self.inner.clone(), token.as_str().to_owned());
        Box::pin(async move { inner.verify(key).await })
    }
}

impl fmt::Debug for ApiKeyResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyResolver")
            .field("backend", &self.inner.backend.name())
            .field("at", &self.inner.at)
            .field("hashing", &self.inner.hashing)
            .field("policy", &self.inner.policy)
            .finish()
    }
}
