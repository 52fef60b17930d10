//! An in-process Kite Connect simulator (feature `sim`) that speaks the real wire protocol,
//! built on `broker_core::sim` (server, faults, quotas), and refuses what Kite refuses.
//!
//! - Many accounts ([`SimAccount`]: a Kite Connect app and its user), each with its own API
//!   key and secret, allowed IPs, redirect URL, postback URL, cash, holdings and order book.
//! - A stand-in for the login page that redirects back with a `request_token` and the
//!   caller's `redirect_params`; token exchanges check the checksum; access tokens expire at
//!   06:00 IST on the simulator's clock; refresh tokens for approved platforms; logout.
//! - Order requests (place, modify, cancel) from a TCP peer that is not on the account's
//!   allowed IPs are refused with Kite's `PermissionException`.
//! - Kite's refusals (`rules`): varieties' own fields (cover orders' trigger and product,
//!   iceberg legs and leg quantity, auction numbers), market protection, ticks, freeze
//!   quantities, stop-limit sides, TTL, 25 modifications, optionally market hours.
//! - A market (`market`, `matching`): last prices that can be moved ([`Simulator::set_price`]),
//!   marketable orders filling at once, limits resting, stops triggering, IOC leftovers
//!   cancelled, iceberg legs one at a time, autoslicing at the freeze quantity, after-market
//!   orders reaching the exchange at 09:15 IST; a clock that can be moved
//!   ([`Simulator::advance_clock`]), with trading days that roll the books.
//! - Risk checks and portfolios (`risk`, `portfolio`): margin per product, holdings for
//!   delivery sells, trades, day and net positions, holdings with Kite's T+1 reporting, funds.
//! - Kite's quotas per API key, on by default ([`SimConfig::quotas`]: HTTP 429
//!   `NetworkException` "Too many requests"); Kite's JSON error for unknown routes and
//!   methods.
//! - Faults on demand per endpoint ([`Simulator::inject`], `broker_core::sim::Fault`, in
//!   Kite's own shapes), signed postbacks of every change of state, a log of every request
//!   received and every order accepted, so tests can prove what was, and was not, sent.
//! - The same controls over HTTP under `/_sim` for the binary (`admin`, with
//!   [`SimConfig::admin_token`]).
//! - Plain HTTP or HTTPS with a certificate made at start ([`Simulator::certificate_pem`]).
//!
//! The official Python SDK works against it unchanged (see `conformance/`).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use broker_zerodha::sim::{SimConfig, Simulator};
//! let simulator = Simulator::start(SimConfig::default()).await?;
//! println!("Kite simulator at {}", simulator.url());
//! # Ok(()) }
//! ```

mod admin;
mod book;
mod market;
mod matching;
mod portfolio;
mod responses;
mod risk;
mod routes;
mod rules;
mod state;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use rust_decimal::Decimal;
use secrecy::SecretString;

use broker_core::sim::{Fault, SimListen, SimServer};
use broker_core::{Clock, QuotaRule, REDACTED, SharedClock, system_clock};
use chrono::{DateTime, Utc};

use crate::http::models::{PlaceOrderBody, WireOrder};
use crate::http::{Endpoint, default_quota_rules};
use crate::login::{LoginRedirect, LoginRedirectError};
use state::SimState;

/// A simulated Kite Connect app and the one user who logs in through it.
#[derive(Clone)]
pub struct SimAccount {
    /// The app's API key.
    pub api_key: SecretString,
    /// The app's API secret (checks token-exchange checksums, signs postbacks).
    pub api_secret: SecretString,
    /// The user's Kite id.
    pub user_id: String,
    /// The user's name.
    pub user_name: String,
    /// The app's whitelisted IPs; order requests from other peers are refused.
    pub allowed_ips: Vec<IpAddr>,
    /// The app's registered redirect URL (the login page sends the user back here).
    pub redirect_url: String,
    /// Where postbacks go, if anywhere.
    pub postback_url: Option<String>,
    /// Whether the app is an approved platform that receives refresh tokens.
    pub issue_refresh_tokens: bool,
    /// The cash balance of the equity segment at the start.
    pub cash: Decimal,
    /// The holdings at the start (settled shares).
    pub holdings: Vec<SimHolding>,
}

