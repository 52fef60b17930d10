//! The raw Kite Connect v3 client: one method per endpoint, wire types in and out.
//!
//! Endpoints: <https://kite.trade/docs/connect/v3/> (user, orders, portfolio, market-quotes).
//! Every request carries `X-Kite-Version: 3`; authenticated ones carry
//! `Authorization: token api_key:access_token`, marked sensitive so it is never printed.
//! POST and PUT parameters travel form-encoded in the body, GET and DELETE parameters in the
//! query string. Requests wait for the account's [`RateLimiter`] before they leave, from the
//! egress address of the [`HttpClientConfig`] they were built with.

use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use broker_core::transport::{transport_failure, unreadable_answer};
use broker_core::{
    BrokerError, HttpClientConfig, HttpClientError, OrderId, RateLimiter, SessionTokens, Variety,
};

use super::error::{CallKind, error_in_success_answer, map_error_response};
use super::models::{
    AllMargins, ConvertPositionParams, Envelope, KiteHolding, KiteLtp, KiteOhlcQuote, KiteOrder,
    KitePositions, KiteQuote, KiteSession, KiteTrade, ModifyOrderParams, OrderIdResponse,
    PlaceOrderParams, QuoteMap, SegmentMargins, UserProfile,
};
use super::parse::variety_code;
use super::quota::{EndpointClass, kite_rate_limiter};
use crate::auth::{KITE_LOGIN_URL, login_url, session_tokens, token_checksum};
use crate::instruments::{InstrumentMaster, parse_instruments};

/// The production API root.
pub const KITE_API_URL: &str = "https://api.kite.trade";

/// The `X-Kite-Version` header every request carries.
const KITE_VERSION: &str = "3";

/// A client could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientBuildError {
    /// A base URL is not an absolute http(s) URL.
    #[error("{which} {url:?} is not an absolute http or https URL")]
    BadUrl {
        /// Which URL.
        which: &'static str,
        /// The text given.
        url: String,
    },
    /// The HTTP client could not be built (for example, the egress address is not local).
    #[error(transparent)]
    Http(#[from] HttpClientError),
    /// The stored session cannot be used.
    #[error("the stored session cannot be used: {0}")]
    Session(BrokerError),
}

/// A margin segment of `GET /user/margins/{segment}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarginSegment {
    /// Equity and derivatives.
    Equity,
    /// Commodities.
    Commodity,
}

impl MarginSegment {
    fn as_str(self) -> &'static str {
        match self {
            Self::Equity => "equity",
            Self::Commodity => "commodity",
        }
    }
}

/// The access token in use and when it dies.
struct ActiveSession {
    access_token: SecretString,
    authorization: HeaderValue,
    expires_at: DateTime<Utc>,
}

/// Builds a [`KiteHttpClient`].
pub struct KiteHttpClientBuilder {
    api_key: SecretString,
    base_url: String,
    login_page: String,
    http: HttpClientConfig,
    limiter: Option<Arc<RateLimiter<EndpointClass>>>,
}

impl KiteHttpClientBuilder {
    /// The API root (default [`KITE_API_URL`]); a simulator's or mock server's URL in tests.
    #[must_use]
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// The login page (default [`KITE_LOGIN_URL`]).
    #[must_use]
    pub fn login_page(mut self, login_page: impl Into<String>) -> Self {
        self.login_page = login_page.into();
        self
    }

    /// How to build the HTTP client: egress binding, timeouts, user agent.
    #[must_use]
    pub fn http_config(mut self, config: HttpClientConfig) -> Self {
        self.http = config;
        self
    }

