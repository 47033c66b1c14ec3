//! API keys in better-auth's Redis secondary storage (its storage `"secondary-storage"`):
//! `<prefix>api-key:<hash>` holds the key as JSON, `<prefix>api-key:by-id:<id>` the same
//! record, `<prefix>api-key:by-ref:<owner>` the owner's list of key ids.
//!
//! better-auth's own claim there is a read-modify-write (its source says so). Here each use is
//! a compare-and-swap of the whole record: the new counters are computed from the JSON read and
//! written only if the record is still that JSON, else read again. Rust instances sharing the
//! storage are therefore exact among themselves. Both records are written together (one
//! script on one server; on a Cluster, where they live in different slots, the by-id copy
//! follows the by-hash one until they agree).

use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::super::date::{from_millis, parse_iso, to_iso, to_millis};
use super::record::{Gate, Record, Refusal};
use super::{now_millis, Policy, Verdict};
use crate::store::redis::{Conn, Lua};
use crate::BoxError;

/// How often a claim reads again after losing its swap before it gives up.
const SWAP_ROUNDS: usize = 64;

/// KEYS: by hash[, by id]. ARGV: the JSON read, the JSON to write, the TTL in seconds (0:
/// none). Writes only if the by-hash record is still the JSON read; 1 if it wrote.
const SWAP: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[3])
for _, key in ipairs(KEYS) do
  if ttl > 0 then redis.call('SET', key, ARGV[2], 'EX', ttl) else redis.call('SET', key, ARGV[2]) end
end
return 1
"#;

/// KEYS: an owner's list. ARGV: the id to drop. Drops it, and the list once it is empty.
const UNLIST: &str = r#"
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, ids = pcall(cjson.decode, v)
if not ok or type(ids) ~= 'table' then return 0 end
local kept = {}
for _, id in ipairs(ids) do if id ~= ARGV[1] then table.insert(kept, id) end end
if #kept == 0 then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], cjson.encode(kept)) end
return 1
"#;

fn swap() -> &'static Lua {
    static SCRIPT: OnceLock<Lua> = OnceLock::new();
    SCRIPT.get_or_init(|| Lua::new(SWAP))
}

fn unlist() -> &'static Lua {
    static SCRIPT: OnceLock<Lua> = OnceLock::new();
    SCRIPT.get_or_init(|| Lua::new(UNLIST))
}

/// The backend: the connection and the storage's key prefix.
pub(super) struct Storage {
    pub(super) conn: Conn,
    pub(super) prefix: String,
}

impl Storage {
    fn by_hash(&self, hash: &str) -> String {
        format!("{}api-key:{hash}", self.prefix)
    }

    fn by_id(&self, id: &str) -> String {
        format!("{}api-key:by-id:{id}", self.prefix)
    }

    /// Verifies the key whose hash is `hash`, claiming one use.
    pub(super) async fn verify(&self, hash: &str, policy: &Policy) -> Result<Verdict, BoxError> {
        let key = self.by_hash(hash);
        for _ in 0..SWAP_ROUNDS {
            let stored: Option<String> = self.conn.query(redis::cmd("GET").arg(&key)).await?;
            // better-auth's deserializeApiKey: what does not parse is no key.
            let Some((map, record)) = stored.as_deref().and_then(parse) else {
                return Ok(Verdict::Unknown);
            };
            let stored = stored.unwrap_or_default();
            let now = now_millis();
            match record.gate(now, policy.config_id.as_deref()) {
                Gate::OtherConfig => return Ok(Verdict::Unknown),
                Gate::Disabled => return Ok(Verdict::Disabled),
                Gate::Expired => {
                    self.delete(&key, &record).await?;
                    return Ok(Verdict::Expired);
                }
                Gate::Exhausted => {
                    self.delete(&key, &record).await?;
                    return Ok(Verdict::Refused(Refusal::UsageExceeded(None)));
                }
                Gate::Claim => {}
            }
            let next = match record.claimed(now, policy.rate_limit) {
                Ok(next) => next,
                Err(refusal) => return Ok(Verdict::Refused(refusal)),
            };
            let json = serialize(map, &next, now)?;
            let ttl = ttl(next.expires_at, now);
            if self.write(&key, &record.id, &stored, &json, ttl).await? {
                return Ok(Verdict::Accepted(Box::new(record)));
            }
        }
        // Not the Redis key: with `hashing(false)` it holds the API key itself.
        Err(format!("an API key's record stayed contended for {SWAP_ROUNDS} rounds").into())
    }

