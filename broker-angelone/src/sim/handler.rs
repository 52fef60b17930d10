//! Request handling: one fallback handler that routes by path, so query strings (the Python
//! SDK puts JSON there on GET requests) and header casing never matter.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::responses::{self, backend_error, gateway_error, success};
use super::state::{LoginOutcome, OrderRefusal, SimState};
use super::{Fault, SimAccount};
use crate::ORDER_NOT_FOUND_CODE;
use crate::http::endpoint::Endpoint;
use crate::http::models::{
    CancelOrderBody, ConvertPositionBody, LogoutBody, LtpBody, LtpData, ModifyOrderBody, OrderAck,
    PlaceOrderBody, ProfileData, QuoteBody, QuoteData, QuoteMode, RmsData, ScripMatch,
    SearchScripBody, WireHolding, WireOrder, WireQuote,
};

/// The simulator's instruments: (exchange, token, trading symbol, last price in paise).
const INSTRUMENTS: [(&str, &str, &str, i64); 4] = [
    ("NSE", "3045", "SBIN-EQ", 80105),
    ("NSE", "1594", "INFY-EQ", 152040),
    ("NSE", "2885", "RELIANCE-EQ", 295010),
    ("NSE", "99926000", "Nifty 50", 2415035),
];

const UNREGISTERED_IP: &str =
    "Access denied: Unregistered IP address. Register your IP before retrying.";

