//! The live session of one account: its current tokens, their `Authorization` header, a
//! generation that tells one session from the next, expiry by `BrokerKind::Zerodha` (06:00
//! IST after the login) read on the configured clock, and the [`SessionListener`] told when
//! a session starts or ends.
//!
//! Kite sessions are never started here: the account holder logs in to Kite in a browser
//! each day (`Zerodha::complete_login`). When Kite refuses the session (`TokenException`),
//! it is dropped and [`SessionChange::Ended`] reported once, however many calls saw the
//! refusal.

use std::fmt;
use std::sync::{PoisonError, RwLock};

use bytes::Bytes;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use broker_core::{
    BrokerError, REDACTED, Result, SessionChange, SessionTokens, SharedClock, SharedSessionListener,
};

/// The `Authorization` header of one session: `token api_key:access_token`.
///
/// Built once per session and marked sensitive; its bytes are wiped when the last copy is
/// dropped (copies made inside the HTTP stack while a request is written are not).
#[derive(Clone)]
pub struct Authorization {
    header: HeaderValue,
}

impl Authorization {
    /// The header of the session with this access token, for the app with this key.
    ///
    /// # Errors
    /// [`BrokerError::InvalidCredentials`] when the key or token has characters a header
    /// cannot carry.
    pub(crate) fn new(api_key: &SecretString, access_token: &SecretString) -> Result<Self> {
        let key = api_key.expose_secret().as_bytes();
        let token = access_token.expose_secret().as_bytes();
        // Sized so that it never reallocates: no unwiped copy is left behind.
        let mut text = Zeroizing::new(Vec::with_capacity(
            b"token :".len() + key.len() + token.len(),
        ));
        text.extend_from_slice(b"token ");
        text.extend_from_slice(key);
        text.push(b':');
        text.extend_from_slice(token);
        let mut header = HeaderValue::from_maybe_shared(Bytes::from_owner(text)).map_err(|_| {
            BrokerError::InvalidCredentials {
                message: "the API key or access token has characters not allowed in a header"
                    .into(),
            }
        })?;
        header.set_sensitive(true);
        Ok(Self { header })
    }

    /// The header value to send.
    pub(crate) fn header(&self) -> &HeaderValue {
        &self.header
    }
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// The session in use.
#[derive(Clone)]
struct Current {
    tokens: SessionTokens,
    authorization: Authorization,
    generation: u64,
}

#[derive(Default)]
struct State {
    current: Option<Current>,
    generations: u64,
}

/// Which session a call used, so that a refusal ends that session and not a newer one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Generation(u64);

/// The live-session holder of one account.
pub(crate) struct LiveSession {
    state: RwLock<State>,
    clock: SharedClock,
    listener: Option<SharedSessionListener>,
}

impl LiveSession {
    pub(crate) fn new(clock: SharedClock, listener: Option<SharedSessionListener>) -> Self {
        Self {
            state: RwLock::new(State::default()),
            clock,
            listener,
        }
    }

    pub(crate) fn clock(&self) -> &SharedClock {
        &self.clock
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn notify(&self, change: SessionChange) {
        if let Some(listener) = &self.listener {
            listener.session_changed(change);
        }
    }

    fn install(&self, tokens: SessionTokens, authorization: Authorization) {
        let mut state = self.write();
        state.generations += 1;
        state.current = Some(Current {
            tokens,
            authorization,
            generation: state.generations,
        });
    }

    /// Uses a session that was just obtained, and reports it to the listener.
    pub(crate) fn start(&self, tokens: SessionTokens, authorization: Authorization) {
        self.install(tokens.clone(), authorization);
        self.notify(SessionChange::Started(tokens));
    }

    /// Uses a stored session (not reported: whoever stored it knows it).
    ///
    /// # Errors
    /// [`BrokerError::SessionExpired`] when it expired already.
    pub(crate) fn resume(&self, tokens: SessionTokens, authorization: Authorization) -> Result<()> {
        let now = self.clock.now();
        if !tokens.is_valid_at(now) {
            return Err(expired(&tokens));
        }
        self.install(tokens, authorization);
        Ok(())
    }

    /// The header to send and the generation it belongs to.
    ///
    /// # Errors
    /// [`BrokerError::SessionExpired`] when there is no session or it expired.
    pub(crate) fn authorization(&self) -> Result<(Authorization, Generation)> {
        let state = self.read();
        let current = state
            .current
            .as_ref()
            .ok_or_else(|| BrokerError::SessionExpired {
                message: "no Kite session: the account holder must log in to Kite".into(),
            })?;
        if !current.tokens.is_valid_at(self.clock.now()) {
            return Err(expired(&current.tokens));
        }
        Ok((
            current.authorization.clone(),
            Generation(current.generation),
        ))
    }

    /// Passes on a call's result; when Kite refused the session the call used, drops that
    /// session and reports [`SessionChange::Ended`] (once, whoever sees it first).
    pub(crate) fn checked<T>(&self, generation: Generation, result: Result<T>) -> Result<T> {
        if matches!(result, Err(BrokerError::SessionExpired { .. })) {
            let ended = {
                let mut state = self.write();
                let same = state
                    .current
                    .as_ref()
                    .is_some_and(|current| current.generation == generation.0);
                if same {
                    state.current = None;
                }
                same
            };
            if ended {
                self.notify(SessionChange::Ended);
            }
        }
        result
    }

    /// Ends the session (after a logout) and reports it when there was one.
    pub(crate) fn end(&self) {
        let had = self.write().current.take().is_some();
        if had {
            self.notify(SessionChange::Ended);
        }
    }

    /// The current session's tokens.
    pub(crate) fn tokens(&self) -> Option<SessionTokens> {
        self.read()
            .current
            .as_ref()
            .map(|current| current.tokens.clone())
    }
}

fn expired(tokens: &SessionTokens) -> BrokerError {
    BrokerError::SessionExpired {
        message: format!(
            "the Kite session expired at {} (06:00 IST after the login); the account holder must log in again",
            tokens.expires_at()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_header_is_sensitive_and_never_printed() {
        let authorization = Authorization::new(&"key123".into(), &"tok456".into()).unwrap();
        assert!(authorization.header().is_sensitive());
        assert_eq!(
            authorization.header().to_str().unwrap(),
            "token key123:tok456"
        );
        let printed = format!("{authorization:?} {:?}", authorization.header());
        assert!(
            !printed.contains("tok456") && !printed.contains("key123"),
            "{printed}"
        );
    }

    #[test]
    fn a_token_a_header_cannot_carry_is_refused() {
        let error = Authorization::new(&"key".into(), &"SECRETzz\n456".into()).unwrap_err();
        assert!(matches!(error, BrokerError::InvalidCredentials { .. }));
        assert!(!format!("{error} {error:?}").contains("SECRETzz"));
    }
}
