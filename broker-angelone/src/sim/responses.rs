//! The shapes SmartAPI answers in, success and failure alike.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

/// `{"status":true,"message":"SUCCESS","errorcode":"","data":…}` in HTTP 200.
pub(crate) fn success(data: impl Serialize) -> Response {
    let data = serde_json::to_value(data).unwrap_or(serde_json::Value::Null);
    axum::Json(json!({"status": true, "message": "SUCCESS", "errorcode": "", "data": data}))
        .into_response()
}

/// The backend's failure: `{"status":false,"message","errorcode","data":null}` in HTTP 200.
pub(crate) fn backend_error(code: &str, message: &str) -> Response {
    axum::Json(json!({"status": false, "message": message, "errorcode": code, "data": null}))
        .into_response()
}

/// The gateway's failure: `{"success":false,"message","errorCode","data":""}`.
pub(crate) fn gateway_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"success": false, "message": message, "errorCode": code, "data": ""});
    (status, axum::Json(body)).into_response()
}

/// The plain-text page of the access-rate limiter.
pub(crate) fn rate_limit_page() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain")],
        "Access denied because of exceeding access rate",
    )
        .into_response()
}

/// The web application firewall's HTML page.
pub(crate) fn waf_page() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/html")],
        "<html><head><title>Request Rejected</title></head><body>The requested URL was rejected. \
         Please consult with your administrator.<br><br>Your support ID is: 1234567890</body></html>",
    )
        .into_response()
}

/// The firewall's empty HTTP 400.
pub(crate) fn empty_bad_request() -> Response {
    StatusCode::BAD_REQUEST.into_response()
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
