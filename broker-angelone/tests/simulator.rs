//! `AngelOne` against the in-process SmartAPI simulator: sessions, orders, IP whitelisting,
//! re-login, and no duplicate order under any injected fault.

mod common;

use std::time::Duration;

use broker_angelone::http::client::{AngelOneConfig, AngelOneHttpClient};
use broker_angelone::http::endpoint::Endpoint;
use broker_angelone::http::models::LoginBody;
use broker_angelone::sim::{Fault, Simulator};
use broker_core::{
    Broker, BrokerError, ConnectivityKind, Exchange, InstrumentRef, OrderModification, OrderStatus,
    OrderType, Side, ValidationError, Variety, verify_whitelisted,
};
use common::{CLIENT_CODE, account, broker, broker_with_timeout, limit_buy};
use rust_decimal_macros::dec;
use secrecy::SecretString;

#[tokio::test]
async fn login_place_order_book_cancel_round_trip() {
    let simulator = Simulator::start([account("127.0.0.1")]).await.unwrap();
    let broker = broker(&simulator, "127.0.0.1");

    let order_id = broker.place_order(&limit_buy("roundtrip1")).await.unwrap();
    let orders = broker.orders().await.unwrap();
    let placed = orders
        .iter()
        .find(|order| order.order_id == order_id)
        .unwrap();
    assert_eq!(placed.status, OrderStatus::Open);
    assert_eq!(placed.tag.as_deref(), Some("roundtrip1"));
    assert_eq!(placed.price, Some(dec!(801.05)));
    assert_eq!(placed.instrument.token.as_deref(), Some("3045"));

    broker
        .cancel_order(&order_id, Variety::Regular)
        .await
        .unwrap();
    let history = broker.order(&order_id).await.unwrap();
    assert_eq!(history.current.status, OrderStatus::Cancelled);

    let accepted = simulator.accepted_orders();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].order_id, order_id.as_str());
    assert_eq!(accepted[0].body.symboltoken, "3045");
    assert_eq!(simulator.logins(CLIENT_CODE), 1);
}

#[tokio::test]
async fn client_bound_to_127_0_0_2_for_an_account_registering_127_0_0_3_is_not_whitelisted() {
    let simulator = Simulator::start([account("127.0.0.3")]).await.unwrap();
    let broker = broker(&simulator, "127.0.0.2");

    // Only order endpoints check the address.
    broker.funds().await.unwrap();
    let error = broker
        .place_order(&limit_buy("wrongip1"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, BrokerError::IpNotWhitelisted { ip: Some(ip), .. } if ip.to_string() == "127.0.0.2"),
        "{error:?}"
    );
    assert!(error.to_string().contains("127.0.0.2"), "{error}");
    let probe = verify_whitelisted(&broker).await.unwrap_err();
    assert!(
        matches!(probe, BrokerError::IpNotWhitelisted { .. }),
        "{probe:?}"
    );
    assert!(simulator.accepted_orders().is_empty());

    // The same account from its registered address is accepted.
    let registered = common::broker(&simulator, "127.0.0.3");
    assert_eq!(verify_whitelisted(&registered).await, Ok(()));
    assert!(
        simulator.accepted_orders().is_empty(),
        "the probe placed nothing"
    );
    registered
        .place_order(&limit_buy("rightip1"))
        .await
        .unwrap();
    assert_eq!(
        simulator.accepted_orders()[0].peer_ip.to_string(),
        "127.0.0.3"
    );
}