    /// The account's rate limiter (default: a fresh one with Kite's quotas). Share one
    /// limiter between every client of the same API key.
    #[must_use]
    pub fn rate_limiter(mut self, limiter: Arc<RateLimiter<EndpointClass>>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// No client-side rate limiting: for simulators and benchmarks only.
    #[must_use]
    pub fn without_rate_limits(mut self) -> Self {
        self.limiter = None;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`ClientBuildError`] for a bad URL or an egress address this machine does not own.
    pub fn build(self) -> Result<KiteHttpClient, ClientBuildError> {
        let base_url = checked_url("base URL", &self.base_url)?;
        let login_page = checked_url("login page", &self.login_page)?;
        Ok(KiteHttpClient {
            http: self.http.build()?,
            base_url: base_url.as_str().trim_end_matches('/').to_owned(),
            login_page,
            api_key: self.api_key,
            session: RwLock::new(None),
            limiter: self.limiter,
            egress_ip: self.http.egress.map(|egress| egress.public),
        })
    }
}

fn checked_url(which: &'static str, text: &str) -> Result<Url, ClientBuildError> {
    Url::parse(text)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
        .ok_or_else(|| ClientBuildError::BadUrl {
            which,
            url: text.to_owned(),
        })
}

/// The raw Kite Connect client of one API key and (once logged in) one user session.
pub struct KiteHttpClient {
    http: reqwest::Client,
    base_url: String,
    login_page: Url,
    api_key: SecretString,
    session: RwLock<Option<ActiveSession>>,
    limiter: Option<Arc<RateLimiter<EndpointClass>>>,
    egress_ip: Option<IpAddr>,
}

impl std::fmt::Debug for KiteHttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KiteHttpClient")
            .field("base_url", &self.base_url)
            .field("api_key", &broker_core::credentials::REDACTED)
            .field("egress_ip", &self.egress_ip)
            .field("rate_limited", &self.limiter.is_some())
            .finish_non_exhaustive()
    }
}

/// A 2xx answer.
struct SuccessAnswer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

/// Where a request's parameters go.
enum Params {
    None,
    Query(String),
    Form(String),
}

fn encode(params: &impl Serialize) -> Result<String, BrokerError> {
    serde_urlencoded::to_string(params).map_err(|error| BrokerError::Decode {
        message: format!("could not encode the request parameters: {error}"),
    })
}

/// A decoding failure described without quoting the body (it may hold tokens).
fn describe_json_error(error: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        error.classify(),
        error.line(),
        error.column()
    )
}

impl KiteHttpClient {
    /// A builder for the app with this API key.
    pub fn builder(api_key: impl Into<SecretString>) -> KiteHttpClientBuilder {
        KiteHttpClientBuilder {
            api_key: api_key.into(),
            base_url: KITE_API_URL.to_owned(),
            login_page: KITE_LOGIN_URL.to_owned(),
            http: HttpClientConfig::default(),
            limiter: Some(Arc::new(kite_rate_limiter())),
        }
    }

    /// The public egress address requests leave from, when bound.
    pub fn egress_ip(&self) -> Option<IpAddr> {
        self.egress_ip
    }

    /// The login page URL to send the user to; `redirect_params` (such as a CSRF `state`) come
    /// back on the redirect.
    pub fn login_url(&self, redirect_params: &[(&str, &str)]) -> Url {
        login_url(&self.login_page, &self.api_key, redirect_params)
    }

    /// Uses a stored session (for example, today's login loaded from the vault).
    ///
    /// # Errors
    /// [`BrokerError::InvalidCredentials`] when the token cannot be sent in a header.
    pub fn set_session(&self, tokens: &SessionTokens) -> Result<(), BrokerError> {
        let access_token = tokens.access_token();
        let mut authorization = HeaderValue::try_from(format!(
            "token {}:{}",
            self.api_key.expose_secret(),
            access_token.expose_secret()
        ))
        .map_err(|_| BrokerError::InvalidCredentials {
            message: "the API key or access token has characters not allowed in a header".into(),
        })?;
        authorization.set_sensitive(true);
        *self.session.write().unwrap_or_else(PoisonError::into_inner) = Some(ActiveSession {
            access_token: access_token.clone(),
            authorization,
            expires_at: tokens.expires_at(),
        });
        Ok(())
    }

