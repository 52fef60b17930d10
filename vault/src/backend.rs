//! Where sealed records are kept. A backend never sees a plaintext secret: [`crate::Vault`]
//! seals before writing and opens after reading.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::account::{AccountId, BrokerAccount, UserId};
use crate::claim::{Claim, ClaimOutcome};
use crate::error::StoreError;
use crate::record::{
    AccountChange, AccountRecord, SealedFields, SealedRow, SessionRecord, Staleness, Table,
};

/// Storage of sealed account and session records. Every per-account call is scoped by the
/// owning user: another user's account id behaves as if it did not exist.
#[async_trait]
pub trait RecordBackend: Send + Sync {
    /// Stores new accounts, all or none (one write for a bulk import).
    ///
    /// # Errors
    /// [`StoreError`] when the write fails.
    async fn insert_accounts(&self, records: &[AccountRecord]) -> Result<(), StoreError>;

    /// One account with its sealed secrets.
    ///
    /// # Errors
    /// [`StoreError`] when the read fails.
    async fn account(
        &self,
        user: UserId,
        id: AccountId,
    ) -> Result<Option<AccountRecord>, StoreError>;

    /// The user's accounts, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] when the read fails.
    async fn accounts(&self, user: UserId) -> Result<Vec<BrokerAccount>, StoreError>;

    /// Applies a change; `None` when the user has no such account.
    ///
    /// # Errors
    /// [`StoreError`] when the write fails.
    async fn update_account(
        &self,
        user: UserId,
        id: AccountId,
        change: &AccountChange,
    ) -> Result<Option<BrokerAccount>, StoreError>;

    /// Deletes an account and its session; whether it existed.
    ///
    /// # Errors
    /// [`StoreError`] when the write fails.
    async fn delete_account(&self, user: UserId, id: AccountId) -> Result<bool, StoreError>;

    /// Every account due for a run ([`BrokerAccount::is_due_for_run`]), across all users:
    /// the scheduler's query. Each carries its user id for the per-user calls that follow.
    ///
    /// # Errors
    /// [`StoreError`] when the read fails.
    async fn accounts_due_for_run(&self) -> Result<Vec<BrokerAccount>, StoreError>;

    /// Stores or replaces an account's session; `false` when the user has no such account.
    ///
    /// # Errors
    /// [`StoreError`] when the write fails.
    async fn save_session(
        &self,
        user: UserId,
        id: AccountId,
        tokens: &SealedFields,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// An account's session, if one is stored.
    ///
    /// # Errors
    /// [`StoreError`] when the read fails.
    async fn session(
        &self,
        user: UserId,
        id: AccountId,
    ) -> Result<Option<SessionRecord>, StoreError>;

    /// Removes an account's session; `false` when the user has no such account.
    ///
    /// # Errors
    /// [`StoreError`] when the write fails.
    async fn clear_session(&self, user: UserId, id: AccountId) -> Result<bool, StoreError>;

    /// Up to `limit` rows of `table` with a ciphertext matching `stale`, in account-id order,
    /// after `after` (exclusive). Rows rewritten meanwhile no longer match, which makes a
    /// re-encryption pass resumable.
    ///
    /// # Errors
    /// [`StoreError`] when the read fails.
    async fn stale_rows(
        &self,
        table: Table,
        stale: &Staleness,
        after: Option<AccountId>,
        limit: usize,
    ) -> Result<Vec<SealedRow>, StoreError>;

    /// Replaces a row's ciphertexts with `fields` only if they are still those of `row`
    /// (compare and swap); whether it did. A concurrent update wins.
    ///
    /// # Errors
    /// [`StoreError`] when the write fails.
    async fn replace_fields(
        &self,
        row: &SealedRow,
        fields: &SealedFields,
    ) -> Result<bool, StoreError>;

    /// How many stored envelopes (any version) each key id has sealed (key ids with none are absent).
    ///
    /// # Errors
    /// [`StoreError`] when the read fails.
    async fn ciphertexts_per_key(&self) -> Result<BTreeMap<String, u64>, StoreError>;

    /// Records legacy placement digests (see [`crate::Vault::record_legacy_placements`]); already
    /// recorded ones are kept. Returns how many were new.
    ///
    /// # Errors
    /// [`StoreError`] when the write fails.
    async fn record_legacy_placements(&self, digests: &[String]) -> Result<u64, StoreError>;

    /// Which of `digests` are recorded legacy placements.
    ///
    /// # Errors
    /// [`StoreError`] when the read fails.
    async fn recorded_legacy_placements(
        &self,
        digests: &[String],
    ) -> Result<BTreeSet<String>, StoreError>;

    /// Claims `name` for `holder` until `until`, atomically: granted when it is free, lapsed
    /// at `now`, or already `holder`'s (then renewed); otherwise the current claim.
    ///
    /// # Errors
    /// [`StoreError`] when the write fails.
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
    /// [`StoreError`] when the write fails.
    async fn release_claim(&self, name: &str, holder: &str) -> Result<bool, StoreError>;

    /// Every claim whose name starts with `prefix` that has not lapsed at `now`, by name.
    ///
    /// # Errors
    /// [`StoreError`] when the read fails.
    async fn claims(&self, prefix: &str, now: DateTime<Utc>) -> Result<Vec<Claim>, StoreError>;
}