pub(crate) fn router(state: Arc<SimState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(
    State(state): State<Arc<SimState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(endpoint) = Endpoint::from_path(uri.path()) else {
        return (StatusCode::NOT_FOUND, "no such SmartAPI route").into_response();
    };
    if method != endpoint.method() {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let fault = state.take_fault(endpoint);
    let mut reject_with = None;
    match &fault {
        Some(Fault::Latency(delay)) => tokio::time::sleep(*delay).await,
        Some(Fault::RateLimitPage) => return responses::rate_limit_page(),
        Some(Fault::WafPage) => return responses::waf_page(),
        Some(Fault::EmptyBadRequest) => return responses::empty_bad_request(),
        Some(Fault::SessionExpired) => {
            return gateway_error(StatusCode::OK, "AG8001", "Invalid Token");
        }
        Some(Fault::RejectAfterAccept(reason)) => reject_with = Some(reason.clone()),
        Some(Fault::ServerError(_) | Fault::Hang) | None => {}
    }
    let request = Request {
        state: &state,
        endpoint,
        peer_ip: peer.ip(),
        path: uri.path(),
        headers: &headers,
        body: &body,
    };
    let response = request.process(reject_with);
    match fault {
        Some(Fault::ServerError(status)) => responses::server_error(status),
        Some(Fault::Hang) => {
            state.stopped().await;
            responses::server_error(504)
        }
        _ => response,
    }
}

/// A request refused with a backend error code.
struct Refusal {
    code: &'static str,
    message: String,
}

impl Refusal {
    fn new(code: &'static str, message: &str) -> Self {
        Self {
            code,
            message: message.to_owned(),
        }
    }
}

struct Request<'a> {
    state: &'a SimState,
    endpoint: Endpoint,
    peer_ip: IpAddr,
    path: &'a str,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

#[derive(Deserialize)]
struct LoginRequest {
    clientcode: String,
    password: SecretString,
    totp: SecretString,
}

#[derive(Deserialize)]
struct RefreshRequest {
    #[serde(rename = "refreshToken")]
    refresh_token: SecretString,
}

fn tokens(jwt: String, refresh: String, feed: String) -> Response {
    success(serde_json::json!({"jwtToken": jwt, "refreshToken": refresh, "feedToken": feed}))
}

impl Request<'_> {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    fn bearer(&self) -> &str {
        self.header("authorization")
            .strip_prefix("Bearer ")
            .unwrap_or_default()
            .trim()
    }

    fn parse<T: DeserializeOwned>(&self) -> Result<T, Refusal> {
        serde_json::from_slice(self.body).map_err(|error| Refusal {
            code: "AB1004",
            message: if self.endpoint.carries_secrets() {
                "Invalid request".to_owned()
            } else {
                format!("Invalid request: {error}")
            },
        })
    }

    fn process(&self, reject_with: Option<String>) -> Response {
        let Some(account) = self.state.account_by_key(self.header("x-privatekey")) else {
            return gateway_error(StatusCode::FORBIDDEN, "AG8004", "Invalid API Key");
        };
        match self.endpoint {
            Endpoint::Login => return self.login(account),
            Endpoint::GenerateTokens => return self.refresh(account),
            _ => {}
        }
        let session_owner = self.state.session_owner(self.bearer());
        if session_owner.as_deref() != Some(account.client_code.as_str()) {
            return gateway_error(StatusCode::UNAUTHORIZED, "AG8001", "Invalid Token");
        }
        if self.endpoint.changes_orders() && !account.registered_ips.contains(&self.peer_ip) {
            return gateway_error(StatusCode::FORBIDDEN, "AG7002", UNREGISTERED_IP);
        }
        self.secure(account, reject_with)
            .unwrap_or_else(|refusal| backend_error(refusal.code, &refusal.message))
    }

    fn login(&self, account: &SimAccount) -> Response {
        let request: LoginRequest = match self.parse() {
            Ok(request) => request,
            Err(refusal) => return backend_error(refusal.code, &refusal.message),
        };
        match self.state.login(
            account,
            &request.clientcode,
            request.password.expose_secret(),
            request.totp.expose_secret(),
        ) {
            LoginOutcome::Issued(jwt, refresh, feed) => tokens(jwt, refresh, feed),
            LoginOutcome::Refused(code, message) => backend_error(code, message),
        }
    }

    fn refresh(&self, account: &SimAccount) -> Response {
        let request: RefreshRequest = match self.parse() {
            Ok(request) => request,
            Err(refusal) => return backend_error(refusal.code, &refusal.message),
        };
        match self
            .state
            .refresh(&account.client_code, request.refresh_token.expose_secret())
        {
            Some(LoginOutcome::Issued(jwt, refresh, feed)) => tokens(jwt, refresh, feed),
            _ => backend_error("AB8050", "Invalid Refresh Token"),
        }
    }

    fn secure(
        &self,
        account: &SimAccount,
        reject_with: Option<String>,
    ) -> Result<Response, Refusal> {
        let client = account.client_code.as_str();
        let state = self.state;
        Ok(match self.endpoint {
            Endpoint::Profile => success(ProfileData {
                clientcode: client.to_owned(),
                name: account.name.clone(),
                email: Some(format!("{}@example.com", client.to_lowercase())),
                exchanges: ["NSE", "BSE", "NFO", "BFO", "MCX", "CDS"]
                    .map(String::from)
                    .to_vec(),
                products: ["DELIVERY", "INTRADAY", "MARGIN", "CARRYFORWARD"]
                    .map(String::from)
                    .to_vec(),
            }),
            Endpoint::Logout => {
                let body: LogoutBody = self.parse()?;
                if body.clientcode != client {
                    return Err(Refusal::new("AB1007", "Invalid clientcode"));
                }
                state.logout(self.bearer());
                success("")
            }
            Endpoint::Funds => {
                let cash = Decimal::new(10_000_000, 2);
                success(RmsData {
                    net: cash,
                    availablecash: cash,
                    availableintradaypayin: Decimal::ZERO,
                    availablelimitmargin: Decimal::ZERO,
                    collateral: Decimal::ZERO,
                    utiliseddebits: Decimal::new(0, 2),
                })
            }
            Endpoint::PlaceOrder => {
                let body: PlaceOrderBody = self.parse()?;
                if body
                    .ordertag
                    .as_ref()
                    .is_some_and(|tag| tag.chars().count() > 20)
                {
                    return Err(Refusal::new(
                        "AB4008",
                        "ordertag length should be less than 20 characters",
                    ));
                }
                if body.quantity == 0 {
                    return Err(Refusal::new("AB1004", "Invalid quantity"));
                }
                let script = body.tradingsymbol.clone();
                let order = state.place(client, self.peer_ip, body, reject_with);
                success(OrderAck {
                    script: Some(script),
                    orderid: order.orderid,
                    uniqueorderid: order.uniqueorderid,
                })
            }
            Endpoint::ModifyOrder => {
                let body: ModifyOrderBody = self.parse()?;
                acknowledge(state.modify(client, &body))
            }
            Endpoint::CancelOrder => {
                let body: CancelOrderBody = self.parse()?;
                acknowledge(state.cancel(client, &body.orderid))
            }
            Endpoint::OrderBook => list(state.orders_of(client)),
            Endpoint::TradeBook => list(state.trades_of(client)),
            Endpoint::Positions => list(state.positions_of(client)),
            Endpoint::Holdings => list(Vec::<WireHolding>::new()),
            Endpoint::OrderDetails => {
                let unique = self
                    .path
                    .strip_prefix(Endpoint::OrderDetails.path())
                    .unwrap_or_default();
                match state.order_by_unique_id(client, unique) {
                    Some(order) => success(order),
                    None => backend_error(ORDER_NOT_FOUND_CODE, "Order not found"),
                }
            }
            Endpoint::Ltp => {
                let body: LtpBody = self.parse()?;
                let Some((exchange, token, symbol, price)) =
                    instrument(body.exchange.as_str(), &body.symboltoken)
                else {
                    return Err(Refusal::new("AB1009", "Symbol not found"));
                };
                let price = Decimal::new(price, 2);
                success(LtpData {
                    exchange: exchange.to_owned(),
                    tradingsymbol: symbol.to_owned(),
                    symboltoken: token.to_owned(),
                    ltp: price,
                    open: Some(price),
                    high: Some(price),
                    low: Some(price),
                    close: Some(price),
                })
            }
            Endpoint::Quote => {
                let body: QuoteBody = self.parse()?;
                success(quote(&body))
            }
            Endpoint::ConvertPosition => {
                let _: ConvertPositionBody = self.parse()?;
                success(serde_json::Value::Null)
            }
            Endpoint::SearchScrip => {
                let body: SearchScripBody = self.parse()?;
                let wanted = body.searchscrip.to_ascii_uppercase();
                let matches: Vec<ScripMatch> = INSTRUMENTS
                    .iter()
                    .filter(|(exchange, _, symbol, _)| {
                        *exchange == body.exchange.as_str()
                            && symbol.to_ascii_uppercase().contains(&wanted)
                    })
                    .map(|(exchange, token, symbol, _)| ScripMatch {
                        exchange: (*exchange).to_owned(),
                        tradingsymbol: (*symbol).to_owned(),
                        symboltoken: (*token).to_owned(),
                    })
                    .collect();
                list(matches)
            }
            // Both are answered before the session check; never reached.
            Endpoint::Login | Endpoint::GenerateTokens => backend_error("AB2001", "Internal Error"),
        })
    }
}

