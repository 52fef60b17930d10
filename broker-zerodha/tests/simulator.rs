//! The client against the in-process simulator: the whole login flow, IP whitelisting on the
//! real peer address, session expiry without automatic login, every injected fault without
//! a duplicate order, postbacks, and the order book end to end.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

use std::net::IpAddr;
use std::time::Duration;

use broker_core::{
    Broker, BrokerError, ConnectivityKind, EgressBinding, Exchange, HttpClientConfig,
    InstrumentRef, MarketProtection, OrderModification, OrderRequest, OrderStatus, OrderType,
    Product, Side, Variety, verify_whitelisted,
};
use broker_zerodha::http::models::ConvertPositionParams;
use broker_zerodha::sim::{Fault, KiteSimulator, SimConfig, browser_login};
use broker_zerodha::{KiteHttpClient, LoginRedirect, Zerodha, verify_postback};
use rust_decimal_macros::dec;
use secrecy::{ExposeSecret, SecretString};

const SECRET: &str = "simsecret";

/// What a fault must make `place_order` return.
type Expectation = fn(&broker_core::Result<broker_core::OrderId>) -> bool;

fn client_for(simulator: &KiteSimulator, config: HttpClientConfig) -> KiteHttpClient {
    KiteHttpClient::builder("simkey")
        .base_url(simulator.url())
        .login_page(simulator.login_page())
        .http_config(config)
        .without_rate_limits()
        .build()
        .unwrap()
}

async fn user_logs_in(client: &KiteHttpClient, state: &str) -> LoginRedirect {
    browser_login(client.login_url(&[("state", state)]))
        .await
        .unwrap()
}

async fn logged_in(simulator: &KiteSimulator, config: HttpClientConfig) -> Zerodha {
    let client = client_for(simulator, config);
    let redirect = user_logs_in(&client, "s1").await;
    client
        .generate_session(redirect.request_token(), &SECRET.into())
        .await
        .unwrap();
    Zerodha::new(client)
}

