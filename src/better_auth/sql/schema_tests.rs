//! The queries a `Schema` builds.

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
        q.ends_with("FROM `session` s JOIN `user` u ON u.`id` = s.`userId` WHERE s.`to``ken` = ?"),
        "{q}"
    );
    assert_eq!(
        s.update(Dialect::Mysql),
        "UPDATE `session` SET `expiresAt` = FROM_UNIXTIME(? / 1000), `updatedAt` = \
         FROM_UNIXTIME(? / 1000) WHERE `to``ken` = ?"
    );
}

#[test]
fn additional_fields_follow_the_core_ones_renamed_and_typed() {
    let s = Schema::new()
        .admin()
        .organization()
        .user_field("role", "user_role")
        .user_additional_field("prefs", FieldType::Json);
    let q = s.select(Dialect::Postgres);
    assert!(
        q.contains(
            "u.\"updatedAt\") * 1000)::int8, s.\"impersonatedBy\", s.\"activeOrganizationId\", \
             u.\"user_role\", u.\"banned\", u.\"banReason\", \
             floor(extract(epoch from u.\"banExpires\") * 1000)::int8, CAST(u.\"prefs\" AS text) FROM"
        ),
        "{q}"
    );
    let (session, user) = s.additional();
    assert_eq!(session.len(), 2);
    assert_eq!(user[0], ("role".to_string(), FieldType::String));
    assert_eq!(user[4], ("prefs".to_string(), FieldType::Json));
}

#[test]
#[should_panic(expected = "better-auth's user has no field \"role\" (declare")]
fn renaming_an_undeclared_field_is_a_programming_error() {
    let _ = Schema::new().user_field("role", "user_role").admin();
}

#[test]
#[should_panic(expected = "better-auth's session has no field \"expires\"")]
fn unknown_fields_are_a_programming_error() {
    let _ = Schema::new().session_field("expires", "x");
}
