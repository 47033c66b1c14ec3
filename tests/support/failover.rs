//! Steady load on a replicated Redis Cluster while one of its primaries fails: sign-ins,
//! requests and revocations from two store instances (one behind a `CachedStore`), each
//! answer counted and checked against what was acknowledged before it was sent.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tower_bearer::store::{CachedStore, CreateOptions, RedisStore, SessionStore, StoreError};
use tower_bearer::BearerToken;

/// One of the run's store instances.
#[derive(Clone)]
pub enum AnyStore {
    Cached(CachedStore),
    Plain(RedisStore),
}

impl AnyStore {
    async fn create(&self, user: &str) -> Result<String, StoreError> {
        let issued = match self {
            AnyStore::Cached(s) => s.create(user, (), CreateOptions::default()).await?,
            AnyStore::Plain(s) => s.create(user, (), CreateOptions::default()).await?,
        };
        Ok(issued.token.as_str().to_owned())
    }

    async fn revoke(&self, token: &str) -> Result<bool, StoreError> {
        let token = BearerToken::new(token);
        match self {
            AnyStore::Cached(s) => s.revoke_token(token).await,
            AnyStore::Plain(s) => s.revoke_token(token).await,
        }
    }
}

/// A token and whether its user's keys live on the primary that fails.
#[derive(Clone)]
pub struct Token {
    pub value: String,
    pub on_victim: bool,
}

/// What the load has been told: each set only grows by acknowledged operations.
#[derive(Default)]
pub struct Ledger {
    /// Created with an acknowledged durable creation, never revoked: must never answer 401.
    pub live: Vec<Token>,
    /// Created and acknowledged, set aside to be revoked: no assertion until revoked.
    pub revocable: Vec<Token>,
    /// Revoked, acknowledged: must never answer 200 again.
    pub revoked: Vec<Token>,
    /// Revocations that failed (503): either answer is right for them.
    pub uncertain: usize,
    /// Sign-ins that failed (503).
    pub failed_creations: usize,
}

/// A request answered with a 5xx.
#[derive(Debug)]
pub struct Failure {
    pub sent: u64,
    pub answered: u64,
    pub server: usize,
    pub on_victim: bool,
}

