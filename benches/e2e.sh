#!/usr/bin/env bash
# End-to-end load test on 127.0.0.1: the same hyper 1 server with and without BearerLayer,
# driven by wrk (HTTP/1.1 keep-alive), the two runs interleaved, medians and ratios printed.
# Bounded: ROUNDS x 2 runs of DURATION each, loopback only. Not part of the test suite.
#
#   bash benches/e2e.sh            # ROUNDS=9 DURATION=4s CONNECTIONS=32 by default
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-9}
DURATION=${DURATION:-4s}
CONNECTIONS=${CONNECTIONS:-32}
PLAIN=127.0.0.1:18081
BEARER=127.0.0.1:18082

if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --example bench_server -q
out=$(mktemp)
token_file=$(mktemp)
# Pin the server and the load generator to a core each where taskset exists, so neither steals
# the other's core between runs.
pin_server=() pin_load=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_server=(taskset -c 0) pin_load=(taskset -c 1)
fi
"${pin_server[@]}" ./target/release/examples/bench_server "$PLAIN" "$BEARER" "$token_file" >"$out" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$out" "$token_file" "${results:-}"' EXIT
for _ in $(seq 50); do grep -q ready "$out" && break; sleep 0.1; done
token=$(cat "$token_file")

# Check both ends answer as expected before measuring.
curl -sf "http://$PLAIN/" >/dev/null
curl -sf "http://$BEARER/" -H "Authorization: Bearer $token" >/dev/null
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$BEARER/")" = 401 ]

run() { # label url [header]
  local res
  if [ $# -eq 3 ]; then
    res=$("${pin_load[@]}" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -H "$3" "$2")
  else
    res=$("${pin_load[@]}" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "$2")
  fi
  if echo "$res" | grep -q "Non-2xx"; then echo "$1: non-2xx answers" >&2; exit 1; fi
  local rps p99
  rps=$(echo "$res" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$res" | awk '$1=="99%" {print $2}')
  echo "$1 $rps $p99"
}

# Warm both up (connections, caches, CPU frequency); these runs are not counted.
DURATION=2s run plain "http://$PLAIN/" "Authorization: Bearer $token" >/dev/null
DURATION=2s run bearer "http://$BEARER/" "Authorization: Bearer $token" >/dev/null

results=$(mktemp)
# Both servers get the same requests, token included (the plain one ignores it), so the
# difference is the layer's work, not the header's bytes. Alternate which server goes first,
# so neither always runs right after the other.
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then
    run plain "http://$PLAIN/" "Authorization: Bearer $token" >>"$results"
    run bearer "http://$BEARER/" "Authorization: Bearer $token" >>"$results"
  else
    run bearer "http://$BEARER/" "Authorization: Bearer $token" >>"$results"
    run plain "http://$PLAIN/" "Authorization: Bearer $token" >>"$results"
  fi
done

python3 - "$results" <<'PY'
import statistics, sys
def ms(v):
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if v.endswith(unit) and not (unit == "s" and v.endswith(("us", "ms"))):
            return float(v[: -len(unit)]) * f
    return float(v)
rows = {"plain": [], "bearer": []}
for line in open(sys.argv[1]):
    label, rps, p99 = line.split()
    rows[label].append((float(rps), ms(p99)))
med = {k: (statistics.median(r for r, _ in v), statistics.median(p for _, p in v)) for k, v in rows.items()}
print(f"{'server':<10}{'req/s (median)':>16}{'p99 ms (median)':>18}   runs")
for k in ("plain", "bearer"):
    runs = ", ".join(f"{r:.0f}" for r, _ in rows[k])
    print(f"{k:<10}{med[k][0]:>16.0f}{med[k][1]:>18.3f}   {runs}")
print(f"throughput ratio bearer/plain, of the medians: {med['bearer'][0] / med['plain'][0]:.3f}")
print(f"p99 ratio bearer/plain, of the medians:        {med['bearer'][1] / med['plain'][1]:.3f}")
# Each round's two runs are adjacent in time: their ratio cancels the machine's drift, which on
# a shared VM moves a whole run by 10% or more.
paired_rps = [b[0] / p[0] for p, b in zip(rows["plain"], rows["bearer"])]
paired_p99 = [b[1] / p[1] for p, b in zip(rows["plain"], rows["bearer"])]
print(f"throughput ratio, median of the {len(paired_rps)} paired rounds: {statistics.median(paired_rps):.3f}"
      f" (range {min(paired_rps):.3f} - {max(paired_rps):.3f})")
print(f"p99 ratio, median of the paired rounds:        {statistics.median(paired_p99):.3f}"
      f" (range {min(paired_p99):.3f} - {max(paired_p99):.3f})")
PY
