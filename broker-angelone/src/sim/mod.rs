//! An in-process SmartAPI simulator (feature `sim`), built on broker-core's simulator scaffold
//! ([`broker_core::sim`]: serving over HTTP or HTTPS with the real peer address, faults,
//! per-account quotas).
//!
//! It speaks the real wire protocol with the real answer and error shapes and field types, so
//! both this crate's client and the official Python SDK work against it unchanged, and it
//! holds orders to SmartAPI's rules, so that what passes here would pass at the broker (the
//! crate README lists what it enforces and what it does not):
//!
//! - many accounts, each with an API key, client code, MPIN, TOTP secret, registered static
//!   IPs, cash and holdings; login checks the MPIN and the TOTP code (one 30 s step either
//!   side) by the simulator's clock;
//! - sessions that end at 05:00 IST on that clock; `generateTokens` needs the session's
//!   bearer, ends the old token and issues new ones; logout ends the refresh token too;
//! - place, modify and cancel check the **TCP peer address** against the registered IPs
//!   (AG7002 otherwise), whatever `X-ClientPublicIP` claims;
//! - an instrument master (served at [`Simulator::scrip_master_url`], so
//!   [`crate::InstrumentCache`] can load it from here) with lot and tick sizes, and a price
//!   feed; orders are refused or rejected as SmartAPI, the risk system and the exchange would
//!   (`checks.rs`), and matched against the feed: marketable limit orders fill at once,
//!   resting ones when the price reaches them, stop-losses trigger when it crosses their
//!   trigger; fills make trades, positions, holdings and funds;
//! - Angel One's quotas per account, on by default ([`SimConfig::quotas`]), answered with
//!   its rate-limit page, including the regulatory 10 orders a second;
//! - faults on demand ([`Simulator::inject`] with a [`broker_core::sim::Fault`]), a log of
//!   every request with its TCP peer ([`Simulator::requests`]) and of every order accepted
//!   ([`Simulator::accepted_orders`]);
//! - prices, fills, rejections, faults and the clock reachable over HTTP too, on the admin
//!   routes under `/_sim/` (not SmartAPI routes: see the crate README), for the
//!   `angelone-sim` binary.
//!
//! The shared faults are answered as SmartAPI answers: `RateLimited` with HTTP 403 and the
//! plain text "Access denied because of exceeding access rate", `FirewallPage` with the HTML
//! "Request Rejected" page, `EmptyBadRequest` with an empty HTTP 400, `SessionExpired` with
//! AG8001 "Invalid Token" inside HTTP 200, `ServerError` and `Hang` after processing.
//! Unknown routes are answered with SmartAPI's JSON error envelope (HTTP 404), never plain
//! text, so the SDK reports them instead of failing to parse.
//!
//! It tolerates the official SDK's quirks: JSON in GET query strings (ignored),
//! `Content-type` header casing, a fixed `X-ClientPublicIP`.

mod admin;
mod book;
mod checks;
mod market;
mod portfolio;
mod responses;
mod routes;
mod state;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use broker_core::sim::{Fault, SimListen, SimServer};
use broker_core::{EndpointClass, Exchange, Quota, QuotaRule, REDACTED, SharedClock, system_clock};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use secrecy::SecretString;

use crate::http::Endpoint;
use crate::http::models::{PlaceOrderBody, WireOrder};
use book::Opening;
use market::{Market, SCRIP_MASTER, SCRIP_MASTER_PATH};
use state::{Parts, SimState};

/// The most orders an account may place in a second without registering its strategy with
/// the exchange (SEBI's 2026 framework); Angel One refuses the excess as exceeding the
/// access rate.
pub const REGULATORY_ORDERS_PER_SECOND: u32 = 10;

/// The quotas the simulator enforces by default: Angel One's published ones
/// ([`crate::default_quota_rules`]) and the regulatory orders per second.
pub fn quota_rules() -> Vec<QuotaRule> {
    let mut rules = crate::default_quota_rules();
    if let Some(count) = NonZeroU32::new(REGULATORY_ORDERS_PER_SECOND) {
        rules.push(QuotaRule::new(
            [EndpointClass::PlaceOrder],
            Quota::per_second(count),
        ));
    }
    rules
}

/// Shares an account holds when the simulator starts (delivered, so sellable at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimHolding {
    /// The exchange of the instrument named.
    pub exchange: Exchange,
    /// Its symbol token in the simulator's master.
    pub symboltoken: String,
    /// How many shares.
    pub quantity: u32,
    /// What they cost on average.
    pub average_price: Decimal,
}

/// A simulated Angel One account.
#[derive(Clone)]
pub struct SimAccount {
    /// The SmartAPI key (`X-PrivateKey`).
    pub api_key: SecretString,
    /// The client code.
    pub client_code: String,
    /// The MPIN.
    pub mpin: SecretString,
    /// The base32 TOTP secret.
    pub totp_secret: SecretString,
    /// Addresses registered for orders.
    pub registered_ips: Vec<IpAddr>,
    /// The account holder's name.
    pub name: String,
    /// Cash available for trading.
    pub cash: Decimal,
    /// Shares held at start.
    pub holdings: Vec<SimHolding>,
}

