//! The simulator's market (issue 9): orders match against a price feed and end `complete`,
//! fills make trades, positions, holdings and funds, and prices, fills, rejections, faults
//! and the clock are reachable over HTTP (the admin routes the `angelone-sim` binary serves).
//! Its instrument master loads through the client's own `InstrumentCache`.

mod common;

use broker_angelone::InstrumentCache;
use broker_angelone::models::{CandleDataBody, PlaceOrderBody, WireSide};
use broker_angelone::sim::{SimConfig, SimHolding, Simulator};
use broker_core::{
    Broker, BrokerError, BrokerSession, Exchange, HttpClientConfig, InstrumentKind, OrderStatus,
    Product, Side,
};
use common::{CLIENT_CODE, account, logged_in, sbin_body, simulator_without_quotas};
use rust_decimal_macros::dec;
use serde_json::{Value, json};

/// A limit order of 2 SBIN-EQ for delivery.
#[allow(clippy::unwrap_used)] // a fixture: a bad one should fail the test loudly
fn sbin(side: Side, price: rust_decimal::Decimal, tag: &str) -> broker_core::OrderRequest {
    common::limit_buy(tag)
        .to_builder()
        .side(side)
        .price(price)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_marketable_limit_fills_at_once_into_trades_positions_holdings_and_funds() {
    let simulator = simulator_without_quotas("127.0.0.1").await;
    let broker = common::broker(&simulator, "127.0.0.1");
    // At the last price (801.05): marketable.
    let placement = broker
        .place_order(&sbin(Side::Buy, dec!(801.05), "fill1"))
        .await
        .unwrap();
    let order = broker.order(&placement.order_id).await.unwrap().current;
    assert_eq!(order.status, OrderStatus::Complete);
    assert_eq!(
        (order.filled_quantity, order.average_price),
        (2, Some(dec!(801.05)))
    );
    let trades = broker.trades().await.unwrap();
    assert_eq!(trades.len(), 1);
    assert_eq!(
        (
            trades[0].order_id.as_str(),
            trades[0].quantity,
            trades[0].price
        ),
        (placement.order_id.as_str(), 2, dec!(801.05))
    );
    let positions = broker.positions().await.unwrap();
    assert_eq!(
        (positions[0].product, positions[0].quantity),
        (Product::Delivery, 2)
    );
    let holdings = broker.holdings().await.unwrap();
    assert_eq!(holdings.len(), 1);
    assert_eq!(
        (
            holdings[0].instrument.trading_symbol.as_str(),
            holdings[0].quantity
        ),
        ("SBIN-EQ", 2),
        "bought for delivery: held as T+1"
    );
    assert_eq!(holdings[0].isin.as_deref(), Some("INE062A01020"));
    let funds = broker.funds().await.unwrap();
    assert_eq!(funds.utilised, dec!(1602.10));
    assert_eq!(funds.net, dec!(100000) - dec!(1602.10));
}

#[tokio::test]
async fn a_resting_limit_fills_when_the_price_reaches_it_and_a_stop_loss_triggers_on_crossing() {
    let simulator = simulator_without_quotas("127.0.0.1").await;
    let broker = common::broker(&simulator, "127.0.0.1");
    let resting = broker
        .place_order(&sbin(Side::Buy, dec!(790), "rest1"))
        .await
        .unwrap();
    // A stop-loss sale of an intraday position: trigger 780, limit 779.
    let stop = common::limit_buy("stop1")
        .to_builder()
        .side(Side::Sell)
        .product(Product::Intraday)
        .order_type(broker_core::OrderType::StopLimit)
        .price(dec!(779))
        .trigger_price(dec!(780))
        .build()
        .unwrap();
    let stop = broker.place_order(&stop).await.unwrap();
    let status = |order_id: &str| {
        simulator
            .orders(CLIENT_CODE)
            .into_iter()
            .find(|order| order.orderid == order_id)
            .unwrap()
            .status
    };
    assert_eq!(status(resting.order_id.as_str()), "open");
    assert_eq!(status(stop.order_id.as_str()), "trigger pending");

    let filled = simulator
        .set_price(Exchange::Nse, "3045", dec!(795))
        .unwrap();
    assert!(filled.is_empty());
    let filled = simulator
        .set_price(Exchange::Nse, "3045", dec!(790))
        .unwrap();
    assert_eq!(filled, [resting.order_id.as_str().to_owned()]);
    assert!(
        simulator
            .set_price(Exchange::Nse, "3045", dec!(785))
            .unwrap()
            .is_empty()
    );
    assert_eq!(status(stop.order_id.as_str()), "trigger pending");
    let filled = simulator
        .set_price(Exchange::Nse, "3045", dec!(780))
        .unwrap();
    assert_eq!(filled, [stop.order_id.as_str().to_owned()]);

    let trades = broker.trades().await.unwrap();
    let prices: Vec<_> = trades
        .iter()
        .map(|trade| (trade.side, trade.price))
        .collect();
    assert_eq!(prices, [(Side::Buy, dec!(790)), (Side::Sell, dec!(780))]);
    assert_eq!(
        broker.order(&stop.order_id).await.unwrap().current.status,
        OrderStatus::Complete
    );
    // A price off the tick or for an unknown instrument is refused.
    assert!(
        simulator
            .set_price(Exchange::Nse, "3045", dec!(780.01))
            .is_err()
    );
    assert!(
        simulator
            .set_price(Exchange::Nse, "424242", dec!(780))
            .is_err()
    );
}

#[tokio::test]
async fn held_shares_sell_for_delivery_and_all_holdings_totals_them() {
    let holding = SimHolding {
        exchange: Exchange::Nse,
        symboltoken: "3045".into(),
        quantity: 10,
        average_price: dec!(700),
    };
    let simulator = Simulator::start(
        SimConfig::new([account("127.0.0.1").with_holding(holding)]).without_quotas(),
    )
    .await
    .unwrap();
    let (broker, token) = logged_in(&simulator).await;
    let holdings = broker.holdings().await.unwrap();
    assert_eq!(holdings[0].quantity, 10);
    assert_eq!(holdings[0].average_price, dec!(700));
    assert_eq!(holdings[0].pnl, Some(dec!(1010.50)));

    let sale = PlaceOrderBody {
        transactiontype: WireSide::Sell,
        ..sbin_body(dec!(801.05), 4)
    };
    broker.client().place_order(&token, &sale).await.unwrap();
    let all = broker.client().all_holdings(&token).await.unwrap();
    assert_eq!(all.holdings[0].quantity, 6);
    assert_eq!(all.totalholding.totalinvvalue, dec!(4200));
    assert_eq!(all.totalholding.totalholdingvalue, dec!(4806.30));
    assert_eq!(all.totalholding.totalprofitandloss, dec!(606.30));

    // Selling more than is held is rejected.
    let too_many = PlaceOrderBody {
        transactiontype: WireSide::Sell,
        ..sbin_body(dec!(801.05), 7)
    };
    let ack = broker
        .client()
        .place_order(&token, &too_many)
        .await
        .unwrap();
    let row = simulator
        .orders(CLIENT_CODE)
        .into_iter()
        .find(|order| order.orderid == ack.orderid)
        .unwrap();
    assert_eq!(row.status, "rejected");
}

#[tokio::test]
async fn candles_are_answered_flat_at_the_last_price_over_trading_minutes() {
    let simulator = simulator_without_quotas("127.0.0.1").await;
    let (broker, token) = logged_in(&simulator).await;
    let body = CandleDataBody {
        exchange: "NSE".into(),
        symboltoken: "3045".into(),
        interval: "FIFTEEN_MINUTE".into(),
        fromdate: "2026-11-27 09:15".into(),
        todate: "2026-11-27 10:15".into(),
    };
    let candles = broker.client().candle_data(&token, &body).await.unwrap();
    assert_eq!(candles.len(), 4);
    assert_eq!(candles[0].0, "2026-11-27T09:15:00+05:30");
    assert_eq!((candles[0].1, candles[0].4), (dec!(801.05), dec!(801.05)));
    let unknown = CandleDataBody {
        interval: "TWO_MINUTE".into(),
        ..body
    };
    assert!(broker.client().candle_data(&token, &unknown).await.is_err());
}

/// POSTs `body` to the admin route `route` and returns the answer's `data`.
#[allow(clippy::unwrap_used)] // a test helper: a failure should fail the test loudly
async fn admin(simulator: &Simulator, route: &str, body: Value) -> Value {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/_sim/{route}", simulator.url()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], json!(true), "{route}: {answer}");
    answer["data"].clone()
}

#[tokio::test]
async fn the_admin_routes_drive_prices_fills_rejections_faults_and_the_clock_over_http() {
    let simulator = simulator_without_quotas("127.0.0.1").await;
    let broker = common::broker(&simulator, "127.0.0.1");
    let first = broker
        .place_order(&sbin(Side::Buy, dec!(790), "adm1"))
        .await
        .unwrap();
    let second = broker
        .place_order(&sbin(Side::Buy, dec!(780), "adm2"))
        .await
        .unwrap();
    let third = broker
        .place_order(&sbin(Side::Buy, dec!(770), "adm3"))
        .await
        .unwrap();

    let moved = admin(
        &simulator,
        "price",
        json!({"exchange": "NSE", "symboltoken": "3045", "price": "789.95"}),
    )
    .await;
    assert_eq!(moved["filled"], json!([first.order_id.as_str()]));
    let filled = admin(
        &simulator,
        "fill",
        json!({"orderid": second.order_id.as_str(), "price": 781.5}),
    )
    .await;
    assert_eq!(filled["filled"], json!(true));
    admin(
        &simulator,
        "reject",
        json!({"orderid": third.order_id.as_str(), "reason": "RMS:Blocked for the test"}),
    )
    .await;
    let orders = broker.orders().await.unwrap();
    let statuses: Vec<_> = orders.iter().map(|order| order.status.clone()).collect();
    assert_eq!(
        statuses,
        [
            OrderStatus::Complete,
            OrderStatus::Complete,
            OrderStatus::Rejected {
                reason: "RMS:Blocked for the test".into()
            }
        ]
    );

    admin(
        &simulator,
        "fault",
        json!({"endpoint": "getRMS", "fault": "rate_limited"}),
    )
    .await;
    assert!(matches!(
        broker.funds().await,
        Err(BrokerError::RateLimited { .. })
    ));

    // A day later the session is over at the broker.
    let before = simulator.now();
    let clock = admin(&simulator, "clock", json!({"advance_seconds": 86_400})).await;
    let now: chrono::DateTime<chrono::Utc> = clock["now"].as_str().unwrap().parse().unwrap();
    assert!(now - before >= chrono::Duration::hours(24));
    let token = broker.session_tokens().await.unwrap();
    let error = broker
        .client()
        .funds(token.access_token())
        .await
        .unwrap_err();
    assert!(error.needs_login(), "{error:?}");

    let unknown = reqwest::Client::new()
        .post(format!("{}/_sim/nothing", simulator.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let refused = reqwest::Client::new()
        .post(format!("{}/_sim/price", simulator.url()))
        .json(&json!({"exchange": "NSE", "symboltoken": "3045", "price": "1.01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "off the tick");
}

#[tokio::test]
async fn without_matching_orders_rest_until_filled_and_without_admin_the_routes_are_gone() {
    let simulator = Simulator::start(
        SimConfig::new([account("127.0.0.1")])
            .without_quotas()
            .with_matching(false)
            .with_admin(false),
    )
    .await
    .unwrap();
    let broker = common::broker(&simulator, "127.0.0.1");
    let placement = broker
        .place_order(&sbin(Side::Buy, dec!(801.05), "nomatch"))
        .await
        .unwrap();
    assert_eq!(simulator.orders(CLIENT_CODE)[0].status, "open");
    assert!(simulator.fill(placement.order_id.as_str(), dec!(801)));
    assert_eq!(simulator.orders(CLIENT_CODE)[0].status, "complete");
    let answer = reqwest::Client::new()
        .get(format!("{}/_sim/clock", simulator.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
}

#[tokio::test]
async fn the_instrument_master_loads_from_the_simulator_through_the_instrument_cache() {
    let simulator = simulator_without_quotas("127.0.0.1").await;
    let directory = tempfile::tempdir().unwrap();
    let http = HttpClientConfig::default()
        .allow_plain_http()
        .build()
        .unwrap();
    let cache = InstrumentCache::new(
        directory.path().join("scrip.json"),
        simulator.scrip_master_url(),
        http,
    );
    let master = cache.load(chrono::Utc::now()).await.unwrap();
    assert_eq!(master.skipped, 1, "the NCDEX row");
    let share = master.index.by_symbol(Exchange::Nse, "SBIN-EQ").unwrap();
    assert_eq!(
        (share.broker_token.as_str(), share.tick_size),
        ("3045", dec!(0.05))
    );
    let future = master
        .index
        .by_symbol(Exchange::Nfo, "NIFTY29DEC26FUT")
        .unwrap();
    assert_eq!(
        (future.lot_size, future.kind.clone()),
        (65, InstrumentKind::Future)
    );
    let currency = master.index.by_broker_token(Exchange::Cds, "1165").unwrap();
    assert_eq!(currency.tick_size, dec!(0.0025));

    // Orders checked against it: the client refuses what the simulator would.
    let options = common::options(&simulator, "127.0.0.1", std::time::Duration::from_secs(5))
        .with_instruments(broker_core::SharedInstruments::new(master.index));
    let broker = broker_angelone::AngelOne::connect(common::credentials(), None, &options).unwrap();
    let off_tick = sbin(Side::Buy, dec!(790.01), "tick1");
    assert!(matches!(
        broker.place_order(&off_tick).await,
        Err(BrokerError::Validation(_))
    ));
    assert!(
        simulator
            .requests()
            .iter()
            .all(|request| request.endpoint.is_none()),
        "nothing but the master's download reached the simulator"
    );
}
