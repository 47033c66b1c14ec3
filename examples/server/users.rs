//! Where users live: in memory, or in Redis so that several servers share them.

use std::sync::Arc;

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use tower_bearer::store::Timestamp;

/// A user as better-auth's JSON shows it; the password hash stays out of it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) email_verified: bool,
    pub(crate) image: Option<String>,
    pub(crate) created_at: Timestamp,
    pub(crate) updated_at: Timestamp,
}

/// A user and their password hash, as stored.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Account {
    pub(crate) user: User,
    pub(crate) password_hash: String,
}

/// The user store failed (Redis down): `503`. Says what failed, for the start-up message.
#[derive(Debug)]
pub(crate) struct Unavailable(pub(crate) String);

/// `url` for a message: no user info (a password) and no query.
#[cfg(feature = "redis")]
fn without_credentials(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}{path}")
}

impl Unavailable {
    #[cfg(feature = "redis")]
    fn redis(at: &str, error: impl std::fmt::Display) -> Self {
        Unavailable(format!("Redis at {at}: {error}"))
    }
}

pub(crate) enum Users {
    Memory {
        by_email: DashMap<String, Arc<Account>>,
        by_id: DashMap<String, Arc<Account>>,
    },
    #[cfg(feature = "redis")]
    Redis {
        conn: redis::aio::ConnectionManager,
        prefix: String,
        /// The URL without credentials, for errors.
        at: String,
    },
}

impl Users {
    pub(crate) fn memory() -> Self {
        Users::Memory {
            by_email: DashMap::new(),
            by_id: DashMap::new(),
        }
    }

    /// Users under `<prefix>user:<id>` (the account's JSON) and `<prefix>email:<email>` (the
    /// id), on a connection that reconnects by itself.
    #[cfg(feature = "redis")]
    pub(crate) fn redis(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(std::time::Duration::from_secs(1)))
            .set_connection_timeout(Some(std::time::Duration::from_secs(1)))
            .set_number_of_retries(2);
        let conn = redis::aio::ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Users::Redis {
            conn,
            prefix: prefix.to_string(),
            at: without_credentials(url),
        })
    }

    /// Adds an account; `Ok(false)` if its email is taken.
    pub(crate) async fn insert(&self, account: Account) -> Result<bool, Unavailable> {
        match self {
            Users::Memory { by_email, by_id } => {
                let account = Arc::new(account);
                match by_email.entry(account.user.email.clone()) {
                    dashmap::Entry::Occupied(_) => Ok(false),
                    dashmap::Entry::Vacant(slot) => {
                        slot.insert(account.clone());
                        by_id.insert(account.user.id.clone(), account);
                        Ok(true)
                    }
                }
            }
            #[cfg(feature = "redis")]
            Users::Redis { conn, prefix, at } => {
                let json =
                    serde_json::to_string(&account).map_err(|e| Unavailable::redis(at, e))?;
                let claimed: bool = redis::cmd("SET")
                    .arg(format!("{prefix}email:{}", account.user.email))
                    .arg(&account.user.id)
                    .arg("NX")
                    .query_async::<Option<String>>(&mut conn.clone())
                    .await
                    .map_err(|e| Unavailable::redis(at, e))?
                    .is_some();
                if claimed {
                    redis::cmd("SET")
                        .arg(format!("{prefix}user:{}", account.user.id))
                        .arg(json)
                        .query_async::<()>(&mut conn.clone())
                        .await
                        .map_err(|e| Unavailable::redis(at, e))?;
                }
                Ok(claimed)
            }
        }
    }

    /// The account with this (normalized) email.
    pub(crate) async fn by_email(&self, email: &str) -> Result<Option<Account>, Unavailable> {
        match self {
            Users::Memory { by_email, .. } => Ok(by_email.get(email).map(|a| (**a).clone())),
            #[cfg(feature = "redis")]
            Users::Redis { conn, prefix, at } => {
                let id: Option<String> = redis::cmd("GET")
                    .arg(format!("{prefix}email:{email}"))
                    .query_async(&mut conn.clone())
                    .await
                    .map_err(|e| Unavailable::redis(at, e))?;
                match id {
                    Some(id) => self.by_id(&id).await,
                    None => Ok(None),
                }
            }
        }
    }

    /// The account with this id.
    pub(crate) async fn by_id(&self, id: &str) -> Result<Option<Account>, Unavailable> {
        match self {
            Users::Memory { by_id, .. } => Ok(by_id.get(id).map(|a| (**a).clone())),
            #[cfg(feature = "redis")]
            Users::Redis { conn, prefix, at } => {
                let json: Option<String> = redis::cmd("GET")
                    .arg(format!("{prefix}user:{id}"))
                    .query_async(&mut conn.clone())
                    .await
                    .map_err(|e| Unavailable::redis(at, e))?;
                json.map(|j| serde_json::from_str(&j).map_err(|e| Unavailable::redis(at, e)))
                    .transpose()
            }
        }
    }
}
