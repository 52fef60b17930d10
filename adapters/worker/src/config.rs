//! The worker binary's configuration: a TOML file for everything but secrets, which come from
//! the environment (`BROKER_VAULT_KEYS`, `BROKER_KITE_STATE_KEY`, `BROKER_WEBHOOK_SECRET`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use broker_connect::{Connector, ConnectorSettings};
use broker_core::BrokerKind;
use chrono::NaiveDate;
use secrecy::{SecretSlice, SecretString};
use serde::Deserialize;
use vault::{CredentialStore, FileBackend, Keyring, PostgresBackend, Vault};

use crate::calendar::TradingCalendar;
use crate::connector::ConnectorAccounts;
use crate::file_journal::FileJournal;
use crate::intent::{FileIntents, IntentSource};
use crate::journal::Journal;
use crate::notify::Notifiers;
use crate::postgres::{PostgresClaims, PostgresIntents, PostgresJournal};
use crate::run::{RunSettings, Runner};
use crate::scheduler::Scheduler;
use crate::slots::SlotSettings;
use crate::webhook::{WebhookNotifier, WebhookSettings};

/// The environment variable holding the Kite login `state` key, hex (at least 32 bytes).
pub const KITE_STATE_KEY_ENV_VAR: &str = "BROKER_KITE_STATE_KEY";
/// The environment variable holding the webhook signing secret.
pub const WEBHOOK_SECRET_ENV_VAR: &str = "BROKER_WEBHOOK_SECRET";

/// The worker's settings file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// Where the vault is (`[store]`; not read by callers that open the store themselves,
    /// such as `brokerctl`).
    #[serde(default)]
    pub store: StoreConfig,
    /// An append-only journal file; without it the journal is in the vault's Postgres.
    #[serde(default)]
    pub journal_file: Option<PathBuf>,
    /// A JSON or TOML intents file; without it intents come from `order_intents`.
    #[serde(default)]
    pub intents_file: Option<PathBuf>,
    /// Holiday lists replacing the shipped 2026 NSE list (when not empty).
    #[serde(default)]
    pub holiday_files: Vec<PathBuf>,
    /// Extra trading sessions (IST dates).
    #[serde(default)]
    pub extra_sessions: Vec<NaiveDate>,
    /// This process's name in claims (default: host name and process id).
    #[serde(default)]
    pub worker_id: Option<String>,
    /// How long a claim on an account holds (default 60 s).
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u64,
    /// Slots and pre-flight.
    #[serde(default)]
    pub schedule: SlotSettings,
    /// Fan-out and reconciliation.
    #[serde(default)]
    pub run: RunSettings,
    /// Egress pool and broker endpoints.
    #[serde(default)]
    pub connector: ConnectorSettings,
    /// Angel One's instrument master (the scrip master JSON); orders are checked against it.
    #[serde(default)]
    pub angelone_instruments: Option<PathBuf>,
    /// Kite's instrument master (the instruments CSV).
    #[serde(default)]
    pub zerodha_instruments: Option<PathBuf>,
    /// Where webhook notifications go (secret from `BROKER_WEBHOOK_SECRET`).
    #[serde(default)]
    pub webhook_url: Option<String>,
}

fn default_lease_seconds() -> u64 {
    60
}

/// Where the vault is: exactly one of a directory and a Postgres URL.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The file vault's directory.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// The Postgres URL (the worker's tables live next to the vault's).
    #[serde(default)]
    pub postgres_url: Option<String>,
    /// The Postgres schema (default: the connection's search path).
    #[serde(default)]
    pub schema: Option<String>,
}

/// Why the worker cannot start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

fn fail(what: &str, error: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("{what}: {error}"))
}

