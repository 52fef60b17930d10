//! Every domain type survives a JSON round trip unchanged, and money stays exact.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use broker_core::*;
use chrono::{DateTime, FixedOffset};
use rust_decimal_macros::dec;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) -> String {
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, value, "{json}");
    json
}

fn ist_time() -> DateTime<FixedOffset> {
    "2026-12-01T15:10:00.250+05:30".parse().unwrap()
}

fn sbin() -> InstrumentRef {
    InstrumentRef::new(Exchange::Nse, "SBIN-EQ").with_broker_token("3045")
}

#[test]
fn order_and_history_round_trip() {
    let order = Order {
        order_id: OrderId::from("261201000123456"),
        exchange_order_id: Some("1100000012345678".into()),
        instrument: sbin(),
        side: Side::Buy,
        order_type: OrderType::StopLimit,
        product: Product::Carryforward,
        validity: Validity::Ttl { minutes: 5 },
        variety: Variety::Regular,
        quantity: 10,
        filled_quantity: 4,
        price: Some(dec!(801.05)),
        trigger_price: Some(dec!(800.95)),
        average_price: Some(dec!(801.00)),
        status: OrderStatus::Rejected {
            reason: "RMS: insufficient margin".into(),
        },
        tag: Some("run1leg2".into()),
        updated_at: Some(ist_time()),
    };
    let json = round_trip(&order);
    assert!(
        json.contains("\"801.05\""),
        "prices travel as exact decimal strings: {json}"
    );
    assert_eq!(order.pending_quantity(), 6);
    round_trip(&OrderHistory {
        current: order.clone(),
        earlier: vec![order],
    });
}

#[test]
fn portfolio_types_round_trip() {
    round_trip(&Trade {
        trade_id: "T1".into(),
        order_id: OrderId::from("1"),
        instrument: sbin(),
        side: Side::Sell,
        product: Product::Intraday,
        quantity: 3,
        price: dec!(799.95),
        traded_at: Some(ist_time()),
    });
    round_trip(&Position {
        instrument: sbin(),
        product: Product::Mtf,
        quantity: -3,
        average_price: dec!(799.95),
        buy_quantity: 0,
        sell_quantity: 3,
        buy_value: dec!(0),
        sell_value: dec!(2399.85),
        last_price: Some(dec!(798)),
        pnl: Some(dec!(5.85)),
    });
    round_trip(&Holding {
        instrument: sbin(),
        isin: Some("INE062A01020".into()),
        quantity: 7,
        average_price: dec!(612.3333),
        last_price: None,
        pnl: None,
    });
    round_trip(&Funds {
        net: dec!(10000.5),
        available_cash: dec!(12000),
        utilised: dec!(1999.5),
    });
    round_trip(&Profile {
        broker: BrokerKind::AngelOne,
        user_id: "A123456".into(),
        name: "Asha".into(),
        email: None,
        exchanges: vec![Exchange::Nse, Exchange::Nfo],
    });
}

#[test]
fn market_data_round_trips() {
    round_trip(&Quote {
        instrument: sbin(),
        last_price: dec!(800.1),
        ohlc: Some(Ohlc {
            open: dec!(795),
            high: dec!(805.5),
            low: dec!(790.05),
            close: dec!(794),
        }),
        volume: Some(1_234_567),
        last_trade_at: Some(ist_time()),
    });
    round_trip(&LastPrice {
        instrument: sbin(),
        last_price: dec!(800.1),
    });
}

#[test]
fn instruments_round_trip() {
    round_trip(&Instrument {
        exchange: Exchange::Nfo,
        trading_symbol: "NIFTY26DEC24000CE".into(),
        broker_token: "35001".into(),
        exchange_token: "35001".into(),
        name: "NIFTY".into(),
        kind: InstrumentKind::CallOption,
        lot_size: 75,
        tick_size: dec!(0.05),
        expiry: Some("2026-12-29".parse().unwrap()),
        strike: Some(dec!(24000)),
    });
    round_trip(&InstrumentKind::Other("UNDIRC".into()));
}

#[test]
fn decimals_accept_json_numbers_from_brokers() {
    let funds: Funds =
        serde_json::from_str(r#"{"net":10000.55,"available_cash":"12000","utilised":0}"#).unwrap();
    assert_eq!(funds.net, dec!(10000.55));
}
