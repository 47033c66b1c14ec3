//! The `b64token` grammar (RFC 6750 §2.1): the characters a bearer token may have, and the
//! reference grammar the check is proven against. Under the default `TokenChars::B64Token` the
//! token of every source is checked here, not only the header's, so it sits beside the sources
//! rather than inside `header.rs`.

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
///
/// The padding is stripped first, then the body is checked 16 bytes at a time, each byte
/// classified by straight-line compares folded without an early exit: the compiler turns every
/// block into a few SIMD instructions. A body of 16 bytes or more ends with a block that
/// overlaps the previous one instead of a byte-at-a-time tail, so a 43-byte session token takes
/// three blocks. Blocks are checked one after another with an exit at the first bad one: the
/// token is the caller's own input, and a loop over blocks without one gets vectorized across
/// blocks, into many times the code.
#[inline]
pub(crate) fn is_b64token(token: &[u8]) -> bool {
    let mut body = token;
    while let [rest @ .., b'='] = body {
        body = rest;
    }
    let Some(last) = body.last_chunk::<16>() else {
        return !body.is_empty() && body.iter().fold(true, |ok, &c| ok & is_body_char(c));
    };
    let (blocks, _) = body.as_chunks::<16>();
    blocks.iter().all(all_body_chars) && all_body_chars(last)
}

#[inline(always)]
fn all_body_chars(block: &[u8; 16]) -> bool {
    block.iter().fold(true, |ok, &c| ok & is_body_char(c))
}

/// One `b64token` body character: ASCII letter or digit, or one of `-._~+/`.
#[inline(always)]
fn is_body_char(c: u8) -> bool {
    // `| 0x20` folds upper-case letters onto lower-case ones and maps nothing else into a..=z.
    // `+` `,` `-` `.` `/` and the digits are the run 0x2B..=0x39, less the comma.
    ((c | 0x20).wrapping_sub(b'a') < 26)
        | ((c.wrapping_sub(b'+') <= b'9' - b'+') & (c != b','))
        | (c == b'_')
        | (c == b'~')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 6750's grammar, spelled out: the reference `is_b64token` must agree with.
    fn reference_b64token(token: &[u8]) -> bool {
        let body_len = token
            .iter()
            .position(|&c| {
                !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'))
            })
            .unwrap_or(token.len());
        body_len > 0 && token[body_len..].iter().all(|&c| c == b'=')
    }

    #[test]
    fn every_byte_is_classified_as_the_grammar_says() {
        for c in 0..=255u8 {
            assert_eq!(is_b64token(&[c]), reference_b64token(&[c]), "{c:#04x}");
            assert_eq!(
                is_b64token(&[b'a', c]),
                reference_b64token(&[b'a', c]),
                "{c:#04x}"
            );
        }
    }

    #[test]
    fn a_bad_byte_anywhere_is_caught() {
        for len in 1..64 {
            let good = vec![b'a'; len];
            assert!(is_b64token(&good), "len {len}");
            for pos in 0..len {
                for bad in [b' ', b'=', b'@', 0x80] {
                    let mut t = good.clone();
                    t[pos] = bad;
                    let padding_at_end =
                        bad == b'=' && t[pos..].iter().all(|&c| c == b'=') && pos > 0;
                    assert_eq!(
                        is_b64token(&t),
                        padding_at_end,
                        "len {len} pos {pos} byte {bad}"
                    );
                }
            }
        }
    }

    proptest! {
        #[test]
        fn b64token_check_matches_the_grammar(bytes in proptest::collection::vec(
            prop_oneof![any::<u8>(), Just(b'='), Just(b'a'), Just(b'Z'), Just(b'~')], 0..80)) {
            prop_assert_eq!(is_b64token(&bytes), reference_b64token(&bytes));
        }
    }
}
