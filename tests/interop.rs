//! better-auth's own JS client (npm `better-auth`, pinned in tests/interop/package.json) against
//! the real `examples/server` binary on 127.0.0.1.
//!
//! Needs Node 20+. `.ci/run` installs the package; run locally, this test installs it with
//! `npm ci` when it is missing. Under CI (`CI` set) a missing Node or package fails the test.

mod support;

#[test]
fn better_auth_js_client_signs_in_and_uses_the_bearer_token() {
    support::node::ensure_packages();
    let server = support::example::start("server", &[]);
    let base = server.base();

    let output = support::node::run("flow.mjs", &[&base]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "interop failed:\n{stdout}\n{stderr}"
    );
    for step in [
        "ok: token taken from set-auth-token",
        "ok: getSession returns the user",
        "ok: listSessions shows both sessions",
        "ok: the other session is gone",
        "ok: getSession returns null after signOut",
        "interop: all steps passed",
    ] {
        assert!(stdout.contains(step), "missing step {step:?} in:\n{stdout}");
    }
}
