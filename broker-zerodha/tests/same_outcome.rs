//! The same wire situations give the same outcome in both broker crates: this crate's real
//! client, driven through `Broker::place_order`, `cancel_order` and `orders`, against a
//! server answering each situation, gives the `placement_outcome()` and `kind()` of the
//! table below. broker-angelone's `tests/same_outcome.rs` holds the same table (the same case
//! names and expected outcomes; only how each situation is served differs by broker).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

mod common;

use std::time::Duration;

use broker_core::transport::MAX_API_ANSWER_BYTES;
use broker_core::{
    Broker, BrokerError, ErrorKind, HttpClientConfig, OrderId, PlacementOutcome, Variety,
};
use broker_zerodha::Zerodha;
use common::{credentials, kite_error, limit_buy, options, tokens};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use ErrorKind as K;
use PlacementOutcome::{NotPlaced, Rejected, Unknown};

/// Each wire situation: its name, the outcome and kind of an order call (place, cancel) that
/// met it, and the kind of a read (the order book) that met it.
const CASES: [(&str, PlacementOutcome, ErrorKind, ErrorKind); 18] = [
    (
        "refused_connection",
        NotPlaced,
        K::Connectivity,
        K::Connectivity,
    ),
    ("timeout", Unknown, K::OrderOutcomeUnknown, K::Connectivity),
    (
        "connection_cut_mid_answer",
        Unknown,
        K::OrderOutcomeUnknown,
        K::Connectivity,
    ),
    ("http_429", NotPlaced, K::RateLimited, K::RateLimited),
    (
        "broker_rate_limit_answer",
        NotPlaced,
        K::RateLimited,
        K::RateLimited,
    ),
    (
        "firewall_request_rejected_page",
        NotPlaced,
        K::RequestBlocked,
        K::RequestBlocked,
    ),
    ("empty_400", NotPlaced, K::RequestBlocked, K::RequestBlocked),
    (
        "other_non_json_4xx",
        NotPlaced,
        K::RequestBlocked,
        K::RequestBlocked,
    ),
    ("html_502", Unknown, K::OrderOutcomeUnknown, K::Connectivity),
    ("html_503", Unknown, K::OrderOutcomeUnknown, K::Connectivity),
    ("html_504", Unknown, K::OrderOutcomeUnknown, K::Connectivity),
    ("unreadable_200", Unknown, K::OrderOutcomeUnknown, K::Decode),
    (
        "success_without_data",
        Unknown,
        K::OrderOutcomeUnknown,
        K::Decode,
    ),
    (
        "body_over_size_limit",
        Unknown,
        K::OrderOutcomeUnknown,
        K::Decode,
    ),
    (
        "broker_definite_refusal",
        Rejected,
        K::OrderRejected,
        K::Broker,
    ),
    (
        "broker_internal_error",
        Unknown,
        K::OrderOutcomeUnknown,
        K::Connectivity,
    ),
    (
        "session_expired",
        NotPlaced,
        K::SessionExpired,
        K::SessionExpired,
    ),
    (
        "ip_not_whitelisted",
        NotPlaced,
        K::IpNotWhitelisted,
        K::IpNotWhitelisted,
    ),
];

/// How long the client waits for an answer in these tests.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(400);

fn html(status: u16, page: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(page.to_owned(), "text/html")
}

