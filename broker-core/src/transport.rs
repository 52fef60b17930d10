//! Classifying failed HTTP exchanges, the same way for every broker.
//!
//! The rule that keeps orders from being placed twice lives here: only a failure to connect
//! proves that nothing was sent. Any other failure of a call that changes orders (place,
//! modify, cancel), whether a timeout, a connection cut mid-exchange, an HTTP 5xx or a 2xx
//! whose body cannot be read, leaves its outcome unknown and becomes
//! [`BrokerError::OrderOutcomeUnknown`], which is never retryable. The same failures of a
//! read-only call are [`BrokerError::Connectivity`], which is.

use crate::{BrokerError, ConnectivityKind};

/// Classifies a request that got no HTTP answer. `call` names it in the message.
///
/// The message carries the innermost cause (an I/O or TLS error), never the URL, which can
/// hold tokens in its query string.
pub fn transport_failure(error: &reqwest::Error, changes_orders: bool, call: &str) -> BrokerError {
    let kind = if error.is_connect() {
        ConnectivityKind::Connect
    } else if error.is_timeout() {
        ConnectivityKind::Timeout
    } else {
        ConnectivityKind::Interrupted
    };
    classify(
        kind,
        changes_orders,
        format!("{call}: {kind}{}", innermost_cause(error)),
    )
}

/// Classifies an HTTP 5xx answer that carried no usable error of the broker's.
pub fn server_failure(status: u16, changes_orders: bool, call: &str) -> BrokerError {
    let kind = ConnectivityKind::ServerError { status };
    classify(kind, changes_orders, format!("{call}: {kind}"))
}

/// Classifies a successful HTTP status whose body could not be read. `detail` says what was
/// wrong with it and must not quote the body.
pub fn unreadable_answer(
    status: u16,
    changes_orders: bool,
    call: &str,
    detail: &str,
) -> BrokerError {
    if changes_orders {
        return BrokerError::OrderOutcomeUnknown {
            kind: ConnectivityKind::UnreadableAnswer { status },
        };
    }
    BrokerError::Decode {
        message: format!("{call}: {detail}"),
    }
}

fn classify(kind: ConnectivityKind, changes_orders: bool, message: String) -> BrokerError {
    if changes_orders && kind != ConnectivityKind::Connect {
        BrokerError::OrderOutcomeUnknown { kind }
    } else {
        BrokerError::Connectivity { kind, message }
    }
}

fn innermost_cause(error: &reqwest::Error) -> String {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    let mut innermost = None;
    while let Some(current) = cause {
        innermost = Some(current);
        cause = current.source();
    }
    innermost
        .map(|cause| format!(" ({cause})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A failed request to a port nobody listens on, or to a server that never answers.
    async fn failed_request(hang: bool) -> reqwest::Error {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = if hang {
            Some(tokio::spawn(async move {
                let (socket, _) = listener.accept().await.unwrap();
                tokio::time::sleep(Duration::from_secs(5)).await;
                drop(socket);
            }))
        } else {
            drop(listener);
            None
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let error = client
            .get(format!(
                "http://{address}/session/token?access_token=SECRETTOKEN"
            ))
            .send()
            .await
            .unwrap_err();
        if let Some(server) = server {
            server.abort();
        }
        error
    }

    #[tokio::test]
    async fn a_refused_connection_is_retryable_even_for_orders() {
        let error = failed_request(false).await;
        for changes_orders in [false, true] {
            let classified = transport_failure(&error, changes_orders, "place order");
            assert!(
                matches!(
                    classified,
                    BrokerError::Connectivity {
                        kind: ConnectivityKind::Connect,
                        ..
                    }
                ),
                "{classified:?}"
            );
            assert!(classified.is_retryable());
        }
    }

    #[tokio::test]
    async fn a_timeout_leaves_an_order_outcome_unknown_but_a_read_retryable() {
        let error = failed_request(true).await;
        let order = transport_failure(&error, true, "place order");
        assert_eq!(
            order,
            BrokerError::OrderOutcomeUnknown {
                kind: ConnectivityKind::Timeout
            }
        );
        assert!(!order.is_retryable());
        let read = transport_failure(&error, false, "order book");
        assert!(matches!(
            read,
            BrokerError::Connectivity {
                kind: ConnectivityKind::Timeout,
                ..
            }
        ));
        assert!(read.is_retryable());
    }

    #[tokio::test]
    async fn messages_never_carry_the_url() {
        let error = failed_request(false).await;
        let text = transport_failure(&error, false, "logout").to_string();
        assert!(
            !text.contains("SECRETTOKEN") && !text.contains("access_token"),
            "{text}"
        );
        assert!(
            text.starts_with("connectivity: could not connect: logout"),
            "{text}"
        );
    }

    #[test]
    fn server_errors_on_orders_are_unknown_outcomes() {
        assert_eq!(
            server_failure(502, true, "cancel order"),
            BrokerError::OrderOutcomeUnknown {
                kind: ConnectivityKind::ServerError { status: 502 }
            }
        );
        assert!(server_failure(502, false, "positions").is_retryable());
    }

    #[test]
    fn unreadable_answers_to_orders_are_unknown_outcomes_and_to_reads_decode_errors() {
        assert_eq!(
            unreadable_answer(200, true, "place order", "not JSON"),
            BrokerError::OrderOutcomeUnknown {
                kind: ConnectivityKind::UnreadableAnswer { status: 200 }
            }
        );
        let read = unreadable_answer(200, false, "holdings", "missing field `data`");
        assert!(matches!(read, BrokerError::Decode { .. }) && !read.is_retryable());
    }
}
