//! examples/server's `--metrics-addr`: a scripted mix over real sockets, then a Prometheus
//! scrape that shows exactly that mix.
#![cfg(feature = "metrics")]

mod support;

use std::collections::HashMap;

/// The scrape's samples: `name{labels}` → value, labels sorted.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let mut labels: Vec<&str> = rest.trim_end_matches('}').split(',').collect();
                    labels.sort();
                    (name, labels.join(","))
                }
                None => (series, String::new()),
            };
            Some((format!("{name}{{{labels}}}"), value.parse().ok()?))
        })
        .collect()
}

#[tokio::test]
async fn the_scrape_counts_the_mix() {
    let metrics_port = support::redis::free_port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let running = support::example::start("server", &["--metrics-addr", &metrics_addr]);
    let addr = running.addr;

    let body = br#"{"email":"user@example.com","password":"securepassword"}"#;
    let json: &[u8] = b"content-type: application/json";
    let signed_in = support::request(addr, "POST", "/api/auth/sign-in/email", &[json], body).await;
    let token = serde_json::from_slice::<serde_json::Value>(&signed_in.body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bearer = format!("authorization: Bearer {token}");
    let get = |lines: Vec<&'static [u8]>| async move {
        support::request(addr, "GET", "/api/data", &lines, b"")
            .await
            .status
    };
    let live: &'static [u8] = Box::leak(bearer.into_bytes().into_boxed_slice());
    assert_eq!(get(vec![live]).await, 200);
    assert_eq!(get(vec![live]).await, 200);
    assert_eq!(get(vec![b"authorization: Bearer not-a-session"]).await, 401);
    assert_eq!(get(vec![b"authorization: Bearer a b"]).await, 400);
    assert_eq!(get(vec![]).await, 401);
    let session = support::request(addr, "GET", "/api/auth/get-session", &[], b"").await;
    assert_eq!(session.body_str(), "null");

    let scrape = support::get(metrics_port_addr(metrics_port), "/metrics", &[]).await;
    assert_eq!(scrape.status, 200);
    let all = samples(scrape.body_str());
    let decisions = |labels: &str| {
        all.get(&format!("tower_bearer_decisions{{{labels}}}"))
            .copied()
    };
    assert_eq!(
        decisions(r#"layer="required",outcome="authenticated""#),
        Some(2.0)
    );
    assert_eq!(
        decisions(r#"layer="required",outcome="rejected",reason="invalid_token""#),
        Some(1.0)
    );
    assert_eq!(
        decisions(r#"layer="required",outcome="rejected",reason="malformed""#),
        Some(1.0)
    );
    assert_eq!(
        decisions(r#"layer="required",outcome="rejected",reason="missing""#),
        Some(1.0)
    );
    assert_eq!(
        decisions(r#"layer="optional",outcome="anonymous",reason="missing""#),
        Some(1.0)
    );
    // A decision that cannot happen has no series.
    assert_eq!(
        decisions(r#"layer="required",outcome="anonymous",reason="unavailable""#),
        None
    );
    // Three resolutions: two sessions and an unknown token, by MemoryStore, which answers at
    // once: counted, and not timed.
    let resolutions = |result: &str| {
        let key = format!(
            r#"tower_bearer_resolutions{{layer="required",resolver="MemoryStore",result="{result}"}}"#
        );
        all.get(&key).copied()
    };
    assert_eq!(resolutions("session"), Some(2.0), "{}", scrape.body_str());
    assert_eq!(resolutions("none"), Some(1.0));
    let timed = r#"tower_bearer_resolve_duration_count{layer="required",resolver="MemoryStore",result="session"}"#;
    assert_eq!(
        all.get(timed).copied().unwrap_or(0.0),
        0.0,
        "an answer at hand is not timed"
    );
    // The scrape holds no token.
    assert!(!scrape.body_str().contains(&token[..8]));
}

fn metrics_port_addr(port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}
