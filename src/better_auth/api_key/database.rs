//! API keys in better-auth's SQL database (its storage `"database"`): a key looked up by its
//! hash, and each use claimed with guarded updates, as `claimUsageInDatabase` claims it: the
//! refill a compare-and-swap on the `lastRefillAt` seen, the use a decrement where
//! `remaining > 0`, the rate limit an increment where `requestCount < max` in the window. Each
//! update changes the row only while its guard holds, so concurrent verifications (better-auth's
//! own and any number of Rust instances) never use a key more often than it allows.

use super::super::date::{from_millis, to_iso};
use super::super::sql::schema::{placeholder, quote};
use super::super::sql::{Dialect, Pool};
#[cfg(any(feature = "better-auth-postgres", feature = "better-auth-mysql"))]
use super::columns::millis_date;
#[cfg(feature = "better-auth-sqlite")]
use super::columns::sqlite_date;
use super::columns::{date_column, decode, COLUMNS};
use super::record::{Gate, RateLimit, Record, Refusal};
use super::{now_millis, Policy, Verdict};
use crate::BoxError;

/// How often the rate-limit step re-reads a row whose guard another verification won before
/// it gives up (better-auth retries without a bound; each lost guard means another won).
const RATE_LIMIT_ROUNDS: usize = 64;

/// One bound value: dates go as epoch milliseconds to PostgreSQL and MySQL, as ISO-8601 text to
/// SQLite (where better-auth's comparisons are textual).
enum Arg {
    Int(i64),
    Text(String),
}

/// The backend: the pool, and the statements in its dialect.
pub(super) struct Database {
    pool: Pool,
    dialect: Dialect,
    table: String,
    by_key: String,
    by_id: String,
}

impl Database {
    pub(super) fn new(pool: Pool, dialect: Dialect, table: &str) -> Self {
        let q = |name: &str| quote(dialect, name);
        let columns: Vec<String> = COLUMNS
            .iter()
            .map(|c| match *c {
                "expiresAt" | "lastRefillAt" | "lastRequest" | "createdAt" => {
                    date_column(dialect, &q(c))
                }
                _ => q(c),
            })
            .collect();
        let select = format!("SELECT {} FROM {} WHERE ", columns.join(", "), q(table));
        let one = placeholder(dialect, 1);
        Database {
            by_key: format!("{select}{} = {one} LIMIT 1", q("key")),
            by_id: format!("{select}{} = {one}", q("id")),
            table: q(table),
            pool,
            dialect,
        }
    }

    /// A date as bound: epoch milliseconds, or ISO-8601 text in SQLite.
    fn date(&self, ms: i64) -> Result<Arg, BoxError> {
        Ok(match self.dialect {
            Dialect::Sqlite => {
                Arg::Text(to_iso(from_millis(ms).ok_or("a date past 9999")?).ok_or("past 9999")?)
            }
            _ => Arg::Int(ms),
        })
    }

    /// The `n`th placeholder as a date to write.
    fn date_value(&self, n: usize) -> String {
        let p = placeholder(self.dialect, n);
        match self.dialect {
            Dialect::Postgres => format!("to_timestamp({p}::float8 / 1000)"),
            Dialect::Mysql => format!("FROM_UNIXTIME({p} / 1000)"),
            Dialect::Sqlite => p,
        }
    }

    /// A date column, compared in the domain it is bound in.
    fn date_of(&self, column: &str) -> String {
        date_column(self.dialect, &quote(self.dialect, column))
    }

    fn col(&self, name: &str) -> String {
        quote(self.dialect, name)
    }

    fn p(&self, n: usize) -> String {
        placeholder(self.dialect, n)
    }

