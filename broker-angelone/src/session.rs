//! The live session of one account: its tokens, a generation that tells sessions apart,
//! expiry by the clock, and the [`broker_core::SessionListener`] that hears of every session this crate
//! starts or loses by itself.
//!
//! Angel One sessions are obtained automatically (MPIN and TOTP), so an expired session is
//! replaced by a new login on the next call, and a call answered "session expired" logs in
//! again once and is repeated: the answer means the broker executed nothing, so the repeat is
//! safe even for an order call. Concurrent callers whose calls failed with the same session
//! share one new login. Every login and every renewal goes through the options' login gate
//! ([`ConnectOptions::gated_login`]), so processes serving the same account log in once: the
//! gate either runs this session's login or hands back the session another process made.
//! Every session this one makes is reported ([`SessionChange::Started`]) so its tokens can be
//! stored (a session handed over by the gate is stored already, and is not reported again);
//! a session that stops working with no new one possible is reported as
//! [`SessionChange::Ended`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use broker_core::{BrokerError, ConnectOptions, SessionChange, SessionTokens};
use secrecy::SecretString;

use crate::http::AngelOneHttpClient;
use crate::login::Login;

/// A session in use, and which one it is.
struct Live {
    tokens: SessionTokens,
    generation: u64,
}

/// The live-session holder of one account.
pub(crate) struct Session {
    login: Login,
    live: tokio::sync::Mutex<Option<Live>>,
    generations: AtomicU64,
    /// The clock, the session listener and the login gate.
    options: ConnectOptions,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A holder starting from `tokens` (checked valid by the caller), or with no session.
    pub(crate) fn new(
        login: Login,
        tokens: Option<SessionTokens>,
        options: &ConnectOptions,
    ) -> Self {
        let generations = AtomicU64::new(0);
        let live = tokens.map(|tokens| Live {
            tokens,
            generation: generations.fetch_add(1, Ordering::Relaxed) + 1,
        });
        Self {
            login,
            live: tokio::sync::Mutex::new(live),
            generations,
            options: options.clone(),
        }
    }

    /// The account's client code.
    pub(crate) fn client_code(&self) -> &str {
        self.login.client_code()
    }

    fn report(&self, change: SessionChange) {
        if let Some(listener) = &self.options.session_listener {
            listener.session_changed(change);
        }
    }

    /// A new live session; reported when this session made it (`made_here`), not when the
    /// login gate handed over one another process made and stored.
    fn start(&self, tokens: SessionTokens, made_here: bool) -> Live {
        if made_here {
            self.report(SessionChange::Started(tokens.clone()));
        }
        Live {
            tokens,
            generation: self.generations.fetch_add(1, Ordering::Relaxed) + 1,
        }
    }

    /// Runs `obtain` (a login or a renewal) through the login gate, and says whether it ran
    /// here or the gate answered with another process's session.
    async fn through_gate(
        &self,
        replacing: Option<&SessionTokens>,
        obtain: impl Future<Output = Result<SessionTokens, BrokerError>> + Send,
    ) -> Result<(SessionTokens, bool), BrokerError> {
        let ran = AtomicBool::new(false);
        let tokens = self
            .options
            .gated_login(
                replacing,
                Box::pin(async {
                    ran.store(true, Ordering::Relaxed);
                    obtain.await
                }),
            )
            .await?;
        Ok((tokens, ran.load(Ordering::Relaxed)))
    }

    /// Logs in (through the gate) and installs the new session; on failure the old one is
    /// gone as well.
    async fn log_in_locked(
        &self,
        live: &mut Option<Live>,
        client: &AngelOneHttpClient,
    ) -> Result<(), BrokerError> {
        let replacing = live.as_ref().map(|live| &live.tokens);
        match self
            .through_gate(replacing, self.login.log_in(client))
            .await
        {
            Ok((tokens, made_here)) => {
                if made_here {
                    tracing::info!("logged in to Angel One");
                } else {
                    tracing::info!("using the Angel One session another process started");
                }
                *live = Some(self.start(tokens, made_here));
                Ok(())
            }
            Err(error) => {
                if live.take().is_some() {
                    self.report(SessionChange::Ended);
                }
                Err(error)
            }
        }
    }

