//! JWT verification beside its primitives and its peers (issue 36), 64 distinct live tokens in
//! rotation (each its own `sub`), `iss` and `aud` checked everywhere:
//!
//! - `verify/<alg>/<variant>`, for EdDSA, ES256, RS256 and PS256 (RSA 2048):
//!   - `bare_ring`, `bare_aws_lc_unparsed`, `bare_aws_lc_parsed`, and for EdDSA `bare_dalek`:
//!     each backend's verify of the same signing input and signature with the same key, alone
//!     (ring's `UnparsedPublicKey`, or `RsaPublicKeyComponents` for RSA; aws-lc-rs's
//!     `UnparsedPublicKey` and `ParsedPublicKey`; ed25519-dalek's `verify_strict`);
//!   - `tower_bearer_layer`: `BearerLayer` over a `JwtResolver` whose verified-token cache is
//!     off; `tower_bearer_resolve_ready`: that resolver alone;
//!   - `jwt_authorizer`: jwt-authorizer's layer (jsonwebtoken on ring), its key from a PEM;
//!   - `jsonwebtoken_tower_http`: `jsonwebtoken::decode` (jwt-authorizer's version) in a
//!     tower-http `AsyncRequireAuthorizationLayer`.
//! - `cached/<len>/<variant>`, ES256 tokens of about 300 B, 1 KiB and 2 KiB (a `pad` claim):
//!   `tower_bearer_layer` and `tower_bearer_resolve_ready` with the default verified-token
//!   cache, every token verified once before; `memory_store_layer` and
//!   `memory_store_resolve_ready`: a `MemoryStore` hit (64 sessions).
//! - `floor/no_auth`: the request and the inner service alone, what every layer variant pays.
//!
//! Every layer sits over the same trivial service (200 when it finds the layer's claims) and is
//! driven synchronously (`ready`, `call`, each future polled once); every token of every variant
//! is checked to be accepted before anything is measured, and on every request after.
//!
//! ```text
//! cargo bench -p tower-bearer-peers --bench jwt_verify [--features aws-lc-rs]
//! JWT_ONLY=verify/ES256/tower_bearer_layer JWT_ITERS=2000 path/to/jwt_verify-HASH
//! JWT_ONLY=list path/to/jwt_verify-HASH
//! ```
//!
//! With `JWT_ONLY` and `JWT_ITERS`, criterion is skipped: that variant alone is built and run
//! `JWT_ITERS` times over the rotation, for callgrind (`peers/benches/callgrind.sh`).
//! `JWT_SEED=<n>` makes the Ed25519 key, and so its tokens, the same in every run:
//! ed25519-dalek's verify count varies with the signature by about 0.3 %, ring's ECDSA by 0.03 %.

use std::collections::HashMap;
use std::time::Duration;

use criterion::Criterion;

#[path = "jwt_verify/fixtures.rs"]
mod fixtures;
#[path = "jwt_verify/layers.rs"]
mod layers;

use fixtures::{split, Alg, Fixture, Public, ALGS, TOKENS};
use layers::Run;

/// The cached group's token lengths, in bytes, and their names.
const LENGTHS: [(usize, &str); 3] = [(300, "300B"), (1024, "1KiB"), (2048, "2KiB")];

/// Each variant's id as `(group, variant)`, in the order they run.
fn catalogue() -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for alg in ALGS {
        let mut bare = vec!["bare_ring", "bare_aws_lc_unparsed", "bare_aws_lc_parsed"];
        if alg == Alg::EdDSA {
            bare.insert(0, "bare_dalek");
        }
        let layers = [
            "tower_bearer_layer",
            "tower_bearer_resolve_ready",
            "jwt_authorizer",
        ];
        for v in bare
            .into_iter()
            .chain(layers)
            .chain(["jsonwebtoken_tower_http"])
        {
            out.push((format!("verify/{alg:?}"), v));
        }
    }
    for (_, name) in LENGTHS {
        for v in [
            "tower_bearer_layer",
            "tower_bearer_resolve_ready",
            "memory_store_layer",
            "memory_store_resolve_ready",
        ] {
            out.push((format!("cached/{name}"), v));
        }
    }
    out.push(("floor".into(), "no_auth"));
    out
}

/// A primitive's verify of a signing input and a signature, with the fixture's key.
type Bare = Box<dyn Fn(&[u8], &[u8]) -> bool>;