    /// Verifies the key whose hash is `hash`, claiming one use.
    pub(super) async fn verify(&self, hash: &str, policy: &Policy) -> Result<Verdict, BoxError> {
        let Some(record) = self.fetch(&self.by_key, hash).await? else {
            return Ok(Verdict::Unknown);
        };
        let now = now_millis();
        match record.gate(now, policy.config_id.as_deref()) {
            Gate::OtherConfig => return Ok(Verdict::Unknown),
            Gate::Disabled => return Ok(Verdict::Disabled),
            Gate::Expired => {
                self.delete(&record.id).await?;
                return Ok(Verdict::Expired);
            }
            Gate::Exhausted => {
                self.delete(&record.id).await?;
                return Ok(Verdict::Refused(Refusal::UsageExceeded(None)));
            }
            Gate::Claim => {}
        }
        // Once a use is claimed from `remaining`, it is this request's: a row deleted after
        // (used up by the verifications that came next) does not take it back. better-auth
        // answers INVALID_API_KEY there, and the use is lost.
        let claimed = record.remaining.is_some();
        if claimed {
            if let Err(refusal) = self.consume_remaining(&record, now).await? {
                return Ok(Verdict::Refused(refusal));
            }
        }
        match self
            .consume_rate_limit(record.clone(), policy.rate_limit)
            .await?
        {
            Some(Verdict::Unknown) if claimed => return Ok(Verdict::Accepted(Box::new(record))),
            Some(verdict) => return Ok(verdict),
            None => {}
        }
        let touch = format!(
            "UPDATE {} SET {} = {} WHERE {} = {}",
            self.table,
            self.col("updatedAt"),
            self.date_value(1),
            self.col("id"),
            self.p(2)
        );
        let args = [self.date(now_millis())?, Arg::Text(record.id.clone())];
        if self.execute(&touch, args).await? == 0 && !claimed {
            return Ok(Verdict::Unknown);
        }
        Ok(Verdict::Accepted(Box::new(record)))
    }

    /// `consumeRemaining`: the refill when due (one verification wins it), else the guarded
    /// decrement. `Ok(Err(_))` is the key used up.
    async fn consume_remaining(
        &self,
        record: &Record,
        now: i64,
    ) -> Result<Result<(), Refusal>, BoxError> {
        if let Some(amount) = record.refill_due(now) {
            let guard = match record.last_refill_at {
                Some(_) => format!("{} = {}", self.date_of("lastRefillAt"), self.p(4)),
                None => format!("{} IS NULL", self.col("lastRefillAt")),
            };
            let refill = format!(
                "UPDATE {} SET {} = {}, {} = {} WHERE {} = {} AND {guard}",
                self.table,
                self.col("remaining"),
                self.p(1),
                self.col("lastRefillAt"),
                self.date_value(2),
                self.col("id"),
                self.p(3),
            );
            let mut args = vec![
                Arg::Int(amount - 1),
                self.date(now)?,
                Arg::Text(record.id.clone()),
            ];
            if let Some(last) = record.last_refill_at {
                args.push(self.date(last)?);
            }
            if self.execute(&refill, args).await? > 0 {
                return Ok(Ok(()));
            }
        }
        let decrement = format!(
            "UPDATE {t} SET {r} = {r} - 1 WHERE {} = {} AND {r} > 0",
            self.col("id"),
            self.p(1),
            t = self.table,
            r = self.col("remaining"),
        );
        match self
            .execute(&decrement, [Arg::Text(record.id.clone())])
            .await?
        {
            0 => Ok(Err(Refusal::UsageExceeded(record.next_refill(now)))),
            _ => Ok(Ok(())),
        }
    }

