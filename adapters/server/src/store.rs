//! Opening the credential store the configuration asks for.

use std::sync::Arc;

use secrecy::ExposeSecret;
use vault::{
    CredentialStore, FileBackend, Keyring, KeyringError, PostgresBackend, StoreError, Vault,
};

use crate::config::Config;

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenStoreError {
    /// The vault keys could not be loaded.
    #[error("vault keys: {0} (set BROKER_VAULT_KEYS or keys_file / BROKERD_KEYS_FILE)")]
    Keys(#[from] KeyringError),
    /// The backend could not be opened.
    #[error("credential store: {0}")]
    Store(#[from] StoreError),
}

/// The vault keys: from `keys_file` when configured, else from `BROKER_VAULT_KEYS`.
///
/// # Errors
/// [`KeyringError`] from the file or the variable.
pub fn load_keyring(config: &Config) -> Result<Keyring, KeyringError> {
    match &config.keys_file {
        Some(path) => Keyring::from_file(path),
        None => Keyring::from_env(),
    }
}

/// The opened store, and its Postgres pool when it is on Postgres (the scheduler's journal,
/// intents and claims live next to the vault's tables).
pub struct OpenedStore {
    /// The store.
    pub store: Arc<dyn CredentialStore>,
    /// The pool, on Postgres.
    pub pool: Option<sqlx::PgPool>,
}

/// Opens the Postgres store when a database URL is configured, else the file store in
/// `data_dir`.
///
/// # Errors
/// [`OpenStoreError`].
pub async fn open_store(config: &Config, keyring: Keyring) -> Result<OpenedStore, OpenStoreError> {
    Ok(match &config.database_url {
        Some(url) => {
            let backend = match &config.database_schema {
                Some(schema) => {
                    PostgresBackend::connect_in_schema(url.expose_secret(), schema).await?
                }
                None => PostgresBackend::connect(url.expose_secret()).await?,
            };
            tracing::info!(schema = ?config.database_schema, "credential store: Postgres");
            let pool = backend.pool().clone();
            OpenedStore {
                store: Arc::new(Vault::open(backend, keyring).await?),
                pool: Some(pool),
            }
        }
        None => {
            let backend = FileBackend::open(&config.data_dir)?;
            tracing::info!(dir = %config.data_dir.display(), "credential store: file");
            OpenedStore {
                store: Arc::new(Vault::open(backend, keyring).await?),
                pool: None,
            }
        }
    })
}
