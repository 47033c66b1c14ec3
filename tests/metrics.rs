//! The layer's metrics, counted exactly: a scripted mix of requests through layers over real
//! sockets, with `metrics-util`'s debugging recorder installed, and every counter and histogram
//! compared with what the mix implies.
#![cfg(feature = "metrics")]

mod support;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::MetricKind;
use support::request;
use tower::{service_fn, ServiceBuilder};
use tower_bearer::{
    resolver_fn, BearerLayer, BearerToken, BoxError, InsufficientScope, Mode, Rejection,
    RejectionKind,
};

#[derive(Clone)]
struct User {
    admin: bool,
}

fn snapshotter() -> &'static Snapshotter {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder
            .install()
            .expect("the only recorder of this test binary");
        snapshotter
    })
}

/// A series: its kind, name and sorted labels.
type Series = (MetricKind, String, Vec<(String, String)>);

/// Every series of the snapshot → its count, or its histogram's sample count.
fn series() -> HashMap<Series, u64> {
    snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let (kind, key) = key.into_parts();
            let mut labels: Vec<_> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            let n = match value {
                DebugValue::Counter(n) => n,
                DebugValue::Histogram(samples) => samples.len() as u64,
                DebugValue::Gauge(_) => 0,
            };
            ((kind, key.name().to_owned(), labels), n)
        })
        .collect()
}

fn count(all: &HashMap<Series, u64>, kind: MetricKind, name: &str, labels: &[(&str, &str)]) -> u64 {
    let mut labels: Vec<_> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    labels.sort();
    all.get(&(kind, name.to_owned(), labels))
        .copied()
        .unwrap_or(0)
}

