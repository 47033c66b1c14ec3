//! better-auth's table and column names, renamed as its options allow, and the queries built
//! from them.

use std::collections::BTreeMap;

const SESSION_FIELDS: [&str; 8] = [
    "id",
    "token",
    "userId",
    "expiresAt",
    "createdAt",
    "updatedAt",
    "ipAddress",
    "userAgent",
];
const USER_FIELDS: [&str; 7] = [
    "id",
    "name",
    "email",
    "emailVerified",
    "image",
    "createdAt",
    "updatedAt",
];

/// The names of better-auth's `session` and `user` tables and their columns.
///
/// The default is better-auth's own. Renames mirror better-auth's options: `session.modelName`,
/// `session.fields`, `user.modelName`, `user.fields`, and `advanced.database.usePlural`.
///
/// ```
/// use tower_bearer::better_auth::Schema;
///
/// // betterAuth({ session: { modelName: "auth_sessions", fields: { expiresAt: "expires_at" } } })
/// let schema = Schema::new()
///     .session_model("auth_sessions")
///     .session_field("expiresAt", "expires_at");
/// # let _ = schema;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    session_model: String,
    user_model: String,
    session_fields: BTreeMap<&'static str, String>,
    user_fields: BTreeMap<&'static str, String>,
}

impl Default for Schema {
    fn default() -> Self {
        Schema {
            session_model: "session".into(),
            user_model: "user".into(),
            session_fields: BTreeMap::new(),
            user_fields: BTreeMap::new(),
        }
    }
}

/// The SQL dialect a query is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    #[cfg_attr(not(feature = "better-auth-postgres"), allow(dead_code))]
    Postgres,
    #[cfg_attr(not(feature = "better-auth-sqlite"), allow(dead_code))]
    Sqlite,
    #[cfg_attr(not(feature = "better-auth-mysql"), allow(dead_code))]
    Mysql,
}

impl Schema {
    /// better-auth's default names.
    pub fn new() -> Self {
        Self::default()
    }

    /// The session table's name (`session.modelName`).
    pub fn session_model(mut self, table: impl Into<String>) -> Self {
        self.session_model = table.into();
        self
    }

    /// The user table's name (`user.modelName`).
    pub fn user_model(mut self, table: impl Into<String>) -> Self {
        self.user_model = table.into();
        self
    }

    /// `advanced.database.usePlural`: the tables are `sessions` and `users`.
    pub fn use_plural(self) -> Self {
        let (session, user) = (self.session_model.clone(), self.user_model.clone());
        self.session_model(session + "s").user_model(user + "s")
    }

    /// The column that holds a session field (`session.fields.<field>`).
    ///
    /// # Panics
    ///
    /// If `field` is not one of the session's fields: `id`, `token`, `userId`, `expiresAt`,
    /// `createdAt`, `updatedAt`, `ipAddress`, `userAgent`.
    pub fn session_field(mut self, field: &str, column: impl Into<String>) -> Self {
        let field = known(&SESSION_FIELDS, field, "session");
        self.session_fields.insert(field, column.into());
        self
    }

    /// The column that holds a user field (`user.fields.<field>`).
    ///
    /// # Panics
    ///
    /// If `field` is not one of the user's fields: `id`, `name`, `email`, `emailVerified`,
    /// `image`, `createdAt`, `updatedAt`.
    pub fn user_field(mut self, field: &str, column: impl Into<String>) -> Self {
        let field = known(&USER_FIELDS, field, "user");
        self.user_fields.insert(field, column.into());
        self
    }

    fn session(&self, dialect: Dialect, field: &'static str) -> String {
        let column = self.session_fields.get(field).map_or(field, |c| c);
        format!("s.{}", quote(dialect, column))
    }

    fn user(&self, dialect: Dialect, field: &'static str) -> String {
        let column = self.user_fields.get(field).map_or(field, |c| c);
        format!("u.{}", quote(dialect, column))
    }

    /// The session and its user by token: better-auth's `findSession` with `join: { user }`.
    /// Columns in the order of `SESSION_FIELDS` then `USER_FIELDS`; dates as epoch milliseconds
    /// in PostgreSQL and MySQL, as stored (ISO-8601 text) in SQLite.
    pub(crate) fn select(&self, dialect: Dialect) -> String {
        let date = |column: String| match dialect {
            Dialect::Postgres => format!("floor(extract(epoch from {column}) * 1000)::int8"),
            Dialect::Mysql => format!("CAST(UNIX_TIMESTAMP({column}) * 1000 AS SIGNED)"),
            Dialect::Sqlite => column,
        };
        let is_date = |f: &str| f.ends_with("At");
        let columns: Vec<String> = SESSION_FIELDS
            .iter()
            .map(|f| match is_date(f) {
                true => date(self.session(dialect, f)),
                false => self.session(dialect, f),
            })
            .chain(USER_FIELDS.iter().map(|f| match is_date(f) {
                true => date(self.user(dialect, f)),
                false => self.user(dialect, f),
            }))
            .collect();
        format!(
            "SELECT {} FROM {} s JOIN {} u ON {} = {} WHERE {} = {}",
            columns.join(", "),
            quote(dialect, &self.session_model),
            quote(dialect, &self.user_model),
            self.user(dialect, "id"),
            self.session(dialect, "userId"),
            self.session(dialect, "token"),
            placeholder(dialect, 1),
        )
    }

