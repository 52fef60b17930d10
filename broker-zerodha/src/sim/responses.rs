//! Kite-shaped answers: the success envelope, the error envelope, and the pages a gateway or
//! a firewall in front of the API answers with.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::http::models::WireEnvelope;

/// `{"status":"success","data":…}` with `application/json`.
pub(super) fn success<T: Serialize>(data: T) -> Response {
    match serde_json::to_string(&WireEnvelope::success(data)) {
        Ok(body) => json(StatusCode::OK, body),
        Err(error) => KiteError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "GeneralException",
            format!("could not encode the answer: {error}"),
        )
        .into_response(),
    }
}

fn json(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A Kite error: `{"status":"error","message":…,"error_type":…,"data":null}`.
#[derive(Debug)]
pub(super) struct KiteError {
    status: StatusCode,
    error_type: &'static str,
    message: String,
}

impl KiteError {
    pub(super) fn new(
        status: StatusCode,
        error_type: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error_type,
            message: message.into(),
        }
    }

    /// 400 `InputException`.
    pub(super) fn input(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InputException", message)
    }

    /// 403 `TokenException`.
    pub(super) fn token(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "TokenException", message)
    }

    /// The answer for an unknown order id.
    pub(super) fn order_not_found() -> Self {
        Self::input("Couldn't find that `order_id`.")
    }
}

impl IntoResponse for KiteError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "status": "error",
            "message": self.message,
            "error_type": self.error_type,
            "data": null,
        });
        json(self.status, body.to_string())
    }
}

/// The web application firewall's block page.
pub(super) const FIREWALL_PAGE: &str = "<html><head><title>Request Rejected</title></head><body>The requested URL was rejected. Please consult with your administrator.</body></html>";

/// A gateway's error page.
pub(super) const GATEWAY_PAGE: &str = "<html><body><h1>Bad Gateway</h1></body></html>";

/// An HTML page, as a firewall or a gateway in front of the API answers.
pub(super) fn html_page(status: StatusCode, page: &'static str) -> Response {
    let mut response = (status, page).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// What handlers return.
pub(super) type Answer = Result<Response, KiteError>;
