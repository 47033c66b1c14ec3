//! The resolver's cache kept true: RESP3 client tracking of every key under the prefix.

use std::sync::Weak;
use std::time::Duration;

use redis::{PushKind, Value};

use super::super::cache::Cache;

/// Follows every change under the prefix (RESP3 client tracking in broadcast mode) and drops
/// what it touches: a token's key drops that token, a user's watermark drops the user's
/// sessions. Pings every `allowance / 4`; on any failure the cache goes dark and clears, and the
/// connection is made again.
pub(super) async fn track(
    client: redis::Client,
    prefix: String,
    cache: Weak<Cache>,
    allowance: Duration,
) {
    let mut backoff = Duration::from_millis(20);
    let mut tracked_before = false;
    loop {
        if cache.strong_count() == 0 {
            return;
        }
        let (tx, mut pushes) = tokio::sync::mpsc::unbounded_channel();
        let config = redis::AsyncConnectionConfig::new()
            .set_push_sender(tx)
            .set_response_timeout(Some(allowance))
            .set_connection_timeout(Some(allowance));
        let connected = async {
            let mut conn = client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            redis::cmd("CLIENT")
                .arg("TRACKING")
                .arg("ON")
                .arg("BCAST")
                .arg("PREFIX")
                .arg(&prefix)
                .query_async::<()>(&mut conn)
                .await?;
            redis::RedisResult::Ok(conn)
        };
        let mut conn = match connected.await {
            Ok(conn) => conn,
            Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(20);
        if std::mem::replace(&mut tracked_before, true) {
            crate::metrics::redis_reconnect();
        }
        match cache.upgrade() {
            // Whatever changed while nothing was tracked is unknown.
            Some(cache) => {
                cache.clear();
                cache.alive_for(allowance);
            }
            None => return,
        }
        let mut ping = tokio::time::interval(allowance / 4);
        loop {
            tokio::select! {
                push = pushes.recv() => {
                    let Some(push) = push else { break };
                    let Some(cache) = cache.upgrade() else { return };
                    match push.kind {
                        PushKind::Invalidate => {
                            invalidate(&cache, &prefix, &push.data);
                            crate::metrics::redis_invalidation();
                        }
                        PushKind::Disconnection => break,
                        _ => {}
                    }
                }
                _ = ping.tick() => {
                    let answered = redis::cmd("PING").query_async::<Value>(&mut conn).await;
                    let Some(cache) = cache.upgrade() else { return };
                    match answered {
                        Ok(_) => cache.alive_for(allowance),
                        Err(_) => break,
                    }
                }
            }
        }
        match cache.upgrade() {
            Some(cache) => cache.dead(),
            None => return,
        }
    }
}

fn invalidate(cache: &Cache, prefix: &str, data: &[Value]) {
    let keys = match data.first() {
        Some(Value::Array(keys)) => keys,
        // `nil`: the database was flushed.
        _ => return cache.clear(),
    };
    for key in keys {
        let Value::BulkString(key) = key else {
            cache.clear();
            continue;
        };
        let Some(name) = std::str::from_utf8(key)
            .ok()
            .and_then(|k| k.strip_prefix(prefix))
        else {
            continue;
        };
        if let Some(user) = name.strip_prefix("revoked-sessions-before-") {
            cache.remove_user(user);
        } else if !name.starts_with("active-sessions-") {
            cache.remove(name);
        }
    }
}