    /// The refresh of a session's expiry: better-auth's `updateSession(token, { expiresAt,
    /// updatedAt })`. Binds: expiresAt, updatedAt (epoch milliseconds in PostgreSQL and MySQL,
    /// ISO text in SQLite), token.
    pub(crate) fn update(&self, dialect: Dialect) -> String {
        let column = |f: &'static str| quote(dialect, self.session_fields.get(f).map_or(f, |c| c));
        let date = |n: usize| match dialect {
            Dialect::Postgres => {
                format!("to_timestamp({}::float8 / 1000)", placeholder(dialect, n))
            }
            Dialect::Mysql => format!("FROM_UNIXTIME({} / 1000)", placeholder(dialect, n)),
            Dialect::Sqlite => placeholder(dialect, n),
        };
        format!(
            "UPDATE {} SET {} = {}, {} = {} WHERE {} = {}",
            quote(dialect, &self.session_model),
            column("expiresAt"),
            date(1),
            column("updatedAt"),
            date(2),
            column("token"),
            placeholder(dialect, 3),
        )
    }
}

fn known(fields: &[&'static str], field: &str, model: &str) -> &'static str {
    fields
        .iter()
        .copied()
        .find(|f| *f == field)
        .unwrap_or_else(|| panic!("better-auth's {model} has no field {field:?}"))
}

/// A quoted identifier: PostgreSQL and SQLite take `"…"` with `""` inside, MySQL `` `…` ``
/// with ``` `` ``` inside.
fn quote(dialect: Dialect, name: &str) -> String {
    match dialect {
        Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

fn placeholder(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Postgres => format!("${n}"),
        Dialect::Sqlite => format!("?{n}"),
        Dialect::Mysql => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_queries_name_better_auths_tables() {
        let s = Schema::new();
        assert_eq!(
            s.select(Dialect::Sqlite),
            "SELECT s.\"id\", s.\"token\", s.\"userId\", s.\"expiresAt\", s.\"createdAt\", \
             s.\"updatedAt\", s.\"ipAddress\", s.\"userAgent\", u.\"id\", u.\"name\", u.\"email\", \
             u.\"emailVerified\", u.\"image\", u.\"createdAt\", u.\"updatedAt\" FROM \"session\" s \
             JOIN \"user\" u ON u.\"id\" = s.\"userId\" WHERE s.\"token\" = ?1"
        );
        assert_eq!(
            s.update(Dialect::Postgres),
            "UPDATE \"session\" SET \"expiresAt\" = to_timestamp($1::float8 / 1000), \
             \"updatedAt\" = to_timestamp($2::float8 / 1000) WHERE \"token\" = $3"
        );
    }

    #[test]
    fn renames_are_quoted_and_applied() {
        let s = Schema::new()
            .use_plural()
            .session_field("expiresAt", "expires_at")
            .user_field("email", "e\"mail");
        let q = s.select(Dialect::Postgres);
        assert!(
            q.contains("floor(extract(epoch from s.\"expires_at\") * 1000)::int8"),
            "{q}"
        );
        assert!(q.contains("u.\"e\"\"mail\""), "{q}");
        assert!(q.contains("FROM \"sessions\" s JOIN \"users\" u"), "{q}");
        assert!(q.ends_with("WHERE s.\"token\" = $1"), "{q}");
    }

    #[test]
    fn mysql_quotes_with_backticks() {
        let s = Schema::new().session_field("token", "to`ken");
        let q = s.select(Dialect::Mysql);
        assert!(
            q.contains("CAST(UNIX_TIMESTAMP(s.`expiresAt`) * 1000 AS SIGNED)"),
            "{q}"
        );
        assert!(
            q.ends_with(
                "FROM `session` s JOIN `user` u ON u.`id` = s.`userId` WHERE s.`to``ken` = ?"
            ),
            "{q}"
        );
        assert_eq!(
            s.update(Dialect::Mysql),
            "UPDATE `session` SET `expiresAt` = FROM_UNIXTIME(? / 1000), `updatedAt` = \
             FROM_UNIXTIME(? / 1000) WHERE `to``ken` = ?"
        );
    }

    #[test]
    #[should_panic(expected = "better-auth's session has no field \"expires\"")]
    fn unknown_fields_are_a_programming_error() {
        let _ = Schema::new().session_field("expires", "x");
    }
}
