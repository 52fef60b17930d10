//! The simulator's market through our client: after-market orders waiting for the session,
//! limits resting until the price crosses, stops triggering, IOC cancellations, iceberg legs,
//! autoslicing, the margin and holdings checks, T+1 holdings across trading days, and the
//! answers' fields against Kite's samples (kiteconnect-mocks).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

mod common;

use std::sync::Arc;

use broker_core::{
    Broker, Exchange, InstrumentRef, ManualClock, MarketProtection, OrderRequest,
    OrderRequestBuilder, OrderStatus, OrderType, Product, Side, Validity, Variety,
};
use broker_zerodha::Zerodha;
use broker_zerodha::sim::{SimAccount, SimConfig, Simulator};
use chrono::{DateTime, Duration, Utc};
use common::sim::{RawKite, Setup, limit_buy, logged_in_with};
use reqwest::Method;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

/// Tuesday 1 December 2026, 10:00 IST: in session.
fn tuesday_morning() -> DateTime<Utc> {
    "2026-12-01T04:30:00Z".parse().unwrap()
}

async fn on_clock(clock: &ManualClock, account: SimAccount) -> Simulator {
    Simulator::start(SimConfig {
        accounts: vec![account],
        clock: Arc::new(clock.clone()),
        ..SimConfig::default().without_quotas()
    })
    .await
    .unwrap()
}

async fn broker(simulator: &Simulator, account: &SimAccount) -> Zerodha {
    logged_in_with(
        simulator,
        account,
        Setup {
            unpaced: true,
            ..Setup::default()
        },
    )
    .await
}

/// An order on NSE:SBIN, to be completed.
fn on_sbin(
    side: Side,
    order_type: OrderType,
    product: Product,
    quantity: u32,
) -> OrderRequestBuilder {
    OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN"))
        .side(side)
        .order_type(order_type)
        .product(product)
        .quantity(quantity)
}

/// A market order on NSE:SBIN with 2 % protection.
fn sbin(side: Side, order_type: OrderType, product: Product, quantity: u32) -> OrderRequest {
    on_sbin(side, order_type, product, quantity)
        .market_protection(MarketProtection::Percent(2))
        .build()
        .unwrap()
}

fn status_of(simulator: &Simulator, order_id: &str) -> broker_zerodha::models::WireOrder {
    simulator
        .orders("ZS1234")
        .into_iter()
        .find(|order| order.order_id == order_id)
        .unwrap()
}

#[tokio::test]
async fn after_market_orders_stay_without_exchange_ids_or_timestamps_until_the_session_opens() {
    let evening: DateTime<Utc> = "2026-12-01T12:30:00Z".parse().unwrap(); // 18:00 IST
    let clock = ManualClock::new(evening);
    let simulator = on_clock(&clock, SimAccount::demo()).await;
    let broker = broker(&simulator, &SimAccount::demo()).await;
    let amo = limit_buy("amo1")
        .to_builder()
        .variety(Variety::Amo)
        .build()
        .unwrap();
    let placed = broker.place_order(&amo).await.unwrap().order_id;
    let waiting = status_of(&simulator, placed.as_str());
    assert_eq!(waiting.status, "AMO REQ RECEIVED");
    assert_eq!(
        (
            &waiting.exchange_order_id,
            &waiting.exchange_timestamp,
            &waiting.exchange_update_timestamp
        ),
        (&None, &None, &None)
    );
    assert_eq!(
        broker.order(&placed).await.unwrap().current.status,
        OrderStatus::Pending
    );

    clock.set("2026-12-02T03:44:59Z".parse().unwrap()); // 09:14:59 IST
    assert_eq!(
        status_of(&simulator, placed.as_str()).status,
        "AMO REQ RECEIVED"
    );
    clock.set("2026-12-02T03:45:00Z".parse().unwrap()); // 09:15 IST
    let open = status_of(&simulator, placed.as_str());
    assert_eq!(open.status, "OPEN");
    assert!(open.exchange_order_id.is_some());
    assert_eq!(
        open.exchange_timestamp.as_deref(),
        Some("2026-12-02 09:15:00")
    );
    assert_eq!(
        open.order_timestamp.as_deref(),
        Some("2026-12-01 18:00:00"),
        "placed the evening before"
    );
}

