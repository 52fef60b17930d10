//! Where the run gets its accounts and live brokers: broker-connect in production
//! (the `Connector` of broker-connect), a table of brokers in tests.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use broker_core::Broker;
use serde::{Deserialize, Serialize};
use vault::BrokerAccount;

/// Why an account cannot trade now, in a stable name and words (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountProblem {
    /// What is wrong.
    pub reason: ProblemReason,
    /// Details for the user or operator.
    pub detail: String,
    /// Where the user logs in again, for [`ProblemReason::NeedsLogin`].
    pub login_url: Option<String>,
}

impl AccountProblem {
    /// A problem without a login URL.
    pub fn new(reason: ProblemReason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
            login_url: None,
        }
    }
}

impl fmt::Display for AccountProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.as_str(), self.detail)
    }
}

/// The stable names of [`AccountProblem`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProblemReason {
    /// Zerodha without today's login: the user must log in.
    NeedsLogin,
    /// No egress address is assigned to the account.
    NoEgressIp,
    /// The broker refused the account's egress address.
    IpNotWhitelisted,
    /// The broker refused the credentials or the TOTP.
    InvalidCredentials,
    /// The broker could not be reached.
    BrokerUnreachable,
    /// The account is gone, or belongs to another user.
    AccountNotFound,
    /// Anything else (named in the detail).
    Other,
}

impl ProblemReason {
    /// The stable name, as journalled.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NeedsLogin => "needs_login",
            Self::NoEgressIp => "no_egress_ip",
            Self::IpNotWhitelisted => "ip_not_whitelisted",
            Self::InvalidCredentials => "invalid_credentials",
            Self::BrokerUnreachable => "broker_unreachable",
            Self::AccountNotFound => "account_not_found",
            Self::Other => "other",
        }
    }
}

/// The accounts a run trades and the live brokers it trades them through.
#[async_trait]
pub trait AccountSource: Send + Sync {
    /// Every account due for a run (auto-execute on, not disabled).
    ///
    /// # Errors
    /// A description of why the accounts could not be listed.
    async fn due_accounts(&self) -> Result<Vec<BrokerAccount>, String>;

    /// A live broker for the account, trading from its egress address.
    ///
    /// # Errors
    /// [`AccountProblem`] naming why the account cannot trade now.
    async fn connect(&self, account: &BrokerAccount) -> Result<Arc<dyn Broker>, AccountProblem>;

    /// Logs in if needed and opens the connection ahead of the slot.
    ///
    /// # Errors
    /// [`AccountProblem`] naming why the account cannot trade now.
    async fn warm(&self, account: &BrokerAccount) -> Result<(), AccountProblem>;

    /// Checks, before the slot, that the account can trade: logged in, and its egress address
    /// whitelisted (probed without placing anything). By default, a warm-up.
    ///
    /// # Errors
    /// [`AccountProblem`] naming why the account cannot trade now.
    async fn verify(&self, account: &BrokerAccount) -> Result<(), AccountProblem> {
        self.warm(account).await
    }

    /// Opens ahead of the slot, for warmed `accounts` of one egress address, as many
    /// connections to each broker as they will use at once. By default nothing: sources
    /// whose brokers pool no connections.
    ///
    /// # Errors
    /// [`AccountProblem`] naming why the connections could not all be opened.
    async fn keep_open(&self, accounts: &[BrokerAccount]) -> Result<(), AccountProblem> {
        let _ = accounts;
        Ok(())
    }

    /// Whether this process trades the account (it owns the account's egress address).
    fn serves(&self, account: &BrokerAccount) -> bool;
}

/// A fixed table of accounts and their brokers: dry runs on paper brokers, tests, and
/// embedding programs that manage sessions themselves.
#[derive(Clone, Default)]
pub struct StaticAccounts {
    accounts: Vec<(BrokerAccount, Connection)>,
}

/// A table entry's live broker, or why it cannot trade.
type Connection = Result<Arc<dyn Broker>, AccountProblem>;

impl StaticAccounts {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same table with an account trading through `broker`.
    #[must_use]
    pub fn with(mut self, account: BrokerAccount, broker: Arc<dyn Broker>) -> Self {
        self.accounts.push((account, Ok(broker)));
        self
    }

    /// The same table with an account that cannot trade, for `problem`.
    #[must_use]
    pub fn with_problem(mut self, account: BrokerAccount, problem: AccountProblem) -> Self {
        self.accounts.push((account, Err(problem)));
        self
    }

    fn entry(&self, account: &BrokerAccount) -> Result<&Arc<dyn Broker>, AccountProblem> {
        match self
            .accounts
            .iter()
            .find(|(known, _)| known.id == account.id)
        {
            Some((_, Ok(broker))) => Ok(broker),
            Some((_, Err(problem))) => Err(problem.clone()),
            None => Err(AccountProblem::new(
                ProblemReason::AccountNotFound,
                format!("account {} is not in the table", account.id),
            )),
        }
    }
}

impl fmt::Debug for StaticAccounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StaticAccounts({} accounts)", self.accounts.len())
    }
}

#[async_trait]
impl AccountSource for StaticAccounts {
    async fn due_accounts(&self) -> Result<Vec<BrokerAccount>, String> {
        Ok(self
            .accounts
            .iter()
            .map(|(account, _)| account.clone())
            .filter(BrokerAccount::is_due_for_run)
            .collect())
    }

    async fn connect(&self, account: &BrokerAccount) -> Result<Arc<dyn Broker>, AccountProblem> {
        self.entry(account).cloned()
    }

    async fn warm(&self, account: &BrokerAccount) -> Result<(), AccountProblem> {
        self.entry(account).map(|_| ())
    }

    fn serves(&self, _account: &BrokerAccount) -> bool {
        true
    }
}
