//! The simulator's accounts, sessions, clock, faults, quotas and request log, and the
//! market and book it trades on.
//!
//! Sessions behave as SmartAPI's: a login issues a JWT and a refresh token that both end at
//! the next 05:00 IST (on the simulator's clock); `generateTokens` needs the session's JWT as
//! its bearer and its refresh token, issues a new pair and ends the old JWT; a logout ends
//! the JWT and its refresh token.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use broker_core::sim::{FaultQueue, SimRateLimits};
use broker_core::{BrokerKind, QuotaRule, SharedClock};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;
use secrecy::ExposeSecret;

use super::book::Book;
use super::market::Market;
use super::responses::Refusal;
use super::{SimAccount, SimRequest};
use crate::http::Endpoint;
use crate::totp::{TotpGenerator, unix_seconds};

/// One issued JWT.
struct Session {
    client_code: String,
    refresh_token: String,
    expires_at: DateTime<Utc>,
}

/// One issued refresh token.
struct Refresh {
    client_code: String,
    jwt: String,
    expires_at: DateTime<Utc>,
}

#[derive(Default)]
struct Sessions {
    live: HashMap<String, Session>,
    refresh_tokens: HashMap<String, Refresh>,
    logins: HashMap<String, usize>,
}

/// Tokens issued: (jwt, refresh, feed).
pub(crate) type Issued = (String, String, String);

/// Everything the simulator knows.
pub(crate) struct SimState {
    accounts: Vec<SimAccount>,
    /// Static IPs registered while running (client code, address), as in the dashboard.
    registered_later: Mutex<Vec<(String, IpAddr)>>,
    sessions: Mutex<Sessions>,
    requests: Mutex<Vec<SimRequest>>,
    /// Added to the configured clock (moved from the admin routes).
    offset: Mutex<Duration>,
    clock: SharedClock,
    pub(crate) faults: FaultQueue<Endpoint>,
    pub(crate) limits: SimRateLimits,
    pub(crate) market: Market,
    pub(crate) book: Book,
    pub(crate) matching: bool,
    pub(crate) admin: bool,
    shutdown: tokio::sync::watch::Sender<bool>,
}

