//! [`ApiKey`]: what a handler gets for a verified key, and its [`Permissions`], checked as
//! better-auth's access control checks them (`role(permissions).authorize(request)`).

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;

use super::super::date::from_millis;
use super::record::Record;
use crate::InsufficientScope;

/// A key's permissions, as better-auth stores them: each resource with the actions allowed on
/// it (`{"files": ["read", "write"]}`).
pub type Permissions = BTreeMap<String, Vec<String>>;

/// A verified better-auth API key, in the request's extensions (with axum:
/// `Authenticated<ApiKey>`). Serializes as better-auth names its fields.
///
/// ```
/// use tower_bearer::better_auth::ApiKey;
///
/// let key = ApiKey::new("key-1", "user-1").with_permission("files", ["read", "write"]);
/// assert!(key.has_permission("files", "write"));
/// assert!(!key.has_permission("billing", "read"));
/// let refused = key.require_permission("files", "delete").unwrap_err();
/// assert_eq!(refused.scope(), "files:delete");
/// assert_eq!(
///     serde_json::to_value(&key).unwrap()["permissions"],
///     serde_json::json!({"files": ["read", "write"]})
/// );
/// ```
#[derive(Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ApiKey {
    /// The key's id (its row's, not the key itself).
    pub id: String,
    /// Its owner: the user's id (or the organization's, with `references: "organization"`).
    pub reference_id: String,
    /// Its configuration (`default` unless better-auth has several).
    pub config_id: Option<String>,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Its prefix, if it has one.
    pub prefix: Option<String>,
    /// Its first characters, as better-auth keeps them to show the key. Part of the key:
    /// neither serialized nor in `Debug`.
    #[serde(skip_serializing)]
    pub start: Option<String>,
    /// What it may do; empty when it has no permissions.
    pub permissions: Permissions,
    /// Its metadata (with better-auth's `enableMetadata`).
    pub metadata: Option<Value>,
    /// When it expires, if it does.
    #[serde(with = "super::super::date::iso_option")]
    pub expires_at: Option<SystemTime>,
}

impl ApiKey {
    /// A key with an id and an owner, and nothing else: for tests and resolvers of your own.
    pub fn new(id: impl Into<String>, reference_id: impl Into<String>) -> Self {
        ApiKey {
            id: id.into(),
            reference_id: reference_id.into(),
            config_id: None,
            name: None,
            prefix: None,
            start: None,
            permissions: Permissions::new(),
            metadata: None,
            expires_at: None,
        }
    }

    /// Allows `actions` on `resource` too.
    pub fn with_permission<I, S>(mut self, resource: impl Into<String>, actions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let allowed = self.permissions.entry(resource.into()).or_default();
        allowed.extend(actions.into_iter().map(Into::into));
        self
    }

    /// Whether the key may do `action` on `resource`.
    pub fn has_permission(&self, resource: &str, action: &str) -> bool {
        self.permissions
            .get(resource)
            .is_some_and(|allowed| allowed.iter().any(|a| a == action))
    }

    /// `Ok` when the key may do `action` on `resource`, else the `403 insufficient_scope`
    /// that names it (`scope="files:write"`): a route requirement.
    ///
    /// ```
    /// use tower_bearer::better_auth::{ApiKey, ApiKeyResolver};
    /// use tower_bearer::RequireSessionLayer;
    ///
    /// let writers = RequireSessionLayer::new(|key: &ApiKey| key.require_permission("files", "write"));
    /// # let _ = writers;
    /// ```
    pub fn require_permission(
        &self,
        resource: &str,
        action: &str,
    ) -> Result<(), InsufficientScope> {
        match self.has_permission(resource, action) {
            true => Ok(()),
            false => Err(InsufficientScope::new(format!("{resource}:{action}"))
                .description("the API key lacks this permission")),
        }
    }
}

impl From<Record> for ApiKey {
    fn from(record: Record) -> Self {
        // better-auth's safeJSONParse: permissions that do not parse are none.
        let permissions = record
            .permissions
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default();
        ApiKey {
            id: record.id,
            reference_id: record.reference_id,
            config_id: record.config_id,
            name: record.name,
            prefix: record.prefix,
            start: record.start,
            permissions,
            metadata: record.metadata,
            expires_at: record.expires_at.and_then(from_millis),
        }
    }
}

/// `Debug` shows the id, the owner and the permissions; `start`, the key's first characters,
/// is part of the key and never shown.
impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("reference_id", &self.reference_id)
            .field("config_id", &self.config_id)
            .field("name", &self.name)
            .field("permissions", &self.permissions)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}
