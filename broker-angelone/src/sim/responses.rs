//! The shapes SmartAPI answers in, success and failure alike, and how each shared
//! [`Fault`] looks at Angel One.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use broker_core::sim::Fault;
use serde::Serialize;

/// A request refused with the backend's error envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// SmartAPI's code; empty where the simulator does not know the code SmartAPI uses.
    pub code: &'static str,
    /// The message.
    pub message: String,
}

impl Refusal {
    /// A refusal with this code and message.
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A refusal whose SmartAPI code is not known (the envelope's `errorcode` is empty).
    pub(crate) fn uncoded(message: impl Into<String>) -> Self {
        Self::new("", message)
    }

    /// The backend's answer for it.
    pub(crate) fn into_response(self) -> Response {
        backend_error(self.code, &self.message)
    }
}

#[derive(Serialize)]
struct Backend<'a, T: Serialize> {
    status: bool,
    message: &'a str,
    errorcode: &'a str,
    data: T,
}

/// JSON in HTTP `status`, written straight from `body` (so decimals stay the numbers they
/// are, never passing through a JSON value).
fn json(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `{"status":true,"message":"SUCCESS","errorcode":"","data":…}` in HTTP 200.
pub(crate) fn success(data: impl Serialize) -> Response {
    json(
        StatusCode::OK,
        &Backend {
            status: true,
            message: "SUCCESS",
            errorcode: "",
            data,
        },
    )
}

/// The backend's failure: `{"status":false,"message","errorcode","data":null}` in HTTP 200.
pub(crate) fn backend_error(code: &str, message: &str) -> Response {
    backend_error_with_status(StatusCode::OK, code, message)
}

/// The backend's failure envelope in another HTTP status.
pub(crate) fn backend_error_with_status(status: StatusCode, code: &str, message: &str) -> Response {
    json(
        status,
        &Backend {
            status: false,
            message,
            errorcode: code,
            data: (),
        },
    )
}

/// The gateway's failure: `{"success":false,"message","errorCode","data":""}`.
pub(crate) fn gateway_error(status: StatusCode, code: &str, message: &str) -> Response {
    #[derive(Serialize)]
    struct Gateway<'a> {
        success: bool,
        message: &'a str,
        #[serde(rename = "errorCode")]
        error_code: &'a str,
        data: &'a str,
    }
    json(
        status,
        &Gateway {
            success: false,
            message,
            error_code: code,
            data: "",
        },
    )
}

/// The access-rate limiter's plain-text HTTP 403.
pub(crate) fn rate_limit_page() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain")],
        "Access denied because of exceeding access rate",
    )
        .into_response()
}

/// The web application firewall's HTML "Request Rejected" page.
pub(crate) fn firewall_page() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/html")],
        "<html><head><title>Request Rejected</title></head><body>The requested URL was rejected. \
         Please consult with your administrator.<br><br>Your support ID is: 1234567890</body></html>",
    )
        .into_response()
}

/// A gateway's 5xx page.
pub(crate) fn server_error(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    (
        status,
        [(header::CONTENT_TYPE, "text/html")],
        format!("<html><body><h1>{status}</h1></body></html>"),
    )
        .into_response()
}

/// The answer to a fault that refuses the request before SmartAPI processes it, or `None`
/// for a fault that lets it be processed.
pub(crate) fn unprocessed(fault: &Fault) -> Option<Response> {
    match fault {
        Fault::RateLimited => Some(rate_limit_page()),
        Fault::FirewallPage => Some(firewall_page()),
        // The firewall's empty HTTP 400.
        Fault::EmptyBadRequest => Some(StatusCode::BAD_REQUEST.into_response()),
        // The gateway answers AG8001 inside HTTP 200.
        Fault::SessionExpired => Some(gateway_error(StatusCode::OK, "AG8001", "Invalid Token")),
        _ => None,
    }
}
