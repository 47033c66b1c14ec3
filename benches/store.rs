//! MemoryStore: resolve (hit and miss) at 1K, 100K and 1M sessions, create and revoke.
//!
//! Two access patterns for hits: `hot` resolves one token over and over (a working set that
//! fits in cache), `spread` walks the whole population in random order (every lookup a cache
//! miss). `std_hashmap_spread` is the same walk over a plain `HashMap<String, u32>`: what any
//! hash table pays for DRAM at that size. The walk's tokens are laid out contiguously in walk
//! order, so the harness itself adds no cache misses.
//!
//! `hit_parts` measures, side by side, what a hit does beyond the hand-tuned floor of
//! benches/overhead.rs: a DashMap read (shard lock and unlock) next to the same read of a plain
//! `HashMap`, the store's 128-bit SipHash-1-3 tag next to std's 64-bit SipHash-1-3 (what the
//! floor's `HashMap<Box<str>, _>` hashes with), and one read of the system clock.
//!
//! Run: `cargo bench -p tower-bearer-peers --bench store`.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use dashmap::DashMap;
use siphasher::sip128::SipHasher13;
use tower_bearer::store::{Clock, CreateOptions, MemoryStore, SessionToken, SystemClock};

fn populate(n: usize) -> (MemoryStore, Vec<SessionToken>) {
    let store = MemoryStore::new();
    let tokens = (0..n)
        .map(|i| {
            store
                .create_now(&format!("user-{i}"), (), CreateOptions::default())
                .unwrap()
                .token
        })
        .collect();
    (store, tokens)
}

/// A fixed pseudo-random walk over `0..n` (xorshift), the same for every size.
fn walk(n: usize, len: usize) -> Vec<usize> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        })
        .collect()
}

fn resolve(c: &mut Criterion) {
    let mut group = c.benchmark_group("resolve");
    group.throughput(Throughput::Elements(1));
    for n in [1_000, 100_000, 1_000_000] {
        let (store, tokens) = populate(n);
        let hot = tokens[n / 2].as_str().to_owned();
        group.bench_with_input(BenchmarkId::new("hit_hot", n), &n, |b, _| {
            b.iter(|| black_box(store.resolve_now(black_box(&hot))))
        });
        const WALK: usize = 1 << 16;
        let order = walk(n, WALK);
        // Every token is 43 bytes: one buffer, read front to back.
        let laid_out: String = order.iter().map(|&i| tokens[i].as_str()).collect();
        let at = |i: usize| &laid_out[i * 43..(i + 1) * 43];
        let mut i = 0;
        group.bench_with_input(BenchmarkId::new("hit_spread", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) % WALK;
                black_box(store.resolve_now(at(i)))
            })
        });
        let plain: std::collections::HashMap<String, u32> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str().to_owned(), i as u32))
            .collect();
        let mut j = 0;
        group.bench_with_input(BenchmarkId::new("std_hashmap_spread", n), &n, |b, _| {
            b.iter(|| {
                j = (j + 1) % WALK;
                black_box(plain.get(at(j)))
            })
        });
        drop(plain);
        let unknown = "Z".repeat(43);
        group.bench_with_input(BenchmarkId::new("miss", n), &n, |b, _| {
            b.iter(|| black_box(store.resolve_now(black_box(&unknown))))
        });
    }
    group.finish();
}

fn create_and_revoke(c: &mut Criterion) {
    let mut group = c.benchmark_group("store");
    let (store, _) = populate(100_000);
    group.bench_function("create", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            black_box(
                store
                    .create_now(
                        &format!("bench-{}", i % 50_000),
                        (),
                        CreateOptions::default(),
                    )
                    .unwrap(),
            )
        })
    });
    group.bench_function("revoke_token", |b| {
        b.iter_batched(
            || {
                store
                    .create_now("revoker", (), CreateOptions::default())
                    .unwrap()
                    .token
            },
            |token| black_box(store.revoke_token_now(token.as_str())),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// Passes a `u128` key's low word through, as the store's own tag hasher does.
#[derive(Default)]
struct Passthrough(u64);

impl Hasher for Passthrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u128 keys")
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

fn hit_parts(c: &mut Criterion) {
    let mut group = c.benchmark_group("hit_parts");
    // The same 10K entries, keyed the same way, in both maps.
    let keys: Vec<u128> = walk(usize::MAX, 10_000)
        .into_iter()
        .map(|x| (x as u128) << 64 | x as u128)
        .collect();
    let dash: DashMap<u128, Arc<u32>, BuildHasherDefault<Passthrough>> = DashMap::default();
    let mut plain: HashMap<u128, Arc<u32>, BuildHasherDefault<Passthrough>> = HashMap::default();
    for (i, &k) in keys.iter().enumerate() {
        dash.insert(k, Arc::new(i as u32));
        plain.insert(k, Arc::new(i as u32));
    }
    let key = keys[5_000];
    group.bench_function("dashmap_get_clone", |b| {
        b.iter(|| black_box(dash.get(black_box(&key)).map(|v| v.value().clone())))
    });
    group.bench_function("hashmap_get_clone", |b| {
        b.iter(|| black_box(plain.get(black_box(&key)).cloned()))
    });

    let token = "k7Jx0mQ2vR9sT4uW6yA8bC1dE3fG5hI7jK9lM0nO2pQ"; // 43 bytes, like a session token
    let sip128 = SipHasher13::new_with_keys(1, 2);
    group.bench_function("tag_siphash13_128", |b| {
        b.iter(|| black_box(sip128.hash(black_box(token.as_bytes())).as_u128()))
    });
    let std64 = RandomState::new();
    group.bench_function("std_siphash13_64", |b| {
        b.iter(|| black_box(std64.hash_one(black_box(token))))
    });
    group.bench_function("clock_now", |b| b.iter(|| black_box(SystemClock.now())));
    // What SystemClock would cost without rustix's coarse clock: std's precise wall clock.
    group.bench_function("std_system_time_now", |b| {
        b.iter(|| black_box(std::time::SystemTime::now()))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = resolve, create_and_revoke, hit_parts
}
criterion_main!(benches);
