//! The client against the in-process simulator: the whole login flow for several accounts,
//! IP whitelisting on the real peer address, session expiry without automatic login, every
//! injected fault without a duplicate order, quotas, postbacks, HTTPS, and the order book end
//! to end.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

mod common;

use common::sim::{Setup, connect, credentials, limit_buy, logged_in, logged_in_with};

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use broker_core::sim::{Fault, SimListen};
use broker_core::{
    Broker, BrokerError, ConnectOptions, ConnectivityKind, EgressBinding, Exchange,
    HttpClientConfig, InstrumentRef, ManualClock, MarketProtection, OrderModification,
    OrderRequest, OrderStatus, OrderType, PlacementOutcome, Product, Side, Variety,
    ZerodhaCredentials, verify_whitelisted,
};
use broker_zerodha::sim::{SimAccount, SimConfig, Simulator, browser_login};
use broker_zerodha::{Endpoint, Zerodha, verify_postback};
use chrono::Utc;
use common::Recorded;
use rust_decimal_macros::dec;
use secrecy::ExposeSecret;

#[tokio::test]
async fn the_whole_login_flow_works_and_a_forged_checksum_is_refused() {
    let simulator = Simulator::start(SimConfig::default()).await.unwrap();
    let account = SimAccount::demo();
    let recorded = Recorded::default();
    let (broker, browser) = connect(
        &simulator,
        &account,
        Setup {
            recorded: Some(recorded.clone()),
            ..Setup::default()
        },
    );
    let redirect = browser_login(&browser, broker.login_url(&[("state", "csrf&42=x")]))
        .await
        .unwrap();
    assert_eq!(
        redirect.param("state"),
        Some("csrf&42=x"),
        "state comes back intact"
    );

    let mut forged = account.clone();
    forged.api_secret = "not-the-secret".into();
    let (impostor, _) = connect(&simulator, &forged, Setup::default());
    let refused = impostor
        .complete_login(redirect.request_token())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, BrokerError::InvalidCredentials { .. }),
        "{refused:?}"
    );

    let tokens = broker
        .complete_login(redirect.request_token())
        .await
        .unwrap();
    let expiry_ist = tokens
        .expires_at()
        .with_timezone(&broker_core::ist::offset());
    assert_eq!(expiry_ist.format("%H:%M:%S").to_string(), "06:00:00");
    assert_eq!(
        recorded.summary(),
        [format!("started {}", tokens.access_token().expose_secret())]
    );

    let reused = broker
        .complete_login(redirect.request_token())
        .await
        .unwrap_err();
    assert!(
        reused.needs_login(),
        "request tokens are single-use: {reused:?}"
    );
    assert_eq!(simulator.logins("ZS1234"), 1);

    assert_eq!(broker.profile().await.unwrap().user_id, "ZS1234");
    broker.logout().await.unwrap();
    assert!(broker.profile().await.unwrap_err().needs_login());
    assert_eq!(recorded.summary().last().map(String::as_str), Some("ended"));
}

