//! RFC 9728 protected resource metadata, and the resource identifiers of RFC 8707: how a
//! client that arrives without a token learns where to get one, for which resource and with
//! which scopes.
//!
//! Configure the metadata on the layer with
//! [`BearerLayer::protected_resource`](crate::BearerLayer::protected_resource): the layer
//! then serves the document at its well-known URLs (before any token is asked for), names it
//! in every challenge (`resource_metadata="…"`), and lists its token sources in
//! `bearer_methods_supported`. MCP servers must do all three (see the README's "Protecting an
//! MCP server").

mod metadata;
mod serve;
pub(crate) mod uri;

pub use metadata::{ProtectedResourceMetadata, ResourceError};
pub use serve::ProtectedResourceService;
pub(crate) use serve::Served;
