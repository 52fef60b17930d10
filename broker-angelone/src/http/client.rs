//! The raw SmartAPI client: one method per endpoint, wire types in and out.
//!
//! It sends the headers the official SDKs send, reports the egress address of its
//! [`HttpClient`] in `X-ClientLocalIP` / `X-ClientPublicIP`, spaces requests by a
//! [`RateLimiter`] when given one, and classifies every failure through
//! [`broker_core::transport`] by the call's [`broker_core::transport::CallKind`] (see the
//! crate docs' error table). It never repeats a request, never follows a redirect (the
//! [`HttpClient`] does not), reads at most [`MAX_API_ANSWER_BYTES`] of an answer, and keeps
//! no session: callers pass the bearer token. Bodies are never logged.
//!
//! Secrets in transit: the serialized body of every request (the login body carries the MPIN
//! and the TOTP code) and the `Authorization` and `X-PrivateKey` header values are built in
//! buffers that are wiped when the HTTP stack drops them, and broker-core's HTTP client wipes
//! its write and read buffer after every exchange. The copies rustls makes into TLS records
//! and the kernel into socket buffers are not ours to wipe, nor is a temporary
//! copy the JSON parser makes of a token. An answer's `data` is read from the answer's own
//! (wiped) buffer straight into its wire type, never through a JSON value, so its numbers
//! never pass through `f64`.
//!
//! Reference: <https://smartapi.angelbroking.com/docs>.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_core::transport::{self, MAX_API_ANSWER_BYTES};
use broker_core::{
    ApiAnswer, ApiRequest, BadUrl, BrokerError, ConnectError, CredentialError, HttpClient,
    Interned, RateLimiter, Uri,
};
use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use zeroize::{Zeroize, Zeroizing};

use super::endpoint::{Endpoint, order_id_param};
use super::error::{self, ErrorContext};
use super::models::{
    CancelOrderBody, CandleDataBody, ConvertPositionBody, Envelope, LoginBody, LogoutBody, LtpBody,
    ModifyOrderBody, PlaceOrderBody, QuoteBody, RawEnvelope, RefreshBody, SearchScripBody,
    WireAllHoldings, WireCandle, WireFunds, WireHolding, WireLtp, WireOrder, WireOrderAck,
    WirePosition, WireProfile, WireQuotes, WireScrip, WireSession, WireTrade,
};

/// SmartAPI's production API root.
pub const SMARTAPI_URL: &str = "https://apiconnect.angelone.in";

/// The `X-MACAddress` header: SmartAPI requires it; the toolkit does not report the
/// machine's hardware address.
const MAC_ADDRESS: &str = "00:00:00:00:00:00";

/// Room for a request body, so that serializing one never reallocates (a reallocation would
/// leave a copy of the MPIN behind in freed memory). The login body is about 100 bytes.
const BODY_CAPACITY: usize = 1024;

/// The raw SmartAPI client of one account.
pub struct AngelOneHttpClient {
    http: HttpClient,
    api_url: String,
    /// Every endpoint's URI, parsed once (indexed by [`Endpoint::index`]): parsing a URL per
    /// request was a fifth of an order's CPU. Shared by every client of the same API URL
    /// (4 KB each, per account, before).
    endpoint_uris: Arc<[Uri]>,
    headers: HeaderMap,
    egress_ip: Option<IpAddr>,
    limiter: Option<Arc<RateLimiter>>,
}

impl std::fmt::Debug for AngelOneHttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AngelOneHttpClient")
            .field("api_url", &self.api_url)
            .field("egress_ip", &self.egress_ip)
            .field("rate_limited", &self.limiter.is_some())
            .finish_non_exhaustive()
    }
}

/// A buffer that is wiped when dropped.
struct Wiped(Vec<u8>);

impl AsRef<[u8]> for Wiped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Wiped {
    fn drop(&mut self) {
        self.0.zeroize();
        #[cfg(test)]
        tests::WIPED.with(|wiped| wiped.set(wiped.get() + 1));
    }
}

/// Bytes that are wiped when their last holder (the HTTP stack, once it has sent them) drops
/// them.
fn wiped_on_drop(buffer: Vec<u8>) -> Bytes {
    Bytes::from_owner(Wiped(buffer))
}

/// A sensitive header value held in a buffer wiped on drop.
fn secret_header(value: Vec<u8>) -> Option<HeaderValue> {
    let value = wiped_on_drop(value);
    let mut header = HeaderValue::from_maybe_shared(value).ok()?;
    header.set_sensitive(true);
    Some(header)
}

