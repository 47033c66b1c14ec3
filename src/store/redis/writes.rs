//! The writes of a [`RedisStore`]: create (with the per-user cap), list and the revocations,
//! each one script, each waiting for its [`Durability`](super::Durability).

use std::sync::Arc;

use redis::FromRedisValue;
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use super::keys::{digest_hex, millis, token_tag, user_tag};
use super::scripts::Call;
use super::{Durability, RedisStore};
use crate::session_token::generate_token;
use crate::store::{CreateOptions, Issued, Session, SessionToken, StoreError};

impl<D> RedisStore<D>
where
    D: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// Issues a session; also the digests of the sessions the cap evicted.
    pub(super) async fn create_session(
        &self,
        user_id: &str,
        data: D,
        options: CreateOptions,
    ) -> Result<(Issued<D>, Vec<String>), StoreError> {
        let tag = user_tag(user_id);
        let random = generate_token().map_err(|e| StoreError::new(e.to_string()))?;
        let token = SessionToken::new(format!("{tag}.{}", random.as_str()));
        let now = self.inner.clock.now();
        let lifetime = self.inner.lifetimes.lifetime(options.remember_me);
        let session = Session::new(user_id.into(), now, now + lifetime, options, data);
        let digest = digest_hex(token.as_str().as_bytes());
        let base = self.session_base(&tag);
        let mut create = self
            .inner
            .scripts
            .create
            .key(format!("{}{user_id}", self.index_base(&tag)));
        create
            .key(format!("{base}{digest}"))
            .arg(Self::encode(&session)?)
            .arg(millis(lifetime))
            .arg(now.as_millis())
            .arg(&digest)
            .arg(self.inner.lifetimes.max_per_user.unwrap_or(0))
            .arg(&base)
            .arg(session.expires_at().as_millis())
            .arg(session.id.to_string())
            .arg(user_id)
            .arg(self.channel());
        let evicted = self.create_durably(create).await?;
        let issued = Issued {
            session: Arc::new(session),
            token,
        };
        Ok((issued, evicted))
    }

    pub(super) async fn list_sessions(
        &self,
        user_id: &str,
    ) -> Result<Vec<Arc<Session<D>>>, StoreError> {
        let tag = user_tag(user_id);
        let mut list = self
            .inner
            .scripts
            .list
            .key(format!("{}{user_id}", self.index_base(&tag)));
        list.arg(self.session_base(&tag));
        let records: Vec<String> = self.invoke(list).await?;
        let now = self.inner.clock.now();
        let mut live = Vec::with_capacity(records.len());
        for json in records {
            let session = Self::decode(&json)?;
            if &*session.user_id == user_id && !session.is_expired(now) {
                live.push(Arc::new(session));
            }
        }
        live.sort_by_key(|s| s.created_at);
        Ok(live)
    }

    pub(super) async fn revoke_by_token(
        &self,
        owner: &str,
        token: &[u8],
    ) -> Result<bool, StoreError> {
        let Some(tag) = token_tag(token) else {
            return Ok(false);
        };
        let digest = digest_hex(token);
        let mut revoke = self
            .inner
            .scripts
            .revoke_token
            .key(format!("{}{digest}", self.session_base(tag)));
        revoke
            .arg(&digest)
            .arg(self.index_base(tag))
            .arg(self.inner.clock.now().as_millis())
            .arg(owner)
            .arg(self.channel());
        Ok(self.write::<i64>(revoke, self.inner.revocations).await? == 1)
    }

    /// Revokes a user's sessions by `mode`: how many were live, and the digests removed.
    pub(super) async fn revoke_user(
        &self,
        user_id: &str,
        mode: &str,
        id: Uuid,
    ) -> Result<(usize, Vec<String>), StoreError> {
        let tag = user_tag(user_id);
        let mut revoke = self
            .inner
            .scripts
            .revoke_user
            .key(format!("{}{user_id}", self.index_base(&tag)));
        revoke
            .arg(self.session_base(&tag))
            .arg(self.inner.clock.now().as_millis())
            .arg(mode)
            .arg(id.to_string())
            .arg(self.channel());
        let (live, removed): (i64, Vec<String>) = {
            let mut reply: Vec<redis::Value> = self.write(revoke, self.inner.revocations).await?;
            let live = reply
                .first()
                .map(i64::from_redis_value_ref)
                .transpose()
                .map_err(StoreError::new)?
                .unwrap_or(0);
            let removed = reply
                .drain(1..)
                .map(|v| String::from_redis_value(v).map_err(StoreError::new))
                .collect::<Result<_, _>>()?;
            (live, removed)
        };
        Ok((usize::try_from(live).unwrap_or(0), removed))
    }

    /// Runs the create script and waits for the creation's durability, and for the evictions'
    /// (a revocation's) when the cap evicted any: the digests evicted.
    async fn create_durably(&self, create: Call<'_>) -> Result<Vec<String>, StoreError> {
        let creation = self.inner.creations;
        let eviction = match self.inner.lifetimes.max_per_user {
            Some(_) => self.inner.revocations,
            None => Durability::PRIMARY,
        };
        let waits: Vec<redis::Cmd> = [creation, eviction]
            .iter()
            .filter(|d| d.wait())
            .map(Durability::command)
            .collect();
        let (reply, waited) = self.run(&create, &waits).await?;
        let evicted = Vec::<String>::from_redis_value(reply).map_err(StoreError::new)?;
        let mut waited = waited.into_iter();
        if creation.wait() {
            creation.confirmed(waited.next().expect("one reply per wait"))?;
        }
        if eviction.wait() {
            let reply = waited.next().expect("one reply per wait");
            if !evicted.is_empty() {
                eviction.confirmed(reply)?;
            }
        }
        Ok(evicted)
    }
}