#[tokio::test]
async fn limits_rest_until_the_price_crosses_stops_trigger_and_ioc_leftovers_are_cancelled() {
    let clock = ManualClock::new(tuesday_morning());
    let simulator = on_clock(&clock, SimAccount::demo()).await;
    let broker = broker(&simulator, &SimAccount::demo()).await;
    let place = |request: OrderRequestBuilder| {
        let broker = &broker;
        async move {
            broker
                .place_order(&request.build().unwrap())
                .await
                .unwrap()
                .order_id
        }
    };
    let intraday =
        |side, order_type, quantity| on_sbin(side, order_type, Product::Intraday, quantity);
    let resting = place(intraday(Side::Buy, OrderType::Limit, 2).price(dec!(790))).await;
    let stop_sell = place(
        intraday(Side::Sell, OrderType::StopMarket, 3)
            .trigger_price(dec!(795))
            .market_protection(MarketProtection::Automatic),
    )
    .await;
    let stop_buy = place(
        intraday(Side::Buy, OrderType::StopLimit, 1)
            .trigger_price(dec!(805))
            .price(dec!(806)),
    )
    .await;
    let ioc = place(
        intraday(Side::Buy, OrderType::Limit, 1)
            .price(dec!(700))
            .validity(Validity::Ioc),
    )
    .await;
    let status = |id: &broker_core::OrderId| status_of(&simulator, id.as_str()).status;
    assert_eq!(status(&resting), "OPEN");
    assert_eq!(status(&stop_sell), "TRIGGER PENDING");
    assert_eq!(status(&stop_buy), "TRIGGER PENDING");
    assert_eq!(status(&ioc), "CANCELLED", "an IOC that cannot fill at once");

    simulator.set_price("NSE:SBIN", dec!(795));
    assert_eq!(status(&resting), "OPEN", "795 is above the buy limit");
    let stopped = status_of(&simulator, stop_sell.as_str());
    assert_eq!(
        (stopped.status.as_str(), stopped.average_price),
        ("COMPLETE", dec!(795))
    );

    simulator.set_price("NSE:SBIN", dec!(789.5));
    let filled = status_of(&simulator, resting.as_str());
    assert_eq!(
        (filled.status.as_str(), filled.average_price),
        ("COMPLETE", dec!(790)),
        "a resting limit fills at its own price"
    );

    simulator.set_price("NSE:SBIN", dec!(805.5));
    let triggered = status_of(&simulator, stop_buy.as_str());
    assert_eq!(
        (triggered.status.as_str(), triggered.average_price),
        ("COMPLETE", dec!(805.5))
    );
    let history = broker.order(&stop_buy).await.unwrap();
    assert!(
        history
            .earlier
            .iter()
            .any(|state| state.status == OrderStatus::TriggerPending),
        "{history:?}"
    );

    let trades = broker.trades().await.unwrap();
    assert_eq!(trades.len(), 3);
    let positions = broker.positions().await.unwrap();
    let intraday = positions
        .iter()
        .find(|position| position.product == Product::Intraday)
        .unwrap();
    assert_eq!(intraday.quantity, 2 + 1 - 3);
    assert_eq!(intraday.buy_value, dec!(790) * dec!(2) + dec!(805.5));
    assert_eq!(intraday.sell_value, dec!(795) * dec!(3));
}