#[tokio::test]
async fn expired_session_triggers_exactly_one_relogin_then_succeeds() {
    let simulator = Simulator::start([account("127.0.0.1")]).await.unwrap();
    let broker = broker(&simulator, "127.0.0.1");
    broker.funds().await.unwrap();
    assert_eq!(simulator.logins(CLIENT_CODE), 1);

    simulator.expire_sessions();
    let orders = broker.orders().await.unwrap();
    assert!(orders.is_empty());
    assert_eq!(simulator.logins(CLIENT_CODE), 2);

    // The new session keeps working without further logins.
    broker.positions().await.unwrap();
    broker.profile().await.unwrap();
    assert_eq!(simulator.logins(CLIENT_CODE), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_after_expiry_share_a_single_relogin() {
    let simulator = Simulator::start([account("127.0.0.1")]).await.unwrap();
    let broker = broker(&simulator, "127.0.0.1");
    broker.login().await.unwrap();
    simulator.expire_sessions();
    let (orders, funds, positions) =
        tokio::join!(broker.orders(), broker.funds(), broker.positions());
    orders.unwrap();
    funds.unwrap();
    positions.unwrap();
    assert_eq!(simulator.logins(CLIENT_CODE), 2);
}

/// What one injected fault must lead to.
struct FaultCase {
    fault: Fault,
    /// Orders the simulator must have accepted for this attempt.
    accepted: usize,
    outcome: fn(&Result<broker_core::OrderId, BrokerError>) -> bool,
}

#[tokio::test]
async fn no_injected_fault_ever_places_an_order_twice() {
    let simulator = Simulator::start([account("127.0.0.1")]).await.unwrap();
    let broker = broker_with_timeout(&simulator, "127.0.0.1", Duration::from_millis(800));
    let cases = [
        FaultCase {
            fault: Fault::Latency(Duration::from_millis(200)),
            accepted: 1,
            outcome: |result| result.is_ok(),
        },
        FaultCase {
            fault: Fault::ServerError(502),
            accepted: 1,
            outcome: |result| {
                matches!(
                    result,
                    Err(BrokerError::OrderOutcomeUnknown {
                        kind: ConnectivityKind::ServerError { status: 502 }
                    })
                )
            },
        },
        FaultCase {
            fault: Fault::Hang,
            accepted: 1,
            outcome: |result| {
                matches!(
                    result,
                    Err(BrokerError::OrderOutcomeUnknown {
                        kind: ConnectivityKind::Timeout
                    })
                )
            },
        },
        FaultCase {
            fault: Fault::RateLimitPage,
            accepted: 0,
            outcome: |result| matches!(result, Err(BrokerError::RateLimited { .. })),
        },
        FaultCase {
            fault: Fault::WafPage,
            accepted: 0,
            outcome: |result| matches!(result, Err(BrokerError::RequestBlocked { .. })),
        },
        FaultCase {
            fault: Fault::EmptyBadRequest,
            accepted: 0,
            outcome: |result| {
                matches!(result, Err(BrokerError::RequestBlocked { status: 400, .. }))
            },
        },
        FaultCase {
            // Refused unprocessed, so the one re-login and repeat is safe.
            fault: Fault::SessionExpired,
            accepted: 1,
            outcome: |result| result.is_ok(),
        },
        FaultCase {
            fault: Fault::RejectAfterAccept("RMS:Margin Exceeds".into()),
            accepted: 1,
            outcome: |result| result.is_ok(),
        },
    ];
    for (number, case) in cases.into_iter().enumerate() {
        let tag = format!("fault{number}");
        simulator.inject(Endpoint::PlaceOrder, case.fault.clone());
        let result = broker.place_order(&limit_buy(&tag)).await;
        assert!((case.outcome)(&result), "{:?}: {result:?}", case.fault);
        let accepted = simulator
            .accepted_orders()
            .iter()
            .filter(|order| order.body.ordertag.as_deref() == Some(tag.as_str()))
            .count();
        assert_eq!(accepted, case.accepted, "{:?}", case.fault);
        if let (Fault::RejectAfterAccept(reason), Ok(order_id)) = (&case.fault, &result) {
            let history = broker.order(order_id).await.unwrap();
            assert_eq!(
                history.current.status,
                OrderStatus::Rejected {
                    reason: reason.clone()
                }
            );
        }
    }
    // Logged in once, and once more for the injected AG8001.
    assert_eq!(simulator.logins(CLIENT_CODE), 2);
}

#[tokio::test]
async fn faults_on_reads_are_classified_and_safe_to_retry() {
    let simulator = Simulator::start([account("127.0.0.1")]).await.unwrap();
    let broker = broker_with_timeout(&simulator, "127.0.0.1", Duration::from_millis(800));
    simulator.inject(Endpoint::Funds, Fault::ServerError(503));
    let error = broker.funds().await.unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    simulator.inject(Endpoint::Funds, Fault::Hang);
    let error = broker.funds().await.unwrap_err();
    assert!(
        matches!(
            error,
            BrokerError::Connectivity {
                kind: ConnectivityKind::Timeout,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        broker.funds().await.unwrap().available_cash,
        dec!(100000.00)
    );
}

#[tokio::test]
async fn fills_show_in_trades_and_positions_and_modify_changes_the_order() {
    let simulator = Simulator::start([account("127.0.0.1")]).await.unwrap();
    let broker = broker(&simulator, "127.0.0.1");
    let first = broker.place_order(&limit_buy("fill1")).await.unwrap();
    let second = broker.place_order(&limit_buy("modify1")).await.unwrap();

    let change = OrderModification::builder(OrderType::Limit, 3)
        .price(dec!(802))
        .build()
        .unwrap();
    broker.modify_order(&second, &change).await.unwrap();
    let modified = broker.order(&second).await.unwrap().current;
    assert_eq!((modified.quantity, modified.price), (3, Some(dec!(802))));

    assert!(simulator.fill(first.as_str(), dec!(801)));
    let trades = broker.trades().await.unwrap();
    assert_eq!(trades.len(), 1);
    assert_eq!((trades[0].quantity, trades[0].price), (2, dec!(801)));
    let positions = broker.positions().await.unwrap();
    assert_eq!(positions[0].quantity, 2);
    assert_eq!(positions[0].average_price, dec!(801));
    let filled = broker.order(&first).await.unwrap().current;
    assert_eq!(filled.status, OrderStatus::Complete);

    let error = broker
        .cancel_order(&broker_core::OrderId::from("999"), Variety::Regular)
        .await
        .unwrap_err();
    assert!(
        matches!(error, BrokerError::OrderNotFound { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn profile_funds_quotes_and_last_prices_map_to_domain_types() {
    let simulator = Simulator::start([account("127.0.0.1")]).await.unwrap();
    let broker = broker(&simulator, "127.0.0.1");
    let profile = broker.profile().await.unwrap();
    assert_eq!(profile.user_id, CLIENT_CODE);
    assert!(profile.exchanges.contains(&Exchange::Nfo));
    let sbin = InstrumentRef::new(Exchange::Nse, "SBIN-EQ");
    let unknown = InstrumentRef::new(Exchange::Nse, "NOSUCH-EQ");
    let quotes = broker.quotes(&[sbin.clone(), unknown]).await.unwrap();
    assert_eq!(quotes.len(), 1);
    assert_eq!(quotes[0].last_price, dec!(801.05));
    assert_eq!(quotes[0].volume, Some(125_000));
    assert!(quotes[0].ohlc.is_some());
    let prices = broker.last_prices(&[sbin]).await.unwrap();
    assert_eq!(prices[0].last_price, dec!(801.05));
    assert!(broker.holdings().await.unwrap().is_empty());
    let found = broker.search_scrip(Exchange::Nse, "sbin").await.unwrap();
    assert_eq!(
        found,
        [InstrumentRef::new(Exchange::Nse, "SBIN-EQ").with_token("3045")]
    );
}

#[tokio::test]
async fn policy_and_instrument_checks_refuse_orders_before_anything_leaves() {
    let simulator = Simulator::start([account("127.0.0.1")]).await.unwrap();
    let broker = broker(&simulator, "127.0.0.1");
    let market = broker_core::OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN-EQ"))
        .side(Side::Buy)
        .order_type(OrderType::Market)
        .product(broker_core::Product::Intraday)
        .quantity(1)
        .build()
        .unwrap();
    let error = broker.place_order(&market).await.unwrap_err();
    assert!(
        matches!(
            error,
            BrokerError::Validation(ValidationError::Policy { .. })
        ),
        "{error:?}"
    );
    let unknown = limit_buy("x")
        .to_builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "NOSUCH-EQ"))
        .build()
        .unwrap();
    let error = broker.place_order(&unknown).await.unwrap_err();
    assert!(error.to_string().contains("instrument master"), "{error}");
    let off_tick = limit_buy("y")
        .to_builder()
        .price(dec!(801.03))
        .build()
        .unwrap();
    let error = broker.place_order(&off_tick).await.unwrap_err();
    assert!(
        matches!(
            error,
            BrokerError::Validation(ValidationError::NotTickMultiple { .. })
        ),
        "{error:?}"
    );
    assert!(simulator.accepted_orders().is_empty());
    assert_eq!(
        simulator.logins(CLIENT_CODE),
        0,
        "nothing was sent, not even a login"
    );
}

#[tokio::test]
async fn wrong_totp_secret_and_web_password_are_refused_clearly() {
    let simulator = Simulator::start([account("127.0.0.1")]).await.unwrap();
    let wrong_secret = broker_core::AngelOneCredentials::new(
        SecretString::from(common::API_KEY),
        CLIENT_CODE,
        SecretString::from(common::MPIN),
        SecretString::from("JBSWY3DPEHPK3PXPJBSWY3DP"),
    )
    .unwrap();
    let config = common::config(&simulator, "127.0.0.1", Duration::from_secs(5));
    let broker =
        broker_angelone::AngelOne::new(wrong_secret, &config, common::instruments()).unwrap();
    let error = broker.login().await.unwrap_err();
    assert!(
        matches!(error, BrokerError::InvalidTotp { .. }),
        "{error:?}"
    );

    let client = AngelOneHttpClient::new(
        &AngelOneConfig::with_base_url(simulator.url()),
        &SecretString::from(common::API_KEY),
    )
    .unwrap();
    let (password, totp) = (
        SecretString::from("webPassw0rd"),
        SecretString::from("000000"),
    );
    let error = client
        .login(&LoginBody {
            clientcode: CLIENT_CODE,
            password: &password,
            totp: &totp,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&error, BrokerError::InvalidCredentials { message } if message.contains("MPIN")),
        "{error:?}"
    );
}

#[tokio::test]
async fn refresh_renews_the_session_without_a_login_and_logout_ends_it() {
    let simulator = Simulator::start([account("127.0.0.1")]).await.unwrap();
    let broker = broker(&simulator, "127.0.0.1");
    broker.login().await.unwrap();
    let before = broker.session_tokens().await.unwrap();
    broker.refresh().await.unwrap();
    let after = broker.session_tokens().await.unwrap();
    use secrecy::ExposeSecret;
    assert_ne!(
        before.access_token().expose_secret(),
        after.access_token().expose_secret()
    );
    broker.funds().await.unwrap();
    let conversion = broker_angelone::http::models::ConvertPositionBody {
        exchange: Exchange::Nse,
        oldproducttype: broker_angelone::http::models::WireProduct::Intraday,
        newproducttype: broker_angelone::http::models::WireProduct::Delivery,
        tradingsymbol: "SBIN-EQ".into(),
        transactiontype: broker_angelone::http::models::WireSide::Buy,
        quantity: 1,
        conversion_type: "DAY".into(),
    };
    broker.convert_position(&conversion).await.unwrap();
    assert_eq!(simulator.logins(CLIENT_CODE), 1);
    broker.logout().await.unwrap();
    assert!(broker.session_tokens().await.is_none());

    // Logging out of a session the broker already expired still ends it locally.
    broker.login().await.unwrap();
    simulator.expire_sessions();
    broker.logout().await.unwrap();
    assert!(broker.session_tokens().await.is_none());
}

#[tokio::test]
async fn a_burst_beyond_ten_orders_a_second_is_paced_not_refused() {
    let simulator = Simulator::start([account("127.0.0.1")]).await.unwrap();
    let broker = broker(&simulator, "127.0.0.1");
    let started = std::time::Instant::now();
    for leg in 0..12 {
        broker
            .place_order(&limit_buy(&format!("burst{leg}")))
            .await
            .unwrap();
    }
    assert_eq!(
        simulator.accepted_orders().len(),
        12,
        "every order was placed once"
    );
    // Ten go at once; the eleventh and twelfth wait for the quota to refill (0.1 s each).
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
}
