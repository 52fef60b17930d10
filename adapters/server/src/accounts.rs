//! `/v1/accounts`: list, read, change and remove the caller's broker accounts.
//!
//! Every call is scoped by the token's user: another user's account answers 404, exactly as a
//! missing one does.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use broker_core::{AngelOneCredentials, BrokerCredentials, CredentialError, ZerodhaCredentials};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vault::{AccountId, BrokerAccount};

use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::json::{ValidJson, ValidQuery};
use crate::state::AppState;

/// An account as the API shows it: never a secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountView {
    /// The account id.
    #[schema(value_type = String, format = Uuid)]
    pub id: AccountId,
    /// `angel_one` or `zerodha`.
    #[schema(value_type = String, example = "angel_one")]
    pub broker: broker_core::BrokerKind,
    /// `pending`, `active`, `needs_login`, `disabled`, or a verification failure
    /// (`ip_not_whitelisted`, `invalid_credentials`, `invalid_totp`, `broker_unreachable`).
    #[schema(value_type = String, example = "active")]
    pub status: vault::AccountStatus,
    /// Whether the scheduler trades this account.
    pub auto_execute: bool,
    /// The IP the account's orders leave from (the one registered with the broker).
    #[schema(value_type = Option<String>, example = "203.0.113.10")]
    pub egress_ip: Option<IpAddr>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<BrokerAccount> for AccountView {
    fn from(account: BrokerAccount) -> Self {
        Self {
            id: account.id,
            broker: account.broker,
            status: account.status,
            auto_execute: account.auto_execute,
            egress_ip: account.egress_ip,
            created_at: account.created_at,
            updated_at: account.updated_at,
        }
    }
}

/// The credentials of a new or changed account, by broker.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "broker", rename_all = "snake_case")]
pub enum CredentialsInput {
    /// Angel One SmartAPI.
    AngelOne(AngelOneInput),
    /// Zerodha Kite Connect.
    Zerodha(ZerodhaInput),
}

/// What logs in to an Angel One account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AngelOneInput {
    /// The SmartAPI app's API key.
    #[schema(value_type = String)]
    pub api_key: SecretString,
    /// The Angel One client code (login id).
    pub client_code: String,
    /// The 4-digit MPIN of the Angel One app.
    #[schema(value_type = String)]
    pub mpin: SecretString,
    /// The base32 TOTP secret shown when enabling TOTP (smartapi.angelbroking.com/enable-totp).
    #[schema(value_type = String)]
    pub totp_secret: SecretString,
    /// The SmartAPI app's secret, if the platform needs it.
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    pub api_secret: Option<SecretString>,
}

/// What identifies a Kite Connect app.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZerodhaInput {
    /// The Kite Connect app's API key.
    #[schema(value_type = String)]
    pub api_key: SecretString,
    /// The Kite Connect app's API secret.
    #[schema(value_type = String)]
    pub api_secret: SecretString,
}

impl CredentialsInput {
    /// Checks the shape of the credentials; a refusal names the field (under `prefix`).
    ///
    /// # Errors
    /// [`ApiError::invalid_field`].
    pub fn into_credentials(self, prefix: &str) -> Result<BrokerCredentials, ApiError> {
        let refuse = |error: CredentialError| {
            ApiError::invalid_field(format!("{prefix}{}", field_of(&error)), error.to_string())
        };
        match self {
            Self::AngelOne(input) => {
                let mut credentials = AngelOneCredentials::new(
                    input.api_key,
                    input.client_code,
                    input.mpin,
                    input.totp_secret,
                )
                .map_err(refuse)?;
                if let Some(api_secret) = input.api_secret {
                    credentials = credentials.with_api_secret(api_secret).map_err(refuse)?;
                }
                Ok(BrokerCredentials::AngelOne(credentials))
            }
            Self::Zerodha(input) => ZerodhaCredentials::new(input.api_key, input.api_secret)
                .map(BrokerCredentials::Zerodha)
                .map_err(refuse),
        }
    }
}

