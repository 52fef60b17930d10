//! Adopting the platform's existing Supabase `broker_accounts` table in place, with Web Crypto
//! ciphertexts made by Node's `crypto.subtle` as the platform's Edge Function made them, then
//! re-sealing them with `migrate_legacy`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sqlx::PgPool;
use vault::{
    AccountId, CredentialStore, LegacyDecryptor, LegacyFormat, PostgresBackend, StoreError, UserId,
    Vault,
};

use crate::fixtures::{database_url, exposed, keyring, zerodha};
use crate::webcrypto::node_encrypt;

/// The platform's table as Supabase holds it: its own columns around the two ciphertexts.
const PLATFORM_TABLE: &str = "CREATE TABLE broker_accounts (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id              UUID NOT NULL,
    broker               TEXT NOT NULL,
    api_key_encrypted    TEXT,
    api_secret_encrypted TEXT,
    is_active            BOOLEAN NOT NULL DEFAULT TRUE,
    nickname             TEXT,
    created_at           TIMESTAMPTZ DEFAULT now()
)";

/// A fresh schema holding a copy of the platform's table; dropped by `drop_schema`.
async fn platform_schema(url: &str) -> (PgPool, String) {
    let admin = PgPool::connect(url).await.unwrap();
    let schema = format!("vault_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA {schema}; SET search_path TO {schema}; {PLATFORM_TABLE}"
    ))
    .execute(&admin)
    .await
    .unwrap();
    (admin, schema)
}

async fn drop_schema(admin: &PgPool, schema: &str) {
    sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(admin)
        .await
        .unwrap();
}

