//! RFC 7662 introspection per request: cached (a hit) and uncached (one HTTP/1.1 call to a
//! local endpoint), over 64 opaque tokens in rotation. The JWT benchmarks, beside their peers,
//! are in peers/benches/jwt_verify.rs.
//!
//! `cargo bench -p tower-bearer-peers --bench introspection --features introspection`

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http::Response;
use http_body_util::Full;
use tower_bearer::oauth::IntrospectionResolver;
use tower_bearer::{BearerToken, SessionResolver};

const TOKENS: usize = 64;

fn introspection(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let svc = hyper::service::service_fn(|_| async {
                    let body = r#"{"active":true,"sub":"u","scope":"read","exp":4102444800}"#;
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                        body.as_bytes(),
                    ))))
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc),
                );
            }
        });
        addr
    });
    let endpoint = format!("http://{addr}/introspect");
    // The warm-up introspects all 64 tokens at once, past the default burst of 50.
    let cached: IntrospectionResolver = IntrospectionResolver::builder(&endpoint)
        .call_budget(u32::MAX, Duration::from_secs(1))
        .any_audience()
        .build()
        .unwrap();
    // Every uncached lookup is a call: no budget to speak of, or the bench would measure the
    // refusals.
    let uncached: IntrospectionResolver = IntrospectionResolver::builder(&endpoint)
        .cache_ttl(Duration::ZERO)
        .call_budget(u32::MAX, Duration::from_secs(1))
        .any_audience()
        .build()
        .unwrap();
    let tokens: Vec<String> = (0..TOKENS).map(|i| format!("opaque-{i}")).collect();
    for t in &tokens {
        assert!(rt
            .block_on(cached.resolve(BearerToken::new(t)))
            .unwrap()
            .is_some());
    }
    let mut group = c.benchmark_group("introspection");
    let mut i = 0;
    group.bench_function("cached", |b| {
        b.iter(|| {
            i = (i + 1) % TOKENS;
            black_box(
                cached
                    .resolve_ready(BearerToken::new(&tokens[i]))
                    .unwrap()
                    .unwrap()
                    .unwrap(),
            );
        })
    });
    group.bench_function("uncached_local_endpoint", |b| {
        b.iter(|| {
            i = (i + 1) % TOKENS;
            black_box(
                rt.block_on(uncached.resolve(BearerToken::new(&tokens[i])))
                    .unwrap()
                    .unwrap(),
            );
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = introspection
}
criterion_main!(benches);
