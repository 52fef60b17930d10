//! The raw SmartAPI client: one method per endpoint, wire types in and out.
//!
//! It sends the headers the official SDKs send, binds to the account's egress IP (reporting
//! its public address in `X-ClientPublicIP`), spaces requests by Angel One's published
//! quotas, and classifies every failure by its body (see the crate docs' error table). It
//! never repeats a request and keeps no session: callers pass the bearer token. Bodies are
//! never logged.
//!
//! Reference: <https://smartapi.angelbroking.com/docs>.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use broker_core::{
    BrokerError, EgressBinding, HttpClientConfig, HttpClientError, RateLimiter, transport,
};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::endpoint::Endpoint;
use super::error::{self, ErrorContext, endpoint_name};
use super::models::{
    CancelOrderBody, ConvertPositionBody, Envelope, LoginBody, LogoutBody, LtpBody, LtpData,
    ModifyOrderBody, OrderAck, PlaceOrderBody, ProfileData, QuoteBody, QuoteData, RawEnvelope,
    RefreshBody, RmsData, ScripMatch, SearchScripBody, TokenData, WireHolding, WireOrder,
    WirePosition, WireTrade,
};

/// SmartAPI's production base URL.
pub const PRODUCTION_BASE_URL: &str = "https://apiconnect.angelone.in";

/// Whether the client spaces requests by Angel One's quotas (see [`Endpoint::quotas`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimits {
    /// Wait as needed so no per-client quota is exceeded, the regulatory cap of 10 orders a
    /// second included (the default).
    Published,
    /// Send at once (for simulators and benchmarks only).
    Off,
}

/// How to reach SmartAPI for one account.
#[derive(Debug, Clone)]
pub struct AngelOneConfig {
    /// Where SmartAPI is (the production host, or a simulator or mock).
    pub base_url: Url,
    /// Egress binding and timeouts.
    pub http: HttpClientConfig,
    /// The `X-MACAddress` header.
    pub mac_address: String,
    /// Whether to space requests by the quotas.
    pub rate_limits: RateLimits,
}

impl Default for AngelOneConfig {
    fn default() -> Self {
        Self {
            base_url: Url::parse(PRODUCTION_BASE_URL)
                .unwrap_or_else(|_| unreachable!("the production URL is valid")),
            http: HttpClientConfig::default(),
            mac_address: "00:00:00:00:00:00".to_owned(),
            rate_limits: RateLimits::Published,
        }
    }
}

impl AngelOneConfig {
    /// The default configuration pointed at another base URL.
    pub fn with_base_url(base_url: Url) -> Self {
        Self {
            base_url,
            ..Self::default()
        }
    }

    /// The same configuration with requests leaving from `egress`.
    #[must_use]
    pub fn bound_to(mut self, egress: EgressBinding) -> Self {
        self.http.egress = Some(egress);
        self
    }
}

/// The raw SmartAPI client of one account.
pub struct AngelOneHttpClient {
    http: reqwest::Client,
    base_url: String,
    headers: HeaderMap,
    egress_ip: Option<IpAddr>,
    limiter: Option<RateLimiter<Endpoint>>,
}

impl std::fmt::Debug for AngelOneHttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AngelOneHttpClient")
            .field("base_url", &self.base_url)
            .field("egress_ip", &self.egress_ip)
            .field("rate_limited", &self.limiter.is_some())
            .finish_non_exhaustive()
    }
}

fn header(value: &str, name: &'static str) -> Result<HeaderValue, HttpClientError> {
    HeaderValue::from_str(value)
        .map_err(|_| HttpClientError::Build(format!("{name} is not a valid HTTP header value")))
}

