//! Request handling: one fallback handler that routes by path, so query strings (the Python
//! SDK puts JSON there on GET requests) and header casing never matter.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use broker_core::Exchange;
use broker_core::sim::Fault;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::book::Placement;
use super::checks;
use super::market::SCRIP_MASTER_PATH;
use super::responses::{self, Refusal, backend_error_with_status, gateway_error, success};
use super::state::{Issued, RefreshRefusal, SimState};
use super::{SimAccount, SimRequest, admin};
use crate::http::models::{
    CancelOrderBody, CandleDataBody, ConvertPositionBody, LogoutBody, LtpBody, ModifyOrderBody,
    PlaceOrderBody, QuoteBody, SearchScripBody, WireOrder, WireOrderAck, WireProfile,
    lenient_string,
};
use crate::http::{Endpoint, ORDER_NOT_FOUND};

const UNREGISTERED_IP: &str =
    "Access denied: Unregistered IP address. Register your IP before retrying.";

/// The live segments and products a SmartAPI profile lists.
const PROFILE_SEGMENTS: [&str; 6] = ["nse_cm", "nse_fo", "bse_cm", "bse_fo", "mcx_fo", "cde_fo"];
const PROFILE_PRODUCTS: [&str; 6] = ["MARGIN", "MIS", "NRML", "CNC", "CO", "BO"];

/// SmartAPI routes the official SDKs call that the simulator does not implement (GTT,
/// margin calculator, brokerage estimate, eDIS, analytics, open interest): answered with
/// SmartAPI's JSON error naming them, like any unknown route.
const NOT_SIMULATED: [&str; 17] = [
    "createRule",
    "modifyRule",
    "cancelRule",
    "ruleDetails",
    "ruleList",
    "getOIData",
    "batch",
    "estimateCharges",
    "verifyDis",
    "generateTPIN",
    "getTranStatus",
    "optionGreek",
    "gainersLosers",
    "putCallRatio",
    "OIBuildup",
    "nseIntraday",
    "bseIntraday",
];

pub(crate) fn router(state: Arc<SimState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

/// SmartAPI's JSON error for a route it does not have (HTTP 404). The body SmartAPI's
/// gateway gives an unknown path is not documented; the simulator answers with the backend
/// envelope and no code, so clients read an error instead of failing to parse.
fn not_found(path: &str) -> Response {
    let name = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path);
    let message = if path.starts_with("/rest/") || path.starts_with("/gtt-service/") {
        if NOT_SIMULATED.contains(&name) {
            format!("{name} is a SmartAPI route the simulator does not implement")
        } else {
            "Not Found".to_owned()
        }
    } else {
        "Not Found".to_owned()
    };
    backend_error_with_status(StatusCode::NOT_FOUND, "", &message)
}

