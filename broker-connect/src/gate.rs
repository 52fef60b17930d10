//! One login per account across every process on a store: a [`LoginGate`] over a store-wide
//! lease.
//!
//! Before an automatic login the broker asks the gate. The gate first looks in the store for
//! a valid session other than the one being given up (another process logged in already) and
//! returns it. Otherwise it takes the account's login lease: the holder logs in, saves the
//! session, then releases the lease; everyone else polls the store until that session
//! appears (or the lease lapses, when its holder died, and one of them takes it over).
//!
//! A login the broker refuses for its credentials or TOTP is remembered in the store for
//! [`REFUSAL_MEMORY`] (or until the account is verified again): brokers lock an account after
//! a few wrong attempts, so no other process or later call repeats it meanwhile.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use broker_core::{BrokerError, LoginGate, PendingLogin, SessionTokens, SharedClock};
use secrecy::ExposeSecret;
use vault::{AccountId, ClaimOutcome, CredentialStore, StoreError, UserId};

/// How long a login lease lasts: longer than a login takes (its request times out sooner).
pub(crate) const LOGIN_LEASE: Duration = Duration::from_secs(30);
/// How long a refused login stops further attempts with the same credentials.
pub(crate) const REFUSAL_MEMORY: Duration = Duration::from_secs(15 * 60);
/// How often a waiting process looks for the session the lease holder is making.
const POLL: Duration = Duration::from_millis(50);

/// The login gate of one account.
pub(crate) struct StoreLoginGate {
    pub(crate) store: Arc<dyn CredentialStore>,
    pub(crate) user: UserId,
    pub(crate) account: AccountId,
    /// This process's (connector's) name in lease claims.
    pub(crate) holder: Arc<str>,
    pub(crate) clock: SharedClock,
}

fn store_failure(error: &StoreError) -> BrokerError {
    BrokerError::Broker {
        code: Some("credential_store".to_owned()),
        message: format!("the session store failed during login: {error}"),
        status: None,
    }
}

/// The name of the claim that remembers a refused login of `account`.
pub(crate) fn refusal_claim(account: AccountId) -> String {
    format!("login-refused:{account}")
}

/// The claim holders naming what was refused.
const REFUSED_CREDENTIALS: &str = "invalid_credentials";
const REFUSED_TOTP: &str = "invalid_totp";

/// Forgets a remembered refusal (the credentials may have changed).
pub(crate) async fn forget_refusal(
    store: &dyn CredentialStore,
    account: AccountId,
) -> Result<(), StoreError> {
    let name = refusal_claim(account);
    for holder in [REFUSED_CREDENTIALS, REFUSED_TOTP] {
        store.release_claim(&name, holder).await?;
    }
    Ok(())
}

impl StoreLoginGate {
    fn lease_name(&self) -> String {
        format!("login:{}", self.account)
    }

    /// The refusal another login of these credentials met, while it is remembered.
    async fn remembered_refusal(&self) -> Result<Option<BrokerError>, BrokerError> {
        let name = refusal_claim(self.account);
        let claims = self
            .store
            .claims(&name, self.clock.now())
            .await
            .map_err(|error| store_failure(&error))?;
        let message = "the broker refused an earlier login with these credentials; correct them and verify the account again (logins are not repeated meanwhile: the broker locks accounts after repeated failures)".to_owned();
        Ok(claims.iter().find(|claim| claim.name == name).map(|claim| {
            match claim.holder.as_str() {
                REFUSED_TOTP => BrokerError::InvalidTotp {
                    message: message.clone(),
                },
                _ => BrokerError::InvalidCredentials {
                    message: message.clone(),
                },
            }
        }))
    }

    /// Remembers that the broker refused these credentials.
    async fn remember_refusal(&self, error: &BrokerError) {
        let holder = match error {
            BrokerError::InvalidCredentials { .. } => REFUSED_CREDENTIALS,
            BrokerError::InvalidTotp { .. } => REFUSED_TOTP,
            _ => return,
        };
        let now = self.clock.now();
        let until = now + chrono::Duration::from_std(REFUSAL_MEMORY).unwrap_or_default();
        let name = refusal_claim(self.account);
        if let Err(error) = self.store.claim(&name, holder, until, now).await {
            tracing::warn!(account = %self.account, %error, "could not remember the refused login");
        }
    }

    /// A stored session that is valid and is not the one being replaced.
    async fn stored_session(
        &self,
        replacing: Option<&SessionTokens>,
    ) -> Result<Option<SessionTokens>, BrokerError> {
        let stored = self
            .store
            .session(self.user, self.account)
            .await
            .map_err(|error| store_failure(&error))?;
        let now = self.clock.now();
        Ok(stored.filter(|tokens| {
            tokens.is_valid_at(now)
                && replacing.is_none_or(|old| {
                    old.access_token().expose_secret() != tokens.access_token().expose_secret()
                })
        }))
    }

    async fn release(&self, lease: &str) {
        if let Err(error) = self.store.release_claim(lease, &self.holder).await {
            // The lease lapses by itself; others wait at most that long.
            tracing::warn!(account = %self.account, %error, "could not release the login lease");
        }
    }
}

#[async_trait]
impl LoginGate for StoreLoginGate {
    async fn login(
        &self,
        replacing: Option<&SessionTokens>,
        login: PendingLogin<'_>,
    ) -> broker_core::Result<SessionTokens> {
        let lease = self.lease_name();
        loop {
            if let Some(tokens) = self.stored_session(replacing).await? {
                tracing::debug!(account = %self.account, "using the session stored by another login");
                return Ok(tokens);
            }
            if let Some(refused) = self.remembered_refusal().await? {
                return Err(refused);
            }
            let now = self.clock.now();
            let until = now + chrono::Duration::from_std(LOGIN_LEASE).unwrap_or_default();
            let claimed = self
                .store
                .claim(&lease, &self.holder, until, now)
                .await
                .map_err(|error| store_failure(&error))?;
            if let ClaimOutcome::Granted = claimed {
                // Someone may have finished between the look and the claim.
                if let Some(tokens) = self.stored_session(replacing).await? {
                    self.release(&lease).await;
                    return Ok(tokens);
                }
                let made = login.await;
                let saved = match &made {
                    Ok(tokens) => self
                        .store
                        .save_session(self.user, self.account, tokens)
                        .await
                        .map_err(|error| store_failure(&error)),
                    Err(error) => {
                        self.remember_refusal(error).await;
                        Ok(())
                    }
                };
                self.release(&lease).await;
                saved?;
                return made;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