impl std::fmt::Debug for SimAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimAccount")
            .field("api_key", &REDACTED)
            .field("client_code", &self.client_code)
            .field("mpin", &REDACTED)
            .field("totp_secret", &REDACTED)
            .field("registered_ips", &self.registered_ips)
            .field("cash", &self.cash)
            .field("holdings", &self.holdings)
            .finish()
    }
}

impl SimAccount {
    /// An account with these credentials, no registered IP yet, 1,00,000 rupees and no
    /// holdings.
    pub fn new(
        api_key: impl Into<String>,
        client_code: impl Into<String>,
        mpin: impl Into<String>,
        totp_secret: impl Into<String>,
    ) -> Self {
        Self {
            api_key: SecretString::from(api_key.into()),
            client_code: client_code.into(),
            mpin: SecretString::from(mpin.into()),
            totp_secret: SecretString::from(totp_secret.into()),
            registered_ips: Vec::new(),
            name: "Sim Trader".to_owned(),
            cash: Decimal::new(100_000, 0),
            holdings: Vec::new(),
        }
    }

    /// The demo account: key `SIMKEY1`, client code `S1234`, MPIN `1234`, TOTP secret
    /// `GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ` (RFC 6238's test key), orders from 127.0.0.1.
    pub fn demo() -> Self {
        Self::new(
            "SIMKEY1",
            "S1234",
            "1234",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        )
        .with_registered_ip(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
    }

    /// The same account with one more registered static IP.
    #[must_use]
    pub fn with_registered_ip(mut self, ip: IpAddr) -> Self {
        self.registered_ips.push(ip);
        self
    }

    /// The same account with this much cash.
    #[must_use]
    pub fn with_cash(mut self, cash: Decimal) -> Self {
        self.cash = cash;
        self
    }

    /// The same account holding these shares at start.
    #[must_use]
    pub fn with_holding(mut self, holding: SimHolding) -> Self {
        self.holdings.push(holding);
        self
    }
}

/// How to run a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The accounts it knows.
    pub accounts: Vec<SimAccount>,
    /// Where and how it listens (plain HTTP on an ephemeral loopback port by default).
    pub listen: SimListen,
    /// Quotas enforced per account, as Angel One enforces them ([`quota_rules`] by default;
    /// none with [`SimConfig::without_quotas`]).
    pub quotas: Vec<QuotaRule>,
    /// Its clock: TOTP codes, session expiry and order times follow it.
    pub clock: SharedClock,
    /// Its instrument master, an `OpenAPIScripMaster.json` (the simulator's own sample when
    /// `None`).
    pub scrip_master: Option<String>,
    /// Whether orders match against the price feed (on by default); off, they rest until
    /// [`Simulator::fill`].
    pub matching: bool,
    /// Whether the admin routes under `/_sim/` answer (on by default).
    pub admin: bool,
}

impl SimConfig {
    /// These accounts, on an ephemeral loopback port over plain HTTP, with Angel One's
    /// quotas, on the system clock, with the simulator's own instruments, matching and the
    /// admin routes.
    pub fn new(accounts: impl IntoIterator<Item = SimAccount>) -> Self {
        Self {
            accounts: accounts.into_iter().collect(),
            listen: SimListen::loopback(),
            quotas: quota_rules(),
            clock: system_clock(),
            scrip_master: None,
            matching: true,
            admin: true,
        }
    }

    /// The same, listening as `listen` says.
    #[must_use]
    pub fn with_listen(mut self, listen: SimListen) -> Self {
        self.listen = listen;
        self
    }

    /// The same, enforcing `quotas` per account.
    #[must_use]
    pub fn with_quotas(mut self, quotas: Vec<QuotaRule>) -> Self {
        self.quotas = quotas;
        self
    }

    /// The same, enforcing no quota (benchmarks, tests that are about something else).
    #[must_use]
    pub fn without_quotas(self) -> Self {
        self.with_quotas(Vec::new())
    }

    /// The same, on `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The same, trading the instruments of this `OpenAPIScripMaster.json` (every one opens
    /// at 100 unless it is one of the simulator's own).
    #[must_use]
    pub fn with_scrip_master(mut self, json: impl Into<String>) -> Self {
        self.scrip_master = Some(json.into());
        self
    }

    /// The same, matching orders against the price feed or not.
    #[must_use]
    pub fn with_matching(mut self, matching: bool) -> Self {
        self.matching = matching;
        self
    }

    /// The same, with or without the admin routes.
    #[must_use]
    pub fn with_admin(mut self, admin: bool) -> Self {
        self.admin = admin;
        self
    }
}

impl Default for SimConfig {
    /// The demo account ([`SimAccount::demo`]).
    fn default() -> Self {
        Self::new([SimAccount::demo()])
    }
}

/// An order the simulator accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AcceptedOrder {
    /// The order id it was given.
    pub order_id: String,
    /// The account.
    pub client_code: String,
    /// The TCP peer address it came from.
    pub peer: IpAddr,
    /// The body as received.
    pub body: PlaceOrderBody,
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