/// A random token of `length` letters and digits after `prefix`.
pub(crate) fn random_token(prefix: &str, length: usize) -> String {
    let tail: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(length)
        .map(char::from)
        .collect();
    format!("{prefix}{tail}")
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The pieces a state is built from.
pub(crate) struct Parts {
    pub accounts: Vec<SimAccount>,
    pub quotas: Vec<QuotaRule>,
    pub clock: SharedClock,
    pub market: Market,
    pub matching: bool,
    pub admin: bool,
}

impl SimState {
    pub(crate) fn new(parts: Parts) -> Self {
        Self {
            accounts: parts.accounts,
            registered_later: Mutex::new(Vec::new()),
            sessions: Mutex::new(Sessions::default()),
            requests: Mutex::new(Vec::new()),
            offset: Mutex::new(Duration::zero()),
            clock: parts.clock,
            faults: FaultQueue::default(),
            limits: SimRateLimits::new(parts.quotas),
            market: parts.market,
            book: Book::default(),
            matching: parts.matching,
            admin: parts.admin,
            shutdown: tokio::sync::watch::channel(false).0,
        }
    }

    pub(crate) fn accounts(&self) -> &[SimAccount] {
        &self.accounts
    }

    /// Registers one more static IP for the account with this client code.
    pub(crate) fn register_ip(&self, client_code: &str, ip: IpAddr) -> bool {
        let known = self
            .accounts
            .iter()
            .any(|account| account.client_code == client_code);
        if known {
            lock(&self.registered_later).push((client_code.to_owned(), ip));
        }
        known
    }

    /// Whether `ip` is registered for `account` (at start or since).
    pub(crate) fn is_registered(&self, account: &SimAccount, ip: IpAddr) -> bool {
        account.registered_ips.contains(&ip)
            || lock(&self.registered_later)
                .iter()
                .any(|(code, registered)| *code == account.client_code && *registered == ip)
    }

    /// The simulator's time: its clock, moved by the admin routes.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now() + *lock(&self.offset)
    }

    /// Moves the simulator's time by `by`.
    pub(crate) fn advance(&self, by: Duration) {
        *lock(&self.offset) += by;
    }

    /// Sets the simulator's time.
    pub(crate) fn set_now(&self, now: DateTime<Utc>) {
        *lock(&self.offset) = now - self.clock.now();
    }

    pub(crate) fn account_by_key(&self, api_key: &str) -> Option<&SimAccount> {
        self.accounts
            .iter()
            .find(|account| account.api_key.expose_secret() == api_key)
    }

    pub(crate) fn record(&self, request: SimRequest) {
        lock(&self.requests).push(request);
    }

    pub(crate) fn requests(&self) -> Vec<SimRequest> {
        lock(&self.requests).clone()
    }

    pub(crate) fn logins(&self, client_code: &str) -> usize {
        lock(&self.sessions)
            .logins
            .get(client_code)
            .copied()
            .unwrap_or(0)
    }

    /// Ends every session issued so far (JWTs and refresh tokens).
    pub(crate) fn expire_sessions(&self) {
        let now = self.now();
        let mut sessions = lock(&self.sessions);
        for session in sessions.live.values_mut() {
            session.expires_at = now;
        }
        for refresh in sessions.refresh_tokens.values_mut() {
            refresh.expires_at = now;
        }
    }

    pub(crate) fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    /// Waits until the simulator stops.
    pub(crate) async fn stopped(&self) {
        let mut receiver = self.shutdown.subscribe();
        // An error means the sender is gone: stopped as well.
        let _ = receiver.wait_for(|stopped| *stopped).await;
    }

    /// Checks a login and issues a session.
    ///
    /// # Errors
    /// AB1007 for another client code or a wrong MPIN, AB7001 for a password that is not an
    /// MPIN, AB1050 for a wrong TOTP code.
    pub(crate) fn login(
        &self,
        account: &SimAccount,
        client_code: &str,
        password: &str,
        totp: &str,
    ) -> Result<Issued, Refusal> {
        if client_code != account.client_code {
            return Err(Refusal::new("AB1007", "Invalid clientcode or password"));
        }
        if !password.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(Refusal::new(
                "AB7001",
                "LoginbyPassword is not allowed. Please switch to Login by MPIN now.",
            ));
        }
        if password != account.mpin.expose_secret() {
            return Err(Refusal::new("AB1007", "Invalid clientcode or password"));
        }
        let totp_ok = TotpGenerator::from_base32(&account.totp_secret)
            .ok()
            .zip(unix_seconds(self.now()).ok())
            .is_some_and(|(generator, now)| generator.check(totp.trim(), now));
        if !totp_ok {
            return Err(Refusal::new("AB1050", "Invalid totp"));
        }
        let mut sessions = lock(&self.sessions);
        *sessions.logins.entry(client_code.to_owned()).or_default() += 1;
        Ok(self.issue(&mut sessions, client_code))
    }

    fn issue(&self, sessions: &mut Sessions, client_code: &str) -> Issued {
        let jwt = random_token("eyJsim.", 48);
        let refresh = random_token("refsim.", 40);
        let feed = random_token("feedsim.", 24);
        let now = self.now();
        let expires_at = BrokerKind::AngelOne
            .session_expires_at(now)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        sessions.live.insert(
            jwt.clone(),
            Session {
                client_code: client_code.to_owned(),
                refresh_token: refresh.clone(),
                expires_at,
            },
        );
        sessions.refresh_tokens.insert(
            refresh.clone(),
            Refresh {
                client_code: client_code.to_owned(),
                jwt: jwt.clone(),
                expires_at,
            },
        );
        (jwt, refresh, feed)
    }

    /// `generateTokens`: a new session for a live JWT of this client (the bearer) and a
    /// refresh token issued to it. The old JWT and refresh token stop working.
    ///
    /// # Errors
    /// AG8001 (gateway) without a live bearer of this client; AB8051 for an expired refresh
    /// token, AB8050 for any other that is not this client's.
    pub(crate) fn refresh(
        &self,
        client_code: &str,
        bearer: &str,
        refresh_token: &str,
    ) -> Result<Issued, RefreshRefusal> {
        if self.session_owner(bearer).as_deref() != Some(client_code) {
            return Err(RefreshRefusal::NoSession);
        }
        let now = self.now();
        let mut sessions = lock(&self.sessions);
        let refresh = sessions
            .refresh_tokens
            .get(refresh_token)
            .filter(|refresh| refresh.client_code == client_code)
            .ok_or(RefreshRefusal::Invalid)?;
        if now >= refresh.expires_at {
            return Err(RefreshRefusal::Expired);
        }
        if let Some(refresh) = sessions.refresh_tokens.remove(refresh_token) {
            sessions.live.remove(&refresh.jwt);
        }
        sessions.live.remove(bearer);
        Ok(self.issue(&mut sessions, client_code))
    }

    /// The client code a live session token belongs to.
    pub(crate) fn session_owner(&self, jwt: &str) -> Option<String> {
        let now = self.now();
        let sessions = lock(&self.sessions);
        let session = sessions.live.get(jwt)?;
        (now < session.expires_at).then(|| session.client_code.clone())
    }

    /// Ends a session: its JWT and its refresh token.
    pub(crate) fn logout(&self, jwt: &str) {
        let mut sessions = lock(&self.sessions);
        if let Some(session) = sessions.live.remove(jwt) {
            sessions.refresh_tokens.remove(&session.refresh_token);
        }
    }
}

/// Why `generateTokens` was refused.
pub(crate) enum RefreshRefusal {
    /// No live JWT of this client as the bearer.
    NoSession,
    /// The refresh token is not one issued to this client, or was used or logged out.
    Invalid,
    /// The refresh token's day is over.
    Expired,
}
