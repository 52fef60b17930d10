//! Kite Connect's errors mapped to [`BrokerError`].
//!
//! Kite answers errors as `{"status":"error","message":…,"error_type":…}` with an HTTP status
//! (<https://kite.trade/docs/connect/v3/exceptions/>), sometimes inside an HTTP 200. What
//! only Kite can say is mapped here: its rate-limit answer, the IP-whitelist refusal (a
//! `PermissionException` whose message names the IP), "order not found" on calls about one
//! order, `TokenException` (the session is over) and a refused token-exchange checksum.
//! Everything else goes through [`broker_core::transport::reported_error`]: a 5xx whose type
//! is not a definite refusal is Kite's own trouble ([`Refusal::Internal`]: the order may
//! exist), anything else a definite refusal. Answers that are not Kite's JSON at all (an
//! HTML page, an empty body) are classified by `broker_core::transport` alone.

use std::net::IpAddr;
use std::time::Duration;

use broker_core::transport::{Refusal, reported_error};
use broker_core::{BrokerError, OrderId};

use super::Endpoint;
use super::models::WireError;

/// Error types that are a definite answer from Kite: the request was refused, nothing
/// happened, whatever the HTTP status.
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

/// Maps Kite's error envelope to a [`BrokerError`].
///
/// `order_id` is the order a call is about (its "not found" becomes
/// [`BrokerError::OrderNotFound`]); `egress_ip` is the public address requests leave from,
/// reported in [`BrokerError::IpNotWhitelisted`] (the IP in Kite's message when unknown).
pub(crate) fn kite_error(
    status: u16,
    error: WireError,
    retry_after: Option<Duration>,
    endpoint: Endpoint,
    order_id: Option<&OrderId>,
    egress_ip: Option<IpAddr>,
) -> BrokerError {
    let error_type = error.error_type.unwrap_or_default();
    let message = error.message;
    let described = format!("{message} ({error_type}, HTTP {status})");
    let call = endpoint.call_kind();

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
    if let Some(order_id) = order_id
        && is_order_not_found(&error_type, &message)
    {
        return BrokerError::OrderNotFound {
            order_id: order_id.clone(),
        };
    }
    if matches!(
        endpoint,
        Endpoint::GenerateSession | Endpoint::RenewAccessToken
    ) && is_credential_refusal(&message)
    {
        return BrokerError::InvalidCredentials {
            message: format!(
                "Kite refused the app's key or checksum: check the API key and secret ({described})"
            ),
        };
    }
    if error_type == "TokenException" {
        return BrokerError::SessionExpired { message: described };
    }
    let refusal = if status >= 500 && !DEFINITE_REFUSALS.contains(&error_type.as_str()) {
        Refusal::Internal
    } else {
        Refusal::Definite
    };
    let message = if call.changes_orders() || refusal == Refusal::Internal {
        described
    } else {
        message
    };
    reported_error(
        call,
        status,
        refusal,
        Some(error_type).filter(|code| !code.is_empty()),
        message,
    )
}

fn is_too_many_requests(message: &str) -> bool {
    message.to_ascii_lowercase().contains("too many requests")
}

fn is_credential_refusal(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("checksum") || message.contains("invalid `api_key`")
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
fn not_allowed_ip(message: &str) -> Option<Option<IpAddr>> {
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
    use broker_core::{ConnectivityKind, PlacementOutcome};

    fn kite(status: u16, error_type: &str, message: &str, endpoint: Endpoint) -> BrokerError {
        let order_id = OrderId::new("1");
        let about = matches!(
            endpoint,
            Endpoint::CancelOrder | Endpoint::ModifyOrder | Endpoint::OrderHistory
        )
        .then_some(&order_id);
        let error = WireError {
            status: "error".into(),
            message: message.into(),
            error_type: Some(error_type.into()),
        };
        kite_error(status, error, None, endpoint, about, None)
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
        assert!(matches!(
            kite(403, "TokenException", "Incorrect `api_key` or `access_token`.", Endpoint::Profile),
            BrokerError::SessionExpired { message } if message.contains("HTTP 403")
        ));
        assert!(matches!(
            kite(400, "MarginException", "Insufficient funds", Endpoint::PlaceOrder),
            BrokerError::OrderRejected { code: Some(code), .. } if code == "MarginException"
        ));
        assert!(matches!(
            kite(
                429,
                "NetworkException",
                "Too many requests",
                Endpoint::OrderBook
            ),
            BrokerError::RateLimited { .. }
        ));
        assert!(matches!(
            kite(
                503,
                "NetworkException",
                "Too many requests",
                Endpoint::PlaceOrder
            ),
            BrokerError::RateLimited { .. }
        ));
        assert_eq!(
            kite(
                503,
                "NetworkException",
                "OMS unreachable",
                Endpoint::PlaceOrder
            ),
            BrokerError::OrderOutcomeUnknown {
                kind: ConnectivityKind::BrokerInternal { status: 503 }
            }
        );
        assert!(matches!(
            kite(
                400,
                "InputException",
                "Couldn't find that `order_id`.",
                Endpoint::CancelOrder
            ),
            BrokerError::OrderNotFound { .. }
        ));
        assert!(matches!(
            kite(418, "TeapotException", "short and stout", Endpoint::Profile),
            BrokerError::Broker { code: Some(code), status: Some(418), .. } if code == "TeapotException"
        ));
    }

    #[test]
    fn a_refused_checksum_at_the_token_exchange_is_a_credentials_problem() {
        let error = kite(
            403,
            "TokenException",
            "Invalid `checksum`.",
            Endpoint::GenerateSession,
        );
        assert!(
            matches!(error, BrokerError::InvalidCredentials { .. }),
            "{error:?}"
        );
        let used = kite(
            403,
            "TokenException",
            "Token is invalid or has expired.",
            Endpoint::GenerateSession,
        );
        assert!(used.needs_login(), "{used:?}");
    }

    #[test]
    fn an_internal_failure_of_kite_on_an_order_call_leaves_the_order_unknown() {
        for error_type in ["GeneralException", "DataException", "FancyNewException"] {
            let error = kite(500, error_type, "oops", Endpoint::CancelOrder);
            assert_eq!(error.placement_outcome(), PlacementOutcome::Unknown);
            let read = kite(500, error_type, "oops", Endpoint::Holdings);
            assert!(read.is_retryable(), "{read:?}");
        }
        let refused = kite(500, "OrderException", "rejected", Endpoint::PlaceOrder);
        assert_eq!(refused.placement_outcome(), PlacementOutcome::Rejected);
    }
}