/// Settled shares an account holds when the simulator starts.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SimHolding {
    /// The exchange.
    pub exchange: String,
    /// The trading symbol.
    pub tradingsymbol: String,
    /// The ISIN.
    pub isin: Option<String>,
    /// How many shares.
    pub quantity: u64,
    /// Their average buy price.
    pub average_price: Decimal,
}

impl SimHolding {
    /// `quantity` shares of `EXCHANGE:SYMBOL` bought at `average_price` on average.
    pub fn new(
        exchange: impl Into<String>,
        tradingsymbol: impl Into<String>,
        quantity: u64,
        average_price: Decimal,
    ) -> Self {
        Self {
            exchange: exchange.into(),
            tradingsymbol: tradingsymbol.into(),
            isin: None,
            quantity,
            average_price,
        }
    }
}

impl SimAccount {
    /// An app with this key and secret for the user `user_id`, allowing orders from
    /// 127.0.0.1, with 100,000 rupees of cash and 16 settled NSE:SBIN shares.
    pub fn new(
        api_key: impl Into<String>,
        api_secret: impl Into<String>,
        user_id: impl Into<String>,
    ) -> Self {
        Self {
            api_key: SecretString::from(api_key.into()),
            api_secret: SecretString::from(api_secret.into()),
            user_id: user_id.into(),
            user_name: "Sim User".to_owned(),
            allowed_ips: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            redirect_url: "http://127.0.0.1/kite/callback".to_owned(),
            postback_url: None,
            issue_refresh_tokens: false,
            cash: Decimal::new(100_000, 0),
            holdings: vec![SimHolding {
                isin: Some("INE062A01020".into()),
                ..SimHolding::new("NSE", "SBIN", 16, Decimal::new(80_178, 2))
            }],
        }
    }

    /// The demo account: key `simkey`, secret `simsecret`, user `ZS1234`.
    pub fn demo() -> Self {
        Self::new("simkey", "simsecret", "ZS1234")
    }

    /// The same account allowing orders only from these addresses.
    #[must_use]
    pub fn with_allowed_ips(mut self, ips: impl IntoIterator<Item = IpAddr>) -> Self {
        self.allowed_ips = ips.into_iter().collect();
        self
    }
}

impl fmt::Debug for SimAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimAccount")
            .field("api_key", &REDACTED)
            .field("api_secret", &REDACTED)
            .field("user_id", &self.user_id)
            .field("allowed_ips", &self.allowed_ips)
            .field("redirect_url", &self.redirect_url)
            .field("postback_url", &self.postback_url)
            .field("issue_refresh_tokens", &self.issue_refresh_tokens)
            .finish_non_exhaustive()
    }
}

/// How a simulator is set up.
#[derive(Clone)]
pub struct SimConfig {
    /// The accounts (apps and their users).
    pub accounts: Vec<SimAccount>,
    /// Where and how it listens.
    pub listen: SimListen,
    /// Quotas enforced per API key: Kite's ([`default_quota_rules`]) by default, none when
    /// empty ([`SimConfig::without_quotas`]).
    pub quotas: Vec<QuotaRule>,
    /// Where "now" comes from (session expiry, timestamps, the trading session); the
    /// simulator can move it further ([`Simulator::advance_clock`]).
    pub clock: SharedClock,
    /// Last prices by `EXCHANGE:TRADINGSYMBOL`; orders on other instruments are refused.
    pub prices: HashMap<String, Decimal>,
    /// The exchange's freeze quantity by `EXCHANGE:TRADINGSYMBOL`: larger orders are refused
    /// unless iceberg or autosliced.
    pub freeze_quantities: HashMap<String, u32>,
    /// Refuse regular orders outside the session (09:15 to 15:30 IST on weekdays) as Kite
    /// does. Off by default, so that tests on the system clock pass at any hour.
    pub market_hours: bool,
    /// The secret of the `/_sim` admin routes (header `X-Sim-Admin`); without one they
    /// answer 404.
    pub admin_token: Option<SecretString>,
}