    fn authorization(&self) -> Result<HeaderValue, BrokerError> {
        let session = self.session.read().unwrap_or_else(PoisonError::into_inner);
        let Some(session) = session.as_ref() else {
            return Err(BrokerError::SessionExpired {
                message: "no Kite session: the user must log in to Kite".into(),
            });
        };
        if Utc::now() >= session.expires_at {
            return Err(BrokerError::SessionExpired {
                message: format!(
                    "the Kite session expired at {} (06:00 IST); the user must log in again",
                    session.expires_at
                ),
            });
        }
        Ok(session.authorization.clone())
    }

    /// Exchanges the request token from the login redirect for a session
    /// (`POST /session/token`, checksum = SHA-256 of api_key + request_token + api_secret),
    /// and uses it for later calls. The session expires at 06:00 IST after the login.
    ///
    /// # Errors
    /// [`BrokerError::InvalidCredentials`] when Kite refuses the checksum (wrong secret),
    /// [`BrokerError::SessionExpired`] when the request token is invalid or used, or others.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn generate_session(
        &self,
        request_token: &SecretString,
        api_secret: &SecretString,
    ) -> Result<KiteSession, BrokerError> {
        let checksum = token_checksum(&self.api_key, request_token, api_secret);
        let form = encode(&[
            ("api_key", self.api_key.expose_secret()),
            ("request_token", request_token.expose_secret()),
            ("checksum", checksum.as_str()),
        ])?;
        self.open_session("/session/token", form).await
    }

    /// Renews the session with a refresh token (`POST /session/refresh_token`), which only
    /// approved platforms receive, and uses the new access token for later calls.
    ///
    /// # Errors
    /// As for [`KiteHttpClient::generate_session`].
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn renew_access_token(
        &self,
        refresh_token: &SecretString,
        api_secret: &SecretString,
    ) -> Result<KiteSession, BrokerError> {
        let checksum = token_checksum(&self.api_key, refresh_token, api_secret);
        let form = encode(&[
            ("api_key", self.api_key.expose_secret()),
            ("refresh_token", refresh_token.expose_secret()),
            ("checksum", checksum.as_str()),
        ])?;
        self.open_session("/session/refresh_token", form).await
    }

    async fn open_session(&self, path: &str, form: String) -> Result<KiteSession, BrokerError> {
        let session: KiteSession = self
            .call(
                Method::POST,
                path,
                Params::Form(form),
                EndpointClass::Other,
                CallKind::Read,
                false,
            )
            .await
            .map_err(|error| match error {
                BrokerError::SessionExpired { message }
                    if message.to_ascii_lowercase().contains("checksum") =>
                {
                    BrokerError::InvalidCredentials {
                        message: format!(
                            "Kite refused the checksum: check the API secret ({message})"
                        ),
                    }
                }
                other => other,
            })?;
        self.set_session(&session_tokens(&session, Utc::now())?)?;
        Ok(session)
    }

    /// Ends the current session (`DELETE /session/token`); later calls need a new login.
    ///
    /// # Errors
    /// [`BrokerError::SessionExpired`] when there is no session, or any other Kite reports.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn invalidate_access_token(&self) -> Result<(), BrokerError> {
        let access_token = self
            .session
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|session| session.access_token.clone())
            .ok_or_else(|| BrokerError::SessionExpired {
                message: "no Kite session to end".into(),
            })?;
        let query = encode(&[
            ("api_key", self.api_key.expose_secret()),
            ("access_token", access_token.expose_secret()),
        ])?;
        let _: serde_json::Value = self
            .call(
                Method::DELETE,
                "/session/token",
                Params::Query(query),
                EndpointClass::Other,
                CallKind::Read,
                false,
            )
            .await?;
        *self.session.write().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(())
    }

    /// `GET /user/profile`.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn profile(&self) -> Result<UserProfile, BrokerError> {
        self.read("/user/profile").await
    }

    /// `GET /user/margins`: every segment.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn margins(&self) -> Result<AllMargins, BrokerError> {
        self.read("/user/margins").await
    }

    /// `GET /user/margins/{segment}`.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn segment_margins(
        &self,
        segment: MarginSegment,
    ) -> Result<SegmentMargins, BrokerError> {
        let path = format!("/user/margins/{}", segment.as_str());
        self.read(&path).await
    }

    /// `POST /orders/{variety}`: places an order, never repeated.
    ///
    /// # Errors
    /// [`BrokerError::OrderRejected`], [`BrokerError::OrderOutcomeUnknown`] when the answer
    /// was lost after sending, or any other [`BrokerError`].
    #[tracing::instrument(level = "debug", skip_all, fields(variety = ?variety, tag = params.tag.as_deref()))]
    pub async fn place_order(
        &self,
        variety: Variety,
        params: &PlaceOrderParams,
    ) -> Result<OrderId, BrokerError> {
        let path = format!("/orders/{}", variety_code(variety)?);
        let placed: OrderIdResponse = self
            .call(
                Method::POST,
                &path,
                Params::Form(encode(params)?),
                EndpointClass::Order,
                CallKind::Place,
                true,
            )
            .await?;
        Ok(OrderId::new(placed.order_id))
    }

    /// `PUT /orders/{variety}/{order_id}`: modifies an open order, never repeated.
    ///
    /// # Errors
    /// As for [`KiteHttpClient::place_order`], and [`BrokerError::OrderNotFound`].
    #[tracing::instrument(level = "debug", skip_all, fields(order_id = %order_id))]
    pub async fn modify_order(
        &self,
        variety: Variety,
        order_id: &OrderId,
        params: &ModifyOrderParams,
    ) -> Result<OrderId, BrokerError> {
        let path = format!("/orders/{}/{order_id}", variety_code(variety)?);
        let modified: OrderIdResponse = self
            .call(
                Method::PUT,
                &path,
                Params::Form(encode(params)?),
                EndpointClass::Order,
                CallKind::ChangeOrder(order_id),
                true,
            )
            .await?;
        Ok(OrderId::new(modified.order_id))
    }

    /// `DELETE /orders/{variety}/{order_id}`: cancels an open order, never repeated.
    ///
    /// # Errors
    /// As for [`KiteHttpClient::modify_order`].
    #[tracing::instrument(level = "debug", skip_all, fields(order_id = %order_id))]
    pub async fn cancel_order(
        &self,
        variety: Variety,
        order_id: &OrderId,
    ) -> Result<OrderId, BrokerError> {
        let path = format!("/orders/{}/{order_id}", variety_code(variety)?);
        let cancelled: OrderIdResponse = self
            .call(
                Method::DELETE,
                &path,
                Params::None,
                EndpointClass::Order,
                CallKind::ChangeOrder(order_id),
                true,
            )
            .await?;
        Ok(OrderId::new(cancelled.order_id))
    }

    /// `GET /orders`: the day's order book.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn orders(&self) -> Result<Vec<KiteOrder>, BrokerError> {
        self.read("/orders").await
    }

    /// `GET /orders/{order_id}`: every state the order went through, oldest first.
    ///
    /// # Errors
    /// [`BrokerError::OrderNotFound`], or any other [`BrokerError`].
    pub async fn order_history(&self, order_id: &OrderId) -> Result<Vec<KiteOrder>, BrokerError> {
        let path = format!("/orders/{order_id}");
        self.read_about_order(&path, order_id).await
    }

    /// `GET /orders/{order_id}/trades`: the order's fills.
    ///
    /// # Errors
    /// [`BrokerError::OrderNotFound`], or any other [`BrokerError`].
    pub async fn order_trades(&self, order_id: &OrderId) -> Result<Vec<KiteTrade>, BrokerError> {
        let path = format!("/orders/{order_id}/trades");
        self.read_about_order(&path, order_id).await
    }

    /// `GET /trades`: the day's fills.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn trades(&self) -> Result<Vec<KiteTrade>, BrokerError> {
        self.read("/trades").await
    }

    /// `GET /portfolio/positions`.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn positions(&self) -> Result<KitePositions, BrokerError> {
        self.read("/portfolio/positions").await
    }

    /// `PUT /portfolio/positions`: converts a position to another product.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn convert_position(
        &self,
        params: &ConvertPositionParams,
    ) -> Result<bool, BrokerError> {
        self.call(
            Method::PUT,
            "/portfolio/positions",
            Params::Form(encode(params)?),
            EndpointClass::Other,
            CallKind::Read,
            true,
        )
        .await
    }

    /// `GET /portfolio/holdings`.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn holdings(&self) -> Result<Vec<KiteHolding>, BrokerError> {
        self.read("/portfolio/holdings").await
    }

    /// `GET /quote?i=…`: full quotes keyed by `EXCHANGE:TRADINGSYMBOL`.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn quote(&self, instruments: &[String]) -> Result<QuoteMap<KiteQuote>, BrokerError> {
        self.quotes_from("/quote", instruments).await
    }

    /// `GET /quote/ohlc?i=…`.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn ohlc(
        &self,
        instruments: &[String],
    ) -> Result<QuoteMap<KiteOhlcQuote>, BrokerError> {
        self.quotes_from("/quote/ohlc", instruments).await
    }

    /// `GET /quote/ltp?i=…`.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn ltp(&self, instruments: &[String]) -> Result<QuoteMap<KiteLtp>, BrokerError> {
        self.quotes_from("/quote/ltp", instruments).await
    }

    /// `GET /instruments`: the instrument master (CSV), parsed.
    ///
    /// # Errors
    /// [`BrokerError::Decode`] naming the bad row, or any other [`BrokerError`].
    pub async fn instruments(&self) -> Result<InstrumentMaster, BrokerError> {
        let answer = self
            .exchange(
                Method::GET,
                "/instruments",
                Params::None,
                EndpointClass::Other,
                CallKind::Read,
                true,
            )
            .await?;
        parse_instruments(answer.body.as_slice()).map_err(|error| BrokerError::Decode {
            message: error.to_string(),
        })
    }

    /// A GET of an authenticated read without parameters.
    async fn read<T: DeserializeOwned>(&self, path: &str) -> Result<T, BrokerError> {
        self.call(
            Method::GET,
            path,
            Params::None,
            EndpointClass::Other,
            CallKind::Read,
            true,
        )
        .await
    }

    /// A GET about one order, whose "not found" is [`BrokerError::OrderNotFound`].
    async fn read_about_order<T: DeserializeOwned>(
        &self,
        path: &str,
        order_id: &OrderId,
    ) -> Result<T, BrokerError> {
        let call = CallKind::ReadOrder(order_id);
        self.call(
            Method::GET,
            path,
            Params::None,
            EndpointClass::Other,
            call,
            true,
        )
        .await
    }

    /// A GET of one of the quote endpoints with `i=EXCHANGE:SYMBOL` repeated.
    async fn quotes_from<T: DeserializeOwned>(
        &self,
        path: &str,
        instruments: &[String],
    ) -> Result<QuoteMap<T>, BrokerError> {
        let pairs: Vec<(&str, &str)> = instruments.iter().map(|key| ("i", key.as_str())).collect();
        let query = Params::Query(encode(&pairs)?);
        self.call(
            Method::GET,
            path,
            query,
            EndpointClass::Quote,
            CallKind::Read,
            true,
        )
        .await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        params: Params,
        class: EndpointClass,
        call: CallKind<'_>,
        authenticated: bool,
    ) -> Result<T, BrokerError> {
        let answer = self
            .exchange(method, path, params, class, call, authenticated)
            .await?;
        let decoded = answer
            .content_type
            .contains("json")
            .then(|| serde_json::from_slice::<Envelope<T>>(&answer.body));
        match decoded {
            Some(Ok(envelope)) => Ok(envelope.data),
            // Kite's SDKs treat `"status":"error"` as an error whatever the HTTP status.
            Some(Err(_))
                if let Some(error) = error_in_success_answer(
                    answer.status,
                    &answer.body,
                    call,
                    path,
                    self.egress_ip,
                ) =>
            {
                Err(error)
            }
            Some(Err(error)) => Err(unreadable_answer(
                answer.status,
                call.changes_orders(),
                path,
                &describe_json_error(&error),
            )),
            None => Err(unreadable_answer(
                answer.status,
                call.changes_orders(),
                path,
                &format!("expected JSON, got {:?}", answer.content_type),
            )),
        }
    }

    /// Sends one request and returns a 2xx answer; anything else is mapped to an error.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        params: Params,
        class: EndpointClass,
        call: CallKind<'_>,
        authenticated: bool,
    ) -> Result<SuccessAnswer, BrokerError> {
        let mut url = format!("{}{path}", self.base_url);
        let mut request: RequestBuilder;
        match params {
            Params::Query(query) => {
                url.push('?');
                url.push_str(&query);
                request = self.http.request(method.clone(), url);
            }
            Params::Form(form) => {
                request = self
                    .http
                    .request(method.clone(), url)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form);
            }
            Params::None => request = self.http.request(method.clone(), url),
        }
        request = request.header("X-Kite-Version", KITE_VERSION);
        if authenticated {
            request = request.header(AUTHORIZATION, self.authorization()?);
        }
        if let Some(limiter) = &self.limiter {
            limiter.acquire(class).await;
        }
        let started = Instant::now();
        tracing::debug!(%method, path, "kite request");
        let response = request
            .send()
            .await
            .map_err(|error| transport_failure(&error, call.changes_orders(), path))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse().ok())
            .map(Duration::from_secs);
        let body = response
            .bytes()
            .await
            .map_err(|error| transport_failure(&error, call.changes_orders(), path))?;
        tracing::trace!(
            %method,
            path,
            status,
            bytes = body.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "kite answer"
        );
        if !(200..300).contains(&status) {
            return Err(map_error_response(
                status,
                &content_type,
                &body,
                retry_after,
                call,
                path,
                self.egress_ip,
            ));
        }
        Ok(SuccessAnswer {
            status,
            content_type,
            body: Vec::from(body),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> KiteHttpClient {
        KiteHttpClient::builder("key123")
            .without_rate_limits()
            .build()
            .unwrap()
    }

    #[test]
    fn the_authorization_header_is_sensitive_and_never_printed() {
        let client = client();
        let tokens =
            SessionTokens::new("tok456".into(), Utc::now() + chrono::Duration::hours(1)).unwrap();
        client.set_session(&tokens).unwrap();
        let header = client.authorization().unwrap();
        assert!(header.is_sensitive());
        assert_eq!(header.to_str().unwrap(), "token key123:tok456");
        let printed = format!("{header:?} {client:?}");
        assert!(
            !printed.contains("tok456") && !printed.contains("key123"),
            "{printed}"
        );
    }

    #[test]
    fn without_a_session_calls_need_a_login() {
        assert!(client().authorization().unwrap_err().needs_login());
    }

    #[test]
    fn base_urls_must_be_absolute_http_urls() {
        for bad in ["api.kite.trade", "ftp://api.kite.trade", ""] {
            let error = KiteHttpClient::builder("k")
                .base_url(bad)
                .build()
                .unwrap_err();
            assert!(
                matches!(error, ClientBuildError::BadUrl { .. }),
                "{bad}: {error}"
            );
        }
    }
}
