#!/usr/bin/env bash
# Instructions per request end to end (benches/e2e_instructions.rs under callgrind): every
# variant at two request counts, the difference per request, minus the server with no auth.
# Real sockets make the count vary by a few hundred instructions a request from run to run
# (when the kernel reports readiness, hash seeds), so each variant runs ROUNDS times, interleaved,
# and the median is reported with the spread. Run it on an idle machine: load on another core
# changes how the runtime's wake-ups batch, which moves every variant's count by tens of
# instructions (benches/README.md); compare variants within one run.
#
#   bash benches/e2e_instructions.sh                  # the default release profile
#   CARGO_PROFILE_BENCH_CODEGEN_UNITS=1 bash benches/e2e_instructions.sh
#   BIN=path/to/e2e_instructions-HASH bash benches/e2e_instructions.sh   # a binary built elsewhere
set -euo pipefail
cd "$(dirname "$0")/.."
LOW=${LOW:-2000}
HIGH=${HIGH:-6000}
ROUNDS=${ROUNDS:-7}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
bin=${BIN:-$(cargo bench -p tower-bearer-peers --bench e2e_instructions --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("executable") and m["target"]["name"]=="e2e_instructions": print(m["executable"])')}
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | tail -1
}
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for _ in $(seq "$ROUNDS"); do
  for variant in none bearer peer floor floor_store; do
    low=$(count "$variant" "$LOW")
    high=$(count "$variant" "$HIGH")
    echo "$variant $(( (high - low) / (HIGH - LOW) ))" >> "$results"
  done
done
python3 - "$results" <<'PY'
import statistics, sys
per = {}
for line in open(sys.argv[1]):
    v, n = line.split()
    per.setdefault(v, []).append(int(n))
med = {v: statistics.median(ns) for v, ns in per.items()}
print("| variant | instructions per request (median) | spread | added over none |")
print("|---|---:|---:|---:|")
for v in ["none", "bearer", "peer", "floor", "floor_store"]:
    print(f"| {v} | {med[v]:.0f} | {min(per[v])}–{max(per[v])} | {med[v] - med['none']:.0f} |")
b, p, f, s = (med[v] - med["none"] for v in ["bearer", "peer", "floor", "floor_store"])
print(f"\ntower-bearer / peer: {b / p:.2f}; tower-bearer / floor: {b / f:.2f}; "
      f"tower-bearer / floor_store: {b / s:.2f}")
print(f"tower-bearer - floor_store: {med['bearer'] - med['floor_store']:.0f} instructions a request")
PY
