//! The same wire situations give the same outcome at both brokers.
//!
//! `AngelOne` (its real client, through `Broker::place_order`, `cancel_order` and `orders`)
//! faces a mock SmartAPI answering each situation in the case table, and every error's
//! `placement_outcome()` and `kind()` must be the table's. broker-zerodha has the same table
//! (same case names, same expected outcomes) against a mock Kite: the rule is
//! `broker_core::transport`'s, and neither crate may drift from it.

#![allow(clippy::unwrap_used)] // a test file: a failure should fail the test loudly

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use broker_angelone::AngelOne;
use broker_angelone::Endpoint;
use broker_core::{
    AngelOneCredentials, Broker, BrokerError, ConnectOptions, EgressBinding, ErrorKind, Exchange,
    HttpClientConfig, Instrument, InstrumentIndex, InstrumentKind, InstrumentRef, OrderId,
    OrderRequest, OrderType, PlacementOutcome, Product, RateLimiter, SessionTokens,
    SharedInstruments, Side, Variety,
};
use chrono::Utc;
use rust_decimal_macros::dec;
use secrecy::SecretString;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use PlacementOutcome::{NotPlaced, Rejected, Unknown};

use ErrorKind as K;

/// Each wire situation: its name, the outcome and kind of an order call (place, cancel) that
/// met it, and the kind of a read (the order book) that met it. The same table as
/// broker-zerodha's.
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

/// How long the client waits for an answer.
const TIMEOUT: Duration = Duration::from_millis(400);
const TOTP_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Place,
    Cancel,
    Orders,
    Funds,
}

impl Call {
    fn endpoint(self) -> Endpoint {
        match self {
            Call::Place => Endpoint::PlaceOrder,
            Call::Cancel => Endpoint::CancelOrder,
            Call::Orders => Endpoint::OrderBook,
            Call::Funds => Endpoint::Funds,
        }
    }
}

fn envelope_failure(code: &str, message: &str) -> serde_json::Value {
    json!({"status": false, "message": message, "errorcode": code, "data": null})
}

fn html(status: u16, page: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(page.to_owned(), "text/html")
}

/// SmartAPI's (or what stands in front of it) answer in each situation that has one.
fn answer(case: &str) -> ResponseTemplate {
    match case {
        "timeout" => ResponseTemplate::new(200)
            .set_body_json(json!({"status": true, "message": "SUCCESS", "errorcode": "", "data": []}))
            .set_delay(TIMEOUT * 5),
        "http_429" => ResponseTemplate::new(429),
        // SmartAPI's access-rate limiter: plain text in HTTP 403.
        "broker_rate_limit_answer" => ResponseTemplate::new(403)
            .set_body_raw("Access denied because of exceeding access rate", "text/plain"),
        "firewall_request_rejected_page" => html(
            403,
            "<html><head><title>Request Rejected</title></head><body>The requested URL was rejected.</body></html>",
        ),
        "empty_400" => ResponseTemplate::new(400),
        "other_non_json_4xx" => html(404, "<html><body><h1>404 Not Found</h1></body></html>"),
        "html_502" => html(502, "<html><body><h1>502 Bad Gateway</h1></body></html>"),
        "html_503" => html(
            503,
            "<html><body><h1>503 Service Unavailable</h1></body></html>",
        ),
        "html_504" => html(
            504,
            "<html><body><h1>504 Gateway Time-out</h1></body></html>",
        ),
        "unreadable_200" => html(200, "<html>a proxy's page</html>"),
        "success_without_data" => ResponseTemplate::new(200)
            .set_body_json(json!({"status": true, "message": "SUCCESS", "errorcode": "", "data": null})),
        "body_over_size_limit" => ResponseTemplate::new(200).set_body_string(
            " ".repeat(broker_core::transport::MAX_API_ANSWER_BYTES + 1),
        ),
        "broker_definite_refusal" => ResponseTemplate::new(200)
            .set_body_json(envelope_failure("AB1006", "Client is block for trading")),
        "broker_internal_error" => ResponseTemplate::new(200).set_body_json(envelope_failure(
            "AB2001",
            "Internal Error, Please try after sometime",
        )),
        // The gateway's AG8001, inside HTTP 200.
        "session_expired" => ResponseTemplate::new(200).set_body_json(
            json!({"success": false, "message": "Invalid Token", "errorCode": "AG8001", "data": ""}),
        ),
        "ip_not_whitelisted" => ResponseTemplate::new(403).set_body_json(json!({
            "success": false,
            "message": "Access denied: Unregistered IP address. Register your IP before retrying.",
            "errorCode": "AG7002", "data": ""
        })),
        other => panic!("no answer for {other}"),
    }
}

/// A server that starts each answer and cuts the connection halfway through it.
async fn cutting_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 8192];
            let _ = socket.read(&mut request).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 200\r\n\r\n{\"status\":true,")
                .await;
            drop(socket);
        }
    });
    address
}

fn instruments() -> SharedInstruments {
    let mut index = InstrumentIndex::new();
    index.insert(Instrument {
        exchange: Exchange::Nse,
        trading_symbol: "SBIN-EQ".into(),
        broker_token: "3045".into(),
        exchange_token: "3045".into(),
        name: "SBIN".into(),
        kind: InstrumentKind::Equity,
        lot_size: 1,
        tick_size: dec!(0.05),
        expiry: None,
        strike: None,
    });
    SharedInstruments::new(index)
}