impl WorkerConfig {
    /// Reads the settings file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and what is wrong.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| fail(&format!("cannot read {}", path.display()), error))?;
        toml::from_str(&text).map_err(|error| fail(&path.display().to_string(), error))
    }

    /// The calendar: the operator's lists, or the shipped one.
    ///
    /// # Errors
    /// [`ConfigError`] when a list cannot be read.
    pub fn calendar(&self) -> Result<TradingCalendar, ConfigError> {
        let calendar = if self.holiday_files.is_empty() {
            TradingCalendar::nse_2026()
        } else {
            TradingCalendar::from_files(&self.holiday_files)
                .map_err(|error| fail("holiday lists", error))?
        };
        Ok(calendar.with_extra_sessions(self.extra_sessions.iter().copied()))
    }

    /// Builds the scheduler: vault, connector, journal, intents, claims, notifiers.
    ///
    /// # Errors
    /// [`ConfigError`] naming what could not be opened.
    pub async fn scheduler(&self) -> Result<Scheduler, ConfigError> {
        let keyring = Keyring::from_env().map_err(|error| fail("vault keys", error))?;
        let (store, pool): (Arc<dyn CredentialStore>, Option<sqlx::PgPool>) =
            match (&self.store.file, &self.store.postgres_url) {
                (Some(dir), None) => {
                    let backend = FileBackend::open(dir).map_err(|error| fail("vault", error))?;
                    (Arc::new(Vault::new(backend, keyring)), None)
                }
                (None, Some(url)) => {
                    let backend = match &self.store.schema {
                        Some(schema) => PostgresBackend::connect_in_schema(url, schema).await,
                        None => PostgresBackend::connect(url).await,
                    }
                    .map_err(|error| fail("vault", error))?;
                    let pool = backend.pool().clone();
                    (Arc::new(Vault::new(backend, keyring)), Some(pool))
                }
                _ => {
                    return Err(ConfigError(
                        "[store] needs exactly one of `file` and `postgres_url`".into(),
                    ));
                }
            };
        self.scheduler_over(store, pool, kite_state_key_from_env()?)
            .await
    }

    /// Builds the scheduler over a store the caller opened (the `[store]` section is not
    /// read): `pool` is the store's Postgres pool, where the journal, intents and claims live
    /// unless files are configured.
    ///
    /// # Errors
    /// [`ConfigError`] naming what could not be opened.
    pub async fn scheduler_over(
        &self,
        store: Arc<dyn CredentialStore>,
        pool: Option<sqlx::PgPool>,
        kite_state_key: SecretSlice<u8>,
    ) -> Result<Scheduler, ConfigError> {
        let connector = self.connector(store, kite_state_key).await?;
        let journal = self.journal(pool.as_ref()).await?;
        let intents: Arc<dyn IntentSource> = match (&self.intents_file, &pool) {
            (Some(path), _) => Arc::new(FileIntents::new(path)),
            (None, Some(pool)) => Arc::new(
                PostgresIntents::new(pool.clone())
                    .await
                    .map_err(|error| fail("intents", error))?,
            ),
            (None, None) => {
                return Err(ConfigError(
                    "`intents_file` is required with the file vault".into(),
                ));
            }
        };
        let mut notifiers = Notifiers::tracing();
        if let Some(url) = &self.webhook_url {
            let secret = std::env::var(WEBHOOK_SECRET_ENV_VAR)
                .map(SecretString::from)
                .map_err(|_| ConfigError(format!("{WEBHOOK_SECRET_ENV_VAR} is not set")))?;
            let url: reqwest::Url = url.parse().map_err(|error| fail("webhook_url", error))?;
            let webhook = WebhookNotifier::start(WebhookSettings::new(url, secret))
                .map_err(|error| fail("webhook", error))?;
            notifiers = notifiers.with(Arc::new(webhook));
        }
        let mut runner = Runner::new(
            journal,
            Arc::new(ConnectorAccounts::new(connector)),
            intents,
            Arc::new(notifiers),
        )
        .with_settings(self.run.clone());
        // Several processes share a run only on Postgres with the journal there.
        if let (None, Some(pool)) = (&self.journal_file, &pool) {
            let owner = self.worker_id.clone().unwrap_or_else(default_worker_id);
            let claims =
                PostgresClaims::new(pool.clone(), owner, Duration::from_secs(self.lease_seconds))
                    .await
                    .map_err(|error| fail("claims", error))?;
            runner = runner.with_claims(Arc::new(claims));
        }
        Ok(Scheduler::new(
            runner,
            self.calendar()?,
            self.schedule.clone(),
        ))
    }
}

impl WorkerConfig {
    /// The connector over `store` with the `[connector]` settings and the instrument masters
    /// loaded.
    ///
    /// # Errors
    /// [`ConfigError`] when the connector cannot start or a master cannot be read.
    pub async fn connector(
        &self,
        store: Arc<dyn CredentialStore>,
        kite_state_key: SecretSlice<u8>,
    ) -> Result<Connector, ConfigError> {
        let connector = Connector::new(store, self.connector.clone(), kite_state_key)
            .await
            .map_err(|error| fail("connector", error))?;
        self.load_instruments(&connector)?;
        Ok(connector)
    }

    /// The journal: `journal_file` when set, else the `execution_runs` and `executions` tables
    /// in `pool`.
    ///
    /// # Errors
    /// [`ConfigError`] when it cannot be opened, or when there is neither.
    pub async fn journal(
        &self,
        pool: Option<&sqlx::PgPool>,
    ) -> Result<Arc<dyn Journal>, ConfigError> {
        Ok(match (&self.journal_file, pool) {
            (Some(path), _) => {
                Arc::new(FileJournal::open(path).map_err(|error| fail("journal", error))?)
            }
            (None, Some(pool)) => Arc::new(
                PostgresJournal::new(pool.clone())
                    .await
                    .map_err(|error| fail("journal", error))?,
            ),
            (None, None) => {
                return Err(ConfigError(
                    "`journal_file` is required with the file vault".into(),
                ));
            }
        })
    }

    /// Loads the instrument masters into the connector: without them every order is refused.
    fn load_instruments(&self, connector: &Connector) -> Result<(), ConfigError> {
        let read = |path: &PathBuf| {
            std::fs::read(path)
                .map_err(|error| fail(&format!("cannot read {}", path.display()), error))
        };
        if let Some(path) = &self.angelone_instruments {
            let master = broker_angelone::parse_instruments(&read(path)?)
                .map_err(|error| fail(&path.display().to_string(), error))?;
            connector
                .instruments(BrokerKind::AngelOne)
                .replace(master.index);
        }
        if let Some(path) = &self.zerodha_instruments {
            let master = broker_zerodha::parse_instruments(read(path)?.as_slice())
                .map_err(|error| fail(&path.display().to_string(), error))?;
            connector
                .instruments(BrokerKind::Zerodha)
                .replace(master.index);
        }
        Ok(())
    }
}

/// The Kite login `state` key from [`KITE_STATE_KEY_ENV_VAR`] (hex).
///
/// # Errors
/// [`ConfigError`] when it is unset or not hex.
pub fn kite_state_key_from_env() -> Result<SecretSlice<u8>, ConfigError> {
    let text = std::env::var(KITE_STATE_KEY_ENV_VAR)
        .map_err(|_| ConfigError(format!("{KITE_STATE_KEY_ENV_VAR} is not set")))?;
    hex::decode(text.trim())
        .map(SecretSlice::from)
        .map_err(|_| ConfigError(format!("{KITE_STATE_KEY_ENV_VAR} is not hex")))
}

fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "worker".into());
    format!("{}-{}", host.trim(), std::process::id())
}