#[tokio::test]
async fn iceberg_orders_place_one_leg_at_a_time_each_under_the_first() {
    let clock = ManualClock::new(tuesday_morning());
    let simulator = on_clock(&clock, SimAccount::demo()).await;
    let broker = broker(&simulator, &SimAccount::demo()).await;
    let iceberg = on_sbin(Side::Buy, OrderType::Limit, Product::Intraday, 10)
        .price(dec!(790))
        .variety(Variety::Iceberg)
        .iceberg_legs(3)
        .build()
        .unwrap();
    let first = broker.place_order(&iceberg).await.unwrap().order_id;
    let accepted = simulator.accepted_orders();
    assert_eq!(
        (
            accepted[0].body.iceberg_legs,
            accepted[0].body.iceberg_quantity
        ),
        (Some(3), Some(4)),
        "our client sent the legs and Kite's leg quantity"
    );
    assert_eq!(simulator.orders("ZS1234").len(), 1, "one leg at a time");
    simulator.set_price("NSE:SBIN", dec!(789));
    let legs = simulator.orders("ZS1234");
    assert_eq!(
        legs.iter().map(|leg| leg.quantity).collect::<Vec<_>>(),
        [4, 4, 2]
    );
    assert!(legs.iter().all(|leg| leg.status == "COMPLETE"));
    assert_eq!(legs[0].parent_order_id, None);
    for leg in &legs[1..] {
        assert_eq!(leg.parent_order_id.as_deref(), Some(first.as_str()));
        assert_eq!(leg.variety, "iceberg");
    }
    let meta = legs[2].meta.iceberg.as_ref().unwrap();
    assert_eq!(
        (
            meta.leg,
            meta.legs,
            meta.leg_quantity,
            meta.remaining_quantity
        ),
        (3, 3, 4, 0)
    );
    assert_eq!(broker.trades().await.unwrap().len(), 3);
}

