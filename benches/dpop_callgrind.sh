#!/usr/bin/env bash
# Instructions per DPoP proof check, per proof algorithm, counted with callgrind (the same on
# every run, unlike the wall clock of a shared machine): each variant of benches/dpop.rs runs
# alone (DPOP_ONLY) over ITERS proofs signed beforehand, and only the loop over them
# (`measured`) is counted. Prints a markdown table with each variant's ratio to the bare
# signature verify. Needs Redis on 127.0.0.1:6379 (the bench connects to it at start).
#
#   bash benches/dpop_callgrind.sh
#   ITERS=200 ALGS='PS256' bash benches/dpop_callgrind.sh
#   PROFILE=EdDSA/check_proof bash benches/dpop_callgrind.sh   # where one variant's go
#   BIN=/path/to/an/older/dpop-binary bash benches/dpop_callgrind.sh   # a build kept aside
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS=${ITERS:-1000}
ALGS=${ALGS:-ES256 EdDSA PS256 RS256}
VARIANTS="verify check_proof dpop_memory bearer_jwt_cached"
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 1; }

bin=${BIN:-}
[ -n "$bin" ] || bin=$(cargo bench -p tower-bearer-peers --bench dpop --features dpop,redis --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("executable") and m["target"]["name"]=="dpop": print(m["executable"])')
[ -x "$bin" ] || { echo "the bench did not build" >&2; exit 1; }

count() { # variant [callgrind out file]
  DPOP_ONLY=$1 DPOP_ITERS=$ITERS valgrind --tool=callgrind --toggle-collect='dpop::measured' \
    --callgrind-out-file="${2:-/dev/null}" "$bin" --bench 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | sort -n | tail -1
}

if [ -n "${PROFILE:-}" ]; then
  out=$(mktemp)
  trap 'rm -f "$out"' EXIT
  total=$(count "$PROFILE" "$out")
  echo "$PROFILE: $(( total / (ITERS - 1) )) instructions a call; inclusive, per call:"
  callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
    awk -v n=$((ITERS - 1)) '/^ *[0-9,]+ .*\(/ { c=$1; gsub(",", "", c); $1=""; printf "%12d %s\n", c/n, $0 }' |
    head -"${TOP:-60}"
  exit 0
fi

echo "| proof key | $(echo $VARIANTS | sed 's/ / | /g') | check_proof / verify | DPoP request − Bearer request, / verify |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for alg in $ALGS; do
  declare -A n=()
  for v in $VARIANTS; do
    total=$(count "$alg/$v")
    n[$v]=$(( total / (ITERS - 1) ))
  done
  python3 - "$alg" "${n[verify]}" "${n[check_proof]}" "${n[dpop_memory]}" "${n[bearer_jwt_cached]}" <<'PY'
import sys
alg, verify, check, memory, bearer = sys.argv[1], *map(int, sys.argv[2:])
f = lambda x: f"{x:,}"
print(f"| {alg} | {f(verify)} | {f(check)} | {f(memory)} | {f(bearer)} | {check / verify:.2f}x | {(memory - bearer) / verify:.2f}x |")
PY
done
