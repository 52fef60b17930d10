//! Claims: which process executes which account of a run. With one process (the file
//! journal) it claims everything ([`SingleProcess`]); on Postgres several processes share a
//! run through leases ([`crate::postgres::PostgresClaims`]).

use async_trait::async_trait;
use vault::AccountId;

use crate::journal::{JournalError, Run};

/// Decides which process executes an account of a run.
#[async_trait]
pub trait Claims: Send + Sync {
    /// Claims the account for this process; `false` when another process holds it or has
    /// finished it.
    ///
    /// # Errors
    /// [`JournalError`].
    async fn claim(&self, run: &Run, account: AccountId) -> Result<bool, JournalError>;

    /// Marks the account's placements finished (no other process takes it over).
    ///
    /// # Errors
    /// [`JournalError`].
    async fn finish(&self, run: &Run, account: AccountId) -> Result<(), JournalError>;

    /// Accounts of the run claimed but not finished (by any process): what a process that
    /// finished its own accounts waits for, to take them over once their leases expire.
    ///
    /// # Errors
    /// [`JournalError`].
    async fn unfinished(&self, _run: &Run) -> Result<Vec<AccountId>, JournalError> {
        Ok(Vec::new())
    }
}

/// One process executes every account.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleProcess;

#[async_trait]
impl Claims for SingleProcess {
    async fn claim(&self, _run: &Run, _account: AccountId) -> Result<bool, JournalError> {
        Ok(true)
    }

    async fn finish(&self, _run: &Run, _account: AccountId) -> Result<(), JournalError> {
        Ok(())
    }
}
