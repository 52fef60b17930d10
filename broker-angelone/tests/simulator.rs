//! `AngelOne` against the in-process SmartAPI simulator: orders,
//! IP whitelisting by the real peer address, and no duplicate order under any injected fault.

mod common;

use std::time::Duration;

use broker_angelone::AngelOne;
use broker_angelone::Endpoint;
use broker_angelone::sim::{SimConfig, Simulator};
use broker_core::sim::{Fault, SimListen};
use broker_core::{
    Broker, BrokerError, BrokerSession, ConnectOptions, ConnectivityKind, EgressBinding, Exchange,
    HttpClientConfig, InstrumentRef, LoginMode, OrderModification, OrderStatus, OrderTag,
    OrderType, Placement, PlacementOutcome, Side, TlsConfig, ValidationError, Variety,
    verify_whitelisted,
};
use common::{CLIENT_CODE, account, broker, broker_with_timeout, limit_buy, simulator};
use rust_decimal_macros::dec;

#[tokio::test]
async fn login_place_order_book_cancel_round_trip() {
    let simulator = simulator("127.0.0.1").await;
    let broker = broker(&simulator, "127.0.0.1");
    assert_eq!(broker.login_mode(), LoginMode::Automatic);

    let placement = broker.place_order(&limit_buy("roundtrip1")).await.unwrap();
    let accepted = simulator.accepted_orders();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].order_id, placement.order_id.as_str());
    assert_eq!(accepted[0].body.symboltoken, "3045");
    let orders = broker.orders().await.unwrap();
    let placed = orders
        .iter()
        .find(|order| order.order_id == placement.order_id)
        .unwrap();
    assert_eq!(placed.status, OrderStatus::Open);
    assert_eq!(placed.tag.as_deref(), Some("roundtrip1"));
    assert_eq!(placed.price, Some(dec!(790)));
    assert_eq!(placed.instrument.broker_token.as_deref(), Some("3045"));

    broker
        .cancel_order(&placement.order_id, Variety::Regular)
        .await
        .unwrap();
    let history = broker.order(&placement.order_id).await.unwrap();
    assert_eq!(history.current.status, OrderStatus::Cancelled);
    assert_eq!(simulator.logins(CLIENT_CODE), 1);
}

#[tokio::test]
async fn a_placement_carries_the_unique_order_id_as_its_broker_reference() {
    let simulator = simulator("127.0.0.1").await;
    let broker = broker(&simulator, "127.0.0.1");
    let placement = broker.place_order(&limit_buy("unique1")).await.unwrap();
    let reference = placement.broker_reference.clone().unwrap();
    assert!(!reference.is_empty());
    // The order-details endpoint knows the order by it.
    let details = broker
        .client()
        .order_details(
            broker.session_tokens().await.unwrap().access_token(),
            &reference,
        )
        .await
        .unwrap();
    assert_eq!(details.orderid, placement.order_id.as_str());
    assert_eq!(
        placement,
        Placement::new(placement.order_id.clone()).with_broker_reference(reference)
    );
}

#[tokio::test]
async fn orders_with_tag_finds_the_order_of_a_tag_ignoring_case() {
    let simulator = simulator("127.0.0.1").await;
    let broker = broker(&simulator, "127.0.0.1");
    let wanted = broker.place_order(&limit_buy("Run42Leg1")).await.unwrap();
    broker.place_order(&limit_buy("Run42Leg2")).await.unwrap();
    let found = broker
        .orders_with_tag(&OrderTag::new("RUN42LEG1").unwrap())
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].order_id, wanted.order_id);
    let none = broker
        .orders_with_tag(&OrderTag::new("Run42Leg3").unwrap())
        .await
        .unwrap();
    assert!(none.is_empty());
}

/// The endpoints of the requests the simulator received after the first `before`.
fn endpoints_since(simulator: &Simulator, before: usize) -> Vec<Endpoint> {
    simulator.requests()[before..]
        .iter()
        .filter_map(|request| request.endpoint)
        .collect()
}

