//! better-auth's own JS client (npm `better-auth`, pinned in tests/interop/package.json) against
//! the real `examples/server` binary on 127.0.0.1.
//!
//! Needs Node 20+. `.ci/run` installs the package; run locally, this test installs it with
//! `npm ci` when it is missing. Under CI (`CI` set) a missing Node or package fails the test.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

fn ensure_node_package() {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "Node.js is required for the better-auth interop test (install Node 20+)"
    );
    let package = interop_dir().join("node_modules/better-auth/package.json");
    if package.exists() {
        return;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "tests/interop/node_modules is missing: .ci/run must run `npm ci` in tests/interop"
    );
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(interop_dir())
        .status()
        .expect("npm is required to install better-auth for the interop test");
    assert!(status.success(), "npm ci failed in tests/interop");
}

#[test]
fn better_auth_js_client_signs_in_and_uses_the_bearer_token() {
    ensure_node_package();
    let server = support::example::start("server", &[]);
    let base = server.base();

    let output = Command::new("node")
        .arg(interop_dir().join("flow.mjs"))
        .arg(&base)
        .output()
        .expect("node runs");
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
