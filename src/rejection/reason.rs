//! The layer's own reasons to refuse a request ([`Reason`]), and their challenges built once per
//! layer ([`Challenges`]).

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use http::header::HeaderValue;
use http::StatusCode;

use super::{Rejection, RejectionKind};

/// The layer's own reasons to refuse a request. Each has a fixed description, so its
/// challenge is built once per layer rather than once per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    Missing,
    Empty,
    Grammar,
    Repeated,
    TooLong,
    Unknown,
    /// Tokens from more than one source (RFC 6750 §2: "MUST NOT use more than one method").
    Methods,
    /// A cookie-authenticated request that can change state, from an origin not trusted.
    UntrustedOrigin,
    /// The token query parameter on a method that may not carry it.
    QueryMethod,
}

impl Reason {
    const ALL: [Reason; 9] = [
        Reason::Missing,
        Reason::Empty,
        Reason::Grammar,
        Reason::Repeated,
        Reason::TooLong,
        Reason::Unknown,
        Reason::Methods,
        Reason::UntrustedOrigin,
        Reason::QueryMethod,
    ];

    pub(crate) fn status(self) -> StatusCode {
        self.kind().status()
    }

    pub(crate) fn kind(self) -> RejectionKind {
        match self {
            Reason::Missing => RejectionKind::MissingCredentials,
            Reason::Empty
            | Reason::Grammar
            | Reason::Repeated
            | Reason::Methods
            | Reason::QueryMethod => RejectionKind::InvalidRequest,
            Reason::UntrustedOrigin => RejectionKind::UntrustedOrigin,
            Reason::TooLong | Reason::Unknown => RejectionKind::InvalidToken,
        }
    }

    /// The rejection: the kind's own, with a description of its reason where it has one.
    pub(crate) fn rejection(self) -> Rejection {
        let description = match self {
            Reason::Missing | Reason::Unknown => return Rejection::new(self.kind()),
            Reason::Empty => "the bearer token is empty",
            Reason::Grammar => "the bearer token is not a valid b64token",
            Reason::Repeated => "more than one Authorization header",
            Reason::TooLong => "the bearer token is longer than allowed",
            Reason::Methods => "more than one bearer token in the request",
            Reason::UntrustedOrigin => "a cookie from a request of an untrusted origin",
            Reason::QueryMethod => "a bearer token in the query of a method that may not carry one",
        };
        let mut rejection = Rejection::new(self.kind());
        rejection.description = Some(Cow::Borrowed(description));
        rejection
    }
}

/// The challenges of every [`Reason`] without a realm, generated once per process from
/// [`Reason::rejection`]. Kept as `&'static str`, so a layer's `HeaderValue`s point at them and
/// a refusal's header costs no reference count (the 401 for a missing header is the layer's
/// cheapest answer, and benches/overhead measures it).
fn plain_challenges() -> &'static [String; 9] {
    static PLAIN: OnceLock<[String; 9]> = OnceLock::new();
    PLAIN.get_or_init(|| {
        Reason::ALL.map(|reason| {
            let challenge = reason.rejection().challenge();
            let challenge = challenge.expect("every reason has a challenge");
            challenge.to_str().expect("visible ASCII").to_owned()
        })
    })
}

/// What a layer adds to each of its challenges: its realm, the URL of its RFC 9728 metadata,
/// and the scopes a `401` tells the client to ask for.
#[derive(Clone, Debug, Default)]
pub(crate) struct Decorations {
    pub(crate) realm: Option<Arc<str>>,
    pub(crate) resource_metadata: Option<Arc<str>>,
    pub(crate) scope: Option<Arc<str>>,
}

/// The challenges of every [`Reason`], built for one layer's decorations.
#[derive(Clone, Debug)]
pub(crate) struct Challenges {
    decorations: Decorations,
    built: [HeaderValue; 9],
}

impl Challenges {
    pub(crate) fn new(decorations: Decorations) -> Self {
        let plain = decorations.realm.is_none()
            && decorations.resource_metadata.is_none()
            && decorations.scope.is_none();
        let built = Reason::ALL.map(|reason| match plain {
            true => HeaderValue::from_static(&plain_challenges()[reason as usize]),
            false => Self::decorate(&decorations, reason.rejection())
                .challenge()
                .expect("every reason has a challenge"),
        });
        Challenges { decorations, built }
    }

    fn decorate(decorations: &Decorations, rejection: Rejection) -> Rejection {
        rejection.or_layer(
            decorations.realm.as_ref(),
            decorations.resource_metadata.as_ref(),
            decorations.scope.as_ref(),
        )
    }

    pub(crate) fn decorations(&self) -> &Decorations {
        &self.decorations
    }

    pub(crate) fn realm(&self) -> Option<&Arc<str>> {
        self.decorations.realm.as_ref()
    }

    /// A rejection with what this layer adds to every challenge, where it has none of its own.
    pub(crate) fn decorate_rejection(&self, rejection: Rejection) -> Rejection {
        Self::decorate(&self.decorations, rejection)
    }

    /// The rejection for `reason`, its challenge ready.
    pub(crate) fn rejection(&self, reason: Reason) -> Rejection {
        let mut rejection = Self::decorate(&self.decorations, reason.rejection());
        rejection.cached = Some(self.built[reason as usize].clone());
        rejection
    }

    /// The prebuilt challenge for `reason`.
    pub(crate) fn challenge(&self, reason: Reason) -> HeaderValue {
        self.built[reason as usize].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prebuilt_challenges_equal_built_ones() {
        let url = "https://api.example/.well-known/oauth-protected-resource";
        for (realm, metadata, scope) in [
            (None, None, None),
            (Some("api"), None, None),
            (None, Some(url), Some("a b")),
            (Some("api"), Some(url), None),
        ] {
            let challenges = Challenges::new(Decorations {
                realm: realm.map(Into::into),
                resource_metadata: metadata.map(Into::into),
                scope: scope.map(Into::into),
            });
            for reason in Reason::ALL {
                let fast = challenges.rejection(reason);
                let mut slow = reason.rejection();
                if let Some(realm) = realm {
                    slow = slow.with_realm(realm);
                }
                if let Some(url) = metadata {
                    slow = slow.with_resource_metadata(url);
                }
                if let (Some(scope), 401) = (scope, slow.status().as_u16()) {
                    slow = slow.with_scope(scope);
                }
                slow.cached = None;
                assert_eq!(fast.challenge(), slow.challenge(), "{realm:?} {reason:?}");
                assert!(fast.cached.is_some());
                assert_eq!(reason.kind(), slow.kind());

                // What the layer answers without assembling a rejection is the rejection's.
                assert_eq!(Some(challenges.challenge(reason)), slow.challenge());
                assert_eq!(reason.status(), slow.status());
            }
        }
        // Changing a prebuilt rejection drops the prebuilt challenge.
        let changed = Challenges::new(Decorations {
            realm: Some("api".into()),
            ..Decorations::default()
        })
        .rejection(Reason::Unknown)
        .with_description("gone");
        assert!(changed
            .challenge()
            .unwrap()
            .to_str()
            .unwrap()
            .contains("gone"));
    }
}
