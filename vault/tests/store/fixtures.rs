//! Keys, credentials and per-test stores.

use broker_core::{AngelOneCredentials, BrokerCredentials, SessionTokens, ZerodhaCredentials};
use chrono::{Duration, SubsecRound, Utc};
use secrecy::{ExposeSecret, SecretString};
use sqlx::Executor;
use sqlx::postgres::{PgPool, PgPoolOptions};
use tempfile::TempDir;
use vault::{AccountId, FileBackend, KeyId, KeyMaterial, Keyring, PostgresBackend, UserId, Vault};

/// Eight digits, so it cannot turn up by chance in the ids and timestamps of a log line.
pub const MPIN: &str = "48317265";
pub const TOTP_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

pub fn key_id(id: &str) -> KeyId {
    KeyId::new(id).unwrap()
}

pub fn keyring() -> Keyring {
    Keyring::new(key_id("kid0"), &KeyMaterial::generate())
}

/// Angel One credentials whose every secret contains `tag`, so leaks are easy to spot.
pub fn angel_one(tag: &str) -> BrokerCredentials {
    let credentials = AngelOneCredentials::new(
        SecretString::from(format!("angelKEY{tag}")),
        format!("C{tag}"),
        MPIN.into(),
        TOTP_SECRET.into(),
    )
    .unwrap()
    .with_api_secret(SecretString::from(format!("angelSECRET{tag}")))
    .unwrap();
    BrokerCredentials::AngelOne(credentials)
}

pub fn zerodha(tag: &str) -> BrokerCredentials {
    let credentials = ZerodhaCredentials::new(
        SecretString::from(format!("kiteKEY{tag}")),
        SecretString::from(format!("kiteSECRET{tag}")),
    )
    .unwrap();
    BrokerCredentials::Zerodha(credentials)
}

/// Every value of a credential set, exposed, for comparing.
pub fn exposed(credentials: &BrokerCredentials) -> Vec<String> {
    match credentials {
        BrokerCredentials::AngelOne(angel) => vec![
            angel.api_key().expose_secret().to_owned(),
            angel.client_code().to_owned(),
            angel.mpin().expose_secret().to_owned(),
            angel.totp_secret().expose_secret().to_owned(),
            angel
                .api_secret()
                .map(|secret| secret.expose_secret().to_owned())
                .unwrap_or_default(),
        ],
        BrokerCredentials::Zerodha(kite) => vec![
            kite.api_key().expose_secret().to_owned(),
            kite.api_secret().expose_secret().to_owned(),
        ],
        other => panic!("unexpected credentials {other:?}"),
    }
}

pub fn session(tag: &str) -> SessionTokens {
    SessionTokens::new(
        SecretString::from(format!("eyJaccess{tag}")),
        (Utc::now() + Duration::hours(12)).trunc_subsecs(6),
    )
    .unwrap()
    .with_refresh_token(SecretString::from(format!("refresh{tag}")))
    .with_feed_token(SecretString::from(format!("feed{tag}")))
}

pub fn exposed_session(tokens: &SessionTokens) -> (String, Option<String>, Option<String>) {
    let expose = |token: &SecretString| token.expose_secret().to_owned();
    (
        expose(tokens.access_token()),
        tokens.refresh_token().map(expose),
        tokens.feed_token().map(expose),
    )
}

/// What someone with write access to the storage (not to the keys) can do: give a row to
/// another user, behind the vault's back.
#[async_trait::async_trait]
pub trait MoveRow {
    async fn move_to_user(&self, account: AccountId, new_owner: UserId);
}

#[async_trait::async_trait]
impl MoveRow for FileBackend {
    async fn move_to_user(&self, account: AccountId, new_owner: UserId) {
        let path = self.dir().join(vault::file::DATA_FILE);
        let mut data: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        data["accounts"][account.to_string()]["user_id"] = new_owner.to_string().into();
        std::fs::write(&path, data.to_string()).unwrap();
    }
}

#[async_trait::async_trait]
impl MoveRow for PostgresBackend {
    async fn move_to_user(&self, account: AccountId, new_owner: UserId) {
        let moved = sqlx::query("UPDATE broker_accounts SET user_id = $1 WHERE id = $2")
            .bind(new_owner.as_uuid())
            .bind(account.as_uuid())
            .execute(self.pool())
            .await
            .unwrap();
        assert_eq!(moved.rows_affected(), 1);
    }
}

/// A vault over a fresh file directory.
pub struct FileFixture {
    pub vault: Vault<FileBackend>,
    _dir: TempDir,
}

impl FileFixture {
    pub async fn finish(self) {}
}

pub async fn file_fixture() -> Option<FileFixture> {
    let dir = tempfile::tempdir().unwrap();
    let backend = FileBackend::open(dir.path().join("vault")).unwrap();
    Some(FileFixture {
        vault: Vault::new(backend, keyring()),
        _dir: dir,
    })
}

/// A vault over a fresh Postgres schema.
pub struct PostgresFixture {
    pub vault: Vault<PostgresBackend>,
    admin: PgPool,
    schema: String,
}

impl PostgresFixture {
    pub async fn finish(self) {
        self.vault.backend().pool().close().await;
        let drop = format!("DROP SCHEMA {} CASCADE", self.schema);
        self.admin.execute(drop.as_str()).await.unwrap();
    }
}

/// `DATABASE_URL`, or `None` with the reason printed; in CI (`CI=true`) a missing URL fails.
pub fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("DATABASE_URL must be set when CI=true: the Postgres suite may not be skipped")
        }
        Err(_) => {
            eprintln!("skipping Postgres test: DATABASE_URL is not set");
            None
        }
    }
}

pub async fn postgres_fixture() -> Option<PostgresFixture> {
    let url = database_url()?;
    let schema = format!("vault_test_{}", uuid::Uuid::new_v4().simple());
    let backend = PostgresBackend::connect_in_schema(&url, &schema)
        .await
        .unwrap();
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    Some(PostgresFixture {
        vault: Vault::new(backend, keyring()),
        admin,
        schema,
    })
}
