//! Zerodha's two calls into brokerd: the login redirect (`GET /v1/zerodha/callback`) and
//! order postbacks (`POST /v1/zerodha/postback`). Neither carries a bearer token: the signed
//! `state` authenticates the redirect, the checksum (made with the account's API secret) the
//! postback. The request token and the body are never logged.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use broker_connect::{BadState, ConnectorError, KiteLoginCompleted, Verification};
use broker_core::{BrokerCredentials, BrokerError};
use broker_zerodha::PostbackError;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Why a Kite login did not connect the account, as the page's `reason` says it.
fn failure_reason(error: &ConnectorError) -> &'static str {
    match error {
        ConnectorError::BadState(BadState::Expired) => "expired_state",
        ConnectorError::BadState(BadState::Replayed) => "replayed_state",
        ConnectorError::BadState(_) | ConnectorError::AccountNotFound => "bad_state",
        ConnectorError::Broker(BrokerError::IpNotWhitelisted { .. }) => "ip_not_whitelisted",
        ConnectorError::Broker(
            BrokerError::InvalidCredentials { .. } | BrokerError::SessionExpired { .. },
        ) => "login_refused",
        _ => "broker_unreachable",
    }
}

fn redirect(query: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/?{query}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn failed(reason: &str) -> Response {
    redirect(&format!("kite=failed&reason={reason}"))
}

/// Kite's redirect after the account holder's login: checks the `state` (signature, expiry,
/// single use), exchanges the request token from the account's egress IP, verifies the
/// account and sends the browser to the page with what happened.
#[utoipa::path(
    get, path = "/v1/zerodha/callback", tag = "zerodha",
    params(
        ("status" = Option<String>, Query, description = "`success` when the holder logged in"),
        ("request_token" = Option<String>, Query, description = "Exchanged for the session"),
        ("state" = Option<String>, Query, description = "The signed state of the login URL"),
    ),
    responses(
        (status = 303, description = "To `/?kite=connected&account=<id>` or `/?kite=failed&reason=<code>` (bad_state, expired_state, replayed_state, login_refused, ip_not_whitelisted, broker_unreachable)"),
    )
)]
pub async fn callback(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let mut status = None;
    let mut request_token = None;
    let mut signed_state = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "status" => status = Some(value.into_owned()),
            "request_token" => request_token = Some(value.into_owned()),
            "state" => signed_state = Some(value.into_owned()),
            _ => {}
        }
    }
    let Some(signed_state) = signed_state.filter(|value| !value.is_empty()) else {
        return failed("bad_state");
    };
    let request_token = match (status.as_deref(), request_token) {
        (Some("success"), Some(token)) if !token.is_empty() => token,
        _ => return failed("login_refused"),
    };
    match state
        .connector
        .complete_kite_login(&signed_state, &request_token)
        .await
    {
        Ok(KiteLoginCompleted {
            user,
            account,
            verification,
            ..
        }) => {
            state.accounts_cache.invalidate(user);
            match verification {
                Verification::Connected => redirect(&format!("kite=connected&account={account}")),
                Verification::IpNotWhitelisted { .. } => redirect(&format!(
                    "kite=failed&reason=ip_not_whitelisted&account={account}"
                )),
                Verification::BrokerUnreachable { .. } => redirect(&format!(
                    "kite=failed&reason=broker_unreachable&account={account}"
                )),
                _ => redirect(&format!(
                    "kite=failed&reason=login_refused&account={account}"
                )),
            }
        }
        Err(error) => {
            let reason = failure_reason(&error);
            tracing::warn!(reason, %error, "Kite login not completed");
            failed(reason)
        }
    }
}

/// An order update from Kite: found in the journal by its order id, the checksum
/// (`sha256(order_id + order_timestamp + api_secret)`) checked against the placing account's
/// API secret, and the new status recorded on the execution.
#[utoipa::path(
    post, path = "/v1/zerodha/postback", tag = "zerodha",
    request_body(content = Object, description = "Kite's postback: the order's JSON with `checksum`"),
    responses(
        (status = 200, description = "Checked and recorded"),
        (status = 400, description = "Not a Kite postback", body = ErrorBody),
        (status = 401, description = "The checksum does not match", body = ErrorBody),
        (status = 404, description = "No journalled order has this id", body = ErrorBody),
    )
)]
pub async fn postback(State(state): State<AppState>, body: Bytes) -> Result<StatusCode, ApiError> {
    let malformed = |message: &str| ApiError::new(StatusCode::BAD_REQUEST, "bad_postback", message);
    let order_id = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|value| value.get("order_id")?.as_str().map(str::to_owned))
        .ok_or_else(|| malformed("the body is not a Kite postback: a JSON order with order_id"))?;
    let execution = state
        .runs
        .execution_of_order(&order_id)
        .await
        .map_err(|error| ApiError::internal("journal", &error))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_order",
                "no order placed by the scheduler has this id",
            )
        })?;
    let BrokerCredentials::Zerodha(credentials) = state
        .store
        .credentials(execution.user_id, execution.account_id)
        .await?
    else {
        return Err(malformed("the order was not placed through Zerodha"));
    };
    let verified =
        broker_zerodha::verify_postback(&body, credentials.api_secret()).map_err(|error| {
            match error {
                PostbackError::ChecksumMismatch => ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "bad_checksum",
                    "the postback checksum does not match",
                ),
                other => malformed(&other.to_string()),
            }
        })?;
    if let Some(updated) = broker_worker::with_order_status(&execution, &verified.order.status) {
        state
            .runs
            .journal()
            .record(&updated)
            .await
            .map_err(|error| ApiError::internal("journal", &error))?;
        tracing::info!(account = %execution.account_id, intent = %execution.intent_id, state = %updated.state, "postback recorded");
    }
    Ok(StatusCode::OK)
}
