//! The Lua scripts behind every operation that touches more than one key, so that each is
//! atomic. All the keys a script touches share one hash tag (the user's), so they live in one
//! slot and the scripts run unchanged on Redis Cluster.
//!
//! A session is a hash: `exp` (expiry, epoch ms), `id`, `user`, `json` (the record). A user's
//! index is a sorted set of token digests, scored by creation time. Every script that removes
//! a session publishes its digest on the invalidation channel, which every
//! [`CachedStore`](super::CachedStore) listens to (plain `PUBLISH` reaches every node of a
//! Cluster).

use redis::{Cmd, Script, ToRedisArgs};

/// A Lua script: its source, for `EVAL`, and its SHA-1, for `EVALSHA`.
pub(crate) struct Lua {
    source: &'static str,
    script: Script,
}

impl Lua {
    pub(crate) fn new(source: &'static str) -> Lua {
        Lua {
            source,
            script: Script::new(source),
        }
    }

    /// A call of this script with its first key.
    pub(crate) fn key<T: ToRedisArgs>(&self, key: T) -> Call<'_> {
        let mut call = Call {
            lua: self,
            keys: Vec::new(),
            args: Vec::new(),
        };
        call.key(key);
        call
    }
}

/// One call of a [`Lua`] script: its keys and arguments.
pub(crate) struct Call<'a> {
    lua: &'a Lua,
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
}

impl Call<'_> {
    pub(crate) fn key<T: ToRedisArgs>(&mut self, key: T) -> &mut Self {
        self.keys.extend(key.to_redis_args());
        self
    }

    pub(crate) fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        self.args.extend(arg.to_redis_args());
        self
    }

    /// `EVALSHA`, or with `eval`, `EVAL` with the source (which also loads the script).
    pub(crate) fn cmd(&self, eval: bool) -> Cmd {
        let mut cmd;
        if eval {
            cmd = redis::cmd("EVAL");
            cmd.arg(self.lua.source);
        } else {
            cmd = redis::cmd("EVALSHA");
            cmd.arg(self.lua.script.get_hash());
        }
        cmd.arg(self.keys.len()).arg(&self.keys).arg(&self.args);
        cmd
    }
}

/// Issues a session. KEYS: index, session. ARGV: json, ttl ms, created ms, digest, max per user
/// (0: none), session key base (`prefix{tag}s:`), exp ms, id, user, channel. Returns the
/// digests the cap evicted. Run twice (a retry after a lost reply), it does nothing the second
/// time: the cap must not evict another session for the same sign-in.
pub(super) fn create() -> Lua {
    Lua::new(
        r#"
if redis.call('EXISTS', KEYS[2]) == 1 then return {} end
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
pub(super) fn refresh() -> Lua {
    Lua::new(
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
pub(super) fn list() -> Lua {
    Lua::new(
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
pub(super) fn revoke_token() -> Lua {
    Lua::new(
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
pub(super) fn revoke_user() -> Lua {
    Lua::new(
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
