#!/usr/bin/env python3
"""Reads criterion's estimates from target/criterion after
`cargo bench -p tower-bearer-peers --bench overhead` (and, if present, `--bench store`), prints the tables and ratios the README quotes, and draws
docs/overhead.png when matplotlib is installed (`pip install matplotlib`).

    cargo bench -p tower-bearer-peers --bench overhead --bench store && python3 benches/report.py
"""
import json
import pathlib
import statistics
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRITERION = ROOT / "target" / "criterion"


def mean_ns(name):
    path = CRITERION / name / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["mean"]["point_estimate"]


VARIANTS = [
    ("1_bare", "1. bare inner service"),
    ("2_tower_http_bearer_hit", "2. tower-http bearer, hit"),
    ("2_tower_http_bearer_reject", "2. tower-http bearer, reject"),
    ("2_tower_http_bearer_reject_challenge", "2c. tower-http bearer, reject with challenge"),
    ("3_tower_http_async_dashmap", "3. tower-http async + DashMap"),
    ("4_hand_tuned_floor", "4. hand-tuned floor"),
    ("4s_hand_tuned_memorystore", "4s. the floor's work over MemoryStore"),
    ("5_tower_bearer_hit", "5. tower-bearer, hit"),
    ("6_tower_bearer_unknown", "6. tower-bearer, unknown (401)"),
    ("7_tower_bearer_missing", "7. tower-bearer, no header (401)"),
    ("8_tower_bearer_malformed", "8. tower-bearer, malformed (400)"),
]


def fastest_ns(name):
    """The fastest sample's time per iteration: on a shared machine, the estimate least moved by
    what else runs (each sample is a batch of iterations, so it is still an average)."""
    path = CRITERION / name / "new" / "sample.json"
    if not path.exists():
        return None
    sample = json.loads(path.read_text())
    return min(t / n for t, n in zip(sample["times"], sample["iters"]))


def quartiles(xs):
    """The first and third quartiles: the middle half of the rounds, which one disturbed round
    (a neighbour's burst can double a figure) does not move the way it moves the extremes."""
    xs = sorted(xs)
    if len(xs) < 4:
        return xs[0], xs[-1]
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]


def rounds(estimate):
    """Each round's figures, {variant: ns}, for every complete `overhead_rN` group."""
    found = []
    for group in sorted(CRITERION.glob("overhead_r*"), key=lambda p: int(p.name[len("overhead_r"):])):
        times = {key: estimate(f"{group.name}/{key}") for key, _ in VARIANTS}
        if None not in times.values():
            found.append(times)
    if not found:
        sys.exit("run `cargo bench -p tower-bearer-peers --bench overhead` first")
    return found


RATIOS = [
    ("overhead (5) / (3)", "<= 1", lambda t, o: o["5_tower_bearer_hit"] / o["3_tower_http_async_dashmap"]),
    ("overhead (5) / (4)", "<= 1.2", lambda t, o: o["5_tower_bearer_hit"] / o["4_hand_tuned_floor"]),
    # tower-http's rejection skips the inner service, so its overhead over (1) is negative:
    # the rejection paths are compared by their absolute times.
    ("(7) / (2) reject, absolute times", "<= 2", lambda t, o: t["7_tower_bearer_missing"] / t["2_tower_http_bearer_reject"]),
    # Context, not a target: (2) answering with the challenge RFC 6750 requires on a 401.
    ("(7) / (2c) reject with challenge, absolute times", "(context)", lambda t, o: t["7_tower_bearer_missing"] / t["2_tower_http_bearer_reject_challenge"]),
    ("overhead (4s) / (4): the store's share", "(context)", lambda t, o: o["4s_hand_tuned_memorystore"] / o["4_hand_tuned_floor"]),
    ("overhead (5) / (4s): the layer's share", "(context)", lambda t, o: o["5_tower_bearer_hit"] / o["4s_hand_tuned_memorystore"]),
    ("(2c) / (2) reject, absolute times", "(context)", lambda t, o: t["2_tower_http_bearer_reject_challenge"] / t["2_tower_http_bearer_reject"]),
]


