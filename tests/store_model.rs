//! Model-based tests: random sequences of create, resolve, revoke, revoke-all, revoke-others
//! and clock advances against each store and a plain reference model of better-auth's rules.
//! They must never disagree: a revoked or expired session is never returned, and a live one is
//! never lost. A concurrent variant checks the linearisable outcome: a resolve that starts after
//! a revocation returned never sees the revoked session.
#![cfg(feature = "test-util")]

mod support;

use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use tower_bearer::store::{
    CreateOptions, Issued, ManualClock, MemoryStore, SessionStore, Timestamp,
};
use uuid::Uuid;

const START: Timestamp = Timestamp::from_millis(1_700_000_000_000);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);
const USERS: [&str; 3] = ["ann", "ben", "cy"];

#[derive(Clone, Debug)]
enum Op {
    Create { user: usize, remember: bool },
    Resolve(usize),
    Revoke { user: usize, pick: usize },
    RevokeToken(usize),
    RevokeAll(usize),
    RevokeOthers { user: usize, pick: usize },
    Advance { hours: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, any::<bool>()).prop_map(|(user, remember)| Op::Create { user, remember }),
        4 => (0..64usize).prop_map(Op::Resolve),
        1 => (0..3usize, 0..64usize).prop_map(|(user, pick)| Op::Revoke { user, pick }),
        1 => (0..64usize).prop_map(Op::RevokeToken),
        1 => (0..3usize).prop_map(Op::RevokeAll),
        1 => (0..3usize, 0..64usize).prop_map(|(user, pick)| Op::RevokeOthers { user, pick }),
        2 => prop_oneof![Just(1u64), Just(23), Just(25), Just(24 * 6), Just(24 * 8)]
            .prop_map(|hours| Op::Advance { hours }),
    ]
}

/// better-auth's rules, spelled out.
#[derive(Clone)]
struct Model {
    user: &'static str,
    id: Uuid,
    remember: bool,
    expires: Timestamp,
    gone: bool,
}

struct Reference {
    sessions: Vec<Model>,
    now: Timestamp,
}

impl Reference {
    fn lifetime(remember: bool) -> Duration {
        if remember {
            7 * DAY
        } else {
            DAY
        }
    }

    fn live(&self, i: usize) -> bool {
        !self.sessions[i].gone && self.sessions[i].expires > self.now
    }

    fn resolve(&mut self, i: usize) -> Option<&'static str> {
        if !self.live(i) {
            self.sessions[i].gone = true;
            return None;
        }
        let now = self.now;
        let s = &mut self.sessions[i];
        let lifetime = Self::lifetime(s.remember);
        if s.expires - lifetime + DAY <= now {
            s.expires = now + lifetime;
        }
        Some(s.user)
    }

    /// Removes the picked sessions of `user`; how many were live.
    fn revoke_where(&mut self, user: &str, pick: impl Fn(&Model) -> bool) -> usize {
        let now = self.now;
        let mut live = 0;
        for s in self
            .sessions
            .iter_mut()
            .filter(|s| s.user == user && !s.gone && pick(s))
        {
            live += usize::from(s.expires > now);
            s.gone = true;
        }
        live
    }

    fn listed(&self, user: &str) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = (0..self.sessions.len())
            .filter(|&i| self.sessions[i].user == user && self.live(i))
            .map(|i| self.sessions[i].id)
            .collect();
        ids.sort();
        ids
    }
}

/// Runs `ops` against `store` (on `clock`) and the reference, comparing every answer.
async fn run<S: SessionStore<()>>(store: S, clock: ManualClock, ops: Vec<Op>) {
    let mut reference = Reference {
        sessions: Vec::new(),
        now: START,
    };
    let mut issued: Vec<Issued> = Vec::new();
    for op in ops {
        match op {
            Op::Create { user, remember } => {
                let options = CreateOptions::default().remember_me(remember);
                let created = store.create(USERS[user], (), options).await.unwrap();
                reference.sessions.push(Model {
                    user: USERS[user],
                    id: created.session.id,
                    remember,
                    expires: reference.now + Reference::lifetime(remember),
                    gone: false,
                });
                issued.push(created);
            }
            Op::Resolve(i) if i < issued.len() => {
                let got = store.resolve(issued[i].token.as_bearer()).await.unwrap();
                let want = reference.resolve(i);
                assert_eq!(
                    got.map(|s| s.user_id.to_string()).as_deref(),
                    want,
                    "resolve #{i}"
                );
            }
            Op::Revoke { user, pick } if pick < issued.len() => {
                let id = issued[pick].session.id;
                let got = store.revoke(USERS[user], id).await.unwrap();
                let want = reference.revoke_where(USERS[user], |s| s.id == id) > 0;
                assert_eq!(got, want, "revoke #{pick} as {}", USERS[user]);
            }
            Op::RevokeToken(i) if i < issued.len() => {
                let got = store
                    .revoke_token(issued[i].token.as_bearer())
                    .await
                    .unwrap();
                let user = reference.sessions[i].user;
                let id = issued[i].session.id;
                let want = reference.revoke_where(user, |s| s.id == id) > 0;
                assert_eq!(got, want, "revoke_token #{i}");
            }
            Op::RevokeAll(user) => {
                let got = store.revoke_all(USERS[user]).await.unwrap();
                assert_eq!(
                    got,
                    reference.revoke_where(USERS[user], |_| true),
                    "revoke_all"
                );
            }
            Op::RevokeOthers { user, pick } if pick < issued.len() => {
                let keep = issued[pick].session.id;
                let got = store.revoke_others(USERS[user], keep).await.unwrap();
                let want = reference.revoke_where(USERS[user], |s| s.id != keep);
                assert_eq!(got, want, "revoke_others");
            }
            Op::Advance { hours } => {
                clock.advance(HOUR * hours as u32);
                reference.now = reference.now + HOUR * hours as u32;
            }
            _ => {}
        }
        // Listing agrees after every step: nothing revoked or expired, nothing live lost.
        for user in USERS {
            let mut ids: Vec<Uuid> = store
                .list(user)
                .await
                .unwrap()
                .iter()
                .map(|s| s.id)
                .collect();
            ids.sort();
            assert_eq!(ids, reference.listed(user), "list {user}");
        }
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn memory_store_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let clock = ManualClock::new(START);
        let store = MemoryStore::builder().clock(clock.clone()).build::<()>();
        block_on(run(store, clock, ops));
    }
}

