//! The one error type every broker operation returns.
//!
//! Callers decide what to do from the variant, never from message text: re-login on
//! [`BrokerError::SessionExpired`], fix the account on [`BrokerError::IpNotWhitelisted`],
//! reconcile by tag on [`BrokerError::OrderOutcomeUnknown`], and retry only when
//! [`BrokerError::is_retryable`] says so.
//!
//! No variant ever carries a secret or a raw response body: messages are the broker's short
//! error text or our own wording.

use std::net::IpAddr;
use std::time::Duration;

use crate::validation::ValidationError;
use crate::{BrokerKind, OrderId};

/// Why a request did not reach the broker or did not come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectivityKind {
    /// No connection could be made (refused, unreachable, DNS, TLS handshake).
    Connect,
    /// The request was sent but no answer came within the timeout.
    Timeout,
    /// The connection failed mid-exchange, after some of the request may have been sent.
    Interrupted,
    /// The broker answered with an HTTP 5xx status.
    ServerError {
        /// The HTTP status code.
        status: u16,
    },
    /// The broker answered with a success status whose body could not be read.
    UnreadableAnswer {
        /// The HTTP status code.
        status: u16,
    },
}

impl std::fmt::Display for ConnectivityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect => f.write_str("could not connect"),
            Self::Timeout => f.write_str("timed out"),
            Self::Interrupted => f.write_str("connection lost mid-request"),
            Self::ServerError { status } => write!(f, "server error (HTTP {status})"),
            Self::UnreadableAnswer { status } => write!(f, "unreadable answer (HTTP {status})"),
        }
    }
}

/// Everything that can go wrong talking to a broker.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// The session token is missing, expired or was revoked: log in again, then repeat.
    #[error("session expired: {message}")]
    SessionExpired {
        /// The broker's explanation.
        message: String,
    },

    /// The broker refused the account's credentials (API key, client code, MPIN or secret).
    #[error("invalid credentials: {message}")]
    InvalidCredentials {
        /// What was wrong, in words that never contain the credential itself.
        message: String,
    },

    /// The broker refused the TOTP code (wrong secret or a clock out of step).
    #[error("invalid TOTP: {message}")]
    InvalidTotp {
        /// The broker's explanation.
        message: String,
    },

    /// The request came from an address the account has not registered with the broker.
    #[error(
        "IP not whitelisted: the broker refused a request from {}; register this address for the account at the broker ({message})",
        ip.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string())
    )]
    IpNotWhitelisted {
        /// The egress address the request left from, when known.
        ip: Option<IpAddr>,
        /// The broker's explanation.
        message: String,
    },

    /// The broker (or our own limiter) refused the request for going too fast. The request was
    /// not executed, so repeating it after the delay is safe.
    #[error("rate limited{}: {message}", retry_after.map(|d| format!(" (retry after {} ms)", d.as_millis())).unwrap_or_default())]
    RateLimited {
        /// How long to wait before the next attempt, when known.
        retry_after: Option<Duration>,
        /// Where the limit was hit.
        message: String,
    },

    /// The broker received the order request and refused it.
    #[error("order rejected{}: {message}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    OrderRejected {
        /// The broker's error code, when it gave one.
        code: Option<String>,
        /// The broker's reason.
        message: String,
    },

    /// The broker does not know the order id.
    #[error("order {order_id} not found")]
    OrderNotFound {
        /// The id that was asked for.
        order_id: OrderId,
    },

    /// An order request was sent and no reliable answer came back: the order may or may not
    /// exist at the broker. Never repeat it; look it up by its tag in the order book.
    #[error("order outcome unknown ({kind}): look the order up by its tag before placing it again")]
    OrderOutcomeUnknown {
        /// What interrupted the exchange.
        kind: ConnectivityKind,
    },

    /// The request was refused before anything was sent.
    #[error(transparent)]
    Validation(#[from] ValidationError),

    /// The broker could not be reached, or failed, on a request that is safe to repeat.
    #[error("connectivity: {kind}: {message}")]
    Connectivity {
        /// What went wrong.
        kind: ConnectivityKind,
        /// Details (never a response body).
        message: String,
    },

    /// The broker's firewall refused the request with an HTML page or an empty body, before
    /// the API saw it.
    #[error("request blocked by the broker's firewall (HTTP {status}): {message}")]
    RequestBlocked {
        /// The HTTP status code.
        status: u16,
        /// What the answer looked like.
        message: String,
    },

    /// The broker's answer could not be understood.
    #[error("could not decode the broker's answer: {message}")]
    Decode {
        /// What was wrong with it (never the body itself).
        message: String,
    },

    /// The broker does not offer this operation.
    #[error("{broker} does not support {operation}")]
    Unsupported {
        /// Which broker.
        broker: BrokerKind,
        /// The operation asked for.
        operation: &'static str,
    },

    /// Any other error the broker reported, kept as it came.
    #[error("broker error{}{}: {message}",
        code.as_ref().map(|c| format!(" {c}")).unwrap_or_default(),
        status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Broker {
        /// The broker's error code or error type.
        code: Option<String>,
        /// The broker's message.
        message: String,
        /// The HTTP status, when there was one.
        status: Option<u16>,
    },
}

