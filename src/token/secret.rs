//! [`Secret`]: a token taken out of the request (decoded from the query, a form body, a
//! subprotocol or a cookie), held until the resolver has seen it.

use std::fmt;

use super::{BearerToken, Malformed, TokenChars, TokenSource};

/// A decoded token the layer owns. `Debug` prints no part of it, and its bytes are overwritten
/// when it drops.
#[derive(Clone)]
pub(crate) struct Secret(Vec<u8>);

impl Secret {
    pub(crate) fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    /// The token, once [`checked`](Self::checked), and where it came from.
    pub(crate) fn token(&self, source: TokenSource) -> BearerToken<'_> {
        BearerToken(&self.0, None, source)
    }

    /// The token, if it keeps the grammar the header's token must keep.
    pub(crate) fn checked(&self, chars: TokenChars) -> Result<BearerToken<'_>, Malformed> {
        let bytes = self.0.as_slice();
        let valid = match chars {
            TokenChars::B64Token => super::is_b64token(bytes),
            TokenChars::Visible => bytes.iter().all(u8::is_ascii_graphic),
        };
        match (bytes.is_empty(), valid) {
            (true, _) => Err(Malformed::Empty),
            (false, true) => Ok(BearerToken(bytes, None, TokenSource::Authorization)),
            (false, false) => Err(Malformed::Grammar),
        }
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.fill(0);
        // Keeps the writes from being optimised away as dead stores.
        std::hint::black_box(&mut self.0);
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// What one source held: nothing, one token, or a malformed attempt (empty, undecodable, or
/// more than one).
pub(crate) type Presented = Option<Result<Secret, Malformed>>;

/// Folds the values one source carries into what it presented: a second value is
/// [`Malformed::Repeated`].
pub(crate) fn one_of(values: impl IntoIterator<Item = Result<Secret, Malformed>>) -> Presented {
    let mut values = values.into_iter();
    let first = values.next()?;
    match values.next() {
        None => Some(first),
        Some(_) => Some(Err(Malformed::Repeated)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_token_prints_nothing_of_itself() {
        let secret = Secret::new(b"s3cr3t-token".to_vec());
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        let presented: Presented = Some(Ok(secret));
        assert_eq!(format!("{presented:?}"), "Some(Ok(Secret(***)))");
    }

    #[test]
    fn one_of_refuses_a_second_value() {
        let token = |t: &str| Ok(Secret::new(t.as_bytes().to_vec()));
        assert!(one_of([]).is_none());
        assert!(matches!(one_of([token("a")]), Some(Ok(_))));
        assert!(matches!(
            one_of([token("a"), token("a")]),
            Some(Err(Malformed::Repeated))
        ));
    }
}
