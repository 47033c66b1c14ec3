//! A backend that failed, named: which of better-auth's stores, where (never with a password),
//! and the cause underneath, so that the layer's warning says what to fix.

use std::fmt;

use crate::BoxError;

/// A call to one of better-auth's backends that failed.
#[derive(Debug)]
pub(crate) struct Failed {
    what: &'static str,
    at: String,
    cause: BoxError,
}

impl Failed {
    /// `what` (e.g. "better-auth's database") at `at` (from [`redact`]) failed with `cause`.
    pub(crate) fn boxed(what: &'static str, at: &str, cause: impl Into<BoxError>) -> BoxError {
        Box::new(Failed {
            what,
            at: at.to_owned(),
            cause: cause.into(),
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
        Some(&*self.cause)
    }
}

/// A URL fit for a log: without its user info (`user:password@`) and without its query (where
/// drivers also take a password), the scheme, host, port and path kept.
pub(crate) fn redact(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    let Some((scheme, rest)) = url.split_once("://") else {
        // `sqlite:path` and the like: no authority, nothing secret but the query.
        return url.to_owned();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials_and_keep_where_they_point() {
        for (url, shown) in [
            (
                "postgres://app:s3cret@db.internal:5433/auth?sslmode=require",
                "postgres://db.internal:5433/auth",
            ),
            ("mysql://root:pw@127.0.0.1/app", "mysql://127.0.0.1/app"),
            ("redis://:s3cret@10.0.0.7:6379/2", "redis://10.0.0.7:6379/2"),
            (
                "postgres://db/auth?user=app&password=s3cret",
                "postgres://db/auth",
            ),
            ("sqlite:///srv/auth/auth.db", "sqlite:///srv/auth/auth.db"),
            ("sqlite:auth.db?mode=ro", "sqlite:auth.db"),
            (
                "http://u:p@auth.internal:3000/api/auth",
                "http://auth.internal:3000/api/auth",
            ),
            ("redis://a@b:c@host:1", "redis://host:1"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
        let error = Failed::boxed(
            "better-auth's database",
            &redact("postgres://a:s3cret@h/d"),
            "refused",
        );
        assert_eq!(
            error.to_string(),
            "better-auth's database at postgres://h/d failed"
        );
        assert_eq!(error.source().unwrap().to_string(), "refused");
    }
}
