//! Redis servers of the tests' own, on free loopback ports, stopped when dropped, and when
//! the test process exits without dropping them (a server in a `static`, a panic that aborts):
//! a test may pause, stop or restart one without touching anyone else's.
//!
//! A server that does not start says why: its own output (kept in its folder) is in the
//! panic. A port another process took between the pick and the server's bind is not a failure:
//! the server is started again on another port (a Cluster node needs its bus port, its own
//! plus 10000, free too).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How many ports a server is tried on before the helper gives up.
const ATTEMPTS: usize = 5;

/// A `redis-server` child process.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    program: &'static str,
    /// A shell that waits on a pipe only this process holds: when the process ends, however it
    /// ends, the pipe closes and the shell stops the server and removes its folder.
    watchdog: Child,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free port for a server with these arguments: for a Cluster node, one whose bus port (its
/// own plus 10000) exists and is free as well.
fn free_port_for(extra: &[String]) -> u16 {
    if !extra.iter().any(|a| a == "--cluster-enabled") {
        return free_port();
    }
    loop {
        let port = free_port();
        if port <= u16::MAX - 10_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

fn binary(name: &str) -> &str {
    let found = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{name} is required for the Redis tests: scripts/test installs it"
    );
    name
}

impl RedisServer {
    /// A fresh server that keeps nothing on disk.
    pub fn start() -> RedisServer {
        Self::start_with(&[])
    }

    /// A fresh server with extra arguments (`--cluster-enabled yes`, say).
    pub fn start_with(extra: &[&str]) -> RedisServer {
        Self::start_program("redis-server", extra)
    }

    /// A fresh server of another program that speaks Redis (`valkey-server`).
    pub fn start_program(program: &'static str, extra: &[&str]) -> RedisServer {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let port = free_port_for(&extra);
        let dir = std::env::temp_dir().join(format!(
            "tower-bearer-redis-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(
                r#"read _ignored; pid=$(cat "$1/redis.pid" 2>/dev/null) && { kill -CONT "$pid"; kill -9 "$pid"; }; rm -rf "$1""#,
            )
            .arg("watchdog")
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh starts");
        let mut server = RedisServer {
            child: None,
            port,
            dir,
            extra,
            program,
            watchdog,
        };
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            match server.try_spawn() {
                Ok(()) => return server,
                Err(why) => failures.push(format!("port {}: {why}", server.port)),
            }
            server.port = free_port_for(&server.extra);
        }
        panic!(
            "{program} did not start, on {ATTEMPTS} ports:\n{}",
            failures.join("\n")
        );
    }

    /// Starts the server on its port again (a restart must keep the port: clients know it).
    fn spawn(&mut self) {
        if let Err(why) = self.try_spawn() {
            panic!(
                "{} did not start on port {}: {why}",
                self.program, self.port
            );
        }
    }

    /// Starts the server and waits for its `PONG`; else stops it and says why, with what the
    /// server wrote.
    fn try_spawn(&mut self) -> Result<(), String> {
        let log = self.dir.join("redis.log");
        let output = std::fs::File::create(&log).unwrap();
        let child = Command::new(binary(self.program))
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--pidfile")
            .arg(self.dir.join("redis.pid"))
            .args(&self.extra)
            .stdout(Stdio::from(output.try_clone().unwrap()))
            .stderr(Stdio::from(output))
            .spawn()
            .unwrap_or_else(|e| panic!("{} could not be run: {e}", self.program));
        self.child = Some(child);
        let started = Instant::now();
        while self.cli(&["PING"]).trim() != "PONG" {
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            if exited.is_some() || started.elapsed() > Duration::from_secs(10) {
                self.stop();
                let why = match exited {
                    Some(status) => format!("it exited ({status})"),
                    None => "no PONG within 10 s".to_string(),
                };
                let written = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("{why}; its output:\n{}", written.trim_end()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs `redis-cli` against this server; its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new(binary("redis-cli"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success());
    }

    /// `n` servers made into a Redis Cluster (no replicas), once every node says it is ok.
    pub fn start_cluster(n: usize) -> Vec<RedisServer> {
        let nodes: Vec<RedisServer> = (0..n)
            .map(|_| {
                RedisServer::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-node-timeout",
                    "2000",
                ])
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let mut create = vec!["--cluster", "create"];
        create.extend(addrs.iter().map(String::as_str));
        create.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let out = nodes[0].cli(&create);
        assert!(out.contains("[OK] All 16384 slots covered"), "{out}");
        let started = std::time::Instant::now();
        while !nodes
            .iter()
            .all(|n| n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "cluster never became ok"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        nodes
    }

    /// A replica of this server, of the same program, once its link to this one is up. Its
    /// full sync's RDB file lands in its own temporary folder, as everything it writes does.
    pub fn start_replica(&self, extra: &[&str]) -> RedisServer {
        let port = self.port.to_string();
        let mut args = vec!["--replicaof", "127.0.0.1", &port];
        args.extend_from_slice(extra);
        let replica = RedisServer::start_program(self.program, &args);
        let started = Instant::now();
        while !replica
            .cli(&["INFO", "replication"])
            .contains("master_link_status:up")
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "replica not in sync"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        replica
    }

    /// `kill -STOP`: the server accepts connections and never answers.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// `kill -CONT`.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// Stops the server; the port stays free for [`restart`](Self::restart).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
        // Its pipe closes: it finds nothing left to do.
        drop(self.watchdog.stdin.take());
        let _ = self.watchdog.wait();
    }
}