impl BrokerError {
    /// Whether repeating the same call unchanged may succeed without risking a duplicate order.
    ///
    /// True only for rate limiting and for connectivity failures, which broker clients report
    /// only for requests that are safe to repeat. Anything that could have placed, modified or
    /// cancelled an order ([`BrokerError::OrderOutcomeUnknown`]) is never retryable, and neither
    /// is anything that needs a change first (credentials, whitelisting, validation).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Connectivity { .. })
    }

    /// Whether a fresh login would cure this error.
    pub fn needs_login(&self) -> bool {
        matches!(self, Self::SessionExpired { .. })
    }

    /// How long to wait before retrying, when the broker said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The result type of every broker operation.
pub type Result<T, E = BrokerError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<(BrokerError, bool)> {
        vec![
            (
                BrokerError::SessionExpired {
                    message: "Invalid Token".into(),
                },
                false,
            ),
            (
                BrokerError::InvalidCredentials {
                    message: "bad".into(),
                },
                false,
            ),
            (
                BrokerError::InvalidTotp {
                    message: "Invalid totp".into(),
                },
                false,
            ),
            (
                BrokerError::IpNotWhitelisted {
                    ip: None,
                    message: "AG7002".into(),
                },
                false,
            ),
            (
                BrokerError::RateLimited {
                    retry_after: None,
                    message: "429".into(),
                },
                true,
            ),
            (
                BrokerError::OrderRejected {
                    code: None,
                    message: "margin".into(),
                },
                false,
            ),
            (
                BrokerError::OrderNotFound {
                    order_id: OrderId::from("1"),
                },
                false,
            ),
            (
                BrokerError::OrderOutcomeUnknown {
                    kind: ConnectivityKind::Timeout,
                },
                false,
            ),
            (
                BrokerError::OrderOutcomeUnknown {
                    kind: ConnectivityKind::ServerError { status: 502 },
                },
                false,
            ),
            (
                BrokerError::Validation(ValidationError::ZeroQuantity),
                false,
            ),
            (
                BrokerError::Connectivity {
                    kind: ConnectivityKind::Connect,
                    message: "refused".into(),
                },
                true,
            ),
            (
                BrokerError::Connectivity {
                    kind: ConnectivityKind::Timeout,
                    message: "30 s".into(),
                },
                true,
            ),
            (
                BrokerError::RequestBlocked {
                    status: 400,
                    message: "empty body".into(),
                },
                false,
            ),
            (
                BrokerError::Decode {
                    message: "missing field".into(),
                },
                false,
            ),
            (
                BrokerError::Unsupported {
                    broker: BrokerKind::Paper,
                    operation: "convert",
                },
                false,
            ),
            (
                BrokerError::Broker {
                    code: None,
                    message: "?".into(),
                    status: Some(500),
                },
                false,
            ),
        ]
    }

    #[test]
    fn only_rate_limits_and_safe_connectivity_failures_are_retryable() {
        for (error, retryable) in every_kind() {
            assert_eq!(error.is_retryable(), retryable, "{error:?}");
        }
    }

    #[test]
    fn only_an_expired_session_needs_login() {
        for (error, _) in every_kind() {
            assert_eq!(
                error.needs_login(),
                matches!(error, BrokerError::SessionExpired { .. })
            );
        }
    }

    #[test]
    fn ip_not_whitelisted_names_the_address() {
        let error = BrokerError::IpNotWhitelisted {
            ip: Some("127.0.0.2".parse().unwrap()),
            message: "Unregistered IP address".into(),
        };
        assert!(error.to_string().contains("127.0.0.2"), "{error}");
    }

    #[test]
    fn rate_limited_reports_retry_after() {
        let error = BrokerError::RateLimited {
            retry_after: Some(Duration::from_millis(250)),
            message: "orders".into(),
        };
        assert_eq!(error.retry_after(), Some(Duration::from_millis(250)));
        assert!(error.to_string().contains("250 ms"));
    }

    #[test]
    fn errors_are_send_sync_static() {
        fn assert_bounds<E: std::error::Error + Send + Sync + 'static>() {}
        assert_bounds::<BrokerError>();
    }
}
