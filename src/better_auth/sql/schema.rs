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

/// The names of better-auth's `session` and `user` tables and their columns, and the fields
/// its plugins and the app add to them.
///
/// The default is better-auth's own core schema. Renames mirror better-auth's options:
/// `session.modelName`, `session.fields`, `user.modelName`, `user.fields`, and
/// `advanced.database.usePlural`. Fields beyond the core ones are read only once declared:
/// [`admin`](Schema::admin) and [`organization`](Schema::organization) for those plugins,
/// [`user_additional_field`](Schema::user_additional_field) and
/// [`session_additional_field`](Schema::session_additional_field) for the app's
/// `additionalFields`.
///
/// ```
/// use tower_bearer::better_auth::{FieldType, Schema};
///
/// // betterAuth({
/// //   session: { modelName: "auth_sessions", fields: { expiresAt: "expires_at" } },
/// //   user: { additionalFields: { plan: { type: "string" } } },
/// //   plugins: [admin(), organization()],
/// // })
/// let schema = Schema::new()
///     .session_model("auth_sessions")
///     .session_field("expiresAt", "expires_at")
///     .admin()
///     .organization()
///     .user_additional_field("plan", FieldType::String);
/// # let _ = schema;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    session_model: String,
    user_model: String,
    session_fields: BTreeMap<String, String>,
    user_fields: BTreeMap<String, String>,
    session_additional: Vec<Declared>,
    user_additional: Vec<Declared>,
}

/// An additional field: its better-auth name and its type.
pub(crate) type Declared = (String, FieldType);

/// The type of a field beyond better-auth's core ones, as its `additionalFields` (or a
/// plugin's schema) declares it: how the column is read into
/// [`additional_fields`](super::User::additional_fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldType {
    /// `"string"`: a JSON string.
    String,
    /// `"number"`: a JSON number (integer or floating point, as stored).
    Number,
    /// `"boolean"`: a JSON boolean (SQLite's and MySQL's integers included).
    Boolean,
    /// `"date"`: an ISO-8601 string, as get-session answers it.
    Date,
    /// `"json"`, `"string[]"`, `"number[]"`: JSON kept as text (or `jsonb`), parsed.
    Json,
}