#[tokio::test]
async fn refresh_tokens_renew_the_session_for_approved_platforms() {
    let mut account = SimAccount::demo();
    account.issue_refresh_tokens = true;
    let simulator = Simulator::start(SimConfig {
        accounts: vec![account.clone()],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let broker = logged_in_with(&simulator, &account, Setup::default()).await;
    let first = broker_core::BrokerSession::session_tokens(&broker)
        .await
        .unwrap();
    let refresh = first.refresh_token().unwrap().clone();
    let renewed = broker
        .client()
        .renew_access_token(&refresh, &account.api_secret)
        .await
        .unwrap();
    assert_ne!(
        renewed.access_token.expose_secret(),
        first.access_token().expose_secret()
    );
    assert_eq!(simulator.logins("ZS1234"), 2);
}

#[tokio::test]
async fn many_accounts_each_log_in_and_trade_in_their_own_book() {
    let first = SimAccount::new("key1", "secret1", "AB0001");
    let second = SimAccount::new("key2", "secret2", "AB0002");
    let simulator = Simulator::start(SimConfig {
        accounts: vec![first.clone(), second.clone()],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let one = logged_in_with(&simulator, &first, Setup::default()).await;
    let two = logged_in_with(&simulator, &second, Setup::default()).await;
    assert_eq!(one.profile().await.unwrap().user_id, "AB0001");
    assert_eq!(two.profile().await.unwrap().user_id, "AB0002");
    let placed = one.place_order(&limit_buy("own1")).await.unwrap();
    assert_eq!(one.orders().await.unwrap().len(), 1);
    assert!(two.orders().await.unwrap().is_empty(), "books are separate");
    let foreign = two
        .cancel_order(&placed.order_id, Variety::Regular)
        .await
        .unwrap_err();
    assert!(
        matches!(foreign, BrokerError::OrderNotFound { .. }),
        "another user's order is not found: {foreign:?}"
    );
    let accepted = simulator.accepted_orders();
    assert_eq!(
        (accepted.len(), accepted[0].user_id.as_str()),
        (1, "AB0001")
    );
    assert_eq!(
        (simulator.logins("AB0001"), simulator.logins("AB0002")),
        (1, 1)
    );
    assert_eq!(simulator.orders("AB0001").len(), 1);

    // A user who logs in through the wrong account's app is refused.
    let mut mixed = credentials(&second);
    mixed = ZerodhaCredentials::new(first.api_key.clone(), first.api_secret.clone())
        .unwrap()
        .with_user_id(mixed.user_id().unwrap())
        .unwrap();
    let http = HttpClientConfig::default()
        .allow_plain_http()
        .build()
        .unwrap();
    let options = ConnectOptions::new(http.clone())
        .with_api_url(simulator.url())
        .with_login_url(simulator.login_page());
    let wrong = Zerodha::connect(&mixed, None, &options).unwrap();
    let redirect = browser_login(http.client(), wrong.login_url(&[]))
        .await
        .unwrap();
    let error = wrong
        .complete_login(redirect.request_token())
        .await
        .unwrap_err();
    assert!(
        matches!(error, BrokerError::InvalidCredentials { .. }),
        "{error:?}"
    );
    assert!(
        simulator.requests_to(Endpoint::InvalidateAccessToken) >= 1,
        "the wrong user's session was logged out again"
    );
}

/// The endpoints of the requests the simulator received after the first `before`.
fn endpoints_since(simulator: &Simulator, before: usize) -> Vec<Option<Endpoint>> {
    simulator.requests()[before..]
        .iter()
        .map(|request| request.endpoint)
        .collect()
}

#[tokio::test]
async fn a_client_bound_to_an_unlisted_ip_gets_ip_not_whitelisted_and_the_probe_places_nothing() {
    let whitelisted: IpAddr = "127.0.0.3".parse().unwrap();
    let account = SimAccount::demo().with_allowed_ips([whitelisted]);
    let simulator = Simulator::start(SimConfig {
        accounts: vec![account.clone()],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let stranger: IpAddr = "127.0.0.2".parse().unwrap();
    let setup = |ip| Setup {
        config: HttpClientConfig::bound_to(EgressBinding::direct(ip)),
        ..Setup::default()
    };
    let broker = logged_in_with(&simulator, &account, setup(stranger)).await;
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
    assert_eq!(error.placement_outcome(), PlacementOutcome::NotPlaced);
    let before = simulator.requests().len();
    let probe = verify_whitelisted(&broker).await.unwrap_err();
    assert!(matches!(probe, BrokerError::IpNotWhitelisted { ip: Some(ip), .. } if ip == stranger));
    let during = endpoints_since(&simulator, before);
    assert_eq!(
        during,
        [Some(Endpoint::CancelOrder)],
        "the refused probe sent one cancellation and nothing else"
    );
    assert!(simulator.accepted_orders().is_empty());

    let registered = logged_in_with(&simulator, &account, setup(whitelisted)).await;
    let before = simulator.requests().len();
    assert_eq!(verify_whitelisted(&registered).await, Ok(()));
    let during = endpoints_since(&simulator, before);
    assert_eq!(
        during,
        [Some(Endpoint::CancelOrder)],
        "the probe sent one cancellation and nothing else"
    );
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
    let clock = ManualClock::new(Utc::now());
    let simulator = Simulator::start(SimConfig {
        clock: Arc::new(clock.clone()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let recorded = Recorded::default();
    let broker = logged_in_with(
        &simulator,
        &SimAccount::demo(),
        Setup {
            recorded: Some(recorded.clone()),
            ..Setup::default()
        },
    )
    .await;
    assert!(broker.profile().await.is_ok());
    // Kite's clock passes 06:00 IST; ours has not noticed yet.
    clock.advance(chrono::Duration::days(1));
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
    assert_eq!(simulator.logins("ZS1234"), 1, "no automatic login");
    assert_eq!(recorded.summary().last().map(String::as_str), Some("ended"));
    assert_eq!(
        simulator.requests_to(Endpoint::PlaceOrder),
        0,
        "refused locally once Kite had refused the session"
    );
    assert!(simulator.accepted_orders().is_empty());
}

/// What a fault must make `place_order` return.
type Expectation = fn(&broker_core::Result<broker_core::Placement>) -> bool;

#[tokio::test]
async fn under_every_injected_fault_no_order_is_placed_twice() {
    let simulator = Simulator::start(SimConfig::default()).await.unwrap();
    let setup = || Setup {
        config: HttpClientConfig {
            request_timeout: Duration::from_millis(1500),
            ..HttpClientConfig::default()
        },
        ..Setup::default()
    };
    let mut broker = logged_in_with(&simulator, &SimAccount::demo(), setup()).await;
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
            Fault::RateLimited,
            |result| matches!(result, Err(BrokerError::RateLimited { .. })),
            false,
        ),
        (
            Fault::FirewallPage,
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
        let posts_before = simulator.requests_to(Endpoint::PlaceOrder);
        simulator.inject(Endpoint::PlaceOrder, fault.clone());
        let result = broker.place_order(&limit_buy(&tag)).await;
        assert!(expected(&result), "{fault:?}: {result:?}");
        assert_eq!(
            simulator.requests_to(Endpoint::PlaceOrder) - posts_before,
            1,
            "{fault:?}: the order request was sent exactly once"
        );
        let copies = simulator
            .accepted_orders()
            .iter()
            .filter(|order| order.body.tag.as_deref() == Some(tag.as_str()))
            .count();
        assert_eq!(
            copies,
            usize::from(placed),
            "{fault:?}: orders with tag {tag}"
        );
        if let Err(error) = &result {
            let may_exist = error.placement_outcome() == PlacementOutcome::Unknown;
            assert_eq!(may_exist, placed, "{fault:?}: {error:?}");
        }
        if placed {
            // What reconciliation does after an unknown outcome: find the order by its tag.
            let found = broker.orders_with_tag(&tag.parse().unwrap()).await.unwrap();
            assert_eq!(
                found.len(),
                1,
                "{fault:?}: the order is found once by its tag"
            );
            placed_tags.push(tag.clone());
        }
        if let Fault::RejectAfterAccept(reason) = &fault {
            let placement = result.as_ref().unwrap();
            let history = broker.order(&placement.order_id).await.unwrap();
            assert_eq!(
                history.current.status,
                OrderStatus::Rejected {
                    reason: reason.clone()
                }
            );
        }
        if matches!(fault, Fault::SessionExpired) {
            broker = logged_in_with(&simulator, &SimAccount::demo(), setup()).await;
        }
    }
    let tags: Vec<_> = simulator
        .accepted_orders()
        .into_iter()
        .filter_map(|order| order.body.tag)
        .collect();
    assert_eq!(
        tags, placed_tags,
        "no order was placed twice or behind our back"
    );
}

#[tokio::test]
async fn kites_quotas_are_on_by_default_refusing_a_burst_and_the_default_client_paces_instead() {
    let simulator = Simulator::start(SimConfig::default()).await.unwrap();
    let unpaced = logged_in_with(
        &simulator,
        &SimAccount::demo(),
        Setup {
            unpaced: true,
            ..Setup::default()
        },
    )
    .await;
    let mut refused = 0;
    for round in 0..12 {
        match unpaced
            .place_order(&limit_buy(&format!("burst{round}")))
            .await
        {
            Ok(_) => {}
            Err(error) => {
                assert!(
                    matches!(error, BrokerError::RateLimited { .. }),
                    "{error:?}"
                );
                assert_eq!(error.placement_outcome(), PlacementOutcome::NotPlaced);
                refused += 1;
            }
        }
    }
    assert!(refused >= 2, "Kite's 10/s refused the excess: {refused}");
    let mut quotes_refused = 0;
    for _ in 0..3 {
        let wanted = [InstrumentRef::new(Exchange::Nse, "INFY")];
        if let Err(error) = unpaced.last_prices(&wanted).await {
            assert!(
                matches!(error, BrokerError::RateLimited { .. }),
                "{error:?}"
            );
            quotes_refused += 1;
        }
    }
    assert!(quotes_refused >= 1, "quotes are 1/s: {quotes_refused}");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let paced = logged_in(&simulator).await;
    for round in 0..12 {
        paced
            .place_order(&limit_buy(&format!("paced{round}")))
            .await
            .unwrap();
    }
    let unlimited = Simulator::start(SimConfig::default().without_quotas())
        .await
        .unwrap();
    let unpaced = logged_in_with(
        &unlimited,
        &SimAccount::demo(),
        Setup {
            unpaced: true,
            ..Setup::default()
        },
    )
    .await;
    for round in 0..12 {
        unpaced
            .place_order(&limit_buy(&format!("free{round}")))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn postbacks_arrive_signed_with_a_checksum_that_verifies() {
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/postback"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let mut account = SimAccount::demo();
    account.postback_url = Some(format!("{}/postback", receiver.uri()));
    let simulator = Simulator::start(SimConfig {
        accounts: vec![account.clone()],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let broker = logged_in_with(&simulator, &account, Setup::default()).await;
    let placement = broker.place_order(&limit_buy("postback1")).await.unwrap();
    // Filled from a thread outside the runtime: the postback still goes out.
    let filled = std::thread::scope(|scope| {
        scope
            .spawn(|| simulator.fill(placement.order_id.as_str(), dec!(96426.32999999999)))
            .join()
            .unwrap()
    });
    assert!(filled);
    let mut delivered = Vec::new();
    for _ in 0..50 {
        delivered = receiver.received_requests().await.unwrap();
        if delivered.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut postbacks: Vec<_> = delivered
        .iter()
        .map(|request| verify_postback(&request.body, &account.api_secret).unwrap())
        .collect();
    postbacks.sort_by_key(|postback| postback.order.status == OrderStatus::Complete);
    let [open, complete] = postbacks.as_slice() else {
        panic!("one postback per change of state: {postbacks:?}")
    };
    assert_eq!(open.order.order_id, placement.order_id);
    assert_eq!(open.user_id, "ZS1234");
    assert_eq!(open.order.status, OrderStatus::Open);
    assert_eq!(open.order.tag.as_deref(), Some("postback1"));
    assert_eq!(
        complete.order.average_price,
        Some(dec!(96426.32999999999)),
        "postbacks carry Kite's exact digits"
    );
    assert!(verify_postback(&delivered[0].body, &"wrong".into()).is_err());
}

#[tokio::test]
async fn over_https_a_client_trusting_the_certificate_logs_in_and_trades() {
    let simulator = Simulator::start(SimConfig {
        listen: SimListen::loopback().https(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert!(simulator.url().starts_with("https://"));
    let broker = logged_in(&simulator).await;
    broker.place_order(&limit_buy("tls1")).await.unwrap();
    assert_eq!(simulator.accepted_orders().len(), 1);

    let stranger = ConnectOptions::new(HttpClientConfig::default().build().unwrap())
        .with_api_url(simulator.url());
    let untrusting = Zerodha::connect(
        &credentials(&SimAccount::demo()),
        Some(
            broker_core::BrokerSession::session_tokens(&broker)
                .await
                .unwrap(),
        ),
        &stranger,
    )
    .unwrap();
    let error = untrusting.profile().await.unwrap_err();
    assert!(
        matches!(
            error,
            BrokerError::Connectivity {
                kind: ConnectivityKind::Connect,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_order_book_positions_and_market_data_work_end_to_end() {
    let simulator = Simulator::start(SimConfig::default()).await.unwrap();
    let broker = logged_in(&simulator).await;

    let resting = broker
        .place_order(&limit_buy("book1"))
        .await
        .unwrap()
        .order_id;
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

    let filled_later = broker
        .place_order(&limit_buy("book2"))
        .await
        .unwrap()
        .order_id;
    assert!(simulator.fill(filled_later.as_str(), dec!(789.5)));
    assert!(
        !simulator.fill(filled_later.as_str(), dec!(789.5)),
        "filled once"
    );
    let fill = broker.order(&filled_later).await.unwrap().current;
    assert_eq!(
        (fill.status, fill.average_price),
        (OrderStatus::Complete, Some(dec!(789.5)))
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
    let filled = broker.place_order(&market).await.unwrap().order_id;
    assert_eq!(
        broker.order(&filled).await.unwrap().current.status,
        OrderStatus::Complete
    );
    let trades = broker.trades().await.unwrap();
    assert_eq!(trades.len(), 2);
    assert_eq!(trades[1].price, dec!(801.05));
    let positions = broker.positions().await.unwrap();
    let intraday = positions
        .iter()
        .find(|position| position.product == Product::Intraday)
        .unwrap();
    assert_eq!(intraday.quantity, 5);
    let converted = broker
        .client()
        .convert_position(
            &broker.authorization().unwrap(),
            &common::sbin_to_delivery(5),
        )
        .await
        .unwrap();
    assert!(converted);
    assert!(
        broker
            .positions()
            .await
            .unwrap()
            .iter()
            .all(|position| position.product == Product::Delivery)
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
    let index = broker.instruments().current();
    assert!(index.by_symbol(Exchange::Nfo, "NIFTY26DECFUT").is_some());
}
