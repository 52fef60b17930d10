//! `/v1/accounts`: list, read, change and remove the caller's broker accounts.
//!
//! Every call is scoped by the token's user: another user's account answers 404, exactly as a
//! missing one does.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use broker_connect::Verification;
use broker_core::{
    AngelOneCredentials, BrokerCredentials, BrokerKind, CredentialError, ZerodhaCredentials,
};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vault::{AccountId, BrokerAccount, UserId};

use crate::accounts_cache::Lookup;
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
    /// The broker's id of the account holder, masked (`A****23`): the Angel One client code,
    /// or the Kite user id once a Kite login told it (`null` before).
    #[schema(example = "A****23")]
    pub client_code: Option<String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl AccountView {
    /// The view of a stored account; `client_code` comes from its (decrypted) credentials.
    ///
    /// # Errors
    /// [`ApiError`] when the credentials cannot be read.
    pub async fn of(
        store: &dyn vault::CredentialStore,
        account: BrokerAccount,
    ) -> Result<Self, ApiError> {
        let credentials = store.credentials(account.user_id, account.id).await?;
        let client_code = match &credentials {
            BrokerCredentials::AngelOne(angel) => Some(mask(angel.client_code())),
            BrokerCredentials::Zerodha(kite) => kite.user_id().map(mask),
            _ => None,
        };
        Ok(Self {
            id: account.id,
            broker: account.broker,
            status: account.status,
            auto_execute: account.auto_execute,
            egress_ip: account.egress_ip,
            client_code,
            created_at: account.created_at,
            updated_at: account.updated_at,
        })
    }
}

/// `A1234523` → `A*****23`: the first character and the last two stay, so the holder
/// recognises the account; short codes keep only the first character.
pub fn mask(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    let shown_tail = if chars.len() > 3 { 2 } else { 0 };
    chars
        .iter()
        .enumerate()
        .map(|(index, character)| {
            if index == 0 || index >= chars.len() - shown_tail {
                *character
            } else {
                '*'
            }
        })
        .collect()
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

/// What creating or verifying an account answers when it went through.
#[derive(Debug, Serialize, ToSchema)]
pub struct OnboardingBody {
    /// The account.
    pub account: AccountView,
    /// What verifying it found (`{"outcome": "connected"}`, or `needs_login` with the Kite
    /// login URL); absent with `?verify=false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub verification: Option<Verification>,
    /// Zerodha: the Kite login page (with a signed, expiring `state`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_url: Option<String>,
}

/// The 422 answer of a verification the broker did not pass: the account stays saved with the
/// outcome as its status, so the user fixes the cause and verifies again.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationFailed {
    /// `code` is the outcome (`ip_not_whitelisted`, `invalid_credentials`, `invalid_totp`,
    /// `broker_unreachable`, `needs_login`).
    pub error: crate::error::ErrorDetail,
    /// The account, with its new status.
    pub account: AccountView,
    /// broker-connect's outcome (`{"outcome": "ip_not_whitelisted", "ip", "broker",
    /// "instructions"}`, ...).
    #[schema(value_type = Object)]
    pub verification: Verification,
}

