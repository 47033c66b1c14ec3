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
    stdout: std::sync::Arc<std::sync::Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the example wrote to stderr so far (its logs).
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// What the example wrote to stdout so far, from its first line.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Stops the example and waits for it to exit, so that all it wrote has been read: then
    /// [`stdout`](Self::stdout) and [`stderr`](Self::stderr) are complete.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
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
        ("introspection", cfg!(feature = "introspection")),
        ("protected-resource", cfg!(feature = "protected-resource")),
        ("rustls", cfg!(feature = "rustls")),
        ("metrics", cfg!(feature = "metrics")),
        ("dpop", cfg!(feature = "dpop")),
        ("aws-lc-rs", cfg!(feature = "aws-lc-rs")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect()
}

/// The example `name` built with this test's features plus `extra`: cargo builds it (or finds
/// it fresh, which takes a moment) and names the executable, so a binary left by an earlier
/// build with other features is never run by mistake. Once per test process and example.
/// The examples that need a heavy framework (tonic, rmcp) are peers/'s, which forwards every
/// feature of the crate under the same name.
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
        .current_dir(package_of(name))
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

/// The folder of the package whose example `name` is: the crate's (examples/NAME.rs or
/// examples/NAME/main.rs), else peers/.
fn package_of(name: &str) -> PathBuf {
    let root = super::workspace_root();
    let examples = root.join("examples");
    let file = examples.join(format!("{name}.rs"));
    if file.exists() || examples.join(name).join("main.rs").exists() {
        root
    } else {
        root.join("peers")
    }
}

/// Starts example `name` with `args` plus `--addr 127.0.0.1:0`, and waits for its
/// `listening on http://ADDR` line.
pub fn start(name: &str, args: &[&str]) -> Running {
    start_with_env(name, args, &[("RUST_LOG", "warn")])
}

/// [`start`], with environment variables of its own.
pub fn start_with_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
    spawn(name, args, env, true)
}

/// [`start_with_env`], but what the example writes is only kept (see [`Running::stderr`]),
/// never echoed to the test's own output: for logs that may hold what a test must not print.
pub fn start_quiet(name: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
    spawn(name, args, env, false)
}

fn spawn(name: &str, args: &[&str], env: &[(&str, &str)], echo: bool) -> Running {
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
    let err_reader = std::thread::spawn(move || {
        for line in BufReader::new(err).split(b'\n').map_while(Result::ok) {
            // Not UTF-8 (a log of raw bytes): kept as far as it reads, never dropped.
            let line = String::from_utf8_lossy(&line);
            if echo {
                eprintln!("{line}");
            }
            let mut all = sink.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
    let stdout = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let keep = |line: &str| {
        let mut all = stdout.lock().unwrap();
        all.push_str(line);
        all.push('\n');
    };
    let out = child.stdout.take().unwrap();
    let mut reader = BufReader::new(out);
    let started = Instant::now();
    let listening = loop {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break Err("ended before printing its address"),
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        keep(line);
        // `listening on http://ADDR`, perhaps with more after a space.
        if let Some(url) = line.strip_prefix("listening on http://") {
            let addr = url.split_whitespace().next().unwrap_or_default().parse();
            break addr.map_err(|_| "printed a listening line without an address");
        }
        if started.elapsed() > Duration::from_secs(60) {
            break Err("printed no listening line");
        }
    };
    let addr = listening.unwrap_or_else(|message| {
        // No process is left behind, even by a test that fails here.
        let _ = child.kill();
        let _ = child.wait();
        panic!("example {name} {message}")
    });
    // Keep draining the output so the example never blocks on a full pipe.
    let sink = stdout.clone();
    let out_reader = std::thread::spawn(move || {
        for line in reader.split(b'\n').map_while(Result::ok) {
            let line = String::from_utf8_lossy(&line);
            let mut all = sink.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
    Running {
        child,
        addr,
        stderr,
        stdout,
        readers: vec![err_reader, out_reader],
    }
}
