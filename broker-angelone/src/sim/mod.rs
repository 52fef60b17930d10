//! An in-process SmartAPI simulator (feature `sim`).
//!
//! It speaks the real wire protocol with the real response and error shapes, so both this
//! crate's client and the official Python SDK work against it unchanged:
//!
//! - accounts with an API key, client code, MPIN, TOTP secret and registered static IPs;
//!   login checks the MPIN and the TOTP code (one 30 s step either side);
//! - session tokens with an expiry, refresh tokens, logout;
//! - place, modify and cancel check the **TCP peer address** against the registered IPs
//!   (AG7002 otherwise), whatever `X-ClientPublicIP` claims;
//! - an order book, fills ([`Simulator::fill`]), a trade book and positions;
//! - faults on demand ([`Fault`]) and a log of every order it accepted
//!   ([`Simulator::accepted_orders`]), so tests can prove no order was placed twice.
//!
//! It tolerates the official SDK's quirks: JSON in GET query strings (ignored),
//! `Content-type` header casing, a fixed `X-ClientPublicIP`.

mod handler;
mod responses;
mod state;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use secrecy::SecretString;
use url::Url;

use crate::http::endpoint::Endpoint;
use crate::http::models::PlaceOrderBody;
use state::SimState;

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
}

impl std::fmt::Debug for SimAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = broker_core::credentials::REDACTED;
        f.debug_struct("SimAccount")
            .field("api_key", &redacted)
            .field("client_code", &self.client_code)
            .field("mpin", &redacted)
            .field("totp_secret", &redacted)
            .field("registered_ips", &self.registered_ips)
            .finish()
    }
}

impl SimAccount {
    /// An account with these credentials and no registered IP yet.
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
        }
    }

    /// The same account with one more registered static IP.
    #[must_use]
    pub fn with_registered_ip(mut self, ip: IpAddr) -> Self {
        self.registered_ips.push(ip);
        self
    }
}

/// A fault the simulator injects into the next request to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer normally after this delay.
    Latency(Duration),
    /// Process the request, then answer this HTTP 5xx status with a gateway error page (the
    /// worst case for order calls: the order exists but the client cannot know).
    ServerError(u16),
    /// Process the request, then never answer (until the simulator stops).
    Hang,
    /// Refuse with HTTP 403 `Access denied because of exceeding access rate`, unprocessed.
    RateLimitPage,
    /// Refuse with the firewall's HTML "Request Rejected" page, unprocessed.
    WafPage,
    /// Refuse with an empty HTTP 400, unprocessed.
    EmptyBadRequest,
    /// Answer AG8001 "Invalid Token" inside HTTP 200, unprocessed.
    SessionExpired,
    /// Accept a placed order, then reject it with this reason (visible in the order book).
    RejectAfterAccept(String),
}

/// An order the simulator accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedOrder {
    /// The order id it was given.
    pub order_id: String,
    /// The account.
    pub client_code: String,
    /// The TCP peer address it came from.
    pub peer_ip: IpAddr,
    /// The body as received.
    pub body: PlaceOrderBody,
}

/// A running simulator. Stops when dropped.
pub struct Simulator {
    address: SocketAddr,
    state: Arc<SimState>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Starts on an ephemeral port of 127.0.0.1.
    ///
    /// # Errors
    /// The I/O error when the port cannot be bound.
    pub async fn start(accounts: impl IntoIterator<Item = SimAccount>) -> io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), accounts).await
    }

    /// Starts on this address (port 0 for an ephemeral one).
    ///
    /// # Errors
    /// The I/O error when the address cannot be bound.
    pub async fn start_on(
        address: SocketAddr,
        accounts: impl IntoIterator<Item = SimAccount>,
    ) -> io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let state = Arc::new(SimState::new(accounts.into_iter().collect()));
        let app = handler::router(Arc::clone(&state));
        let server = tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(error) = axum::serve(listener, service).await {
                tracing::error!(%error, "SmartAPI simulator stopped");
            }
        });
        tracing::debug!(%address, "SmartAPI simulator listening");
        Ok(Self {
            address,
            state,
            server,
        })
    }

    /// The base URL to give a client.
    pub fn url(&self) -> Url {
        let text = format!("http://{}", self.address);
        Url::parse(&text).unwrap_or_else(|_| unreachable!("a socket address makes a valid URL"))
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Injects `fault` into the next request to `endpoint` (faults queue up in order).
    pub fn inject(&self, endpoint: Endpoint, fault: Fault) {
        self.state.inject(endpoint, fault);
    }

    /// Every order accepted so far, oldest first.
    pub fn accepted_orders(&self) -> Vec<AcceptedOrder> {
        self.state.accepted_orders()
    }

    /// How many successful logins this client code made.
    pub fn logins(&self, client_code: &str) -> usize {
        self.state.logins(client_code)
    }

    /// Makes every session token issued so far expire now.
    pub fn expire_sessions(&self) {
        self.state.expire_sessions();
    }

    /// Fills a working order completely at `price`. Returns whether the order was working.
    pub fn fill(&self, order_id: &str, price: Decimal) -> bool {
        self.state.fill(order_id, price)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.state.shut_down();
        self.server.abort();
    }
}
