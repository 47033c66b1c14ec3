//! tests/jwt.rs's JWKS over HTTPS (feature `rustls`), apart because its local TLS server and
//! private CA need rcgen and tokio-rustls, which the crate's dev-dependencies do not carry (so
//! that `cargo run --example server` does not compile them).
#![cfg(all(feature = "jwt", feature = "rustls"))]

#[path = "../../tests/support/mod.rs"]
mod support;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use support::jose::{first_valid, jose, resolve};
use tower_bearer::oauth::JwtResolver;
use tower_bearer::SessionResolver;

/// HTTPS (feature `rustls`): a JWKS served over TLS by a local server whose certificate a CA
/// of the test's own signed. Trusting that CA, the keys are fetched and tokens verify; with
/// Mozilla's roots only, the server is not trusted and the token cannot be decided: 503.
#[tokio::test]
async fn a_jwks_over_https_from_a_private_ca() {
    use hyper_util::rt::TokioIo;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    let a = jose("a-", &["ES256"]);
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let ca_issuer = rcgen::Issuer::new(ca, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca_issuer)
        .unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![server_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let jwks = a["jwks"].to_string();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (acceptor, jwks) = (acceptor.clone(), jwks.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let svc = hyper::service::service_fn(move |_| {
                    let jwks = jwks.clone();
                    async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(jwks)))) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });

    let url = format!("https://127.0.0.1:{}/jwks", addr.port());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_cert.der().clone()).unwrap();
    let trusting: JwtResolver = JwtResolver::builder()
        .any_audience()
        .tls_roots(roots)
        .jwks_url(&url)
        .unwrap();
    assert!(resolve(&trusting, first_valid(&a)).await.is_some());
    let public_roots_only: JwtResolver = JwtResolver::builder()
        .any_audience()
        .jwks_url(&url)
        .unwrap();
    assert!(public_roots_only.resolve(first_valid(&a)).await.is_err());
}
