//! The simulator's HTTP handlers, with the request log, quotas and fault injection as a
//! middleware around the API.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use url::Url;

use broker_core::sim::Fault;

use super::SimRequest;
use super::admin;
use super::book::Placing;
use super::responses::{Answer, FIREWALL_PAGE, GATEWAY_PAGE, KiteError, html_page, success};
use super::rules::missing;
use super::state::{AccountId, SimState};
use crate::http::Endpoint;
use crate::http::models::{
    ConvertPositionBody, ModifyOrderBody, PlaceOrderBody, WireOrder, WireOrderId,
};

type Shared = State<Arc<SimState>>;

/// How long a hung answer is withheld: far beyond any client timeout.
const HANG: Duration = Duration::from_secs(3600);

/// The fault the middleware passes to the order handler.
#[derive(Clone)]
struct RejectAfterAccept(String);

pub(super) fn router(state: Arc<SimState>) -> Router {
    let api = Router::new()
        .route(
            "/session/token",
            post(create_session).delete(delete_session),
        )
        .route("/session/refresh_token", post(refresh_session))
        .route("/user/profile", get(profile))
        .route("/user/margins", get(funds))
        .route("/user/margins/{segment}", get(segment_funds))
        .route("/orders", get(orders))
        .route("/orders/{first}", get(order_history).post(place_order))
        .route(
            "/orders/{first}/{second}",
            get(order_trades).put(modify_order).delete(cancel_order),
        )
        .route("/trades", get(trades))
        .route("/portfolio/positions", get(positions).put(convert_position))
        .route("/portfolio/holdings", get(holdings))
        .route("/quote", get(quote))
        .route("/quote/ohlc", get(ohlc))
        .route("/quote/ltp", get(ltp))
        .route("/instruments", get(instruments))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), gate));
    api.route("/connect/login", get(login_page))
        .nest("/_sim", admin::router(Arc::clone(&state)))
        .with_state(state)
}

/// Kite's answer to a path it does not serve: its JSON error envelope, so that SDKs raise
/// their own exception rather than fail on the body.
async fn route_not_found() -> KiteError {
    KiteError::new(StatusCode::NOT_FOUND, "GeneralException", "Route not found")
}

/// Kite's answer to a method a path does not take.
async fn method_not_allowed() -> KiteError {
    KiteError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "GeneralException",
        "Method not allowed",
    )
}

/// Logs every API request, enforces the quotas, and applies the next fault queued for the
/// endpoint.
async fn gate(
    State(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let endpoint = Endpoint::from_request(request.method(), request.uri().path());
    state.record_request(SimRequest {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        endpoint,
        peer: peer.ip(),
    });
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    if let Some(endpoint) = endpoint {
        let budget = SimState::credentials(authorization.as_deref())
            .map_or_else(|| peer.ip().to_string(), |(api_key, _)| api_key.to_owned());
        if state.limits.admit(&budget, endpoint.class()).is_err() {
            return too_many_requests();
        }
    }
    let Some(fault) = endpoint.and_then(|endpoint| state.faults.take(&endpoint)) else {
        return next.run(request).await;
    };
    match fault {
        Fault::Latency(delay) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        Fault::ServerError(status) => {
            let _discarded = next.run(request).await;
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            html_page(status, GATEWAY_PAGE)
        }
        Fault::Hang => {
            let _discarded = next.run(request).await;
            tokio::time::sleep(HANG).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Fault::RateLimited => too_many_requests(),
        Fault::FirewallPage => html_page(StatusCode::FORBIDDEN, FIREWALL_PAGE),
        Fault::EmptyBadRequest => StatusCode::BAD_REQUEST.into_response(),
        Fault::SessionExpired => {
            state.revoke(authorization.as_deref());
            KiteError::token("Incorrect `api_key` or `access_token`.").into_response()
        }
        Fault::RejectAfterAccept(reason) => {
            request.extensions_mut().insert(RejectAfterAccept(reason));
            next.run(request).await
        }
        other => {
            tracing::warn!(fault = ?other, "the Kite simulator does not know this fault; ignored");
            next.run(request).await
        }
    }
}

/// Kite's rate-limit answer: HTTP 429 `NetworkException` "Too many requests".
fn too_many_requests() -> Response {
    KiteError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "NetworkException",
        "Too many requests",
    )
    .into_response()
}

fn form<T: DeserializeOwned>(body: &Bytes) -> Result<T, KiteError> {
    serde_urlencoded::from_bytes(body).map_err(|error| {
        let text = error.to_string();
        match text
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            Some(field) => missing(field),
            None => KiteError::input(format!("Invalid input: {text}")),
        }
    })
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn query_value(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
}

fn authorize(state: &SimState, headers: &HeaderMap) -> Result<AccountId, KiteError> {
    state.authorize(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok()),
    )
}

