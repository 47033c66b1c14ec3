//! The `DPoP` challenges (RFC 9449 §7.1, §9): the layer's own refusals (`invalid_dpop_proof`,
//! `use_dpop_nonce` with `DPoP-Nonce`), and the bearer layer's answers made to speak DPoP: a
//! refusal of a DPoP request says `DPoP error="invalid_token", …, algs="…"`; where both schemes
//! are accepted, a refusal carries both challenges; where DPoP is required, only `DPoP`.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};

use super::gate::{DpopMode, Settings};
use crate::rejection::challenge::{is_description_char, sanitize};
use crate::rejection::grpc::Grpc;

/// The `DPoP-Nonce` response header.
pub(crate) const DPOP_NONCE: &str = "dpop-nonce";

/// Why the DPoP layer answers a request itself.
pub(super) enum Refused {
    /// The proof is missing, malformed, fails a check, or was used before.
    Invalid(String),
    /// The proof lacks the current nonce: here it is.
    UseNonce(String),
    /// `Authorization: Bearer` where only DPoP is accepted.
    BearerWhereDpopRequired,
    /// A `DPoP` proof with a `Bearer` token: a client that means DPoP and says Bearer.
    ProofWithBearer,
    /// The replay store could not tell whether the proof is new.
    Unavailable,
}

/// A `DPoP` challenge: `error` and its description when given, then `algs` and the metadata.
fn dpop(settings: &Settings, error: Option<(&str, &str)>) -> String {
    let mut out = String::from("DPoP");
    let mut sep = " ";
    let mut attr = |name: &str, value: &str| {
        out.push_str(sep);
        out.push_str(name);
        out.push_str("=\"");
        out.push_str(value);
        out.push('"');
        sep = ", ";
    };
    if let Some((error, description)) = error {
        attr("error", error);
        let description = sanitize(description.to_owned().into(), is_description_char);
        attr("error_description", &description);
    }
    attr("algs", &settings.algs);
    if let Some(url) = &settings.resource_metadata {
        attr("resource_metadata", url);
    }
    out
}

/// A plain `Bearer` challenge, for a layer that accepts both schemes.
fn bearer(settings: &Settings, error: Option<(&str, &str)>) -> String {
    let mut out = String::from("Bearer");
    let mut parts = Vec::new();
    if let Some((error, description)) = error {
        let description = sanitize(description.to_owned().into(), is_description_char);
        parts.push(format!(
            "error=\"{error}\", error_description=\"{description}\""
        ));
    }
    if let Some(url) = &settings.resource_metadata {
        parts.push(format!("resource_metadata=\"{url}\""));
    }
    if !parts.is_empty() {
        out.push(' ');
        out.push_str(&parts.join(", "));
    }
    out
}

fn header(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("DPoP"))
}

impl Refused {
    /// The answer: HTTP, or a trailers-only gRPC status for a gRPC call.
    pub(super) fn answer(self, settings: &Settings, grpc: Option<Grpc>) -> Response<Bytes> {
        let (status, code, challenges, nonce) = match &self {
            Refused::Invalid(why) => {
                let mut challenges = vec![dpop(settings, Some(("invalid_dpop_proof", why)))];
                if settings.mode == DpopMode::Allowed {
                    challenges.push(bearer(settings, None));
                }
                (StatusCode::UNAUTHORIZED, 16, challenges, None)
            }
            Refused::UseNonce(nonce) => {
                let why = "the DPoP proof needs the server's nonce";
                let challenges = vec![dpop(settings, Some(("use_dpop_nonce", why)))];
                (
                    StatusCode::UNAUTHORIZED,
                    16,
                    challenges,
                    Some(nonce.as_str()),
                )
            }
            Refused::BearerWhereDpopRequired => {
                let why = "this resource accepts DPoP-bound tokens only";
                let challenges = vec![dpop(settings, Some(("invalid_token", why)))];
                (StatusCode::UNAUTHORIZED, 16, challenges, None)
            }
            Refused::ProofWithBearer => {
                let why = "a DPoP proof came with the Bearer scheme";
                let challenges = vec![
                    bearer(settings, Some(("invalid_request", why))),
                    dpop(settings, None),
                ];
                (StatusCode::BAD_REQUEST, 3, challenges, None)
            }
            Refused::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, 14, Vec::new(), None),
        };
        let mut response = match grpc {
            Some(grpc) => {
                let message = status.canonical_reason().unwrap_or("refused");
                grpc.status(code, message)
            }
            None => {
                let mut response = Response::new(Bytes::new());
                *response.status_mut() = status;
                for challenge in &challenges {
                    response
                        .headers_mut()
                        .append(WWW_AUTHENTICATE, header(challenge));
                }
                response
            }
        };
        if status == StatusCode::SERVICE_UNAVAILABLE && grpc.is_none() {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let Some(nonce) = nonce.and_then(|n| HeaderValue::from_str(n).ok()) {
            response.headers_mut().insert(DPOP_NONCE, nonce);
        }
        response
    }
}

/// What the DPoP layer does to the bearer layer's answer.
pub(super) struct Post {
    settings: Arc<Settings>,
    /// The request came as `DPoP`.
    used_dpop: bool,
    /// The nonce to hand out: the proof carried the previous one.
    next_nonce: Option<String>,
}

impl Post {
    pub(super) fn new(
        settings: &Arc<Settings>,
        used_dpop: bool,
        next_nonce: Option<String>,
    ) -> Self {
        Post {
            settings: settings.clone(),
            used_dpop,
            next_nonce,
        }
    }

    pub(super) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The bearer layer's challenges made to speak DPoP: a DPoP request's, or every one where
    /// DPoP is required, turned into `DPoP` challenges with `algs`; where both schemes are
    /// accepted, a `DPoP` challenge added beside the `Bearer` one.
    pub(super) fn apply<B>(self, mut response: Response<B>) -> Response<B> {
        let headers = response.headers_mut();
        if let Some(nonce) = self.next_nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
            headers.insert(DPOP_NONCE, nonce);
        }
        let bearer: Vec<String> = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter(|v| v.len() >= 6 && v[..6].eq_ignore_ascii_case("bearer"))
            .map(str::to_owned)
            .collect();
        if bearer.is_empty() {
            return response;
        }
        let settings = &self.settings;
        if self.used_dpop || settings.mode == DpopMode::Required {
            headers.remove(WWW_AUTHENTICATE);
            for challenge in bearer {
                let params = challenge[6..].trim_start();
                let mut dpop = String::from("DPoP");
                if !params.is_empty() {
                    dpop.push(' ');
                    dpop.push_str(params);
                    dpop.push(',');
                }
                dpop.push_str(&format!(" algs=\"{}\"", settings.algs));
                if !params.contains("resource_metadata=") {
                    if let Some(url) = &settings.resource_metadata {
                        dpop.push_str(&format!(", resource_metadata=\"{url}\""));
                    }
                }
                headers.append(WWW_AUTHENTICATE, header(&dpop));
            }
        } else {
            headers.append(WWW_AUTHENTICATE, header(&dpop(settings, None)));
        }
        response
    }
}
