//! The raw Kite Connect v3 client: one method per endpoint, wire types in and out.
//!
//! Endpoints: <https://kite.trade/docs/connect/v3/> (user, orders, portfolio, market quotes).
//! Every request carries `X-Kite-Version: 3`; calls that need a session take an
//! [`Authorization`] (`token api_key:access_token`, marked sensitive so it is never printed).
//! POST and PUT parameters travel form-encoded in the body, GET and DELETE parameters in the
//! query string. Requests wait for the account's [`RateLimiter`] before they leave, through
//! the shared [`HttpClient`] of the account's egress address (no redirects followed, https
//! only unless allowed), and every failure is classified by `broker_core::transport`.
//!
//! The session itself (which tokens are current, when they expire, who is told) is kept by
//! [`crate::Zerodha`]; this client only sends what it is given.

use std::convert::Infallible;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use broker_core::transport::{
    MAX_API_ANSWER_BYTES, MAX_INSTRUMENT_MASTER_BYTES, unenveloped_answer, unreadable_answer,
};
use broker_core::{
    ApiAnswer, ApiRequest, BrokerError, HttpClient, Interned, OrderId, REDACTED, RateLimiter, Uri,
    Variety,
};

use super::Endpoint;
use super::endpoint::{MarginSegment, order_id_segment, variety_segment};
use super::error::kite_error;
use super::models::{
    ConvertPositionBody, ModifyOrderBody, PlaceOrderBody, QuoteMap, WireAutoslicePlacement,
    WireEnvelope, WireError, WireFunds, WireFundsBySegment, WireHolding, WireLtp, WireOhlcQuote,
    WireOrder, WireOrderId, WirePositions, WireProfile, WireQuote, WireSession, WireTrade,
};
use crate::login::checksum;
use crate::session::Authorization;

/// The production API root.
pub const KITE_API_URL: &str = "https://api.kite.trade";

/// The `X-Kite-Version` header every request carries.
const KITE_VERSION: &str = "3";

/// The header that carries [`KITE_VERSION`].
const KITE_VERSION_HEADER: HeaderName = HeaderName::from_static("x-kite-version");

/// Where a call's parameters go.
enum Payload {
    None,
    Query(Vec<(&'static str, String)>),
    Form(Bytes),
}

/// One request to send.
struct Call<'a> {
    endpoint: Endpoint,
    parameters: &'a [&'a str],
    session: Option<&'a Authorization>,
    /// The order the call is about: its "not found" is [`BrokerError::OrderNotFound`].
    order_id: Option<&'a OrderId>,
    payload: Payload,
    limit: usize,
}

impl<'a> Call<'a> {
    fn new(endpoint: Endpoint, session: Option<&'a Authorization>) -> Self {
        Self {
            endpoint,
            parameters: &[],
            session,
            order_id: None,
            payload: Payload::None,
            limit: MAX_API_ANSWER_BYTES,
        }
    }

    fn parameters(mut self, parameters: &'a [&'a str]) -> Self {
        self.parameters = parameters;
        self
    }

    fn about(mut self, order_id: &'a OrderId) -> Self {
        self.order_id = Some(order_id);
        self
    }

    fn payload(mut self, payload: Payload) -> Self {
        self.payload = payload;
        self
    }
}

/// The raw Kite Connect client of one app (API key), shared by every call of its account.
pub struct ZerodhaHttpClient {
    http: HttpClient,
    api_url: Url,
    /// The URIs of the endpoints without parameters, and of every order placement's variety,
    /// built once: building the URL per order was a tenth of an order's instructions. Shared
    /// by every client of the same API URL (4.7 KB each, per account, before).
    fixed_uris: Arc<[FixedUri]>,
    api_key: SecretString,
    limiter: Arc<RateLimiter>,
    egress_ip: Option<IpAddr>,
}

impl fmt::Debug for ZerodhaHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZerodhaHttpClient")
            .field("api_url", &self.api_url.as_str())
            .field("api_key", &REDACTED)
            .field("egress_ip", &self.egress_ip)
            .field("limiter", &self.limiter)
            .finish()
    }
}

