//! The suite against Postgres (`DATABASE_URL`), each test in a fresh schema.

use crate::fixtures::postgres_fixture;

crate::store_behaviours!(postgres_fixture);

/// The existing platform's column names, which other tools already query.
#[tokio::test]
async fn migrations_create_the_platform_tables_and_columns() {
    let Some(fixture) = postgres_fixture().await else {
        return;
    };
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
    )
    .fetch_all(fixture.vault.backend().pool())
    .await
    .unwrap();
    let named = |table: &str| -> Vec<&str> {
        columns
            .iter()
            .filter(|(name, _)| name == table)
            .map(|(_, column)| column.as_str())
            .collect()
    };
    assert_eq!(
        named("broker_accounts"),
        [
            "id",
            "user_id",
            "broker",
            "api_key_encrypted",
            "api_secret_encrypted",
            "client_id_encrypted",
            "mpin_encrypted",
            "totp_secret_encrypted",
            "egress_ip",
            "auto_execute",
            "status",
            "created_at",
            "updated_at",
        ]
    );
    assert_eq!(
        named("broker_sessions"),
        [
            "account_id",
            "access_token_encrypted",
            "refresh_token_encrypted",
            "feed_token_encrypted",
            "expires_at",
            "updated_at",
        ]
    );
    fixture.finish().await;
}
