//! SmartAPI failures turned into [`BrokerError`]s, classified by the body, not the status.
//!
//! SmartAPI answers errors in several shapes: a backend envelope with `errorcode`, a gateway
//! envelope with `errorCode` (AG8001 can come inside HTTP 200), a plain-text HTTP 403 when
//! the access rate is exceeded, and an HTML page or an empty HTTP 400 from the web
//! application firewall. The codes that say something specific (session, IP, credentials,
//! order not found) are mapped here, whatever the call; every other code, and every answer
//! that is not an envelope, goes through [`broker_core::transport`], the one rule both broker
//! crates share. Error codes: <https://smartapi.angelbroking.com/docs/ResponseStructure>.

use std::net::IpAddr;
use std::time::Duration;

use broker_core::transport::{self, Refusal};
use broker_core::{BrokerError, OrderId};

use super::endpoint::Endpoint;

/// Codes that mean the session token is no longer accepted (the Java SDK's list).
const SESSION_EXPIRED_CODES: [&str; 5] = ["AG8001", "AG8003", "AB8050", "AB8051", "AB1010"];

/// Codes by which SmartAPI reports a failure of its own ("Something went wrong, please try
/// after some time", "Internal error", "Error not specified"): the request may have been
/// executed, so an order call answered with one has an unknown outcome.
const INTERNAL_CODES: [&str; 3] = ["AB1004", "AB2000", "AB2001"];

/// SmartAPI's "Order not found".
pub(crate) const ORDER_NOT_FOUND: &str = "AB1013";

/// What the client knew when an answer came back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorContext {
    /// The endpoint called.
    pub endpoint: Endpoint,
    /// The HTTP status of the answer.
    pub status: u16,
    /// The public address the request left from, when the client is bound to one.
    pub egress_ip: Option<IpAddr>,
}

/// Maps an error envelope's code and message.
pub(crate) fn from_code(
    code: Option<String>,
    message: String,
    context: ErrorContext,
) -> BrokerError {
    let message = message.trim().to_owned();
    let call = context.endpoint.call_kind();
    let with_code = |code: &str| format!("{message} ({code})");
    let specific = match code.as_deref() {
        Some(code) if SESSION_EXPIRED_CODES.contains(&code) => Some(BrokerError::SessionExpired {
            message: with_code(code),
        }),
        Some(code @ "AG8004") => Some(BrokerError::InvalidCredentials {
            message: format!("the API key was refused: {}", with_code(code)),
        }),
        Some(code @ "AG7002") => Some(BrokerError::IpNotWhitelisted {
            ip: context.egress_ip,
            message: with_code(code),
        }),
        Some(code @ "AB1050") => Some(BrokerError::InvalidTotp {
            message: format!(
                "{}; check the TOTP secret and that this machine's clock is right",
                with_code(code)
            ),
        }),
        Some(code @ "AB7001") => Some(BrokerError::InvalidCredentials {
            message: format!(
                "{}: SmartAPI logs in with the account's MPIN, not the web password",
                with_code(code)
            ),
        }),
        Some(code @ "AB1007") if context.endpoint == Endpoint::Login => {
            Some(BrokerError::InvalidCredentials {
                message: format!("{}: the client code or MPIN is wrong", with_code(code)),
            })
        }
        _ => None,
    };
    if let Some(error) = specific {
        return error;
    }
    let refusal = match code.as_deref() {
        Some(code) if INTERNAL_CODES.contains(&code) => Refusal::Internal,
        // A 5xx answer in the broker's own format still says its side failed.
        _ if context.status >= 500 => Refusal::Internal,
        _ => Refusal::Definite,
    };
    let message = if message.is_empty() {
        "the broker reported a failure without a message".to_owned()
    } else {
        message
    };
    transport::reported_error(call, context.status, refusal, code, message)
}

/// Classifies an answer whose body is not a SmartAPI envelope (see [`transport`]).
pub(crate) fn from_non_envelope(
    body: &[u8],
    retry_after: Option<Duration>,
    context: ErrorContext,
) -> BrokerError {
    let call = context.endpoint.call_kind();
    let name = context.endpoint.name();
    if (300..400).contains(&context.status) {
        return transport::unreadable_answer(
            call,
            context.status,
            name,
            &format!(
                "HTTP {} redirect; redirects are never followed (they would send the API key and the session to another place)",
                context.status
            ),
        );
    }
    transport::unenveloped_answer(call, context.status, body, retry_after, name)
}

