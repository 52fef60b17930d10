//! SmartAPI failures turned into [`BrokerError`]s, classified by the body, not the status.
//!
//! SmartAPI answers errors in several shapes: a backend envelope with `errorcode`, a gateway
//! envelope with `errorCode` (AG8001 can come inside HTTP 200), a plain-text HTTP 403 when
//! the access rate is exceeded, and an HTML page or an empty HTTP 400 from the web
//! application firewall. Error codes: <https://smartapi.angelbroking.com/docs/ResponseStructure>.

use std::net::IpAddr;

use broker_core::{BrokerError, transport};

use super::endpoint::Endpoint;

/// Codes that mean the session token is no longer accepted (the Java SDK's list).
const SESSION_EXPIRED_CODES: [&str; 5] = ["AG8001", "AG8003", "AB8050", "AB8051", "AB1010"];

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

/// Maps an error envelope's code and message to an error kind.
pub(crate) fn from_code(code: Option<&str>, message: &str, context: ErrorContext) -> BrokerError {
    let message = message.trim().to_owned();
    let Some(code) = code else {
        return BrokerError::Broker {
            code: None,
            message: if message.is_empty() {
                "the broker reported a failure without a code or message".to_owned()
            } else {
                message
            },
            status: Some(context.status),
        };
    };
    if SESSION_EXPIRED_CODES.contains(&code) {
        return BrokerError::SessionExpired {
            message: format!("{message} ({code})"),
        };
    }
    match code {
        "AG8004" => BrokerError::InvalidCredentials {
            message: format!("the API key was refused: {message} ({code})"),
        },
        "AG7002" => BrokerError::IpNotWhitelisted {
            ip: context.egress_ip,
            message: format!("{message} ({code})"),
        },
        "AB1050" => BrokerError::InvalidTotp {
            message: format!(
                "{message} ({code}); check the TOTP secret and that this machine's clock is right"
            ),
        },
        "AB7001" => BrokerError::InvalidCredentials {
            message: format!(
                "{message} ({code}): SmartAPI logs in with the account's MPIN, not the web password"
            ),
        },
        "AB1007" => BrokerError::InvalidCredentials {
            message: format!("{message} ({code}): the client code or MPIN is wrong"),
        },
        _ if context.endpoint.changes_orders() => BrokerError::OrderRejected {
            code: Some(code.to_owned()),
            message,
        },
        _ => BrokerError::Broker {
            code: Some(code.to_owned()),
            message,
            status: Some(context.status),
        },
    }
}

/// Classifies an answer whose body is not a JSON envelope.
pub(crate) fn from_non_json(body: &[u8], context: ErrorContext) -> BrokerError {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    let status = context.status;
    if trimmed
        .to_ascii_lowercase()
        .contains("exceeding access rate")
    {
        return BrokerError::RateLimited {
            retry_after: None,
            message: format!(
                "{} answered HTTP {status} \"access denied because of exceeding access rate\"",
                endpoint_name(context.endpoint)
            ),
        };
    }
    if status >= 500 {
        return transport::server_failure(
            status,
            context.endpoint.changes_orders(),
            endpoint_name(context.endpoint),
        );
    }
    // Only the firewall's own page proves the request went no further; any other HTML (a
    // proxy's, say) says nothing about whether an order reached SmartAPI.
    if trimmed.starts_with('<') && trimmed.to_ascii_lowercase().contains("request rejected") {
        return BrokerError::RequestBlocked {
            status,
            message: "the broker's web application firewall answered with an HTML \"Request Rejected\" page; the request never reached SmartAPI".to_owned(),
        };
    }
    if trimmed.is_empty() && status == 400 {
        return BrokerError::RequestBlocked {
            status,
            message: "the broker's web application firewall answered with an empty HTTP 400; the request never reached SmartAPI".to_owned(),
        };
    }
    transport::unreadable_answer(
        status,
        context.endpoint.changes_orders(),
        endpoint_name(context.endpoint),
        &format!(
            "HTTP {status} with a body that is not a SmartAPI envelope ({} bytes)",
            body.len()
        ),
    )
}

