//! The one rule that keeps orders from being placed twice, for every broker: how each HTTP
//! exchange that did not end in a plain success is classified.
//!
//! Only a failure to connect proves that nothing was sent. Once a request that changes orders
//! ([`CallKind::changes_orders`]: place, modify, cancel) has left, every answer that is not a
//! definite refusal leaves its outcome unknown and becomes
//! [`BrokerError::OrderOutcomeUnknown`], which is never retryable; the caller looks the order
//! up by its tag. The same failures of a read are [`BrokerError::Connectivity`] (retryable)
//! or [`BrokerError::Decode`].
//!
//! | what came back | order call | read |
//! |---|---|---|
//! | no connection | `Connectivity` (retryable) | `Connectivity` |
//! | timeout, connection lost | `OrderOutcomeUnknown` | `Connectivity` |
//! | 429, or a rate-limit page | `RateLimited` | `RateLimited` |
//! | the firewall's block page, an empty 400 | `RequestBlocked` | `RequestBlocked` |
//! | other 4xx that is not the broker's JSON | `RequestBlocked` | `RequestBlocked` |
//! | 5xx that is not the broker's JSON | `OrderOutcomeUnknown` | `Connectivity` |
//! | 2xx or 3xx that cannot be read, a body over the limit | `OrderOutcomeUnknown` | `Decode` |
//! | the broker's error, a definite refusal | `OrderRejected` | `Broker` |
//! | the broker's error, an internal failure | `OrderOutcomeUnknown` | `Connectivity` |
//!
//! A 4xx answer means the request was refused before it was executed, whoever sent it; a 5xx
//! from a gateway may come after the broker executed the order. Broker crates map their own
//! error codes first (session expired, IP not whitelisted, credentials), which are definite
//! whatever the call; everything else goes through the functions here.

use std::time::Duration;

use crate::{BrokerError, ConnectivityKind};

/// The most bytes read from an API answer (an order book of a busy account fits many times).
pub const MAX_API_ANSWER_BYTES: usize = 8 << 20;

/// The most bytes read from an instrument master download (Angel One's is about 40 MB).
pub const MAX_INSTRUMENT_MASTER_BYTES: usize = 256 << 20;

/// What a call does, which decides how its failures are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallKind {
    /// Login, token refresh or exchange, logout: repeating it cannot touch an order.
    Session,
    /// A read (profile, funds, books, quotes, instruments): safe to repeat.
    Read,
    /// Placing an order: repeating it could place it twice.
    PlaceOrder,
    /// Modifying an open order: repeating it could apply a change twice.
    ModifyOrder,
    /// Cancelling an open order.
    CancelOrder,
}

impl CallKind {
    /// Whether the call places, modifies or cancels an order.
    pub fn changes_orders(self) -> bool {
        matches!(
            self,
            Self::PlaceOrder | Self::ModifyOrder | Self::CancelOrder
        )
    }
}

/// A request that got no HTTP answer (or whose answer broke off). `name` names the call in
/// the message.
///
/// The message carries the innermost cause (an I/O or TLS error), never the URL, which can
/// hold tokens in its query string.
#[cfg(feature = "http")]
pub fn no_answer(error: &reqwest::Error, call: CallKind, name: &str) -> BrokerError {
    let kind = if error.is_connect() {
        ConnectivityKind::Connect
    } else if error.is_timeout() {
        ConnectivityKind::Timeout
    } else {
        ConnectivityKind::Interrupted
    };
    failed_exchange(kind, error, call, name)
}

