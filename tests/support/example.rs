//! Example programs run as users run them: the built binary, on a free port of 127.0.0.1.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect()
}

/// `target/<profile>/examples/<name>`, built by `cargo test` along with the examples (with the
/// same features as the tests); built here when missing (a filtered test run).
pub fn binary(name: &str, extra: &[&str]) -> PathBuf {
    let mut features = features();
    features.extend_from_slice(extra);
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "--example", name]);
        if !features.is_empty() {
            build.args(["--features", &features.join(",")]);
        }
        let status = build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "cargo build --example {name} failed");
    }
    bin
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