/// The URI of `endpoint` under `api_url` (no trailing slash), with `suffix` appended to its
/// path (an order id checked by [`order_id_param`]).
fn endpoint_uri(api_url: &str, endpoint: Endpoint, suffix: &str) -> Result<Uri, BrokerError> {
    let text = format!("{api_url}{}{suffix}", endpoint.path());
    Url::parse(&text)
        .ok()
        .and_then(|url| ApiRequest::uri_of("endpoint URL", &url).ok())
        .ok_or_else(|| BrokerError::Decode {
            message: format!("{}: could not build its URL", endpoint.name()),
        })
}

impl AngelOneHttpClient {
    /// The client of the account whose SmartAPI key is `api_key`, sending through `http`
    /// (the shared client of the account's egress address) to `api_url`.
    ///
    /// # Errors
    /// [`ConnectError::BadUrl`] when `api_url` is malformed (or plain http on a client that
    /// does not allow it), [`ConnectError::Credentials`] when the key cannot go in a header.
    pub fn new(
        http: HttpClient,
        api_url: &str,
        api_key: &SecretString,
    ) -> Result<Self, ConnectError> {
        let api_url = http.check_base_url("API URL", api_url)?;
        let egress = http.egress();
        let (local, public) = egress.map_or(
            (
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V4(Ipv4Addr::LOCALHOST),
            ),
            |egress| (egress.local, egress.public),
        );
        let private_key = secret_header(api_key.expose_secret().as_bytes().to_vec())
            .ok_or(CredentialError::BadCharacters { field: "API key" })?;
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
        for (name, ip) in [("x-clientlocalip", local), ("x-clientpublicip", public)] {
            let value = HeaderValue::from_str(&ip.to_string())
                .unwrap_or_else(|_| HeaderValue::from_static("127.0.0.1"));
            headers.insert(HeaderName::from_static(name), value);
        }
        headers.insert(
            HeaderName::from_static("x-macaddress"),
            HeaderValue::from_static(MAC_ADDRESS),
        );
        headers.insert(HeaderName::from_static("x-privatekey"), private_key);
        let api_url = api_url.as_str().trim_end_matches('/').to_owned();
        static ENDPOINT_URIS: Interned<String, [Uri]> = Interned::new();
        let endpoint_uris = ENDPOINT_URIS
            .get_or_try_insert(api_url.clone(), |api_url| {
                Endpoint::ALL
                    .iter()
                    .map(|endpoint| endpoint_uri(api_url, *endpoint, ""))
                    .collect::<Result<_, _>>()
            })
            .map_err(|_| BadUrl::Malformed {
                which: "API URL",
                url: api_url.clone(),
            })?;
        Ok(Self {
            http,
            api_url,
            endpoint_uris,
            headers,
            egress_ip: egress.map(|egress| egress.public),
            limiter: None,
        })
    }

