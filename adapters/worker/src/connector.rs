//! The run's accounts and brokers from broker-connect: the vault's due accounts, each traded
//! through its own egress address by the [`Connector`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use broker_connect::{Connector, ConnectorError, Verification};
use broker_core::{Broker, ErrorKind};
use chrono::{DateTime, Utc};
use vault::{AccountId, BrokerAccount};

use crate::accounts::{AccountProblem, AccountSource, ProblemReason};

/// An [`AccountSource`] over a [`Connector`].
///
/// It keeps the brokers pre-flight warmed, with the version (`updated_at`) of the account
/// record they were built from: at the slot, an account whose record in the run's account
/// list (read once, at the start of the run) is that same version, warmed less than 30
/// minutes ago, trades through its warmed broker, without reading the account from the store
/// again (one query per account, through a pool of a few connections, all at the slot). Any
/// other account goes through [`Connector::connect`], which reads it.
#[derive(Clone)]
pub struct ConnectorAccounts {
    connector: Connector,
    warmed: Arc<Mutex<HashMap<AccountId, Warmed>>>,
}

/// A broker warmed at pre-flight, and the version of the account record it was built from.
struct Warmed {
    updated_at: DateTime<Utc>,
    broker: Arc<dyn Broker>,
    at: Instant,
}

/// How long a warmed broker stands in for the connector: pre-flight runs minutes before its
/// slot; a broker warmed longer ago (say, yesterday, with a Kite session since expired) is
/// built again by the connector, which checks the session.
const WARMED_FOR: Duration = Duration::from_secs(30 * 60);

impl ConnectorAccounts {
    /// Accounts from the connector's store, brokers from the connector.
    pub fn new(connector: Connector) -> Self {
        Self {
            connector,
            warmed: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn warmed(&self) -> std::sync::MutexGuard<'_, HashMap<AccountId, Warmed>> {
        self.warmed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connector.
    pub fn connector(&self) -> &Connector {
        &self.connector
    }
}

impl std::fmt::Debug for ConnectorAccounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectorAccounts(..)")
    }
}

/// Why a connector call means the account cannot trade, as the run reports it.
pub fn problem_of(error: &ConnectorError) -> AccountProblem {
    let reason = match error {
        ConnectorError::NeedsLogin { login_url } => {
            let mut problem = AccountProblem::new(ProblemReason::NeedsLogin, error.to_string());
            problem.login_url = Some(login_url.clone());
            return problem;
        }
        ConnectorError::NoEgressIp
        | ConnectorError::EgressNotInPool { .. }
        | ConnectorError::EgressNotAllowed { .. } => ProblemReason::NoEgressIp,
        ConnectorError::AccountNotFound | ConnectorError::AccountDisabled => {
            ProblemReason::AccountNotFound
        }
        ConnectorError::Broker(broker) => match broker.kind() {
            ErrorKind::IpNotWhitelisted => ProblemReason::IpNotWhitelisted,
            ErrorKind::InvalidCredentials | ErrorKind::InvalidTotp => {
                ProblemReason::InvalidCredentials
            }
            ErrorKind::SessionExpired => ProblemReason::NeedsLogin,
            ErrorKind::Connectivity | ErrorKind::RequestBlocked | ErrorKind::RateLimited => {
                ProblemReason::BrokerUnreachable
            }
            _ => ProblemReason::Other,
        },
        _ => ProblemReason::Other,
    };
    AccountProblem::new(reason, error.to_string())
}

#[async_trait]
impl AccountSource for ConnectorAccounts {
    async fn due_accounts(&self) -> Result<Vec<BrokerAccount>, String> {
        self.connector
            .store()
            .accounts_due_for_run()
            .await
            .map_err(|error| error.to_string())
    }

    async fn connect(&self, account: &BrokerAccount) -> Result<Arc<dyn Broker>, AccountProblem> {
        if let Some(warmed) = self.warmed().get(&account.id)
            && warmed.updated_at == account.updated_at
            && warmed.at.elapsed() < WARMED_FOR
        {
            return Ok(Arc::clone(&warmed.broker));
        }
        self.connector
            .connect(account.user_id, account.id)
            .await
            .map_err(|error| problem_of(&error))
    }

    /// The connector's warm-up (one authenticated call over the account's client), keeping
    /// the broker for the slot with the version of the account record it was built from.
    async fn warm(&self, account: &BrokerAccount) -> Result<(), AccountProblem> {
        let (user, id) = (account.user_id, account.id);
        self.warmed().remove(&id);
        let broker = self
            .connector
            .connect(user, id)
            .await
            .map_err(|error| problem_of(&error))?;
        broker
            .profile()
            .await
            .map_err(|error| problem_of(&ConnectorError::Broker(error)))?;
        // The record as it is now: verification may have just updated it (its status).
        let current = self
            .connector
            .store()
            .account(user, id)
            .await
            .map_err(|error| problem_of(&ConnectorError::from(error)))?;
        if let Some(current) = current {
            self.warmed().insert(
                id,
                Warmed {
                    updated_at: current.updated_at,
                    broker,
                    at: Instant::now(),
                },
            );
        }
        Ok(())
    }

    /// The connector's connections ahead of the slot ([`Connector::keep_open`]).
    async fn keep_open(&self, accounts: &[BrokerAccount]) -> Result<(), AccountProblem> {
        self.connector
            .keep_open(accounts)
            .await
            .map(|_| ())
            .map_err(|error| problem_of(&error))
    }

    /// The connector's verification: logs in from the egress address and probes the whitelist
    /// by cancelling an order that cannot exist (nothing is placed); sets the account status.
    async fn verify(&self, account: &BrokerAccount) -> Result<(), AccountProblem> {
        // Until it is warmed again, the account trades (if at all) through the connector.
        self.warmed().remove(&account.id);
        let verification = self
            .connector
            .verify(account.user_id, account.id)
            .await
            .map_err(|error| problem_of(&error))?;
        let problem = match verification {
            Verification::Connected => return Ok(()),
            Verification::IpNotWhitelisted { instructions, .. } => {
                AccountProblem::new(ProblemReason::IpNotWhitelisted, instructions)
            }
            Verification::InvalidCredentials { message } => {
                AccountProblem::new(ProblemReason::InvalidCredentials, message)
            }
            Verification::InvalidTotp => AccountProblem::new(
                ProblemReason::InvalidCredentials,
                "the broker refused the TOTP code made from the stored secret",
            ),
            Verification::NeedsLogin { login_url } => {
                let mut problem = AccountProblem::new(
                    ProblemReason::NeedsLogin,
                    "the Kite session is missing or expired: the account holder must log in to Kite",
                );
                problem.login_url = Some(login_url);
                problem
            }
            Verification::BrokerUnreachable { message } => {
                AccountProblem::new(ProblemReason::BrokerUnreachable, message)
            }
            other => AccountProblem::new(ProblemReason::Other, format!("{other:?}")),
        };
        Err(problem)
    }

    /// Accounts whose egress address this machine holds, and accounts without one (so that
    /// they are reported, by whichever process claims them).
    fn serves(&self, account: &BrokerAccount) -> bool {
        account.egress_ip.is_none() || self.connector.serves(account)
    }
}
