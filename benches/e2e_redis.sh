#!/usr/bin/env bash
# End to end on 127.0.0.1: `GET /api/data` with a bearer token through the example server, on
# MemoryStore, and on one Redis (RedisStore behind CachedStore) with one and with two servers.
# wrk with keep-alive connections; bounded: ROUNDS x 3 runs of DURATION. Not part of the suite.
#
#   bash benches/e2e_redis.sh        # ROUNDS=3 DURATION=5s CONNECTIONS=32
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release --features redis --example server -q
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT
redis-server --port 16390 --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" >/dev/null &
pids+=($!)
sleep 0.5
start() { # addr [args...]
  local addr=$1; shift
  RUST_LOG=warn ./target/release/examples/server --addr "$addr" "$@" >"$dir/$addr.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$dir/$addr.log" && return; sleep 0.1; done
  echo "server $addr did not start" >&2; exit 1
}
start 127.0.0.1:18091
start 127.0.0.1:18092 --redis redis://127.0.0.1:16390
start 127.0.0.1:18093 --redis redis://127.0.0.1:16390
token() {
  curl -s "http://$1/api/auth/sign-in/email" -H 'content-type: application/json' \
    -d '{"email":"user@example.com","password":"securepassword"}' | sed 's/.*"token":"\([^"]*\)".*/\1/'
}
memory_token=$(token 127.0.0.1:18091)
redis_token=$(token 127.0.0.1:18092)
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18093/api/data -H "Authorization: Bearer $redis_token")" = 200 ]
rps() { # addr token connections
  wrk -t1 -c"$3" -d"$DURATION" -H "Authorization: Bearer $2" "http://$1/api/data" | awk '/Requests\/sec/ {print $2}'
}
for round in $(seq "$ROUNDS"); do
  m=$(rps 127.0.0.1:18091 "$memory_token" "$CONNECTIONS")
  one=$(rps 127.0.0.1:18092 "$redis_token" "$CONNECTIONS")
  rps 127.0.0.1:18092 "$redis_token" $((CONNECTIONS / 2)) >"$dir/a" &
  rps 127.0.0.1:18093 "$redis_token" $((CONNECTIONS / 2)) >"$dir/b"
  wait %%
  two=$(awk '{s+=$1} END {print s}' "$dir/a" "$dir/b")
  echo "round $round: MemoryStore $m req/s; one server on Redis $one req/s; two servers on Redis $two req/s"
done