fn user(state: &SimState, account: AccountId) -> String {
    state.account(account).user_id.clone()
}

/// `GET /connect/login`: the user "logs in" and is sent back with a request token.
async fn login_page(State(state): Shared, RawQuery(query): RawQuery) -> Response {
    let pairs = query_pairs(query.as_deref());
    let Some(account) = query_value(&pairs, "api_key").and_then(|key| state.account_by_key(&key))
    else {
        return (StatusCode::BAD_REQUEST, "Invalid api_key").into_response();
    };
    let Ok(mut redirect) = Url::parse(&state.account(account).redirect_url) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Invalid redirect URL").into_response();
    };
    let request_token = state.mint_request_token(account);
    {
        let mut redirect_query = redirect.query_pairs_mut();
        if let Some(params) = query_value(&pairs, "redirect_params") {
            redirect_query.extend_pairs(url::form_urlencoded::parse(params.as_bytes()));
        }
        redirect_query
            .append_pair("action", "login")
            .append_pair("type", "login")
            .append_pair("status", "success")
            .append_pair("request_token", &request_token);
    }
    Redirect::to(redirect.as_str()).into_response()
}

async fn create_session(State(state): Shared, body: Bytes) -> Answer {
    let pairs: Vec<(String, String)> = form(&body)?;
    let field = |name| query_value(&pairs, name).unwrap_or_default();
    let session = state.exchange_request_token(
        &field("api_key"),
        &field("request_token"),
        &field("checksum"),
    )?;
    Ok(success(session))
}

async fn refresh_session(State(state): Shared, body: Bytes) -> Answer {
    let pairs: Vec<(String, String)> = form(&body)?;
    let field = |name| query_value(&pairs, name).unwrap_or_default();
    let session = state.renew_session(
        &field("api_key"),
        &field("refresh_token"),
        &field("checksum"),
    )?;
    Ok(success(session))
}

async fn delete_session(State(state): Shared, RawQuery(query): RawQuery) -> Answer {
    let pairs = query_pairs(query.as_deref());
    state.invalidate(
        &query_value(&pairs, "api_key").unwrap_or_default(),
        query_value(&pairs, "access_token").as_deref(),
        query_value(&pairs, "refresh_token").as_deref(),
    )?;
    Ok(success(true))
}

async fn profile(State(state): Shared, headers: HeaderMap) -> Answer {
    let account = authorize(&state, &headers)?;
    Ok(success(state.profile(account)))
}

async fn funds(State(state): Shared, headers: HeaderMap) -> Answer {
    let account = authorize(&state, &headers)?;
    let user = user(&state, account);
    Ok(success(state.with_book(|book, _| book.funds(&user))))
}

async fn segment_funds(
    State(state): Shared,
    headers: HeaderMap,
    Path(segment): Path<String>,
) -> Answer {
    let account = authorize(&state, &headers)?;
    let user = user(&state, account);
    let funds = state.with_book(|book, _| book.funds(&user));
    let segment = match segment.as_str() {
        "equity" => funds.equity,
        "commodity" => funds.commodity,
        _ => None,
    };
    segment
        .map(success)
        .ok_or_else(|| KiteError::input("Invalid segment."))
}

fn order_id_answer(order: &WireOrder) -> Response {
    success(WireOrderId::new(order.order_id.clone()))
}

/// Whether the form asks Kite to slice the order (`autoslice=true`).
fn autosliced(body: &Bytes) -> bool {
    url::form_urlencoded::parse(body)
        .any(|(key, value)| key == "autoslice" && value.eq_ignore_ascii_case("true"))
}

