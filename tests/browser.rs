//! The seed's flow in a real browser: better-auth's JS client bundled into a page served from
//! one loopback origin (`localhost`), against examples/server on another (`127.0.0.1`), in
//! Debian's headless Chromium driven by playwright-core. What CORS enforces is seen here, and
//! nowhere in the Node interop test.
//!
//! Needs Node 20+ and `/usr/bin/chromium` (`apt-get install chromium`; `CHROMIUM` names another
//! binary). A missing one fails the test with what to install; it never skips.

mod support;

#[test]
fn better_auth_client_in_chromium_from_another_origin() {
    support::node::ensure_packages();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "Chromium is required for the browser test: apt-get install chromium (or set CHROMIUM)"
    );
    let server = support::example::start("server", &[]);
    let output = support::node::run("browser.mjs", &[&server.base()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser flow failed:\n{stdout}\n{stderr}"
    );
    for step in [
        "ok: sign-up succeeds from another origin",
        "ok: sign-in's token replaces it in localStorage",
        "ok: getSession with fetchOptions.auth returns the user",
        "ok: listSessions shows both sessions",
        "ok: a client with a fixed Authorization header",
        "ok: a per-request token in fetchOptions",
        "ok: GET /api/data with the token",
        "ok: GET /api/data without a token is 401",
        "ok: WebSocket with the token in a subprotocol greets the user",
        "ok: WebSocket with the token in the query greets the user",
        "ok: WebSocket without a token fails the handshake",
        "ok: after signOut the token is refused",
        "browser: all steps passed",
    ] {
        assert!(stdout.contains(step), "missing step {step:?} in:\n{stdout}");
    }
}
