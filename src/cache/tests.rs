//! The shared cache: deadlines, the race guard, the feed, bounds and its metrics.

use super::*;
use crate::digest::TokenDigest;

const LONG: Duration = Duration::from_secs(60);

fn tag(n: u32) -> Tag {
    Tag::from_u128(u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835))
}

#[test]
fn hits_misses_and_deadlines() {
    let cache = Cache::new("test", 10);
    assert_eq!(cache.get(tag(1)), None);
    assert!(cache.put(tag(1), None, "one", LONG, cache.start()));
    assert_eq!(cache.get(tag(1)), Some("one"));
    assert_eq!(cache.get(tag(2)), None);
    // A deadline already past (a session expiring now) is never served.
    assert!(cache.put(tag(2), None, "two", Duration::from_nanos(1), cache.start()));
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(cache.get(tag(2)), None);
    assert!(!cache.put(tag(3), None, "zero", Duration::ZERO, cache.start()));
    assert_eq!(cache.get(tag(3)), None);
}

/// The race guard: an answer whose lookup started before an invalidation is not kept,
/// whether the invalidation lands before the put or between its insert and its check.
#[test]
fn a_lookup_that_races_an_invalidation_is_not_kept() {
    let cache = Cache::new("test", 10);
    let started = cache.start();
    cache.invalidate(tag(1));
    assert!(!cache.put(tag(1), Some(tag(100)), "revoked", LONG, started));
    assert_eq!(cache.get(tag(1)), None);
    assert_eq!((cache.len(), cache.aliases()), (0, 0), "nothing leaks");

    let started = cache.start();
    cache.invalidate_alias(tag(200));
    assert!(!cache.put(tag(2), Some(tag(200)), "revoked", LONG, started));
    assert_eq!(cache.get(tag(2)), None);
    assert_eq!((cache.len(), cache.aliases()), (0, 0), "nothing leaks");

    // Concurrently: a thousand lookups racing a thousand invalidations of their own keys.
    // Every lookup whose key was invalidated after it started must end absent.
    let cache = std::sync::Arc::new(Cache::new("test", 10_000));
    let handles: Vec<_> = (0..4u32)
        .map(|t| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                for i in 0..1_000 {
                    let key = tag(t * 1_000 + i);
                    let started = cache.start();
                    if i % 2 == 0 {
                        cache.invalidate_alias(Tag([key.0[0] ^ 1, key.0[1]]));
                    }
                    let kept =
                        cache.put(key, Some(Tag([key.0[0] ^ 1, key.0[1]])), i, LONG, started);
                    if i % 2 == 0 {
                        assert!(!kept);
                        assert_eq!(cache.get(key), None);
                    }
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(
        cache.len(),
        cache.aliases(),
        "every entry has its alias, no more"
    );
}

#[test]
fn invalidation_by_tag_alias_predicate_and_clear() {
    let cache = Cache::new("test", 10);
    for n in 1..=4 {
        assert!(cache.put(tag(n), Some(tag(100 + n)), n, LONG, cache.start()));
    }
    cache.invalidate(tag(1));
    cache.invalidate_alias(tag(102));
    assert_eq!((cache.get(tag(1)), cache.get(tag(2))), (None, None));
    assert_eq!(cache.get(tag(3)), Some(3));
    cache.invalidate_where(|&n| n == 3);
    assert_eq!((cache.get(tag(3)), cache.get(tag(4))), (None, Some(4)));
    assert_eq!((cache.len(), cache.aliases()), (1, 1));
    cache.clear();
    assert_eq!((cache.len(), cache.aliases()), (0, 0));
}

/// Never more than `max_entries`, expired entries first, and aliases go with their entries.
#[test]
fn a_full_cache_evicts_and_stays_bounded() {
    let cache = Cache::new("test", 100);
    for n in 0..50 {
        cache.put(
            tag(n),
            Some(tag(10_000 + n)),
            n,
            Duration::from_nanos(1),
            cache.start(),
        );
    }
    std::thread::sleep(Duration::from_millis(20));
    for n in 50..150 {
        assert!(cache.put(tag(n), Some(tag(10_000 + n)), n, LONG, cache.start()));
    }
    // The expired fifty went first; the newest is always kept.
    assert!(cache.len() <= 100 && cache.len() >= 90, "{}", cache.len());
    assert_eq!(cache.get(tag(149)), Some(149));
    for n in 150..100_000 {
        cache.put(tag(n), Some(tag(1_000_000 + n)), n, LONG, cache.start());
        assert!(cache.len() <= 100);
    }
    assert_eq!(cache.len(), cache.aliases());
    assert_eq!(cache.get(tag(99_999)), Some(99_999));
}

#[test]
fn a_fed_cache_serves_only_while_its_feed_lives() {
    let cache = Cache::fed("test", 10);
    assert!(!cache.is_live());
    assert!(
        !cache.put(tag(1), None, 1, LONG, cache.start()),
        "not kept while dead"
    );
    cache.alive_for(Duration::from_secs(5));
    assert!(cache.put(tag(1), None, 1, LONG, cache.start()));
    assert_eq!(cache.get(tag(1)), Some(1));
    cache.alive_for(Duration::ZERO);
    assert_eq!(
        cache.get(tag(1)),
        None,
        "no hits once the allowance ran out"
    );
    cache.alive_for(Duration::from_secs(5));
    cache.dead();
    assert_eq!((cache.get(tag(1)), cache.len()), (None, 0));
}

#[test]
fn the_clock_is_monotonic() {
    let mut last = now_ms();
    for _ in 0..1_000 {
        let now = now_ms();
        assert!(now >= last);
        last = now;
    }
    let digest = TokenDigest::new().unwrap();
    let cache = Cache::new("test", 1);
    assert!(cache.put(digest.tag(b"t"), None, (), LONG, cache.start()));
    assert_eq!(cache.get(digest.tag(b"t")), Some(()));
}

#[cfg(feature = "metrics")]
#[test]
fn every_lookup_eviction_and_invalidation_is_counted() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let expected = metrics::with_local_recorder(&recorder, || {
        let cache = Cache::new("unit", 10);
        for n in 0..11 {
            assert!(cache.put(tag(n), None, n, LONG, cache.start()));
        }
        // The eleventh put made room: a tenth of ten went.
        assert_eq!(cache.len(), 10);
        assert_eq!(cache.get(tag(10)), Some(10));
        assert_eq!(cache.get(tag(10)), Some(10));
        assert_eq!(cache.get(tag(99)), None);
        cache.invalidate(tag(10));
        cache.invalidate(tag(99)); // nothing there: nothing counted
        let before = cache.len();
        cache.invalidate_where(|n| n % 2 == 0);
        let by_predicate = before - cache.len();
        let cleared = cache.len();
        cache.clear();
        let fed = Cache::<u32>::fed("unit_fed", 10);
        assert_eq!(fed.get(tag(1)), None);
        1 + by_predicate as u64 + cleared as u64
    });
    let counts: std::collections::HashMap<String, u64> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let key = key.key().clone();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let DebugValue::Counter(n) = value else {
                return None;
            };
            Some((format!("{} {}", key.name(), labels.join(",")), n))
        })
        .collect();
    let get = |k: &str| counts.get(k).copied().unwrap_or(0);
    assert_eq!(get("tower_bearer.cache.lookups cache=unit,result=hit"), 2);
    assert_eq!(get("tower_bearer.cache.lookups cache=unit,result=miss"), 1);
    assert_eq!(get("tower_bearer.cache.evictions cache=unit"), 1);
    assert_eq!(get("tower_bearer.cache.invalidations cache=unit"), expected);
    assert_eq!(
        get("tower_bearer.cache.lookups cache=unit_fed,result=fenced"),
        1
    );
    assert_eq!(
        get("tower_bearer.cache.lookups cache=unit_fed,result=miss"),
        0
    );
}
