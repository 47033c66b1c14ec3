//! One row of the session-and-user query, decoded: the core columns into better-auth's
//! [`Session`] and [`User`], the declared additional fields by their [`FieldType`].

use std::time::SystemTime;

use serde_json::{Map, Value};
use sqlx::{Row, ValueRef};

#[cfg(any(feature = "better-auth-postgres", feature = "better-auth-mysql"))]
use super::super::date::from_millis;
#[cfg(feature = "better-auth-sqlite")]
use super::super::date::parse_iso;
use super::super::date::to_iso;
use super::schema::{Declared, FieldType, Schema};
use super::{BetterAuthSession, Session, SessionToken, User};
use crate::BoxError;

/// The core columns: the session's eight, then the user's seven.
const CORE: usize = 15;

/// The additional fields a [`Schema`] declares, in the order its query selects them.
pub(super) struct Additional {
    session: Vec<Declared>,
    user: Vec<Declared>,
}

impl Additional {
    pub(super) fn of(schema: &Schema) -> Self {
        let (session, user) = schema.additional();
        Additional {
            session: session.to_vec(),
            user: user.to_vec(),
        }
    }
}

/// PostgreSQL and MySQL dates, selected as epoch milliseconds.
#[cfg(any(feature = "better-auth-postgres", feature = "better-auth-mysql"))]
pub(super) fn millis_date<R>(row: &R, i: usize) -> Result<Option<SystemTime>, sqlx::Error>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(from_millis(row.try_get(i)?))
}

/// SQLite has no date type: better-auth writes ISO-8601 text; other writers use epoch
/// milliseconds.
#[cfg(feature = "better-auth-sqlite")]
pub(super) fn sqlite_date(
    row: &sqlx::sqlite::SqliteRow,
    i: usize,
) -> Result<Option<SystemTime>, sqlx::Error> {
    if let Ok(text) = row.try_get::<String, _>(i) {
        return Ok(parse_iso(&text));
    }
    Ok(super::super::date::from_millis(row.try_get::<i64, _>(i)?))
}

/// One row: the session's columns, the user's, then the additional fields. A date that does
/// not parse makes the row unusable, which is a backend error (better-auth would fail on it
/// too).
pub(super) fn decode<R>(
    row: &R,
    date: impl Fn(&R, usize) -> Result<Option<SystemTime>, sqlx::Error>,
    additional: &Additional,
) -> Result<BetterAuthSession, BoxError>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let date = |i: usize| -> Result<SystemTime, BoxError> {
        date(row, i)?.ok_or_else(|| BoxError::from(format!("column {i} is not a date")))
    };
    let mut fields = CORE..;
    let mut read = |declared: &[Declared]| -> Result<Map<String, Value>, BoxError> {
        let mut map = Map::new();
        for ((field, ty), i) in declared.iter().zip(fields.by_ref()) {
            map.insert(field.clone(), value(row, i, *ty, &date)?);
        }
        Ok(map)
    };
    let (session_fields, user_fields) = (read(&additional.session)?, read(&additional.user)?);
    let session = Session {
        id: row.try_get(0)?,
        token: SessionToken::new(row.try_get::<String, _>(1)?),
        user_id: row.try_get(2)?,
        expires_at: date(3)?,
        created_at: date(4)?,
        updated_at: date(5)?,
        ip_address: row.try_get(6)?,
        user_agent: row.try_get(7)?,
        additional_fields: session_fields,
    };
    let user = User {
        id: row.try_get(8)?,
        name: row.try_get(9)?,
        email: row.try_get(10)?,
        email_verified: row.try_get(11)?,
        image: row.try_get(12)?,
        created_at: date(13)?,
        updated_at: date(14)?,
        additional_fields: user_fields,
    };
    Ok(BetterAuthSession { session, user })
}

/// An additional field's column as get-session would answer it in JSON.
fn value<R>(
    row: &R,
    i: usize,
    ty: FieldType,
    date: &impl Fn(usize) -> Result<SystemTime, BoxError>,
) -> Result<Value, BoxError>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    if row.try_get_raw(i)?.is_null() {
        return Ok(Value::Null);
    }
    Ok(match ty {
        FieldType::String => Value::String(row.try_get(i)?),
        FieldType::Boolean => Value::Bool(row.try_get(i)?),
        // Whatever width the column has: an integer as such, else a float.
        FieldType::Number => match row.try_get::<i64, _>(i) {
            Ok(n) => n.into(),
            Err(_) => match row.try_get::<i32, _>(i) {
                Ok(n) => n.into(),
                Err(_) => row.try_get::<f64, _>(i)?.into(),
            },
        },
        FieldType::Date => Value::String(to_iso(date(i)?).ok_or("a date past 9999")?),
        FieldType::Json => serde_json::from_str(&row.try_get::<String, _>(i)?)?,
    })
}
