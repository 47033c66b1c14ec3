//! Error chains that print each cause once. Some drivers' errors repeat their cause: the
//! `redis` crate's I/O error says `broken pipe` and has the `io::Error` `broken pipe` as its
//! source; sqlx's database error quotes SQLite's message, which is its source too. Walked
//! link by link, such a chain says everything twice.

use std::error::Error;
use std::fmt;

/// `error` and its sources, `: `-separated, each source left out when the text so far already
/// says it.
pub(crate) fn text(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

/// A cause flattened to its [`text`]: the last link of a chain, with no source of its own,
/// so that a chain through it says each cause once.
///
/// Its `Debug` is its text, unquoted: what `main` prints when it returns the error.
#[cfg_attr(
    not(any(
        feature = "redis",
        feature = "jwt",
        feature = "introspection",
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql",
        feature = "better-auth-http"
    )),
    allow(dead_code)
)]
pub(crate) struct Flat(String);

/// A configuration error: the setting, the value (never a secret) and what is wrong, as text
/// whose `Debug` is unquoted too (`Error: jwks_url: "x" is not a URL: …` from `main`).
#[cfg_attr(
    not(any(
        feature = "redis",
        feature = "jwt",
        feature = "introspection",
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql",
        feature = "better-auth-http"
    )),
    allow(dead_code)
)]
pub(crate) fn said(text: impl Into<String>) -> crate::BoxError {
    Box::new(Flat(text.into()))
}

#[cfg_attr(
    not(any(
        feature = "redis",
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql",
        feature = "better-auth-http"
    )),
    allow(dead_code)
)]
impl Flat {
    /// `cause`'s whole chain as one error, prefixed by `context` if not empty.
    pub(crate) fn new(context: &str, cause: &(dyn Error + 'static)) -> Flat {
        match context.is_empty() {
            true => Flat(text(cause)),
            false => Flat(format!("{context}: {}", text(cause))),
        }
    }
}

impl fmt::Display for Flat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Flat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Flat {}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that repeats its source in its own message, as the `redis` crate's does.
    #[derive(Debug)]
    struct Repeats(std::io::Error);

    impl fmt::Display for Repeats {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{}", self.0)
        }
    }

    impl Error for Repeats {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn each_cause_is_said_once() {
        let error = Repeats(std::io::Error::other("broken pipe"));
        assert_eq!(text(&error), "broken pipe");
        let flat = Flat::new("Redis at redis://127.0.0.1:6379", &error);
        assert_eq!(
            flat.to_string(),
            "Redis at redis://127.0.0.1:6379: broken pipe"
        );
        assert!(flat.source().is_none());
        assert_eq!(format!("{flat:?}"), flat.to_string());
    }
}