/// Adds an account. Angel One is verified through its egress IP (201 when connected, else
/// 422 with the outcome); Zerodha answers the Kite login URL. `?verify=false` only saves it.
#[utoipa::path(
    post, path = "/v1/accounts", tag = "accounts",
    params(CreateQuery),
    request_body = CredentialsInput,
    responses(
        (status = 201, description = "Saved (and connected, or waiting for the Kite login)", body = OnboardingBody),
        (status = 400, description = "A field is missing, unknown or invalid", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 422, description = "Saved, but the broker did not pass it", body = VerificationFailed),
        (status = 429, description = "Too many broker calls; see Retry-After", body = ErrorBody),
        (status = 503, description = "No egress IP left for this user (`pool_exhausted`)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_account(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ValidQuery(query): ValidQuery<CreateQuery>,
    ValidJson(input): ValidJson<CredentialsInput>,
) -> Result<Response, ApiError> {
    let credentials = input.into_credentials("")?;
    state.broker_calls.check(user)?;
    let account = state.store.create_account(user, &credentials).await?;
    state.accounts_cache.invalidate(user);
    if !query.verify {
        let account = AccountView::of(state.store.as_ref(), account).await?;
        return Ok(created(OnboardingBody {
            account,
            verification: None,
            login_url: None,
        }));
    }
    onboard(&state, user, account.id, StatusCode::CREATED).await
}

/// Verifies the account again (after whitelisting its IP, fixing the TOTP secret, ...).
#[utoipa::path(
    post, path = "/v1/accounts/{id}/verify", tag = "accounts",
    params(("id" = String, Path, description = "Account id")),
    responses(
        (status = 200, description = "Connected (Zerodha: the Kite session works)", body = OnboardingBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such account for this user", body = ErrorBody),
        (status = 422, description = "The broker did not pass it", body = VerificationFailed),
        (status = 429, description = "Too many broker calls; see Retry-After", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn verify_account(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = account_id(&id)?;
    state.broker_calls.check(user)?;
    let account = state
        .store
        .account(user, id)
        .await?
        .ok_or_else(ApiError::account_not_found)?;
    let verification = verify(&state, user, account.id).await?;
    answer(&state, user, id, verification, StatusCode::OK).await
}

/// The Kite login page for a Zerodha account (its daily login), with a fresh signed state.
#[utoipa::path(
    post, path = "/v1/accounts/{id}/login-url", tag = "accounts",
    params(("id" = String, Path, description = "Account id")),
    responses(
        (status = 200, description = "The Kite login URL", body = LoginUrl),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such Zerodha account for this user", body = ErrorBody),
        (status = 429, description = "Too many broker calls; see Retry-After", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn login_url(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<Json<LoginUrl>, ApiError> {
    let id = account_id(&id)?;
    state.broker_calls.check(user)?;
    let login_url = state.connector.kite_login_url(user, id).await?;
    Ok(Json(LoginUrl { login_url }))
}

/// A Kite login page.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginUrl {
    /// The Kite login URL with a signed, expiring, single-use `state`.
    pub login_url: String,
}

/// Gives the account its egress IP and verifies it (Zerodha: answers the login URL).
async fn onboard(
    state: &AppState,
    user: UserId,
    id: AccountId,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let verification = verify(state, user, id).await?;
    answer(state, user, id, verification, status).await
}

/// The egress IP is assigned (sticky) before the verification that uses it.
async fn verify(state: &AppState, user: UserId, id: AccountId) -> Result<Verification, ApiError> {
    state.connector.assign_egress(user, id).await?;
    let verification = state.connector.verify(user, id).await;
    state.accounts_cache.invalidate(user);
    Ok(verification?)
}

/// 201/200 when connected or (Zerodha) waiting for the holder's Kite login, else 422.
async fn answer(
    state: &AppState,
    user: UserId,
    id: AccountId,
    verification: Verification,
    ok: StatusCode,
) -> Result<Response, ApiError> {
    let account = state
        .store
        .account(user, id)
        .await?
        .ok_or_else(ApiError::account_not_found)?;
    let zerodha_login = match (&verification, account.broker) {
        (Verification::NeedsLogin { login_url }, BrokerKind::Zerodha)
            if ok == StatusCode::CREATED =>
        {
            Some(login_url.clone())
        }
        _ => None,
    };
    let account = AccountView::of(state.store.as_ref(), account).await?;
    if verification == Verification::Connected || zerodha_login.is_some() {
        let body = OnboardingBody {
            account,
            verification: Some(verification),
            login_url: zerodha_login,
        };
        return Ok((ok, Json(body)).into_response());
    }
    let (code, message) = outcome_words(&verification);
    let body = VerificationFailed {
        error: crate::error::ErrorDetail {
            code,
            message,
            field: None,
        },
        account,
        verification,
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response())
}

/// The outcome's code and a sentence for people.
pub(crate) fn outcome_words(verification: &Verification) -> (&'static str, String) {
    match verification {
        Verification::Connected => ("connected", "the account is connected".into()),
        Verification::IpNotWhitelisted { ip, broker, .. } => (
            "ip_not_whitelisted",
            format!("{broker} refuses orders from {ip}: register it as the static IP of your API app, then verify again"),
        ),
        Verification::InvalidCredentials { .. } => (
            "invalid_credentials",
            "the broker refused the credentials: check the API key, client code and MPIN".into(),
        ),
        Verification::InvalidTotp => (
            "invalid_totp",
            "the broker refused the TOTP code: check the TOTP secret (the key shown when enabling TOTP)".into(),
        ),
        Verification::NeedsLogin { .. } => (
            "needs_login",
            "the Kite session is missing or expired: log in to Kite".into(),
        ),
        Verification::BrokerUnreachable { .. } => (
            "broker_unreachable",
            "the broker could not be reached; try again in a few minutes".into(),
        ),
        _ => ("broker_unreachable", "the broker gave an unexpected answer".into()),
    }
}

fn created(body: OnboardingBody) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
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
) -> Result<Response, ApiError> {
    let ticket = match state.accounts_cache.lookup(user).await {
        Lookup::Cached(body) => return Ok(json_response(body)),
        Lookup::Compute(ticket) => ticket,
    };
    let mut views = Vec::new();
    for account in state.store.accounts(user).await? {
        views.push(AccountView::of(state.store.as_ref(), account).await?);
    }
    let body = axum::body::Bytes::from(
        serde_json::to_vec(&views).map_err(|error| ApiError::internal("encode", &error))?,
    );
    state.accounts_cache.put(user, ticket, body.clone());
    Ok(json_response(body))
}

fn json_response(body: axum::body::Bytes) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
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
    Ok(Json(AccountView::of(state.store.as_ref(), account).await?))
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
    state.connector.invalidate(id);
    state.accounts_cache.invalidate(user);
    Ok(Json(AccountView::of(state.store.as_ref(), account).await?))
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
    state.connector.invalidate(id);
    state.accounts_cache.invalidate(user);
    Ok(StatusCode::NO_CONTENT)
}

/// Parses an account id from the path; a malformed one is as unknown as a missing one.
pub(crate) fn account_id(text: &str) -> Result<AccountId, ApiError> {
    text.parse().map_err(|_| ApiError::account_not_found())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_codes_are_masked_but_recognisable() {
        assert_eq!(mask("A1234523"), "A*****23");
        assert_eq!(mask("ZX4242"), "Z***42");
        assert_eq!(mask("S12"), "S**");
        assert_eq!(mask(""), "");
    }
}
