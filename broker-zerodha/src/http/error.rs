//! Kite Connect errors mapped to [`BrokerError`].
//!
//! Kite answers errors as `{"status":"error","message":…,"error_type":…}` with an HTTP status
//! (<https://kite.trade/docs/connect/v3/exceptions/>). The mapping goes by `error_type`, never
//! by message text, except for the IP-whitelist refusal (a `PermissionException` whose message
//! names the IP) and "order not found" answers to calls about one order. The HTTP status is
//! kept in the message of every mapped error.
//!
//! Order calls (place, modify, cancel) are special: once the request has been sent, a timeout,
//! a 5xx without a definite refusal, or a lost connection means the order may exist, so they
//! become [`BrokerError::OrderOutcomeUnknown`] and are never repeated.

use std::net::IpAddr;
use std::time::Duration;

use broker_core::transport::server_failure;
use broker_core::{BrokerError, ConnectivityKind, OrderId};

use super::models::ErrorEnvelope;

/// What kind of call failed, which decides how failures after sending are reported.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CallKind<'a> {
    /// A read or session call: safe to repeat.
    Read,
    /// A read about one order (history, trades): "not found" means [`BrokerError::OrderNotFound`].
    ReadOrder(&'a OrderId),
    /// Placing an order: repeating it could duplicate it.
    Place,
    /// Modifying or cancelling one order.
    ChangeOrder(&'a OrderId),
}

impl CallKind<'_> {
    /// Whether the call places, modifies or cancels an order.
    pub(crate) fn changes_orders(self) -> bool {
        matches!(self, Self::Place | Self::ChangeOrder(_))
    }

    fn order_id(self) -> Option<OrderId> {
        match self {
            Self::ReadOrder(id) | Self::ChangeOrder(id) => Some(id.clone()),
            Self::Read | Self::Place => None,
        }
    }
}

/// Error types that are a definite answer from Kite: the request was refused, nothing happened.
const DEFINITE_REFUSALS: [&str; 8] = [
    "TokenException",
    "PermissionException",
    "UserException",
    "TwoFAException",
    "OrderException",
    "InputException",
    "MarginException",
    "HoldingException",
];

/// Error types of Kite's own back-end trouble: on a read, a 5xx with one of them is safe to
/// repeat.
const TRANSIENT: [&str; 3] = ["NetworkException", "DataException", "GeneralException"];

/// Maps a non-success HTTP answer to a [`BrokerError`].
///
/// `egress_ip` is the public address requests leave from, reported in
/// [`BrokerError::IpNotWhitelisted`] (the IP in Kite's message is used when it is unknown).
pub(crate) fn map_error_response(
    status: u16,
    content_type: &str,
    body: &[u8],
    retry_after: Option<Duration>,
    call: CallKind<'_>,
    path: &str,
    egress_ip: Option<IpAddr>,
) -> BrokerError {
    let envelope = content_type
        .contains("json")
        .then(|| serde_json::from_slice::<ErrorEnvelope>(body).ok())
        .flatten()
        .filter(|envelope| envelope.error_type.is_some() || !envelope.message.is_empty());
    let Some(envelope) = envelope else {
        return map_non_kite_answer(status, content_type, body.len(), call, path);
    };
    let error_type = envelope.error_type.unwrap_or_default();
    let message = envelope.message;
    let described = format!("{message} ({error_type}, HTTP {status})");

    if status == 429 || (error_type == "NetworkException" && is_too_many_requests(&message)) {
        return BrokerError::RateLimited {
            retry_after,
            message: described,
        };
    }
    if let Some(seen) = not_allowed_ip(&message) {
        let message = match (egress_ip, seen) {
            (Some(ours), Some(seen)) if ours != seen => format!(
                "{described}; Kite saw {seen} but this account is configured to leave from {ours}: check the NAT or the egress binding"
            ),
            _ => described,
        };
        return BrokerError::IpNotWhitelisted {
            ip: egress_ip.or(seen),
            message,
        };
    }
    if let Some(order_id) = call.order_id()
        && is_order_not_found(&error_type, &message)
    {
        return BrokerError::OrderNotFound { order_id };
    }
    match error_type.as_str() {
        "TokenException" => BrokerError::SessionExpired { message: described },
        "OrderException" | "InputException" | "MarginException" | "HoldingException"
            if call.changes_orders() =>
        {
            BrokerError::OrderRejected {
                code: Some(error_type),
                message: described,
            }
        }
        _ if call.changes_orders()
            && status >= 500
            && !DEFINITE_REFUSALS.contains(&error_type.as_str()) =>
        {
            server_failure(status, true, path)
        }
        transient if status >= 500 && TRANSIENT.contains(&transient) => BrokerError::Connectivity {
            kind: ConnectivityKind::ServerError { status },
            message: described,
        },
        _ => BrokerError::Broker {
            code: Some(error_type).filter(|code| !code.is_empty()),
            message,
            status: Some(status),
        },
    }
}