/// Counts, by (which set the token was in, status).
#[derive(Default)]
pub struct Tally {
    pub answers: BTreeMap<(&'static str, u16), u64>,
    /// Each 5xx: when it was sent and answered (ms since the fault), the server's index, and
    /// whether the token's user is on the victim.
    pub failures: Vec<Failure>,
    /// Answers that broke a rule.
    pub violations: Vec<String>,
    /// The slowest answer, in milliseconds.
    pub slowest: u64,
}

pub struct Load {
    pub ledger: Arc<Mutex<Ledger>>,
    pub tally: Arc<Mutex<Tally>>,
    stop: Arc<AtomicBool>,
    /// Milliseconds since `started` of the fault: set by the test.
    pub fault_at: Arc<AtomicU64>,
    pub started: Instant,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

pub async fn status(addr: SocketAddr, token: &str) -> u16 {
    let auth = format!("authorization: Bearer {token}");
    super::get(addr, "/", &[auth.as_bytes()]).await.status
}

fn pick<T: Clone>(items: &[T], n: u64) -> Option<T> {
    (!items.is_empty()).then(|| items[(n % items.len() as u64) as usize].clone())
}

impl Load {
    /// Starts the load: `servers` answer requests through the layer; `stores` sign users in
    /// and revoke; `on_victim(user)` says whose keys are on the primary that will fail.
    pub fn start(
        servers: Vec<SocketAddr>,
        stores: Vec<AnyStore>,
        users: Vec<(String, bool)>,
        ledger: Ledger,
    ) -> Load {
        let load = Load {
            ledger: Arc::new(Mutex::new(ledger)),
            tally: Arc::default(),
            stop: Arc::default(),
            fault_at: Arc::new(AtomicU64::new(u64::MAX)),
            started: Instant::now(),
            tasks: Vec::new(),
        };
        let mut tasks = Vec::new();
        // Requests: six clients over both servers.
        for client in 0..6u64 {
            let (ledger, tally, stop) =
                (load.ledger.clone(), load.tally.clone(), load.stop.clone());
            let servers_len = servers.len();
            let (fault_at, started, addr) = (
                load.fault_at.clone(),
                load.started,
                servers[client as usize % servers.len()],
            );
            tasks.push(tokio::spawn(async move {
                let mut n = client;
                while !stop.load(Ordering::Relaxed) {
                    n += 7;
                    let (set, token) = {
                        let ledger = ledger.lock().unwrap();
                        match n % 3 {
                            0 => ("revoked", pick(&ledger.revoked, n / 3)),
                            _ => ("live", pick(&ledger.live, n / 3)),
                        }
                    };
                    let Some(token) = token else { continue };
                    let sent = Instant::now();
                    let sent_ms = started.elapsed().as_millis() as u64;
                    let s = status(addr, &token.value).await;
                    let mut tally = tally.lock().unwrap();
                    tally.slowest = tally.slowest.max(sent.elapsed().as_millis() as u64);
                    *tally.answers.entry((set, s)).or_default() += 1;
                    let wrong = match set {
                        "live" => !matches!(s, 200 | 503),
                        _ => !matches!(s, 401 | 503),
                    };
                    if wrong {
                        let on = if token.on_victim { "on" } else { "off" };
                        tally
                            .violations
                            .push(format!("a {set} session ({on} the victim) answered {s}"));
                    }
                    if s >= 500 {
                        let now = started.elapsed().as_millis() as u64;
                        let fault = fault_at.load(Ordering::Relaxed);
                        tally.failures.push(Failure {
                            sent: sent_ms.saturating_sub(fault),
                            answered: now.saturating_sub(fault),
                            server: client as usize % servers_len,
                            on_victim: token.on_victim,
                        });
                    }
                }
            }));
        }
        // Sign-ins and revocations: two tasks per store, so that each goes on while the other
        // waits out a timeout.
        for (i, store) in stores.into_iter().enumerate() {
            let (ledger, stop, users) = (load.ledger.clone(), load.stop.clone(), users.clone());
            let signer = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = i as u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let (user, on_victim) = &users[(n % users.len() as u64) as usize];
                    match signer.create(user).await {
                        Ok(value) => {
                            let token = Token {
                                value,
                                on_victim: *on_victim,
                            };
                            let mut ledger = ledger.lock().unwrap();
                            match n % 2 {
                                0 => ledger.live.push(token),
                                _ => ledger.revocable.push(token),
                            }
                        }
                        Err(_) => ledger.lock().unwrap().failed_creations += 1,
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }));
            let (ledger, stop) = (load.ledger.clone(), load.stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    // Every other revocation on the failing primary, if there is one left.
                    let next = {
                        let mut ledger = ledger.lock().unwrap();
                        let pool = &mut ledger.revocable;
                        let on_victim = n.is_multiple_of(2);
                        pool.iter()
                            .rposition(|t| t.on_victim == on_victim)
                            .or(pool.len().checked_sub(1))
                            .map(|i| pool.remove(i))
                    };
                    if let Some(token) = next {
                        match store.revoke(&token.value).await {
                            Ok(_) => ledger.lock().unwrap().revoked.push(token),
                            Err(_) => ledger.lock().unwrap().uncertain += 1,
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }));
        }
        Load { tasks, ..load }
    }

    /// Marks now as the fault's time.
    pub fn fault(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        self.fault_at.store(now, Ordering::Relaxed);
    }

    /// Milliseconds since the fault.
    pub fn since_fault(&self) -> u64 {
        let now = self.started.elapsed().as_millis() as u64;
        now.saturating_sub(self.fault_at.load(Ordering::Relaxed))
    }

    /// Stops the load and waits for it.
    pub async fn stop(self) -> (Arc<Mutex<Ledger>>, Arc<Mutex<Tally>>) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        (self.ledger, self.tally)
    }
}

/// Waits until every server answers 200 for a live session on the victim: the milliseconds
/// since the fault.
pub async fn until_served(load: &Load, servers: &[SocketAddr]) -> u64 {
    let token = {
        let ledger = load.ledger.lock().unwrap();
        ledger
            .live
            .iter()
            .find(|t| t.on_victim)
            .unwrap()
            .value
            .clone()
    };
    let started = Instant::now();
    for addr in servers {
        while status(*addr, &token).await != 200 {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "service never came back"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    load.since_fault()
}