/// Kite's (or its gateway's) answer in each situation that has one.
fn answer(case: &str) -> ResponseTemplate {
    match case {
        "timeout" => ResponseTemplate::new(200)
            .set_body_raw(
                r#"{"status":"success","data":{"order_id":"1"}}"#,
                "application/json",
            )
            .set_delay(REQUEST_TIMEOUT * 5),
        "http_429" => ResponseTemplate::new(429),
        "broker_rate_limit_answer" => kite_error(429, "NetworkException", "Too many requests"),
        "firewall_request_rejected_page" => html(
            403,
            "<html><head><title>Request Rejected</title></head><body>The requested URL was rejected.</body></html>",
        ),
        "empty_400" => ResponseTemplate::new(400),
        "other_non_json_4xx" => {
            ResponseTemplate::new(404).set_body_raw("404 page not found", "text/plain")
        }
        "html_502" => html(502, "<html><body><h1>502 Bad Gateway</h1></body></html>"),
        "html_503" => html(
            503,
            "<html><body><h1>503 Service Unavailable</h1></body></html>",
        ),
        "html_504" => html(
            504,
            "<html><body><h1>504 Gateway Time-out</h1></body></html>",
        ),
        "unreadable_200" => {
            ResponseTemplate::new(200).set_body_raw(r#"{"status":"succ"#, "application/json")
        }
        "success_without_data" => {
            ResponseTemplate::new(200).set_body_raw(r#"{"status":"success"}"#, "application/json")
        }
        "body_over_size_limit" => ResponseTemplate::new(200)
            .set_body_raw(" ".repeat(MAX_API_ANSWER_BYTES + 1), "application/json"),
        "broker_definite_refusal" => kite_error(
            400,
            "InputException",
            "Invalid `quantity`: the order was refused.",
        ),
        "broker_internal_error" => kite_error(
            503,
            "NetworkException",
            "Unable to reach the OMS. Please try again.",
        ),
        "session_expired" => kite_error(
            403,
            "TokenException",
            "Incorrect `api_key` or `access_token`.",
        ),
        "ip_not_whitelisted" => kite_error(
            403,
            "PermissionException",
            "IP (203.0.113.9) is not allowed to place orders for this app. Update allowed IPs on the Kite developer console.",
        ),
        other => panic!("no answer for {other}"),
    }
}

/// Where the situation is served; the servers live as long as the value.
enum Served {
    Mock(MockServer),
    Raw(String, tokio::task::JoinHandle<()>),
}

impl Served {
    fn url(&self) -> String {
        match self {
            Served::Mock(server) => server.uri(),
            Served::Raw(url, _) => url.clone(),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Served::Raw(_, task) = self {
            task.abort();
        }
    }
}

/// A port nobody listens on.
async fn refusing() -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    Served::Raw(url, tokio::spawn(async {}))
}

/// A server that starts a JSON answer and closes the connection half-way through it.
async fn cutting() -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buffer = [0u8; 8192];
                let _ = socket.read(&mut buffer).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"status\":\"success\",\"da";
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    Served::Raw(url, task)
}

async fn serve(case: &str) -> Served {
    match case {
        "refused_connection" => refusing().await,
        "connection_cut_mid_answer" => cutting().await,
        _ => {
            let server = MockServer::start().await;
            Mock::given(any())
                .respond_with(answer(case))
                .mount(&server)
                .await;
            Served::Mock(server)
        }
    }
}

fn broker_for(url: &str) -> Zerodha {
    let config = HttpClientConfig {
        request_timeout: REQUEST_TIMEOUT,
        ..HttpClientConfig::default()
    };
    Zerodha::connect(&credentials(), Some(tokens()), &options(url, config)).unwrap()
}

fn check(case: &str, call: &str, error: &BrokerError, outcome: PlacementOutcome, kind: ErrorKind) {
    assert_eq!(
        (error.placement_outcome(), error.kind()),
        (outcome, kind),
        "{case}, {call}: {error:?}"
    );
}

#[tokio::test]
async fn every_wire_situation_gives_the_agreed_outcome_for_orders_and_reads() {
    for (case, outcome, order_kind, read_kind) in CASES {
        let served = serve(case).await;
        let url = served.url();

        let placed = broker_for(&url)
            .place_order(&limit_buy())
            .await
            .unwrap_err();
        check(case, "place_order", &placed, outcome, order_kind);

        let cancelled = broker_for(&url)
            .cancel_order(&OrderId::new("261202000118734"), Variety::Regular)
            .await
            .unwrap_err();
        check(case, "cancel_order", &cancelled, outcome, order_kind);

        let read = broker_for(&url).orders().await.unwrap_err();
        check(case, "orders", &read, NotPlaced, read_kind);
        assert_eq!(
            read.is_retryable(),
            matches!(read_kind, K::Connectivity | K::RateLimited),
            "{case}: {read:?}"
        );
        assert!(
            !placed.is_retryable() || outcome == NotPlaced,
            "{case}: {placed:?}"
        );
    }
}