    /// `consumeRateLimit`: `None` when the use is counted (or nothing limits it), else the
    /// refusal (or the key gone).
    async fn consume_rate_limit(
        &self,
        mut record: Record,
        plugin_enabled: bool,
    ) -> Result<Option<Verdict>, BoxError> {
        for _ in 0..RATE_LIMIT_ROUNDS {
            let now = now_millis();
            let (id, count, last) = (
                self.col("id"),
                self.col("requestCount"),
                self.col("lastRequest"),
            );
            let (sql, args) = match record.rate_limit(now, plugin_enabled) {
                RateLimit::Deny { try_again_in } => {
                    return Ok(Some(Verdict::Refused(Refusal::RateLimited(try_again_in))))
                }
                RateLimit::Skip { touch: false } => return Ok(None),
                RateLimit::Skip { touch: true } => {
                    let sql = format!(
                        "UPDATE {} SET {last} = {} WHERE {id} = {}",
                        self.table,
                        self.date_value(1),
                        self.p(2)
                    );
                    self.execute(&sql, [self.date(now)?, Arg::Text(record.id.clone())])
                        .await?;
                    return Ok(None);
                }
                RateLimit::Increment { window_start, max } => (
                    format!(
                        "UPDATE {} SET {count} = {count} + 1, {last} = {} WHERE {id} = {} \
                         AND {} > {} AND {count} < {}",
                        self.table,
                        self.date_value(1),
                        self.p(2),
                        self.date_of("lastRequest"),
                        self.p(3),
                        self.p(4),
                    ),
                    vec![
                        self.date(now)?,
                        Arg::Text(record.id.clone()),
                        self.date(window_start)?,
                        Arg::Int(max),
                    ],
                ),
                RateLimit::Start => (
                    format!(
                        "UPDATE {} SET {count} = 1, {last} = {} WHERE {id} = {} AND {last} IS NULL",
                        self.table,
                        self.date_value(1),
                        self.p(2),
                    ),
                    vec![self.date(now)?, Arg::Text(record.id.clone())],
                ),
                RateLimit::Reset { window_start } => (
                    format!(
                        "UPDATE {} SET {count} = 1, {last} = {} WHERE {id} = {} AND {} <= {}",
                        self.table,
                        self.date_value(1),
                        self.p(2),
                        self.date_of("lastRequest"),
                        self.p(3),
                    ),
                    vec![
                        self.date(now)?,
                        Arg::Text(record.id.clone()),
                        self.date(window_start)?,
                    ],
                ),
            };
            if self.execute(&sql, args).await? > 0 {
                return Ok(None);
            }
            // Another verification won the guard: decide again on the row as it is now.
            match self.fetch(&self.by_id, &record.id).await? {
                Some(fresh) => record = fresh,
                None => return Ok(Some(Verdict::Unknown)),
            }
        }
        Err(format!(
            "the rate limit of API key {:?} stayed contended for {RATE_LIMIT_ROUNDS} rounds",
            record.id
        )
        .into())
    }

    async fn delete(&self, id: &str) -> Result<(), BoxError> {
        let sql = format!(
            "DELETE FROM {} WHERE {} = {}",
            self.table,
            self.col("id"),
            self.p(1)
        );
        self.execute(&sql, [Arg::Text(id.to_owned())]).await?;
        Ok(())
    }

    /// Runs one statement; how many rows it matched.
    async fn execute(
        &self,
        sql: &str,
        args: impl IntoIterator<Item = Arg>,
    ) -> Result<u64, BoxError> {
        macro_rules! run {
            ($pool:expr) => {{
                let mut query = sqlx::query(sql);
                for arg in args {
                    query = match arg {
                        Arg::Int(n) => query.bind(n),
                        Arg::Text(t) => query.bind(t),
                    };
                }
                query.execute($pool).await?.rows_affected()
            }};
        }
        Ok(match &self.pool {
            #[cfg(feature = "better-auth-postgres")]
            Pool::Postgres(pool) => run!(pool),
            #[cfg(feature = "better-auth-sqlite")]
            Pool::Sqlite(pool) => run!(pool),
            #[cfg(feature = "better-auth-mysql")]
            Pool::Mysql(pool) => run!(pool),
        })
    }

    /// The key the query (by hash or by id) finds, if any.
    async fn fetch(&self, sql: &str, value: &str) -> Result<Option<Record>, BoxError> {
        macro_rules! fetch {
            ($pool:expr, $date:expr) => {
                match sqlx::query(sql).bind(value).fetch_optional($pool).await? {
                    Some(row) => Some(decode(&row, $date)?),
                    None => None,
                }
            };
        }
        Ok(match &self.pool {
            #[cfg(feature = "better-auth-postgres")]
            Pool::Postgres(pool) => fetch!(pool, millis_date),
            #[cfg(feature = "better-auth-sqlite")]
            Pool::Sqlite(pool) => fetch!(pool, sqlite_date),
            #[cfg(feature = "better-auth-mysql")]
            Pool::Mysql(pool) => fetch!(pool, millis_date),
        })
    }

    /// Checks that the table is there with the columns verification reads.
    pub(super) async fn ping(&self) -> Result<(), BoxError> {
        self.fetch(&self.by_id, "").await.map(drop)
    }
}