    /// The bearer token to use and its session's generation: the current session while the
    /// clock says it is valid, else a new login.
    pub(crate) async fn current(
        &self,
        client: &AngelOneHttpClient,
    ) -> Result<(SecretString, u64), BrokerError> {
        let mut live = self.live.lock().await;
        let valid = live
            .as_ref()
            .is_some_and(|session| session.tokens.is_valid_at(self.options.clock.now()));
        if !valid {
            self.log_in_locked(&mut live, client).await?;
        }
        bearer(&live)
    }

    /// After a call made with session `failed` was answered "session expired": logs in
    /// again, unless another caller already replaced that session.
    pub(crate) async fn renew_after_expiry(
        &self,
        client: &AngelOneHttpClient,
        failed: u64,
    ) -> Result<SecretString, BrokerError> {
        let mut live = self.live.lock().await;
        let still_failed = live
            .as_ref()
            .is_none_or(|session| session.generation == failed);
        if still_failed {
            tracing::info!("Angel One session expired; logging in again");
            self.log_in_locked(&mut live, client).await?;
        }
        bearer(&live).map(|(token, _)| token)
    }

    /// Logs in now, replacing any session.
    pub(crate) async fn log_in_now(
        &self,
        client: &AngelOneHttpClient,
    ) -> Result<SessionTokens, BrokerError> {
        let mut live = self.live.lock().await;
        self.log_in_locked(&mut live, client).await?;
        tokens(&live)
    }

    /// Renews the session with its refresh token (`generateTokens`), through the login gate:
    /// a renewal ends the old token at the broker, for every process using it.
    pub(crate) async fn refresh(
        &self,
        client: &AngelOneHttpClient,
    ) -> Result<SessionTokens, BrokerError> {
        let mut live = self.live.lock().await;
        let current = live.as_ref().ok_or_else(|| BrokerError::SessionExpired {
            message: "there is no session to refresh; log in".to_owned(),
        })?;
        let (renewed, made_here) = self
            .through_gate(
                Some(&current.tokens),
                self.login.renew(client, &current.tokens),
            )
            .await?;
        tracing::info!("Angel One session refreshed");
        *live = Some(self.start(renewed, made_here));
        tokens(&live)
    }

    /// Uses stored tokens from now on.
    pub(crate) async fn resume(&self, tokens: SessionTokens) -> Result<(), BrokerError> {
        if !tokens.is_valid_at(self.options.clock.now()) {
            return Err(expired_tokens());
        }
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        *self.live.lock().await = Some(Live { tokens, generation });
        Ok(())
    }

    /// The current session's tokens.
    pub(crate) async fn tokens(&self) -> Option<SessionTokens> {
        self.live
            .lock()
            .await
            .as_ref()
            .map(|session| session.tokens.clone())
    }

    /// Runs `logout` with the current session, if any, and forgets it. A session the broker
    /// no longer knows counts as logged out.
    pub(crate) async fn end<F, Fut>(&self, logout: F) -> Result<(), BrokerError>
    where
        F: FnOnce(SecretString) -> Fut,
        Fut: Future<Output = Result<(), BrokerError>>,
    {
        let mut live = self.live.lock().await;
        let Some(session) = live.as_ref() else {
            return Ok(());
        };
        match logout(session.tokens.access_token().clone()).await {
            Ok(()) | Err(BrokerError::SessionExpired { .. }) => {}
            Err(error) => return Err(error),
        }
        *live = None;
        self.report(SessionChange::Ended);
        Ok(())
    }
}

/// The error for stored tokens that are past their expiry.
pub(crate) fn expired_tokens() -> BrokerError {
    BrokerError::SessionExpired {
        message: "the stored Angel One session ended at 05:00 IST; log in again".to_owned(),
    }
}

fn bearer(live: &Option<Live>) -> Result<(SecretString, u64), BrokerError> {
    live.as_ref()
        .map(|session| (session.tokens.access_token().clone(), session.generation))
        .ok_or_else(|| BrokerError::SessionExpired {
            message: "no session after logging in".to_owned(),
        })
}

fn tokens(live: &Option<Live>) -> Result<SessionTokens, BrokerError> {
    live.as_ref()
        .map(|session| session.tokens.clone())
        .ok_or_else(|| BrokerError::SessionExpired {
            message: "no session after logging in".to_owned(),
        })
}