/// An exchange that failed with `error`, already known to be of `kind`.
#[cfg(feature = "http")]
pub(crate) fn failed_exchange(
    kind: ConnectivityKind,
    error: &(dyn std::error::Error + 'static),
    call: CallKind,
    name: &str,
) -> BrokerError {
    classify(
        kind,
        call,
        format!("{name}: {kind}{}", innermost_cause(error)),
    )
}

/// An exchange that outlived its timeout.
#[cfg(feature = "http")]
pub(crate) fn timed_out(call: CallKind, name: &str) -> BrokerError {
    let kind = ConnectivityKind::Timeout;
    classify(kind, call, format!("{name}: {kind}"))
}

/// An answer whose body is over `limit` bytes.
#[cfg(feature = "http")]
pub(crate) fn too_large(call: CallKind, status: u16, name: &str, limit: usize) -> BrokerError {
    unreadable_answer(
        call,
        status,
        name,
        &format!("the answer is larger than the {limit}-byte limit"),
    )
}

/// An answer that is not the broker's JSON envelope (an HTML page, plain text, an empty
/// body): see the table in the module docs. `body` is only inspected, never quoted.
pub fn unenveloped_answer(
    call: CallKind,
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
    name: &str,
) -> BrokerError {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]).to_ascii_lowercase();
    let text = text.trim();
    if status == 429 || text.contains("exceeding access rate") || text.contains("too many requests")
    {
        return BrokerError::RateLimited {
            retry_after,
            message: format!("{name}: HTTP {status}, the broker's rate limit was exceeded"),
        };
    }
    if status >= 500 {
        return server_failure(status, call, name);
    }
    if text.starts_with('<') && text.contains("request rejected") {
        return BrokerError::RequestBlocked {
            status,
            message: format!(
                "{name}: the broker's web application firewall answered with its \"Request Rejected\" page; the request never reached the API"
            ),
        };
    }
    if (400..500).contains(&status) {
        let shape = if text.is_empty() {
            "an empty body".to_owned()
        } else {
            format!("{} bytes that are not the broker's JSON", body.len())
        };
        return BrokerError::RequestBlocked {
            status,
            message: format!(
                "{name}: HTTP {status} with {shape}; the request was refused before the API executed it"
            ),
        };
    }
    unreadable_answer(
        call,
        status,
        name,
        &format!(
            "HTTP {status} with a body that is not the broker's JSON ({} bytes)",
            body.len()
        ),
    )
}

/// An HTTP 5xx answer that carried no usable error of the broker's.
pub fn server_failure(status: u16, call: CallKind, name: &str) -> BrokerError {
    let kind = ConnectivityKind::ServerError { status };
    classify(kind, call, format!("{name}: {kind}"))
}

/// A successful (or redirecting) answer whose body could not be used: not JSON, a success
/// envelope without its `data`, or over the size limit. `detail` says what was wrong with it
/// and must not quote the body.
pub fn unreadable_answer(call: CallKind, status: u16, name: &str, detail: &str) -> BrokerError {
    if call.changes_orders() {
        return BrokerError::OrderOutcomeUnknown {
            kind: ConnectivityKind::UnreadableAnswer { status },
        };
    }
    BrokerError::Decode {
        message: format!("{name}: {detail}"),
    }
}

/// How sure an error the broker reported in its own format is that nothing was executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The broker refused the request (bad input, margin, market closed, ...): nothing was
    /// executed.
    Definite,
    /// The broker reported a failure of its own ("internal error", "something went wrong",
    /// a back-end timeout): the request may have been executed.
    Internal,
}

/// An error the broker reported in its own format that the broker crate did not map to a
/// more specific kind (session, IP, credentials, not found).
pub fn reported_error(
    call: CallKind,
    status: u16,
    refusal: Refusal,
    code: Option<String>,
    message: String,
) -> BrokerError {
    match (call.changes_orders(), refusal) {
        (true, Refusal::Definite) => BrokerError::OrderRejected { code, message },
        (true, Refusal::Internal) => BrokerError::OrderOutcomeUnknown {
            kind: ConnectivityKind::BrokerInternal { status },
        },
        (false, Refusal::Internal) => BrokerError::Connectivity {
            kind: ConnectivityKind::BrokerInternal { status },
            message,
        },
        (false, Refusal::Definite) => BrokerError::Broker {
            code,
            message,
            status: Some(status),
        },
    }
}

