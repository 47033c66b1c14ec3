//! [`ReplayStore`]: whether a proof was seen before, within its window; [`MemoryReplayStore`],
//! the in-memory one, bounded by time and failing closed when full.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use crate::BoxError;

/// A proof's identity for replay detection: SHA-256 over its key's thumbprint, `htm`, `htu`
/// and `jti` ([`VerifiedProof::replay_key`](super::VerifiedProof::replay_key)). Not a secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayKey([u8; 32]);

impl ReplayKey {
    /// A key from its 32 bytes (a store in another crate, a test).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ReplayKey(bytes)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The bytes in lower-case hex: 64 characters.
    pub fn to_hex(&self) -> String {
        use fmt::Write as _;
        self.0.iter().fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
    }
}

impl fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplayKey({})", self.to_hex())
    }
}

/// Where the proofs already seen are kept, shared by every instance that must refuse each
/// other's replays ([`MemoryReplayStore`] for one process; `RedisReplayStore` with the
/// feature `redis` for several).
pub trait ReplayStore: Send + Sync + 'static {
    /// Records `key` for `ttl`: `Ok(true)` the first time within `ttl`, `Ok(false)` for a
    /// replay; `Err` when it cannot tell (a store that is full or unreachable), which the
    /// layer answers with `503`, never by accepting the proof.
    fn first_use<'a>(
        &'a self,
        key: &'a ReplayKey,
        ttl: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<bool, BoxError>> + Send + 'a>>;
}

/// The default [`MemoryReplayStore::with_capacity`]: 1,048,576 proofs, about 100 MiB at most;
/// at 300 s a proof, 3,500 distinct proofs a second, sustained.
pub const DEFAULT_REPLAY_CAPACITY: usize = 1 << 20;

/// The fewest insertions between two sweeps.
const SWEEP_MIN: usize = 1024;

/// Proofs seen by this process, each kept until its `ttl` ends, then swept away.
///
/// Bounded by time, not by count: an entry is never dropped before its `ttl`, since dropping
/// a live entry would let its proof be replayed. Expired entries are swept as new ones come
/// (amortised: a sweep after as many insertions as there were live entries after the last).
/// At its capacity, after a sweep, it fails closed: [`first_use`](ReplayStore::first_use)
/// answers `Err` for a new proof (the layer's `503`) until entries expire, and still answers
/// `Ok(false)` for a replay.
///
/// Each instance of a service has its own: behind a load balancer, use a shared store.
pub struct MemoryReplayStore {
    seen: DashMap<ReplayKey, Instant>,
    capacity: usize,
    /// Entries in `seen`, kept by insertions and sweeps (cheaper than `DashMap::len`).
    len: AtomicUsize,
    /// Insertions since the last sweep, and how many the next sweep waits for.
    inserted: AtomicUsize,
    sweep_after: AtomicUsize,
    sweeping: AtomicBool,
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl MemoryReplayStore {
    /// A store of up to [`DEFAULT_REPLAY_CAPACITY`] live proofs.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_REPLAY_CAPACITY)
    }

    /// A store of up to `capacity` live proofs (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryReplayStore {
            seen: DashMap::new(),
            capacity: capacity.max(1),
            len: AtomicUsize::new(0),
            inserted: AtomicUsize::new(0),
            sweep_after: AtomicUsize::new(SWEEP_MIN),
            sweeping: AtomicBool::new(false),
        }
    }

    /// How many proofs are held, expired ones not yet swept included.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether no proof is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most proofs it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn record(&self, key: &ReplayKey, ttl: Duration) -> Result<bool, BoxError> {
        let now = Instant::now();
        // An expiry past what an `Instant` holds is as good as never.
        let expires = now
            .checked_add(ttl)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400));
        if let Some(first) = self.try_record(key, now, expires) {
            return Ok(first);
        }
        self.sweep(now);
        self.try_record(key, now, expires).ok_or_else(|| {
            BoxError::from(format!(
                "the DPoP replay store is full: {} live proofs; refusing rather than forgetting one",
                self.capacity
            ))
        })
    }

    /// `Some(first use)`, or `None` when the key is new and the store is full.
    fn try_record(&self, key: &ReplayKey, now: Instant, expires: Instant) -> Option<bool> {
        let inserted = match self.seen.entry(*key) {
            Entry::Occupied(mut seen) => {
                if *seen.get() > now {
                    return Some(false);
                }
                // Expired: this is a first use again, in the same slot.
                seen.insert(expires);
                return Some(true);
            }
            Entry::Vacant(vacant) => {
                if self.len.fetch_add(1, Ordering::AcqRel) >= self.capacity {
                    self.len.fetch_sub(1, Ordering::AcqRel);
                    return None;
                }
                vacant.insert(expires);
                true
            }
        };
        // The shard's lock is released: a sweep may take every shard's.
        let since = self.inserted.fetch_add(1, Ordering::AcqRel) + 1;
        if since >= self.sweep_after.load(Ordering::Acquire) {
            self.sweep(now);
        }
        Some(inserted)
    }

    /// Drops every expired entry; one sweep at a time (a second caller goes on without).
    fn sweep(&self, now: Instant) {
        if self.sweeping.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut removed = 0;
        self.seen.retain(|_, expires| {
            let live = *expires > now;
            removed += usize::from(!live);
            live
        });
        let live = self.len.fetch_sub(removed, Ordering::AcqRel) - removed;
        self.inserted.store(0, Ordering::Release);
        self.sweep_after
            .store(live.max(SWEEP_MIN), Ordering::Release);
        self.sweeping.store(false, Ordering::Release);
    }
}

