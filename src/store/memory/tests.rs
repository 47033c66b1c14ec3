//! MemoryStore's unit tests: tokens, tags, expiry, refresh, revocation, the cap, sweeping.

use std::time::Duration;

use super::*;
use crate::store::{ManualClock, Timestamp};

const START: Timestamp = Timestamp::from_millis(1_700_000_000_000);
const DAY: Duration = Duration::from_secs(86_400);

fn store() -> (MemoryStore, ManualClock) {
    let clock = ManualClock::new(START);
    (MemoryStore::builder().clock(clock.clone()).build(), clock)
}

fn create(store: &MemoryStore, user: &str) -> Issued {
    store
        .create_now(user, (), CreateOptions::default())
        .unwrap()
}

#[test]
fn tokens_are_256_bit_url_safe_and_unique() {
    let (store, _) = store();
    let a = create(&store, "u");
    let b = create(&store, "u");
    assert_eq!(a.token.as_str().len(), 43);
    assert!(crate::token::is_b64token(a.token.as_str().as_bytes()));
    assert!(a
        .token
        .as_str()
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    assert_ne!(a.token, b.token);
    assert!(!a
        .token
        .as_str()
        .contains(&a.session.id.simple().to_string()));
}

#[test]
fn each_store_draws_its_own_key() {
    let (a, b) = (MemoryStore::new(), MemoryStore::new());
    assert!(a.tag(b"t") != b.tag(b"t"));
    // A token of one store means nothing to another.
    let issued = a.create_now("u", (), CreateOptions::default()).unwrap();
    assert!(b.resolve_now(issued.token.as_str()).is_none());
}

#[test]
fn the_index_keeps_the_tag_and_the_record_neither_tag_nor_token() {
    let store = MemoryStore::new();
    let issued = store.create_now("u", (), CreateOptions::default()).unwrap();
    let user_key = store.user_key("u");
    let index = store.inner.users.get(&user_key).unwrap();
    assert!(index.as_slice()[0].tag == store.tag(issued.token.as_str().as_bytes()));
    let json = serde_json::to_string(&*issued.session).unwrap();
    assert!(!json.contains(issued.token.as_str()));
    assert!(!format!("{:?}", issued.session).contains(issued.token.as_str()));
}

#[test]
fn create_then_resolve() {
    let (store, _) = store();
    let issued = create(&store, "alice");
    let session = store.resolve_now(issued.token.as_str()).unwrap();
    assert!(Arc::ptr_eq(&session, &issued.session));
    assert_eq!(&*session.user_id, "alice");
    assert_eq!(session.created_at, START);
    assert_eq!(session.updated_at(), START);
    assert_eq!(session.expires_at(), (START + 7 * DAY));
    assert_eq!(store.len(), 1);
    assert!(store.resolve_now("unknown").is_none());
}

#[test]
fn without_remember_me_the_session_lasts_a_day() {
    let (store, clock) = store();
    let options = CreateOptions {
        remember_me: false,
        ..CreateOptions::default()
    };
    let issued = store.create_now("alice", (), options).unwrap();
    assert_eq!(issued.session.expires_at(), (START + DAY));
    clock.advance(DAY);
    assert!(store.resolve_now(issued.token.as_str()).is_none());
}

#[test]
fn expired_sessions_are_never_returned_and_deleted_when_met() {
    let (store, clock) = store();
    let issued = create(&store, "alice");
    clock.advance(7 * DAY - Duration::from_millis(1));
    assert!(store.resolve_now(issued.token.as_str()).is_some());
    // That resolve refreshed it (a day had passed); move past the new expiry.
    clock.advance(7 * DAY);
    assert!(store.resolve_now(issued.token.as_str()).is_none());
    assert_eq!(store.len(), 0);
    assert!(store.list_now("alice").is_empty());
    assert!(store.inner.users.is_empty());
}

#[test]
fn sliding_refresh_after_update_age() {
    let (store, clock) = store();
    let issued = create(&store, "alice");
    clock.advance(DAY - Duration::from_millis(1));
    let s = store.resolve_now(issued.token.as_str()).unwrap();
    assert_eq!(
        s.expires_at(),
        (START + 7 * DAY),
        "not due before update_age"
    );
    assert_eq!(s.updated_at(), START);
    clock.advance(Duration::from_millis(1));
    let now = START + DAY;
    let s = store.resolve_now(issued.token.as_str()).unwrap();
    assert_eq!(s.expires_at(), (now + 7 * DAY));
    assert_eq!(s.updated_at(), now);
    // Refreshing does not rotate the token.
    assert!(store.resolve_now(issued.token.as_str()).is_some());
}

#[test]
fn list_shows_live_sessions_of_that_user_only() {
    let (store, clock) = store();
    let short = store
        .create_now(
            "alice",
            (),
            CreateOptions {
                remember_me: false,
                ..Default::default()
            },
        )
        .unwrap();
    let long = create(&store, "alice");
    create(&store, "bob");
    let ids: Vec<_> = store.list_now("alice").iter().map(|s| s.id).collect();
    assert_eq!(ids, [short.session.id, long.session.id]);
    clock.advance(DAY);
    let ids: Vec<_> = store.list_now("alice").iter().map(|s| s.id).collect();
    assert_eq!(ids, [long.session.id]);
    assert!(store.list_now("carol").is_empty());
}

#[test]
fn revoke_by_id_needs_the_owner() {
    let (store, _) = store();
    let a = create(&store, "alice");
    assert!(!store.revoke_now("bob", a.session.id));
    assert!(store.resolve_now(a.token.as_str()).is_some());
    assert!(store.revoke_now("alice", a.session.id));
    assert!(store.resolve_now(a.token.as_str()).is_none());
    assert!(
        !store.revoke_now("alice", a.session.id),
        "second revoke finds nothing"
    );
    assert_eq!(store.len(), 0);
}

#[test]
fn revoke_by_token() {
    let (store, _) = store();
    let a = create(&store, "alice");
    let b = create(&store, "alice");
    assert!(!store.revoke_token_now("nope"));
    assert!(store.revoke_token_now(a.token.as_str()));
    assert!(store.resolve_now(a.token.as_str()).is_none());
    assert!(store.resolve_now(b.token.as_str()).is_some());
    assert_eq!(store.list_now("alice").len(), 1);
}

#[test]
fn revoke_token_of_checks_the_owner() {
    let (store, _) = store();
    let a = create(&store, "alice");
    assert!(!store.revoke_token_of("bob", a.token.as_str()));
    assert!(store.resolve_now(a.token.as_str()).is_some());
    assert!(store.revoke_token_of("alice", a.token.as_str()));
    assert!(store.resolve_now(a.token.as_str()).is_none());
}

#[test]
fn revoke_all_and_revoke_others() {
    let (store, _) = store();
    let a = create(&store, "alice");
    let b = create(&store, "alice");
    let c = create(&store, "alice");
    let bob = create(&store, "bob");
    assert_eq!(store.revoke_others_now("alice", b.session.id), 2);
    assert!(store.resolve_now(a.token.as_str()).is_none());
    assert!(store.resolve_now(b.token.as_str()).is_some());
    assert!(store.resolve_now(c.token.as_str()).is_none());
    assert_eq!(store.revoke_all_now("alice"), 1);
    assert!(store.resolve_now(b.token.as_str()).is_none());
    assert!(store.resolve_now(bob.token.as_str()).is_some());
    assert_eq!(store.len(), 1);
}

#[test]
fn per_user_cap_revokes_the_oldest() {
    let clock = ManualClock::new(START);
    let store: MemoryStore = MemoryStore::builder()
        .clock(clock.clone())
        .max_sessions_per_user(2)
        .build();
    let first = create(&store, "alice");
    clock.advance(Duration::from_secs(1));
    let second = create(&store, "alice");
    clock.advance(Duration::from_secs(1));
    let third = create(&store, "alice");
    create(&store, "bob");
    assert!(store.resolve_now(first.token.as_str()).is_none());
    assert!(store.resolve_now(second.token.as_str()).is_some());
    assert!(store.resolve_now(third.token.as_str()).is_some());
    assert_eq!(store.list_now("alice").len(), 2);
    assert_eq!(store.len(), 3);
}

#[test]
fn sweep_drops_sessions_nobody_looks_up() {
    let (store, clock) = store();
    for i in 0..10 {
        create(&store, &format!("user-{i}"));
    }
    let keep = create(&store, "late");
    clock.advance(7 * DAY - Duration::from_secs(1));
    let keep2 = create(&store, "later");
    clock.advance(Duration::from_secs(1));
    assert_eq!(store.len(), 12);
    assert_eq!(store.sweep(), 11);
    assert_eq!(store.len(), 1);
    assert!(store.resolve_now(keep.token.as_str()).is_none());
    assert!(store.resolve_now(keep2.token.as_str()).is_some());
}

#[test]
fn creating_drops_that_users_expired_sessions() {
    let (store, clock) = store();
    create(&store, "alice");
    clock.advance(8 * DAY);
    create(&store, "alice");
    assert_eq!(store.len(), 1);
}

#[cfg(feature = "sweeper")]
#[tokio::test]
async fn the_sweeper_task_drops_expired_sessions_and_ends_with_the_store() {
    let (store, clock) = store();
    for i in 0..5 {
        create(&store, &format!("user-{i}"));
    }
    let task = store.spawn_sweeper(Duration::from_millis(10));
    clock.advance(8 * DAY);
    for _ in 0..200 {
        if store.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(store.is_empty(), "the sweeper did not run");
    drop(store);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the sweeper ends once the store is gone")
        .unwrap();
}

#[test]
fn app_data_is_kept() {
    let store: MemoryStore<Vec<&'static str>> = MemoryStore::builder().build();
    let issued = store
        .create_now("alice", vec!["admin"], CreateOptions::default())
        .unwrap();
    let s = store.resolve_now(issued.token.as_str()).unwrap();
    assert_eq!(s.data, ["admin"]);
}

/// The two maps' entries stay unpadded: a tag beside a pointer is 24 bytes, not 32 (a `u128`
/// tag's alignment pads them), which is 67 bytes a session at a million (`benches/memory.rs`).
#[test]
fn map_entries_are_unpadded() {
    use super::index::UserSessions;
    use std::mem::size_of;
    assert_eq!(size_of::<(Tag, Arc<Session<()>>)>(), 24);
    assert_eq!(size_of::<(u64, UserSessions<()>)>(), 40);
    assert_eq!(size_of::<Session<()>>(), 72);
}
