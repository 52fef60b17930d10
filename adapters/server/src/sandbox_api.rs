//! `GET /v1/meta` and the sandbox's own endpoints (`/v1/sandbox/*`, 404 unless brokerd runs
//! with `--sandbox`): demo tokens, a slot run now, and whitelisting an account's egress IP at
//! the in-process simulator of its broker.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use broker_core::{BrokerCredentials, BrokerKind};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vault::{AccountId, UserId};

use crate::auth::{AuthUser, issue_token};
use crate::error::{ApiError, ErrorBody};
use crate::json::ValidJson;
use crate::runs::RunView;
use crate::state::AppState;

/// How long a demo token lives.
pub const DEMO_TOKEN_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// The sandbox's simulators and token secret, shared with its endpoints.
pub struct SandboxHandle {
    /// The Angel One simulator.
    pub angel: broker_angelone::sim::Simulator,
    /// The Kite simulator.
    pub kite: broker_zerodha::sim::Simulator,
    /// The secret demo tokens are signed with.
    pub jwt_secret: SecretString,
}

impl std::fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("angel", &self.angel.url())
            .field("kite", &self.kite.url())
            .finish_non_exhaustive()
    }
}

/// The fixed user id of a demo user name (UUIDv5 in the URL namespace of
/// `sandbox:<name>`), so a name always signs in as the same user.
pub fn demo_user(name: &str) -> UserId {
    UserId::from_uuid(uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("brokerd-sandbox:{name}").as_bytes(),
    ))
}

/// What this server is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Meta {
    /// Whether it runs `--sandbox` (simulated brokers, demo users).
    pub sandbox: bool,
    /// brokerd's version.
    pub version: &'static str,
}

/// What this server is: sandbox or not, and its version.
#[utoipa::path(get, path = "/v1/meta", tag = "operations",
    responses((status = 200, description = "Sandbox flag and version", body = Meta)))]
pub async fn meta(State(state): State<AppState>) -> Json<Meta> {
    Json(Meta {
        sandbox: state.sandbox.is_some(),
        version: env!("CARGO_PKG_VERSION"),
    })
}

fn sandbox(state: &AppState) -> Result<&SandboxHandle, ApiError> {
    state.sandbox.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_sandbox",
            "this endpoint exists only when brokerd runs with --sandbox",
        )
    })
}

/// A demo user to sign in as.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// A name of 1 to 32 characters `a-z`, `0-9`, `_` or `-` (`alice`, `bob`, ...).
    pub user: String,
}

/// A demo token.
#[derive(Debug, Serialize, ToSchema)]
pub struct DemoToken {
    /// An HS256 JWT valid for 12 hours.
    pub token: String,
    /// The user id the name stands for.
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
}

/// Sandbox only: a token for a demo user.
#[utoipa::path(post, path = "/v1/sandbox/token", tag = "sandbox",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "A token valid 12 hours", body = DemoToken),
        (status = 400, description = "A bad name", body = ErrorBody),
        (status = 404, description = "Not a sandbox", body = ErrorBody),
    ))]
pub async fn token(
    State(state): State<AppState>,
    ValidJson(request): ValidJson<TokenRequest>,
) -> Result<Json<DemoToken>, ApiError> {
    let sandbox = sandbox(&state)?;
    let name = request.user;
    let valid = (1..=32).contains(&name.len())
        && name.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"_-".contains(&byte)
        });
    if !valid {
        return Err(ApiError::invalid_field(
            "user",
            "1 to 32 characters a-z, 0-9, _ or -",
        ));
    }
    let user_id = demo_user(&name);
    let token = issue_token(&sandbox.jwt_secret, user_id, DEMO_TOKEN_TTL, None)
        .map_err(|error| ApiError::internal("token", &error))?;
    Ok(Json(DemoToken { token, user_id }))
}

/// Sandbox only: runs a slot now (named by the current IST minute) for every due account,
/// each with its demo intent, and answers the run with the caller's executions.
#[utoipa::path(post, path = "/v1/sandbox/run", tag = "sandbox",
    responses(
        (status = 200, description = "The run with the caller's executions", body = RunView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "Not a sandbox, or the caller has no auto-execute account", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn run(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<RunView>, ApiError> {
    sandbox(&state)?;
    let report = state
        .scheduler
        .run_now(crate::sandbox::current_slot())
        .await
        .map_err(|error| ApiError::internal("sandbox run", &error))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "closed",
                "the exchange calendar says today is closed",
            )
        })?;
    let brokers: HashMap<AccountId, BrokerKind> = state
        .store
        .accounts(user)
        .await?
        .into_iter()
        .map(|account| (account.id, account.broker))
        .collect();
    state.accounts_cache.invalidate(user);
    state
        .runs
        .get(user, report.run.id, &brokers)
        .await
        .map_err(|error| ApiError::internal("journal", &error))?
        .map(Json)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "the run holds no order of yours: turn auto_execute on for an account",
            )
        })
}

/// The account whose egress IP to whitelist.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhitelistRequest {
    /// One of the caller's accounts.
    #[schema(value_type = String, format = Uuid)]
    pub account_id: String,
}

/// Sandbox only: registers the account's egress IP at its broker's simulator, as the user
/// would in the broker's dashboard. Verify the account afterwards.
#[utoipa::path(post, path = "/v1/sandbox/whitelist", tag = "sandbox",
    request_body = WhitelistRequest,
    responses(
        (status = 204, description = "Registered"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "Not a sandbox, or no such account", body = ErrorBody),
        (status = 422, description = "The simulator has no such app (use the demo credentials)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn whitelist(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ValidJson(request): ValidJson<WhitelistRequest>,
) -> Result<StatusCode, ApiError> {
    let sandbox = sandbox(&state)?;
    let id = crate::accounts::account_id(&request.account_id)?;
    let assignment = state.connector.assign_egress(user, id).await?;
    let registered = match state.store.credentials(user, id).await? {
        BrokerCredentials::AngelOne(angel) => sandbox
            .angel
            .register_ip(angel.client_code(), assignment.public),
        BrokerCredentials::Zerodha(kite) => sandbox.kite.allow_ip(
            secrecy::ExposeSecret::expose_secret(kite.api_key()),
            assignment.public,
        ),
        _ => false,
    };
    state.accounts_cache.invalidate(user);
    if !registered {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_to_simulator",
            "the simulator has no app with these credentials: use the demo credentials brokerd printed",
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}