#[tokio::test]
async fn autosliced_orders_are_placed_in_freeze_sized_slices_and_a_slice_over_the_margin_is_refused()
 {
    let clock = ManualClock::new(tuesday_morning());
    let mut account = SimAccount::demo();
    account.cash = dec!(14000000);
    let simulator = on_clock(&clock, account.clone()).await;
    let broker = broker(&simulator, &account).await;
    let request = OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nfo, "NIFTY26DECFUT"))
        .side(Side::Buy)
        .order_type(OrderType::Limit)
        .product(Product::Carryforward)
        .quantity(5000)
        .price(dec!(24000))
        .tag("slices1")
        .build()
        .unwrap();
    let error = broker.place_order(&request).await.unwrap_err();
    assert!(
        error.to_string().contains("maximum quantity of 1800"),
        "{error}"
    );
    let placed = broker.place_autoslice_order(&request).await.unwrap();
    assert_eq!(placed.slices.len(), 3);
    assert!(placed.slices[0].is_ok() && placed.slices[1].is_ok());
    let refused = placed.slices[2].as_ref().unwrap_err();
    assert!(
        matches!(refused, broker_core::BrokerError::OrderRejected { .. }),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("Insufficient funds"),
        "{refused}"
    );
    let orders = simulator.orders("ZS1234");
    assert_eq!(
        orders
            .iter()
            .map(|order| order.quantity)
            .collect::<Vec<_>>(),
        [1800, 1800]
    );
    let autoslice_tag = format!("autoslice:{}", placed.order_id);
    assert!(orders.iter().all(|order| {
        order
            .tags
            .as_ref()
            .is_some_and(|tags| tags.contains(&autoslice_tag) && tags.contains(&"slices1".into()))
    }));
    assert_eq!(
        broker
            .orders_with_tag(&"slices1".parse().unwrap())
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn orders_the_margin_or_the_holdings_do_not_cover_are_rejected_with_kites_reason() {
    let clock = ManualClock::new(tuesday_morning());
    let simulator = on_clock(&clock, SimAccount::demo()).await;
    let broker = broker(&simulator, &SimAccount::demo()).await;
    let too_big = on_sbin(Side::Buy, OrderType::Limit, Product::Delivery, 200)
        .price(dec!(800))
        .build()
        .unwrap();
    let placed = broker.place_order(&too_big).await.unwrap().order_id;
    let rejected = status_of(&simulator, placed.as_str());
    assert_eq!(rejected.status, "REJECTED");
    assert_eq!(
        rejected.exchange_order_id, None,
        "never reached the exchange"
    );
    assert_eq!(
        rejected.status_message.as_deref(),
        Some(
            "Insufficient funds. Required margin is 160000.00 but available margin is 100000.00. Check the orderbook for open orders."
        )
    );
    assert!(
        rejected
            .status_message_raw
            .as_deref()
            .unwrap()
            .starts_with("RMS:Margin Exceeds,Required:160000.00, Available:100000.00")
    );
    let oversold = broker
        .place_order(&sbin(Side::Sell, OrderType::Market, Product::Delivery, 17))
        .await
        .unwrap()
        .order_id;
    let refused = status_of(&simulator, oversold.as_str());
    assert_eq!(refused.status, "REJECTED");
    assert!(
        refused
            .status_message
            .unwrap()
            .contains("Insufficient holdings"),
        "16 shares held"
    );
    let sold = broker
        .place_order(&sbin(Side::Sell, OrderType::Market, Product::Delivery, 16))
        .await
        .unwrap()
        .order_id;
    assert_eq!(status_of(&simulator, sold.as_str()).status, "COMPLETE");
    let funds = broker.funds().await.unwrap();
    assert_eq!(funds.available_cash, dec!(100000));
}

#[tokio::test]
async fn delivery_buys_are_positions_on_their_day_then_t1_holdings_then_settled_holdings() {
    let clock = ManualClock::new(tuesday_morning());
    let simulator = on_clock(&clock, SimAccount::demo()).await;
    let account = SimAccount::demo();
    let today = broker(&simulator, &account).await;
    today
        .place_order(&sbin(Side::Buy, OrderType::Market, Product::Delivery, 5))
        .await
        .unwrap();
    today
        .place_order(&sbin(Side::Sell, OrderType::Market, Product::Delivery, 3))
        .await
        .unwrap();
    let future = OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nfo, "NIFTY26DECFUT"))
        .side(Side::Sell)
        .order_type(OrderType::Limit)
        .product(Product::Carryforward)
        .quantity(1)
        .price(dec!(24000))
        .build()
        .unwrap();
    today.place_order(&future).await.unwrap();
    let holdings = raw_holdings(&today).await;
    assert_eq!(
        (
            holdings[0].quantity,
            holdings[0].t1_quantity,
            holdings[0].used_quantity
        ),
        (16, 0, 0),
        "the day's buys are positions: only settled shares are held"
    );
    let positions = today.positions().await.unwrap();
    let delivery = positions
        .iter()
        .find(|position| position.product == Product::Delivery)
        .unwrap();
    assert_eq!(
        delivery.quantity, 2,
        "bought 5, sold 3 (of the day's own buys)"
    );

    clock.set(tuesday_morning() + Duration::days(1));
    let next_day = broker(&simulator, &account).await;
    let holdings = raw_holdings(&next_day).await;
    assert_eq!(
        (
            holdings[0].quantity,
            holdings[0].t1_quantity,
            holdings[0].opening_quantity
        ),
        (16, 2, 18),
        "bought yesterday: T+1"
    );
    assert_eq!(next_day.holdings().await.unwrap()[0].quantity, 18);
    let positions = next_day.positions().await.unwrap();
    assert_eq!(positions.len(), 1, "only the carried future: {positions:?}");
    assert_eq!(positions[0].quantity, -1);
    assert!(
        next_day.trades().await.unwrap().is_empty(),
        "trades are the day's"
    );
    assert!(
        next_day.orders().await.unwrap().is_empty(),
        "orders are the day's"
    );
    let cash = next_day.funds().await.unwrap().available_cash;
    assert_eq!(
        cash,
        dec!(100000) - dec!(801.05) * dec!(2),
        "the day's delivery cash"
    );

    clock.set(tuesday_morning() + Duration::days(2));
    let settled = broker(&simulator, &account).await;
    let holdings = raw_holdings(&settled).await;
    assert_eq!((holdings[0].quantity, holdings[0].t1_quantity), (18, 0));

    // Friday's buys are T+1 on Monday, not on the weekend.
    clock.set("2026-12-04T04:30:00Z".parse().unwrap());
    let friday = broker(&simulator, &account).await;
    friday
        .place_order(&sbin(Side::Buy, OrderType::Market, Product::Delivery, 1))
        .await
        .unwrap();
    clock.set("2026-12-07T04:30:00Z".parse().unwrap());
    let monday = broker(&simulator, &account).await;
    let holdings = raw_holdings(&monday).await;
    assert_eq!((holdings[0].quantity, holdings[0].t1_quantity), (18, 1));
}