fn broker(api_url: &str) -> AngelOne {
    let http = HttpClientConfig {
        request_timeout: TIMEOUT,
        connect_timeout: TIMEOUT,
        ..HttpClientConfig::bound_to(EgressBinding::direct("127.0.0.1".parse().unwrap()))
    }
    .allow_plain_http()
    .build()
    .unwrap();
    let options = ConnectOptions::new(http)
        .with_api_url(api_url)
        .with_instruments(instruments())
        // The table is about answers, not pacing.
        .with_rate_limiter(Arc::new(RateLimiter::new([])));
    let credentials = AngelOneCredentials::new(
        SecretString::from("sameKEY1"),
        "A1234",
        SecretString::from("4321"),
        SecretString::from(TOTP_SECRET),
    )
    .unwrap();
    let tokens = SessionTokens::new(
        SecretString::from("eyJstored"),
        Utc::now() + chrono::Duration::hours(1),
    )
    .unwrap();
    AngelOne::connect(credentials, Some(tokens), &options).unwrap()
}

fn order() -> OrderRequest {
    OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN-EQ"))
        .side(Side::Buy)
        .order_type(OrderType::Limit)
        .product(Product::Delivery)
        .quantity(1)
        .price(dec!(801.05))
        .tag("sameoutcome1")
        .build()
        .unwrap()
}

/// Runs `call` once against a server in situation `case`; `Ok(())` when it succeeded.
async fn run(call: Call, case: &str) -> Result<(), BrokerError> {
    let mut server = None;
    let api_url = match case {
        "refused_connection" => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let address = listener.local_addr().unwrap();
            drop(listener);
            format!("http://{address}")
        }
        "connection_cut_mid_answer" => format!("http://{}", cutting_server().await),
        _ => {
            let mock = MockServer::start().await;
            let endpoint = call.endpoint();
            Mock::given(method(endpoint.method().as_str()))
                .and(path(endpoint.path()))
                .respond_with(answer(case))
                .mount(&mock)
                .await;
            Mock::given(method("POST"))
                .and(path(Endpoint::Login.path()))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "status": true, "message": "SUCCESS", "errorcode": "",
                    "data": {"jwtToken": "eyJfresh", "refreshToken": "ref", "feedToken": "feed"}
                })))
                .mount(&mock)
                .await;
            let url = mock.uri();
            server = Some(mock);
            url
        }
    };
    let broker = broker(&api_url);
    let result = match call {
        Call::Place => broker.place_order(&order()).await.map(drop),
        Call::Cancel => broker
            .cancel_order(&OrderId::new("261128000000001"), Variety::Regular)
            .await
            .map(drop),
        Call::Orders => broker.orders().await.map(drop),
        Call::Funds => broker.funds().await.map(drop),
    };
    if let ("session_expired", Some(server)) = (case, &server) {
        let requests = server.received_requests().await.unwrap();
        let count = |wanted: Endpoint| {
            requests
                .iter()
                .filter(|request| request.url.path() == wanted.path())
                .count()
        };
        assert_eq!(count(Endpoint::Login), 1, "{call:?}: exactly one re-login");
        assert_eq!(
            count(call.endpoint()),
            2,
            "{call:?}: the call repeated once"
        );
    }
    result
}

fn describe(result: &Result<(), BrokerError>) -> String {
    match result {
        Ok(()) => "ok".to_owned(),
        Err(error) => format!(
            "{} / {} ({error})",
            error.placement_outcome().as_str(),
            error.kind()
        ),
    }
}

fn check(
    case: &str,
    call: Call,
    result: &Result<(), BrokerError>,
    expected: (PlacementOutcome, ErrorKind),
) -> Option<String> {
    let matches = result
        .as_ref()
        .err()
        .is_some_and(|error| (error.placement_outcome(), error.kind()) == expected);
    (!matches).then(|| {
        format!(
            "{case}, {call:?}: expected {} / {}, got {}",
            expected.0.as_str(),
            expected.1,
            describe(result)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_wire_situation_gives_the_agreed_outcome_for_orders_and_reads() {
    let mut wrong = Vec::new();
    for (case, outcome, order_kind, read_kind) in CASES {
        for call in [Call::Place, Call::Cancel] {
            let result = run(call, case).await;
            wrong.extend(check(case, call, &result, (outcome, order_kind)));
            if let Err(error) = &result {
                assert!(
                    !error.is_retryable() || outcome == NotPlaced,
                    "{case}: {error:?}"
                );
            }
        }
        // The one broker difference: SmartAPI answers an empty order book with a success
        // envelope whose `data` is null, so for the book it means no orders. A read that must
        // carry data (funds) meets the table's kind instead.
        let read = if case == "success_without_data" {
            assert_eq!(run(Call::Orders, case).await.ok(), Some(()), "{case}");
            Call::Funds
        } else {
            Call::Orders
        };
        let result = run(read, case).await;
        wrong.extend(check(case, read, &result, (NotPlaced, read_kind)));
        if let Err(error) = &result {
            assert_eq!(
                error.is_retryable(),
                matches!(read_kind, K::Connectivity | K::RateLimited),
                "{case}: {error:?}"
            );
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