async fn columns(pool: &PgPool, schema: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = 'broker_accounts' ORDER BY ordinal_position",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_platforms_table_is_adopted_in_place_and_its_web_crypto_values_re_sealed() {
    let Some(url) = database_url() else { return };
    let legacy_key = [0x5cu8; 32];
    let tags = ["one", "two", "three"];
    let plaintexts: Vec<String> = tags
        .iter()
        .flat_map(|tag| [format!("kiteKEY{tag}"), format!("kiteSECRET{tag}")])
        .collect();
    let plaintexts: Vec<&str> = plaintexts.iter().map(String::as_str).collect();
    let Some(sealed) = node_encrypt(&legacy_key, &plaintexts) else {
        return;
    };
    let (admin, schema) = platform_schema(&url).await;

    // The platform's rows: one layout per row (its function changed over time), one inactive.
    let mut rows: Vec<(AccountId, UserId, &str)> = Vec::new();
    for (index, tag) in tags.iter().enumerate() {
        let (key, secret) = (&sealed[2 * index], &sealed[2 * index + 1]);
        let (key, secret) = match index {
            0 => (&key.concatenated_base64, &secret.concatenated_base64),
            1 => (&key.colon_hex, &secret.colon_hex),
            _ => (&key.colon_base64, &secret.colon_base64),
        };
        let owner = UserId::new_random();
        let id: uuid::Uuid = sqlx::query_scalar(&format!(
            "INSERT INTO {schema}.broker_accounts \
             (user_id, broker, api_key_encrypted, api_secret_encrypted, is_active, nickname) \
             VALUES ($1, 'zerodha', $2, $3, $4, $5) RETURNING id"
        ))
        .bind(owner.as_uuid())
        .bind(key)
        .bind(secret)
        .bind(index != 2)
        .bind(format!("kite {tag}"))
        .fetch_one(&admin)
        .await
        .unwrap();
        rows.push((AccountId::from_uuid(id), owner, tag));
    }
    let platform_columns = columns(&admin, &schema).await;

    let backend = PostgresBackend::connect_in_schema(&url, &schema)
        .await
        .unwrap();

    // Every platform column is still there, first and in order, followed by the vault's.
    let adopted_columns = columns(&admin, &schema).await;
    assert_eq!(adopted_columns[..platform_columns.len()], platform_columns);
    for added in [
        "client_id_encrypted",
        "mpin_encrypted",
        "totp_secret_encrypted",
        "egress_ip",
        "auto_execute",
        "status",
        "updated_at",
    ] {
        assert!(
            adopted_columns.iter().any(|c| c == added),
            "{added} missing"
        );
    }
    let legacy =
        LegacyDecryptor::from_base64_key(&STANDARD.encode(legacy_key).into(), LegacyFormat::Detect)
            .unwrap();
    let migrating = Vault::new(backend.clone(), keyring()).with_legacy(legacy);
    let pending = migrating.pending_reencryption().await.unwrap();
    assert_eq!(pending.legacy, 3, "{pending:?}");
    for (id, owner, tag) in &rows {
        let account = migrating.account(*owner, *id).await.unwrap().unwrap();
        assert_eq!(account.status, vault::AccountStatus::Pending);
        let opened = migrating.credentials(*owner, *id).await.unwrap();
        assert_eq!(exposed(&opened), exposed(&zerodha(tag)));
    }

    let report = migrating.migrate_legacy(2).await.unwrap();
    assert_eq!(
        (
            report.rows,
            report.fields,
            report.unreadable,
            report.misplaced
        ),
        (3, 6, 0, 0),
        "{report:?}"
    );
    let plain = Vault::new(backend.clone(), (*migrating.keyring()).clone());
    for (id, owner, tag) in &rows {
        let opened = plain.credentials(*owner, *id).await.unwrap();
        assert_eq!(exposed(&opened), exposed(&zerodha(tag)));
    }
    // Re-sealed in place: same rows, the platform's own columns untouched.
    let stored: Vec<(uuid::Uuid, bool, String, String, String)> = sqlx::query_as(&format!(
        "SELECT id, is_active, nickname, api_key_encrypted, api_secret_encrypted \
         FROM {schema}.broker_accounts ORDER BY nickname"
    ))
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(stored.len(), 3);
    for (id, is_active, nickname, key, secret) in stored {
        let (_, _, tag) = rows.iter().find(|row| row.0.as_uuid() == id).unwrap();
        assert_eq!(nickname, format!("kite {tag}"));
        assert_eq!(is_active, *tag != "three");
        assert!(key.starts_with("v2.kid0.") && secret.starts_with("v2.kid0."));
    }

    // The vault now works on the adopted table as on its own, and a second start adopts
    // nothing again.
    let owner = UserId::new_random();
    let added = plain.create_account(owner, &zerodha("new")).await.unwrap();
    plain
        .save_session(owner, added.id, &crate::fixtures::session("new"))
        .await
        .unwrap();
    backend.pool().close().await;
    let again = PostgresBackend::connect_in_schema(&url, &schema)
        .await
        .unwrap();
    let reopened = Vault::new(again.clone(), (*migrating.keyring()).clone());
    assert_eq!(reopened.accounts(owner).await.unwrap(), [added]);
    again.pool().close().await;
    drop_schema(&admin, &schema).await;
}

#[tokio::test]
async fn a_broker_accounts_table_that_is_not_the_platforms_is_refused_untouched() {
    let Some(url) = database_url() else { return };
    let admin = PgPool::connect(&url).await.unwrap();
    let schema = format!("vault_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA {schema}; \
         CREATE TABLE {schema}.broker_accounts (id UUID PRIMARY KEY, user_id UUID, broker TEXT)"
    ))
    .execute(&admin)
    .await
    .unwrap();
    let error = PostgresBackend::connect_in_schema(&url, &schema)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StoreError::UnadoptableTable { detail } if detail.contains("api_key_encrypted")),
        "{error}"
    );
    assert_eq!(columns(&admin, &schema).await, ["id", "user_id", "broker"]);

    // Unknown broker names are refused before anything changes.
    sqlx::raw_sql(&format!(
        "ALTER TABLE {schema}.broker_accounts ADD COLUMN api_key_encrypted TEXT, \
         ADD COLUMN api_secret_encrypted TEXT; \
         INSERT INTO {schema}.broker_accounts VALUES (gen_random_uuid(), gen_random_uuid(), 'AngelOne', 'x', 'y')"
    ))
    .execute(&admin)
    .await
    .unwrap();
    let error = PostgresBackend::connect_in_schema(&url, &schema)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("\"AngelOne\""), "{error}");
    assert_eq!(columns(&admin, &schema).await.len(), 5);
    drop_schema(&admin, &schema).await;
}