impl ReplayStore for MemoryReplayStore {
    fn first_use<'a>(
        &'a self,
        key: &'a ReplayKey,
        ttl: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<bool, BoxError>> + Send + 'a>> {
        Box::pin(std::future::ready(self.record(key, ttl)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> ReplayKey {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        ReplayKey::from_bytes(bytes)
    }

    fn first(store: &MemoryReplayStore, n: u64, ttl: Duration) -> Result<bool, BoxError> {
        futures_util::FutureExt::now_or_never(store.first_use(&key(n), ttl)).expect("ready")
    }

    const LONG: Duration = Duration::from_secs(300);

    #[test]
    fn first_use_then_replay() {
        let store = MemoryReplayStore::new();
        assert!(first(&store, 1, LONG).unwrap());
        assert!(!first(&store, 1, LONG).unwrap(), "a replay");
        assert!(!first(&store, 1, LONG).unwrap(), "still a replay");
        assert!(first(&store, 2, LONG).unwrap());
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn an_expired_entry_is_a_first_use_again() {
        let store = MemoryReplayStore::new();
        let ttl = Duration::from_millis(30);
        assert!(first(&store, 1, ttl).unwrap());
        assert!(!first(&store, 1, ttl).unwrap());
        std::thread::sleep(Duration::from_millis(40));
        assert!(first(&store, 1, ttl).unwrap(), "after its ttl");
        assert!(!first(&store, 1, ttl).unwrap());
    }

    #[test]
    fn full_of_live_entries_it_fails_closed() {
        let store = MemoryReplayStore::with_capacity(3);
        for n in 0..3 {
            assert!(first(&store, n, LONG).unwrap());
        }
        let error = first(&store, 3, LONG).unwrap_err().to_string();
        assert!(error.contains("full"), "{error}");
        // No live entry was evicted to make room: each is still a replay.
        for n in 0..3 {
            assert!(!first(&store, n, LONG).unwrap(), "{n}");
        }
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn full_of_expired_entries_it_sweeps_them() {
        let store = MemoryReplayStore::with_capacity(3);
        for n in 0..3 {
            assert!(first(&store, n, Duration::from_millis(10)).unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
        assert!(first(&store, 3, LONG).unwrap());
        assert_eq!(store.len(), 1, "the three expired entries were swept");
    }

    /// A flood of a million distinct proofs: the map never holds more than its capacity, the
    /// expired entries are swept as it goes, and no proof is refused while entries expire.
    #[test]
    fn a_million_distinct_proofs_stay_bounded() {
        let capacity = 20_000;
        let store = MemoryReplayStore::with_capacity(capacity);
        let ttl = Duration::from_micros(200);
        let mut most = 0;
        let mut full = 0;
        for n in 0..1_000_000 {
            match first(&store, n, ttl) {
                Ok(first) => assert!(first),
                // Possible only if 20,000 insertions take less than 200 µs.
                Err(_) => full += 1,
            }
            most = most.max(store.len());
        }
        assert!(most <= capacity, "{most} entries");
        assert!(store.seen.len() <= capacity);
        assert_eq!(store.seen.len(), store.len());
        assert!(full < 1_000, "{full} refusals");
    }

    #[test]
    fn keys_print_as_hex() {
        let k = ReplayKey::from_bytes([0xab; 32]);
        assert_eq!(k.to_hex(), "ab".repeat(32));
        assert_eq!(format!("{k:?}"), format!("ReplayKey({})", "ab".repeat(32)));
    }
}