    /// Swaps the record if it is still `read`; whether it was.
    async fn write(
        &self,
        key: &str,
        id: &str,
        read: &str,
        json: &str,
        ttl: u64,
    ) -> Result<bool, BoxError> {
        let by_id = self.by_id(id);
        let mut call = swap().key(key);
        if !self.conn.is_cluster() {
            call.key(&by_id);
        }
        call.arg(read).arg(json).arg(ttl);
        let (reply, _) = self.conn.run(&call, &[]).await?;
        if redis::from_redis_value::<i64>(reply)? == 0 {
            return Ok(false);
        }
        if self.conn.is_cluster() {
            self.follow(key, &by_id, json, ttl).await?;
        }
        Ok(true)
    }

    /// On a Cluster: the by-id copy set to what was written, then to whatever the by-hash
    /// record holds if another instance wrote it since, until the two agree.
    async fn follow(&self, key: &str, by_id: &str, json: &str, ttl: u64) -> Result<(), BoxError> {
        let (mut json, mut ttl) = (json.to_owned(), ttl);
        for _ in 0..4 {
            let mut set = redis::cmd("SET");
            set.arg(by_id).arg(&json);
            if ttl > 0 {
                set.arg("EX").arg(ttl);
            }
            self.conn.query::<()>(&set).await?;
            let now: Option<String> = self.conn.query(redis::cmd("GET").arg(key)).await?;
            match now {
                Some(now) if now != json => {
                    let expires_at = parse(&now).and_then(|(_, record)| record.expires_at);
                    ttl = self::ttl(expires_at, now_millis());
                    json = now;
                }
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    /// Deletes the key as better-auth deletes it: both records, and its id from its owner's
    /// list.
    async fn delete(&self, key: &str, record: &Record) -> Result<(), BoxError> {
        self.conn.query::<()>(redis::cmd("DEL").arg(key)).await?;
        self.conn
            .query::<()>(redis::cmd("DEL").arg(self.by_id(&record.id)))
            .await?;
        let list = format!("{}api-key:by-ref:{}", self.prefix, record.reference_id);
        let mut call = unlist().key(list);
        call.arg(&record.id);
        self.conn.run(&call, &[]).await?;
        Ok(())
    }

    /// better-auth's `fallbackToDatabase`: the key's copies in Redis dropped (both records and
    /// its owner's list, as better-auth drops the list on every write there) after the
    /// database, the source of truth, changed it; better-auth reads the row again next time.
    #[cfg_attr(
        not(any(
            feature = "better-auth-postgres",
            feature = "better-auth-sqlite",
            feature = "better-auth-mysql"
        )),
        allow(dead_code)
    )]
    pub(super) async fn forget(&self, hash: &str) -> Result<(), BoxError> {
        let key = self.by_hash(hash);
        let stored: Option<String> = self.conn.query(redis::cmd("GET").arg(&key)).await?;
        let Some((_, record)) = stored.as_deref().and_then(parse) else {
            return Ok(());
        };
        let list = format!("{}api-key:by-ref:{}", self.prefix, record.reference_id);
        for key in [key, self.by_id(&record.id), list] {
            self.conn.query::<()>(redis::cmd("DEL").arg(key)).await?;
        }
        Ok(())
    }

    pub(super) async fn ping(&self) -> Result<(), BoxError> {
        let _: String = self.conn.query(&redis::cmd("PING")).await?;
        Ok(())
    }
}

/// `calculateTTL`: whole seconds to `expiresAt`, or none (0) without one or once past it.
fn ttl(expires_at: Option<i64>, now: i64) -> u64 {
    expires_at.filter(|&at| at != 0).map_or(0, |at| {
        u64::try_from((at - now).div_euclid(1000)).unwrap_or(0)
    })
}

/// A stored record, as its JSON members and as read for verification.
fn parse(json: &str) -> Option<(Map<String, Value>, Record)> {
    let map: Map<String, Value> = serde_json::from_str(json).ok()?;
    let text = |name: &str| map.get(name).and_then(Value::as_str).map(str::to_owned);
    let int = |name: &str| map.get(name).and_then(Value::as_f64).map(|n| n as i64);
    let flag = |name: &str| map.get(name).and_then(Value::as_bool);
    let date = |name: &str| text(name).and_then(|t| parse_iso(&t)).map(to_millis);
    let record = Record {
        id: text("id")?,
        config_id: text("configId"),
        reference_id: text("referenceId").unwrap_or_default(),
        name: text("name"),
        prefix: text("prefix"),
        start: text("start"),
        enabled: flag("enabled"),
        expires_at: date("expiresAt"),
        remaining: int("remaining"),
        refill_amount: int("refillAmount"),
        refill_interval: int("refillInterval"),
        last_refill_at: date("lastRefillAt"),
        rate_limit_enabled: flag("rateLimitEnabled"),
        rate_limit_time_window: int("rateLimitTimeWindow"),
        rate_limit_max: int("rateLimitMax"),
        request_count: int("requestCount"),
        last_request: date("lastRequest"),
        created_at: date("createdAt").unwrap_or(0),
        permissions: text("permissions"),
        metadata: map.get("metadata").filter(|m| !m.is_null()).cloned(),
    };
    Some((map, record))
}

/// The record read, with the counters of `next` and `updatedAt` now, as better-auth's
/// `serializeApiKey` writes them.
fn serialize(mut map: Map<String, Value>, next: &Record, now: i64) -> Result<String, BoxError> {
    let iso = |ms: Option<i64>| -> Result<Value, BoxError> {
        Ok(match ms {
            Some(ms) => {
                let at = from_millis(ms).ok_or("a date past 9999")?;
                Value::String(to_iso(at).ok_or("a date past 9999")?)
            }
            None => Value::Null,
        })
    };
    map.insert(
        "remaining".into(),
        next.remaining.map_or(Value::Null, Value::from),
    );
    map.insert("lastRefillAt".into(), iso(next.last_refill_at)?);
    map.insert("lastRequest".into(), iso(next.last_request)?);
    map.insert(
        "requestCount".into(),
        next.request_count.map_or(Value::Null, Value::from),
    );
    map.insert("updatedAt".into(), iso(Some(now))?);
    Ok(serde_json::to_string(&map)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_with_its_counters_moved() {
        let stored = r#"{"configId":"default","createdAt":"2026-12-06T03:22:31.978Z","updatedAt":"2026-12-06T03:22:31.978Z","name":null,"prefix":null,"start":"pOWRse","key":"lgthKqT7O_t2a-xylu2efdhRB9T0Oge0loGFMfdIhg4","enabled":true,"expiresAt":"2026-12-06T04:22:31.978Z","referenceId":"QRaC","lastRefillAt":null,"lastRequest":null,"metadata":null,"rateLimitMax":5,"rateLimitTimeWindow":60000,"remaining":3,"refillAmount":null,"refillInterval":null,"rateLimitEnabled":true,"requestCount":0,"permissions":"{\"files\":[\"read\"]}","id":"qout"}"#;
        let (map, record) = parse(stored).unwrap();
        assert_eq!(record.id, "qout");
        assert_eq!(record.remaining, Some(3));
        assert_eq!(record.permissions.as_deref(), Some(r#"{"files":["read"]}"#));
        assert_eq!(record.metadata, None);
        let now = record.created_at + 1_000;
        let next = record.claimed(now, true).unwrap();
        let json = serialize(map, &next, now).unwrap();
        let (written, again) = parse(&json).unwrap();
        assert_eq!(again.remaining, Some(2));
        assert_eq!(again.request_count, Some(1));
        assert_eq!(again.last_request, Some(now));
        assert_eq!(written["updatedAt"], "2026-12-06T03:22:32.978Z");
        assert_eq!(
            written["key"],
            "lgthKqT7O_t2a-xylu2efdhRB9T0Oge0loGFMfdIhg4"
        );
        // calculateTTL: floor of the seconds left.
        assert_eq!(ttl(again.expires_at, now), 3_599);
        assert_eq!(ttl(None, now), 0);
        assert_eq!(ttl(Some(now - 5), now), 0);
    }
}
