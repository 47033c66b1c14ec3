//! Email addresses, checked as better-auth 1.7.25 checks them (zod 4's `z.email()`), then
//! lowercased.

/// Whether `email` passes zod 4's email pattern, which better-auth uses on sign-up and sign-in:
///
/// ```text
/// ^(?:[A-Za-z0-9_'+\-]+\.)*[A-Za-z0-9_'+\-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$
/// ```
///
/// ASCII only: `é`, control characters, a second `@` and a trailing dot are all refused, so
/// two spellings (NFC and NFD) of one address can never make two accounts.
pub(crate) fn is_valid(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    valid_local(local) && valid_domain(domain)
}

fn valid_local(local: &str) -> bool {
    let is_char = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'\'' | b'+' | b'-');
    // Dot-separated runs, none empty; the very last character is not `'`.
    local
        .split('.')
        .all(|run| !run.is_empty() && run.bytes().all(is_char))
        && local.bytes().last().is_some_and(|c| c != b'\'')
}

fn valid_domain(domain: &str) -> bool {
    let Some((labels, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    let label_ok = |label: &str| {
        let bytes = label.as_bytes();
        bytes.first().is_some_and(u8::is_ascii_alphanumeric)
            && bytes
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b'-')
    };
    labels.split('.').all(label_ok)
        && tld.len() >= 2
        && tld.bytes().all(|c| c.is_ascii_alphabetic())
}

/// The address as better-auth stores it: lowercased.
pub(crate) fn normalize(email: &str) -> String {
    email.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn as_zod_decides() {
        for ok in [
            "user@example.com",
            "USER@Example.COM",
            "a.b+c_d'e-f@sub.example.co",
            "a@b-c.de",
            "1@2.io",
            "a-@b.cd",
        ] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in [
            "",
            "a@b.",
            "a@b@c.d",
            "a@b.c",
            "a@b.c1",
            "@b.cd",
            "a.@b.cd",
            ".a@b.cd",
            "a..b@c.de",
            "a'@b.cd",
            "a@-b.cd",
            "a@b..cd",
            "a@.b.cd",
            "a@cd",
            "é@b.cd",
            "e\u{301}@b.cd",
            "a@bé.cd",
            "a b@c.de",
            "a\u{7}@b.cd",
            "a@b.cd\n",
            " a@b.cd",
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }
}
