//! Failures and the exit codes they map to (documented in the README).

use broker_connect::ConnectorError;
use broker_core::BrokerError;
use vault::{KeyringError, StoreError};

/// Exit code for I/O, store, network and other runtime failures.
pub const EXIT_RUNTIME: u8 = 1;
/// Exit code for bad input that clap cannot see (malformed secrets, an order that does not
/// parse); clap uses the same code for its own usage errors.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for a key problem: unreadable, insecure or malformed keyring, a wrong or missing
/// key, an existing keyring, a legacy key that opens nothing.
pub const EXIT_KEY: u8 = 3;
/// Exit code for something that does not exist for this user: an account (also another
/// user's), a run, an order.
pub const EXIT_NOT_FOUND: u8 = 4;
/// Exit code for a refusal: an order refused by the pre-trade policy or rejected by the
/// broker, a verification that did not connect, a Kite login state refused.
pub const EXIT_REFUSED: u8 = 5;
/// Exit code for work left unfinished on purpose: a key still in use, rows that do not open.
pub const EXIT_INCOMPLETE: u8 = 6;

/// A failure with the exit code it maps to. Messages never hold secrets.
#[derive(Debug)]
pub struct Failure {
    /// The process exit code.
    pub code: u8,
    /// What to print after `brokerctl: `.
    pub message: String,
}

impl Failure {
    /// A failure with `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A runtime failure.
    pub fn runtime(message: impl Into<String>) -> Self {
        Self::new(EXIT_RUNTIME, message)
    }

    /// A usage failure.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(EXIT_USAGE, message)
    }

    /// The answer for an account that is missing or belongs to another user: the same words,
    /// so that nobody learns which.
    pub fn no_such_account(account: impl std::fmt::Display) -> Self {
        Self::new(EXIT_NOT_FOUND, format!("no such account: {account}"))
    }
}

/// Results of the commands.
pub type Outcome<T = ()> = Result<T, Failure>;

impl From<KeyringError> for Failure {
    fn from(error: KeyringError) -> Self {
        Self::new(EXIT_KEY, format!("vault keys: {error}"))
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        let code = match &error {
            StoreError::AccountNotFound { account } => return Self::no_such_account(account),
            StoreError::Decrypt { .. }
            | StoreError::KeysMissing { .. }
            | StoreError::Keyring(_) => EXIT_KEY,
            StoreError::KeyInUse { .. } => EXIT_INCOMPLETE,
            _ => EXIT_RUNTIME,
        };
        let hint = if code == EXIT_KEY {
            " (is this the right keys file?)"
        } else {
            ""
        };
        Self::new(code, format!("credential store: {error}{hint}"))
    }
}

impl From<BrokerError> for Failure {
    fn from(error: BrokerError) -> Self {
        let code = match &error {
            BrokerError::Validation(_)
            | BrokerError::OrderRejected { .. }
            | BrokerError::IpNotWhitelisted { .. }
            | BrokerError::InvalidCredentials { .. }
            | BrokerError::InvalidTotp { .. }
            | BrokerError::RateLimited { .. } => EXIT_REFUSED,
            BrokerError::OrderNotFound { .. } => EXIT_NOT_FOUND,
            _ => EXIT_RUNTIME,
        };
        Self::new(code, format!("broker: {error}"))
    }
}

impl From<ConnectorError> for Failure {
    fn from(error: ConnectorError) -> Self {
        match error {
            ConnectorError::AccountNotFound => Self::new(EXIT_NOT_FOUND, "no such account"),
            ConnectorError::Store(store) => store.into(),
            ConnectorError::Broker(broker) => broker.into(),
            ConnectorError::BadState(state) => Self::new(EXIT_REFUSED, state.to_string()),
            ConnectorError::NeedsLogin { login_url } => Self::new(
                EXIT_REFUSED,
                format!("the account holder must log in to Kite first: {login_url}"),
            ),
            ConnectorError::AccountDisabled => Self::new(EXIT_REFUSED, "the account is disabled"),
            other => Self::runtime(other.to_string()),
        }
    }
}

impl From<broker_worker::ConfigError> for Failure {
    fn from(error: broker_worker::ConfigError) -> Self {
        Self::runtime(format!("configuration: {error}"))
    }
}

impl From<broker_worker::JournalError> for Failure {
    fn from(error: broker_worker::JournalError) -> Self {
        Self::runtime(format!("journal: {error}"))
    }
}

impl From<broker_worker::SchedulerError> for Failure {
    fn from(error: broker_worker::SchedulerError) -> Self {
        Self::runtime(error.to_string())
    }
}