impl AngelOneHttpClient {
    /// Builds the client for the account whose SmartAPI key is `api_key`.
    ///
    /// # Errors
    /// [`HttpClientError`] when the egress address is not on this machine, or the key or MAC
    /// address cannot go in a header.
    pub fn new(config: &AngelOneConfig, api_key: &SecretString) -> Result<Self, HttpClientError> {
        let http = config.http.build()?;
        let (local, public) = config.http.egress.map_or(
            (
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V4(Ipv4Addr::LOCALHOST),
            ),
            |egress| (egress.local, egress.public),
        );
        let mut private_key = header(api_key.expose_secret(), "the API key")?;
        private_key.set_sensitive(true);
        let json = HeaderValue::from_static("application/json");
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, json.clone());
        headers.insert(ACCEPT, json);
        headers.insert(
            HeaderName::from_static("x-usertype"),
            HeaderValue::from_static("USER"),
        );
        headers.insert(
            HeaderName::from_static("x-sourceid"),
            HeaderValue::from_static("WEB"),
        );
        headers.insert(
            HeaderName::from_static("x-clientlocalip"),
            header(&local.to_string(), "the local IP")?,
        );
        headers.insert(
            HeaderName::from_static("x-clientpublicip"),
            header(&public.to_string(), "the public IP")?,
        );
        headers.insert(
            HeaderName::from_static("x-macaddress"),
            header(&config.mac_address, "the MAC address")?,
        );
        headers.insert(HeaderName::from_static("x-privatekey"), private_key);
        let limiter = match config.rate_limits {
            RateLimits::Published => Some(RateLimiter::new(
                Endpoint::ALL.map(|endpoint| (endpoint, endpoint.quotas())),
            )),
            RateLimits::Off => None,
        };
        Ok(Self {
            http,
            base_url: config.base_url.as_str().trim_end_matches('/').to_owned(),
            headers,
            egress_ip: config.http.egress.map(|egress| egress.public),
            limiter,
        })
    }

    /// The public address requests leave from, when bound.
    pub fn egress_ip(&self) -> Option<IpAddr> {
        self.egress_ip
    }

    /// Sends one request and decodes the envelope's `data`.
    async fn execute<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        path_suffix: &str,
        session: Option<&SecretString>,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<Option<T>, BrokerError> {
        if let Some(limiter) = &self.limiter {
            limiter.acquire(endpoint).await;
        }
        let name = endpoint_name(endpoint);
        let url = format!("{}{}{}", self.base_url, endpoint.path(), path_suffix);
        let mut request = self
            .http
            .request(endpoint.method(), url)
            .headers(self.headers.clone());
        if let Some(token) = session {
            let mut bearer = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
                .map_err(|_| BrokerError::SessionExpired {
                    message: "the stored session token cannot be sent in a header".to_owned(),
                })?;
            bearer.set_sensitive(true);
            request = request.header(AUTHORIZATION, bearer);
        }
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body).map_err(|error| BrokerError::Decode {
                message: format!("{name}: could not encode the request: {error}"),
            })?;
            request = request.body(bytes);
        }
        let started = Instant::now();
        tracing::debug!(endpoint = name, "SmartAPI request");
        let response = request.send().await.map_err(|error| {
            transport::transport_failure(&error, endpoint.changes_orders(), name)
        })?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|error| {
            transport::transport_failure(&error, endpoint.changes_orders(), name)
        })?;
        tracing::debug!(
            endpoint = name,
            status,
            bytes = bytes.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "SmartAPI response"
        );
        let context = ErrorContext {
            endpoint,
            status,
            egress_ip: self.egress_ip,
        };
        if status >= 500 && endpoint.changes_orders() {
            return Err(transport::server_failure(status, true, name));
        }
        let envelope = match serde_json::from_slice::<RawEnvelope>(&bytes) {
            Ok(raw) => Envelope::from(raw),
            Err(_) => return Err(error::from_non_json(&bytes, context)),
        };
        match envelope {
            Envelope::Failure { code, message } => {
                let error = error::from_code(code.as_deref(), &message, context);
                tracing::debug!(endpoint = name, %error, "SmartAPI refused the request");
                Err(error)
            }
            Envelope::Success(None) => Ok(None),
            Envelope::Success(Some(data)) => {
                serde_json::from_value(data).map(Some).map_err(|error| {
                    let detail = if endpoint.carries_secrets() {
                        "the answer's data does not have the expected fields".to_owned()
                    } else {
                        error.to_string()
                    };
                    transport::unreadable_answer(status, endpoint.changes_orders(), name, &detail)
                })
            }
        }
    }

    /// Like [`Self::execute`], but the answer must carry `data`.
    async fn execute_expecting<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        path_suffix: &str,
        session: Option<&SecretString>,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, BrokerError> {
        self.execute(endpoint, path_suffix, session, body)
            .await?
            .ok_or_else(|| BrokerError::Decode {
                message: format!(
                    "{}: a successful answer without data",
                    endpoint_name(endpoint)
                ),
            })
    }

    /// Like [`Self::execute`] for list endpoints, where no data means an empty list.
    async fn execute_list<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        session: &SecretString,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<Vec<T>, BrokerError> {
        Ok(self
            .execute(endpoint, "", Some(session), body)
            .await?
            .unwrap_or_default())
    }

    /// `loginByPassword`: logs in with the client code, MPIN and a current TOTP code.
    ///
    /// # Errors
    /// [`BrokerError::InvalidCredentials`], [`BrokerError::InvalidTotp`], or any other.
    pub async fn login(&self, body: &LoginBody<'_>) -> Result<TokenData, BrokerError> {
        self.execute_expecting(Endpoint::Login, "", None, Some(body))
            .await
    }

    /// `generateTokens`: renews the session with its refresh token.
    ///
    /// # Errors
    /// [`BrokerError::SessionExpired`] when the refresh token is no longer valid, or any other.
    pub async fn generate_tokens(
        &self,
        session: &SecretString,
        body: &RefreshBody<'_>,
    ) -> Result<TokenData, BrokerError> {
        self.execute_expecting(Endpoint::GenerateTokens, "", Some(session), Some(body))
            .await
    }

    /// `getProfile`.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn profile(&self, session: &SecretString) -> Result<ProfileData, BrokerError> {
        self.execute_expecting(Endpoint::Profile, "", Some(session), None::<&()>)
            .await
    }

    /// `logout`.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn logout(
        &self,
        session: &SecretString,
        body: &LogoutBody,
    ) -> Result<(), BrokerError> {
        self.execute::<serde_json::Value>(Endpoint::Logout, "", Some(session), Some(body))
            .await
            .map(drop)
    }

    /// `getRMS`: funds and margins.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn funds(&self, session: &SecretString) -> Result<RmsData, BrokerError> {
        self.execute_expecting(Endpoint::Funds, "", Some(session), None::<&()>)
            .await
    }

    /// `placeOrder`. Never repeated: a timeout or 5xx gives
    /// [`BrokerError::OrderOutcomeUnknown`].
    ///
    /// # Errors
    /// [`BrokerError::OrderRejected`], [`BrokerError::OrderOutcomeUnknown`],
    /// [`BrokerError::IpNotWhitelisted`], or any other.
    pub async fn place_order(
        &self,
        session: &SecretString,
        body: &PlaceOrderBody,
    ) -> Result<OrderAck, BrokerError> {
        self.execute_expecting(Endpoint::PlaceOrder, "", Some(session), Some(body))
            .await
    }

    /// `modifyOrder`. Never repeated.
    ///
    /// # Errors
    /// As for [`Self::place_order`].
    pub async fn modify_order(
        &self,
        session: &SecretString,
        body: &ModifyOrderBody,
    ) -> Result<OrderAck, BrokerError> {
        self.execute_expecting(Endpoint::ModifyOrder, "", Some(session), Some(body))
            .await
    }

    /// `cancelOrder`. Never repeated.
    ///
    /// # Errors
    /// As for [`Self::place_order`].
    pub async fn cancel_order(
        &self,
        session: &SecretString,
        body: &CancelOrderBody,
    ) -> Result<OrderAck, BrokerError> {
        self.execute_expecting(Endpoint::CancelOrder, "", Some(session), Some(body))
            .await
    }

    /// `getOrderBook`: the day's orders.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn order_book(&self, session: &SecretString) -> Result<Vec<WireOrder>, BrokerError> {
        self.execute_list(Endpoint::OrderBook, session, None::<&()>)
            .await
    }

    /// `getTradeBook`: the day's fills.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn trade_book(&self, session: &SecretString) -> Result<Vec<WireTrade>, BrokerError> {
        self.execute_list(Endpoint::TradeBook, session, None::<&()>)
            .await
    }

    /// `getPosition`: the day's net positions.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn positions(
        &self,
        session: &SecretString,
    ) -> Result<Vec<WirePosition>, BrokerError> {
        self.execute_list(Endpoint::Positions, session, None::<&()>)
            .await
    }

    /// `getHolding`: long-term holdings.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn holdings(&self, session: &SecretString) -> Result<Vec<WireHolding>, BrokerError> {
        self.execute_list(Endpoint::Holdings, session, None::<&()>)
            .await
    }

    /// `details/{uniqueorderid}`: one order's current state.
    ///
    /// # Errors
    /// [`BrokerError::Broker`] without sending anything when the id has characters other
    /// than letters, digits and `-`; otherwise any [`BrokerError`].
    pub async fn order_details(
        &self,
        session: &SecretString,
        unique_order_id: &str,
    ) -> Result<WireOrder, BrokerError> {
        if unique_order_id.is_empty()
            || !unique_order_id
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        {
            return Err(BrokerError::Broker {
                code: None,
                message: format!(
                    "{unique_order_id:?} is not a SmartAPI unique order id (letters, digits and '-')"
                ),
                status: None,
            });
        }
        self.execute_expecting(
            Endpoint::OrderDetails,
            unique_order_id,
            Some(session),
            None::<&()>,
        )
        .await
    }

    /// `getLtpData`: one instrument's last price.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn ltp(
        &self,
        session: &SecretString,
        body: &LtpBody,
    ) -> Result<LtpData, BrokerError> {
        self.execute_expecting(Endpoint::Ltp, "", Some(session), Some(body))
            .await
    }

    /// `market/v1/quote`: quotes for many tokens at once.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn quote(
        &self,
        session: &SecretString,
        body: &QuoteBody,
    ) -> Result<QuoteData, BrokerError> {
        Ok(self
            .execute(Endpoint::Quote, "", Some(session), Some(body))
            .await?
            .unwrap_or_default())
    }

    /// `convertPosition`: changes a position's product.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn convert_position(
        &self,
        session: &SecretString,
        body: &ConvertPositionBody,
    ) -> Result<(), BrokerError> {
        self.execute::<serde_json::Value>(Endpoint::ConvertPosition, "", Some(session), Some(body))
            .await
            .map(drop)
    }

    /// `searchScrip`: instruments whose trading symbol contains the text.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn search_scrip(
        &self,
        session: &SecretString,
        body: &SearchScripBody,
    ) -> Result<Vec<ScripMatch>, BrokerError> {
        self.execute_list(Endpoint::SearchScrip, session, Some(body))
            .await
    }
}
