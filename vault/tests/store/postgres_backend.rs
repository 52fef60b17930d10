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

/// Supabase serves the schema to the `anon` and `authenticated` roles and grants them every new
/// table by default; after the migrations neither may touch the vault's tables, and row-level
/// security (with no policy) hides every row from any other role that gets a grant later.
#[tokio::test]
async fn tables_are_closed_to_supabase_client_roles() {
    let Some(url) = crate::fixtures::database_url() else {
        return;
    };
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let schema = format!("vault_test_{}", uuid::Uuid::new_v4().simple());
    // Roles are cluster-wide; parallel tests may create them at the same time.
    sqlx::raw_sql(
        "DO $$ BEGIN CREATE ROLE anon NOLOGIN; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$; \
         DO $$ BEGIN CREATE ROLE authenticated NOLOGIN; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;",
    )
    .execute(&admin)
    .await
    .unwrap();
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA {schema}; GRANT USAGE ON SCHEMA {schema} TO anon, authenticated; \
         ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT ALL ON TABLES TO anon, authenticated; \
         ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT ALL ON FUNCTIONS TO anon, authenticated;"
    ))
    .execute(&admin)
    .await
    .unwrap();
    let backend = vault::PostgresBackend::connect_in_schema(&url, &schema)
        .await
        .unwrap();
    for table in ["broker_accounts", "broker_sessions", "legacy_placements"] {
        let qualified = format!("{schema}.{table}");
        let (row_security, anon, authenticated, public): (bool, bool, bool, bool) =
            sqlx::query_as(
                "SELECT c.relrowsecurity, \
                        has_table_privilege('anon', c.oid, 'SELECT, INSERT, UPDATE, DELETE'), \
                        has_table_privilege('authenticated', c.oid, 'SELECT, INSERT, UPDATE, DELETE'), \
                        EXISTS (SELECT 1 FROM aclexplode(c.relacl) AS grant_ WHERE grant_.grantee = 0) \
                 FROM pg_class c WHERE c.oid = $1::regclass",
            )
            .bind(&qualified)
            .fetch_one(&admin)
            .await
            .unwrap();
        assert!(row_security, "{table}: row-level security is off");
        assert!(!anon, "{table}: anon keeps a privilege");
        assert!(!authenticated, "{table}: authenticated keeps a privilege");
        assert!(!public, "{table}: PUBLIC keeps a privilege");
    }
    let (anon_may_call,): (bool,) = sqlx::query_as(&format!(
        "SELECT has_function_privilege('anon', '{schema}.revoke_client_access(regclass)', 'EXECUTE')"
    ))
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(!anon_may_call, "anon may call revoke_client_access");
    backend.pool().close().await;
    sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
}

/// A row this binary cannot read (here a status a newer schema added) is skipped: every other
/// tenant's account is still due for its run.
#[tokio::test]
async fn one_unreadable_row_does_not_hide_the_other_due_accounts() {
    use vault::CredentialStore;
    let Some(fixture) = postgres_fixture().await else {
        return;
    };
    let vault = &fixture.vault;
    let mut ids = Vec::new();
    for tag in ["a", "b", "c"] {
        let owner = vault::UserId::new_random();
        let id = vault
            .create_account(owner, &crate::fixtures::angel_one(tag))
            .await
            .unwrap()
            .id;
        vault.set_auto_execute(owner, id, true).await.unwrap();
        ids.push(id);
    }
    sqlx::raw_sql(&format!(
        "ALTER TABLE broker_accounts DROP CONSTRAINT broker_accounts_status_check; \
         UPDATE broker_accounts SET status = 'from_a_newer_schema' WHERE id = '{}'",
        ids[1]
    ))
    .execute(vault.backend().pool())
    .await
    .unwrap();
    let due: Vec<_> = vault
        .accounts_due_for_run()
        .await
        .unwrap()
        .into_iter()
        .map(|account| account.id)
        .collect();
    let mut expected = vec![ids[0], ids[2]];
    expected.sort();
    assert_eq!(due, expected);
    fixture.finish().await;
}
