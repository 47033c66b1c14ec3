//! The `WWW-Authenticate: Bearer` challenge (RFC 6750 §3): how one is written, and which
//! characters its attributes may hold. It depends on nothing else in the crate.

use std::borrow::Cow;
use std::sync::Arc;

/// `Bearer` and its attributes, in RFC 6750's order. Every value was sanitized on its way in,
/// so it needs no escaping here.
pub(crate) fn build(
    realm: Option<&str>,
    error: Option<&str>,
    description: Option<&str>,
    scope: Option<&str>,
) -> String {
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
    if let Some(realm) = realm {
        attr("realm", realm);
    }
    // RFC 6750 §3.1: no error information when no credentials were presented.
    if let Some(error) = error {
        attr("error", error);
        if let Some(description) = description {
            attr("error_description", description);
        }
    }
    if let Some(scope) = scope {
        attr("scope", scope);
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
