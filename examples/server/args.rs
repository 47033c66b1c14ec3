//! The command line.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::HeaderValue;

use crate::limits::ConnectionLimits;

pub(crate) const USAGE: &str = "\
usage: server [OPTIONS]

  --addr HOST:PORT               where to listen (default 127.0.0.1:3000)
  --trusted-origin URL           an origin browsers may call from, with credentials; repeatable.
                                 Without it, any origin is mirrored (safe: no cookies are set)
  --rate-limit                   better-auth's limits: 100 per 10 s per address and path,
                                 3 per 10 s for sign-in and sign-up (off by default)
  --max-sessions-per-user N      sign-in beyond N revokes the user's oldest session (default 20)
  --max-connections N            connections open at once (default 1024)
  --header-timeout SECONDS       time a client has to send a request head (default 10)
  --body-timeout SECONDS         time a client has to send a request body once its head is in;
                                 past it, 408 and the connection is closed (default 10)
  --redis URL                    sessions and users in Redis (feature redis), shared by every
                                 server started with the same URL
  --metrics-addr HOST:PORT       serve Prometheus metrics at http://HOST:PORT/metrics
                                 (feature metrics)";

/// What the command line asked for.
pub(crate) struct Args {
    pub(crate) addr: SocketAddr,
    pub(crate) trusted_origins: Vec<HeaderValue>,
    pub(crate) rate_limit: bool,
    pub(crate) max_sessions_per_user: usize,
    pub(crate) redis: Option<String>,
    pub(crate) metrics_addr: Option<SocketAddr>,
    max_connections: usize,
    header_timeout: Duration,
    pub(crate) body_timeout: Duration,
}

impl Args {
    pub(crate) fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut parsed = Args {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            trusted_origins: Vec::new(),
            rate_limit: false,
            max_sessions_per_user: 20,
            redis: None,
            metrics_addr: None,
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
        };
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name.to_string(), Some(value.to_string())),
                None => (arg, None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match name.as_str() {
                "--addr" => {
                    let v = value()?;
                    parsed.addr = v.parse().map_err(|e| format!("--addr {v:?}: {e}"))?;
                }
                "--trusted-origin" => {
                    let v = value()?;
                    let origin = v.trim_end_matches('/');
                    if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                        return Err(format!("--trusted-origin {v:?}: not an http(s) origin"));
                    }
                    let origin = HeaderValue::from_str(origin)
                        .map_err(|_| format!("--trusted-origin {v:?}: not a valid origin"))?;
                    parsed.trusted_origins.push(origin);
                }
                "--rate-limit" => parsed.rate_limit = true,
                "--redis" => parsed.redis = Some(value()?),
                "--metrics-addr" => {
                    let v = value()?;
                    let addr = v
                        .parse()
                        .map_err(|e| format!("--metrics-addr {v:?}: {e}"))?;
                    parsed.metrics_addr = Some(addr);
                }
                "--max-sessions-per-user" => {
                    parsed.max_sessions_per_user = number(&name, value()?)?
                }
                "--max-connections" => parsed.max_connections = number(&name, value()?)?,
                "--header-timeout" => parsed.header_timeout = seconds(&name, value()?)?,
                "--body-timeout" => parsed.body_timeout = seconds(&name, value()?)?,
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(parsed)
    }

    pub(crate) fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: self.header_timeout,
            max_connections: self.max_connections,
        }
    }
}

fn number(name: &str, value: String) -> Result<usize, String> {
    value
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{name} {value:?}: not a positive number"))
}

fn seconds(name: &str, value: String) -> Result<Duration, String> {
    value
        .parse()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{name} {value:?}: not a positive number of seconds"))
}

/// The curl walk-through printed at start-up; the demo user is named only when it is there.
pub(crate) fn walkthrough(addr: SocketAddr, seeded: bool) -> String {
    let demo = match seeded {
        true => "Demo user: user@example.com / securepassword. Walk the flow with curl:",
        false => "No demo user (see above). Once it is seeded, walk the flow with curl:",
    };
    format!(
        r#"
{demo}

  # sign in; the token comes back in the body and in the set-auth-token header
  TOKEN=$(curl -s http://{addr}/api/auth/sign-in/email -H 'content-type: application/json' \
      -d '{{"email":"user@example.com","password":"securepassword"}}' | sed 's/.*"token":"\([^"]*\)".*/\1/')

  curl -i http://{addr}/api/data                                   # 401 + WWW-Authenticate: Bearer
  curl -s http://{addr}/api/data -H "Authorization: Bearer $TOKEN"  # 200 {{user, session}}
  curl -s http://{addr}/api/auth/get-session -H "Authorization: Bearer $TOKEN"
  curl -s http://{addr}/api/auth/list-sessions -H "Authorization: Bearer $TOKEN"
  curl -s -X POST http://{addr}/api/auth/sign-out -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{{}}'
  curl -s http://{addr}/api/auth/get-session -H "Authorization: Bearer $TOKEN"   # null
"#
    )
}
