//! `/healthz`, `/readyz` and `/metrics`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// The store answers and the vault keys open what it holds: ready to take traffic.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = String),
        (status = 503, description = "The store is unreachable or the keys do not open it", body = ErrorBody),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    let not_ready = |what: &'static str, error: &dyn std::fmt::Display| {
        tracing::warn!(%error, what, "not ready");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", what)
    };
    let due = state
        .store
        .accounts_due_for_run()
        .await
        .map_err(|error| not_ready("the credential store is not reachable", &error))?;
    // One decryption proves the keys open the stored ciphertexts.
    if let Some(account) = due.first() {
        state
            .store
            .credentials(account.user_id, account.id)
            .await
            .map_err(|error| {
                not_ready("the vault keys do not open the stored credentials", &error)
            })?;
    }
    Ok("ready")
}

/// Counters in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut sessions = BTreeMap::new();
    match state.store.accounts_due_for_run().await {
        Ok(accounts) => {
            for account in accounts {
                *sessions.entry(account.status.to_string()).or_insert(0) += 1;
            }
        }
        Err(error) => tracing::warn!(%error, "metrics: accounts unreadable"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render_with_sessions(&sessions),
    )
}