/// Reads an answer's body, refusing one over `limit` bytes (by its `Content-Length` before
/// reading, or as soon as the streamed body passes it). A body that breaks off is treated as
/// a lost answer.
///
/// # Errors
/// As [`no_answer`] for a body that breaks off, as [`unreadable_answer`] for one over the
/// limit.
#[cfg(feature = "http")]
pub async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
    call: CallKind,
    name: &str,
) -> Result<Vec<u8>, BrokerError> {
    let status = response.status().as_u16();
    let announced = response.content_length().unwrap_or(0);
    if announced > limit as u64 {
        return Err(too_large(call, status, name, limit));
    }
    let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| no_answer(&error, call, name))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large(call, status, name, limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn classify(kind: ConnectivityKind, call: CallKind, message: String) -> BrokerError {
    if call.changes_orders() && kind != ConnectivityKind::Connect {
        BrokerError::OrderOutcomeUnknown { kind }
    } else {
        BrokerError::Connectivity { kind, message }
    }
}

#[cfg(feature = "http")]
fn innermost_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error.source();
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
    use crate::PlacementOutcome;

    const ORDER_CALLS: [CallKind; 3] = [
        CallKind::PlaceOrder,
        CallKind::ModifyOrder,
        CallKind::CancelOrder,
    ];
    const SAFE_CALLS: [CallKind; 2] = [CallKind::Session, CallKind::Read];

    fn outcome(error: &BrokerError) -> PlacementOutcome {
        error.placement_outcome()
    }

    #[test]
    fn rate_limit_answers_are_safe_to_repeat_for_every_call() {
        for call in ORDER_CALLS.into_iter().chain(SAFE_CALLS) {
            for (status, body) in [
                (403, &b"Access denied because of exceeding access rate"[..]),
                (429, b""),
                (503, b"<html>Too Many Requests</html>"),
            ] {
                let error = unenveloped_answer(call, status, body, None, "x");
                assert!(
                    matches!(error, BrokerError::RateLimited { .. }),
                    "{call:?} {status}: {error:?}"
                );
                assert_eq!(outcome(&error), PlacementOutcome::NotPlaced);
            }
        }
    }

    #[test]
    fn firewall_pages_and_other_4xx_mean_nothing_was_executed() {
        let page = b"<html><head><title>Request Rejected</title></head></html>";
        for call in ORDER_CALLS.into_iter().chain(SAFE_CALLS) {
            for (status, body) in [
                (200, &page[..]),
                (403, &page[..]),
                (400, b""),
                (404, b"<html>not here</html>"),
            ] {
                let error = unenveloped_answer(call, status, body, None, "x");
                assert!(
                    matches!(error, BrokerError::RequestBlocked { .. }),
                    "{call:?} {status}: {error:?}"
                );
                assert_eq!(outcome(&error), PlacementOutcome::NotPlaced);
            }
        }
    }

    #[test]
    fn unreadable_2xx_3xx_and_5xx_leave_an_order_unknown_and_a_read_repeatable_or_undecodable() {
        for status in [200, 201, 302, 502, 504] {
            for call in ORDER_CALLS {
                let error = unenveloped_answer(call, status, b"<html>proxy</html>", None, "x");
                assert_eq!(outcome(&error), PlacementOutcome::Unknown, "{status}");
                assert!(!error.is_retryable());
            }
            let read = unenveloped_answer(CallKind::Read, status, b"hello", None, "x");
            if status >= 500 {
                assert!(read.is_retryable(), "{read:?}");
            } else {
                assert!(matches!(read, BrokerError::Decode { .. }), "{read:?}");
                assert!(!read.to_string().contains("hello"));
            }
        }
    }

    #[test]
    fn reported_errors_split_on_certainty_for_order_calls() {
        let definite = reported_error(
            CallKind::PlaceOrder,
            400,
            Refusal::Definite,
            Some("AB4008".into()),
            "ordertag too long".into(),
        );
        assert_eq!(
            definite,
            BrokerError::OrderRejected {
                code: Some("AB4008".into()),
                message: "ordertag too long".into()
            }
        );
        let internal = reported_error(
            CallKind::CancelOrder,
            200,
            Refusal::Internal,
            Some("AB1004".into()),
            "Something Went Wrong".into(),
        );
        assert_eq!(outcome(&internal), PlacementOutcome::Unknown);
        let read = reported_error(
            CallKind::Read,
            503,
            Refusal::Internal,
            None,
            "OMS down".into(),
        );
        assert!(read.is_retryable());
        let read = reported_error(
            CallKind::Read,
            400,
            Refusal::Definite,
            Some("InputException".into()),
            "bad".into(),
        );
        assert!(
            matches!(
                read,
                BrokerError::Broker {
                    status: Some(400),
                    ..
                }
            ) && !read.is_retryable()
        );
    }

    #[test]
    fn server_failures_on_orders_are_unknown_outcomes() {
        assert_eq!(
            server_failure(502, CallKind::CancelOrder, "cancel order"),
            BrokerError::OrderOutcomeUnknown {
                kind: ConnectivityKind::ServerError { status: 502 }
            }
        );
        assert!(server_failure(502, CallKind::Read, "positions").is_retryable());
        assert!(server_failure(502, CallKind::Session, "login").is_retryable());
    }

    #[cfg(feature = "http")]
    mod over_http {
        use super::*;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
            for call in ORDER_CALLS.into_iter().chain(SAFE_CALLS) {
                let classified = no_answer(&error, call, "place order");
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
            let order = no_answer(&error, CallKind::PlaceOrder, "place order");
            assert_eq!(
                order,
                BrokerError::OrderOutcomeUnknown {
                    kind: ConnectivityKind::Timeout
                }
            );
            assert!(!order.is_retryable());
            let read = no_answer(&error, CallKind::Read, "order book");
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
            let text = no_answer(&error, CallKind::Session, "logout").to_string();
            assert!(
                !text.contains("SECRETTOKEN") && !text.contains("access_token"),
                "{text}"
            );
            assert!(
                text.starts_with("connectivity: could not connect: logout"),
                "{text}"
            );
        }

        /// Serves one answer: a header block, then `body_len` bytes as fast as possible.
        async fn serve_large(content_length: Option<usize>, body_len: usize) -> String {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(async move {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buffer = [0u8; 1024];
                let _ = socket.read(&mut buffer).await;
                let length = content_length
                    .map(|length| format!("content-length: {length}\r\n"))
                    .unwrap_or_default();
                let head = format!("HTTP/1.1 200 OK\r\n{length}connection: close\r\n\r\n");
                let _ = socket.write_all(head.as_bytes()).await;
                let chunk = vec![b'x'; 64 * 1024];
                let mut sent = 0;
                while sent < body_len {
                    if socket.write_all(&chunk).await.is_err() {
                        return;
                    }
                    sent += chunk.len();
                }
            });
            format!("http://{address}/")
        }

        #[tokio::test]
        async fn bodies_over_the_limit_are_refused_whether_announced_or_streamed() {
            let client = reqwest::Client::new();
            for content_length in [Some(10 << 20), None] {
                let url = serve_large(content_length, 10 << 20).await;
                let response = client.get(&url).send().await.unwrap();
                let error = read_body(response, 1 << 20, CallKind::PlaceOrder, "place order")
                    .await
                    .unwrap_err();
                assert_eq!(error.placement_outcome(), PlacementOutcome::Unknown);
                let url = serve_large(content_length, 10 << 20).await;
                let response = client.get(&url).send().await.unwrap();
                let error = read_body(response, 1 << 20, CallKind::Read, "order book")
                    .await
                    .unwrap_err();
                assert!(
                    matches!(error, BrokerError::Decode { ref message } if message.contains("limit")),
                    "{error:?}"
                );
            }
            let url = serve_large(Some(64 * 1024), 64 * 1024).await;
            let response = client.get(&url).send().await.unwrap();
            let body = read_body(response, 1 << 20, CallKind::Read, "x")
                .await
                .unwrap();
            assert_eq!(body.len(), 64 * 1024);
        }
    }
}
