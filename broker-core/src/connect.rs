//! What every broker crate's `connect` takes: the shared pieces a session is built from.
//!
//! Both broker crates build a session the same way:
//! `connect(credentials, Option<SessionTokens>, &ConnectOptions)`. The options carry what is
//! shared between accounts (the HTTP client of the account's egress address, the broker's
//! instrument index, the clock) and what the operator configures (base URLs for simulators,
//! rate limits, pre-trade policy), so that ten thousand sessions cost ten thousand small
//! structs, not ten thousand clients and instrument masters.

use std::fmt;
use std::sync::Arc;

use crate::clock::{SharedClock, system_clock};
use crate::credentials::CredentialError;
use crate::http_client::{BadUrl, HttpClient};
use crate::session::{SharedLoginGate, SharedSessionListener};
use crate::{
    BrokerError, BrokerKind, EgressBinding, PreTradePolicy, QuotaRule, RateLimiter,
    SharedInstruments,
};

/// The shared pieces and settings a broker session is built from. Cloning is cheap.
#[derive(Clone)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// The client of the account's egress address (shared by every account on it).
    pub http: HttpClient,
    /// The API root, when not the broker's production one (a simulator's URL).
    pub api_url: Option<String>,
    /// The login page, when not the broker's production one (Kite).
    pub login_url: Option<String>,
    /// The account's rate limiter, when it outlives one session (so a rebuilt session keeps
    /// the budget already used); `None` builds one from the broker's default rules.
    pub rate_limiter: Option<Arc<RateLimiter>>,
    /// The broker's instrument index, shared by all its sessions.
    pub instruments: SharedInstruments,
    /// The pre-trade policy; `None` means the broker's own ([`PreTradePolicy::for_broker`]).
    pub policy: Option<PreTradePolicy>,
    /// Where "now" comes from (session expiry).
    pub clock: SharedClock,
    /// Told about sessions the broker starts or loses by itself.
    pub session_listener: Option<SharedSessionListener>,
    /// Every automatic login goes through it (so processes sharing the account log in once).
    pub login_gate: Option<SharedLoginGate>,
}

impl ConnectOptions {
    /// Options using this client, the brokers' production URLs, default limits and policy,
    /// an empty instrument index and the system clock.
    pub fn new(http: HttpClient) -> Self {
        Self {
            http,
            api_url: None,
            login_url: None,
            rate_limiter: None,
            instruments: SharedInstruments::default(),
            policy: None,
            clock: system_clock(),
            session_listener: None,
            login_gate: None,
        }
    }

    /// Uses this API root (a simulator's or a mock's URL).
    #[must_use]
    pub fn with_api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// Uses this login page (Kite).
    #[must_use]
    pub fn with_login_url(mut self, url: impl Into<String>) -> Self {
        self.login_url = Some(url.into());
        self
    }

    /// Uses this rate limiter.
    #[must_use]
    pub fn with_rate_limiter(mut self, limiter: Arc<RateLimiter>) -> Self {
        self.rate_limiter = Some(limiter);
        self
    }

    /// Uses this instrument index.
    #[must_use]
    pub fn with_instruments(mut self, instruments: SharedInstruments) -> Self {
        self.instruments = instruments;
        self
    }

