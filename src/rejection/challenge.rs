//! The `WWW-Authenticate: Bearer` challenge (RFC 6750 §3): how one is written, and which
//! characters its attributes may hold. It depends on nothing else in the crate.

use std::borrow::Cow;
use std::sync::Arc;

/// What a challenge says, each value sanitized on its way in, so none needs escaping here.
pub(crate) struct Attributes<'a> {
    pub(crate) realm: Option<&'a str>,
    pub(crate) error: Option<&'a str>,
    pub(crate) description: Option<&'a str>,
    pub(crate) scope: Option<&'a str>,
    pub(crate) acr_values: Option<&'a str>,
    pub(crate) max_age: Option<u64>,
    pub(crate) resource_metadata: Option<&'a str>,
}

/// `Bearer` and its attributes: RFC 6750's in its order, then RFC 9470's (`acr_values`,
/// `max_age`) and RFC 9728's (`resource_metadata`).
pub(crate) fn build(a: &Attributes<'_>) -> String {
    let mut out = String::with_capacity(128);
    out.push_str("Bearer");
    let mut sep = " ";
    let mut attr = |name: &str, value: &str| {
        out.push_str(sep);
        out.push_str(name);
        out.push_str("=\"");
        out.push_str(value);
        out.push('"');
        sep = ", ";
    };
    if let Some(realm) = a.realm {
        attr("realm", realm);
    }
    // RFC 6750 §3.1: no error information when no credentials were presented.
    if let Some(error) = a.error {
        attr("error", error);
        if let Some(description) = a.description {
            attr("error_description", description);
        }
    }
    if let Some(scope) = a.scope {
        attr("scope", scope);
    }
    if let Some(acr_values) = a.acr_values {
        attr("acr_values", acr_values);
    }
    if let Some(max_age) = a.max_age {
        attr("max_age", &max_age.to_string());
    }
    if let Some(url) = a.resource_metadata {
        attr("resource_metadata", url);
    }
    out
}

/// A realm with the characters RFC 6750 does not allow in it dropped.
pub(crate) fn sanitize_realm(realm: &str) -> Arc<str> {
    sanitize(Cow::Owned(realm.to_owned()), is_description_char).into()
}

/// RFC 6750 `error_description` and quoted `realm`: `%x20-21 / %x23-5B / %x5D-7E`.
pub(crate) fn is_description_char(c: char) -> bool {
    matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')
}

/// RFC 6750 `scope-token` characters, plus the single space that separates tokens.
pub(crate) fn is_scope_char(c: char) -> bool {
    c == ' ' || matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')
}

pub(crate) fn sanitize(s: Cow<'static, str>, allowed: fn(char) -> bool) -> Cow<'static, str> {
    if s.chars().all(allowed) {
        s
    } else {
        Cow::Owned(s.chars().filter(|&c| allowed(c)).collect())
    }
}
