//! [`normalize_htu`]: the form in which a proof's `htu` and the request's URI are compared
//! (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2 and §6.2.3).

/// An absolute `http` or `https` URI, normalised, and whether it had a query or a fragment.
pub(super) struct Normalized {
    pub(super) uri: String,
    pub(super) had_query_or_fragment: bool,
}

/// `uri` in the normal form of RFC 3986's syntax-based (§6.2.2) and scheme-based (§6.2.3)
/// normalisation, without its query and fragment; `None` for anything that is not an absolute
/// `http` or `https` URI.
///
/// - scheme and host lower-cased;
/// - the default port dropped (`80` for `http`, `443` for `https`), as is an empty one; other
///   ports kept, without leading zeros;
/// - in the path, percent-encodings of unreserved characters decoded (`%7e` is `~`), the hex
///   digits of the others upper-cased (`%2f` is `%2F`, never `/`);
/// - dot segments removed (`/a/./b/../c` is `/a/c`), an empty path made `/`;
/// - the query and the fragment dropped.
///
/// - in the path, a printable character RFC 3986 does not allow (`|`, `^`, `{`, non-ASCII
///   UTF-8) percent-encoded, as a client that encodes it sends it.
///
/// Refused (`None`): another scheme, no authority, user info (`user@host`), an empty host or
/// one with a character a host cannot hold, a port that is not a number up to 65535, a broken
/// percent-encoding, a space or a control character anywhere.
/// An `http` URI never normalises to the same text as an `https` one.
///
/// ```
/// use tower_bearer::dpop::normalize_htu;
///
/// assert_eq!(
///     normalize_htu("HTTPS://Example.COM:443/a/./b/../c%7e?x#y").as_deref(),
///     Some("https://example.com/a/c~"),
/// );
/// assert_eq!(normalize_htu("http://h:80").as_deref(), Some("http://h/"));
/// assert_eq!(normalize_htu("/relative"), None);
/// ```
pub fn normalize_htu(uri: &str) -> Option<String> {
    normalize(uri).map(|n| n.uri)
}

pub(super) fn normalize(uri: &str) -> Option<Normalized> {
    let (scheme, rest) = uri.split_once("://")?;
    let (scheme, default_port) = if scheme.eq_ignore_ascii_case("https") {
        ("https", 443)
    } else if scheme.eq_ignore_ascii_case("http") {
        ("http", 80)
    } else {
        return None;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(end);
    let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let (path, tail) = rest.split_at(path_end);
    let mut out = String::with_capacity(uri.len());
    out.push_str(scheme);
    out.push_str("://");
    host_and_port(authority, default_port, &mut out)?;
    let decoded = percent_normalized(path)?;
    let path = remove_dot_segments(&decoded);
    out.push_str(if path.is_empty() { "/" } else { &path });
    // The query and the fragment are dropped; only what no URI holds is refused there.
    if tail.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return None;
    }
    Some(Normalized {
        uri: out,
        had_query_or_fragment: !tail.is_empty(),
    })
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// A `pchar` other than a percent-encoding (RFC 3986 §3.3).
fn pchar(b: u8) -> bool {
    unreserved(b) || sub_delim(b) || matches!(b, b':' | b'@')
}

/// Writes the lower-cased host and the port, unless it is empty or the default.
fn host_and_port(authority: &str, default_port: u16, out: &mut String) -> Option<()> {
    if authority.contains('@') {
        return None;
    }
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        let literal = &authority[1..close];
        if literal.is_empty()
            || !literal
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
        {
            return None;
        }
        let port = &authority[close + 1..];
        (
            &authority[..=close],
            port.strip_prefix(':').or(port.is_empty().then_some(""))?,
        )
    } else {
        let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
        if host.is_empty() || !host.bytes().all(|b| unreserved(b) || sub_delim(b)) {
            return None;
        }
        (host, port)
    };
    out.extend(host.chars().map(|c| c.to_ascii_lowercase()));
    if !port.is_empty() {
        if port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let port: u16 = port.parse::<u32>().ok()?.try_into().ok()?;
        if port != default_port {
            out.push(':');
            out.push_str(&port.to_string());
        }
    }
    Some(())
}

