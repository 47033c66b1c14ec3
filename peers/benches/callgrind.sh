#!/usr/bin/env bash
# Instructions per request of every variant of peers/benches/jwt_verify.rs, counted with
# callgrind: each variant runs alone (JWT_ONLY) at LOW and at HIGH requests, and
# (I_HIGH - I_LOW) / (HIGH - LOW) is one request's count, the setup (keys, signing, the
# check that every token is accepted) cancelled out. Two builds: tower-bearer on ring (its
# default) and on aws-lc-rs (`--features aws-lc-rs`). The bare primitives and the peers do not
# depend on tower-bearer's backend, so the aws-lc-rs build runs only tower-bearer's variants
# (ALL=1 runs everything in both). Prints markdown tables.
#
#   bash peers/benches/callgrind.sh
#   LOW=640 HIGH=1280 ONLY='verify/ES256' bash peers/benches/callgrind.sh   # a quick look
set -euo pipefail
cd "$(dirname "$0")/../.."
LOW=${LOW:-2000}
HIGH=${HIGH:-4000}
ONLY=${ONLY:-}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }

build() {
  cargo bench -p tower-bearer-peers --bench jwt_verify --no-run --message-format=json "$@" 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("executable") and m["target"]["name"]=="jwt_verify": print(m["executable"])'
}
count() { # binary variant requests
  JWT_SEED=1 JWT_ONLY=$2 JWT_ITERS=$3 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | tail -1
}

ring_bin=$(build)
aws_bin=$(build --features aws-lc-rs)
[ -x "$ring_bin" ] && [ -x "$aws_bin" ] || { echo "the bench did not build" >&2; exit 1; }
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for backend in ring aws-lc-rs; do
  bin=$ring_bin
  [ "$backend" = aws-lc-rs ] && bin=$aws_bin
  for variant in $(JWT_ONLY=list "$bin"); do
    [[ -n "$ONLY" && "$variant" != *"$ONLY"* ]] && continue
    [[ "$backend" = aws-lc-rs && -z "${ALL:-}" && "$variant" != *tower_bearer* ]] && continue
    low=$(count "$bin" "$variant" "$LOW")
    high=$(count "$bin" "$variant" "$HIGH")
    echo "$backend $variant $(( (high - low) / (HIGH - LOW) ))" | tee -a "$results" >&2
  done
done

python3 - "$results" <<'PY'
import sys
n = {}
for line in open(sys.argv[1]):
    backend, variant, count = line.split()
    n[(backend, variant)] = int(count)

def get(variant, backend="ring"):
    """A count; the ring build's for a variant that does not depend on tower-bearer's backend."""
    if (backend, variant) in n or "tower_bearer" in variant:
        return n.get((backend, variant))
    return n.get(("ring", variant))

def f(x):
    return f"{x:,}" if x is not None else "–"

def r(a, b):
    return f"{a / b:.3f}×" if a and b else "–"

algs = [a for a in ["EdDSA", "ES256", "RS256", "PS256"] if get(f"verify/{a}/tower_bearer_layer")]
if algs:
    print("Uncached, instructions per request (tower-bearer's layer and resolver per backend build):\n")
    print("| algorithm | ed25519-dalek | ring | aws-lc-rs unparsed | aws-lc-rs parsed "
          "| tower-bearer layer, ring | resolve_ready, ring | tower-bearer layer, aws-lc-rs "
          "| resolve_ready, aws-lc-rs | jwt-authorizer | jsonwebtoken + tower-http |")
    print("|---|" + "---:|" * 10)
    for a in algs:
        v = lambda name, b="ring": get(f"verify/{a}/{name}", b)
        print(f"| {a} | {f(v('bare_dalek'))} | {f(v('bare_ring'))} | {f(v('bare_aws_lc_unparsed'))} "
              f"| {f(v('bare_aws_lc_parsed'))} | {f(v('tower_bearer_layer'))} "
              f"| {f(v('tower_bearer_resolve_ready'))} | {f(v('tower_bearer_layer', 'aws-lc-rs'))} "
              f"| {f(v('tower_bearer_resolve_ready', 'aws-lc-rs'))} | {f(v('jwt_authorizer'))} "
              f"| {f(v('jsonwebtoken_tower_http'))} |")
    print("\nTargets: the layer within 1.10× of its backend's bare verify (ed25519-dalek for EdDSA; "
          "ring's, or aws-lc-rs's parsed key) and at or below jwt-authorizer:\n")
    print("| algorithm | ring build / ring's verify | aws-lc-rs build / aws-lc-rs's verify "
          "| ring build / jwt-authorizer | aws-lc-rs build / jwt-authorizer |")
    print("|---|---:|---:|---:|---:|")
    for a in algs:
        v = lambda name, b="ring": get(f"verify/{a}/{name}", b)
        ring_bare = v("bare_dalek") if a == "EdDSA" else v("bare_ring")
        aws_bare = v("bare_dalek") if a == "EdDSA" else v("bare_aws_lc_parsed")
        ours, ours_aws = v("tower_bearer_layer"), v("tower_bearer_layer", "aws-lc-rs")
        print(f"| {a} | {r(ours, ring_bare)} | {r(ours_aws, aws_bare)} "
              f"| {r(ours, v('jwt_authorizer'))} | {r(ours_aws, v('jwt_authorizer'))} |")

lens = [l for l in ["300B", "1KiB", "2KiB"] if get(f"cached/{l}/tower_bearer_layer")]
if lens:
    print("\nA repeated token (verified-token cache, ES256) beside a MemoryStore hit, "
          "instructions per request:\n")
    print("| token | cached layer, ring | cached layer, aws-lc-rs | MemoryStore layer "
          "| cached / MemoryStore | cached resolve_ready | MemoryStore resolve_ready |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for l in lens:
        c = lambda name, b="ring": get(f"cached/{l}/{name}", b)
        ours, store = c("tower_bearer_layer"), c("memory_store_layer")
        print(f"| {l} | {f(ours)} | {f(c('tower_bearer_layer', 'aws-lc-rs'))} "
              f"| {f(store)} | {r(ours, store)} | {f(c('tower_bearer_resolve_ready'))} "
              f"| {f(c('memory_store_resolve_ready'))} |")
if get("floor/no_auth"):
    print(f"\nThe request and the inner service alone (floor/no_auth): {f(get('floor/no_auth'))}")
PY
