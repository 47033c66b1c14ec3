//! The schema check: which tables and columns the [`Schema`](super::Schema) names the database
//! lacks, each said with the plugin (or setting) that adds it. Run by `ping`, and when a
//! lookup's query fails, so that `Schema::admin()` over a database without the admin plugin
//! says so instead of `no such column: s.impersonatedBy`.

use super::schema::Dialect;
use super::{Inner, Pool};
use crate::BoxError;

/// Each table the session query reads, with its (field, column) pairs.
pub(super) type Needed = Vec<(String, Vec<(String, String)>)>;

/// The query listing a table's columns, in each dialect.
fn columns_query(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "SELECT name FROM pragma_table_info(?1)",
        Dialect::Postgres => {
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_name = $1 AND table_schema = ANY(current_schemas(false))"
        }
        Dialect::Mysql => {
            "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ?"
        }
    }
}

/// Whose a field is: what to add (or drop) when its column is missing.
fn origin(field: &str) -> &'static str {
    match field {
        "role" | "banned" | "banReason" | "banExpires" | "impersonatedBy" => {
            "the admin plugin's (add admin() to better-auth's plugins and migrate, or drop \
             Schema::admin())"
        }
        "activeOrganizationId" => {
            "the organization plugin's (add organization() to better-auth's plugins and \
             migrate, or drop Schema::organization())"
        }
        "id" | "token" | "userId" | "expiresAt" | "createdAt" | "updatedAt" | "ipAddress"
        | "userAgent" | "name" | "email" | "emailVerified" | "image" => {
            "better-auth's core (is this better-auth's database, migrated? are its columns \
             renamed, and the Schema told?)"
        }
        _ => "an additional field's (declared with Schema::*_additional_field)",
    }
}

/// What the database lacks, or `None`: `present` holds each needed table's columns (none for
/// a table that is not there), in `needed`'s order.
pub(super) fn missing(
    needed: &Needed,
    present: &[Vec<String>],
    dialect: Dialect,
) -> Option<String> {
    let same = |a: &str, b: &str| match dialect {
        Dialect::Postgres => a == b,
        Dialect::Sqlite | Dialect::Mysql => a.eq_ignore_ascii_case(b),
    };
    let mut said = Vec::new();
    for ((table, columns), present) in needed.iter().zip(present) {
        if present.is_empty() {
            said.push(format!("there is no table {table:?}"));
            continue;
        }
        // Grouped by whose they are, in the schema's order.
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for (field, column) in columns {
            if present.iter().any(|p| same(p, column)) {
                continue;
            }
            let whose = origin(field);
            match groups.iter_mut().find(|(w, _)| *w == whose) {
                Some((_, list)) => list.push(column),
                None => groups.push((whose, vec![column])),
            }
        }
        for (whose, list) in groups {
            let list: Vec<String> = list.iter().map(|c| format!("{c:?}")).collect();
            said.push(format!(
                "table {table:?} lacks {}, {whose}",
                list.join(", ")
            ));
        }
    }
    (!said.is_empty()).then(|| {
        format!(
            "the database does not have what the Schema reads: {}",
            said.join("; ")
        )
    })
}

impl Inner {
    /// The session query on a connection of its own, outside the pool (a pool only says that
    /// it timed out, a connection says why: refused, no such file, bad password), after the
    /// schema check.
    pub(super) async fn ping(&self) -> Result<(), BoxError> {
        use sqlx::ConnectOptions;
        macro_rules! ping {
            ($pool:expr) => {{
                let mut conn = $pool.connect_options().connect().await?;
                let mut present = Vec::new();
                for (table, _) in &self.needed {
                    present.push(
                        sqlx::query_scalar::<_, String>(columns_query(self.dialect))
                            .bind(table)
                            .fetch_all(&mut conn)
                            .await?,
                    );
                }
                if let Some(missing) = missing(&self.needed, &present, self.dialect) {
                    return Err(missing.into());
                }
                sqlx::query(&self.select)
                    .bind("")
                    .fetch_optional(&mut conn)
                    .await?;
            }};
        }
        match &self.pool {
            #[cfg(feature = "better-auth-postgres")]
            Pool::Postgres(pool) => ping!(pool),
            #[cfg(feature = "better-auth-sqlite")]
            Pool::Sqlite(pool) => ping!(pool),
            #[cfg(feature = "better-auth-mysql")]
            Pool::Mysql(pool) => ping!(pool),
        }
        Ok(())
    }

    /// A failed session query, explained by the schema check when it finds something missing
    /// (the query's own error follows); otherwise the query's error as it was.
    pub(super) async fn explained(&self, error: sqlx::Error) -> BoxError {
        if !matches!(error, sqlx::Error::Database(_)) {
            return error.into();
        }
        macro_rules! present {
            ($pool:expr) => {{
                let mut present = Vec::new();
                for (table, _) in &self.needed {
                    let listed = sqlx::query_scalar::<_, String>(columns_query(self.dialect))
                        .bind(table)
                        .fetch_all($pool)
                        .await;
                    match listed {
                        Ok(columns) => present.push(columns),
                        Err(_) => return error.into(),
                    }
                }
                present
            }};
        }
        let present = match &self.pool {
            #[cfg(feature = "better-auth-postgres")]
            Pool::Postgres(pool) => present!(pool),
            #[cfg(feature = "better-auth-sqlite")]
            Pool::Sqlite(pool) => present!(pool),
            #[cfg(feature = "better-auth-mysql")]
            Pool::Mysql(pool) => present!(pool),
        };
        match missing(&self.needed, &present, self.dialect) {
            Some(missing) => {
                let cause = crate::chain::text(&error);
                format!("{missing} (the query: {cause})").into()
            }
            None => error.into(),
        }
    }
}
