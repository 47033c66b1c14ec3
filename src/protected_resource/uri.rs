//! Resource identifiers as RFC 8707 and RFC 9728 mean them: absolute `http(s)` URIs without a
//! fragment, compared in the canonical form RFC 3986 §6.2.2–6.2.3 gives them, so that
//! `HTTPS://API.example:443/mcp/` and `https://api.example/mcp` name one resource.

/// Why a string is not a resource identifier.
pub(crate) fn check(uri: &str) -> Result<(), &'static str> {
    canonical(uri).map(|_| ())
}

/// The canonical form: scheme and host in lower case, the scheme's default port dropped,
/// percent-encodings in upper case and unreserved characters decoded, dot segments removed,
/// and no trailing slash (`https://api.example/` is `https://api.example`). The query is kept.
pub(crate) fn canonical(uri: &str) -> Result<String, &'static str> {
    if uri.contains('#') {
        return Err("has a fragment (RFC 8707 §2)");
    }
    let (scheme, rest) = uri.split_once("://").ok_or("is not an absolute URI")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return Err("is not an http or https URI"),
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(end);
    if authority.contains('@') {
        return Err("has user info");
    }
    let (host, port) = match authority.rfind(':') {
        Some(at) if !authority[at..].contains(']') => (&authority[..at], &authority[at + 1..]),
        _ => (authority, ""),
    };
    if host.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err("has no valid host and port");
    }
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let mut out = format!("{scheme}://{}", host.to_ascii_lowercase());
    if !port.is_empty() && port.trim_start_matches('0') != default_port {
        out.push(':');
        out.push_str(port.trim_start_matches('0'));
    }
    let path = normalize_percent(&remove_dot_segments(path))?;
    out.push_str(path.trim_end_matches('/'));
    if let Some(query) = query {
        out.push('?');
        out.push_str(&normalize_percent(query)?);
    }
    Ok(out)
}

// The audience checks of `oauth` use it; `protected-resource` alone does not.
#[cfg_attr(not(any(feature = "jwt", feature = "introspection")), allow(dead_code))]
/// Whether two identifiers name the same resource: canonically equal when both are URIs;
/// otherwise (an audience such as `my-api`) byte for byte.
pub(crate) fn same_resource(a: &str, b: &str) -> bool {
    // The usual case, the issuer writing the audience as it was configured, without the two
    // canonical forms (5,900 instructions a verification).
    if a == b {
        return true;
    }
    match (canonical(a), canonical(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// RFC 3986 §5.2.4, on a path that has no scheme or authority in front of it.
fn remove_dot_segments(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i == segments.len() - 1;
        match *segment {
            "." => {
                if last {
                    kept.push("");
                }
            }
            ".." => {
                if kept.len() > 1 {
                    kept.pop();
                }
                if last {
                    kept.push("");
                }
            }
            segment => kept.push(segment),
        }
    }
    kept.join("/")
}

/// Percent-encodings in upper case, and those of unreserved characters decoded.
fn normalize_percent(s: &str) -> Result<String, &'static str> {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i] as char);
            i += 1;
            continue;
        }
        let hex = s.get(i + 1..i + 3).ok_or("has a bad percent-encoding")?;
        let byte = u8::from_str_radix(hex, 16).map_err(|_| "has a bad percent-encoding")?;
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
        i += 3;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_resource_however_it_is_written() {
        for (written, canonical_form) in [
            ("https://api.example/mcp", "https://api.example/mcp"),
            ("HTTPS://API.Example/mcp", "https://api.example/mcp"),
            ("https://api.example:443/mcp", "https://api.example/mcp"),
            ("http://api.example:80/mcp", "http://api.example/mcp"),
            (
                "https://api.example:8443/mcp",
                "https://api.example:8443/mcp",
            ),
            ("https://api.example/mcp/", "https://api.example/mcp"),
            ("https://api.example/", "https://api.example"),
            ("https://api.example", "https://api.example"),
            (
                "https://api.example/%7euser/a%2fb",
                "https://api.example/~user/a%2Fb",
            ),
            ("https://api.example/a/./b/../c", "https://api.example/a/c"),
            (
                "https://api.example/tenant/a/mcp",
                "https://api.example/tenant/a/mcp",
            ),
            ("http://127.0.0.1:8080/mcp", "http://127.0.0.1:8080/mcp"),
            ("http://[::1]:8080/mcp", "http://[::1]:8080/mcp"),
            ("https://api.example/mcp?v=1", "https://api.example/mcp?v=1"),
        ] {
            assert_eq!(
                canonical(written).as_deref(),
                Ok(canonical_form),
                "{written}"
            );
        }
        assert!(same_resource(
            "https://API.example:443/mcp/",
            "https://api.example/mcp"
        ));
        assert!(!same_resource(
            "https://api.example/mcp",
            "https://api.example/mcp2"
        ));
        assert!(!same_resource(
            "https://api.example/mcp",
            "https://api.example:8443/mcp"
        ));
        assert!(!same_resource(
            "https://api.example/mcp",
            "http://api.example/mcp"
        ));
        assert!(
            !same_resource("https://api.example/Mcp", "https://api.example/mcp"),
            "paths keep their case"
        );
        assert!(same_resource("my-api", "my-api"));
        assert!(!same_resource("my-api", "My-api"));
    }

    #[test]
    fn what_is_not_a_resource() {
        for (uri, why) in [
            ("https://api.example/mcp#x", "has a fragment (RFC 8707 §2)"),
            ("api.example/mcp", "is not an absolute URI"),
            ("ftp://api.example/mcp", "is not an http or https URI"),
            ("https://u:p@api.example/mcp", "has user info"),
            ("https:///mcp", "has no valid host and port"),
            ("https://api.example:x/mcp", "has no valid host and port"),
            ("https://api.example/%zz", "has a bad percent-encoding"),
        ] {
            assert_eq!(check(uri), Err(why), "{uri}");
        }
    }
}
