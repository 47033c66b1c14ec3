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

/// The challenges of every [`Reason`], built for one realm.
#[derive(Clone, Debug)]
pub(crate) struct Challenges {
    realm: Option<Arc<str>>,
    built: [HeaderValue; 9],
}

impl Challenges {
    pub(crate) fn new(realm: Option<Arc<str>>) -> Self {
        let built = Reason::ALL.map(|reason| match &realm {
            None => HeaderValue::from_static(&plain_challenges()[reason as usize]),
            Some(_) => {
                let mut rejection = reason.rejection();
                rejection.realm = realm.clone();
                rejection.challenge().expect("every reason has a challenge")
            }
        });
        Challenges { realm, built }
    }

    pub(crate) fn realm(&self) -> Option<&Arc<str>> {
        self.realm.as_ref()
    }

    /// The rejection for `reason`, its challenge ready.
    pub(crate) fn rejection(&self, reason: Reason) -> Rejection {
        let mut rejection = reason.rejection();
        rejection.realm = self.realm.clone();
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
        for realm in [None, Some("api")] {
            let challenges = Challenges::new(realm.map(Into::into));
            for reason in Reason::ALL {
                let fast = challenges.rejection(reason);
                let mut slow = reason.rejection();
                if let Some(realm) = realm {
                    slow = slow.with_realm(realm);
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
        let changed = Challenges::new(Some("api".into()))
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
