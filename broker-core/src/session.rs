//! Sessions: the tokens of a logged-in session, and the lifecycle every broker shares.
//!
//! Both brokers issue a session that lives until early the next morning (IST). How a session
//! is obtained differs: Angel One logs in by itself from stored credentials (MPIN and TOTP),
//! Kite needs its user to log in in a browser every day. [`BrokerSession`] gives both the same
//! shape, so that the layer above stores, shares and renews sessions without knowing which
//! broker it talks to.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::credentials::{CredentialError, REDACTED};
use crate::{Broker, Result};

/// The tokens of one logged-in session.
#[derive(Clone)]
pub struct SessionTokens {
    access_token: SecretString,
    refresh_token: Option<SecretString>,
    feed_token: Option<SecretString>,
    expires_at: DateTime<Utc>,
}

impl SessionTokens {
    /// A session with this access token, valid until `expires_at`.
    ///
    /// # Errors
    /// [`CredentialError::Empty`] when the token is empty.
    pub fn new(
        access_token: SecretString,
        expires_at: DateTime<Utc>,
    ) -> Result<Self, CredentialError> {
        if access_token.expose_secret().trim().is_empty() {
            return Err(CredentialError::Empty {
                field: "access token",
            });
        }
        Ok(Self {
            access_token,
            refresh_token: None,
            feed_token: None,
            expires_at,
        })
    }

    /// Adds a refresh token; an empty one (Kite sends `""` to most apps) is dropped.
    #[must_use]
    pub fn with_refresh_token(mut self, refresh_token: SecretString) -> Self {
        self.refresh_token = Some(refresh_token).filter(|token| !token.expose_secret().is_empty());
        self
    }

    /// Adds a market-data feed token; an empty one is dropped.
    #[must_use]
    pub fn with_feed_token(mut self, feed_token: SecretString) -> Self {
        self.feed_token = Some(feed_token).filter(|token| !token.expose_secret().is_empty());
        self
    }

    /// The access token (Angel One `jwtToken`, Kite `access_token`).
    pub fn access_token(&self) -> &SecretString {
        &self.access_token
    }
    /// The refresh token, when the broker issued one.
    pub fn refresh_token(&self) -> Option<&SecretString> {
        self.refresh_token.as_ref()
    }
    /// The feed token, when the broker issued one.
    pub fn feed_token(&self) -> Option<&SecretString> {
        self.feed_token.as_ref()
    }
    /// When the session stops working.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }
    /// Whether the session still works at `now`.
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

impl fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionTokens")
            .field("access_token", &REDACTED)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| REDACTED),
            )
            .field("feed_token", &self.feed_token.as_ref().map(|_| REDACTED))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// How an account's daily session is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LoginMode {
    /// The toolkit logs in by itself from the stored credentials (Angel One: MPIN and TOTP).
    Automatic,
    /// The account holder logs in at the broker in a browser, once a day, and the toolkit
    /// completes the login from the redirect (Kite Connect). Nothing may automate it.
    Interactive,
}

/// A change to the session a broker holds, reported to a [`SessionListener`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SessionChange {
    /// The broker started a session by itself (a login after expiry, a token refresh): store
    /// these tokens so that other processes reuse them instead of logging in again.
    Started(SessionTokens),
    /// The broker no longer accepts the session (logout, or its tokens were refused and no
    /// new login was possible): forget the stored tokens.
    Ended,
}

/// Told about every session a broker starts or loses on its own, so the tokens can be saved
/// (encrypted) or forgotten. Called synchronously on the task that made the change: hand slow
/// work (a database write) to another task.
pub trait SessionListener: Send + Sync {
    /// The session changed.
    fn session_changed(&self, change: SessionChange);
}

impl<F: Fn(SessionChange) + Send + Sync> SessionListener for F {
    fn session_changed(&self, change: SessionChange) {
        self(change);
    }
}

/// A shared [`SessionListener`].
pub type SharedSessionListener = Arc<dyn SessionListener>;

