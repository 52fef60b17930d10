//! The admin routes under `/_sim/`: what a test drives from Rust, reachable over HTTP for the
//! `angelone-sim` binary (and any SDK script). They are not SmartAPI routes; they take and
//! give JSON in SmartAPI's envelope, without authentication (the simulator listens on
//! loopback unless told otherwise; `SimConfig::with_admin(false)` turns them off).
//!
//! Routes: `POST price`, `fill`, `reject`, `fault`, `clock`, `expire_sessions` and
//! `GET clock`; their bodies and answers are in the crate README ("Admin routes").

use std::time::Duration as StdDuration;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use broker_core::Exchange;
use broker_core::sim::Fault;
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::responses::{backend_error_with_status, success};
use super::state::SimState;
use crate::http::Endpoint;
use crate::http::models::{decimal_opt, lenient_string};

/// Where the admin routes live.
pub(crate) const PREFIX: &str = "/_sim/";

#[derive(Deserialize)]
struct PriceBody {
    exchange: Exchange,
    #[serde(deserialize_with = "lenient_string")]
    symboltoken: String,
    #[serde(deserialize_with = "decimal_opt")]
    price: Option<Decimal>,
}

#[derive(Deserialize)]
struct FillBody {
    #[serde(deserialize_with = "lenient_string")]
    orderid: String,
    #[serde(default, deserialize_with = "decimal_opt")]
    price: Option<Decimal>,
}

#[derive(Deserialize)]
struct RejectBody {
    #[serde(deserialize_with = "lenient_string")]
    orderid: String,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct FaultBody {
    endpoint: String,
    fault: String,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    millis: Option<u64>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct ClockBody {
    #[serde(default)]
    advance_seconds: Option<i64>,
    #[serde(default)]
    set: Option<DateTime<Utc>>,
}

fn bad_request(message: &str) -> Response {
    backend_error_with_status(StatusCode::BAD_REQUEST, "", message)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|error| format!("bad body: {error}"))
}

/// Moves a price and, when matching, fills what it reaches.
pub(crate) fn move_price(
    state: &SimState,
    exchange: Exchange,
    token: &str,
    price: Decimal,
) -> Result<Vec<String>, String> {
    let now = state.now();
    state.market.set_price(exchange, token, price, now)?;
    Ok(if state.matching {
        state.book.price_moved(exchange, token, &state.market, now)
    } else {
        Vec::new()
    })
}

fn fault(body: FaultBody) -> Result<(Endpoint, Fault), String> {
    let endpoint = Endpoint::from_name(&body.endpoint)
        .ok_or_else(|| format!("no endpoint named {:?}", body.endpoint))?;
    let fault = match body.fault.as_str() {
        "latency" => Fault::Latency(StdDuration::from_millis(body.millis.unwrap_or(1000))),
        "server_error" => Fault::ServerError(body.status.unwrap_or(502)),
        "hang" => Fault::Hang,
        "rate_limited" => Fault::RateLimited,
        "firewall_page" => Fault::FirewallPage,
        "empty_bad_request" => Fault::EmptyBadRequest,
        "session_expired" => Fault::SessionExpired,
        "reject_after_accept" => Fault::RejectAfterAccept(
            body.reason
                .unwrap_or_else(|| "Rejected by the simulator".to_owned()),
        ),
        other => return Err(format!("no fault named {other:?}")),
    };
    Ok((endpoint, fault))
}

/// Answers an admin route (`route` is the path after [`PREFIX`]).
pub(crate) fn handle(state: &SimState, method: &Method, route: &str, body: &[u8]) -> Response {
    let outcome = match (method.as_str(), route) {
        ("POST", "price") => parse::<PriceBody>(body).and_then(|request| {
            let price = request.price.ok_or("a price is needed")?;
            let filled = move_price(state, request.exchange, &request.symboltoken, price)?;
            Ok(success(serde_json::json!({ "filled": filled })))
        }),
        ("POST", "fill") => parse::<FillBody>(body).map(|request| {
            let filled =
                state
                    .book
                    .fill(&request.orderid, request.price, &state.market, state.now());
            success(serde_json::json!({ "filled": filled }))
        }),
        ("POST", "reject") => parse::<RejectBody>(body).map(|request| {
            let reason = request
                .reason
                .unwrap_or_else(|| "Rejected by the simulator".to_owned());
            let rejected = state.book.reject(&request.orderid, &reason, state.now());
            success(serde_json::json!({ "rejected": rejected }))
        }),
        ("POST", "fault") => parse::<FaultBody>(body).and_then(|request| {
            let (endpoint, fault) = fault(request)?;
            state.faults.inject(endpoint, fault);
            Ok(success(serde_json::json!({ "queued": endpoint.name() })))
        }),
        ("POST", "clock") => parse::<ClockBody>(body).map(|request| {
            if let Some(now) = request.set {
                state.set_now(now);
            }
            if let Some(seconds) = request.advance_seconds {
                state.advance(Duration::seconds(seconds));
            }
            success(serde_json::json!({ "now": state.now().to_rfc3339() }))
        }),
        ("GET", "clock") => Ok(success(
            serde_json::json!({ "now": state.now().to_rfc3339() }),
        )),
        ("POST", "expire_sessions") => {
            state.expire_sessions();
            Ok(success(()))
        }
        _ => return backend_error_with_status(StatusCode::NOT_FOUND, "", "Not Found"),
    };
    outcome.unwrap_or_else(|message| bad_request(&message))
}
