//! What can go wrong in a store. No variant ever holds a secret or a ciphertext.

use std::path::PathBuf;

use broker_core::{BrokerKind, CredentialError};

use crate::account::AccountId;
use crate::envelope::{DecryptError, EncryptError, Field};
use crate::keyring::{KeyId, KeyringError};

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No such account for this user (it may exist for another user: that is not said).
    #[error("account {account} not found")]
    AccountNotFound {
        /// The id asked for.
        account: AccountId,
    },
    /// Credentials for one broker cannot replace another broker's.
    #[error("account {account} is with {stored}; {given} credentials cannot replace its own")]
    BrokerMismatch {
        /// The account.
        account: AccountId,
        /// Its broker.
        stored: BrokerKind,
        /// The broker of the credentials given.
        given: BrokerKind,
    },
    /// The store has no credential layout for this broker.
    #[error("{broker} credentials cannot be stored")]
    UnsupportedBroker {
        /// The broker.
        broker: BrokerKind,
    },
    /// A stored secret did not decrypt. Why is deliberately not said.
    #[error("field {field} of account {account} could not be decrypted")]
    Decrypt {
        /// The account.
        account: AccountId,
        /// The field.
        field: Field,
        /// The opaque cause.
        source: DecryptError,
    },
    /// A legacy ciphertext is not where the legacy table held it when it was adopted (copied
    /// from another row or column, or added later): it is refused, never opened or migrated.
    #[error(
        "field {field} of account {account} holds a legacy ciphertext that was not in this place when the legacy table was adopted; it is refused"
    )]
    LegacyNotInPlace {
        /// The account.
        account: AccountId,
        /// The field.
        field: Field,
    },
    /// A secret could not be sealed.
    #[error("field {field} could not be encrypted")]
    Encrypt {
        /// The field.
        field: Field,
        /// The cause.
        source: EncryptError,
    },
    /// A required field is missing from a stored account.
    #[error("account {account} has no stored {field}")]
    MissingField {
        /// The account.
        account: AccountId,
        /// The field.
        field: Field,
    },
    /// A decrypted credential is not of a valid shape.
    #[error("stored credentials of account {account} are not valid: {source}")]
    InvalidStoredCredentials {
        /// The account.
        account: AccountId,
        /// What is wrong (never the value).
        source: CredentialError,
    },
    /// A stored row holds a value this version does not understand.
    #[error("stored record is invalid: {detail}")]
    InvalidRecord {
        /// What is wrong.
        detail: String,
    },
    /// The store file cannot be parsed; it has been left untouched.
    #[error(
        "store file {path} is corrupt ({detail}); it was left untouched: restore it from a backup"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        detail: String,
    },
    /// The data directory can be written by its group or by everyone, who could replace the
    /// store file or plant a symbolic link in it.
    #[error(
        "data directory {path} has mode {mode:03o}: it must not be writable by group or others (chmod 700)"
    )]
    InsecureDirectory {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The data directory belongs to another user than the one running this process.
    #[error("data directory {path} is owned by uid {owner}, not by this process's uid {expected}")]
    ForeignDirectory {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The process's effective uid.
        expected: u32,
    },
    /// A file-system operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A database operation failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// An existing `broker_accounts` table is not one the vault can adopt; nothing was changed.
    #[error("the existing broker_accounts table cannot be adopted: {detail}")]
    UnadoptableTable {
        /// What is wrong.
        detail: String,
    },
    /// Applying the embedded migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A key cannot be removed while ciphertexts still need it.
    #[error("key {key} still seals {references} field(s); run rotate before removing it")]
    KeyInUse {
        /// The key.
        key: KeyId,
        /// How many ciphertexts use it.
        references: u64,
    },
    /// The keyring holds none of the keys the stored ciphertexts were sealed under.
    #[error(
        "the keyring holds none of the keys the stored ciphertexts were sealed under (missing: {}): is it the right key file?",
        missing.join(", ")
    )]
    KeysMissing {
        /// The missing key ids (invalid ids are named as one placeholder, never echoed).
        missing: Vec<String>,
    },
    /// A keyring change was refused.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// A blocking file task did not finish.
    #[error("background file task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_are_send_sync_and_static() {
        fn assert_bounds<T: Send + Sync + 'static>() {}
        assert_bounds::<StoreError>();
    }
}