/// A login the broker is about to make by itself, handed to a [`LoginGate`].
pub type PendingLogin<'a> = Pin<Box<dyn Future<Output = Result<SessionTokens>> + Send + 'a>>;

/// Coordinates the logins a broker makes by itself with other processes that serve the same
/// account, so that an account is never logged in twice at once (each login can end the
/// session another process is using).
///
/// A broker with [`LoginMode::Automatic`] runs every login through its gate: the gate runs
/// the login when it may (and stores the new session before letting others go), or waits for
/// the session another process is making and returns that instead.
#[async_trait]
pub trait LoginGate: Send + Sync {
    /// Runs `login`, or returns a session another process made. `replacing` is the session
    /// the broker is giving up (expired, or refused by the broker), `None` when it had none:
    /// the gate must never hand that one back, and may hand back any other valid session.
    ///
    /// # Errors
    /// The login's error, or the gate's own (the store could not be reached) as
    /// [`crate::BrokerError`].
    async fn login(
        &self,
        replacing: Option<&SessionTokens>,
        login: PendingLogin<'_>,
    ) -> Result<SessionTokens>;
}

/// A shared [`LoginGate`].
pub type SharedLoginGate = Arc<dyn LoginGate>;

/// The session lifecycle every broker offers beside its [`Broker`] calls.
///
/// A broker is built with the session it should resume, if any (each broker crate's
/// `connect`); afterwards [`BrokerSession::login`] starts a new one where the broker allows it,
/// [`BrokerSession::resume`] swaps in tokens another process stored, and
/// [`BrokerSession::session_tokens`] gives the current tokens to store. Sessions the broker
/// starts by itself (Angel One's login after an expiry) are reported to the
/// [`SessionListener`] it was built with.
#[async_trait]
pub trait BrokerSession: Broker {
    /// How this broker's sessions are obtained.
    fn login_mode(&self) -> LoginMode {
        self.kind().login_mode()
    }

    /// Logs in now from the stored credentials, replacing any session, and returns the new
    /// tokens (also reported to the listener).
    ///
    /// # Errors
    /// [`crate::BrokerError::InvalidCredentials`], [`crate::BrokerError::InvalidTotp`] or any
    /// other failure of the login call; [`crate::BrokerError::Unsupported`] for a broker whose
    /// logins are [`LoginMode::Interactive`].
    async fn login(&self) -> Result<SessionTokens>;

    /// Uses these tokens (stored earlier, or by another process) from now on.
    ///
    /// # Errors
    /// [`crate::BrokerError::SessionExpired`] when they expired already.
    async fn resume(&self, tokens: SessionTokens) -> Result<()>;

    /// The current session's tokens, `None` when there is no session.
    async fn session_tokens(&self) -> Option<SessionTokens>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn session_validity_ends_at_expiry() {
        let tokens = SessionTokens::new("jwt".into(), utc("2026-12-03T00:30:00Z")).unwrap();
        assert!(tokens.is_valid_at(utc("2026-12-03T00:29:59Z")));
        assert!(!tokens.is_valid_at(utc("2026-12-03T00:30:00Z")));
    }

    #[test]
    fn empty_tokens_are_refused_or_dropped() {
        assert!(SessionTokens::new("".into(), Utc::now()).is_err());
        let tokens = SessionTokens::new("jwt".into(), Utc::now())
            .unwrap()
            .with_refresh_token("".into());
        assert!(tokens.refresh_token().is_none());
    }

    #[test]
    fn session_debug_redacts_every_token() {
        let tokens = SessionTokens::new("eyJhbGciOiJIUzUxMiJ9.access".into(), Utc::now())
            .unwrap()
            .with_refresh_token("refreshTOKEN42".into())
            .with_feed_token("feedTOKEN77".into());
        let printed = format!("{tokens:?}");
        for secret in [
            "eyJhbGciOiJIUzUxMiJ9.access",
            "refreshTOKEN42",
            "feedTOKEN77",
        ] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains(REDACTED));
    }
}
