//! [`ProtectedResourceMetadata`]: the RFC 9728 document that tells a client which
//! authorization server to ask for a token for this resource, and with which scopes.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::uri;

/// The well-known path RFC 9728 §3 registers.
pub(crate) const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// RFC 9728 protected resource metadata: built once, served by the layer (or by
/// [`ProtectedResourceService`](super::ProtectedResourceService)) at its well-known URL, and
/// named in every challenge the layer sends, so the `resource_metadata` of a `401` cannot drift
/// from the document served.
///
/// `resource` is the canonical URI of this resource, as configured: never derived from a
/// request's `Host` or forwarded headers, which a client controls.
///
/// ```
/// use tower_bearer::protected_resource::ProtectedResourceMetadata;
///
/// let metadata = ProtectedResourceMetadata::new("https://api.example/mcp")?
///     .authorization_server("https://auth.example")
///     .scopes_supported(["files:read", "files:write"])
///     .resource_name("Example MCP server");
/// assert_eq!(
///     metadata.well_known_url(),
///     "https://api.example/.well-known/oauth-protected-resource/mcp"
/// );
/// let json: serde_json::Value = serde_json::from_slice(&metadata.to_json())?;
/// assert_eq!(json["resource"], "https://api.example/mcp");
/// assert_eq!(json["authorization_servers"][0], "https://auth.example");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProtectedResourceMetadata {
    /// The resource's identifier (RFC 8707): an `http(s)` URI without a fragment.
    pub resource: String,
    /// The issuers of the authorization servers that give tokens for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_servers: Vec<String>,
    /// Where the resource's own signing keys are (for signed responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The scopes a client may ask for to reach it. `offline_access` is never listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// How it takes a token: `header`, `body`, `query` (RFC 6750 §2). A layer that serves the
    /// document fills this in from its token sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bearer_methods_supported: Vec<String>,
    /// The algorithms it signs responses with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_signing_alg_values_supported: Vec<String>,
    /// A name for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Documentation for developers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
    /// Its policy on data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy_uri: Option<String>,
    /// Its terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_tos_uri: Option<String>,
    /// Whether it takes only certificate-bound tokens (RFC 8705).
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// The `authorization_details` types it understands (RFC 9396).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details_types_supported: Vec<String>,
    /// The algorithms it takes DPoP proofs in (RFC 9449).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// Whether it takes only DPoP-bound tokens.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dpop_bound_access_tokens_required: bool,
    /// Members of other specifications, served as given.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// A resource identifier that cannot be one, named with the value at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceError {
    value: String,
    why: &'static str,
}

impl fmt::Display for ResourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protected resource {:?} {}", self.value, self.why)
    }
}

impl std::error::Error for ResourceError {}

impl ProtectedResourceMetadata {
    /// Metadata for the resource `resource`: an absolute `http(s)` URI without a fragment or
    /// user info (`https://api.example/mcp`).
    pub fn new(resource: impl Into<String>) -> Result<Self, ResourceError> {
        let resource = resource.into();
        if let Err(why) = uri::check(&resource) {
            return Err(ResourceError {
                value: crate::redact::redact(&resource),
                why,
            });
        }
        Ok(ProtectedResourceMetadata {
            resource,
            authorization_servers: Vec::new(),
            jwks_uri: None,
            scopes_supported: Vec::new(),
            bearer_methods_supported: Vec::new(),
            resource_signing_alg_values_supported: Vec::new(),
            resource_name: None,
            resource_documentation: None,
            resource_policy_uri: None,
            resource_tos_uri: None,
            tls_client_certificate_bound_access_tokens: false,
            authorization_details_types_supported: Vec::new(),
            dpop_signing_alg_values_supported: Vec::new(),
            dpop_bound_access_tokens_required: false,
            other: Map::new(),
        })
    }

