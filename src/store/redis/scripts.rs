//! The Lua scripts behind every operation that touches more than one key, so that each is
//! atomic. All the keys a script touches share one hash tag (the user's), so they live in one
//! slot and the scripts run unchanged on Redis Cluster.
//!
//! A session is a hash: `exp` (expiry, epoch ms), `id`, `user`, `json` (the record). A user's
//! index is a sorted set of token digests, scored by creation time. Every script that removes
//! a session publishes its digest on the invalidation channel, which every
//! [`CachedStore`](super::CachedStore) listens to (plain `PUBLISH` reaches every node of a
//! Cluster).

use redis::Script;

/// Issues a session. KEYS: index, session. ARGV: json, ttl ms, created ms, digest, max per user
/// (0: none), session key base (`prefix{tag}s:`), exp ms, id, user, channel. Returns the
/// digests the cap evicted.
pub(super) fn create() -> Script {
    Script::new(
        r#"
local base = ARGV[6]
local evicted = {}
for _, d in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('EXISTS', base .. d) == 0 then redis.call('ZREM', KEYS[1], d) end
end
local max = tonumber(ARGV[5])
if max > 0 then
  local n = redis.call('ZCARD', KEYS[1])
  while n >= max do
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
    redis.call('DEL', base .. oldest)
    redis.call('ZREM', KEYS[1], oldest)
    redis.call('PUBLISH', ARGV[10], oldest)
    table.insert(evicted, oldest)
    n = n - 1
  end
end
redis.call('HSET', KEYS[2], 'exp', ARGV[7], 'id', ARGV[8], 'user', ARGV[9], 'json', ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return evicted
"#,
    )
}

/// The sliding refresh, which never brings back a revoked session. KEYS: session, index.
/// ARGV: json, exp ms, ttl ms. Returns 1 if the session was still there.
pub(super) fn refresh() -> Script {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'exp', ARGV[2], 'json', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1
"#,
    )
}

/// The user's sessions' records, dropping index entries whose session is gone. KEYS: index.
/// ARGV: session key base.
pub(super) fn list() -> Script {
    Script::new(
        r#"
local out = {}
for _, d in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local json = redis.call('HGET', ARGV[1] .. d, 'json')
  if json then table.insert(out, json) else redis.call('ZREM', KEYS[1], d) end
end
return out
"#,
    )
}

/// Revokes the session a token names: KEYS: session. ARGV: digest, index key base
/// (`prefix{tag}u:`), now ms, the owner it must belong to ('' for anyone), channel. Returns 1
/// if it was live.
pub(super) fn revoke_token() -> Script {
    Script::new(
        r#"
local found = redis.call('HMGET', KEYS[1], 'user', 'exp')
local user, exp = found[1], found[2]
if not user then return 0 end
if ARGV[4] ~= '' and ARGV[4] ~= user then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', ARGV[2] .. user, ARGV[1])
redis.call('PUBLISH', ARGV[5], ARGV[1])
if tonumber(exp) > tonumber(ARGV[3]) then return 1 end
return 0
"#,
    )
}

/// Revokes a user's sessions: all, all but one id, or only one id. KEYS: index. ARGV: session
/// key base, now ms, mode ('all', 'except', 'only'), id, channel. Returns how many were live,
/// then the digests removed.
pub(super) fn revoke_user() -> Script {
    Script::new(
        r#"
local base, now, mode, id = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local live = 0
local removed = {}
for _, d in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local found = redis.call('HMGET', base .. d, 'id', 'exp')
  local sid, exp = found[1], found[2]
  local pick = mode == 'all' or (mode == 'except' and sid ~= id) or (mode == 'only' and sid == id)
  if not sid then
    redis.call('ZREM', KEYS[1], d)
  elseif pick then
    redis.call('DEL', base .. d)
    redis.call('ZREM', KEYS[1], d)
    redis.call('PUBLISH', ARGV[5], d)
    table.insert(removed, d)
    if tonumber(exp) > now then live = live + 1 end
  end
end
table.insert(removed, 1, live)
return removed
"#,
    )
}