async fn handle(
    State(state): State<Arc<SimState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let endpoint = Endpoint::from_path(path);
    state.record(SimRequest {
        method: method.to_string(),
        path: path.to_owned(),
        endpoint,
        peer: peer.ip(),
    });
    if path == SCRIP_MASTER_PATH && method == Method::GET {
        return (
            [(header::CONTENT_TYPE, "application/json")],
            state.market.master_json().to_owned(),
        )
            .into_response();
    }
    if let Some(route) = path.strip_prefix(admin::PREFIX) {
        return if state.admin {
            admin::handle(&state, &method, route, &body)
        } else {
            not_found(path)
        };
    }
    let Some(endpoint) = endpoint else {
        return not_found(path);
    };
    if method != endpoint.method() {
        return backend_error_with_status(StatusCode::METHOD_NOT_ALLOWED, "", "Method Not Allowed");
    }
    let account = state.account_by_key(header(&headers, "x-privatekey"));
    let fault = state.faults.take(&endpoint);
    if let Some(Fault::Latency(delay)) = &fault {
        tokio::time::sleep(*delay).await;
    }
    if let Some(answer) = fault.as_ref().and_then(responses::unprocessed) {
        return answer;
    }
    let reject_with = match &fault {
        Some(Fault::RejectAfterAccept(reason)) => Some(reason.clone()),
        _ => None,
    };
    let Some(account) = account else {
        return gateway_error(StatusCode::FORBIDDEN, "AG8004", "Invalid API Key");
    };
    if !admitted(&state, &account.client_code, endpoint).await {
        return responses::rate_limit_page();
    }
    let request = Request {
        state: &state,
        account,
        endpoint,
        peer_ip: peer.ip(),
        path,
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

/// How early a request may come and still be let through (after waiting): a client pacing
/// itself to a quota arrives a little early or late by network jitter alone.
const JITTER_TOLERANCE: std::time::Duration = std::time::Duration::from_millis(20);

/// Whether the account's quotas let the request through.
async fn admitted(state: &SimState, client_code: &str, endpoint: Endpoint) -> bool {
    match state.limits.admit(client_code, endpoint.class()) {
        Ok(()) => true,
        Err(wait) if wait <= JITTER_TOLERANCE => {
            tokio::time::sleep(wait).await;
            state.limits.admit(client_code, endpoint.class()).is_ok()
        }
        Err(_) => false,
    }
}

struct Request<'a> {
    state: &'a SimState,
    account: &'a SimAccount,
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

/// The fields SmartAPI reads before the rest of an order body, to name what is wrong.
#[derive(Deserialize)]
struct OrderHead {
    #[serde(default, deserialize_with = "lenient_string")]
    variety: String,
    #[serde(default, deserialize_with = "lenient_string")]
    producttype: String,
}

fn tokens((jwt, refresh, feed): Issued) -> Response {
    success(serde_json::json!({"jwtToken": jwt, "refreshToken": refresh, "feedToken": feed}))
}

/// SmartAPI answers an empty list with `data: null`.
fn list<T: serde::Serialize>(rows: Vec<T>) -> Response {
    if rows.is_empty() {
        success(())
    } else {
        success(rows)
    }
}

fn acknowledge(order: WireOrder, script: Option<String>) -> Response {
    success(WireOrderAck {
        script,
        orderid: order.orderid,
        uniqueorderid: order.uniqueorderid,
    })
}

impl Request<'_> {
    fn bearer(&self) -> &str {
        header(self.headers, "authorization")
            .strip_prefix("Bearer ")
            .unwrap_or_default()
            .trim()
    }

    /// The body as `T`. SmartAPI answers a body it cannot read with AB1004.
    fn parse<T: DeserializeOwned>(&self) -> Result<T, Refusal> {
        serde_json::from_slice(self.body).map_err(|error| {
            Refusal::new(
                "AB1004",
                if self.endpoint.carries_secrets() {
                    "Invalid request".to_owned()
                } else {
                    format!("Invalid request: {error}")
                },
            )
        })
    }

    /// An order body, after its variety and product (which SmartAPI names when wrong).
    fn parse_order<T: DeserializeOwned>(&self) -> Result<T, Refusal> {
        let head: OrderHead = self.parse()?;
        checks::variety(&head.variety)?;
        if self.endpoint != Endpoint::CancelOrder {
            checks::product(&head.producttype)?;
        }
        self.parse()
    }

    fn process(&self, reject_with: Option<String>) -> Response {
        match self.endpoint {
            Endpoint::Login => return self.login(),
            Endpoint::GenerateTokens => return self.refresh(),
            _ => {}
        }
        let session_owner = self.state.session_owner(self.bearer());
        if session_owner.as_deref() != Some(self.account.client_code.as_str()) {
            return gateway_error(StatusCode::UNAUTHORIZED, "AG8001", "Invalid Token");
        }
        // The real check: the TCP peer, whatever X-ClientPublicIP claims.
        if self.endpoint.call_kind().changes_orders()
            && !self.state.is_registered(self.account, self.peer_ip)
        {
            return gateway_error(StatusCode::FORBIDDEN, "AG7002", UNREGISTERED_IP);
        }
        self.secure(reject_with)
            .unwrap_or_else(Refusal::into_response)
    }

    fn login(&self) -> Response {
        let request: LoginRequest = match self.parse() {
            Ok(request) => request,
            Err(refusal) => return refusal.into_response(),
        };
        match self.state.login(
            self.account,
            &request.clientcode,
            request.password.expose_secret(),
            request.totp.expose_secret(),
        ) {
            Ok(issued) => tokens(issued),
            Err(refusal) => refusal.into_response(),
        }
    }

    fn refresh(&self) -> Response {
        let request: RefreshRequest = match self.parse() {
            Ok(request) => request,
            Err(refusal) => return refusal.into_response(),
        };
        match self.state.refresh(
            &self.account.client_code,
            self.bearer(),
            request.refresh_token.expose_secret(),
        ) {
            Ok(issued) => tokens(issued),
            Err(RefreshRefusal::NoSession) => {
                gateway_error(StatusCode::UNAUTHORIZED, "AG8001", "Invalid Token")
            }
            Err(RefreshRefusal::Invalid) => {
                Refusal::new("AB8050", "Invalid Refresh Token").into_response()
            }
            Err(RefreshRefusal::Expired) => {
                Refusal::new("AB8051", "Refresh Token Expired").into_response()
            }
        }
    }

    fn secure(&self, reject_with: Option<String>) -> Result<Response, Refusal> {
        let client = self.account.client_code.as_str();
        let state = self.state;
        let now = state.now();
        Ok(match self.endpoint {
            Endpoint::Profile => success(WireProfile {
                clientcode: client.to_owned(),
                name: self.account.name.clone(),
                email: Some(format!("{}@example.com", client.to_lowercase())),
                mobileno: String::new(),
                exchanges: PROFILE_SEGMENTS.map(String::from).to_vec(),
                products: PROFILE_PRODUCTS.map(String::from).to_vec(),
                lastlogintime: String::new(),
                broker: String::new(),
            }),
            Endpoint::Logout => {
                let body: LogoutBody = self.parse()?;
                if body.clientcode != client {
                    return Err(Refusal::new("AB1007", "Invalid clientcode"));
                }
                state.logout(self.bearer());
                success("")
            }
            Endpoint::Funds => success(state.book.portfolio(|portfolio| portfolio.funds(client))),
            Endpoint::PlaceOrder => {
                let body: PlaceOrderBody = self.parse_order()?;
                let script = body.tradingsymbol.clone();
                let order = state.book.place(
                    Placement {
                        client_code: client.to_owned(),
                        peer: self.peer_ip,
                        body,
                        reject_with,
                    },
                    &state.market,
                    now,
                    state.matching,
                )?;
                acknowledge(order, Some(script))
            }
            Endpoint::ModifyOrder => {
                let body: ModifyOrderBody = self.parse_order()?;
                let order = state
                    .book
                    .modify(client, &body, &state.market, now, state.matching)?;
                acknowledge(order, None)
            }
            Endpoint::CancelOrder => {
                let body: CancelOrderBody = self.parse_order()?;
                acknowledge(state.book.cancel(client, &body, now)?, None)
            }
            Endpoint::OrderBook => list(state.book.orders_of(client)),
            Endpoint::TradeBook => list(state.book.portfolio(|portfolio| portfolio.trades(client))),
            Endpoint::Positions => list(
                state
                    .book
                    .portfolio(|portfolio| portfolio.positions(client)),
            ),
            Endpoint::Holdings => list(self.holdings()),
            Endpoint::AllHoldings => {
                let holdings = self.holdings();
                success(
                    state
                        .book
                        .portfolio(|portfolio| portfolio.all_holdings(holdings)),
                )
            }
            Endpoint::OrderDetails => {
                let unique = self
                    .path
                    .strip_prefix(Endpoint::OrderDetails.path())
                    .unwrap_or_default();
                match state.book.order_by_unique_id(client, unique) {
                    Some(order) => success(order),
                    None => return Err(Refusal::new(ORDER_NOT_FOUND, "Order not found")),
                }
            }
            Endpoint::Ltp => success(state.market.ltp(&self.parse::<LtpBody>()?)?),
            Endpoint::Quote => success(state.market.quote(&self.parse::<QuoteBody>()?, now)),
            Endpoint::ConvertPosition => {
                let body: ConvertPositionBody = self.parse()?;
                let found = if body.symboltoken.trim().is_empty() {
                    state
                        .market
                        .instrument_by_symbol(body.exchange, &body.tradingsymbol)
                } else {
                    state.market.instrument(body.exchange, &body.symboltoken)
                };
                let instrument = checks::instrument(found, &body.tradingsymbol)?;
                state
                    .book
                    .portfolio(|portfolio| portfolio.convert(client, &body, instrument))?;
                success(())
            }
            Endpoint::SearchScrip => {
                let body: SearchScripBody = self.parse()?;
                list(state.market.search(body.exchange, &body.searchscrip))
            }
            Endpoint::CandleData => {
                let body: CandleDataBody = self.parse()?;
                success(state.market.candles(&body)?)
            }
            // Both are answered before the session check; never reached.
            Endpoint::Login | Endpoint::GenerateTokens => {
                return Err(Refusal::new("AB2001", "Internal Error"));
            }
        })
    }

    fn holdings(&self) -> Vec<crate::http::models::WireHolding> {
        let market = &self.state.market;
        let price = |exchange: Exchange, token: &str| {
            market
                .last_price(exchange, token)
                .zip(market.close(exchange, token))
        };
        self.state
            .book
            .portfolio(|portfolio| portfolio.holdings(&self.account.client_code, price))
    }
}
