//! The Node side of the interop tests: tests/interop's pinned npm packages (better-auth's
//! client and server, its database drivers, playwright-core, esbuild, panva's oidc-provider
//! and dpop) and the scripts that drive them.

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn interop_dir() -> PathBuf {
    super::workspace_root().join("tests/interop")
}

/// Node 20+ and tests/interop's packages, installed by `npm ci` when missing (locally), or a
/// clear failure (under CI, where `.ci/run` must have installed them).
pub fn ensure_packages() {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "Node.js is required for the interop tests (install Node 20+: apt-get install nodejs npm)"
    );
    let installed = [
        "better-auth",
        "playwright-core",
        "esbuild",
        "better-sqlite3",
        "pg",
        "ioredis",
        "@better-auth/redis-storage",
        "jose",
        "@modelcontextprotocol/sdk",
        "oidc-provider",
        "dpop",
    ]
    .iter()
    .all(|p| {
        interop_dir()
            .join("node_modules")
            .join(p)
            .join("package.json")
            .exists()
    });
    if installed {
        return;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "tests/interop/node_modules is incomplete: .ci/run must run `npm ci` in tests/interop"
    );
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(interop_dir())
        .status()
        .expect("npm is required to install the interop tests' packages");
    assert!(status.success(), "npm ci failed in tests/interop");
}

/// Runs `node tests/interop/<script> <args>`.
pub fn run(script: &str, args: &[&str]) -> Output {
    Command::new("node")
        .arg(interop_dir().join(script))
        .args(args)
        .output()
        .expect("node runs")
}
