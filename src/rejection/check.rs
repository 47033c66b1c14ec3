//! What an authorization check returns to refuse a resolved session: too narrow a scope
//! ([`InsufficientScope`], `403`) or too weak or old an authentication
//! ([`InsufficientUserAuthentication`], RFC 9470's `401`). Both turn into a [`Rejection`].

use std::borrow::Cow;

use super::challenge::{is_description_char, is_scope_char, sanitize};
use super::{Rejection, RejectionKind};

/// What an authorization check returns to refuse a session: `403 insufficient_scope`.
///
/// ```
/// use tower_bearer::InsufficientScope;
///
/// let refusal = InsufficientScope::new("admin").description("admins only");
/// assert_eq!(refusal.scope(), "admin");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsufficientScope {
    pub(super) scope: Cow<'static, str>,
    pub(super) description: Option<Cow<'static, str>>,
}

impl InsufficientScope {
    /// Refuses the session for lack of `scope` (space-separated scope tokens). Characters RFC 6750
    /// does not allow in a scope are dropped.
    pub fn new(scope: impl Into<Cow<'static, str>>) -> Self {
        InsufficientScope {
            scope: sanitize(scope.into(), is_scope_char),
            description: None,
        }
    }

    /// Adds an `error_description`; characters RFC 6750 does not allow are dropped.
    pub fn description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = Some(sanitize(description.into(), is_description_char));
        self
    }

    /// The required scope.
    pub fn scope(&self) -> &str {
        &self.scope
    }
}

impl From<InsufficientScope> for Rejection {
    fn from(refusal: InsufficientScope) -> Self {
        let mut rejection = Rejection::new(RejectionKind::InsufficientScope);
        rejection.scope = Some(refusal.scope);
        if let Some(description) = refusal.description {
            rejection.description = Some(description);
        }
        rejection
    }
}

/// What a check returns when the token is valid but the authentication behind it is not
/// strong enough (`acr`) or too old (`auth_time`) for the resource: RFC 9470's `401
/// insufficient_user_authentication`, whose `acr_values` and `max_age` tell the client what to
/// ask its authorization server for.
///
/// ```
/// use tower_bearer::{InsufficientUserAuthentication, Rejection};
///
/// let refusal = InsufficientUserAuthentication::new().acr_values("phr").max_age(600);
/// let rejection = Rejection::from(refusal);
/// assert_eq!(rejection.status(), 401);
/// assert_eq!(rejection.acr_values(), Some("phr"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InsufficientUserAuthentication {
    acr_values: Option<Cow<'static, str>>,
    max_age: Option<u64>,
    description: Option<Cow<'static, str>>,
}

impl InsufficientUserAuthentication {
    /// A refusal that names nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The authentication context classes that would do, space-separated, in order of
    /// preference. Characters a challenge cannot carry are dropped.
    pub fn acr_values(mut self, acr_values: impl Into<Cow<'static, str>>) -> Self {
        self.acr_values = Some(sanitize(acr_values.into(), is_scope_char));
        self
    }

    /// The greatest age the authentication may have, in seconds.
    pub fn max_age(mut self, seconds: u64) -> Self {
        self.max_age = Some(seconds);
        self
    }

    /// Adds an `error_description`; characters RFC 6750 does not allow are dropped.
    pub fn description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = Some(sanitize(description.into(), is_description_char));
        self
    }
}

impl From<InsufficientUserAuthentication> for Rejection {
    fn from(refusal: InsufficientUserAuthentication) -> Self {
        let mut rejection = Rejection::new(RejectionKind::InsufficientUserAuthentication);
        rejection.acr_values = refusal.acr_values;
        rejection.max_age = refusal.max_age;
        if let Some(description) = refusal.description {
            rejection.description = Some(description);
        }
        rejection
    }
}
