//! Heap bytes per MemoryStore session at 1M sessions with empty app data, counted by
//! allocation-counter (requested bytes, before the allocator's own per-chunk overhead), and
//! the process's resident-set growth beside it. Run: `cargo bench -p tower-bearer-peers --bench memory`.

use tower_bearer::store::{CreateOptions, MemoryStore};

fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn main() {
    const N: usize = 1_000_000;
    // Built outside the measurement, so the ids' own strings are not counted.
    let users: Vec<String> = (0..N).map(|i| format!("user-{i:07}")).collect();
    let rss_before = rss_bytes();
    let mut store = None;
    let info = allocation_counter::measure(|| {
        let s: MemoryStore = MemoryStore::new();
        for user in &users {
            // The token is handed to the client, not kept: drop it here.
            drop(
                s.create_now(user, (), CreateOptions::default())
                    .unwrap()
                    .token,
            );
        }
        store = Some(s);
    });
    let rss_after = rss_bytes();
    let store = store.unwrap();
    assert_eq!(store.len(), N);
    println!("sessions: {N}");
    println!(
        "heap bytes live: {} ({:.1} bytes/session)",
        info.bytes_current,
        info.bytes_current as f64 / N as f64
    );
    println!(
        "live allocations: {} ({:.2} per session)",
        info.count_current,
        info.count_current as f64 / N as f64
    );
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        println!(
            "RSS growth: {} ({:.1} bytes/session)",
            after - before,
            (after - before) as f64 / N as f64
        );
    }
}