def summarize(per_round):
    overs = [{k: t[k] - t["1_bare"] for k in t} for t in per_round]
    times = {key: statistics.median([t[key] for t in per_round]) for key, _ in VARIANTS}
    over = {key: statistics.median([o[key] for o in overs]) for key, _ in VARIANTS}
    ratios = []
    for label, target, f in RATIOS:
        values = [f(t, o) for t, o in zip(per_round, overs)]
        lo, hi = quartiles(values)
        ratios.append((label, target, statistics.median(values), lo, hi))
    return times, over, ratios


def overhead():
    fast = summarize(rounds(fastest_ns))
    mean = summarize(rounds(mean_ns))
    n = len(rounds(mean_ns))
    print(f"{n} interleaved rounds; each figure is the median over the rounds of, first, the")
    print("fastest sample and, second, criterion's mean")
    print()
    print("| variant | fastest sample | overhead over (1) | mean | overhead over (1) |")
    print("|---|---:|---:|---:|---:|")
    for key, label in VARIANTS:
        print(
            f"| {label} | {fast[0][key]:.0f} ns | {fast[1][key]:+.0f} ns "
            f"| {mean[0][key]:.0f} ns | {mean[1][key]:+.0f} ns |"
        )
    print()
    print("| ratio | target | fastest samples: median (interquartile range) | means: median (IQR) |")
    print("|---|---:|---:|---:|")
    for (label, target, fm, flo, fhi), (_, _, mm, mlo, mhi) in zip(fast[2], mean[2]):
        print(f"| {label} | {target} | {fm:.2f} ({flo:.2f} – {fhi:.2f}) | {mm:.2f} ({mlo:.2f} – {mhi:.2f}) |")
    return fast[1]


def store():
    rows = []
    for kind in ("hit_hot", "hit_spread", "std_hashmap_spread", "miss"):
        row = [mean_ns(f"resolve/{kind}/{n}") for n in (1000, 100000, 1000000)]
        if None not in row:
            rows.append((kind, row))
    if not rows:
        return
    print()
    print("| resolve | 1K | 100K | 1M | 1M / 1K |")
    print("|---|---:|---:|---:|---:|")
    for kind, (a, b, c) in rows:
        print(f"| {kind} | {a:.0f} ns | {b:.0f} ns | {c:.0f} ns | {c / a:.2f} |")
    for name in ("store/create", "store/revoke_token"):
        t = mean_ns(name)
        if t is not None:
            print(f"| {name} | {t:.0f} ns | | | |")
    parts = [
        ("dashmap_get_clone", "DashMap read + `Arc` clone"),
        ("hashmap_get_clone", "`HashMap` read + `Arc` clone"),
        ("tag_siphash13_128", "128-bit SipHash-1-3 tag, 43 bytes"),
        ("std_siphash13_64", "std 64-bit SipHash-1-3, 43 bytes"),
        ("clock_now", "`SystemClock::now`"),
    ]
    found = [(label, mean_ns(f"hit_parts/{key}")) for key, label in parts]
    if all(t is not None for _, t in found):
        print()
        print("| part of a hit | time |")
        print("|---|---:|")
        for label, t in found:
            print(f"| {label} | {t:.1f} ns |")


def plot(over):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(matplotlib not installed: no picture)")
        return
    labels = [label for _, label in VARIANTS]
    values = [over[key] for key, _ in VARIANTS]
    colors = ["#999999" if not key.startswith(("5", "6", "7", "8")) else "#2b6cb0" for key, _ in VARIANTS]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.barh(labels[::-1], values[::-1], color=colors[::-1])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlim(right=max(values) * 1.12)  # room for the longest bar's label
    ax.set_xlabel("overhead per request over the bare service (ns; fastest sample, median of rounds)")
    ax.set_title("tower-bearer (blue) next to the alternatives (grey)")
    for i, v in enumerate(values[::-1]):
        # A negative bar's label goes right of the zero line, clear of the variant's name.
        ax.text(max(v, 0) + 5, i, f"{v:.0f}", va="center", ha="left", fontsize=8)
    fig.tight_layout()
    out = ROOT / "docs" / "overhead.png"
    out.parent.mkdir(exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    over = overhead()
    store()
    plot(over)
