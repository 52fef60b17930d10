//! Every Kite error type, mapped by `error_type` with the HTTP status kept, and the rule that
//! an order call whose answer was lost becomes "outcome unknown" and is never repeated.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

mod common;

use std::net::IpAddr;
use std::time::Duration;

use broker_core::{
    Broker, BrokerError, ConnectivityKind, EgressBinding, Exchange, HttpClientConfig,
    InstrumentRef, OrderRequest, OrderType, Product, SessionTokens, Side,
};
use broker_zerodha::{KiteHttpClient, Zerodha};
use chrono::Utc;
use common::*;
use rust_decimal_macros::dec;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn limit_buy() -> OrderRequest {
    OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN"))
        .side(Side::Buy)
        .order_type(OrderType::Limit)
        .product(Product::Delivery)
        .quantity(1)
        .price(dec!(800))
        .build()
        .unwrap()
}

async fn place_against(answer: ResponseTemplate) -> (BrokerError, MockServer) {
    let server = strict_server().await;
    Mock::given(method("POST"))
        .and(path("/orders/regular"))
        .respond_with(answer)
        .expect(1)
        .mount(&server)
        .await;
    let error = Zerodha::new(logged_in_client(&server))
        .place_order(&limit_buy())
        .await
        .unwrap_err();
    (error, server)
}

async fn read_against(answer: ResponseTemplate) -> BrokerError {
    let server = strict_server().await;
    Mock::given(method("GET"))
        .and(path("/user/profile"))
        .respond_with(answer)
        .expect(1)
        .mount(&server)
        .await;
    Zerodha::new(logged_in_client(&server))
        .profile()
        .await
        .unwrap_err()
}

#[tokio::test]
async fn token_exception_is_session_expired_with_the_status_kept() {
    let error = read_against(json_fixture(403, "error_token.json")).await;
    assert!(
        matches!(&error, BrokerError::SessionExpired { message } if message.contains("HTTP 403") && message.contains("TokenException")),
        "{error:?}"
    );
}

#[tokio::test]
async fn ip_refusal_names_the_ip_from_the_message_without_a_binding() {
    let (error, _server) = place_against(json_fixture(403, "error_ip_not_allowed.json")).await;
    assert_eq!(
        error,
        BrokerError::IpNotWhitelisted {
            ip: Some("203.0.113.9".parse().unwrap()),
            message: "IP (203.0.113.9) is not allowed to place orders for this app. Update allowed IPs on the Kite developer console. (PermissionException, HTTP 403)".into(),
        }
    );
}

#[tokio::test]
async fn ip_refusal_names_the_public_egress_address_when_bound() {
    let server = strict_server().await;
    Mock::given(method("POST"))
        .and(path("/orders/regular"))
        .respond_with(json_fixture(403, "error_ip_not_allowed.json"))
        .expect(1)
        .mount(&server)
        .await;
    let public: IpAddr = "198.51.100.4".parse().unwrap();
    let egress = EgressBinding::translated("127.0.0.1".parse().unwrap(), public);
    let client = logged_in_client_with(&server, HttpClientConfig::bound_to(egress));
    let error = Zerodha::new(client)
        .place_order(&limit_buy())
        .await
        .unwrap_err();
    assert!(
        matches!(error, BrokerError::IpNotWhitelisted { ip: Some(ip), .. } if ip == public),
        "{error:?}"
    );
}