async fn ok(_: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

/// A layer named `name` over a resolver that answers `live`, `limited` (no admin), `spent`
/// (the resolver's own 429), `down` (fails) and `slow` (past the timeout); everything else is
/// unknown.
fn layer(
    name: &'static str,
    mode: Mode,
) -> BearerLayer<
    impl tower_bearer::SessionResolver<Session = User, Future = impl Send> + Send + Sync + 'static,
> {
    BearerLayer::new(resolver_fn(|token: BearerToken<'_>| {
        let token = token.as_str().to_owned();
        async move {
            match token.as_str() {
                "live" => Ok(Some(User { admin: true })),
                "limited" => Ok(Some(User { admin: false })),
                "spent" => Err(Rejection::new(RejectionKind::TooManyRequests).into()),
                "down" => Err(std::io::Error::other("connection refused").into()),
                "slow" => {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    Ok(None)
                }
                _ => Ok::<_, BoxError>(None),
            }
        }
    }))
    .name(name)
    .mode(mode)
    .max_token_len(32)
    .timeout(Duration::from_millis(100))
    .exempt_path_prefix("/health")
    .answer_preflight(|_| Response::new(Bytes::new()))
    .authorize(|u: &User| match u.admin {
        true => Ok(()),
        false => Err(InsufficientScope::new("admin")),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn every_decision_and_resolution_is_counted_exactly() {
    snapshotter();
    let addr = support::serve(
        ServiceBuilder::new()
            .layer(layer("mix", Mode::Required))
            .service(service_fn(ok)),
    )
    .await;
    let bearer = |t: &str| format!("authorization: Bearer {t}");
    let long = "x".repeat(40);
    let script: Vec<(&str, Vec<String>, u16)> = vec![
        ("/api", vec![bearer("live")], 200),
        ("/api", vec![bearer("live")], 200),
        ("/api", vec![bearer("live")], 200),
        ("/api", vec![bearer("unknown")], 401),
        ("/api", vec![bearer("unknown")], 401),
        ("/api", vec![bearer("expired")], 401),
        ("/api", vec!["authorization: Bearer a b".into()], 400),
        ("/api", vec!["authorization: Bearer".into()], 400),
        ("/api", vec![], 401),
        ("/api", vec![], 401),
        ("/api", vec![bearer(&long)], 401),
        ("/api", vec![bearer("limited")], 403),
        ("/api", vec![bearer("spent")], 429),
        ("/api", vec![bearer("down")], 503),
        ("/api", vec![bearer("down")], 503),
        ("/api", vec![bearer("slow")], 503),
        ("/health", vec![], 200),
        ("/health/ready", vec![], 200),
    ];
    for (path, lines, status) in &script {
        let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
        assert_eq!(
            request(addr, "GET", path, &lines, b"").await.status,
            *status,
            "{path} {lines:?}"
        );
    }
    let preflight: [&[u8]; 2] = [
        b"origin: https://app.example",
        b"access-control-request-method: GET",
    ];
    assert_eq!(
        request(addr, "OPTIONS", "/api", &preflight, b"")
            .await
            .status,
        200
    );

    let all = series();
    let decisions = |outcome: &str, reason: Option<&str>| {
        let mut labels = vec![("layer", "mix"), ("outcome", outcome)];
        labels.extend(reason.map(|r| ("reason", r)));
        count(&all, MetricKind::Counter, "tower_bearer.decisions", &labels)
    };
    assert_eq!(decisions("authenticated", None), 3);
    assert_eq!(decisions("rejected", Some("invalid_token")), 3);
    assert_eq!(decisions("rejected", Some("malformed")), 2);
    assert_eq!(decisions("rejected", Some("missing")), 2);
    assert_eq!(decisions("rejected", Some("too_long")), 1);
    assert_eq!(decisions("rejected", Some("insufficient_scope")), 1);
    assert_eq!(decisions("rejected", Some("unavailable")), 2);
    assert_eq!(decisions("rejected", Some("timeout")), 1);
    // A resolver's own refusal counts under its kind, and as an answer, not a failure.
    assert_eq!(decisions("rejected", Some("too_many_requests")), 1);
    assert_eq!(decisions("exempt", None), 2);
    assert_eq!(decisions("preflight", None), 1);
    assert_eq!(decisions("anonymous", Some("missing")), 0);
    let total: u64 = all
        .iter()
        .filter(|((_, name, labels), _)| {
            name == "tower_bearer.decisions" && labels.contains(&("layer".into(), "mix".into()))
        })
        .map(|(_, n)| n)
        .sum();
    assert_eq!(total, script.len() as u64 + 1, "one decision a request");

    let resolved = |result: &str| {
        let labels = [
            ("layer", "mix"),
            ("resolver", "ResolverFn"),
            ("result", result),
        ];
        count(
            &all,
            MetricKind::Histogram,
            "tower_bearer.resolve.duration",
            &labels,
        )
    };
    // Four sessions (three live, one refused by the check), four answered without one (three
    // unknown, one refused by the resolver itself), three errors (two failures and a timeout);
    // the malformed, missing, over-long and exempt never resolve.
    assert_eq!(
        (resolved("session"), resolved("none"), resolved("error")),
        (4, 4, 3)
    );
    // Every resolution is counted too (this resolver always waits, so all are timed).
    let resolutions = |result: &str| {
        let labels = [
            ("layer", "mix"),
            ("resolver", "ResolverFn"),
            ("result", result),
        ];
        count(
            &all,
            MetricKind::Counter,
            "tower_bearer.resolutions",
            &labels,
        )
    };
    assert_eq!(
        (
            resolutions("session"),
            resolutions("none"),
            resolutions("error")
        ),
        (4, 4, 3)
    );

    // A second layer is told apart by its name, and its mode's anonymous passes are counted.
    let optional = ServiceBuilder::new()
        .layer(layer("optional", Mode::Optional))
        .service(service_fn(ok));
    let addr = support::serve(optional).await;
    assert_eq!(request(addr, "GET", "/api", &[], b"").await.status, 200);
    assert_eq!(
        request(addr, "GET", "/api", &[b"authorization: Bearer nope"], b"")
            .await
            .status,
        401
    );
    let all = series();
    let labels = [
        ("layer", "optional"),
        ("outcome", "anonymous"),
        ("reason", "missing"),
    ];
    assert_eq!(
        count(&all, MetricKind::Counter, "tower_bearer.decisions", &labels),
        1
    );
    let labels = [
        ("layer", "optional"),
        ("outcome", "rejected"),
        ("reason", "invalid_token"),
    ];
    assert_eq!(
        count(&all, MetricKind::Counter, "tower_bearer.decisions", &labels),
        1
    );
    // The debugging recorder's snapshot drains counters: nothing new under the first name.
    let mix: u64 = all
        .iter()
        .filter(|((_, _, labels), _)| labels.contains(&("layer".into(), "mix".into())))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        mix, 0,
        "the second layer's decisions are not counted under the first's name"
    );

    // A route's `require(…)` refusal (its 403 insufficient_scope) is counted on its layer as
    // `rejected`, `insufficient_scope`, beside the layer's `authenticated`. (In this test:
    // the recorder's snapshot drains every counter, so no other test may snapshot meanwhile.)
    let routes = BearerLayer::new(resolver_fn(|token: BearerToken<'_>| {
        let user = match token.as_str() {
            "live" => Some(User { admin: true }),
            "limited" => Some(User { admin: false }),
            _ => None,
        };
        async move { Ok::<_, Infallible>(user) }
    }))
    .name("routes");
    let admin_only = routes.require(|u: &User| match u.admin {
        true => Ok(()),
        false => Err(InsufficientScope::new("admin")),
    });
    let addr = support::serve(
        ServiceBuilder::new()
            .layer(routes)
            .layer(admin_only)
            .service(service_fn(ok)),
    )
    .await;
    for (token, status) in [("live", 200), ("limited", 403), ("limited", 403)] {
        let line = format!("authorization: Bearer {token}");
        assert_eq!(
            request(addr, "GET", "/admin", &[line.as_bytes()], b"")
                .await
                .status,
            status
        );
    }
    let all = series();
    let routes = |outcome: &str, reason: Option<&str>| {
        let mut labels = vec![("layer", "routes"), ("outcome", outcome)];
        labels.extend(reason.map(|r| ("reason", r)));
        count(&all, MetricKind::Counter, "tower_bearer.decisions", &labels)
    };
    assert_eq!(routes("rejected", Some("insufficient_scope")), 2);
    assert_eq!(routes("authenticated", None), 3);
}