/// A short name of the endpoint for messages.
pub(crate) fn endpoint_name(endpoint: Endpoint) -> &'static str {
    let path = endpoint.path().trim_end_matches('/');
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(endpoint: Endpoint, status: u16) -> ErrorContext {
        ErrorContext {
            endpoint,
            status,
            egress_ip: Some("127.0.0.2".parse().unwrap()),
        }
    }

    #[test]
    fn error_code_table_maps_every_documented_code() {
        let profile = context(Endpoint::Profile, 200);
        for code in SESSION_EXPIRED_CODES {
            assert!(matches!(
                from_code(Some(code), "Invalid Token", profile),
                BrokerError::SessionExpired { .. }
            ));
        }
        type Expectation = fn(&BrokerError) -> bool;
        let cases: [(&str, Expectation); 6] = [
            ("AG8004", |e| {
                matches!(e, BrokerError::InvalidCredentials { .. })
            }),
            ("AG7002", |e| {
                matches!(e, BrokerError::IpNotWhitelisted { ip: Some(_), .. })
            }),
            ("AB1050", |e| matches!(e, BrokerError::InvalidTotp { .. })),
            (
                "AB7001",
                |e| matches!(e, BrokerError::InvalidCredentials { message } if message.contains("MPIN")),
            ),
            ("AB1007", |e| {
                matches!(e, BrokerError::InvalidCredentials { .. })
            }),
            (
                "AB9999",
                |e| matches!(e, BrokerError::Broker { code: Some(code), status: Some(200), .. } if code == "AB9999"),
            ),
        ];
        for (code, expected) in cases {
            let error = from_code(Some(code), "message", profile);
            assert!(expected(&error), "{code}: {error:?}");
        }
    }

    #[test]
    fn unregistered_ip_names_the_egress_address() {
        let error = from_code(
            Some("AG7002"),
            "Access denied: Unregistered IP address. Register your IP before retrying.",
            context(Endpoint::PlaceOrder, 403),
        );
        assert!(error.to_string().contains("127.0.0.2"), "{error}");
    }

    #[test]
    fn order_call_codes_become_rejections_keeping_code_and_message() {
        let error = from_code(
            Some("AB4008"),
            "ordertag length should be less than 20",
            context(Endpoint::PlaceOrder, 200),
        );
        assert_eq!(
            error,
            BrokerError::OrderRejected {
                code: Some("AB4008".into()),
                message: "ordertag length should be less than 20".into()
            }
        );
    }

    #[test]
    fn non_json_answers_are_classified_by_their_body() {
        let rate = from_non_json(
            b"Access denied because of exceeding access rate",
            context(Endpoint::OrderBook, 403),
        );
        assert!(matches!(rate, BrokerError::RateLimited { .. }), "{rate:?}");
        let waf = from_non_json(
            b"<html><head><title>Request Rejected</title></head></html>",
            context(Endpoint::PlaceOrder, 200),
        );
        assert!(
            matches!(waf, BrokerError::RequestBlocked { status: 200, .. }),
            "{waf:?}"
        );
        let empty = from_non_json(b"", context(Endpoint::Profile, 400));
        assert!(matches!(
            empty,
            BrokerError::RequestBlocked { status: 400, .. }
        ));
        let gateway = from_non_json(b"Bad Gateway", context(Endpoint::PlaceOrder, 502));
        assert!(matches!(gateway, BrokerError::OrderOutcomeUnknown { .. }));
        let gateway = from_non_json(b"Bad Gateway", context(Endpoint::OrderBook, 502));
        assert!(gateway.is_retryable());
        let odd = from_non_json(b"hello", context(Endpoint::Profile, 200));
        assert!(matches!(odd, BrokerError::Decode { .. }));
        assert!(!odd.to_string().contains("hello"));
    }
}
