//! Where the store, the keys and the settings come from: the global options and environment.

use std::path::PathBuf;
use std::sync::Arc;

use broker_connect::Connector;
use broker_worker::{KITE_STATE_KEY_ENV_VAR, WorkerConfig, kite_state_key_from_env};
use secrecy::SecretSlice;
use vault::{
    AccountId, BrokerAccount, CredentialStore, FileBackend, Keyring, LegacyDecryptor,
    PostgresBackend, UserId, Vault,
};

use crate::failure::{EXIT_KEY, Failure, Outcome};

/// The environment variable naming the Postgres store (a URL may hold a password, so it is
/// never an argument).
pub const DATABASE_URL_ENV_VAR: &str = "DATABASE_URL";

/// The global options every command shares.
#[derive(Debug, Clone, clap::Args)]
pub struct Globals {
    /// The file store's directory (used when DATABASE_URL is not set).
    #[arg(long, global = true, env = "BROKER_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The Postgres schema of the store (when DATABASE_URL is set; default: the connection's
    /// search path).
    #[arg(long, global = true, env = "BROKER_DB_SCHEMA")]
    pub db_schema: Option<String>,
    /// The vault's keyring file (`kid:<base64>` lines, primary first, mode 600); without it
    /// the keys come from BROKER_VAULT_KEYS.
    #[arg(long, global = true, env = "BROKER_KEYS_FILE")]
    pub keys_file: Option<PathBuf>,
    /// Connector and worker settings: a broker-worker TOML file (its `[store]` is not read).
    #[arg(long, global = true, env = "BROKER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The opened store, with its concrete backend for key rotation and migration.
pub enum Store {
    /// The file store.
    File(Arc<Vault<FileBackend>>),
    /// The Postgres store and its pool (where the worker's journal and intents live too).
    Postgres(Arc<Vault<PostgresBackend>>, sqlx::PgPool),
}

/// Runs `$body` with `$vault` bound to the store's vault, whatever its backend.
macro_rules! on_vault {
    ($store:expr, |$vault:ident| $body:expr) => {
        match $store {
            $crate::context::Store::File($vault) => $body,
            $crate::context::Store::Postgres($vault, _) => $body,
        }
    };
}
pub(crate) use on_vault;

impl Store {
    /// The store as the connector and the worker use it.
    pub fn credentials(&self) -> Arc<dyn CredentialStore> {
        match self {
            Self::File(vault) => vault.clone(),
            Self::Postgres(vault, _) => vault.clone(),
        }
    }

    /// The Postgres pool, on Postgres.
    pub fn pool(&self) -> Option<sqlx::PgPool> {
        match self {
            Self::File(_) => None,
            Self::Postgres(_, pool) => Some(pool.clone()),
        }
    }
}

impl Globals {
    /// The keyring: `--keys-file` when given, else BROKER_VAULT_KEYS.
    ///
    /// # Errors
    /// A key failure.
    pub fn keyring(&self) -> Outcome<Keyring> {
        Ok(match &self.keys_file {
            Some(path) => Keyring::from_file(path)?,
            None => Keyring::from_env()?,
        })
    }

    /// Opens the store with `keyring`: Postgres when DATABASE_URL is set, else the file store.
    /// Refuses a keyring lacking a key that stored ciphertexts need.
    ///
    /// # Errors
    /// A store or key failure.
    pub async fn open_store(&self, keyring: Keyring) -> Outcome<Store> {
        self.open_store_with(keyring, None).await
    }

    /// [`Globals::open_store`] also opening legacy Web Crypto ciphertexts with `legacy`.
    ///
    /// # Errors
    /// A store or key failure.
    pub async fn open_store_with(
        &self,
        keyring: Keyring,
        legacy: Option<LegacyDecryptor>,
    ) -> Outcome<Store> {
        match std::env::var(DATABASE_URL_ENV_VAR) {
            Ok(url) if !url.is_empty() => {
                let backend = match &self.db_schema {
                    Some(schema) => PostgresBackend::connect_in_schema(&url, schema).await?,
                    None => PostgresBackend::connect(&url).await?,
                };
                let pool = backend.pool().clone();
                let vault = Vault::open(backend, keyring).await?;
                Ok(Store::Postgres(Arc::new(with_legacy(vault, legacy)), pool))
            }
            _ => {
                let backend = FileBackend::open(&self.data_dir)?;
                let vault = Vault::open(backend, keyring).await?;
                Ok(Store::File(Arc::new(with_legacy(vault, legacy))))
            }
        }
    }

    /// The keyring and the store it opens.
    ///
    /// # Errors
    /// A store or key failure.
    pub async fn store(&self) -> Outcome<Store> {
        let keyring = self.keyring()?;
        self.open_store(keyring).await
    }

    /// The settings file, or the defaults; on the file store the journal and the intents
    /// default to `journal.jsonl` and `intents.toml` in the data directory.
    ///
    /// # Errors
    /// A runtime failure naming what is wrong with the file.
    pub fn worker_config(&self, store: &Store) -> Outcome<WorkerConfig> {
        let mut config = match &self.config {
            Some(path) => WorkerConfig::load(path)?,
            None => WorkerConfig::default(),
        };
        if store.pool().is_none() {
            config
                .journal_file
                .get_or_insert_with(|| self.data_dir.join("journal.jsonl"));
            config
                .intents_file
                .get_or_insert_with(|| self.data_dir.join("intents.toml"));
        }
        Ok(config)
    }

    /// The connector over `store`. Kite login states are signed with BROKER_KITE_STATE_KEY;
    /// when `kite_logins` is false and it is unset, a random key serves (nothing this process
    /// signs outlives it).
    ///
    /// # Errors
    /// A key failure when Kite logins need the key and it is missing; a runtime failure when
    /// the connector cannot start.
    pub async fn connector(&self, store: &Store, kite_logins: bool) -> Outcome<Connector> {
        let config = self.worker_config(store)?;
        Ok(config
            .connector(store.credentials(), kite_state_key(kite_logins)?)
            .await?)
    }
}

fn with_legacy<B: vault::RecordBackend>(
    vault: Vault<B>,
    legacy: Option<LegacyDecryptor>,
) -> Vault<B> {
    match legacy {
        Some(legacy) => vault.with_legacy(legacy),
        None => vault,
    }
}

/// The Kite state key (see [`Globals::connector`]).
pub fn kite_state_key(required: bool) -> Outcome<SecretSlice<u8>> {
    match kite_state_key_from_env() {
        Ok(key) => Ok(key),
        Err(error) if required || std::env::var_os(KITE_STATE_KEY_ENV_VAR).is_some() => {
            Err(Failure::new(
                EXIT_KEY,
                format!("{error} (Kite logins need it: 32+ random bytes, hex)"),
            ))
        }
        Err(_) => {
            let random: [u8; 32] = rand::random();
            Ok(SecretSlice::from(random.to_vec()))
        }
    }
}

/// The user's account, or the same "no such account" whether it is missing or another
/// user's.
///
/// # Errors
/// [`Failure::no_such_account`], or a store failure.
pub async fn owned_account(
    store: &dyn CredentialStore,
    user: UserId,
    account: AccountId,
) -> Outcome<BrokerAccount> {
    store
        .account(user, account)
        .await?
        .ok_or_else(|| Failure::no_such_account(account))
}
