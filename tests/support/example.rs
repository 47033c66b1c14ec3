//! Example programs run as users run them: the built binary, on a free port of 127.0.0.1.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A running example; killed when dropped.
pub struct Running {
    child: Child,
    pub addr: SocketAddr,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Running {
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the example wrote to stderr so far (its logs).
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// How many threads the process has now (`Threads` in `/proc/<pid>/status`).
    pub fn threads(&self) -> u64 {
        self.memory_kib("Threads")
    }

    /// A line of `/proc/<pid>/status` in KiB: `VmRSS` (resident now) or `VmHWM` (the peak).
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The crate features this test binary was built with, which the example must have too.
fn features() -> Vec<&'static str> {
    [
        ("store", cfg!(feature = "store")),
        ("memory-store", cfg!(feature = "memory-store")),
        ("axum", cfg!(feature = "axum")),
        ("tonic", cfg!(feature = "tonic")),
        ("redis", cfg!(feature = "redis")),
        ("better-auth", cfg!(feature = "better-auth")),
        (
            "better-auth-postgres",
            cfg!(feature = "better-auth-postgres"),
        ),
        ("better-auth-sqlite", cfg!(feature = "better-auth-sqlite")),
        ("better-auth-mysql", cfg!(feature = "better-auth-mysql")),
        ("better-auth-redis", cfg!(feature = "better-auth-redis")),
        ("better-auth-http", cfg!(feature = "better-auth-http")),
        ("test-util", cfg!(feature = "test-util")),
        ("sweeper", cfg!(feature = "sweeper")),
        ("jwt", cfg!(feature = "jwt")),
        ("metrics", cfg!(feature = "metrics")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect()
}

/// The example `name` built with this test's features plus `extra`: cargo builds it (or finds
/// it fresh, which takes a moment) and names the executable, so a binary left by an earlier
/// build with other features is never run by mistake. Once per test process and example.
pub fn binary(name: &str, extra: &[&str]) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut features = features();
    features.extend_from_slice(extra);
    let features = features.join(",");
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let key = format!("{name} {features}");
    if let Some(path) = built.get(&key) {
        return path.clone();
    }
    let mut build = Command::new(env!("CARGO"));
    build.args([
        "build",
        "--example",
        name,
        "--message-format=json-render-diagnostics",
    ]);
    if !features.is_empty() {
        build.args(["--features", &features]);
    }
    let output = build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo build --example {name} failed"
    );
    let path = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == name)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo named no executable for example {name}"));
    built.insert(key, path.clone());
    path
}

/// Starts example `name` with `args` plus `--addr 127.0.0.1:0`, and waits for its
/// `listening on http://ADDR` line.
pub fn start(name: &str, args: &[&str]) -> Running {
    start_with_env(name, args, &[("RUST_LOG", "warn")])
}

/// [`start`], with environment variables of its own.
pub fn start_with_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut command = Command::new(binary(name, &[]));
    command.args(["--addr", "127.0.0.1:0"]).args(args);
    command.env_remove("RUST_LOG");
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("example {name} starts: {e}"));
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = stderr.clone();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            eprintln!("{line}");
            let mut all = sink.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let started = Instant::now();
    let addr = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("{name} ended before printing its address"))
            .unwrap();
        if let Some(url) = line.strip_prefix("listening on http://") {
            break url.trim().parse().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no listening line"
        );
    };
    // Keep draining the output so the example never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Running {
        child,
        addr,
        stderr,
    }
}
