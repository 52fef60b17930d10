//! The simulator's own routes under `/_sim` (not Kite's: no Kite path starts with `_`), so
//! that what the Rust API of [`super::Simulator`] does can be done to the `kite-sim` binary
//! from any language: move prices, fill orders, move the clock, inject faults, end sessions.
//!
//! They answer only with the header `X-Sim-Admin: <admin token>` (the token of
//! `SimConfig::admin_token`, compared in constant time); without a configured token they do
//! not exist. They take JSON and answer Kite's envelope:
//!
//! | route | body | effect |
//! |---|---|---|
//! | `POST /_sim/prices` | `{"NSE:SBIN": 795.5, ...}` | moves last prices (numbers or numeric strings, read exactly) and fills what they reach |
//! | `POST /_sim/fill` | `{"order_id": "…", "price": 790}` | fills a working order at that price |
//! | `GET /_sim/clock` | | the simulator's time |
//! | `POST /_sim/clock` | `{"advance_seconds": 86400}` or `{"now": "2026-12-02T09:15:00+05:30"}` | moves the time (sessions expire, days roll, after-market orders reach the session) |
//! | `POST /_sim/faults` | `{"method": "POST", "path": "/orders/regular", "fault": "hang"}` | queues a fault for the next request to that endpoint |
//! | `POST /_sim/expire_sessions` | | ends every session |
//!
//! Faults: `"hang"`, `"rate_limited"`, `"firewall_page"`, `"empty_bad_request"`,
//! `"session_expired"`, `{"latency_ms": 50}`, `{"server_error": 502}`,
//! `{"reject_after_accept": "reason"}`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use broker_core::Clock;
use broker_core::sim::Fault;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use serde_json::value::RawValue;
use subtle::ConstantTimeEq;

use super::responses::{Answer, KiteError, success};
use super::state::SimState;
use crate::http::Endpoint;
use crate::http::models::number;

type Shared = State<Arc<SimState>>;

/// The header carrying the admin token.
const ADMIN_HEADER: &str = "x-sim-admin";

pub(super) fn router(state: Arc<SimState>) -> Router<Arc<SimState>> {
    Router::new()
        .route("/prices", post(prices))
        .route("/fill", post(fill))
        .route("/clock", get(clock).post(move_clock))
        .route("/faults", post(fault))
        .route("/expire_sessions", post(expire_sessions))
        .route_layer(middleware::from_fn_with_state(state, admitted))
}

/// Lets a request through only with the configured admin token.
async fn admitted(State(state): Shared, request: Request, next: Next) -> Response {
    let Some(token) = &state.admin_token else {
        return KiteError::new(StatusCode::NOT_FOUND, "GeneralException", "Route not found")
            .into_response();
    };
    let given = request
        .headers()
        .get(ADMIN_HEADER)
        .map(|value| value.as_bytes())
        .unwrap_or_default();
    if bool::from(given.ct_eq(token.expose_secret().as_bytes())) {
        next.run(request).await
    } else {
        KiteError::new(
            StatusCode::FORBIDDEN,
            "PermissionException",
            format!("the simulator's admin routes need the {ADMIN_HEADER} header"),
        )
        .into_response()
    }
}

fn json_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, KiteError> {
    serde_json::from_slice(body).map_err(|error| KiteError::input(format!("Invalid JSON: {error}")))
}

fn decimal(raw: &RawValue) -> Result<rust_decimal::Decimal, KiteError> {
    number::parse(raw.get()).map_err(KiteError::input)
}

async fn prices(State(state): Shared, body: Bytes) -> Answer {
    let moves: HashMap<String, Box<RawValue>> = json_body(&body)?;
    let mut parsed = Vec::with_capacity(moves.len());
    for (instrument, raw) in &moves {
        if !instrument.contains(':') {
            return Err(KiteError::input(format!(
                "{instrument:?} is not EXCHANGE:TRADINGSYMBOL"
            )));
        }
        let price = decimal(raw)?;
        if price <= rust_decimal::Decimal::ZERO {
            return Err(KiteError::input(format!(
                "{instrument}: the price must be positive"
            )));
        }
        parsed.push((instrument.clone(), price));
    }
    state.with_book(|book, now| {
        for (instrument, price) in &parsed {
            book.set_price(instrument, *price, now);
        }
    });
    Ok(success(json!({ "moved": parsed.len() })))
}

#[derive(Deserialize)]
struct FillBody {
    order_id: String,
    price: Box<RawValue>,
}

async fn fill(State(state): Shared, body: Bytes) -> Answer {
    let request: FillBody = json_body(&body)?;
    let price = decimal(&request.price)?;
    let filled = state.with_book(|book, now| book.fill(&request.order_id, price, now));
    Ok(success(json!({ "filled": filled })))
}

async fn clock(State(state): Shared) -> Answer {
    Ok(success(json!({ "now": state.clock.now().to_rfc3339() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    #[serde(default)]
    advance_seconds: Option<i64>,
    #[serde(default)]
    now: Option<DateTime<chrono::FixedOffset>>,
}

async fn move_clock(State(state): Shared, body: Bytes) -> Answer {
    let request: ClockBody = json_body(&body)?;
    match (request.advance_seconds, request.now) {
        (Some(seconds), None) => state.clock.advance(chrono::Duration::seconds(seconds)),
        (None, Some(now)) => state.clock.set(now.with_timezone(&Utc)),
        _ => {
            return Err(KiteError::input(
                "give either advance_seconds or now (RFC 3339)",
            ));
        }
    }
    state.with_book(|_, _| ());
    clock(State(state)).await
}

/// A fault as the admin route names it.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum NamedFault {
    LatencyMs(u64),
    ServerError(u16),
    Hang,
    RateLimited,
    FirewallPage,
    EmptyBadRequest,
    SessionExpired,
    RejectAfterAccept(String),
}

impl From<NamedFault> for Fault {
    fn from(named: NamedFault) -> Self {
        match named {
            NamedFault::LatencyMs(millis) => Fault::Latency(Duration::from_millis(millis)),
            NamedFault::ServerError(status) => Fault::ServerError(status),
            NamedFault::Hang => Fault::Hang,
            NamedFault::RateLimited => Fault::RateLimited,
            NamedFault::FirewallPage => Fault::FirewallPage,
            NamedFault::EmptyBadRequest => Fault::EmptyBadRequest,
            NamedFault::SessionExpired => Fault::SessionExpired,
            NamedFault::RejectAfterAccept(reason) => Fault::RejectAfterAccept(reason),
        }
    }
}

#[derive(Deserialize)]
struct FaultBody {
    method: String,
    path: String,
    fault: NamedFault,
}

async fn fault(State(state): Shared, body: Bytes) -> Answer {
    let request: FaultBody = json_body(&body)?;
    let method = Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| KiteError::input("Invalid method."))?;
    let endpoint = Endpoint::from_request(&method, &request.path).ok_or_else(|| {
        KiteError::input(format!(
            "{} {} is not a Kite endpoint",
            request.method, request.path
        ))
    })?;
    state.faults.inject(endpoint, request.fault.into());
    Ok(success(json!({ "endpoint": endpoint.name() })))
}

async fn expire_sessions(State(state): Shared) -> Answer {
    state.expire_sessions();
    Ok(success(true))
}