    /// Uses this pre-trade policy.
    #[must_use]
    pub fn with_policy(mut self, policy: PreTradePolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Uses this clock.
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Reports session changes to this listener.
    #[must_use]
    pub fn with_session_listener(mut self, listener: SharedSessionListener) -> Self {
        self.session_listener = Some(listener);
        self
    }

    /// Runs automatic logins through this gate.
    #[must_use]
    pub fn with_login_gate(mut self, gate: SharedLoginGate) -> Self {
        self.login_gate = Some(gate);
        self
    }

    /// Logs in through the gate when there is one, else directly; `replacing` is the session
    /// being given up (see [`crate::LoginGate::login`]).
    ///
    /// # Errors
    /// The login's error, or the gate's.
    pub async fn gated_login(
        &self,
        replacing: Option<&crate::SessionTokens>,
        login: crate::session::PendingLogin<'_>,
    ) -> crate::Result<crate::SessionTokens> {
        match &self.login_gate {
            Some(gate) => gate.login(replacing, login).await,
            None => login.await,
        }
    }

    /// Where requests leave from, when the client is bound.
    pub fn egress(&self) -> Option<EgressBinding> {
        self.http.egress()
    }

    /// The policy to apply for `broker`.
    pub fn policy_for(&self, broker: BrokerKind) -> PreTradePolicy {
        self.policy
            .clone()
            .unwrap_or_else(|| PreTradePolicy::for_broker(broker))
    }

    /// The rate limiter to use: the shared one, or a new one from `default_rules` plus the
    /// policy's pacing of placements.
    pub fn rate_limiter_or(
        &self,
        broker: BrokerKind,
        default_rules: Vec<QuotaRule>,
    ) -> Arc<RateLimiter> {
        self.rate_limiter.clone().unwrap_or_else(|| {
            let pacing = self.policy_for(broker).order_pacing();
            Arc::new(RateLimiter::new(default_rules.into_iter().chain(pacing)))
        })
    }

    /// The API root to use: the configured one (checked), or `production`.
    ///
    /// # Errors
    /// [`BadUrl`] when the configured URL is malformed or plain http where not allowed.
    pub fn api_url_or(&self, production: &str) -> Result<reqwest::Url, BadUrl> {
        self.http
            .check_base_url("API URL", self.api_url.as_deref().unwrap_or(production))
    }

    /// The login page to use: the configured one (checked), or `production`.
    ///
    /// # Errors
    /// [`BadUrl`] when the configured URL is malformed or plain http where not allowed.
    pub fn login_url_or(&self, production: &str) -> Result<reqwest::Url, BadUrl> {
        self.http
            .check_base_url("login URL", self.login_url.as_deref().unwrap_or(production))
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("http", &self.http)
            .field("api_url", &self.api_url)
            .field("login_url", &self.login_url)
            .field("policy", &self.policy)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// A broker session could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// A configured URL cannot be used.
    #[error(transparent)]
    BadUrl(#[from] BadUrl),
    /// A credential cannot be used (for example, a TOTP secret that does not decode).
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// The stored session cannot be used.
    #[error("the stored session cannot be used: {0}")]
    Session(BrokerError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{LoginGate, PendingLogin};
    use crate::{HttpClientConfig, SessionTokens};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A gate that lets the first login through and answers later ones with its session.
    #[derive(Default)]
    struct OnceGate {
        logins: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl LoginGate for OnceGate {
        async fn login(
            &self,
            _replacing: Option<&SessionTokens>,
            login: PendingLogin<'_>,
        ) -> crate::Result<SessionTokens> {
            if self.logins.fetch_add(1, Ordering::SeqCst) == 0 {
                login.await
            } else {
                Ok(tokens("from-the-other-process"))
            }
        }
    }

    fn tokens(access: &str) -> SessionTokens {
        SessionTokens::new(
            access.into(),
            chrono::Utc::now() + chrono::Duration::hours(1),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn automatic_logins_go_through_the_gate_when_there_is_one() {
        let http = HttpClientConfig::default().build().unwrap();
        let direct = ConnectOptions::new(http.clone());
        let made = direct
            .gated_login(None, Box::pin(async { Ok(tokens("direct")) }))
            .await
            .unwrap();
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(made.access_token()),
            "direct"
        );

        let gated = ConnectOptions::new(http).with_login_gate(Arc::new(OnceGate::default()));
        let first = gated
            .gated_login(None, Box::pin(async { Ok(tokens("mine")) }))
            .await
            .unwrap();
        let second = gated
            .gated_login(
                None,
                Box::pin(async { panic!("the gate must not run a second login") }),
            )
            .await
            .unwrap();
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(first.access_token()),
            "mine"
        );
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(second.access_token()),
            "from-the-other-process"
        );
    }

    #[test]
    fn configured_urls_are_checked_and_production_is_the_default() {
        let strict = ConnectOptions::new(HttpClientConfig::default().build().unwrap());
        assert_eq!(
            strict
                .api_url_or("https://api.kite.trade")
                .unwrap()
                .as_str(),
            "https://api.kite.trade/"
        );
        let simulator = strict.clone().with_api_url("http://127.0.0.1:9000");
        assert!(matches!(
            simulator.api_url_or("https://api.kite.trade"),
            Err(BadUrl::PlainHttp { .. })
        ));
        assert_eq!(
            strict.policy_for(BrokerKind::AngelOne),
            PreTradePolicy::for_broker(BrokerKind::AngelOne)
        );
    }
}