/// Turns SmartAPI's "order not found" into [`BrokerError::OrderNotFound`] for `order_id`.
pub(crate) fn not_found_as_such(error: BrokerError, order_id: &str) -> BrokerError {
    match error {
        BrokerError::OrderRejected {
            code: Some(code), ..
        }
        | BrokerError::Broker {
            code: Some(code), ..
        } if code == ORDER_NOT_FOUND => BrokerError::OrderNotFound {
            order_id: OrderId::new(order_id),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use broker_core::{ConnectivityKind, PlacementOutcome};

    fn context(endpoint: Endpoint, status: u16) -> ErrorContext {
        ErrorContext {
            endpoint,
            status,
            egress_ip: Some("127.0.0.2".parse().unwrap()),
        }
    }

    fn coded(code: &str, endpoint: Endpoint, status: u16) -> BrokerError {
        from_code(
            Some(code.into()),
            "message".into(),
            context(endpoint, status),
        )
    }

    #[test]
    fn error_code_table_maps_every_documented_code() {
        for code in SESSION_EXPIRED_CODES {
            assert!(coded(code, Endpoint::Profile, 200).needs_login());
            assert!(coded(code, Endpoint::PlaceOrder, 401).needs_login());
        }
        type Expectation = fn(&BrokerError) -> bool;
        let cases: [(&str, Endpoint, Expectation); 6] = [
            ("AG8004", Endpoint::OrderBook, |e| {
                matches!(e, BrokerError::InvalidCredentials { .. })
            }),
            ("AG7002", Endpoint::PlaceOrder, |e| {
                matches!(e, BrokerError::IpNotWhitelisted { ip: Some(_), .. })
            }),
            ("AB1050", Endpoint::Login, |e| {
                matches!(e, BrokerError::InvalidTotp { .. })
            }),
            (
                "AB7001",
                Endpoint::Login,
                |e| matches!(e, BrokerError::InvalidCredentials { message } if message.contains("MPIN")),
            ),
            ("AB1007", Endpoint::Login, |e| {
                matches!(e, BrokerError::InvalidCredentials { .. })
            }),
            (
                "AB9999",
                Endpoint::Profile,
                |e| matches!(e, BrokerError::Broker { code: Some(code), status: Some(200), .. } if code == "AB9999"),
            ),
        ];
        for (code, endpoint, expected) in cases {
            let error = coded(code, endpoint, 200);
            assert!(expected(&error), "{code}: {error:?}");
        }
    }

    #[test]
    fn unregistered_ip_names_the_egress_address() {
        let error = from_code(
            Some("AG7002".into()),
            "Access denied: Unregistered IP address. Register your IP before retrying.".into(),
            context(Endpoint::PlaceOrder, 403),
        );
        assert!(error.to_string().contains("127.0.0.2"), "{error}");
    }

    #[test]
    fn other_codes_on_order_calls_are_rejections_unless_the_broker_failed_itself() {
        let error = coded("AB4008", Endpoint::PlaceOrder, 200);
        assert_eq!(
            error,
            BrokerError::OrderRejected {
                code: Some("AB4008".into()),
                message: "message".into()
            }
        );
        for code in INTERNAL_CODES {
            for endpoint in [
                Endpoint::PlaceOrder,
                Endpoint::ModifyOrder,
                Endpoint::CancelOrder,
            ] {
                let error = coded(code, endpoint, 200);
                assert_eq!(
                    error.placement_outcome(),
                    PlacementOutcome::Unknown,
                    "{code}"
                );
            }
            assert!(coded(code, Endpoint::OrderBook, 200).is_retryable());
        }
        // A definite-looking code inside a 5xx still leaves the outcome unknown.
        assert_eq!(
            coded("AB4008", Endpoint::PlaceOrder, 500),
            BrokerError::OrderOutcomeUnknown {
                kind: ConnectivityKind::BrokerInternal { status: 500 }
            }
        );
    }

    #[test]
    fn a_redirect_is_reported_as_unfollowed() {
        let error = from_non_envelope(b"", None, context(Endpoint::Login, 307));
        assert!(matches!(error, BrokerError::Decode { .. }), "{error:?}");
        assert!(error.to_string().contains("never followed"), "{error}");
        let error = from_non_envelope(b"", None, context(Endpoint::PlaceOrder, 302));
        assert_eq!(error.placement_outcome(), PlacementOutcome::Unknown);
    }

    #[test]
    fn order_not_found_names_the_order() {
        let error = not_found_as_such(coded(ORDER_NOT_FOUND, Endpoint::CancelOrder, 200), "42");
        assert_eq!(
            error,
            BrokerError::OrderNotFound {
                order_id: OrderId::new("42")
            }
        );
    }
}
