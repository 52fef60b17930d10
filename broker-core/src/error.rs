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

use serde::{Deserialize, Serialize};

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
    /// The broker answered with a status and body that do not say whether the request was
    /// executed (a success whose body cannot be read, a body over the size limit, a redirect).
    UnreadableAnswer {
        /// The HTTP status code.
        status: u16,
    },
    /// The broker answered in its own format that something went wrong on its side, without
    /// saying whether the request was executed.
    BrokerInternal {
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
            Self::BrokerInternal { status } => {
                write!(f, "the broker reported an internal error (HTTP {status})")
            }
        }
    }
}

/// Whether an order call that failed may have left an order at the broker: the one rule the
/// journal, the worker and the metrics decide by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlacementOutcome {
    /// Nothing reached the broker's order system: no order exists, and sending it again
    /// (after fixing what the error names) cannot duplicate one.
    NotPlaced,
    /// The broker received the order and refused it: no order is working.
    Rejected,
    /// The order may or may not exist: look it up by its tag before sending it again.
    Unknown,
}

impl PlacementOutcome {
    /// The stable name used in journals and metrics (`not_placed`, `rejected`, `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotPlaced => "not_placed",
            Self::Rejected => "rejected",
            Self::Unknown => "unknown",
        }
    }
}

/// The kind of a [`BrokerError`], without its details: a stable name for journals, metrics
/// and API answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`BrokerError::SessionExpired`].
    SessionExpired,
    /// [`BrokerError::InvalidCredentials`].
    InvalidCredentials,
    /// [`BrokerError::InvalidTotp`].
    InvalidTotp,
    /// [`BrokerError::IpNotWhitelisted`].
    IpNotWhitelisted,
    /// [`BrokerError::RateLimited`].
    RateLimited,
    /// [`BrokerError::OrderRejected`].
    OrderRejected,
    /// [`BrokerError::OrderNotFound`].
    OrderNotFound,
    /// [`BrokerError::OrderOutcomeUnknown`].
    OrderOutcomeUnknown,
    /// [`BrokerError::Validation`].
    Validation,
    /// [`BrokerError::Connectivity`].
    Connectivity,
    /// [`BrokerError::RequestBlocked`].
    RequestBlocked,
    /// [`BrokerError::Decode`].
    Decode,
    /// [`BrokerError::Unsupported`].
    Unsupported,
    /// [`BrokerError::Broker`].
    Broker,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 14] = [
        Self::SessionExpired,
        Self::InvalidCredentials,
        Self::InvalidTotp,
        Self::IpNotWhitelisted,
        Self::RateLimited,
        Self::OrderRejected,
        Self::OrderNotFound,
        Self::OrderOutcomeUnknown,
        Self::Validation,
        Self::Connectivity,
        Self::RequestBlocked,
        Self::Decode,
        Self::Unsupported,
        Self::Broker,
    ];

    /// The stable snake_case name (the same as its serde form).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SessionExpired => "session_expired",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidTotp => "invalid_totp",
            Self::IpNotWhitelisted => "ip_not_whitelisted",
            Self::RateLimited => "rate_limited",
            Self::OrderRejected => "order_rejected",
            Self::OrderNotFound => "order_not_found",
            Self::OrderOutcomeUnknown => "order_outcome_unknown",
            Self::Validation => "validation",
            Self::Connectivity => "connectivity",
            Self::RequestBlocked => "request_blocked",
            Self::Decode => "decode",
            Self::Unsupported => "unsupported",
            Self::Broker => "broker",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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

    /// The error's kind: a stable name for journals and metrics.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::SessionExpired { .. } => ErrorKind::SessionExpired,
            Self::InvalidCredentials { .. } => ErrorKind::InvalidCredentials,
            Self::InvalidTotp { .. } => ErrorKind::InvalidTotp,
            Self::IpNotWhitelisted { .. } => ErrorKind::IpNotWhitelisted,
            Self::RateLimited { .. } => ErrorKind::RateLimited,
            Self::OrderRejected { .. } => ErrorKind::OrderRejected,
            Self::OrderNotFound { .. } => ErrorKind::OrderNotFound,
            Self::OrderOutcomeUnknown { .. } => ErrorKind::OrderOutcomeUnknown,
            Self::Validation(_) => ErrorKind::Validation,
            Self::Connectivity { .. } => ErrorKind::Connectivity,
            Self::RequestBlocked { .. } => ErrorKind::RequestBlocked,
            Self::Decode { .. } => ErrorKind::Decode,
            Self::Unsupported { .. } => ErrorKind::Unsupported,
            Self::Broker { .. } => ErrorKind::Broker,
        }
    }

    /// Whether the failed order call this error answered may have left an order at the
    /// broker. Broker clients report every ambiguous failure of an order call as
    /// [`BrokerError::OrderOutcomeUnknown`] (see [`crate::transport`]), so every other error
    /// proves that no order was created.
    pub fn placement_outcome(&self) -> PlacementOutcome {
        match self {
            Self::OrderOutcomeUnknown { .. } => PlacementOutcome::Unknown,
            Self::OrderRejected { .. } => PlacementOutcome::Rejected,
            Self::SessionExpired { .. }
            | Self::InvalidCredentials { .. }
            | Self::InvalidTotp { .. }
            | Self::IpNotWhitelisted { .. }
            | Self::RateLimited { .. }
            | Self::OrderNotFound { .. }
            | Self::Validation(_)
            | Self::Connectivity { .. }
            | Self::RequestBlocked { .. }
            | Self::Decode { .. }
            | Self::Unsupported { .. }
            | Self::Broker { .. } => PlacementOutcome::NotPlaced,
        }
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

    /// Every variant, with whether it is retryable.
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
                BrokerError::OrderOutcomeUnknown {
                    kind: ConnectivityKind::BrokerInternal { status: 200 },
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
    fn every_variant_has_its_own_stable_kind_name() {
        let errors = every_kind();
        let mut kinds: Vec<ErrorKind> = errors.iter().map(|(error, _)| error.kind()).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds, ErrorKind::ALL.to_vec(), "every kind is produced");
        for kind in ErrorKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<ErrorKind>(&json).unwrap(), kind);
        }
        assert_eq!(
            BrokerError::OrderOutcomeUnknown {
                kind: ConnectivityKind::Timeout
            }
            .kind()
            .as_str(),
            "order_outcome_unknown"
        );
    }

    #[test]
    fn only_an_unknown_outcome_may_have_left_an_order_and_only_a_rejection_is_rejected() {
        for (error, _) in every_kind() {
            let expected = match error {
                BrokerError::OrderOutcomeUnknown { .. } => PlacementOutcome::Unknown,
                BrokerError::OrderRejected { .. } => PlacementOutcome::Rejected,
                _ => PlacementOutcome::NotPlaced,
            };
            assert_eq!(error.placement_outcome(), expected, "{error:?}");
            // Nothing that may have placed an order is ever retryable.
            if error.placement_outcome() == PlacementOutcome::Unknown {
                assert!(!error.is_retryable(), "{error:?}");
            }
        }
        let names: Vec<&str> = [
            PlacementOutcome::NotPlaced,
            PlacementOutcome::Rejected,
            PlacementOutcome::Unknown,
        ]
        .iter()
        .map(|outcome| outcome.as_str())
        .collect();
        assert_eq!(names, ["not_placed", "rejected", "unknown"]);
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