impl Default for Schema {
    fn default() -> Self {
        Schema {
            session_model: "session".into(),
            user_model: "user".into(),
            session_fields: BTreeMap::new(),
            user_fields: BTreeMap::new(),
            session_additional: Vec::new(),
            user_additional: Vec::new(),
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

impl Dialect {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
            Dialect::Mysql => "mysql",
        }
    }
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

    /// The admin plugin's fields: the user's `role`, `banned`, `banReason` and `banExpires`,
    /// and the session's `impersonatedBy`.
    pub fn admin(self) -> Self {
        self.user_additional_field("role", FieldType::String)
            .user_additional_field("banned", FieldType::Boolean)
            .user_additional_field("banReason", FieldType::String)
            .user_additional_field("banExpires", FieldType::Date)
            .session_additional_field("impersonatedBy", FieldType::String)
    }

    /// The organization plugin's field on the session: `activeOrganizationId`. With its
    /// teams, add `session_additional_field("activeTeamId", FieldType::String)`.
    pub fn organization(self) -> Self {
        self.session_additional_field("activeOrganizationId", FieldType::String)
    }

    /// A field the app or a plugin adds to the user (`user.additionalFields.<field>`), by
    /// better-auth's field name. Declaring a field twice keeps the last type.
    pub fn user_additional_field(mut self, field: impl Into<String>, ty: FieldType) -> Self {
        declare(&mut self.user_additional, field.into(), ty, &USER_FIELDS);
        self
    }

    /// A field the app or a plugin adds to the session (`session.additionalFields.<field>`).
    pub fn session_additional_field(mut self, field: impl Into<String>, ty: FieldType) -> Self {
        declare(
            &mut self.session_additional,
            field.into(),
            ty,
            &SESSION_FIELDS,
        );
        self
    }

    /// The column that holds a session field (`session.fields.<field>`).
    ///
    /// # Panics
    ///
    /// If `field` is neither one of the session's core fields (`id`, `token`, `userId`,
    /// `expiresAt`, `createdAt`, `updatedAt`, `ipAddress`, `userAgent`) nor declared before
    /// (by [`admin`](Schema::admin), [`organization`](Schema::organization) or
    /// [`session_additional_field`](Schema::session_additional_field)).
    pub fn session_field(mut self, field: &str, column: impl Into<String>) -> Self {
        known(&SESSION_FIELDS, &self.session_additional, field, "session");
        self.session_fields.insert(field.into(), column.into());
        self
    }

    /// The column that holds a user field (`user.fields.<field>`).
    ///
    /// # Panics
    ///
    /// If `field` is neither one of the user's core fields (`id`, `name`, `email`,
    /// `emailVerified`, `image`, `createdAt`, `updatedAt`) nor declared before (by
    /// [`admin`](Schema::admin) or [`user_additional_field`](Schema::user_additional_field)).
    pub fn user_field(mut self, field: &str, column: impl Into<String>) -> Self {
        known(&USER_FIELDS, &self.user_additional, field, "user");
        self.user_fields.insert(field.into(), column.into());
        self
    }

    /// The fields beyond the core ones, in the order [`select`](Schema::select) reads them
    /// after the core columns: the session's, then the user's.
    pub(crate) fn additional(&self) -> (&[Declared], &[Declared]) {
        (&self.session_additional, &self.user_additional)
    }

    /// Each table the session query reads, with the columns it reads there as (field,
    /// column): what the schema check looks for in the database.
    pub(crate) fn needed(&self) -> Vec<(String, Vec<(String, String)>)> {
        let columns =
            |core: &[&str], additional: &[Declared], renamed: &BTreeMap<String, String>| {
                core.iter()
                    .map(|f| f.to_string())
                    .chain(additional.iter().map(|(f, _)| f.clone()))
                    .map(|f| {
                        let column = renamed.get(&f).cloned().unwrap_or_else(|| f.clone());
                        (f, column)
                    })
                    .collect()
            };
        vec![
            (
                self.session_model.clone(),
                columns(
                    &SESSION_FIELDS,
                    &self.session_additional,
                    &self.session_fields,
                ),
            ),
            (
                self.user_model.clone(),
                columns(&USER_FIELDS, &self.user_additional, &self.user_fields),
            ),
        ]
    }

    fn session(&self, dialect: Dialect, field: &str) -> String {
        let column = self.session_fields.get(field).map_or(field, |c| c);
        format!("s.{}", quote(dialect, column))
    }

    fn user(&self, dialect: Dialect, field: &str) -> String {
        let column = self.user_fields.get(field).map_or(field, |c| c);
        format!("u.{}", quote(dialect, column))
    }

    /// The session and its user by token: better-auth's `findSession` with `join: { user }`.
    /// Columns in the order of `SESSION_FIELDS`, `USER_FIELDS`, the session's additional
    /// fields, the user's; dates as epoch milliseconds in PostgreSQL and MySQL, as stored
    /// (ISO-8601 text) in SQLite; JSON as text.
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
            .chain(
                self.session_additional
                    .iter()
                    .map(|(f, ty)| additional(dialect, *ty, self.session(dialect, f), &date)),
            )
            .chain(
                self.user_additional
                    .iter()
                    .map(|(f, ty)| additional(dialect, *ty, self.user(dialect, f), &date)),
            )
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

/// An additional field's column as selected: dates as the dialect reads them, JSON as text.
fn additional(
    dialect: Dialect,
    ty: FieldType,
    column: String,
    date: &dyn Fn(String) -> String,
) -> String {
    match (ty, dialect) {
        (FieldType::Date, _) => date(column),
        (FieldType::Json, Dialect::Postgres) => format!("CAST({column} AS text)"),
        (FieldType::Json, Dialect::Mysql) => format!("CAST({column} AS CHAR)"),
        _ => column,
    }
}

fn declare(declared: &mut Vec<Declared>, field: String, ty: FieldType, core: &[&str]) {
    assert!(
        !core.contains(&field.as_str()),
        "{field:?} is one of better-auth's core fields, read already"
    );
    declared.retain(|(f, _)| *f != field);
    declared.push((field, ty));
}

fn known(core: &[&str], additional: &[Declared], field: &str, model: &str) {
    let declared = additional.iter().any(|(f, _)| f == field);
    assert!(
        core.contains(&field) || declared,
        "better-auth's {model} has no field {field:?} (declare an additional field before \
         renaming its column)"
    );
}

/// A quoted identifier: PostgreSQL and SQLite take `"…"` with `""` inside, MySQL `` `…` ``
/// with ``` `` ``` inside.
pub(crate) fn quote(dialect: Dialect, name: &str) -> String {
    match dialect {
        Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

pub(crate) fn placeholder(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Postgres => format!("${n}"),
        Dialect::Sqlite => format!("?{n}"),
        Dialect::Mysql => "?".into(),
    }
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