fn instrument(
    exchange: &str,
    token: &str,
) -> Option<(&'static str, &'static str, &'static str, i64)> {
    INSTRUMENTS
        .iter()
        .copied()
        .find(|(known_exchange, known_token, _, _)| {
            *known_exchange == exchange && *known_token == token
        })
}

/// SmartAPI answers an empty list with `data: null`.
fn list<T: serde::Serialize>(rows: Vec<T>) -> Response {
    if rows.is_empty() {
        success(serde_json::Value::Null)
    } else {
        success(rows)
    }
}

fn acknowledge(result: Result<WireOrder, OrderRefusal>) -> Response {
    match result {
        Ok(order) => success(OrderAck {
            script: None,
            orderid: order.orderid,
            uniqueorderid: order.uniqueorderid,
        }),
        Err(OrderRefusal::NotFound) => backend_error(ORDER_NOT_FOUND_CODE, "Order not found"),
        Err(OrderRefusal::NotWorking) => backend_error("AB2000", "Order is not open"),
    }
}

fn quote(body: &QuoteBody) -> QuoteData {
    let mut data = QuoteData::default();
    for (exchange, tokens) in &body.exchange_tokens {
        for token in tokens {
            match instrument(exchange.as_str(), token) {
                Some((exchange, token, symbol, price)) => {
                    let price = Decimal::new(price, 2);
                    let detailed = body.mode != QuoteMode::Ltp;
                    let full = body.mode == QuoteMode::Full;
                    data.fetched.push(WireQuote {
                        exchange: exchange.to_owned(),
                        trading_symbol: symbol.to_owned(),
                        symbol_token: token.to_owned(),
                        ltp: price,
                        open: detailed.then_some(price),
                        high: detailed.then_some(price),
                        low: detailed.then_some(price),
                        close: detailed.then_some(price),
                        trade_volume: full.then_some(125_000),
                        exch_trade_time: full.then(|| {
                            chrono::Utc::now()
                                .with_timezone(&broker_core::session::ist())
                                .format("%d-%b-%Y %H:%M:%S")
                                .to_string()
                        }),
                    });
                }
                None => data.unfetched.push(serde_json::json!({
                    "exchange": exchange.as_str(),
                    "symbolToken": token,
                    "message": "",
                    "errorCode": ""
                })),
            }
        }
    }
    data
}
