//! Arbitrary bearer values through the better-auth signed-token check: a value is accepted only
//! as a raw token, or with a correct HMAC in the one accepted encoding.
#![no_main]

use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use tower_bearer::better_auth::Signatures;

const SECRET: &str = "fuzz-secret-that-is-long-enough-123456";

fn signature(token: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(token.as_bytes());
    let bytes = mac.finalize().into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let signatures = Signatures::new([SECRET]);
    let strict = Signatures::new([SECRET]).require_signature(true);
    // A value built to carry a correct signature is accepted.
    if !value.contains('.') && !value.contains('%') && !value.is_empty() {
        let signed = format!("{value}.{}", signature(value));
        assert_eq!(strict.session_token(&signed).as_deref(), Some(value));
    }
    for (checker, require) in [(&signatures, false), (&strict, true)] {
        let Some(token) = checker.session_token(value) else {
            continue;
        };
        if !value.contains('.') {
            assert!(!require, "a raw token passed require_signature");
            assert_eq!(token, value);
            continue;
        }
        // Otherwise the (percent-decoded) value must be exactly token "." HMAC, padded base64.
        let expected = format!("{token}.{}", signature(&token));
        let decoded_matches = value == expected || {
            let mut decoded = Vec::new();
            let b = value.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' && i + 2 < b.len() + 0 && i + 3 <= b.len() {
                    match u8::from_str_radix(
                        std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"),
                        16,
                    ) {
                        Ok(byte) => {
                            decoded.push(byte);
                            i += 3;
                            continue;
                        }
                        Err(_) => {}
                    }
                }
                decoded.push(b[i]);
                i += 1;
            }
            decoded == expected.as_bytes()
        };
        assert!(
            decoded_matches,
            "accepted a value without its correct signature"
        );
    }
});
