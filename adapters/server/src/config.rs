//! brokerd's configuration: a TOML file, then `BROKERD_*` environment variables on top.
//!
//! Every key, its environment variable and its default are listed in the crate README
//! ("Configuration"); [`Config::apply_env`] is the one place the variables are read.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

/// The whole configuration. Unknown keys are refused so a typo never goes unnoticed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server listens on (`BROKERD_LISTEN`).
    pub listen: SocketAddr,
    /// Directory of the file store, used when no database URL is set (`BROKERD_DATA_DIR`).
    pub data_dir: PathBuf,
    /// Postgres URL; when set the Postgres store is used instead of the file store
    /// (`DATABASE_URL`).
    pub database_url: Option<SecretString>,
    /// Postgres schema holding the tables (`BROKERD_DATABASE_SCHEMA`); `None` = the default.
    pub database_schema: Option<String>,
    /// A file holding the vault keys (`kid1:<base64>,kid0:<base64>`, mode 600); when unset the
    /// keys come from `BROKER_VAULT_KEYS` (`BROKERD_KEYS_FILE`).
    pub keys_file: Option<PathBuf>,
    /// The address users reach this server at, for the Kite redirect URL
    /// (`BROKERD_PUBLIC_URL`).
    pub public_url: String,
    /// Token checking.
    pub auth: AuthConfig,
    /// Request limits.
    pub limits: LimitsConfig,
    /// Logging.
    pub log: LogConfig,
    /// The Kite login `state` signing key, hex, at least 32 bytes (`BROKERD_KITE_STATE_KEY`;
    /// every process of a deployment needs the same one). Required unless `--sandbox`.
    pub kite_state_key: Option<SecretString>,
    /// broker-connect's settings: the egress pool, broker endpoints, TLS roots, timeouts
    /// (`[connector]`, see broker-connect's README).
    pub connector: broker_connect::ConnectorSettings,
    /// The scheduler that runs in the same process (`[scheduler]`).
    pub scheduler: SchedulerConfig,
    /// How long `GET /v1/accounts` answers from its per-user cache, in milliseconds
    /// (`BROKERD_ACCOUNTS_CACHE_MS`); writes through the API clear it at once. 0 turns it off.
    pub accounts_cache_ms: u64,
}

/// The in-process scheduler (broker-worker).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// The journal file (`BROKERD_JOURNAL_FILE`); unset: `<data_dir>/journal.jsonl` with the
    /// file store, the `execution_runs`/`executions` tables with Postgres.
    pub journal_file: Option<PathBuf>,
    /// A JSON or TOML order-intents file (`BROKERD_INTENTS_FILE`); unset: the
    /// `order_intents` table with Postgres, none with the file store (runs place nothing).
    pub intents_file: Option<PathBuf>,
    /// Holiday lists replacing the shipped 2026 NSE list (when not empty).
    pub holiday_files: Vec<PathBuf>,
    /// Extra trading sessions (IST dates, e.g. Muhurat trading).
    pub extra_sessions: Vec<chrono::NaiveDate>,
    /// Angel One's instrument master (`OpenAPIScripMaster.json`); orders are checked against
    /// it, and every order is refused without it.
    pub angelone_instruments: Option<PathBuf>,
    /// Kite's instrument master (the instruments CSV).
    pub zerodha_instruments: Option<PathBuf>,
    /// How long a claim on an account holds when several processes share Postgres, seconds.
    pub lease_seconds: u64,
    /// Slots and pre-flight (`[scheduler.schedule]`: `slots`, `preflight_lead_seconds`,
    /// `second_pass_lead_seconds`).
    pub schedule: broker_worker::SlotSettings,
    /// Fan-out and reconciliation (`[scheduler.run]`, broker-worker's `RunSettings`).
    pub run: broker_worker::RunSettings,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            journal_file: None,
            intents_file: None,
            holiday_files: Vec::new(),
            extra_sessions: Vec::new(),
            angelone_instruments: None,
            zerodha_instruments: None,
            lease_seconds: 60,
            schedule: broker_worker::SlotSettings::default(),
            run: broker_worker::RunSettings::default(),
        }
    }
}

/// How bearer tokens are checked (HS256, Supabase-compatible).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The HS256 secret that signs the platform's JWTs (`BROKERD_JWT_SECRET`); for Supabase,
    /// the project's JWT secret. Required.
    pub jwt_secret: Option<SecretString>,
    /// When set, tokens must carry this `aud` (`BROKERD_JWT_AUDIENCE`; Supabase uses
    /// `authenticated`).
    pub audience: Option<String>,
}

/// Request limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest accepted request body in bytes (`BROKERD_BODY_LIMIT_BYTES`).
    pub body_bytes: usize,
    /// Verification and login calls allowed per user per minute (`BROKERD_VERIFY_PER_MINUTE`).
    pub verify_per_minute: u32,
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// One JSON object per line instead of text (`BROKERD_LOG_JSON`).
    pub json: bool,
    /// A `tracing` filter such as `info,brokerd=debug` (`BROKERD_LOG`).
    pub filter: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            database_schema: None,
            keys_file: None,
            public_url: "http://127.0.0.1:8080".into(),
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            log: LogConfig::default(),
            kite_state_key: None,
            connector: broker_connect::ConnectorSettings::default(),
            scheduler: SchedulerConfig::default(),
            accounts_cache_ms: 1000,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            body_bytes: 16 * 1024,
            verify_per_minute: 10,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            json: false,
            filter: "info".into(),
        }
    }
}