/// Room for a form body, so that encoding an order's form never reallocates.
const FORM_CAPACITY: usize = 512;

/// Form-encodes a body.
fn form(body: &impl Serialize) -> Result<Payload, BrokerError> {
    let mut text = url::form_urlencoded::Serializer::new(String::with_capacity(FORM_CAPACITY));
    body.serialize(serde_urlencoded::Serializer::new(&mut text))
        .map_err(|error| BrokerError::Decode {
            message: format!("could not encode the request form: {error}"),
        })?;
    Ok(Payload::Form(Bytes::from(text.finish())))
}

/// The URIs [`ZerodhaHttpClient::request`] does not build per request: every endpoint without
/// path parameters, and order placement for every variety (the parameter it is keyed by).
fn fixed_uris(api_url: &Url) -> Arc<[FixedUri]> {
    static FIXED_URIS: Interned<Url, [FixedUri]> = Interned::new();
    FIXED_URIS
        .get_or_try_insert(api_url.clone(), |api_url| {
            Ok::<_, Infallible>(build_fixed_uris(api_url).into())
        })
        .unwrap_or_else(|never| match never {})
}

/// An endpoint, its path parameter (empty for none) and its URI.
type FixedUri = (Endpoint, &'static str, Uri);

fn build_fixed_uris(api_url: &Url) -> Vec<FixedUri> {
    let varieties = [
        Variety::Regular,
        Variety::Amo,
        Variety::Cover,
        Variety::Iceberg,
        Variety::Auction,
    ];
    let placements = varieties
        .into_iter()
        .filter_map(|variety| variety_segment(variety).ok())
        .map(|segment| (Endpoint::PlaceOrder, segment));
    Endpoint::ALL
        .into_iter()
        .filter(|endpoint| !endpoint.path().contains('{'))
        .map(|endpoint| (endpoint, ""))
        .chain(placements)
        .filter_map(|(endpoint, parameter)| {
            let parameters: &[&str] = if parameter.is_empty() {
                &[]
            } else {
                &[parameter]
            };
            let url = endpoint.url(api_url, parameters)?;
            let uri = ApiRequest::uri_of("API URL", &url).ok()?;
            Some((endpoint, parameter, uri))
        })
        .collect()
}

/// Form-encodes pairs that hold secrets into one buffer, sized so it never reallocates, that
/// is wiped when the HTTP stack drops the body.
fn secret_form(pairs: &[(&str, &str)]) -> Payload {
    let capacity = pairs
        .iter()
        .map(|(key, value)| key.len() + 3 * value.len() + 2)
        .sum();
    let text = url::form_urlencoded::Serializer::new(String::with_capacity(capacity))
        .extend_pairs(pairs)
        .finish();
    Payload::Form(Bytes::from_owner(Zeroizing::new(text.into_bytes())))
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

impl ZerodhaHttpClient {
    /// A client for the app with this API key, at `api_url` (checked by
    /// `ConnectOptions::api_url_or`), sending through `http` and paced by `limiter`.
    pub fn new(
        http: &HttpClient,
        api_url: Url,
        api_key: SecretString,
        limiter: Arc<RateLimiter>,
    ) -> Self {
        let fixed_uris = fixed_uris(&api_url);
        Self {
            http: http.clone(),
            api_url,
            fixed_uris,
            api_key,
            limiter,
            egress_ip: http.egress().map(|egress| egress.public),
        }
    }

    /// The public egress address requests leave from, when bound.
    pub fn egress_ip(&self) -> Option<IpAddr> {
        self.egress_ip
    }

    /// The API root.
    pub fn api_url(&self) -> &Url {
        &self.api_url
    }

    pub(crate) fn api_key(&self) -> &SecretString {
        &self.api_key
    }

    /// The `Authorization` header of a session with this access token.
    ///
    /// # Errors
    /// [`BrokerError::InvalidCredentials`] when the key or token has characters a header
    /// cannot carry.
    pub fn authorization(&self, access_token: &SecretString) -> Result<Authorization, BrokerError> {
        Authorization::new(&self.api_key, access_token)
    }

    /// `POST /session/token`: exchanges the login's request token for a session
    /// (checksum = SHA-256 of api_key + request_token + api_secret). Uses nothing of a
    /// current session and installs nothing.
    ///
    /// # Errors
    /// [`BrokerError::InvalidCredentials`] when Kite refuses the key or checksum,
    /// [`BrokerError::SessionExpired`] when the request token is invalid or used, or any other.
    pub async fn generate_session(
        &self,
        request_token: &SecretString,
        api_secret: &SecretString,
    ) -> Result<WireSession, BrokerError> {
        self.exchange_token(
            Endpoint::GenerateSession,
            "request_token",
            request_token,
            api_secret,
        )
        .await
    }

    /// `POST /session/refresh_token`: a new session from a refresh token, which only
    /// approved platforms receive.
    ///
    /// # Errors
    /// As for [`ZerodhaHttpClient::generate_session`].
    pub async fn renew_access_token(
        &self,
        refresh_token: &SecretString,
        api_secret: &SecretString,
    ) -> Result<WireSession, BrokerError> {
        self.exchange_token(
            Endpoint::RenewAccessToken,
            "refresh_token",
            refresh_token,
            api_secret,
        )
        .await
    }

    async fn exchange_token(
        &self,
        endpoint: Endpoint,
        field: &str,
        token: &SecretString,
        api_secret: &SecretString,
    ) -> Result<WireSession, BrokerError> {
        let api_key = self.api_key.expose_secret();
        let token = token.expose_secret();
        // Derived from the API secret and the token: wiped like them.
        let checksum = Zeroizing::new(checksum(&[api_key, token, api_secret.expose_secret()]));
        let body = secret_form(&[
            ("api_key", api_key),
            (field, token),
            ("checksum", checksum.as_str()),
        ]);
        self.call(Call::new(endpoint, None).payload(body)).await
    }

    /// `DELETE /session/token`: ends the session of this access token.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn invalidate_access_token(
        &self,
        access_token: &SecretString,
    ) -> Result<(), BrokerError> {
        let query = vec![
            ("api_key", self.api_key.expose_secret().to_owned()),
            ("access_token", access_token.expose_secret().to_owned()),
        ];
        let call = Call::new(Endpoint::InvalidateAccessToken, None).payload(Payload::Query(query));
        let _: serde_json::Value = self.call(call).await?;
        Ok(())
    }

    /// `GET /user/profile`.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn profile(&self, session: &Authorization) -> Result<WireProfile, BrokerError> {
        self.call(Call::new(Endpoint::Profile, Some(session))).await
    }

    /// `GET /user/margins`: funds of every segment.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn funds(&self, session: &Authorization) -> Result<WireFundsBySegment, BrokerError> {
        self.call(Call::new(Endpoint::Funds, Some(session))).await
    }

    /// `GET /user/margins/{segment}`.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn segment_funds(
        &self,
        session: &Authorization,
        segment: MarginSegment,
    ) -> Result<WireFunds, BrokerError> {
        let parameters = [segment.segment()];
        self.call(Call::new(Endpoint::SegmentFunds, Some(session)).parameters(&parameters))
            .await
    }

    /// `POST /orders/{variety}`: places an order, never repeated.
    ///
    /// # Errors
    /// [`BrokerError::OrderRejected`], [`BrokerError::OrderOutcomeUnknown`] when the answer
    /// was lost after sending, or any other [`BrokerError`].
    pub async fn place_order(
        &self,
        session: &Authorization,
        variety: Variety,
        body: &PlaceOrderBody,
    ) -> Result<OrderId, BrokerError> {
        let placed: WireOrderId = self.place(session, variety, body).await?;
        Ok(OrderId::new(placed.order_id))
    }

    /// `POST /orders/{variety}` with `autoslice=true`: Kite slices a quantity above the
    /// exchange's freeze limit into several orders and answers with every slice, placed or
    /// refused. Never repeated.
    ///
    /// # Errors
    /// As for [`ZerodhaHttpClient::place_order`] (a refused slice is not an error of the
    /// call: it is in the answer).
    pub async fn place_autoslice_order(
        &self,
        session: &Authorization,
        variety: Variety,
        body: &PlaceOrderBody,
    ) -> Result<WireAutoslicePlacement, BrokerError> {
        let body = PlaceOrderBody {
            autoslice: Some(true),
            ..body.clone()
        };
        self.place(session, variety, &body).await
    }

    async fn place<T: DeserializeOwned>(
        &self,
        session: &Authorization,
        variety: Variety,
        body: &PlaceOrderBody,
    ) -> Result<T, BrokerError> {
        let parameters = [variety_segment(variety)?];
        let call = Call::new(Endpoint::PlaceOrder, Some(session))
            .parameters(&parameters)
            .payload(form(body)?);
        self.call(call).await
    }

    /// `PUT /orders/{variety}/{order_id}`: modifies an open order, never repeated.
    ///
    /// # Errors
    /// As for [`ZerodhaHttpClient::place_order`], [`BrokerError::OrderNotFound`], and
    /// [`BrokerError::Broker`] without sending anything for an id that is not letters and
    /// digits.
    pub async fn modify_order(
        &self,
        session: &Authorization,
        variety: Variety,
        order_id: &OrderId,
        body: &ModifyOrderBody,
    ) -> Result<OrderId, BrokerError> {
        let parameters = [variety_segment(variety)?, order_id_segment(order_id)?];
        let call = Call::new(Endpoint::ModifyOrder, Some(session))
            .parameters(&parameters)
            .about(order_id)
            .payload(form(body)?);
        let modified: WireOrderId = self.call(call).await?;
        Ok(OrderId::new(modified.order_id))
    }

    /// `DELETE /orders/{variety}/{order_id}`: cancels an open order, never repeated.
    ///
    /// # Errors
    /// As for [`ZerodhaHttpClient::modify_order`].
    pub async fn cancel_order(
        &self,
        session: &Authorization,
        variety: Variety,
        order_id: &OrderId,
    ) -> Result<OrderId, BrokerError> {
        let parameters = [variety_segment(variety)?, order_id_segment(order_id)?];
        let call = Call::new(Endpoint::CancelOrder, Some(session))
            .parameters(&parameters)
            .about(order_id);
        let cancelled: WireOrderId = self.call(call).await?;
        Ok(OrderId::new(cancelled.order_id))
    }

    /// `GET /orders`: the day's order book.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn order_book(&self, session: &Authorization) -> Result<Vec<WireOrder>, BrokerError> {
        self.call(Call::new(Endpoint::OrderBook, Some(session)))
            .await
    }

    /// `GET /orders/{order_id}`: every state the order went through, oldest first.
    ///
    /// # Errors
    /// [`BrokerError::OrderNotFound`], [`BrokerError::Broker`] without sending anything for
    /// an id that is not letters and digits, or any other [`BrokerError`].
    pub async fn order_history(
        &self,
        session: &Authorization,
        order_id: &OrderId,
    ) -> Result<Vec<WireOrder>, BrokerError> {
        let parameters = [order_id_segment(order_id)?];
        let call = Call::new(Endpoint::OrderHistory, Some(session))
            .parameters(&parameters)
            .about(order_id);
        self.call(call).await
    }

    /// `GET /orders/{order_id}/trades`: the order's fills.
    ///
    /// # Errors
    /// As for [`ZerodhaHttpClient::order_history`].
    pub async fn order_trades(
        &self,
        session: &Authorization,
        order_id: &OrderId,
    ) -> Result<Vec<WireTrade>, BrokerError> {
        let parameters = [order_id_segment(order_id)?];
        let call = Call::new(Endpoint::OrderTrades, Some(session))
            .parameters(&parameters)
            .about(order_id);
        self.call(call).await
    }

    /// `GET /trades`: the day's fills.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn trade_book(&self, session: &Authorization) -> Result<Vec<WireTrade>, BrokerError> {
        self.call(Call::new(Endpoint::TradeBook, Some(session)))
            .await
    }

    /// `GET /portfolio/positions`.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn positions(&self, session: &Authorization) -> Result<WirePositions, BrokerError> {
        self.call(Call::new(Endpoint::Positions, Some(session)))
            .await
    }

    /// `PUT /portfolio/positions`: converts a position to another product. Like an order
    /// change, a lost answer is [`BrokerError::OrderOutcomeUnknown`]: check the positions
    /// before converting again.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn convert_position(
        &self,
        session: &Authorization,
        body: &ConvertPositionBody,
    ) -> Result<bool, BrokerError> {
        self.call(Call::new(Endpoint::ConvertPosition, Some(session)).payload(form(body)?))
            .await
    }

    /// `GET /portfolio/holdings`.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn holdings(&self, session: &Authorization) -> Result<Vec<WireHolding>, BrokerError> {
        self.call(Call::new(Endpoint::Holdings, Some(session)))
            .await
    }

    /// `GET /quote?i=…`: full quotes keyed by `EXCHANGE:TRADINGSYMBOL`.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn quote(
        &self,
        session: &Authorization,
        instruments: &[String],
    ) -> Result<QuoteMap<WireQuote>, BrokerError> {
        self.call(Self::quotes(Endpoint::Quote, session, instruments))
            .await
    }

    /// `GET /quote/ohlc?i=…`.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn ohlc(
        &self,
        session: &Authorization,
        instruments: &[String],
    ) -> Result<QuoteMap<WireOhlcQuote>, BrokerError> {
        self.call(Self::quotes(Endpoint::Ohlc, session, instruments))
            .await
    }

    /// `GET /quote/ltp?i=…`.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports.
    pub async fn ltp(
        &self,
        session: &Authorization,
        instruments: &[String],
    ) -> Result<QuoteMap<WireLtp>, BrokerError> {
        self.call(Self::quotes(Endpoint::Ltp, session, instruments))
            .await
    }

    fn quotes<'a>(
        endpoint: Endpoint,
        session: &'a Authorization,
        instruments: &[String],
    ) -> Call<'a> {
        let pairs = instruments.iter().map(|key| ("i", key.clone())).collect();
        Call::new(endpoint, Some(session)).payload(Payload::Query(pairs))
    }

    /// `GET /instruments`: the instrument master, as Kite's CSV (read up to
    /// [`MAX_INSTRUMENT_MASTER_BYTES`]); `crate::parse_instruments` reads it.
    ///
    /// # Errors
    /// Any [`BrokerError`] Kite reports, [`BrokerError::Decode`] for a master over the limit.
    pub async fn instruments(&self, session: &Authorization) -> Result<Vec<u8>, BrokerError> {
        let mut call = Call::new(Endpoint::Instruments, Some(session));
        call.limit = MAX_INSTRUMENT_MASTER_BYTES;
        let (_, body) = self.exchange(call).await?;
        Ok(body)
    }

    /// Sends a call and decodes the `data` of Kite's JSON envelope.
    async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, BrokerError> {
        let endpoint = call.endpoint;
        let order_id = call.order_id;
        let (status, body) = self.exchange(call).await?;
        self.decode(endpoint, order_id, status, &body)
    }

    /// Decodes the `data` of a 2xx answer in Kite's envelope, or the error it carries.
    pub(super) fn decode<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        order_id: Option<&OrderId>,
        status: u16,
        body: &[u8],
    ) -> Result<T, BrokerError> {
        let kind = endpoint.call_kind();
        let name = endpoint.name();
        match serde_json::from_slice::<WireEnvelope<T>>(body) {
            // Kite's SDKs treat `"status":"error"` as an error whatever the HTTP status.
            Ok(envelope) if envelope.is_error() => {
                let error = WireError {
                    status: envelope.status,
                    message: envelope.message.unwrap_or_default(),
                    error_type: envelope.error_type,
                };
                Err(kite_error(
                    status,
                    error,
                    None,
                    endpoint,
                    order_id,
                    self.egress_ip,
                ))
            }
            Ok(WireEnvelope {
                data: Some(data), ..
            }) => Ok(data),
            Ok(_) => Err(unreadable_answer(
                kind,
                status,
                name,
                "a success envelope without data",
            )),
            Err(error) if error.is_data() => match serde_json::from_slice::<WireError>(body) {
                Ok(kite) if kite.is_error() => Err(kite_error(
                    status,
                    kite,
                    None,
                    endpoint,
                    order_id,
                    self.egress_ip,
                )),
                _ => Err(unreadable_answer(
                    kind,
                    status,
                    name,
                    &describe_json_error(&error),
                )),
            },
            Err(_) => Err(unenveloped_answer(kind, status, body, None, name)),
        }
    }

    /// Sends one request and returns the status and body of a 2xx answer; anything else is
    /// mapped to an error.
    async fn exchange(&self, call: Call<'_>) -> Result<(u16, Vec<u8>), BrokerError> {
        let endpoint = call.endpoint;
        let kind = endpoint.call_kind();
        let name = endpoint.name();
        let request = self.request(&call)?;
        self.limiter.acquire(endpoint.class()).await;
        tracing::debug!(endpoint = name, method = %endpoint.method(), path = endpoint.path(), "kite request");
        let ApiAnswer {
            status,
            retry_after,
            body,
        } = self.http.send(request, call.limit, kind, name).await?;
        tracing::trace!(endpoint = name, status, bytes = body.len(), "kite answer");
        if (200..300).contains(&status) {
            return Ok((status, body));
        }
        Err(self.refusal(endpoint, call.order_id, status, retry_after, &body))
    }

    /// The error a non-2xx answer means: Kite's error when the body is one, otherwise what
    /// the status and body say (see `broker_core::transport`).
    pub(super) fn refusal(
        &self,
        endpoint: Endpoint,
        order_id: Option<&OrderId>,
        status: u16,
        retry_after: Option<Duration>,
        body: &[u8],
    ) -> BrokerError {
        match serde_json::from_slice::<WireError>(body) {
            Ok(kite) if kite.is_error() || !kite.message.is_empty() => kite_error(
                status,
                kite,
                retry_after,
                endpoint,
                order_id,
                self.egress_ip,
            ),
            _ => unenveloped_answer(
                endpoint.call_kind(),
                status,
                body,
                retry_after,
                endpoint.name(),
            ),
        }
    }

    fn request(&self, call: &Call<'_>) -> Result<ApiRequest, BrokerError> {
        let endpoint = call.endpoint;
        let unbuildable = || BrokerError::Decode {
            message: format!(
                "could not build the URL of {} under {}",
                endpoint.name(),
                self.api_url
            ),
        };
        let parameter = match call.parameters {
            [] => Some(""),
            [parameter] => Some(*parameter),
            _ => None,
        };
        let fixed = parameter
            .filter(|_| !matches!(call.payload, Payload::Query(_)))
            .and_then(|parameter| {
                self.fixed_uris
                    .iter()
                    .find(|(known, known_parameter, _)| {
                        *known == endpoint && *known_parameter == parameter
                    })
                    .map(|(_, _, uri)| uri.clone())
            });
        let uri = match fixed {
            Some(uri) => uri,
            None => {
                let mut url = endpoint
                    .url(&self.api_url, call.parameters)
                    .ok_or_else(unbuildable)?;
                if let Payload::Query(pairs) = &call.payload {
                    url.query_pairs_mut().extend_pairs(pairs);
                }
                ApiRequest::uri_of("API URL", &url).map_err(|_| unbuildable())?
            }
        };
        let mut request = ApiRequest::new(endpoint.method(), uri);
        let headers = &mut request.headers;
        headers.insert(KITE_VERSION_HEADER, HeaderValue::from_static(KITE_VERSION));
        if let Some(session) = call.session {
            headers.insert(AUTHORIZATION, session.header().clone());
        }
        if let Payload::Form(body) = &call.payload {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            request.body = Some(body.clone());
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_forms_encode_like_any_form() {
        let Payload::Form(body) = secret_form(&[("a", "x y"), ("b", "1&2=3")]) else {
            panic!("a form")
        };
        assert_eq!(&body[..], b"a=x+y&b=1%262%3D3");
    }
}
