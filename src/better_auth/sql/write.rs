//! The refresh's write: a session's `expiresAt` moved as better-auth's get-session moves it.

use std::time::SystemTime;

#[cfg(feature = "better-auth-sqlite")]
use super::super::date::to_iso;
#[cfg(any(feature = "better-auth-postgres", feature = "better-auth-mysql"))]
use super::super::date::to_millis;
use super::{Inner, Pool};
use crate::BoxError;

impl Inner {
    /// Whether the row was still there to update.
    pub(super) async fn write(
        &self,
        token: &str,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<bool, BoxError> {
        // The arms differ only in the pool's type and how dates are written.
        macro_rules! update {
            ($pool:expr, $expires_at:expr, $now:expr) => {
                sqlx::query(&self.update)
                    .bind($expires_at)
                    .bind($now)
                    .bind(token)
                    .execute($pool)
                    .await?
                    .rows_affected()
            };
        }
        let updated = match &self.pool {
            #[cfg(feature = "better-auth-postgres")]
            Pool::Postgres(pool) => update!(pool, to_millis(expires_at), to_millis(now)),
            #[cfg(feature = "better-auth-sqlite")]
            Pool::Sqlite(pool) => update!(
                pool,
                to_iso(expires_at).ok_or("expiry past 9999")?,
                to_iso(now).ok_or("a clock past 9999")?
            ),
            #[cfg(feature = "better-auth-mysql")]
            Pool::Mysql(pool) => update!(pool, to_millis(expires_at), to_millis(now)),
        };
        Ok(updated > 0)
    }
}
