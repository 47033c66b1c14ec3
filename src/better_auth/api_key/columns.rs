//! How the database's `apikey` rows are read: the columns verification selects, dates in each
//! dialect's form (epoch milliseconds in PostgreSQL and MySQL, better-auth's ISO-8601 text in
//! SQLite), and a row decoded into a [`Record`].

use sqlx::{Row, ValueRef};

#[cfg(feature = "better-auth-sqlite")]
use super::super::date::parse_iso;
use super::super::sql::Dialect;
use super::record::Record;
use crate::BoxError;

/// The columns verification reads, in the order [`decode`] takes them.
pub(super) const COLUMNS: [&str; 20] = [
    "id",
    "configId",
    "referenceId",
    "name",
    "prefix",
    "start",
    "enabled",
    "expiresAt",
    "remaining",
    "refillAmount",
    "refillInterval",
    "lastRefillAt",
    "rateLimitEnabled",
    "rateLimitTimeWindow",
    "rateLimitMax",
    "requestCount",
    "lastRequest",
    "createdAt",
    "permissions",
    "metadata",
];

/// A date column as selected or compared: epoch milliseconds in PostgreSQL and MySQL, as
/// stored (ISO-8601 text) in SQLite.
pub(super) fn date_column(dialect: Dialect, column: &str) -> String {
    match dialect {
        Dialect::Postgres => format!("floor(extract(epoch from {column}) * 1000)::int8"),
        Dialect::Mysql => format!("CAST(UNIX_TIMESTAMP({column}) * 1000 AS SIGNED)"),
        Dialect::Sqlite => column.to_owned(),
    }
}

#[allow(dead_code)]
pub(super) fn millis_date<R>(row: &R, i: usize) -> Result<Option<i64>, BoxError>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(row.try_get::<Option<i64>, _>(i)?)
}

/// SQLite's dates: better-auth's ISO-8601 text, or epoch milliseconds from other writers.
#[cfg(feature = "better-auth-sqlite")]
pub(super) fn sqlite_date(
    row: &sqlx::sqlite::SqliteRow,
    i: usize,
) -> Result<Option<i64>, BoxError> {
    if row.try_get_raw(i)?.is_null() {
        return Ok(None);
    }
    if let Ok(text) = row.try_get::<String, _>(i) {
        let at = parse_iso(&text).ok_or_else(|| format!("column {i} is not a date"))?;
        return Ok(Some(super::super::date::to_millis(at)));
    }
    Ok(Some(row.try_get::<i64, _>(i)?))
}

/// An integer column of whatever width (PostgreSQL's `integer` is 32 bits).
fn int<R>(row: &R, i: usize) -> Result<Option<i64>, BoxError>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    if row.try_get_raw(i)?.is_null() {
        return Ok(None);
    }
    match row.try_get::<i32, _>(i) {
        Ok(n) => Ok(Some(n.into())),
        Err(_) => Ok(Some(row.try_get::<i64, _>(i)?)),
    }
}

pub(super) fn decode<R>(
    row: &R,
    date: impl Fn(&R, usize) -> Result<Option<i64>, BoxError>,
) -> Result<Record, BoxError>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database>,
    for<'r> Option<bool>: sqlx::Decode<'r, R::Database>,
    for<'r> bool: sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let metadata: Option<String> = row.try_get(19)?;
    Ok(Record {
        id: row.try_get(0)?,
        config_id: row.try_get(1)?,
        reference_id: row.try_get(2)?,
        name: row.try_get(3)?,
        prefix: row.try_get(4)?,
        start: row.try_get(5)?,
        enabled: row.try_get(6)?,
        expires_at: date(row, 7)?,
        remaining: int(row, 8)?,
        refill_amount: int(row, 9)?,
        refill_interval: int(row, 10)?,
        last_refill_at: date(row, 11)?,
        rate_limit_enabled: row.try_get(12)?,
        rate_limit_time_window: int(row, 13)?,
        rate_limit_max: int(row, 14)?,
        request_count: int(row, 15)?,
        last_request: date(row, 16)?,
        created_at: date(row, 17)?.ok_or("createdAt is null")?,
        permissions: row.try_get(18)?,
        // better-auth stores `JSON.stringify(undefined ?? null)`: the text `null`.
        metadata: metadata
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok())
            .filter(|m: &serde_json::Value| !m.is_null()),
    })
}