impl SimConfig {
    /// The same configuration without any quota.
    #[must_use]
    pub fn without_quotas(mut self) -> Self {
        self.quotas.clear();
        self
    }

    /// The demo freeze quantities: NFO:NIFTY26DECFUT 1,800.
    pub fn demo_freeze_quantities() -> HashMap<String, u32> {
        HashMap::from([("NFO:NIFTY26DECFUT".to_owned(), 1_800)])
    }

    /// The demo prices: NSE:INFY, NSE:SBIN and NFO:NIFTY26DECFUT.
    pub fn demo_prices() -> HashMap<String, Decimal> {
        [
            ("NSE:INFY", Decimal::new(141_295, 2)),
            ("NSE:SBIN", Decimal::new(80_105, 2)),
            ("NFO:NIFTY26DECFUT", Decimal::new(2_410_000, 2)),
        ]
        .into_iter()
        .map(|(key, price)| (key.to_owned(), price))
        .collect()
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            accounts: vec![SimAccount::demo()],
            listen: SimListen::loopback(),
            quotas: default_quota_rules(),
            clock: system_clock(),
            prices: Self::demo_prices(),
            freeze_quantities: Self::demo_freeze_quantities(),
            market_hours: false,
            admin_token: None,
        }
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("accounts", &self.accounts)
            .field("listen", &self.listen)
            .field("quotas", &self.quotas)
            .field("market_hours", &self.market_hours)
            .field("admin_token", &self.admin_token.as_ref().map(|_| REDACTED))
            .finish_non_exhaustive()
    }
}

/// An order the simulator accepted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AcceptedOrder {
    /// The id it was given.
    pub order_id: String,
    /// The user it belongs to.
    pub user_id: String,
    /// The variety path segment.
    pub variety: String,
    /// The form it was placed with.
    pub body: PlaceOrderBody,
    /// The TCP peer address it came from.
    pub peer: IpAddr,
}

/// A request the simulator received (whatever came of it).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimRequest {
    /// The HTTP method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The endpoint it names, when it names one.
    pub endpoint: Option<Endpoint>,
    /// The TCP peer address it came from.
    pub peer: IpAddr,
}

/// Why [`browser_login`] could not complete a login.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrowserLoginError {
    /// The login page could not be fetched.
    #[error("could not open the login page: {0}")]
    Http(String),
    /// The login page answered without redirecting back.
    #[error("the login page answered HTTP {status} without a redirect")]
    NoRedirect {
        /// The HTTP status.
        status: u16,
    },
    /// The redirect back was not a successful login.
    #[error(transparent)]
    Redirect(#[from] LoginRedirectError),
}

/// What the account holder's browser does with the simulator's login page: opens
/// `login_url` and reads the redirect back to the app, without following it. `http` is any
/// client that reaches the simulator (it must not follow redirects).
///
/// # Errors
/// [`BrowserLoginError`] when the page fails or does not redirect with a request token.
pub async fn browser_login(
    http: &reqwest::Client,
    login_url: url::Url,
) -> Result<LoginRedirect, BrowserLoginError> {
    let answer = http
        .get(login_url)
        .send()
        .await
        .map_err(|error| BrowserLoginError::Http(error.without_url().to_string()))?;
    let status = answer.status().as_u16();
    let location = answer
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| url::Url::parse(value).ok())
        .ok_or(BrowserLoginError::NoRedirect { status })?;
    Ok(LoginRedirect::parse(location.query().unwrap_or_default())?)
}

/// A running simulator; stops, with every connection, when dropped.
pub struct Simulator {
    server: SimServer,
    state: Arc<SimState>,
}