fn limit_buy(tag: &str) -> OrderRequest {
    OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN"))
        .side(Side::Buy)
        .order_type(OrderType::Limit)
        .product(Product::Delivery)
        .quantity(2)
        .price(dec!(790))
        .tag(tag)
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_whole_login_flow_works_and_a_forged_checksum_is_refused() {
    let simulator = KiteSimulator::start(SimConfig::default()).await.unwrap();
    let client = client_for(&simulator, HttpClientConfig::default());
    let redirect = user_logs_in(&client, "csrf&42=x").await;
    assert_eq!(
        redirect.param("state"),
        Some("csrf&42=x"),
        "state comes back intact"
    );

    let forged = client
        .generate_session(redirect.request_token(), &"not-the-secret".into())
        .await
        .unwrap_err();
    assert!(
        matches!(forged, BrokerError::InvalidCredentials { .. }),
        "{forged:?}"
    );

    let session = client
        .generate_session(redirect.request_token(), &SECRET.into())
        .await
        .unwrap();
    assert_eq!(session.profile.user_id, "ZS1234");
    let tokens = broker_zerodha::auth::session_tokens(&session, chrono::Utc::now()).unwrap();
    let expiry_ist = tokens
        .expires_at()
        .with_timezone(&broker_core::session::ist());
    assert_eq!(expiry_ist.format("%H:%M:%S").to_string(), "06:00:00");

    let reused = client
        .generate_session(redirect.request_token(), &SECRET.into())
        .await
        .unwrap_err();
    assert!(
        reused.needs_login(),
        "request tokens are single-use: {reused:?}"
    );

    let broker = Zerodha::new(client);
    assert_eq!(broker.profile().await.unwrap().user_id, "ZS1234");
    broker.logout().await.unwrap();
    assert!(broker.profile().await.unwrap_err().needs_login());
}

#[tokio::test]
async fn refresh_tokens_renew_the_session_for_approved_platforms() {
    let simulator = KiteSimulator::start(SimConfig {
        issue_refresh_tokens: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let client = client_for(&simulator, HttpClientConfig::default());
    let redirect = user_logs_in(&client, "s").await;
    let first = client
        .generate_session(redirect.request_token(), &SECRET.into())
        .await
        .unwrap();
    let refresh: SecretString = first.refresh_token.clone().unwrap();
    assert!(!refresh.expose_secret().is_empty());
    let renewed = client
        .renew_access_token(&refresh, &SECRET.into())
        .await
        .unwrap();
    assert_ne!(
        renewed.access_token.expose_secret(),
        first.access_token.expose_secret()
    );
    assert!(client.profile().await.is_ok());
}

#[tokio::test]
async fn a_client_bound_to_an_unlisted_ip_gets_ip_not_whitelisted_naming_it() {
    let whitelisted: IpAddr = "127.0.0.3".parse().unwrap();
    let simulator = KiteSimulator::start(SimConfig {
        allowed_ips: vec![whitelisted],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let stranger: IpAddr = "127.0.0.2".parse().unwrap();
    let broker = logged_in(
        &simulator,
        HttpClientConfig::bound_to(EgressBinding::direct(stranger)),
    )
    .await;
    assert!(
        broker.profile().await.is_ok(),
        "only order endpoints check the IP"
    );
    let error = broker
        .place_order(&limit_buy("ipcheck1"))
        .await
        .unwrap_err();
    match &error {
        BrokerError::IpNotWhitelisted { ip, message } => {
            assert_eq!(*ip, Some(stranger));
            assert!(message.contains("127.0.0.2"), "{message}");
        }
        other => panic!("expected IpNotWhitelisted, got {other:?}"),
    }
    assert!(error.to_string().contains("127.0.0.2"));
    let probe = verify_whitelisted(&broker).await.unwrap_err();
    assert!(matches!(probe, BrokerError::IpNotWhitelisted { ip: Some(ip), .. } if ip == stranger));
    assert!(simulator.accepted_orders().is_empty());

    let registered = logged_in(
        &simulator,
        HttpClientConfig::bound_to(EgressBinding::direct(whitelisted)),
    )
    .await;
    assert_eq!(verify_whitelisted(&registered).await, Ok(()));
    assert!(
        simulator.accepted_orders().is_empty(),
        "the probe placed nothing"
    );
    registered
        .place_order(&limit_buy("ipcheck2"))
        .await
        .unwrap();
    assert_eq!(simulator.accepted_orders()[0].peer, whitelisted);
}

#[tokio::test]
async fn an_expired_token_gives_session_expired_without_logging_in_again() {
    let simulator = KiteSimulator::start(SimConfig::default()).await.unwrap();
    let broker = logged_in(&simulator, HttpClientConfig::default()).await;
    assert!(broker.profile().await.is_ok());
    simulator.set_clock(Some(chrono::Utc::now() + chrono::Duration::days(1)));
    let error = broker.profile().await.unwrap_err();
    assert!(
        matches!(error, BrokerError::SessionExpired { .. }),
        "{error:?}"
    );
    let error = broker
        .place_order(&limit_buy("expired1"))
        .await
        .unwrap_err();
    assert!(error.needs_login(), "{error:?}");
    assert_eq!(
        simulator.requests_to("POST", "/session/token"),
        1,
        "no automatic login"
    );
    assert!(simulator.accepted_orders().is_empty());
}

#[tokio::test]
async fn under_every_injected_fault_no_order_is_placed_twice() {
    let simulator = KiteSimulator::start(SimConfig::default()).await.unwrap();
    let config = HttpClientConfig {
        request_timeout: Duration::from_millis(1500),
        ..HttpClientConfig::default()
    };
    let mut broker = logged_in(&simulator, config.clone()).await;
    // Each fault, what `place_order` must return, and whether the simulator placed the order.
    let cases: Vec<(Fault, Expectation, bool)> = vec![
        (
            Fault::Latency(Duration::from_millis(50)),
            |result| result.is_ok(),
            true,
        ),
        (
            Fault::ServerError(502),
            |result| {
                matches!(
                    result,
                    Err(BrokerError::OrderOutcomeUnknown {
                        kind: ConnectivityKind::ServerError { status: 502 }
                    })
                )
            },
            true,
        ),
        (
            Fault::Hang,
            |result| {
                matches!(
                    result,
                    Err(BrokerError::OrderOutcomeUnknown {
                        kind: ConnectivityKind::Timeout
                    })
                )
            },
            true,
        ),
        (
            Fault::TooManyRequests,
            |result| matches!(result, Err(BrokerError::RateLimited { .. })),
            false,
        ),
        (
            Fault::WafPage,
            |result| matches!(result, Err(BrokerError::RequestBlocked { status: 403, .. })),
            false,
        ),
        (
            Fault::EmptyBadRequest,
            |result| matches!(result, Err(BrokerError::RequestBlocked { status: 400, .. })),
            false,
        ),
        (
            Fault::RejectAfterAccept("RMS: margin exceeds".into()),
            |result| result.is_ok(),
            true,
        ),
        (
            Fault::SessionExpired,
            |result| matches!(result, Err(BrokerError::SessionExpired { .. })),
            false,
        ),
    ];
    let mut placed_tags = Vec::new();
    for (round, (fault, expected, placed)) in cases.into_iter().enumerate() {
        let tag = format!("fault{round}");
        let posts_before = simulator.requests_to("POST", "/orders/");
        simulator.inject(fault.clone());
        let result = broker.place_order(&limit_buy(&tag)).await;
        assert!(expected(&result), "{fault:?}: {result:?}");
        assert_eq!(
            simulator.requests_to("POST", "/orders/") - posts_before,
            1,
            "{fault:?}: the order request was sent exactly once"
        );
        let copies = simulator
            .accepted_orders()
            .iter()
            .filter(|order| order.params.tag.as_deref() == Some(tag.as_str()))
            .count();
        assert_eq!(
            copies,
            usize::from(placed),
            "{fault:?}: orders with tag {tag}"
        );
        if placed {
            // What reconciliation does after an unknown outcome: find the order by its tag.
            let book = broker.orders().await.unwrap();
            let found = book
                .iter()
                .filter(|order| order.tag.as_deref() == Some(tag.as_str()))
                .count();
            assert_eq!(found, 1, "{fault:?}: the order is found once by its tag");
            placed_tags.push(tag.clone());
        }
        if let Fault::RejectAfterAccept(reason) = &fault {
            let history = broker.order(result.as_ref().unwrap()).await.unwrap();
            assert_eq!(
                history.current.status,
                OrderStatus::Rejected {
                    reason: reason.clone()
                }
            );
        }
        if matches!(fault, Fault::SessionExpired) {
            broker = logged_in(&simulator, config.clone()).await;
        }
    }
    let tags: Vec<_> = simulator
        .accepted_orders()
        .into_iter()
        .filter_map(|order| order.params.tag)
        .collect();
    assert_eq!(
        tags, placed_tags,
        "no order was placed twice or behind our back"
    );
}

#[tokio::test]
async fn postbacks_arrive_signed_with_a_checksum_that_verifies() {
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/postback"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let simulator = KiteSimulator::start(SimConfig {
        postback_url: Some(format!("{}/postback", receiver.uri())),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let broker = logged_in(&simulator, HttpClientConfig::default()).await;
    let order_id = broker.place_order(&limit_buy("postback1")).await.unwrap();
    let mut delivered = Vec::new();
    for _ in 0..50 {
        delivered = receiver.received_requests().await.unwrap();
        if !delivered.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let postback = verify_postback(&delivered[0].body, &SECRET.into()).unwrap();
    assert_eq!(postback.order.order_id, order_id);
    assert_eq!(postback.order.status, OrderStatus::Open);
    assert_eq!(postback.order.tag.as_deref(), Some("postback1"));
    assert!(verify_postback(&delivered[0].body, &"wrong".into()).is_err());
}

#[tokio::test]
async fn the_order_book_positions_and_market_data_work_end_to_end() {
    let simulator = KiteSimulator::start(SimConfig::default()).await.unwrap();
    let broker = logged_in(&simulator, HttpClientConfig::default()).await;

    let resting = broker.place_order(&limit_buy("book1")).await.unwrap();
    let change = OrderModification::builder(OrderType::Limit, 3)
        .price(dec!(795))
        .build()
        .unwrap();
    broker.modify_order(&resting, &change).await.unwrap();
    let history = broker.order(&resting).await.unwrap();
    assert_eq!(history.current.quantity, 3);
    assert_eq!(history.current.price, Some(dec!(795)));
    assert_eq!(
        history.earlier[0].status,
        OrderStatus::Pending,
        "PUT ORDER REQ RECEIVED"
    );
    broker
        .cancel_order(&resting, Variety::Regular)
        .await
        .unwrap();
    assert_eq!(
        broker.order(&resting).await.unwrap().current.status,
        OrderStatus::Cancelled
    );
    let again = broker
        .cancel_order(&resting, Variety::Regular)
        .await
        .unwrap_err();
    assert!(
        matches!(again, BrokerError::OrderRejected { .. }),
        "{again:?}"
    );
    let missing = broker
        .cancel_order(&"404".into(), Variety::Regular)
        .await
        .unwrap_err();
    assert_eq!(
        missing,
        BrokerError::OrderNotFound {
            order_id: "404".into()
        }
    );

    let market = OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN"))
        .side(Side::Buy)
        .order_type(OrderType::Market)
        .product(Product::Intraday)
        .quantity(5)
        .market_protection(MarketProtection::Percent(2))
        .build()
        .unwrap();
    let filled = broker.place_order(&market).await.unwrap();
    assert_eq!(
        broker.order(&filled).await.unwrap().current.status,
        OrderStatus::Complete
    );
    let trades = broker.trades().await.unwrap();
    assert_eq!((trades.len(), trades[0].price), (1, dec!(801.05)));
    let positions = broker.positions().await.unwrap();
    assert_eq!(
        (positions[0].quantity, positions[0].product),
        (5, Product::Intraday)
    );
    let converted = broker
        .client()
        .convert_position(&ConvertPositionParams {
            exchange: "NSE".into(),
            tradingsymbol: "SBIN".into(),
            transaction_type: "BUY".into(),
            position_type: "day".into(),
            quantity: 5,
            old_product: "MIS".into(),
            new_product: "CNC".into(),
        })
        .await
        .unwrap();
    assert!(converted);
    assert_eq!(
        broker.positions().await.unwrap()[0].product,
        Product::Delivery
    );

    assert_eq!(broker.holdings().await.unwrap()[0].quantity, 16);
    assert!(broker.funds().await.unwrap().net > dec!(0));
    let wanted = [
        InstrumentRef::new(Exchange::Nse, "INFY"),
        InstrumentRef::new(Exchange::Bse, "NOPE"),
    ];
    let quotes = broker.quotes(&wanted).await.unwrap();
    assert_eq!((quotes.len(), quotes[0].last_price), (1, dec!(1412.95)));
    assert_eq!(
        broker.last_prices(&wanted).await.unwrap()[0].last_price,
        dec!(1412.95)
    );
    let master = broker.client().instruments().await.unwrap();
    assert!(
        master
            .index
            .by_symbol(Exchange::Nfo, "NIFTY26DECFUT")
            .is_some()
    );
}