async fn raw_holdings(broker: &Zerodha) -> Vec<broker_zerodha::models::WireHolding> {
    broker
        .client()
        .holdings(&broker.authorization().unwrap())
        .await
        .unwrap()
}

/// Field names of Kite's own samples (zerodha/kiteconnect-mocks), each answer of the
/// simulator must have them all.
const ORDER_FIELDS: [&str; 31] = [
    "average_price",
    "cancelled_quantity",
    "disclosed_quantity",
    "exchange",
    "exchange_order_id",
    "exchange_timestamp",
    "exchange_update_timestamp",
    "filled_quantity",
    "guid",
    "instrument_token",
    "market_protection",
    "meta",
    "modified",
    "order_id",
    "order_timestamp",
    "order_type",
    "parent_order_id",
    "pending_quantity",
    "placed_by",
    "price",
    "product",
    "quantity",
    "status",
    "status_message",
    "status_message_raw",
    "tag",
    "tradingsymbol",
    "transaction_type",
    "trigger_price",
    "validity",
    "variety",
];
const TRADE_FIELDS: [&str; 13] = [
    "average_price",
    "exchange",
    "exchange_order_id",
    "exchange_timestamp",
    "fill_timestamp",
    "instrument_token",
    "order_id",
    "order_timestamp",
    "product",
    "quantity",
    "trade_id",
    "tradingsymbol",
    "transaction_type",
];
const POSITION_FIELDS: [&str; 29] = [
    "average_price",
    "buy_m2m",
    "buy_price",
    "buy_quantity",
    "buy_value",
    "close_price",
    "day_buy_price",
    "day_buy_quantity",
    "day_buy_value",
    "day_sell_price",
    "day_sell_quantity",
    "day_sell_value",
    "exchange",
    "instrument_token",
    "last_price",
    "m2m",
    "multiplier",
    "overnight_quantity",
    "pnl",
    "product",
    "quantity",
    "realised",
    "sell_m2m",
    "sell_price",
    "sell_quantity",
    "sell_value",
    "tradingsymbol",
    "unrealised",
    "value",
];
const HOLDING_FIELDS: [&str; 25] = [
    "authorisation",
    "authorised_date",
    "authorised_quantity",
    "average_price",
    "close_price",
    "collateral_quantity",
    "collateral_type",
    "day_change",
    "day_change_percentage",
    "discrepancy",
    "exchange",
    "instrument_token",
    "isin",
    "last_price",
    "mtf",
    "opening_quantity",
    "pnl",
    "price",
    "product",
    "quantity",
    "realised_quantity",
    "short_quantity",
    "t1_quantity",
    "tradingsymbol",
    "used_quantity",
];
const PROFILE_FIELDS: [&str; 11] = [
    "avatar_url",
    "broker",
    "email",
    "exchanges",
    "meta",
    "order_types",
    "products",
    "user_id",
    "user_name",
    "user_shortname",
    "user_type",
];
const QUOTE_FIELDS: [&str; 17] = [
    "average_price",
    "buy_quantity",
    "depth",
    "instrument_token",
    "last_price",
    "last_quantity",
    "last_trade_time",
    "lower_circuit_limit",
    "net_change",
    "ohlc",
    "oi",
    "oi_day_high",
    "oi_day_low",
    "sell_quantity",
    "timestamp",
    "upper_circuit_limit",
    "volume",
];
const UTILISED_FIELDS: [&str; 12] = [
    "debits",
    "exposure",
    "m2m_realised",
    "m2m_unrealised",
    "option_premium",
    "payout",
    "span",
    "holding_sales",
    "turnover",
    "liquid_collateral",
    "stock_collateral",
    "delivery",
];

