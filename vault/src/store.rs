//! The credential store as its users see it: plaintext in, [`SecretString`]s out.
//!
//! [`SecretString`]: secrecy::SecretString

use std::net::IpAddr;

use async_trait::async_trait;
use broker_core::{BrokerCredentials, SessionTokens};
use chrono::{DateTime, Utc};

use crate::account::{AccountId, AccountStatus, BrokerAccount, UserId};
use crate::claim::{Claim, ClaimOutcome};
use crate::error::StoreError;

/// Broker accounts and their sessions, encrypted at rest. Every per-account call is scoped by
/// the owning user; secrets are decrypted only by [`CredentialStore::credentials`] and
/// [`CredentialStore::session`], and only into `SecretString`s.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Stores a new account for `user` (a user may hold several, also at one broker). It
    /// starts [`AccountStatus::Pending`], without auto-execute or egress IP.
    ///
    /// # Errors
    /// [`StoreError::UnsupportedBroker`], or a storage error.
    async fn create_account(
        &self,
        user: UserId,
        credentials: &BrokerCredentials,
    ) -> Result<BrokerAccount, StoreError>;

    /// Replaces an account's credentials with new ones for the same broker.
    ///
    /// # Errors
    /// [`StoreError::AccountNotFound`], [`StoreError::BrokerMismatch`], or a storage error.
    async fn update_credentials(
        &self,
        user: UserId,
        id: AccountId,
        credentials: &BrokerCredentials,
    ) -> Result<BrokerAccount, StoreError>;

    /// One account, without secrets.
    ///
    /// # Errors
    /// A storage error.
    async fn account(
        &self,
        user: UserId,
        id: AccountId,
    ) -> Result<Option<BrokerAccount>, StoreError>;

    /// The user's accounts, oldest first, without secrets.
    ///
    /// # Errors
    /// A storage error.
    async fn accounts(&self, user: UserId) -> Result<Vec<BrokerAccount>, StoreError>;

    /// Decrypts an account's credentials.
    ///
    /// # Errors
    /// [`StoreError::AccountNotFound`], [`StoreError::Decrypt`],
    /// [`StoreError::InvalidStoredCredentials`], or a storage error.
    async fn credentials(
        &self,
        user: UserId,
        id: AccountId,
    ) -> Result<BrokerCredentials, StoreError>;

    /// Deletes an account and its session.
    ///
    /// # Errors
    /// [`StoreError::AccountNotFound`], or a storage error.
    async fn delete_account(&self, user: UserId, id: AccountId) -> Result<(), StoreError>;

    /// Sets an account's status.
    ///
    /// # Errors
    /// [`StoreError::AccountNotFound`], or a storage error.
    async fn set_status(
        &self,
        user: UserId,
        id: AccountId,
        status: AccountStatus,
    ) -> Result<BrokerAccount, StoreError>;

    /// Turns auto-execute on or off.
    ///
    /// # Errors
    /// [`StoreError::AccountNotFound`], or a storage error.
    async fn set_auto_execute(
        &self,
        user: UserId,
        id: AccountId,
        auto_execute: bool,
    ) -> Result<BrokerAccount, StoreError>;

    /// Assigns the egress IP the account's broker traffic leaves from (`None` unassigns).
    ///
    /// # Errors
    /// [`StoreError::AccountNotFound`], or a storage error.
    async fn assign_egress_ip(
        &self,
        user: UserId,
        id: AccountId,
        egress_ip: Option<IpAddr>,
    ) -> Result<BrokerAccount, StoreError>;

    /// Stores the account's session tokens (replacing any), sealed, with their expiry.
    ///
    /// # Errors
    /// [`StoreError::AccountNotFound`], or a storage error.
    async fn save_session(
        &self,
        user: UserId,
        id: AccountId,
        tokens: &SessionTokens,
    ) -> Result<(), StoreError>;

    /// Decrypts the account's stored session, expired or not (check
    /// [`SessionTokens::is_valid_at`]).
    ///
    /// # Errors
    /// [`StoreError::Decrypt`], or a storage error.
    async fn session(
        &self,
        user: UserId,
        id: AccountId,
    ) -> Result<Option<SessionTokens>, StoreError>;

    /// Forgets the account's session (after a logout or a rejected token).
    ///
    /// # Errors
    /// [`StoreError::AccountNotFound`], or a storage error.
    async fn clear_session(&self, user: UserId, id: AccountId) -> Result<(), StoreError>;

    /// Every account due for a run (auto-execute on, not disabled), across users.
    ///
    /// # Errors
    /// A storage error.
    async fn accounts_due_for_run(&self) -> Result<Vec<BrokerAccount>, StoreError>;

    /// Claims `name` for `holder` until `until` (see [`crate::RecordBackend::claim`]): the
    /// store-wide lease and single-use primitive shared by every process on this store.
    ///
    /// # Errors
    /// A storage error.
    async fn claim(
        &self,
        name: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<ClaimOutcome, StoreError>;

    /// Gives up `holder`'s claim on `name`; whether it held one.
    ///
    /// # Errors
    /// A storage error.
    async fn release_claim(&self, name: &str, holder: &str) -> Result<bool, StoreError>;

    /// The live claims whose names start with `prefix`, by name.
    ///
    /// # Errors
    /// A storage error.
    async fn claims(&self, prefix: &str, now: DateTime<Utc>) -> Result<Vec<Claim>, StoreError>;
}
