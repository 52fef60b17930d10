//! The one error shape every endpoint answers with.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use broker_connect::ConnectorError;
use serde::Serialize;
use utoipa::ToSchema;
use vault::StoreError;

/// The body of every error response: `{"error": {...}}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, for machines (`code`, `field`) and for people (`message`). Never holds a
/// secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code, e.g. `invalid_field`, `not_found`, `unauthorized`.
    pub code: &'static str,
    /// A sentence saying what is wrong and, where possible, how to fix it.
    pub message: String,
    /// The request field at fault (a JSON path such as `credentials.mpin`), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An error answer: status plus [`ErrorBody`].
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    detail: ErrorDetail,
    retry_after_seconds: Option<u64>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            detail: ErrorDetail {
                code,
                message: message.into(),
                field: None,
            },
            retry_after_seconds: None,
        }
    }

    /// 400 for a field of the request that is missing, unknown or of a bad value.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::BAD_REQUEST, "invalid_field", message);
        error.detail.field = Some(field.into()).filter(|field: &String| !field.is_empty());
        error
    }

    /// 401: no token, or one that does not check out.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 404 for an account that does not exist for this user (whether or not another user has
    /// it: that is never said).
    pub fn account_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such account")
    }

    /// 429 with a `Retry-After`.
    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many verification or login attempts; retry in {retry_after_seconds} s"),
        );
        error.retry_after_seconds = Some(retry_after_seconds);
        error
    }

    /// 500 or 503 for a failure on our side; the detail goes to the log, not the answer.
    pub fn internal(context: &'static str, error: &dyn std::error::Error) -> Self {
        tracing::error!(%error, context, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request; it has been logged",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What is answered in the body.
    pub fn detail(&self) -> &ErrorDetail {
        &self.detail
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AccountNotFound { .. } => Self::account_not_found(),
            StoreError::BrokerMismatch { stored, given, .. } => Self::invalid_field(
                "credentials.broker",
                format!("the account is with {stored}; {given} credentials cannot replace its own"),
            ),
            other => Self::internal("store", &other),
        }
    }
}

impl From<ConnectorError> for ApiError {
    fn from(error: ConnectorError) -> Self {
        match error {
            ConnectorError::AccountNotFound => Self::account_not_found(),
            ConnectorError::PoolExhausted { .. } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "pool_exhausted",
                "no egress IP is free for this user; the operator must add addresses to the pool",
            ),
            ConnectorError::AccountDisabled => Self::new(
                StatusCode::CONFLICT,
                "account_disabled",
                "the account is disabled",
            ),
            ConnectorError::NeedsLogin { .. } => Self::new(
                StatusCode::CONFLICT,
                "needs_login",
                "the Kite session is missing or expired: log in to Kite",
            ),
            ConnectorError::Broker(broker) => {
                tracing::warn!(error = %broker, "broker call failed");
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    "broker_unreachable",
                    "the broker could not be reached or failed; try again in a few minutes",
                )
            }
            ConnectorError::Store(store) => store.into(),
            other => Self::internal("connector", &other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(ErrorBody { error: self.detail })).into_response();
        if let Some(seconds) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