#[cfg(feature = "redis")]
mod redis {
    use super::*;
    use support::redis::RedisServer;
    use tower_bearer::store::RedisStore;

    fn shared() -> &'static RedisServer {
        static SERVER: OnceLock<RedisServer> = OnceLock::new();
        SERVER.get_or_init(RedisServer::start)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn redis_store_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..30)) {
            let clock = ManualClock::new(START);
            block_on(async {
                let store: RedisStore = RedisStore::builder()
                    .clock(clock.clone())
                    .prefix(format!("model-{}:", Uuid::new_v4().simple()))
                    .connect(&shared().url())
                    .await
                    .unwrap();
                run(store, clock, ops).await;
            });
        }
    }
}

/// Four threads sign in, resolve and revoke the same users' sessions at once. Every revocation
/// records when it returned, every resolve when it started: no resolve that started after a
/// session's revocation returned may see it.
#[test]
fn concurrent_operations_never_return_a_session_revoked_before_the_resolve_began() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 2_000;
    let store = MemoryStore::new();
    let epoch = Instant::now();
    let revoked_at: Arc<Mutex<std::collections::HashMap<Uuid, Duration>>> = Arc::default();
    let seen: Arc<Mutex<Vec<(Uuid, Duration)>>> = Arc::default();
    let barrier = Arc::new(Barrier::new(THREADS));
    let shared_tokens: Arc<Mutex<Vec<Issued>>> = Arc::default();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (store, revoked_at, seen) = (store.clone(), revoked_at.clone(), seen.clone());
            let (barrier, tokens) = (barrier.clone(), shared_tokens.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for round in 0..ROUNDS {
                    let user = USERS[(t + round) % 3];
                    match (t + round) % 5 {
                        0 | 1 => {
                            let issued = store
                                .create_now(user, (), CreateOptions::default())
                                .unwrap();
                            tokens.lock().unwrap().push(issued);
                        }
                        2 => {
                            let pick = tokens
                                .lock()
                                .unwrap()
                                .get(round % 64)
                                .map(|i| i.token.clone());
                            if let Some(token) = pick {
                                let started = epoch.elapsed();
                                if let Some(s) = store.resolve_now(token.as_str()) {
                                    seen.lock().unwrap().push((s.id, started));
                                }
                            }
                        }
                        3 => {
                            let ids: Vec<Uuid> =
                                store.list_now(user).iter().map(|s| s.id).collect();
                            store.revoke_all_now(user);
                            let done = epoch.elapsed();
                            let mut map = revoked_at.lock().unwrap();
                            for id in ids {
                                map.entry(id).or_insert(done);
                            }
                        }
                        _ => {
                            let pick = tokens
                                .lock()
                                .unwrap()
                                .get(round % 32)
                                .map(|i| (i.token.clone(), i.session.id));
                            if let Some((token, id)) = pick {
                                if store.revoke_token_now(token.as_str()) {
                                    revoked_at
                                        .lock()
                                        .unwrap()
                                        .entry(id)
                                        .or_insert(epoch.elapsed());
                                }
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let revoked_at = revoked_at.lock().unwrap();
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty() && !revoked_at.is_empty());
    for (id, started) in seen.iter() {
        if let Some(revoked) = revoked_at.get(id) {
            assert!(
                started <= revoked,
                "session {id} resolved by a lookup that began after its revocation"
            );
        }
    }
    // And every revoked session stays revoked.
    for issued in shared_tokens.lock().unwrap().iter() {
        if revoked_at.contains_key(&issued.session.id) {
            assert!(store.resolve_now(issued.token.as_str()).is_none());
        }
    }
}