impl Simulator {
    /// Starts a simulator.
    ///
    /// # Errors
    /// The I/O error when the address cannot be bound or the certificate cannot be made.
    pub async fn start(config: SimConfig) -> io::Result<Self> {
        let listen = config.listen;
        let state = Arc::new(SimState::new(config));
        let server = SimServer::start(routes::router(Arc::clone(&state)), listen).await?;
        Ok(Self { server, state })
    }

    /// The API root, such as `http://127.0.0.1:41234` (`https://` in HTTPS mode).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Whitelists `ip` for the app with `api_key`, as its developer would in the Kite
    /// developer console; `false` when no app has that key.
    pub fn allow_ip(&self, api_key: &str, ip: IpAddr) -> bool {
        self.state.allow_ip(api_key, ip)
    }

    /// The login page stand-in.
    pub fn login_page(&self) -> String {
        format!("{}/connect/login", self.url())
    }

    /// How many TCP connections it has accepted: a client that keeps its connections alive
    /// opens one and reuses it.
    pub fn connections_accepted(&self) -> u64 {
        self.server.connections_accepted()
    }

    /// How many TLS handshakes it has completed (HTTPS mode).
    pub fn tls_handshakes(&self) -> u64 {
        self.server.tls_handshakes()
    }

    /// The PEM certificate clients must trust in HTTPS mode.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.server.certificate_pem()
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.server.address()
    }

    /// Injects `fault` into the next request to `endpoint`; several queue up in order.
    pub fn inject(&self, endpoint: Endpoint, fault: Fault) {
        self.state.faults.inject(endpoint, fault);
    }

    /// Every order accepted so far, oldest first.
    pub fn accepted_orders(&self) -> Vec<AcceptedOrder> {
        self.state.with_book(|book, _| book.accepted().to_vec())
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<SimRequest> {
        self.state.requests()
    }

    /// How many requests to `endpoint` were received.
    pub fn requests_to(&self, endpoint: Endpoint) -> usize {
        self.state
            .requests()
            .iter()
            .filter(|request| request.endpoint == Some(endpoint))
            .count()
    }

    /// How many sessions the user `user_id` opened (token exchanges and renewals).
    pub fn logins(&self, user_id: &str) -> usize {
        self.state.logins(user_id)
    }

    /// Ends every session issued so far (as Kite does at 06:00 IST).
    pub fn expire_sessions(&self) {
        self.state.expire_sessions();
    }

    /// Fills a working order completely at `price`. Returns whether the order was working.
    pub fn fill(&self, order_id: &str, price: Decimal) -> bool {
        self.state
            .with_book(|book, now| book.fill(order_id, price, now))
    }

    /// Moves the last price of `EXCHANGE:TRADINGSYMBOL` (listing it when new) and fills
    /// the orders it reaches: limits it crosses, stops it triggers.
    pub fn set_price(&self, instrument: &str, price: Decimal) {
        self.state
            .with_book(|book, now| book.set_price(instrument, price, now));
    }

    /// The simulator's time.
    pub fn now(&self) -> DateTime<Utc> {
        self.state.clock.now()
    }

    /// Moves the simulator's time forward by `by` (backward when negative): sessions
    /// expire at 06:00 IST, a new trading day rolls the portfolios (T+1 shares settle), and
    /// after-market orders reach the exchange at 09:15 IST.
    pub fn advance_clock(&self, by: chrono::Duration) {
        self.state.clock.advance(by);
        self.state.with_book(|_, _| ());
    }

    /// Sets the simulator's time (see [`Simulator::advance_clock`]).
    pub fn set_clock(&self, now: DateTime<Utc>) {
        self.state.clock.set(now);
        self.state.with_book(|_, _| ());
    }

    /// The current state of every order of the user `user_id`, oldest first.
    pub fn orders(&self, user_id: &str) -> Vec<WireOrder> {
        self.state.with_book(|book, _| book.orders_of(user_id))
    }
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}
