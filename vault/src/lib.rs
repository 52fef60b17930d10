#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod account;
mod backend;
mod claim;
pub mod envelope;
mod error;
pub mod file;
pub mod keyring;
pub mod legacy;
pub mod postgres;
mod record;
mod rotation;
mod store;
mod vault;

pub use account::{AccountId, AccountStatus, BrokerAccount, UnknownStatus, UserId};
pub use backend::RecordBackend;
pub use claim::{Claim, ClaimOutcome};
pub use envelope::{DecryptError, EncryptError, Field, Place};
pub use error::StoreError;
pub use file::FileBackend;
pub use keyring::{KeyId, KeyMaterial, Keyring, KeyringError};
pub use legacy::{LegacyDecryptor, LegacyFormat, LegacyKeyDerivation};
pub use postgres::PostgresBackend;
pub use record::{
    AccountChange, AccountRecord, SealedFields, SealedRow, SessionRecord, Staleness, Table,
};
pub use rotation::{LegacyPlacements, PendingReencryption, ReencryptReport};
pub use store::CredentialStore;
pub use vault::Vault;