#[tokio::test]
async fn client_bound_to_127_0_0_2_for_an_account_registering_127_0_0_3_is_not_whitelisted() {
    // Two clients of the account log in within a second: not what this test is about.
    let simulator = common::simulator_without_quotas("127.0.0.3").await;
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
    let before = simulator.requests().len();
    let probe = verify_whitelisted(&broker).await.unwrap_err();
    assert!(
        matches!(probe, BrokerError::IpNotWhitelisted { .. }),
        "{probe:?}"
    );
    let probe_requests = endpoints_since(&simulator, before);
    assert_eq!(
        probe_requests,
        [Endpoint::OrderBook, Endpoint::CancelOrder],
        "the refused probe read the book and sent one cancellation, nothing that places an order"
    );
    assert!(simulator.accepted_orders().is_empty());

    // The same account from its registered address is accepted.
    let registered = common::broker(&simulator, "127.0.0.3");
    let before = simulator.requests().len();
    assert_eq!(verify_whitelisted(&registered).await, Ok(()));
    let probe_requests = endpoints_since(&simulator, before);
    assert_eq!(
        probe_requests,
        [Endpoint::Login, Endpoint::OrderBook, Endpoint::CancelOrder],
        "the probe read the book for the order's variety, sent one cancellation and nothing \
         that places or changes an order"
    );
    registered
        .place_order(&limit_buy("rightip1"))
        .await
        .unwrap();
    assert_eq!(simulator.accepted_orders()[0].peer.to_string(), "127.0.0.3");
}

#[tokio::test]
async fn the_simulator_judges_the_tcp_peer_not_the_claimed_public_ip() {
    // The account registers 127.0.0.3. The client leaves from 127.0.0.2 and claims 127.0.0.3
    // in X-ClientPublicIP (as a client behind a 1:1 NAT would).
    let simulator = simulator("127.0.0.3").await;
    let claiming =
        EgressBinding::translated("127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap());
    let options = ConnectOptions::new(common::http(claiming, Duration::from_secs(5)))
        .with_api_url(simulator.url())
        .with_instruments(common::instruments());
    let broker = AngelOne::connect(common::credentials(), None, &options).unwrap();
    let error = broker
        .place_order(&limit_buy("claimed1"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, BrokerError::IpNotWhitelisted { .. }),
        "{error:?}"
    );
    assert!(simulator.accepted_orders().is_empty());
    let place = simulator
        .requests()
        .into_iter()
        .find(|request| request.endpoint == Some(Endpoint::PlaceOrder))
        .unwrap();
    assert_eq!(place.peer.to_string(), "127.0.0.2");
}

/// What one injected fault must lead to.
struct FaultCase {
    fault: Fault,
    /// Orders the simulator must have accepted for this attempt.
    accepted: usize,
    outcome: fn(&Result<Placement, BrokerError>) -> bool,
}

#[tokio::test]
async fn no_injected_fault_ever_places_an_order_twice() {
    let simulator = simulator("127.0.0.1").await;
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
            fault: Fault::RateLimited,
            accepted: 0,
            outcome: |result| matches!(result, Err(BrokerError::RateLimited { .. })),
        },
        FaultCase {
            fault: Fault::FirewallPage,
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
        if let Err(error) = &result {
            let expected = if case.accepted == 0 {
                PlacementOutcome::NotPlaced
            } else {
                PlacementOutcome::Unknown
            };
            assert_eq!(error.placement_outcome(), expected, "{:?}", case.fault);
        }
        let accepted = simulator
            .accepted_orders()
            .iter()
            .filter(|order| order.body.ordertag.as_deref() == Some(tag.as_str()))
            .count();
        assert_eq!(accepted, case.accepted, "{:?}", case.fault);
        if let (Fault::RejectAfterAccept(reason), Ok(placement)) = (&case.fault, &result) {
            let history = broker.order(&placement.order_id).await.unwrap();
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
    let simulator = simulator("127.0.0.1").await;
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
    let simulator = simulator("127.0.0.1").await;
    let broker = broker(&simulator, "127.0.0.1");
    let first = broker.place_order(&limit_buy("fill1")).await.unwrap();
    let second = broker.place_order(&limit_buy("modify1")).await.unwrap();

    let change = OrderModification::builder(OrderType::Limit, 3)
        .price(dec!(795))
        .build()
        .unwrap();
    broker
        .modify_order(&second.order_id, &change)
        .await
        .unwrap();
    let modified = broker.order(&second.order_id).await.unwrap().current;
    assert_eq!((modified.quantity, modified.price), (3, Some(dec!(795))));
    let off_tick = OrderModification::builder(OrderType::Limit, 3)
        .price(dec!(802.02))
        .build()
        .unwrap();
    let error = broker
        .modify_order(&second.order_id, &off_tick)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            BrokerError::Validation(ValidationError::NotTickMultiple { .. })
        ),
        "{error:?}"
    );

    assert!(simulator.fill(first.order_id.as_str(), dec!(801)));
    let trades = broker.trades().await.unwrap();
    assert_eq!(trades.len(), 1);
    assert_eq!((trades[0].quantity, trades[0].price), (2, dec!(801)));
    assert!(trades[0].traded_at.is_some());
    let positions = broker.positions().await.unwrap();
    assert_eq!(positions[0].quantity, 2);
    assert_eq!(positions[0].average_price, dec!(801));
    let filled = broker.order(&first.order_id).await.unwrap().current;
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
    let simulator = simulator("127.0.0.1").await;
    let broker = broker(&simulator, "127.0.0.1");
    let profile = broker.profile().await.unwrap();
    assert_eq!(profile.user_id, CLIENT_CODE);
    assert!(profile.exchanges.contains(&Exchange::Nfo));
    let sbin = InstrumentRef::new(Exchange::Nse, "SBIN-EQ");
    let unknown = InstrumentRef::new(Exchange::Nse, "NOSUCH-EQ");
    let quotes = broker.quotes(&[sbin.clone(), unknown]).await.unwrap();
    assert_eq!(quotes.len(), 1);
    assert_eq!(quotes[0].last_price, dec!(801.05));
    assert_eq!(quotes[0].volume, Some(0), "nothing traded yet");
    assert!(quotes[0].ohlc.is_some());
    let prices = broker.last_prices(&[sbin]).await.unwrap();
    assert_eq!(prices[0].last_price, dec!(801.05));
    assert!(broker.holdings().await.unwrap().is_empty());
    let found = broker.search_scrip(Exchange::Nse, "sbin").await.unwrap();
    assert_eq!(
        found,
        [InstrumentRef::new(Exchange::Nse, "SBIN-EQ").with_broker_token("3045")]
    );
}