/// The request field a credential error is about.
fn field_of(error: &CredentialError) -> &'static str {
    match error {
        CredentialError::Empty { field } | CredentialError::BadCharacters { field } => match *field
        {
            "API key" => "api_key",
            "client code" => "client_code",
            "MPIN" => "mpin",
            "TOTP secret" => "totp_secret",
            "API secret" => "api_secret",
            _ => "",
        },
        CredentialError::MpinNotDigits | CredentialError::MpinLength { .. } => "mpin",
        CredentialError::TotpSecretNotBase32 | CredentialError::TotpSecretTooShort { .. } => {
            "totp_secret"
        }
        _ => "",
    }
}

/// A change to an account: any of its fields, at least one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    /// Turn scheduled trading on or off.
    #[serde(default)]
    pub auto_execute: Option<bool>,
    /// Replace the credentials (same broker); the account goes back to `pending` until
    /// verified again.
    #[serde(default)]
    pub credentials: Option<CredentialsInput>,
}

/// Query of `POST /v1/accounts`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CreateQuery {
    /// `false` saves the account `pending` without contacting the broker.
    #[serde(default = "verify_by_default")]
    pub verify: bool,
}

fn verify_by_default() -> bool {
    true
}

/// Adds an account.
#[utoipa::path(
    post, path = "/v1/accounts", tag = "accounts",
    params(CreateQuery),
    request_body = CredentialsInput,
    responses(
        (status = 201, description = "Saved", body = AccountView),
        (status = 400, description = "A field is missing, unknown or invalid", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_account(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ValidQuery(query): ValidQuery<CreateQuery>,
    ValidJson(input): ValidJson<CredentialsInput>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let credentials = input.into_credentials("")?;
    if query.verify {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented",
            "verification needs broker-connect; use ?verify=false",
        ));
    }
    let account = state.store.create_account(user, &credentials).await?;
    Ok((StatusCode::CREATED, Json(account.into())))
}

/// The caller's accounts, oldest first.
#[utoipa::path(
    get, path = "/v1/accounts", tag = "accounts",
    responses(
        (status = 200, description = "The caller's accounts", body = [AccountView]),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_accounts(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<Vec<AccountView>>, ApiError> {
    let accounts = state.store.accounts(user).await?;
    Ok(Json(accounts.into_iter().map(AccountView::from).collect()))
}

/// One of the caller's accounts.
#[utoipa::path(
    get, path = "/v1/accounts/{id}", tag = "accounts",
    params(("id" = String, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such account for this user", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_account(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    let id = account_id(&id)?;
    let account = state
        .store
        .account(user, id)
        .await?
        .ok_or_else(ApiError::account_not_found)?;
    Ok(Json(account.into()))
}

/// Changes auto-execute and/or the credentials.
#[utoipa::path(
    patch, path = "/v1/accounts/{id}", tag = "accounts",
    params(("id" = String, Path, description = "Account id")),
    request_body = AccountPatch,
    responses(
        (status = 200, description = "The changed account", body = AccountView),
        (status = 400, description = "A field is missing, unknown or invalid", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such account for this user", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn patch_account(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    ValidJson(patch): ValidJson<AccountPatch>,
) -> Result<Json<AccountView>, ApiError> {
    let id = account_id(&id)?;
    if patch.auto_execute.is_none() && patch.credentials.is_none() {
        return Err(ApiError::invalid_field(
            "",
            "send at least one of auto_execute and credentials",
        ));
    }
    let credentials = patch
        .credentials
        .map(|input| input.into_credentials("credentials."))
        .transpose()?;
    let mut account = state
        .store
        .account(user, id)
        .await?
        .ok_or_else(ApiError::account_not_found)?;
    if let Some(credentials) = credentials {
        state
            .store
            .update_credentials(user, id, &credentials)
            .await?;
        account = state
            .store
            .set_status(user, id, vault::AccountStatus::Pending)
            .await?;
    }
    if let Some(auto_execute) = patch.auto_execute {
        account = state.store.set_auto_execute(user, id, auto_execute).await?;
    }
    Ok(Json(account.into()))
}

/// Removes an account, its credentials and its session.
#[utoipa::path(
    delete, path = "/v1/accounts/{id}", tag = "accounts",
    params(("id" = String, Path, description = "Account id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such account for this user", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_account(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = account_id(&id)?;
    state.store.delete_account(user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Parses an account id from the path; a malformed one is as unknown as a missing one.
pub(crate) fn account_id(text: &str) -> Result<AccountId, ApiError> {
    text.parse().map_err(|_| ApiError::account_not_found())
}