async fn place_order(
    State(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(variety): Path<String>,
    reject: Option<axum::Extension<RejectAfterAccept>>,
    body: Bytes,
) -> Answer {
    let account = authorize(&state, &headers)?;
    state.check_peer(account, peer.ip())?;
    let autoslice = autosliced(&body);
    let mut form_body: PlaceOrderBody = form(&body)?;
    form_body.autoslice = None;
    let user_id = user(&state, account);
    state.with_book(|book, now| {
        let placing = Placing {
            user_id,
            variety,
            peer: peer.ip(),
            now,
            reject_with: reject.map(|axum::Extension(RejectAfterAccept(reason))| reason),
            market_hours: state.market_hours,
        };
        if autoslice {
            book.place_autoslice(form_body, placing).map(success)
        } else {
            book.place(form_body, placing)
                .map(|order| order_id_answer(&order))
        }
    })
}

async fn modify_order(
    State(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((variety, order_id)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let account = authorize(&state, &headers)?;
    state.check_peer(account, peer.ip())?;
    let change: ModifyOrderBody = form(&body)?;
    let user = user(&state, account);
    let order =
        state.with_book(|book, now| book.modify(&user, &order_id, &variety, &change, now))?;
    Ok(order_id_answer(&order))
}

async fn cancel_order(
    State(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((variety, order_id)): Path<(String, String)>,
) -> Answer {
    let account = authorize(&state, &headers)?;
    state.check_peer(account, peer.ip())?;
    let user = user(&state, account);
    let order = state.with_book(|book, now| book.cancel(&user, &order_id, &variety, now))?;
    Ok(order_id_answer(&order))
}

async fn orders(State(state): Shared, headers: HeaderMap) -> Answer {
    let account = authorize(&state, &headers)?;
    let user = user(&state, account);
    Ok(success(state.with_book(|book, _| book.orders_of(&user))))
}

async fn order_history(
    State(state): Shared,
    headers: HeaderMap,
    Path(order_id): Path<String>,
) -> Answer {
    let account = authorize(&state, &headers)?;
    let user = user(&state, account);
    let history = state.with_book(|book, _| book.history(&user, &order_id))?;
    Ok(success(history))
}

async fn order_trades(
    State(state): Shared,
    headers: HeaderMap,
    Path((order_id, tail)): Path<(String, String)>,
) -> Answer {
    let account = authorize(&state, &headers)?;
    if tail != "trades" {
        return Err(route_not_found().await);
    }
    let user = user(&state, account);
    let trades = state.with_book(|book, _| book.trades(&user, Some(&order_id)))?;
    Ok(success(trades))
}

async fn trades(State(state): Shared, headers: HeaderMap) -> Answer {
    let account = authorize(&state, &headers)?;
    let user = user(&state, account);
    let trades = state.with_book(|book, _| book.trades(&user, None))?;
    Ok(success(trades))
}

async fn positions(State(state): Shared, headers: HeaderMap) -> Answer {
    let account = authorize(&state, &headers)?;
    let user = user(&state, account);
    let positions = state.with_book(|book, _| book.positions(&user));
    Ok(success(positions))
}

async fn convert_position(State(state): Shared, headers: HeaderMap, body: Bytes) -> Answer {
    let account = authorize(&state, &headers)?;
    let body: ConvertPositionBody = form(&body)?;
    let user = user(&state, account);
    state.with_book(|book, _| book.convert(&user, &body))?;
    Ok(success(true))
}

async fn holdings(State(state): Shared, headers: HeaderMap) -> Answer {
    let account = authorize(&state, &headers)?;
    let user = user(&state, account);
    Ok(success(state.with_book(|book, _| book.holdings(&user))))
}

fn instrument_keys(query: Option<&str>) -> Vec<String> {
    query_pairs(query)
        .into_iter()
        .filter(|(key, _)| key == "i")
        .map(|(_, value)| value)
        .collect()
}

async fn quote(State(state): Shared, headers: HeaderMap, RawQuery(query): RawQuery) -> Answer {
    authorize(&state, &headers)?;
    let keys = instrument_keys(query.as_deref());
    let now = state.kite_now();
    Ok(success(
        state.with_book(|book, _| book.market().quotes(&keys, &now)),
    ))
}

async fn ohlc(State(state): Shared, headers: HeaderMap, RawQuery(query): RawQuery) -> Answer {
    authorize(&state, &headers)?;
    let keys = instrument_keys(query.as_deref());
    Ok(success(
        state.with_book(|book, _| book.market().ohlc(&keys)),
    ))
}

async fn ltp(State(state): Shared, headers: HeaderMap, RawQuery(query): RawQuery) -> Answer {
    authorize(&state, &headers)?;
    let keys = instrument_keys(query.as_deref());
    Ok(success(state.with_book(|book, _| book.market().ltp(&keys))))
}

async fn instruments(State(state): Shared, headers: HeaderMap) -> Answer {
    authorize(&state, &headers)?;
    Ok((
        [(header::CONTENT_TYPE, "text/csv")],
        state.with_book(|book, _| book.market().instruments_csv()),
    )
        .into_response())
}