#[tokio::test]
async fn too_many_requests_is_rate_limited_with_retry_after() {
    let (error, _server) = place_against(
        json_fixture(429, "error_too_many_requests.json").insert_header("retry-after", "2"),
    )
    .await;
    assert_eq!(
        error.retry_after(),
        Some(Duration::from_secs(2)),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn order_input_and_margin_exceptions_are_rejections() {
    for (status, fixture_name, code) in [
        (500, "error_order.json", "OrderException"),
        (400, "error_input.json", "InputException"),
        (400, "error_margin.json", "MarginException"),
    ] {
        let (error, _server) = place_against(json_fixture(status, fixture_name)).await;
        assert!(
            matches!(&error, BrokerError::OrderRejected { code: Some(c), message } if c == code && message.contains(&format!("HTTP {status}"))),
            "{fixture_name}: {error:?}"
        );
    }
}

#[tokio::test]
async fn unknown_error_types_keep_type_message_and_status() {
    let error = read_against(json_fixture(409, "error_unknown_type.json")).await;
    assert_eq!(
        error,
        BrokerError::Broker {
            code: Some("FancyNewException".into()),
            message: "A brand new failure.".into(),
            status: Some(409),
        }
    );
}

#[tokio::test]
async fn an_html_firewall_page_is_request_blocked() {
    let page = ResponseTemplate::new(403)
        .set_body_raw("<html><body>Access denied</body></html>", "text/html");
    let error = read_against(page).await;
    assert!(
        matches!(error, BrokerError::RequestBlocked { status: 403, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_5xx_after_an_order_was_sent_is_outcome_unknown_and_not_repeated() {
    let (error, server) = place_against(
        ResponseTemplate::new(502).set_body_raw("<html>Bad gateway</html>", "text/html"),
    )
    .await;
    assert_eq!(
        error,
        BrokerError::OrderOutcomeUnknown {
            kind: ConnectivityKind::ServerError { status: 502 }
        }
    );
    assert!(!error.is_retryable());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_timeout_after_an_order_was_sent_is_outcome_unknown_but_a_read_timeout_is_retryable() {
    let server = strict_server().await;
    for (http_method, route) in [("POST", "/orders/regular"), ("GET", "/user/profile")] {
        Mock::given(method(http_method))
            .and(path(route))
            .respond_with(
                json_fixture(200, "order_response.json").set_delay(Duration::from_secs(5)),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    let config = HttpClientConfig {
        request_timeout: Duration::from_millis(300),
        ..HttpClientConfig::default()
    };
    let client = logged_in_client_with(&server, config);
    let broker = Zerodha::new(client);
    let placed = broker.place_order(&limit_buy()).await.unwrap_err();
    assert_eq!(
        placed,
        BrokerError::OrderOutcomeUnknown {
            kind: ConnectivityKind::Timeout
        }
    );
    let read = broker.profile().await.unwrap_err();
    assert!(
        matches!(
            read,
            BrokerError::Connectivity {
                kind: ConnectivityKind::Timeout,
                ..
            }
        ),
        "{read:?}"
    );
    assert!(read.is_retryable());
}

#[tokio::test]
async fn cancelling_an_unknown_order_is_order_not_found() {
    let server = strict_server().await;
    Mock::given(method("DELETE"))
        .and(path("/orders/regular/999"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            r#"{"status":"error","message":"Couldn't find that `order_id`.","error_type":"InputException","data":null}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let error = Zerodha::new(logged_in_client(&server))
        .cancel_order(&"999".into(), broker_core::Variety::Regular)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        BrokerError::OrderNotFound {
            order_id: "999".into()
        }
    );
}

#[tokio::test]
async fn an_expired_local_session_fails_before_sending() {
    let server = strict_server().await;
    let client = KiteHttpClient::builder(API_KEY)
        .base_url(server.uri())
        .without_rate_limits()
        .build()
        .unwrap();
    client
        .set_session(
            &SessionTokens::new(
                ACCESS_TOKEN.into(),
                Utc::now() - chrono::Duration::seconds(1),
            )
            .unwrap(),
        )
        .unwrap();
    let error = Zerodha::new(client)
        .place_order(&limit_buy())
        .await
        .unwrap_err();
    assert!(error.needs_login(), "{error:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unreadable_success_answer_to_an_order_is_outcome_unknown() {
    let (error, _server) = place_against(
        ResponseTemplate::new(200).set_body_raw("<html>maintenance</html>", "text/html"),
    )
    .await;
    assert_eq!(
        error,
        BrokerError::OrderOutcomeUnknown {
            kind: ConnectivityKind::UnreadableAnswer { status: 200 }
        }
    );
    let read =
        read_against(ResponseTemplate::new(200).set_body_raw("{\"status\":", "application/json"))
            .await;
    assert!(matches!(read, BrokerError::Decode { .. }), "{read:?}");
}

#[tokio::test]
async fn a_nat_mismatch_is_spelled_out_in_the_ip_refusal() {
    let server = strict_server().await;
    Mock::given(method("POST"))
        .and(path("/orders/regular"))
        .respond_with(json_fixture(403, "error_ip_not_allowed.json"))
        .mount(&server)
        .await;
    let egress = EgressBinding::translated(
        "127.0.0.1".parse().unwrap(),
        "198.51.100.4".parse().unwrap(),
    );
    let client = logged_in_client_with(&server, HttpClientConfig::bound_to(egress));
    let error = Zerodha::new(client)
        .place_order(&limit_buy())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("Kite saw 203.0.113.9") && text.contains("198.51.100.4"),
        "{text}"
    );
}

fn kite_error(status: u16, error_type: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        format!(
            r#"{{"status":"error","message":"{message}","error_type":"{error_type}","data":null}}"#
        ),
        "application/json",
    )
}

#[tokio::test]
async fn every_kite_error_type_maps_for_reads_and_for_orders() {
    type Check = fn(&BrokerError) -> bool;
    let table: [(u16, &str, Check, Check); 10] = [
        (
            403,
            "TokenException",
            |e| e.needs_login(),
            |e| e.needs_login(),
        ),
        (
            403,
            "PermissionException",
            |e| matches!(e, BrokerError::Broker { code: Some(c), status: Some(403), .. } if c == "PermissionException"),
            |e| matches!(e, BrokerError::Broker { code: Some(c), .. } if c == "PermissionException"),
        ),
        (
            403,
            "UserException",
            |e| matches!(e, BrokerError::Broker { code: Some(c), .. } if c == "UserException"),
            |e| matches!(e, BrokerError::Broker { code: Some(c), .. } if c == "UserException"),
        ),
        (
            403,
            "TwoFAException",
            |e| matches!(e, BrokerError::Broker { code: Some(c), .. } if c == "TwoFAException"),
            |e| matches!(e, BrokerError::Broker { code: Some(c), .. } if c == "TwoFAException"),
        ),
        (
            500,
            "OrderException",
            |e| {
                matches!(
                    e,
                    BrokerError::Broker {
                        status: Some(500),
                        ..
                    }
                )
            },
            |e| matches!(e, BrokerError::OrderRejected { .. }),
        ),
        (
            400,
            "InputException",
            |e| {
                matches!(
                    e,
                    BrokerError::Broker {
                        status: Some(400),
                        ..
                    }
                )
            },
            |e| matches!(e, BrokerError::OrderRejected { .. }),
        ),
        (
            400,
            "HoldingException",
            |e| matches!(e, BrokerError::Broker { .. }),
            |e| matches!(e, BrokerError::OrderRejected { .. }),
        ),
        (
            502,
            "DataException",
            |e| {
                matches!(
                    e,
                    BrokerError::Connectivity {
                        kind: ConnectivityKind::ServerError { status: 502 },
                        ..
                    }
                )
            },
            |e| matches!(e, BrokerError::OrderOutcomeUnknown { .. }),
        ),
        (
            503,
            "NetworkException",
            |e| e.is_retryable(),
            |e| matches!(e, BrokerError::OrderOutcomeUnknown { .. }),
        ),
        (
            500,
            "GeneralException",
            |e| e.is_retryable(),
            |e| matches!(e, BrokerError::OrderOutcomeUnknown { .. }),
        ),
    ];
    for (status, error_type, read_check, order_check) in table {
        let read = read_against(kite_error(status, error_type, "something happened")).await;
        assert!(read_check(&read), "read {error_type}: {read:?}");
        let (placed, _server) =
            place_against(kite_error(status, error_type, "something happened")).await;
        assert!(order_check(&placed), "order {error_type}: {placed:?}");
        assert!(
            !placed.is_retryable(),
            "order {error_type} must not be retried: {placed:?}"
        );
    }
}

#[test]
fn a_session_from_storage_builds_a_broker_bound_to_the_egress_address() {
    let credentials =
        broker_core::ZerodhaCredentials::new(API_KEY.into(), API_SECRET.into()).unwrap();
    let session =
        SessionTokens::new(ACCESS_TOKEN.into(), Utc::now() + chrono::Duration::hours(1)).unwrap();
    let local = HttpClientConfig::bound_to(EgressBinding::direct("127.0.0.2".parse().unwrap()));
    let broker = Zerodha::from_session(&credentials, &session, local).unwrap();
    assert_eq!(
        broker.client().egress_ip(),
        Some("127.0.0.2".parse().unwrap())
    );
    let foreign = HttpClientConfig::bound_to(EgressBinding::direct("192.0.2.1".parse().unwrap()));
    assert!(matches!(
        Zerodha::from_session(&credentials, &session, foreign),
        Err(broker_zerodha::http::ClientBuildError::Http(_))
    ));
}

#[tokio::test]
async fn an_error_envelope_with_http_200_is_still_an_error() {
    let (placed, _server) =
        place_against(kite_error(200, "OrderException", "Order rejected by RMS")).await;
    assert!(
        matches!(placed, BrokerError::OrderRejected { .. }),
        "{placed:?}"
    );
    let read = read_against(kite_error(
        200,
        "TokenException",
        "Incorrect `api_key` or `access_token`.",
    ))
    .await;
    assert!(read.needs_login(), "{read:?}");
}