/// The configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration.
    #[error("configuration file {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the key.
        message: String,
    },
    /// An environment variable holds a value of the wrong shape.
    #[error("environment variable {variable} is invalid: {message}")]
    Env {
        /// The variable.
        variable: &'static str,
        /// What is wrong (never the value: it may be a secret).
        message: String,
    },
    /// A required setting is missing.
    #[error("{0}")]
    Missing(&'static str),
}

impl Config {
    /// Reads the TOML file (when given), then applies the process environment.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, key or variable at fault.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = match path {
            Some(path) => Self::from_toml_file(path)?,
            None => Self::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Parses a TOML file.
    ///
    /// # Errors
    /// [`ConfigError::Read`] or [`ConfigError::Parse`].
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses TOML text.
    ///
    /// # Errors
    /// The parser's message, naming the key at fault.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|error| error.message().to_owned())
    }

    /// Overrides settings from `BROKERD_*` variables (and `DATABASE_URL`), read through
    /// `lookup` so tests need not touch the process environment.
    ///
    /// # Errors
    /// [`ConfigError::Env`] when a variable does not parse.
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        fn parsed<T: std::str::FromStr>(
            variable: &'static str,
            value: String,
        ) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value
                .trim()
                .parse()
                .map_err(|error: T::Err| ConfigError::Env {
                    variable,
                    message: error.to_string(),
                })
        }
        if let Some(value) = lookup("BROKERD_LISTEN") {
            self.listen = parsed("BROKERD_LISTEN", value)?;
        }
        if let Some(value) = lookup("BROKERD_DATA_DIR") {
            self.data_dir = PathBuf::from(value);
        }
        if let Some(value) = lookup("DATABASE_URL").filter(|value| !value.is_empty()) {
            self.database_url = Some(SecretString::from(value));
        }
        if let Some(value) = lookup("BROKERD_DATABASE_SCHEMA") {
            self.database_schema = Some(value);
        }
        if let Some(value) = lookup("BROKERD_KITE_STATE_KEY").filter(|value| !value.is_empty()) {
            self.kite_state_key = Some(SecretString::from(value));
        }
        if let Some(value) = lookup("BROKERD_JOURNAL_FILE") {
            self.scheduler.journal_file = Some(PathBuf::from(value));
        }
        if let Some(value) = lookup("BROKERD_INTENTS_FILE") {
            self.scheduler.intents_file = Some(PathBuf::from(value));
        }
        if let Some(value) = lookup("BROKERD_ACCOUNTS_CACHE_MS") {
            self.accounts_cache_ms = parsed("BROKERD_ACCOUNTS_CACHE_MS", value)?;
        }
        if let Some(value) = lookup("BROKERD_KEYS_FILE") {
            self.keys_file = Some(PathBuf::from(value));
        }
        if let Some(value) = lookup("BROKERD_PUBLIC_URL") {
            self.public_url = value;
        }
        if let Some(value) = lookup("BROKERD_JWT_SECRET") {
            self.auth.jwt_secret = Some(SecretString::from(value));
        }
        if let Some(value) = lookup("BROKERD_JWT_AUDIENCE") {
            self.auth.audience = Some(value).filter(|audience| !audience.is_empty());
        }
        if let Some(value) = lookup("BROKERD_BODY_LIMIT_BYTES") {
            self.limits.body_bytes = parsed("BROKERD_BODY_LIMIT_BYTES", value)?;
        }
        if let Some(value) = lookup("BROKERD_VERIFY_PER_MINUTE") {
            self.limits.verify_per_minute = parsed("BROKERD_VERIFY_PER_MINUTE", value)?;
        }
        if let Some(value) = lookup("BROKERD_LOG_JSON") {
            self.log.json = parsed("BROKERD_LOG_JSON", value)?;
        }
        if let Some(value) = lookup("BROKERD_LOG") {
            self.log.filter = value;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn toml_then_environment_overrides_it() {
        let mut config = Config::from_toml(
            r#"
            listen = "0.0.0.0:9000"
            data_dir = "/srv/brokerd"
            [auth]
            jwt_secret = "from-file"
            audience = "authenticated"
            [limits]
            verify_per_minute = 3
            "#,
        )
        .unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(config.limits.verify_per_minute, 3);
        assert_eq!(
            config.limits.body_bytes,
            16 * 1024,
            "unset keys keep defaults"
        );

        let env: HashMap<&str, &str> = [
            ("BROKERD_JWT_SECRET", "from-env"),
            ("BROKERD_BODY_LIMIT_BYTES", "1024"),
            ("DATABASE_URL", "postgres://db/app"),
        ]
        .into();
        config
            .apply_env(|name| env.get(name).map(|value| (*value).to_owned()))
            .unwrap();
        assert_eq!(config.auth.jwt_secret.unwrap().expose_secret(), "from-env");
        assert_eq!(config.limits.body_bytes, 1024);
        assert_eq!(config.auth.audience.as_deref(), Some("authenticated"));
        assert!(config.database_url.is_some());
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let error = Config::from_toml("[auth]\njwt_secrte = \"x\"\n").unwrap_err();
        assert!(error.contains("jwt_secrte"), "{error}");
    }

    #[test]
    fn a_malformed_variable_is_named_without_its_value() {
        let error = Config::default()
            .apply_env(|name| (name == "BROKERD_LISTEN").then(|| "not-an-address".to_owned()))
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("BROKERD_LISTEN"), "{message}");
        assert!(!message.contains("not-an-address"), "{message}");
    }
}