    /// Adds an authorization server, by its issuer identifier. Clients use the first.
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// The scopes a client may ask for. `offline_access` is left out: it is a matter between a
    /// client and its authorization server, never one a resource advertises (MCP).
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes_supported = scopes
            .into_iter()
            .map(Into::into)
            .filter(|s| s != "offline_access")
            .collect();
        self
    }

    /// Sets [`resource_name`](Self::resource_name).
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// Sets [`resource_documentation`](Self::resource_documentation).
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// The path of the document on this resource's host: RFC 9728 §3.1 inserts the well-known
    /// path between the host and the resource's path (`/mcp` →
    /// `/.well-known/oauth-protected-resource/mcp`).
    pub fn well_known_path(&self) -> String {
        let canonical = uri::canonical(&self.resource).unwrap_or_default();
        let after_scheme = canonical.split_once("://").map_or("", |(_, rest)| rest);
        let path_and_query = after_scheme
            .find(['/', '?'])
            .map_or("", |at| &after_scheme[at..]);
        format!("{WELL_KNOWN}{path_and_query}")
    }

    /// The document's URL: the resource's scheme and host, then
    /// [`well_known_path`](Self::well_known_path). What a challenge's `resource_metadata`
    /// names.
    pub fn well_known_url(&self) -> String {
        let canonical = uri::canonical(&self.resource).unwrap_or_default();
        let (scheme, rest) = canonical.split_once("://").unwrap_or_default();
        let host = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
        // The host as configured (case aside): the well-known URL of RFC 9728 §3.1.
        format!("{scheme}://{host}{}", self.well_known_path())
    }

    /// The document as served: JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("metadata is plain JSON")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls_as_rfc_9728_inserts_them() {
        for (resource, url) in [
            (
                "https://api.example/mcp",
                "https://api.example/.well-known/oauth-protected-resource/mcp",
            ),
            (
                "https://api.example",
                "https://api.example/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example/",
                "https://api.example/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example/tenant/a/mcp",
                "https://api.example/.well-known/oauth-protected-resource/tenant/a/mcp",
            ),
            (
                "http://127.0.0.1:8080/mcp",
                "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp",
            ),
            (
                "HTTPS://Api.Example:443/mcp/",
                "https://api.example/.well-known/oauth-protected-resource/mcp",
            ),
            (
                "https://api.example/r?tenant=a",
                "https://api.example/.well-known/oauth-protected-resource/r?tenant=a",
            ),
        ] {
            let metadata = ProtectedResourceMetadata::new(resource).unwrap();
            assert_eq!(metadata.well_known_url(), url, "{resource}");
        }
    }

    #[test]
    fn the_document_of_rfc_9728_section_3_2() {
        // RFC 9728 §3.2's example response, member for member.
        let example = serde_json::json!({
            "resource": "https://resource.example.com",
            "authorization_servers": ["https://as1.example.com", "https://as2.example.net"],
            "bearer_methods_supported": ["header", "body"],
            "scopes_supported": ["profile", "email", "phone"],
            "resource_documentation": "https://resource.example.com/resource_documentation.html"
        });
        let mut built = ProtectedResourceMetadata::new("https://resource.example.com")
            .unwrap()
            .authorization_server("https://as1.example.com")
            .authorization_server("https://as2.example.net")
            .scopes_supported(["profile", "email", "phone", "offline_access"])
            .resource_documentation("https://resource.example.com/resource_documentation.html");
        built.bearer_methods_supported = vec!["header".into(), "body".into()];
        let served: Value = serde_json::from_slice(&built.to_json()).unwrap();
        assert_eq!(served, example);
        let read: ProtectedResourceMetadata = serde_json::from_value(example).unwrap();
        assert_eq!(read, built);
    }

    #[test]
    fn a_resource_that_cannot_be_one_is_named() {
        let error = ProtectedResourceMetadata::new("https://api.example/mcp#frag").unwrap_err();
        assert_eq!(
            error.to_string(),
            "protected resource \"https://api.example/mcp\" has a fragment (RFC 8707 §2)"
        );
        assert!(ProtectedResourceMetadata::new("/mcp").is_err());
    }
}
