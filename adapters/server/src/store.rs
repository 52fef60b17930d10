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

/// Opens the Postgres store when a database URL is configured, else the file store in
/// `data_dir`.
///
/// # Errors
/// [`OpenStoreError`].
pub async fn open_store(
    config: &Config,
    keyring: Keyring,
) -> Result<Arc<dyn CredentialStore>, OpenStoreError> {
    Ok(match &config.database_url {
        Some(url) => {
            let backend = match &config.database_schema {
                Some(schema) => {
                    PostgresBackend::connect_in_schema(url.expose_secret(), schema).await?
                }
                None => PostgresBackend::connect(url.expose_secret()).await?,
            };
            tracing::info!(schema = ?config.database_schema, "credential store: Postgres");
            Arc::new(Vault::open(backend, keyring).await?)
        }
        None => {
            let backend = FileBackend::open(&config.data_dir)?;
            tracing::info!(dir = %config.data_dir.display(), "credential store: file");
            Arc::new(Vault::open(backend, keyring).await?)
        }
    })
}