/// A 2xx answer whose body is Kite's error envelope (`"status":"error"`), mapped like any
/// other error; `None` when the body is not an error envelope.
pub(crate) fn error_in_success_answer(
    status: u16,
    body: &[u8],
    call: CallKind<'_>,
    path: &str,
    egress_ip: Option<IpAddr>,
) -> Option<BrokerError> {
    let envelope: ErrorEnvelope = serde_json::from_slice(body).ok()?;
    (envelope.status == "error").then(|| {
        map_error_response(
            status,
            "application/json",
            body,
            None,
            call,
            path,
            egress_ip,
        )
    })
}

/// An answer that is not Kite's JSON: a firewall page, a gateway error or an empty body.
fn map_non_kite_answer(
    status: u16,
    content_type: &str,
    body_len: usize,
    call: CallKind<'_>,
    path: &str,
) -> BrokerError {
    let shape = if body_len == 0 {
        "an empty body".to_owned()
    } else {
        format!("a {content_type:?} body of {body_len} bytes")
    };
    match status {
        429 => BrokerError::RateLimited {
            retry_after: None,
            message: format!("HTTP 429 with {shape}"),
        },
        500.. => server_failure(status, call.changes_orders(), path),
        _ => BrokerError::RequestBlocked {
            status,
            message: format!("HTTP {status} with {shape} instead of Kite's JSON"),
        },
    }
}

fn is_too_many_requests(message: &str) -> bool {
    message.to_ascii_lowercase().contains("too many requests")
}

fn is_order_not_found(error_type: &str, message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    matches!(
        error_type,
        "InputException" | "GeneralException" | "OrderException"
    ) && (message.contains("couldn't find") || message.contains("not found"))
}

/// The IP named by Kite's refusal `IP (122.169.47.35) is not allowed to place orders …`.
///
/// Returns `Some(None)` when the message is an IP refusal without a readable address,
/// `None` when it is not an IP refusal at all.
pub(crate) fn not_allowed_ip(message: &str) -> Option<Option<IpAddr>> {
    let lower = message.to_ascii_lowercase();
    if !(lower.contains("ip") && lower.contains("not allowed")) {
        return None;
    }
    let ip = message
        .split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
        .filter(|word| word.contains('.') || word.matches(':').count() >= 2)
        .find_map(|word| word.trim_matches(|c| c == '.' || c == ':').parse().ok());
    Some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kite(status: u16, error_type: &str, message: &str, call: CallKind<'_>) -> BrokerError {
        let body = serde_json::json!({
            "status": "error", "message": message, "error_type": error_type, "data": null
        });
        map_error_response(
            status,
            "application/json",
            body.to_string().as_bytes(),
            None,
            call,
            "/test",
            None,
        )
    }

    #[test]
    fn ip_is_read_from_kites_refusal_in_v4_and_v6() {
        assert_eq!(
            not_allowed_ip("IP (122.169.47.35) is not allowed to place orders for this app."),
            Some(Some("122.169.47.35".parse().unwrap()))
        );
        assert_eq!(
            not_allowed_ip("IP 2001:db8::7 is not allowed to place orders"),
            Some(Some("2001:db8::7".parse().unwrap()))
        );
        assert_eq!(not_allowed_ip("IP is not allowed"), Some(None));
        assert_eq!(not_allowed_ip("Insufficient funds"), None);
    }

    #[test]
    fn error_types_map_to_what_the_caller_must_do() {
        let id = OrderId::new("1");
        assert!(matches!(
            kite(403, "TokenException", "Incorrect `api_key` or `access_token`.", CallKind::Read),
            BrokerError::SessionExpired { message } if message.contains("HTTP 403")
        ));
        assert!(matches!(
            kite(400, "MarginException", "Insufficient funds", CallKind::Place),
            BrokerError::OrderRejected { code: Some(code), .. } if code == "MarginException"
        ));
        assert!(matches!(
            kite(429, "NetworkException", "Too many requests", CallKind::Read),
            BrokerError::RateLimited { .. }
        ));
        assert!(matches!(
            kite(
                503,
                "NetworkException",
                "Too many requests",
                CallKind::Place
            ),
            BrokerError::RateLimited { .. }
        ));
        assert!(matches!(
            kite(503, "NetworkException", "OMS unreachable", CallKind::Place),
            BrokerError::OrderOutcomeUnknown {
                kind: ConnectivityKind::ServerError { status: 503 }
            }
        ));
        assert!(matches!(
            kite(
                400,
                "InputException",
                "Couldn't find that `order_id`.",
                CallKind::ChangeOrder(&id)
            ),
            BrokerError::OrderNotFound { .. }
        ));
        assert!(matches!(
            kite(418, "TeapotException", "short and stout", CallKind::Read),
            BrokerError::Broker { code: Some(code), status: Some(418), .. } if code == "TeapotException"
        ));
    }

    #[test]
    fn html_pages_are_firewall_blocks_or_unknown_order_outcomes() {
        let page = b"<html><body>Request blocked</body></html>";
        assert!(matches!(
            map_error_response(403, "text/html", page, None, CallKind::Read, "/test", None),
            BrokerError::RequestBlocked { status: 403, .. }
        ));
        assert!(matches!(
            map_error_response(502, "text/html", page, None, CallKind::Place, "/test", None),
            BrokerError::OrderOutcomeUnknown { .. }
        ));
        assert!(matches!(
            map_error_response(502, "text/html", page, None, CallKind::Read, "/test", None),
            BrokerError::Connectivity { .. }
        ));
    }
}