    /// The same client, waiting on `limiter` before every request (Angel One's quotas:
    /// [`crate::default_quota_rules`]).
    #[must_use]
    pub fn with_rate_limiter(mut self, limiter: Arc<RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The public address requests leave from, when bound.
    pub fn egress_ip(&self) -> Option<IpAddr> {
        self.egress_ip
    }

    /// Sends one request and decodes the envelope's `data`.
    async fn call<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        path_suffix: &str,
        session: Option<&SecretString>,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<(u16, Option<T>), BrokerError> {
        if let Some(limiter) = &self.limiter {
            limiter.acquire(endpoint.class()).await;
        }
        let name = endpoint.name();
        let call = endpoint.call_kind();
        let uri = match (path_suffix, self.endpoint_uris.get(endpoint.index())) {
            ("", Some(uri)) => uri.clone(),
            _ => endpoint_uri(&self.api_url, endpoint, path_suffix)?,
        };
        let mut request = ApiRequest::new(endpoint.method(), uri);
        request.headers = self.headers.clone();
        if let Some(token) = session {
            let mut value = Vec::with_capacity(token.expose_secret().len() + 7);
            value.extend_from_slice(b"Bearer ");
            value.extend_from_slice(token.expose_secret().as_bytes());
            let bearer = secret_header(value).ok_or_else(|| BrokerError::SessionExpired {
                message: "the stored session token cannot be sent in a header; log in again"
                    .to_owned(),
            })?;
            request.headers.insert(AUTHORIZATION, bearer);
        }
        if let Some(body) = body {
            let mut buffer = Wiped(Vec::with_capacity(BODY_CAPACITY));
            serde_json::to_writer(&mut buffer.0, body).map_err(|_| BrokerError::Decode {
                message: format!("{name}: the request could not be encoded"),
            })?;
            request.body = Some(Bytes::from_owner(buffer));
        }
        let started = Instant::now();
        tracing::debug!(endpoint = name, "SmartAPI request");
        let ApiAnswer {
            status,
            retry_after,
            body,
        } = self
            .http
            .send(request, MAX_API_ANSWER_BYTES, call, name)
            .await?;
        // The login and token answers carry the new session's tokens.
        let answer = Zeroizing::new(body);
        tracing::debug!(
            endpoint = name,
            status,
            bytes = answer.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "SmartAPI response"
        );
        self.decode_answer(endpoint, status, retry_after, &answer)
    }

    /// Decodes an answer: the envelope's `data` as `T`, or the error the answer means.
    pub(super) fn decode_answer<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        status: u16,
        retry_after: Option<Duration>,
        answer: &[u8],
    ) -> Result<(u16, Option<T>), BrokerError> {
        let name = endpoint.name();
        let context = ErrorContext {
            endpoint,
            status,
            egress_ip: self.egress_ip,
        };
        let envelope = match serde_json::from_slice::<RawEnvelope>(answer) {
            Ok(raw) => Envelope::from(raw),
            Err(_) => return Err(error::from_non_envelope(answer, retry_after, context)),
        };
        match envelope {
            Envelope::Failure { code, message } => {
                let error = error::from_code(code, message, context);
                tracing::debug!(endpoint = name, kind = %error.kind(), "SmartAPI refused the request");
                Err(error)
            }
            Envelope::Success(_) if status >= 500 => Err(transport::server_failure(
                status,
                endpoint.call_kind(),
                name,
            )),
            Envelope::Success(_) if status >= 400 => {
                Err(error::from_non_envelope(answer, retry_after, context))
            }
            Envelope::Success(None) => Ok((status, None)),
            Envelope::Success(Some(data)) => Ok((status, Some(decode(data, endpoint, status)?))),
        }
    }

    /// Like [`Self::call`], but the answer must carry `data`.
    async fn call_expecting<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        path_suffix: &str,
        session: Option<&SecretString>,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, BrokerError> {
        let (status, data) = self.call(endpoint, path_suffix, session, body).await?;
        data.ok_or_else(|| {
            transport::unreadable_answer(
                endpoint.call_kind(),
                status,
                endpoint.name(),
                "a successful answer without data",
            )
        })
    }

    /// Like [`Self::call`] for list endpoints, where no data means an empty list.
    async fn call_list<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        session: &SecretString,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<Vec<T>, BrokerError> {
        Ok(self
            .call(endpoint, "", Some(session), body)
            .await?
            .1
            .unwrap_or_default())
    }

    /// `loginByPassword`: logs in with the client code, MPIN and a current TOTP code.
    ///
    /// # Errors
    /// [`BrokerError::InvalidCredentials`], [`BrokerError::InvalidTotp`], or any other.
    pub async fn login(&self, body: &LoginBody<'_>) -> Result<WireSession, BrokerError> {
        self.call_expecting(Endpoint::Login, "", None, Some(body))
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
    ) -> Result<WireSession, BrokerError> {
        self.call_expecting(Endpoint::GenerateTokens, "", Some(session), Some(body))
            .await
    }