fn bare(f: &Fixture, variant: &str) -> Bare {
    use aws_lc_rs::signature as aws;
    use ring::signature as ring;
    type Algs = (
        &'static dyn ring::VerificationAlgorithm,
        &'static dyn aws::VerificationAlgorithm,
    );
    let (key, (ring_alg, aws_alg)): (Vec<u8>, Algs) = match (&f.public, f.alg) {
        (Public::Ed25519(x), _) => (x.to_vec(), (&ring::ED25519, &aws::ED25519)),
        (Public::P256(point), _) => (
            point.clone(),
            (
                &ring::ECDSA_P256_SHA256_FIXED,
                &aws::ECDSA_P256_SHA256_FIXED,
            ),
        ),
        (Public::Rsa { der, .. }, Alg::RS256) => (
            der.clone(),
            (
                &ring::RSA_PKCS1_2048_8192_SHA256,
                &aws::RSA_PKCS1_2048_8192_SHA256,
            ),
        ),
        (Public::Rsa { der, .. }, _) => (
            der.clone(),
            (
                &ring::RSA_PSS_2048_8192_SHA256,
                &aws::RSA_PSS_2048_8192_SHA256,
            ),
        ),
    };
    match (variant, &f.public) {
        ("bare_dalek", Public::Ed25519(x)) => {
            let key = ed25519_dalek::VerifyingKey::from_bytes(x).unwrap();
            Box::new(move |m, s| {
                let sig = ed25519_dalek::Signature::from_slice(s).unwrap();
                key.verify_strict(m, &sig).is_ok()
            })
        }
        // ring's RSA key as tower-bearer's ring build holds it: modulus and exponent.
        ("bare_ring", Public::Rsa { n, e, .. }) => {
            let key = ring::RsaPublicKeyComponents {
                n: n.clone(),
                e: e.clone(),
            };
            let alg = if f.alg == Alg::RS256 {
                &ring::RSA_PKCS1_2048_8192_SHA256
            } else {
                &ring::RSA_PSS_2048_8192_SHA256
            };
            Box::new(move |m, s| key.verify(alg, m, s).is_ok())
        }
        ("bare_ring", _) => {
            let key = ring::UnparsedPublicKey::new(ring_alg, key);
            Box::new(move |m, s| key.verify(m, s).is_ok())
        }
        ("bare_aws_lc_unparsed", _) => {
            let key = aws::UnparsedPublicKey::new(aws_alg, key);
            Box::new(move |m, s| key.verify(m, s).is_ok())
        }
        ("bare_aws_lc_parsed", _) => {
            let key = aws::ParsedPublicKey::new(aws_alg, key).unwrap();
            Box::new(move |m, s| key.verify_sig(m, s).is_ok())
        }
        _ => unreachable!("no bare variant {variant}"),
    }
}

/// Builds one variant, its group's fixture made once.
fn make(group: &str, variant: &str, fixtures: &mut HashMap<String, Fixture>) -> Run {
    let f = fixtures.entry(group.to_owned()).or_insert_with(|| {
        let f = match group.split_once('/') {
            Some(("verify", alg)) => Fixture::new(
                *ALGS.iter().find(|a| format!("{a:?}") == alg).unwrap(),
                None,
            ),
            Some(("cached", len)) => {
                let (bytes, _) = LENGTHS.iter().find(|(_, name)| *name == len).unwrap();
                Fixture::new(Alg::ES256, Some(*bytes))
            }
            _ => Fixture::new(Alg::ES256, None),
        };
        let (min, max) = f.lengths();
        eprintln!("{group}: {:?} tokens of {min}-{max} bytes", f.alg);
        f
    });
    let cached = group.starts_with("cached/");
    match variant {
        v if v.starts_with("bare_") => {
            let verify = bare(f, v);
            let parts: Vec<_> = f.tokens.iter().map(|t| split(t)).collect();
            let mut run = move |i: usize| {
                let (input, sig) = &parts[i];
                assert!(verify(
                    std::hint::black_box(input),
                    std::hint::black_box(sig)
                ));
            };
            (0..TOKENS).for_each(&mut run);
            Box::new(run)
        }
        "tower_bearer_layer" => layers::bearer(layers::resolver(f, cached), &f.tokens),
        "tower_bearer_resolve_ready" => {
            layers::resolve_ready(layers::resolver(f, cached), f.tokens.clone())
        }
        "memory_store_layer" => {
            let (store, tokens) = layers::memory_store();
            layers::bearer(store, &tokens)
        }
        "memory_store_resolve_ready" => {
            let (store, tokens) = layers::memory_store();
            layers::resolve_ready(store, tokens)
        }
        "jwt_authorizer" => layers::jwt_authorizer(f),
        "jsonwebtoken_tower_http" => layers::jsonwebtoken_tower_http(f),
        "no_auth" => layers::no_auth(&f.tokens),
        _ => unreachable!("no variant {variant}"),
    }
}

fn main() {
    let backend = tower_bearer::oauth::signature_backend();
    if let Ok(only) = std::env::var("JWT_ONLY") {
        if only == "list" {
            catalogue().iter().for_each(|(g, v)| println!("{g}/{v}"));
            return;
        }
        let iters: usize = std::env::var("JWT_ITERS")
            .expect("JWT_ITERS")
            .parse()
            .unwrap();
        let (group, variant) = only.rsplit_once('/').expect("JWT_ONLY=<group>/<variant>");
        assert!(
            catalogue().iter().any(|(g, v)| g == group && *v == variant),
            "no variant {only} (JWT_ONLY=list lists them)"
        );
        let mut run = make(group, variant, &mut HashMap::new());
        (0..iters).for_each(|i| run(i % TOKENS));
        eprintln!("{only}: {iters} requests, tower-bearer on {backend}");
        return;
    }
    eprintln!("tower-bearer verifies with {backend}");
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let mut fixtures = HashMap::new();
    let catalogue = catalogue();
    let mut groups: Vec<&str> = catalogue.iter().map(|(g, _)| g.as_str()).collect();
    groups.dedup();
    for group in groups {
        let mut g = c.benchmark_group(group);
        for (_, variant) in catalogue.iter().filter(|(gr, _)| gr == group) {
            let mut run = make(group, variant, &mut fixtures);
            let mut i = 0;
            g.bench_function(*variant, |b| {
                b.iter(|| {
                    i = (i + 1) % TOKENS;
                    run(i)
                })
            });
        }
        g.finish();
    }
    c.final_summary();
}