/// The path with unreserved characters' percent-encodings decoded and the others' hex
/// upper-cased; `None` for a broken percent-encoding or a character a path cannot hold.
fn percent_normalized(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            // Checked first: `from_str_radix` would take a sign (`%+1`).
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let value = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            if unreserved(value) {
                out.push(value as char);
            } else {
                out.push('%');
                out.extend(hex.iter().map(|h| h.to_ascii_uppercase() as char));
            }
            i += 3;
        } else if pchar(b) || b == b'/' {
            out.push(b as char);
            i += 1;
        } else if b > b' ' && b != 0x7f {
            // Printable but not allowed (`|`, `^`, `{`, a non-ASCII byte): what a client that
            // percent-encodes it sends, so `a|b` and `a%7Cb` are one path. Clients build
            // `htu` with WHATWG's URL, which leaves some of these raw; servers get either.
            out.push_str(&format!("%{b:02X}"));
            i += 1;
        } else {
            return None;
        }
    }
    Some(out)
}

/// RFC 3986 §5.2.4, on an absolute path (or an empty one).
fn remove_dot_segments(path: &str) -> String {
    let mut output: Vec<&str> = Vec::new();
    let mut input = path;
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest;
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") {
            input = &input[3..];
            output.pop();
        } else if input == "/.." {
            input = "/";
            output.pop();
        } else if input == "." || input == ".." {
            input = "";
        } else {
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |i| i + start);
            output.push(&input[..end]);
            input = &input[end..];
        }
    }
    output.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_forms() {
        for (uri, normal) in [
            (
                "HTTPS://Example.COM:443/a/./b/../c%7e?x#y",
                "https://example.com/a/c~",
            ),
            ("http://h:80", "http://h/"),
            ("http://h:", "http://h/"),
            ("http://h", "http://h/"),
            ("https://h:443", "https://h/"),
            ("https://h:80/", "https://h:80/"),
            ("http://h:443/", "http://h:443/"),
            ("http://h:08080/p", "http://h:8080/p"),
            ("https://h/a%2fb", "https://h/a%2Fb"),
            ("https://h/a%2Fb", "https://h/a%2Fb"),
            ("https://h/%41%62%2D%5F", "https://h/Ab-_"),
            ("https://h/%e2%82%ac", "https://h/%E2%82%AC"),
            ("https://h/a/b/../../../c", "https://h/c"),
            ("https://h/a/%2E%2E/c", "https://h/c"),
            ("https://h/a/.", "https://h/a/"),
            ("https://h/a/..", "https://h/"),
            ("https://h/a//b", "https://h/a//b"),
            ("https://h/Case", "https://h/Case"),
            ("https://[::1]:8443/p", "https://[::1]:8443/p"),
            ("https://[::1]:443/p", "https://[::1]/p"),
            ("https://h?q", "https://h/"),
            ("https://h#f", "https://h/"),
            ("https://h/p;a=b/@:x", "https://h/p;a=b/@:x"),
            ("https://h/a|b", "https://h/a%7Cb"),
            ("https://h/a%7cb", "https://h/a%7Cb"),
            ("https://h/caf\u{e9}", "https://h/caf%C3%A9"),
            ("https://h/{x}^`\\", "https://h/%7Bx%7D%5E%60%5C"),
            ("https://h/p?q=a|b\"c", "https://h/p"),
        ] {
            assert_eq!(normalize_htu(uri).as_deref(), Some(normal), "{uri}");
        }
    }

    #[test]
    fn query_and_fragment_are_noticed() {
        assert!(normalize("https://h/p?").unwrap().had_query_or_fragment);
        assert!(normalize("https://h/p#").unwrap().had_query_or_fragment);
        assert!(normalize("https://h/p?a=1").unwrap().had_query_or_fragment);
        assert!(!normalize("https://h/p").unwrap().had_query_or_fragment);
    }

    #[test]
    fn schemes_never_meet() {
        assert_ne!(normalize_htu("http://h/p"), normalize_htu("https://h/p"));
        assert_ne!(
            normalize_htu("http://h:443/p"),
            normalize_htu("https://h/p")
        );
        assert_ne!(normalize_htu("https://h:80/p"), normalize_htu("http://h/p"));
    }

    #[test]
    fn anything_else_is_refused() {
        for uri in [
            "",
            "/p",
            "h/p",
            "ftp://h/p",
            "https:/h/p",
            "https:h/p",
            "wss://h/p",
            "https:///p",
            "https://:443/p",
            "https://u@h/p",
            "https://u:pw@h/p",
            "https://h:x/p",
            "https://h:65536/p",
            "https://h:123456/p",
            "https://h:-1/p",
            "https://h%41/p",
            "https://h/a b",
            "https://h/%",
            "https://h/%4",
            "https://h/%zz",
            "https://h/%+1",
            "https://h/p?a b",
            "https://[::1/p",
            "https://[]/p",
            "https://[::1]x/p",
            "https://h/p\tq",
            "https://h/p\u{7f}",
            "https://h/p#a b",
        ] {
            assert_eq!(normalize_htu(uri), None, "{uri:?}");
        }
    }
}
