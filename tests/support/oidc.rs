//! A real OpenID provider for the resource server tests: tests/interop/oidc-provider.mjs
//! (panva's oidc-provider), which issues RFC 9068 JWT access tokens for the resources it is
//! started with. Its tokens are fetched over HTTP here and handed on, never printed.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use base64ct::{Base64, Encoding};
use serde_json::Value;

use super::node;

/// A running oidc-provider.mjs: stopped (its stdin closed, then killed) when dropped.
pub struct Provider {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The JSON line it printed on start-up (issuer, endpoints, the test client…).
    pub info: Value,
    stderr: Arc<Mutex<String>>,
}

impl Provider {
    /// Starts `node oidc-provider.mjs ARGS` and waits (up to a minute) for its JSON line.
    pub fn start(args: &[&str]) -> Provider {
        node::ensure_packages();
        let mut child = Command::new("node")
            .arg(node::interop_dir().join("oidc-provider.mjs"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(out);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Nothing else comes on stdout; drain it anyway until the process ends.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let stdin = child.stdin.take();
        let mut provider = Provider {
            child,
            stdin,
            info: Value::Null,
            stderr,
        };
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        provider.info = serde_json::from_str(&line).unwrap_or_else(|_| {
            panic!(
                "oidc-provider.mjs printed no start-up line; its stderr:\n{}",
                provider.stderr.lock().unwrap()
            )
        });
        provider
    }

    /// The issuer, `http://127.0.0.1:PORT`.
    pub fn issuer(&self) -> &str {
        self.info["issuer"].as_str().unwrap()
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.info["port"].as_u64().unwrap() as u16))
    }

    fn admin_addr(&self) -> SocketAddr {
        SocketAddr::from((
            [127, 0, 0, 1],
            self.info["admin_port"].as_u64().unwrap() as u16,
        ))
    }

    /// What the provider wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// A client_credentials token of the provider's test client for `resource` with `scope`:
    /// the token endpoint's JSON answer (`access_token`, `scope`…). Panics unless it is 200.
    pub async fn client_credentials(&self, resource: &str, scope: &str) -> Value {
        let client = &self.info["client"];
        let basic = Base64::encode_string(
            format!(
                "{}:{}",
                client["client_id"].as_str().unwrap(),
                client["client_secret"].as_str().unwrap()
            )
            .as_bytes(),
        );
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("resource", resource)
            .append_pair("scope", scope)
            .finish();
        let authorization = format!("authorization: Basic {basic}");
        let response = super::request(
            self.addr(),
            "POST",
            "/token",
            &[
                authorization.as_bytes(),
                b"content-type: application/x-www-form-urlencoded",
            ],
            body.as_bytes(),
        )
        .await;
        let json: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        assert_eq!(
            response.status, 200,
            "client_credentials for {resource} {scope:?}: {}",
            json["error"]
        );
        json
    }

    /// A user's token from the admin port's `/mint` (a real authorization code flow with the
    /// given `sub`, `acr`, `auth_time`…): `{access_token, scope, claims}`. Panics unless 200.
    pub async fn mint(&self, spec: Value) -> Value {
        let body = spec.to_string();
        let response = super::request(
            self.admin_addr(),
            "POST",
            "/mint",
            &[b"content-type: application/json"],
            body.as_bytes(),
        )
        .await;
        let json: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        assert_eq!(
            response.status, 200,
            "mint {spec}: {} {}",
            json["error"], json["error_description"]
        );
        json
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        // Closing stdin ends it; the kill is for a provider that would not listen.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port of 127.0.0.1 that was free a moment ago: for a server whose URL (an OAuth resource)
/// must be known before it starts.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
