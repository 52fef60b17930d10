//! `GET /v1/egress-ip`: the public IP the caller's next account will trade from, to register
//! at the broker before (or while) adding the account.

use axum::Json;
use axum::extract::State;
use broker_connect::registration_instructions;
use broker_core::BrokerKind;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The caller's egress IP and where to register it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EgressIp {
    /// The public IP brokers will see.
    #[schema(value_type = String, example = "203.0.113.11")]
    pub ip: std::net::IpAddr,
    /// Where to register it, per broker.
    pub instructions: Instructions,
}

/// Registration steps per broker.
#[derive(Debug, Serialize, ToSchema)]
pub struct Instructions {
    /// In the SmartAPI dashboard.
    pub angel_one: String,
    /// In the Kite developer console.
    pub zerodha: String,
}

/// The public IP the caller's next account must register, with per-broker instructions.
#[utoipa::path(
    get, path = "/v1/egress-ip", tag = "accounts",
    responses(
        (status = 200, description = "The IP and instructions", body = EgressIp),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 503, description = "No address is free for this user (`pool_exhausted`)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn egress_ip(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<EgressIp>, ApiError> {
    let assignment = state.connector.egress_ip_for(user)?;
    let ip = assignment.public;
    Ok(Json(EgressIp {
        ip,
        instructions: Instructions {
            angel_one: registration_instructions(BrokerKind::AngelOne, ip),
            zerodha: registration_instructions(BrokerKind::Zerodha, ip),
        },
    }))
}
