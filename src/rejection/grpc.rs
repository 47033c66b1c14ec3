//! gRPC: which requests are gRPC calls, and the trailers-only answer they get instead of an HTTP
//! rejection.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use http::Response;

/// The gRPC flavour of a request, read from its `content-type`.
///
/// gRPC-Web calls get a gRPC status too: tonic-web answers a failed call trailers-only (the
/// status in the response headers, an empty body), and gRPC-Web clients read it from there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grpc {
    /// `application/grpc`, `application/grpc+proto`, `application/grpc;…`.
    Native,
    /// `application/grpc-web` and `application/grpc-web+proto`.
    Web,
    /// `application/grpc-web-text` and `application/grpc-web-text+proto`.
    WebText,
}

impl Grpc {
    /// The flavour of a request with these headers; `None` for anything that is not gRPC.
    ///
    /// A media type matches exactly or followed by `+` (a codec) or `;` (parameters), so
    /// `application/grpcfoo` is no gRPC call.
    #[inline]
    pub(crate) fn of(headers: &HeaderMap) -> Option<Grpc> {
        let rest = headers
            .get(CONTENT_TYPE)?
            .as_bytes()
            .strip_prefix(b"application/grpc")?;
        let (flavour, rest) = if let Some(rest) = rest.strip_prefix(b"-web-text") {
            (Grpc::WebText, rest)
        } else if let Some(rest) = rest.strip_prefix(b"-web") {
            (Grpc::Web, rest)
        } else {
            (Grpc::Native, rest)
        };
        matches!(rest.first(), None | Some(b'+' | b';')).then_some(flavour)
    }

    /// The `content-type` of the answer, as tonic and tonic-web send it.
    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Grpc::Native => "application/grpc",
            Grpc::Web => "application/grpc-web+proto",
            Grpc::WebText => "application/grpc-web-text+proto",
        })
    }

    /// The trailers-only answer with status `code`: HTTP 200 with `grpc-status` and a
    /// percent-encoded `grpc-message`, as `tonic::Status::into_http` builds it.
    pub(crate) fn status(self, code: u16, message: &str) -> Response<Bytes> {
        let mut response = Response::new(Bytes::new());
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, self.content_type());
        headers.insert("grpc-status", HeaderValue::from(code));
        if let Ok(message) = HeaderValue::from_str(&percent_encode(message)) {
            headers.insert("grpc-message", message);
        }
        response
    }
}

/// Percent-encodes `grpc-message` byte for byte as tonic does (`Status::into_http`): controls,
/// non-ASCII, space and `"#%<>`?{}`.
pub(crate) fn percent_encode(message: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(message.len());
    for &b in message.as_bytes() {
        let plain = (0x21..0x7f).contains(&b) && !b"\"#%<>`?{}".contains(&b);
        if plain {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flavour(content_type: &str) -> Option<Grpc> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        Grpc::of(&headers)
    }

    #[test]
    fn grpc_is_the_media_type_not_a_prefix() {
        for ct in [
            "application/grpc",
            "application/grpc+proto",
            "application/grpc;charset=utf-8",
        ] {
            assert_eq!(flavour(ct), Some(Grpc::Native), "{ct}");
        }
        for ct in [
            "application/grpc-web",
            "application/grpc-web+proto",
            "application/grpc-web;x=1",
        ] {
            assert_eq!(flavour(ct), Some(Grpc::Web), "{ct}");
        }
        for ct in [
            "application/grpc-web-text",
            "application/grpc-web-text+proto",
        ] {
            assert_eq!(flavour(ct), Some(Grpc::WebText), "{ct}");
        }
        for ct in [
            "application/grpcfoo",
            "application/grpc-webfoo",
            "application/grpc-web-textual",
            "application/grpc-",
            "application/json",
            "Application/grpc",
            "",
        ] {
            assert_eq!(flavour(ct), None, "{ct}");
        }
        assert_eq!(Grpc::of(&HeaderMap::new()), None);
    }

    #[test]
    fn response_is_trailers_only_with_the_flavours_content_type() {
        for (grpc, ct) in [
            (Grpc::Native, "application/grpc"),
            (Grpc::Web, "application/grpc-web+proto"),
            (Grpc::WebText, "application/grpc-web-text+proto"),
        ] {
            let response = grpc.status(16, "100% bad é");
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["content-type"], ct);
            assert_eq!(response.headers()["grpc-status"], "16");
            assert_eq!(response.headers()["grpc-message"], "100%25%20bad%20%C3%A9");
            assert!(response.headers().get("www-authenticate").is_none());
            assert!(response.body().is_empty());
        }
        assert_eq!(
            percent_encode("é\n% a\"#<>`?{}~"),
            "%C3%A9%0A%25%20a%22%23%3C%3E%60%3F%7B%7D~"
        );
    }
}
