//! Arbitrary sequences of create, resolve, revoke, revoke-all, revoke-others and clock
//! advances against MemoryStore and a plain reference model of better-auth's rules: they never
//! disagree, so a revoked or expired session is never returned and a live one never lost.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tower_bearer::store::{CreateOptions, Issued, ManualClock, MemoryStore, Timestamp};

const DAY: Duration = Duration::from_secs(86_400);
const USERS: [&str; 3] = ["ann", "ben", "cy"];

struct Model {
    user: usize,
    remember: bool,
    expires: Timestamp,
    gone: bool,
}

fn lifetime(remember: bool) -> Duration {
    if remember {
        7 * DAY
    } else {
        DAY
    }
}

fuzz_target!(|data: &[u8]| {
    let start = Timestamp::from_millis(1_700_000_000_000);
    let clock = ManualClock::new(start);
    let store = MemoryStore::builder().clock(clock.clone()).build::<()>();
    let mut now = start;
    let mut model: Vec<Model> = Vec::new();
    let mut issued: Vec<Issued> = Vec::new();
    for pair in data.chunks(2).take(64) {
        let (op, arg) = (pair[0], *pair.get(1).unwrap_or(&0));
        let pick = usize::from(arg) % issued.len().max(1);
        let user = usize::from(arg) % 3;
        match op % 7 {
            0 => {
                let remember = arg & 1 == 0;
                let created = store
                    .create_now(
                        USERS[user],
                        (),
                        CreateOptions::default().remember_me(remember),
                    )
                    .unwrap();
                model.push(Model {
                    user,
                    remember,
                    expires: now + lifetime(remember),
                    gone: false,
                });
                issued.push(created);
            }
            1 if !issued.is_empty() => {
                let got = store.resolve_now(issued[pick].token.as_str());
                let m = &mut model[pick];
                let live = !m.gone && m.expires > now;
                assert_eq!(got.is_some(), live, "resolve");
                if live {
                    assert_eq!(&*got.unwrap().user_id, USERS[m.user]);
                    if m.expires - lifetime(m.remember) + DAY <= now {
                        m.expires = now + lifetime(m.remember);
                    }
                } else {
                    m.gone = true;
                }
            }
            2 if !issued.is_empty() => {
                let got = store.revoke_token_now(issued[pick].token.as_str());
                let m = &mut model[pick];
                assert_eq!(got, !m.gone && m.expires > now, "revoke_token");
                m.gone = true;
            }
            3 if !issued.is_empty() => {
                let got = store.revoke_now(USERS[user], issued[pick].session.id);
                let m = &mut model[pick];
                let want = m.user == user && !m.gone && m.expires > now;
                assert_eq!(got, want, "revoke");
                if m.user == user {
                    m.gone = true;
                }
            }
            4 => {
                let got = store.revoke_all_now(USERS[user]);
                let mut want = 0;
                for m in model.iter_mut().filter(|m| m.user == user && !m.gone) {
                    want += usize::from(m.expires > now);
                    m.gone = true;
                }
                assert_eq!(got, want, "revoke_all");
            }
            5 if !issued.is_empty() => {
                let keep = issued[pick].session.id;
                let got = store.revoke_others_now(USERS[user], keep);
                let mut want = 0;
                for (i, m) in model.iter_mut().enumerate() {
                    if m.user == user && !m.gone && issued[i].session.id != keep {
                        want += usize::from(m.expires > now);
                        m.gone = true;
                    }
                }
                assert_eq!(got, want, "revoke_others");
            }
            6 => {
                let hours = [1u64, 23, 25, 24 * 6, 24 * 8][usize::from(arg) % 5];
                clock.advance(Duration::from_secs(3600 * hours));
                now = now + Duration::from_secs(3600 * hours);
            }
            _ => {}
        }
        for (u, name) in USERS.iter().enumerate() {
            let listed = store.list_now(name).len();
            let live = model
                .iter()
                .filter(|m| m.user == u && !m.gone && m.expires > now)
                .count();
            assert_eq!(listed, live, "list {name}");
        }
    }
});
