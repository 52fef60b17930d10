//! Fuzzes how Kite answers are decoded and mapped: arbitrary bytes and arbitrary JSON shapes,
//! with any status, through the client's decoding of every wire type (and of refusals), and
//! the mapping of what decodes into domain types. Nothing may panic; every error must
//! display. Bounded to [`broker_core::fuzzing::CASES`] cases per run.

use broker_core::fuzzing::{
    Answer, CASES, RecordFields, answer, check_error, check_mapped, json_data, json_scalar,
    json_string,
};
use broker_core::{HttpClientConfig, OrderId, RateLimiter};
use proptest::prelude::*;
use reqwest::Url;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use std::sync::Arc;

use super::client::ZerodhaHttpClient;
use super::endpoint::Endpoint;
use super::models::{
    QuoteMap, WireAutoslicePlacement, WireFunds, WireFundsBySegment, WireHolding, WireLtp,
    WireOhlcQuote, WireOrder, WireOrderId, WirePositions, WireProfile, WireQuote, WireSession,
    WireTrade,
};
use crate::mapping;

/// Kite's envelope keys and the wire types' text fields.
#[rustfmt::skip]
const TEXT_FIELDS: &[&str] = &[
    "auction_number",
    "status", "message", "error_type", "data", "order_id", "exchange_order_id", "parent_order_id",
    "status_message", "status_message_raw", "placed_by", "variety", "order_type", "product",
    "validity", "transaction_type", "exchange", "tradingsymbol", "tag", "order_timestamp",
    "exchange_timestamp", "exchange_update_timestamp", "fill_timestamp", "trade_id", "user_id",
    "user_name", "user_shortname", "user_type", "email", "broker",
    "avatar_url", "access_token", "public_token", "refresh_token", "login_time",
    "api_key", "guid", "last_trade_time", "timestamp", "isin",
    "authorised_date", "collateral_type", "error",
    "position_type",
];

/// The wire types' whole-number fields (quantities, tokens, counts).
#[rustfmt::skip]
const INTEGER_FIELDS: &[&str] = &[
    "quantity", "filled_quantity", "pending_quantity", "cancelled_quantity", "disclosed_quantity",
    "market_protection", "validity_ttl", "t1_quantity", "realised_quantity", "authorised_quantity",
    "opening_quantity", "collateral_quantity", "used_quantity", "short_quantity",
    "overnight_quantity", "buy_quantity", "sell_quantity", "day_buy_quantity", "day_sell_quantity",
    "volume", "oi", "oi_day_high", "oi_day_low", "last_quantity", "leg", "leg_quantity",
    "iceberg_legs", "iceberg_quantity", "instrument_token",
];

/// The wire types' decimal fields (prices, amounts).
#[rustfmt::skip]
const DECIMAL_FIELDS: &[&str] = &[
    "price", "trigger_price", "average_price", "close_price", "last_price", "pnl",
    "day_change", "day_change_percentage", "multiplier", "buy_price", "buy_value", "sell_price",
    "sell_value", "m2m", "unrealised", "realised", "value", "buy_m2m", "sell_m2m", "day_buy_price",
    "day_buy_value", "day_sell_price", "day_sell_value", "net", "adhoc_margin", "cash",
    "opening_balance", "live_balance", "intraday_payin", "collateral", "debits", "exposure",
    "span", "option_premium", "holding_sales", "turnover", "m2m_realised", "m2m_unrealised",
    "payout", "delivery", "net_change", "lower_circuit_limit", "upper_circuit_limit", "open",
    "high", "low", "close",
];

/// Kite's enum values, error types, dates and the keys of its keyed answers.
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "NSE", "BSE", "NFO", "BFO", "MCX", "CDS", "regular", "amo", "co", "iceberg", "auction",
    "LIMIT", "MARKET", "SL", "SL-M", "CNC", "MIS", "NRML", "MTF", "DAY", "IOC", "TTL", "BUY",
    "SELL", "OPEN", "COMPLETE", "REJECTED", "CANCELLED", "TRIGGER PENDING", "UPDATE", "success",
    "error", "TokenException", "InputException", "OrderException", "NetworkException",
    "GeneralException", "PermissionException", "2026-11-28 09:15:00", "2026-11-28", "INFY", "SBIN",
    "net", "day", "equity", "commodity", "NSE:INFY", "BSE:SBIN",
];

/// Every field, by kind.
const FIELDS: RecordFields = RecordFields {
    text: TEXT_FIELDS,
    integer: INTEGER_FIELDS,
    decimal: DECIMAL_FIELDS,
    words: WORDS,
};