    /// `getProfile`.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn profile(&self, session: &SecretString) -> Result<WireProfile, BrokerError> {
        self.call_expecting(Endpoint::Profile, "", Some(session), None::<&()>)
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
        self.call::<serde_json::Value>(Endpoint::Logout, "", Some(session), Some(body))
            .await
            .map(drop)
    }

    /// `getRMS`: funds and margins.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn funds(&self, session: &SecretString) -> Result<WireFunds, BrokerError> {
        self.call_expecting(Endpoint::Funds, "", Some(session), None::<&()>)
            .await
    }

    /// `placeOrder`. Never repeated: a lost answer gives
    /// [`BrokerError::OrderOutcomeUnknown`].
    ///
    /// # Errors
    /// [`BrokerError::OrderRejected`], [`BrokerError::OrderOutcomeUnknown`],
    /// [`BrokerError::IpNotWhitelisted`], or any other.
    pub async fn place_order(
        &self,
        session: &SecretString,
        body: &PlaceOrderBody,
    ) -> Result<WireOrderAck, BrokerError> {
        self.call_expecting(Endpoint::PlaceOrder, "", Some(session), Some(body))
            .await
    }

    /// `modifyOrder`. Never repeated.
    ///
    /// # Errors
    /// [`broker_core::ValidationError::MalformedOrderId`] without sending anything for an
    /// order id SmartAPI never issues, [`BrokerError::OrderNotFound`], or as for
    /// [`Self::place_order`].
    pub async fn modify_order(
        &self,
        session: &SecretString,
        body: &ModifyOrderBody,
    ) -> Result<WireOrderAck, BrokerError> {
        order_id_param(&body.orderid)?;
        self.call_expecting(Endpoint::ModifyOrder, "", Some(session), Some(body))
            .await
            .map_err(|error| error::not_found_as_such(error, &body.orderid))
    }

    /// `cancelOrder`. Never repeated.
    ///
    /// # Errors
    /// [`broker_core::ValidationError::MalformedOrderId`] without sending anything for an
    /// order id SmartAPI never issues, [`BrokerError::OrderNotFound`], or as for
    /// [`Self::place_order`].
    pub async fn cancel_order(
        &self,
        session: &SecretString,
        body: &CancelOrderBody,
    ) -> Result<WireOrderAck, BrokerError> {
        order_id_param(&body.orderid)?;
        self.call_expecting(Endpoint::CancelOrder, "", Some(session), Some(body))
            .await
            .map_err(|error| error::not_found_as_such(error, &body.orderid))
    }

    /// `getOrderBook`: the day's orders.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn order_book(&self, session: &SecretString) -> Result<Vec<WireOrder>, BrokerError> {
        self.call_list(Endpoint::OrderBook, session, None::<&()>)
            .await
    }

    /// `getTradeBook`: the day's fills.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn trade_book(&self, session: &SecretString) -> Result<Vec<WireTrade>, BrokerError> {
        self.call_list(Endpoint::TradeBook, session, None::<&()>)
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
        self.call_list(Endpoint::Positions, session, None::<&()>)
            .await
    }

    /// `getHolding`: long-term holdings.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn holdings(&self, session: &SecretString) -> Result<Vec<WireHolding>, BrokerError> {
        self.call_list(Endpoint::Holdings, session, None::<&()>)
            .await
    }

    /// `getAllHolding`: every holding and their totals.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn all_holdings(
        &self,
        session: &SecretString,
    ) -> Result<WireAllHoldings, BrokerError> {
        Ok(self
            .call(Endpoint::AllHoldings, "", Some(session), None::<&()>)
            .await?
            .1
            .unwrap_or_default())
    }

    /// `historical/v1/getCandleData`: candles of one instrument.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn candle_data(
        &self,
        session: &SecretString,
        body: &CandleDataBody,
    ) -> Result<Vec<WireCandle>, BrokerError> {
        self.call_list(Endpoint::CandleData, session, Some(body))
            .await
    }

    /// `details/{uniqueorderid}`: one order's current state.
    ///
    /// # Errors
    /// [`broker_core::ValidationError::MalformedOrderId`] without sending anything when the id
    /// is not one SmartAPI issues (it goes into the path); otherwise any [`BrokerError`].
    pub async fn order_details(
        &self,
        session: &SecretString,
        unique_order_id: &str,
    ) -> Result<WireOrder, BrokerError> {
        let unique_order_id = order_id_param(unique_order_id)?;
        self.call_expecting(
            Endpoint::OrderDetails,
            unique_order_id,
            Some(session),
            None::<&()>,
        )
        .await
        .map_err(|error| error::not_found_as_such(error, unique_order_id))
    }

    /// `getLtpData`: one instrument's last price.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn ltp(
        &self,
        session: &SecretString,
        body: &LtpBody,
    ) -> Result<WireLtp, BrokerError> {
        self.call_expecting(Endpoint::Ltp, "", Some(session), Some(body))
            .await
    }

    /// `market/v1/quote`: quotes for many symbol tokens at once.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn quote(
        &self,
        session: &SecretString,
        body: &QuoteBody,
    ) -> Result<WireQuotes, BrokerError> {
        Ok(self
            .call(Endpoint::Quote, "", Some(session), Some(body))
            .await?
            .1
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
        self.call::<serde_json::Value>(Endpoint::ConvertPosition, "", Some(session), Some(body))
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
    ) -> Result<Vec<WireScrip>, BrokerError> {
        self.call_list(Endpoint::SearchScrip, session, Some(body))
            .await
    }
}