/// A running simulator. Stops, with every open connection, when dropped.
pub struct Simulator {
    server: SimServer,
    state: Arc<SimState>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("address", &self.server.address())
            .finish_non_exhaustive()
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

impl Simulator {
    /// Starts serving as `config` says.
    ///
    /// # Errors
    /// The I/O error when the address cannot be bound or the HTTPS certificate cannot be
    /// made; [`io::ErrorKind::InvalidInput`] for an instrument master that does not parse or
    /// a holding of an instrument it does not have.
    pub async fn start(config: SimConfig) -> io::Result<Self> {
        let master = config
            .scrip_master
            .unwrap_or_else(|| SCRIP_MASTER.to_owned());
        let market = Market::new(master)
            .map_err(|error| invalid(format!("the instrument master: {error}")))?;
        let state = Arc::new(SimState::new(Parts {
            accounts: config.accounts,
            quotas: config.quotas,
            clock: config.clock,
            market,
            matching: config.matching,
            admin: config.admin,
        }));
        for account in state.accounts() {
            let mut holdings = Vec::new();
            for holding in &account.holdings {
                let instrument = state
                    .market
                    .instrument(holding.exchange, &holding.symboltoken)
                    .ok_or_else(|| {
                        invalid(format!(
                            "account {}: no instrument {}:{} to hold",
                            account.client_code, holding.exchange, holding.symboltoken
                        ))
                    })?;
                holdings.push((instrument, holding.quantity, holding.average_price));
            }
            state.book.open(
                Opening {
                    client_code: &account.client_code,
                    cash: account.cash,
                    holdings,
                },
                &state.market,
            );
        }
        let server = SimServer::start(routes::router(Arc::clone(&state)), config.listen).await?;
        Ok(Self { server, state })
    }

    /// The base URL to give a client (`https://` in HTTPS mode).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Where the simulator serves its instrument master (give it to
    /// [`crate::InstrumentCache`] or [`crate::download_instruments`]).
    pub fn scrip_master_url(&self) -> String {
        format!("{}{SCRIP_MASTER_PATH}", self.url())
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.server.address()
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

    /// The PEM certificate clients must trust in HTTPS mode
    /// (`broker_core::TlsConfig::with_extra_roots`).
    pub fn certificate_pem(&self) -> Option<&str> {
        self.server.certificate_pem()
    }

    /// Injects `fault` into the next request to `endpoint` (faults queue up in order).
    pub fn inject(&self, endpoint: Endpoint, fault: Fault) {
        self.state.faults.inject(endpoint, fault);
    }

    /// Every order accepted so far, oldest first (including those rejected after
    /// acceptance).
    pub fn accepted_orders(&self) -> Vec<AcceptedOrder> {
        self.state.book.accepted()
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

    /// How many successful logins this client code made.
    pub fn logins(&self, client_code: &str) -> usize {
        self.state.logins(client_code)
    }

    /// Registers `ip` as one more static IP of the account with `client_code`, as its holder
    /// would in the SmartAPI dashboard; `false` when no account has that client code.
    pub fn register_ip(&self, client_code: &str, ip: IpAddr) -> bool {
        self.state.register_ip(client_code, ip)
    }

    /// Makes every session issued so far (tokens and refresh tokens) expire now.
    pub fn expire_sessions(&self) {
        self.state.expire_sessions();
    }

    /// The simulator's time.
    pub fn now(&self) -> DateTime<Utc> {
        self.state.now()
    }

    /// Moves the simulator's time forward (or back, for a negative duration): sessions
    /// expire and TOTP codes change as if the time had passed.
    pub fn advance_clock(&self, by: chrono::Duration) {
        self.state.advance(by);
    }

    /// The last price of an instrument.
    pub fn last_price(&self, exchange: Exchange, symbol_token: &str) -> Option<Decimal> {
        self.state.market.last_price(exchange, symbol_token)
    }

    /// Moves the last price of an instrument and, when matching, triggers and fills the
    /// orders it reaches. Returns the ids of the orders filled.
    ///
    /// # Errors
    /// Why the price cannot be set (unknown instrument, not above zero, off the tick).
    pub fn set_price(
        &self,
        exchange: Exchange,
        symbol_token: &str,
        price: Decimal,
    ) -> Result<Vec<String>, String> {
        admin::move_price(&self.state, exchange, symbol_token, price)
    }

    /// Fills a working order completely at `price` (whether or not the price feed reaches
    /// it). Returns whether the order was working.
    pub fn fill(&self, order_id: &str, price: Decimal) -> bool {
        self.state
            .book
            .fill(order_id, Some(price), &self.state.market, self.state.now())
    }

    /// Rejects a working order with `reason`, as an exchange can after accepting it.
    /// Returns whether the order was working.
    pub fn reject(&self, order_id: &str, reason: &str) -> bool {
        self.state.book.reject(order_id, reason, self.state.now())
    }

    /// The current state of every order of the client `client_code`, oldest first.
    pub fn orders(&self, client_code: &str) -> Vec<WireOrder> {
        self.state.book.orders_of(client_code)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.state.shut_down();
    }
}
