//! Arbitrary bytes as a `{ session, user }` read from better-auth's Redis storage or its
//! get-session: parsing never panics, and whatever parses serializes to JSON that parses back to
//! the same value (dates to the millisecond, as better-auth writes them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_bearer::better_auth::BetterAuthSession;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = serde_json::from_slice::<BetterAuthSession>(data) else {
        return;
    };
    let json = serde_json::to_string(&parsed).expect("a session serializes");
    let again: BetterAuthSession = serde_json::from_str(&json).expect("its JSON parses back");
    let truncated = |s: &BetterAuthSession| serde_json::to_string(s).unwrap();
    assert_eq!(truncated(&again), json);
    // The token never reaches Debug: changing it changes nothing printed.
    let mut other = parsed.clone();
    other.session.token = tower_bearer::better_auth::SessionToken::new("another token");
    assert_eq!(format!("{parsed:?}"), format!("{other:?}"));
});
