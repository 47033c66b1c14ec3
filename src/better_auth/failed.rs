//! A backend that failed, named: which of better-auth's stores, where (never with a password),
//! and the cause underneath, so that the layer's warning says what to fix. The cause is kept as
//! its text, each of its own causes once (see [`Flat`]).

use std::fmt;

use crate::chain::Flat;
use crate::BoxError;

/// A call to one of better-auth's backends that failed.
#[derive(Debug)]
pub(crate) struct Failed {
    what: &'static str,
    at: String,
    cause: Flat,
}

impl Failed {
    /// `what` (e.g. "better-auth's database") at `at` (from [`redact`]) failed with `cause`.
    pub(crate) fn boxed(what: &'static str, at: &str, cause: impl Into<BoxError>) -> BoxError {
        Box::new(Failed {
            what,
            at: at.to_owned(),
            cause: Flat::new("", &*cause.into()),
        })
    }
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {} failed", self.what, self.at)
    }
}

impl std::error::Error for Failed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_the_backend_and_keeps_its_cause() {
        let error = Failed::boxed(
            "better-auth's database",
            &crate::redact::redact("postgres://a:s3cret@h/d"),
            "refused",
        );
        assert_eq!(
            error.to_string(),
            "better-auth's database at postgres://h/d failed"
        );
        assert_eq!(error.source().unwrap().to_string(), "refused");
    }

    #[test]
    fn a_cause_that_repeats_itself_is_said_once() {
        // The redis crate's I/O error: its message is its source's.
        let cause = redis_like();
        let error = Failed::boxed("better-auth's Redis storage", "redis://h:6379/0", cause);
        let mut said = vec![error.to_string()];
        let mut source = error.source();
        while let Some(cause) = source {
            said.push(cause.to_string());
            source = cause.source();
        }
        assert_eq!(
            said,
            [
                "better-auth's Redis storage at redis://h:6379/0 failed",
                "broken pipe"
            ]
        );
    }

    fn redis_like() -> BoxError {
        #[derive(Debug)]
        struct Repeats(std::io::Error);
        impl fmt::Display for Repeats {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
        impl std::error::Error for Repeats {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        Box::new(Repeats(std::io::Error::other("broken pipe")))
    }
}