#[tokio::test]
async fn policy_instrument_and_algo_id_checks_refuse_orders_before_anything_leaves() {
    let simulator = simulator("127.0.0.1").await;
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
    // SBIN-EQ with INFY-EQ's token: SmartAPI would refuse the token (AB4006) or trade the
    // wrong instrument; it never leaves.
    let mismatched = limit_buy("y")
        .to_builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN-EQ").with_broker_token("1594"))
        .build()
        .unwrap();
    let error = broker.place_order(&mismatched).await.unwrap_err();
    assert!(
        matches!(
            error,
            BrokerError::Validation(ValidationError::UnknownInstrument { .. })
        ),
        "{error:?}"
    );
    let off_tick = limit_buy("z")
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
    let with_algo = limit_buy("algo")
        .to_builder()
        .algo_id("ALGO7")
        .build()
        .unwrap();
    let error = broker.place_order(&with_algo).await.unwrap_err();
    assert!(
        matches!(error, BrokerError::Unsupported { .. }),
        "{error:?}"
    );
    assert!(
        simulator.requests().is_empty(),
        "nothing was sent, not even a login"
    );
}

#[tokio::test]
async fn a_burst_beyond_the_policys_orders_per_second_is_paced_not_refused() {
    let simulator = simulator("127.0.0.1").await;
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

#[tokio::test]
async fn the_https_simulator_serves_a_client_that_trusts_its_certificate() {
    let simulator = Simulator::start(
        SimConfig::new([account("127.0.0.1")]).with_listen(SimListen::loopback().https()),
    )
    .await
    .unwrap();
    assert!(simulator.url().starts_with("https://"));
    let pem = simulator.certificate_pem().unwrap();
    let http = HttpClientConfig {
        tls: TlsConfig::with_extra_roots(pem.as_bytes()).unwrap(),
        ..HttpClientConfig::default()
    }
    .build()
    .unwrap();
    let options = ConnectOptions::new(http)
        .with_api_url(simulator.url())
        .with_instruments(common::instruments());
    let broker = AngelOne::connect(common::credentials(), None, &options).unwrap();
    broker.place_order(&limit_buy("tls1")).await.unwrap();
    assert_eq!(simulator.accepted_orders().len(), 1);
}