/// Decodes an answer's `data` from its text. A failure names the field path only, never a
/// value: answers carry personal data (names, e-mail addresses, holdings) and, at login,
/// tokens.
fn decode<T: DeserializeOwned>(
    data: &RawValue,
    endpoint: Endpoint,
    status: u16,
) -> Result<T, BrokerError> {
    serde_json::from_str(data.get()).map_err(|_| {
        // Decoding again with the path tracked costs nothing on the successful path.
        let mut deserializer = serde_json::Deserializer::from_str(data.get());
        let detail = match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
            Err(error) => {
                let inner = error.inner().to_string();
                let path = error.path().to_string();
                if inner.starts_with("missing field") {
                    format!("the answer's data at {path}: {inner}")
                } else {
                    format!("the answer's data at {path} has a value of the wrong type or format")
                }
            }
            Ok(_) => "the answer's data does not have the expected shape".to_owned(),
        };
        transport::unreadable_answer(endpoint.call_kind(), status, endpoint.name(), &detail)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    use broker_core::{EgressBinding, HttpClientConfig};
    use wiremock::matchers::{body_string_contains, header, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use crate::http::models::LoginBody;

    thread_local! {
        /// How many secret-holding buffers this thread wiped (a current-thread test runtime
        /// drops the HTTP stack's buffers on the test's own thread).
        pub(super) static WIPED: Cell<usize> = const { Cell::new(0) };
    }

    fn wiped() -> usize {
        WIPED.with(Cell::get)
    }

    /// Waits (up to a second) for the connection task to drop what it sent.
    async fn wiped_since(start: usize, expected: usize) -> usize {
        for _ in 0..200 {
            if wiped() - start >= expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        wiped() - start
    }

    async fn client_of(server: &MockServer) -> AngelOneHttpClient {
        let http = HttpClientConfig::bound_to(EgressBinding::direct("127.0.0.1".parse().unwrap()))
            .allow_plain_http()
            .build()
            .unwrap();
        AngelOneHttpClient::new(http, &server.uri(), &SecretString::from("apiKEY9")).unwrap()
    }

    #[tokio::test]
    async fn the_login_body_bearer_header_and_api_key_are_wiped_once_sent_or_dropped() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(body_string_contains(r#""password":"4321""#))
            .and(header("x-privatekey", "apiKEY9"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "status": true, "message": "SUCCESS", "errorcode": "",
                "data": {"jwtToken": "eyJnew", "refreshToken": "ref", "feedToken": "feed"}
            })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(header("authorization", "Bearer eyJnew"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "status": true, "message": "SUCCESS", "errorcode": "", "data": null
            })))
            .expect(1)
            .mount(&server)
            .await;
        let client = client_of(&server).await;
        let start = wiped();
        let (mpin, totp) = (SecretString::from("4321"), SecretString::from("654321"));
        let session = client
            .login(&LoginBody {
                clientcode: "A1",
                password: &mpin,
                totp: &totp,
            })
            .await
            .unwrap();
        assert_eq!(
            wiped_since(start, 1).await,
            1,
            "the login body (MPIN and TOTP code)"
        );
        client.order_book(&session.jwt_token).await.unwrap();
        assert_eq!(wiped_since(start, 2).await, 2, "and the bearer header");
        drop(client);
        assert_eq!(
            wiped() - start,
            3,
            "and the API key header, with the client"
        );
        server.verify().await;
    }

    #[test]
    fn a_decode_failure_names_the_field_but_not_the_value() {
        let data = serde_json::json!([{"orderid": "1", "variety": "NORMAL", "ordertype": "LIMIT",
            "producttype": "DELIVERY", "quantity": "Asha Verma", "tradingsymbol": "SBIN-EQ",
            "transactiontype": "BUY", "exchange": "NSE"}]);
        let data = RawValue::from_string(data.to_string()).unwrap();
        let error = decode::<Vec<WireOrder>>(&data, Endpoint::OrderBook, 200).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("[0].quantity"), "{text}");
        assert!(!text.contains("Asha"), "{text}");
        let data = RawValue::from_string(r#"{"name": "Asha Verma"}"#.to_owned()).unwrap();
        let error = decode::<WireProfile>(&data, Endpoint::Profile, 200).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("missing field `clientcode`"), "{text}");
        assert!(!text.contains("Asha"), "{text}");
    }
}