/// Kite's envelope around arbitrary data: `status` mostly `success`, sometimes `error` with an
/// `error_type`, sometimes anything.
fn envelope() -> impl Strategy<Value = String> {
    let status = prop_oneof![
        4 => Just(json_string("success")),
        2 => Just(json_string("error")),
        1 => json_scalar(),
    ];
    let error_type = prop_oneof![
        3 => Just(None),
        1 => prop::sample::select(
            &["TokenException", "InputException", "OrderException", "NetworkException", "GeneralException"][..]
        )
        .prop_map(|kind| Some(json_string(kind))),
        1 => json_scalar().prop_map(Some),
    ];
    // A message that is not text makes the envelope unreadable: mostly text.
    let message = prop_oneof![
        3 => Just(json_string("")),
        1 => json_scalar(),
    ];
    (
        status,
        message,
        error_type,
        json_data(FIELDS),
        prop::bool::weighted(0.9),
    )
        .prop_map(|(status, message, error_type, data, with_data)| {
            let mut fields = vec![
                format!("\"status\":{status}"),
                format!("\"message\":{message}"),
            ];
            if let Some(error_type) = error_type {
                fields.push(format!("\"error_type\":{error_type}"));
            }
            if with_data {
                fields.push(format!("\"data\":{data}"));
            }
            format!("{{{}}}", fields.join(","))
        })
}

fn client() -> ZerodhaHttpClient {
    let http = HttpClientConfig::default()
        .allow_plain_http()
        .build()
        .unwrap();
    ZerodhaHttpClient::new(
        &http,
        Url::parse("http://127.0.0.1:9").unwrap(),
        SecretString::from("fuzzkey"),
        Arc::new(RateLimiter::new([])),
    )
}

/// Reads `answer` as the answer of `endpoint` both ways the client can (as a success's data,
/// and as a refusal); whatever decodes is handed to `map`, and every error is displayed
/// (nothing may panic).
fn exercise<T: DeserializeOwned>(
    client: &ZerodhaHttpClient,
    endpoint: Endpoint,
    answer: &Answer,
    map: impl Fn(&T),
) {
    let order_id = OrderId::new("250101000000001");
    let order_id = endpoint.call_kind().changes_orders().then_some(&order_id);
    match client.decode::<T>(endpoint, order_id, answer.status, &answer.body) {
        Ok(data) => map(&data),
        Err(error) => check_error(&error),
    }
    check_error(&client.refusal(
        endpoint,
        order_id,
        answer.status,
        answer.retry_after,
        &answer.body,
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn no_answer_makes_decoding_or_mapping_panic(
        answer in answer(TEXT_FIELDS, envelope()),
    ) {
        let client = client();
        exercise::<WireSession>(&client, Endpoint::GenerateSession, &answer, |_| {});
        exercise::<WireProfile>(&client, Endpoint::Profile, &answer, |wire| {
                let _ = mapping::profile(wire);
            });
        exercise::<WireFundsBySegment>(&client, Endpoint::Funds, &answer, |segments| {
            for funds in [&segments.equity, &segments.commodity].into_iter().flatten() {
                {
                let _ = mapping::funds(funds);
            };
            }
        });
        exercise::<WireFunds>(&client, Endpoint::SegmentFunds, &answer, |wire| {
                let _ = mapping::funds(wire);
            });
        for endpoint in [Endpoint::PlaceOrder, Endpoint::ModifyOrder, Endpoint::CancelOrder] {
            exercise::<WireOrderId>(&client, endpoint, &answer, |_| {});
        }
        exercise::<WireAutoslicePlacement>(&client, Endpoint::PlaceOrder, &answer, |wire| {
            check_mapped(mapping::autoslice(wire, None));
        });
        for endpoint in [Endpoint::OrderBook, Endpoint::OrderHistory] {
            exercise::<Vec<WireOrder>>(&client, endpoint, &answer, |rows| {
                rows.iter().for_each(|row| check_mapped(mapping::order(row)));
            });
        }
        for endpoint in [Endpoint::TradeBook, Endpoint::OrderTrades] {
            exercise::<Vec<WireTrade>>(&client, endpoint, &answer, |rows| {
                rows.iter().for_each(|row| check_mapped(mapping::trade(row)));
            });
        }
        exercise::<WirePositions>(&client, Endpoint::Positions, &answer, |positions| {
            for row in positions.net.iter().chain(&positions.day) {
                check_mapped(mapping::position(row));
            }
        });
        exercise::<bool>(&client, Endpoint::ConvertPosition, &answer, |_| {});
        exercise::<Vec<WireHolding>>(&client, Endpoint::Holdings, &answer, |rows| {
            rows.iter().for_each(|row| check_mapped(mapping::holding(row)));
        });
        exercise::<QuoteMap<WireQuote>>(&client, Endpoint::Quote, &answer, |quotes| {
            quotes.iter().for_each(|(key, quote)| check_mapped(mapping::quote(key, quote)));
        });
        exercise::<QuoteMap<WireOhlcQuote>>(&client, Endpoint::Ohlc, &answer, |_| {});
        exercise::<QuoteMap<WireLtp>>(&client, Endpoint::Ltp, &answer, |prices| {
            prices.iter().for_each(|(key, price)| check_mapped(mapping::last_price(key, price)));
        });
    }
}
