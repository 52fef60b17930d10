//! The simulator's HTTP routes, with fault injection as a middleware around the API.

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

use super::Fault;
use super::respond::{Answer, KiteError, html_page, success};
use super::state::SimState;
use crate::http::models::{ConvertPositionParams, KiteOrder, ModifyOrderParams, PlaceOrderParams};

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
        .route("/user/margins", get(margins))
        .route("/user/margins/{segment}", get(segment_margins))
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
        .layer(middleware::from_fn_with_state(Arc::clone(&state), faults));
    api.route("/connect/login", get(login_page))
        .with_state(state)
}

/// Records every API request and applies the next queued fault.
async fn faults(State(state): Shared, mut request: Request, next: Next) -> Response {
    state.record_request(request.method().as_str(), request.uri().path());
    match state.take_fault() {
        None => next.run(request).await,
        Some(Fault::Latency(delay)) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        Some(Fault::ServerError(status)) => {
            let _discarded = next.run(request).await;
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            html_page(status, "<html><body><h1>Bad Gateway</h1></body></html>")
        }
        Some(Fault::Hang) => {
            let _discarded = next.run(request).await;
            tokio::time::sleep(HANG).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Some(Fault::TooManyRequests) => KiteError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "NetworkException",
            "Too many requests",
        )
        .into_response(),
        Some(Fault::WafPage) => html_page(
            StatusCode::FORBIDDEN,
            "<html><head><title>403 Forbidden</title></head><body><h1>Request blocked</h1></body></html>",
        ),
        Some(Fault::EmptyBadRequest) => StatusCode::BAD_REQUEST.into_response(),
        Some(Fault::SessionExpired) => {
            state.revoke_access_tokens();
            KiteError::token("Incorrect `api_key` or `access_token`.").into_response()
        }
        Some(Fault::RejectAfterAccept(reason)) => {
            request.extensions_mut().insert(RejectAfterAccept(reason));
            next.run(request).await
        }
    }
}

fn form<T: DeserializeOwned>(body: &Bytes) -> Result<T, KiteError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|error| KiteError::input(format!("Invalid input: {error}")))
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

fn authorize(state: &SimState, headers: &HeaderMap) -> Result<(), KiteError> {
    state.authorize(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok()),
    )
}

/// `GET /connect/login`: the user "logs in" and is sent back with a request token.
async fn login_page(State(state): Shared, RawQuery(query): RawQuery) -> Response {
    let pairs = query_pairs(query.as_deref());
    if query_value(&pairs, "api_key").as_deref() != Some(state.config.api_key.as_str()) {
        return (StatusCode::BAD_REQUEST, "Invalid api_key").into_response();
    }
    let Ok(mut redirect) = Url::parse(&state.config.redirect_url) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Invalid redirect URL").into_response();
    };
    let request_token = state.mint_request_token();
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
    authorize(&state, &headers)?;
    Ok(success(state.profile()))
}

async fn margins(State(state): Shared, headers: HeaderMap) -> Answer {
    authorize(&state, &headers)?;
    Ok(success(state.all_margins()))
}

async fn segment_margins(
    State(state): Shared,
    headers: HeaderMap,
    Path(segment): Path<String>,
) -> Answer {
    authorize(&state, &headers)?;
    let margins = state.all_margins();
    let segment = match segment.as_str() {
        "equity" => margins.equity,
        "commodity" => margins.commodity,
        _ => None,
    };
    segment
        .map(success)
        .ok_or_else(|| KiteError::input("Invalid segment."))
}

fn send_postback(state: &Arc<SimState>, order: &KiteOrder) {
    let Some(url) = state.config.postback_url.clone() else {
        return;
    };
    let body = state.postback_body(order);
    let client = state.postbacks.clone();
    tokio::spawn(async move {
        if let Err(error) = client.post(url).json(&body).send().await {
            tracing::warn!(%error, "kite simulator could not deliver a postback");
        }
    });
}

async fn place_order(
    State(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(variety): Path<String>,
    reject: Option<axum::Extension<RejectAfterAccept>>,
    body: Bytes,
) -> Answer {
    authorize(&state, &headers)?;
    state.check_peer(peer.ip())?;
    let params: PlaceOrderParams = form(&body)?;
    let reason = reject.map(|axum::Extension(RejectAfterAccept(reason))| reason);
    let order = state.place(&variety, params, peer.ip(), reason)?;
    send_postback(&state, &order);
    Ok(success(serde_json::json!({ "order_id": order.order_id })))
}

async fn modify_order(
    State(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((_variety, order_id)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    authorize(&state, &headers)?;
    state.check_peer(peer.ip())?;
    let change: ModifyOrderParams = form(&body)?;
    let order = state.modify(&order_id, change)?;
    send_postback(&state, &order);
    Ok(success(serde_json::json!({ "order_id": order.order_id })))
}

async fn cancel_order(
    State(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((_variety, order_id)): Path<(String, String)>,
) -> Answer {
    authorize(&state, &headers)?;
    state.check_peer(peer.ip())?;
    let order = state.cancel(&order_id)?;
    send_postback(&state, &order);
    Ok(success(serde_json::json!({ "order_id": order.order_id })))
}

async fn orders(State(state): Shared, headers: HeaderMap) -> Answer {
    authorize(&state, &headers)?;
    Ok(success(state.current_orders()))
}

async fn order_history(
    State(state): Shared,
    headers: HeaderMap,
    Path(order_id): Path<String>,
) -> Answer {
    authorize(&state, &headers)?;
    Ok(success(state.history(&order_id)?))
}

async fn order_trades(
    State(state): Shared,
    headers: HeaderMap,
    Path((order_id, tail)): Path<(String, String)>,
) -> Answer {
    authorize(&state, &headers)?;
    if tail != "trades" {
        return Err(KiteError::new(
            StatusCode::NOT_FOUND,
            "GeneralException",
            "Route not found",
        ));
    }
    Ok(success(state.trades(Some(&order_id))?))
}

async fn trades(State(state): Shared, headers: HeaderMap) -> Answer {
    authorize(&state, &headers)?;
    Ok(success(state.trades(None)?))
}

async fn positions(State(state): Shared, headers: HeaderMap) -> Answer {
    authorize(&state, &headers)?;
    Ok(success(state.positions()))
}

async fn convert_position(State(state): Shared, headers: HeaderMap, body: Bytes) -> Answer {
    authorize(&state, &headers)?;
    let params: ConvertPositionParams = form(&body)?;
    state.convert(&params)?;
    Ok(success(true))
}

async fn holdings(State(state): Shared, headers: HeaderMap) -> Answer {
    authorize(&state, &headers)?;
    Ok(success(state.holdings()))
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
    Ok(success(state.quotes(&instrument_keys(query.as_deref()))))
}

async fn ohlc(State(state): Shared, headers: HeaderMap, RawQuery(query): RawQuery) -> Answer {
    authorize(&state, &headers)?;
    Ok(success(state.ohlc(&instrument_keys(query.as_deref()))))
}

async fn ltp(State(state): Shared, headers: HeaderMap, RawQuery(query): RawQuery) -> Answer {
    authorize(&state, &headers)?;
    Ok(success(state.ltp(&instrument_keys(query.as_deref()))))
}

async fn instruments(State(state): Shared, headers: HeaderMap) -> Answer {
    authorize(&state, &headers)?;
    Ok((
        [(header::CONTENT_TYPE, "text/csv")],
        state.instruments_csv(),
    )
        .into_response())
}
