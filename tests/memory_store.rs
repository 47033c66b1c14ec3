//! MemoryStore against the shared store conformance suite, plus a multi-threaded stress test.
#![cfg(feature = "test-util")]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use tower_bearer::store::{CreateOptions, ManualClock, MemoryStore, SessionToken, Timestamp};
use uuid::Uuid;

tower_bearer::store_conformance!(|clock: ManualClock| async move {
    MemoryStore::builder().clock(clock).build::<()>()
});

/// 8 threads x 10k operations over 16 users: create, resolve, revoke (by id and token),
/// revoke_all and revoke_others, with the clock moving so sessions expire meanwhile.
#[test]
fn stress_keeps_the_indexes_consistent() {
    const THREADS: usize = 8;
    const OPS: usize = 10_000;
    const USERS: usize = 16;
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let store: MemoryStore = MemoryStore::builder()
        .clock(clock.clone())
        .expires_in(Duration::from_secs(3_000))
        .update_age(Duration::from_secs(1_000))
        .build();
    let barrier = Arc::new(Barrier::new(THREADS));

    let issued: Vec<HashMap<Uuid, (String, SessionToken)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let store = store.clone();
                let clock = clock.clone();
                let barrier = barrier.clone();
                scope.spawn(move || {
                    let mut rng = (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    let mut next = move || {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        rng
                    };
                    let mut mine: HashMap<Uuid, (String, SessionToken)> = HashMap::new();
                    barrier.wait();
                    for _ in 0..OPS {
                        let user = format!("user-{}", next() % USERS as u64);
                        match next() % 100 {
                            0..=39 => {
                                let i = store
                                    .create_now(&user, (), CreateOptions::default())
                                    .unwrap();
                                assert_eq!(&*i.session.user_id, user);
                                mine.insert(i.session.id, (user, i.token));
                            }
                            40..=79 => {
                                if let Some((_, (owner, token))) =
                                    mine.iter().nth(next() as usize % mine.len().max(1))
                                {
                                    if let Some(s) = store.resolve_now(token.as_str()) {
                                        assert_eq!(
                                            &*s.user_id, owner,
                                            "a token resolved to another user's session"
                                        );
                                    }
                                }
                            }
                            80..=89 => {
                                let Some((&id, (owner, token))) =
                                    mine.iter().nth(next() as usize % mine.len().max(1))
                                else {
                                    continue;
                                };
                                if next() % 2 == 0 {
                                    store.revoke_now(owner, id);
                                } else {
                                    store.revoke_token_now(token.as_str());
                                }
                                assert!(
                                    store.resolve_now(token.as_str()).is_none(),
                                    "revocation did not take effect"
                                );
                            }
                            90..=94 => {
                                store.revoke_all_now(&user);
                                for (owner, token) in mine.values() {
                                    if *owner == user {
                                        assert!(store.resolve_now(token.as_str()).is_none());
                                    }
                                }
                            }
                            95..=97 => {
                                if let Some(s) = store.list_now(&user).first() {
                                    store.revoke_others_now(&user, s.id);
                                }
                            }
                            _ => clock.advance(Duration::from_secs(20)),
                        }
                        if next() % 1000 == 0 {
                            store.sweep();
                        }
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    // Quiescent now: the two indexes must agree exactly.
    let all: HashMap<Uuid, (String, SessionToken)> = issued.into_iter().flatten().collect();
    let mut resolvable = 0;
    for user in (0..USERS).map(|u| format!("user-{u}")) {
        let listed = store.list_now(&user);
        for s in &listed {
            assert_eq!(&*s.user_id, user);
            let (_, token) = &all[&s.id];
            let resolved = store
                .resolve_now(token.as_str())
                .expect("a listed session must resolve");
            assert_eq!(resolved.id, s.id);
        }
        for (id, (owner, token)) in &all {
            if *owner != user {
                continue;
            }
            if store.resolve_now(token.as_str()).is_some() {
                resolvable += 1;
                assert!(
                    store.list_now(&user).iter().any(|s| s.id == *id),
                    "a resolvable session is missing from its user's list"
                );
            }
        }
    }
    store.sweep();
    assert_eq!(
        store.len(),
        resolvable,
        "the token index holds sessions no list shows"
    );
}