fn assert_fields(what: &str, value: &serde_json::Value, fields: &[&str]) {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("{what}: {value}"));
    let missing: Vec<_> = fields
        .iter()
        .filter(|field| !object.contains_key(**field))
        .collect();
    assert!(missing.is_empty(), "{what} lacks {missing:?}: {value}");
}

#[tokio::test]
async fn every_answer_has_every_field_of_kites_own_samples() {
    let clock = ManualClock::new(tuesday_morning());
    let simulator = on_clock(&clock, SimAccount::demo()).await;
    let kite = RawKite::logged_in(&simulator, &SimAccount::demo()).await;
    let (status, body) = kite
        .place(
            "regular",
            &[
                ("exchange", "NSE"),
                ("tradingsymbol", "SBIN"),
                ("transaction_type", "BUY"),
                ("quantity", "1"),
                ("product", "MIS"),
                ("order_type", "LIMIT"),
                ("price", "802"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let get = |path: &'static str| {
        let kite = &kite;
        async move {
            let (status, _, body) = kite.send(Method::GET, path, &[]).await;
            assert_eq!(status, 200, "{path}: {body}");
            body["data"].clone()
        }
    };
    for order in get("/orders").await.as_array().unwrap() {
        assert_fields("order", order, &ORDER_FIELDS);
        assert!(order["meta"].is_object(), "{order}");
    }
    let trades = get("/trades").await;
    assert_fields("trade", &trades[0], &TRADE_FIELDS);
    assert_eq!(
        trades[0]["order_timestamp"].as_str().map(str::len),
        Some(8),
        "a trade's order_timestamp is the time of day, as in Kite's sample"
    );
    let positions = get("/portfolio/positions").await;
    assert_fields("net position", &positions["net"][0], &POSITION_FIELDS);
    assert_fields("day position", &positions["day"][0], &POSITION_FIELDS);
    assert_fields(
        "holding",
        &get("/portfolio/holdings").await[0],
        &HOLDING_FIELDS,
    );
    assert_fields("profile", &get("/user/profile").await, &PROFILE_FIELDS);
    let margins = get("/user/margins").await;
    for segment in ["equity", "commodity"] {
        assert_fields(
            segment,
            &margins[segment],
            &["available", "enabled", "net", "utilised"],
        );
        assert_fields(segment, &margins[segment]["utilised"], &UTILISED_FIELDS);
    }
    let (_, _, quote) = kite.send(Method::GET, "/quote?i=NSE:INFY", &[]).await;
    assert_fields("quote", &quote["data"]["NSE:INFY"], &QUOTE_FIELDS);
    assert_eq!(
        quote["data"]["NSE:INFY"]["depth"]["buy"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );
    let price = quote["data"]["NSE:INFY"]["last_price"].clone();
    assert!(price.is_number(), "prices are JSON numbers: {price}");
    let _: Decimal = price.to_string().parse().unwrap();
}

#[tokio::test]
async fn a_limit_modified_into_a_market_order_carries_market_protection_and_fills() {
    let clock = ManualClock::new(tuesday_morning());
    let simulator = on_clock(&clock, SimAccount::demo()).await;
    let broker = broker(&simulator, &SimAccount::demo()).await;
    let resting = broker
        .place_order(
            &on_sbin(Side::Buy, OrderType::Limit, Product::Intraday, 2)
                .price(dec!(790))
                .build()
                .unwrap(),
        )
        .await
        .unwrap()
        .order_id;
    let unprotected = broker_core::OrderModification::builder(OrderType::Market, 2)
        .build()
        .unwrap();
    let error = broker
        .modify_order(&resting, &unprotected)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("market protection"),
        "Kite refuses a market order without protection: {error}"
    );
    let protected = broker_core::OrderModification::builder(OrderType::Market, 2)
        .market_protection(MarketProtection::Percent(3))
        .build()
        .unwrap();
    broker.modify_order(&resting, &protected).await.unwrap();
    let filled = status_of(&simulator, resting.as_str());
    assert_eq!(
        (
            filled.status.as_str(),
            filled.average_price,
            filled.market_protection
        ),
        ("COMPLETE", dec!(801.05), dec!(3))
    );
}
