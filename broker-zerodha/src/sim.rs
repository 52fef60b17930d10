//! An in-process Kite Connect simulator (feature `sim`) that speaks the real wire protocol.
//!
//! It serves a stand-in for the login page that redirects back with a `request_token` and the
//! caller's `redirect_params`, exchanges request tokens for access tokens after checking the
//! checksum, expires access tokens at 06:00 IST, refuses order requests from peers (the real
//! TCP peer address) that are not on the app's IP whitelist, keeps an order book, trades and
//! positions, POSTs signed postbacks, and injects faults on demand. The official Python SDK
//! works against it unchanged (see `conformance/`).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use broker_zerodha::sim::{KiteSimulator, SimConfig};
//! let simulator = KiteSimulator::start(SimConfig::default()).await?;
//! println!("Kite simulator at {}", simulator.url());
//! # Ok(()) }
//! ```

mod respond;
mod routes;
mod state;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use secrecy::SecretString;

use crate::auth::{LoginRedirect, LoginRedirectError};
use crate::http::models::{KiteOrder, PlaceOrderParams};
use broker_core::credentials::REDACTED;

use state::SimState;

/// How a simulated Kite app and its one user are set up.
#[derive(Clone)]
pub struct SimConfig {
    /// The app's API key.
    pub api_key: String,
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
    /// Last prices by `EXCHANGE:TRADINGSYMBOL`; orders on other instruments are refused.
    pub prices: HashMap<String, Decimal>,
    /// The cash balance of the equity segment.
    pub cash: Decimal,
}

impl Default for SimConfig {
    fn default() -> Self {
        let prices = [
            ("NSE:INFY", Decimal::new(141_295, 2)),
            ("NSE:SBIN", Decimal::new(80_105, 2)),
            ("NFO:NIFTY26DECFUT", Decimal::new(2_410_000, 2)),
        ]
        .into_iter()
        .map(|(key, price)| (key.to_owned(), price))
        .collect();
        Self {
            api_key: "simkey".into(),
            api_secret: SecretString::from("simsecret"),
            user_id: "ZS1234".into(),
            user_name: "Sim User".into(),
            allowed_ips: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            redirect_url: "http://127.0.0.1/kite/callback".into(),
            postback_url: None,
            issue_refresh_tokens: false,
            prices,
            cash: Decimal::new(100_000, 0),
        }
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
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

/// A fault the simulator applies to the next API request (the login page is never faulted).
/// The same set as the Angel One simulator's, with Kite's own answers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer normally after this delay.
    Latency(Duration),
    /// Process the request, then answer this HTTP 5xx status with a gateway error page (the
    /// worst case for order calls: the order exists but the client cannot know).
    ServerError(u16),
    /// Process the request, then never answer (until the simulator stops): the client times out.
    Hang,
    /// Refuse with HTTP 429 `NetworkException` "Too many requests", unprocessed.
    TooManyRequests,
    /// Refuse with a firewall's HTML page (HTTP 403), unprocessed.
    WafPage,
    /// Refuse with an empty HTTP 400, unprocessed.
    EmptyBadRequest,
    /// Refuse with HTTP 403 `TokenException` and revoke every access token, unprocessed.
    SessionExpired,
    /// Accept a placed order, then reject it with this reason (visible in the order book).
    RejectAfterAccept(String),
}

/// An order the simulator accepted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AcceptedOrder {
    /// The id it was given.
    pub order_id: String,
    /// The variety path segment.
    pub variety: String,
    /// The form it was placed with.
    pub params: PlaceOrderParams,
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

/// What the user's browser does with the simulator's login page: opens `login_url` and reads
/// the redirect back to the app, without following it.
///
/// # Errors
/// [`BrowserLoginError`] when the page fails or does not redirect with a request token.
pub async fn browser_login(login_url: url::Url) -> Result<LoginRedirect, BrowserLoginError> {
    let http = |error: reqwest::Error| BrowserLoginError::Http(error.without_url().to_string());
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(http)?;
    let answer = browser.get(login_url).send().await.map_err(http)?;
    let status = answer.status().as_u16();
    let location = answer
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| url::Url::parse(value).ok())
        .ok_or(BrowserLoginError::NoRedirect { status })?;
    Ok(LoginRedirect::parse(location.query().unwrap_or_default())?)
}

/// A running simulator; stops when dropped.
pub struct KiteSimulator {
    address: SocketAddr,
    state: Arc<SimState>,
    server: tokio::task::JoinHandle<()>,
}

impl KiteSimulator {
    /// Starts a simulator on an ephemeral port of 127.0.0.1.
    ///
    /// # Errors
    /// The I/O error when the port cannot be bound.
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        Self::start_on(config, SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)).await
    }

    /// Starts a simulator on this address (port 0 picks a free one).
    ///
    /// # Errors
    /// The I/O error when the address cannot be bound.
    pub async fn start_on(config: SimConfig, address: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let state = Arc::new(SimState::new(config));
        let app = routes::router(Arc::clone(&state));
        let server = tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(error) = axum::serve(listener, service).await {
                tracing::warn!(%error, "kite simulator stopped");
            }
        });
        Ok(Self {
            address,
            state,
            server,
        })
    }

    /// The API root, such as `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The login page stand-in.
    pub fn login_page(&self) -> String {
        format!("{}/connect/login", self.url())
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Queues a fault for the next API request; several queue up in order.
    pub fn inject(&self, fault: Fault) {
        self.state.inject(fault);
    }

    /// Every order accepted so far, oldest first.
    pub fn accepted_orders(&self) -> Vec<AcceptedOrder> {
        self.state.accepted_orders()
    }

    /// How many requests arrived with this method whose path starts with `path_prefix`.
    pub fn requests_to(&self, method: &str, path_prefix: &str) -> usize {
        self.state.requests_to(method, path_prefix)
    }

    /// The current state of every order, oldest first.
    pub fn orders(&self) -> Vec<KiteOrder> {
        self.state.current_orders()
    }

    /// Makes the simulator's clock read `now` (for session expiry); `None` follows real time.
    pub fn set_clock(&self, now: Option<DateTime<Utc>>) {
        self.state.set_clock(now);
    }
}

impl Drop for KiteSimulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl fmt::Debug for KiteSimulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KiteSimulator")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}
