//! Fuzzes how SmartAPI answers are decoded and mapped: arbitrary bytes and arbitrary JSON
//! shapes, with any status, through the client's decoding of every wire type and the mapping
//! of what decodes into domain types. Nothing may panic; every error must display. Bounded to
//! [`broker_core::fuzzing::CASES`] cases per run.

use broker_core::HttpClientConfig;
use broker_core::fuzzing::{
    Answer, CASES, RecordFields, answer, check_error, check_mapped, json_data, json_scalar,
    json_string,
};
use chrono::NaiveDate;
use proptest::prelude::*;
use secrecy::SecretString;
use serde::de::DeserializeOwned;

use super::client::AngelOneHttpClient;
use super::endpoint::Endpoint;
use super::models::{
    WireAllHoldings, WireCandle, WireFunds, WireHolding, WireLtp, WireOrder, WireOrderAck,
    WirePosition, WireProfile, WireQuotes, WireScrip, WireSession, WireTrade,
};
use crate::mapping::{self, OrderIdentity};

/// SmartAPI's envelope keys and the wire types' text fields (as sent, in either case style).
#[rustfmt::skip]
const TEXT_FIELDS: &[&str] = &[
    "status", "message", "errorcode", "data", "orderid", "uniqueorderid", "script", "jwtToken",
    "refreshToken", "feedToken", "clientcode", "name", "email", "exchanges", "products",
    "lastlogintime", "broker", "variety", "ordertype", "producttype", "duration", "tradingsymbol",
    "transactiontype", "exchange", "symboltoken", "ordertag", "instrumenttype", "optiontype",
    "expirydate", "parentorderid", "orderstatus", "exchorderupdatetime", "exchtime",
    "exchangeorderid", "text", "updatetime", "fillid", "filltime", "isin", "collateraltype",
    "holdings", "totalholding", "fetched", "unfetched", "tradingSymbol", "symbolToken",
    "exchFeedTime", "exchTradeTime", "depth", "buy", "sell",
];

/// The wire types' whole-number fields (quantities, tokens, counts).
#[rustfmt::skip]
const INTEGER_FIELDS: &[&str] = &[
    "quantity", "disclosedquantity", "lotsize", "cancelsize", "filledshares", "unfilledshares",
    "fillsize", "netqty", "buyqty", "sellqty", "t1quantity", "realisedquantity",
    "authorisedquantity", "collateralquantity", "lastTradeQty", "tradeVolume", "opnInterest",
    "totBuyQuan", "totSellQuan", "orders",
];

/// The wire types' decimal fields (prices, amounts).
#[rustfmt::skip]
const DECIMAL_FIELDS: &[&str] = &[
    "net", "availablecash", "availableintradaypayin", "availablelimitmargin", "collateral",
    "m2munrealized", "m2mrealized", "utiliseddebits", "price", "triggerprice", "squareoff",
    "stoploss", "trailingstoploss", "strikeprice", "averageprice", "fillprice", "tradevalue",
    "buyavgprice", "sellavgprice", "avgnetprice", "buyamount", "sellamount", "pnl", "realised",
    "unrealised", "ltp", "close", "profitandloss", "haircut", "totalholdingvalue", "totalinvvalue",
    "totalprofitandloss", "totalpnlpercentage", "open", "high", "low", "netChange",
    "percentChange", "avgPrice", "lowerCircuit", "upperCircuit", "52WeekLow", "52WeekHigh",
];

/// SmartAPI's enum values and the shapes of its dates.
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "NSE", "BSE", "NFO", "MCX", "CDS", "BFO", "NORMAL", "STOPLOSS", "AMO", "ROBO", "LIMIT",
    "MARKET", "STOPLOSS_LIMIT", "STOPLOSS_MARKET", "BUY", "SELL", "DELIVERY", "INTRADAY",
    "CARRYFORWARD", "MARGIN", "BO", "DAY", "IOC", "open", "complete", "rejected", "cancelled",
    "trigger pending", "open pending", "SBIN-EQ", "3045", "EQ", "CE", "PE", "FUTSTK", "OPTIDX",
    "28-Nov-2026 09:15:00", "2026-11-28 09:15:00", "28-Nov-2026", "09:15:00", "28NOV2026",
    "holdings", "totalholding", "fetched", "unfetched",
];

/// Every field, by kind.
const FIELDS: RecordFields = RecordFields {
    text: TEXT_FIELDS,
    integer: INTEGER_FIELDS,
    decimal: DECIMAL_FIELDS,
    words: WORDS,
};

/// SmartAPI's envelope around arbitrary data: `status` mostly a boolean, the rest arbitrary.
fn envelope() -> impl Strategy<Value = String> {
    let status = prop_oneof![
        4 => Just("true".to_owned()),
        2 => Just("false".to_owned()),
        1 => json_scalar(),
    ];
    // A non-empty error code makes any answer a refusal: mostly empty, so data gets decoded.
    let code = prop_oneof![
        4 => Just(json_string("")),
        1 => prop::sample::select(&["AG8001", "AB1010", "AB8050", "AG7002", "AB4006"][..])
            .prop_map(json_string),
        1 => json_scalar(),
    ];
    (
        status,
        json_scalar(),
        code,
        json_data(FIELDS),
        prop::bool::weighted(0.9),
    )
        .prop_map(|(status, message, code, data, with_data)| {
            let data = if with_data {
                format!(",\"data\":{data}")
            } else {
                String::new()
            };
            format!("{{\"status\":{status},\"message\":{message},\"errorcode\":{code}{data}}}")
        })
}

fn client() -> AngelOneHttpClient {
    let http = HttpClientConfig::default()
        .allow_plain_http()
        .build()
        .unwrap();
    AngelOneHttpClient::new(http, "http://127.0.0.1:9", &SecretString::from("fuzzkey")).unwrap()
}

/// Decodes `answer` as the answer of `endpoint`; whatever decodes is handed to `map`, and
/// every error is displayed (neither may panic).
fn exercise<T: DeserializeOwned>(
    client: &AngelOneHttpClient,
    endpoint: Endpoint,
    answer: &Answer,
    map: impl Fn(&T),
) {
    match client.decode_answer::<T>(endpoint, answer.status, answer.retry_after, &answer.body) {
        Ok((_, Some(data))) => map(&data),
        Ok((_, None)) => {}
        Err(error) => check_error(&error),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn no_answer_makes_decoding_or_mapping_panic(
        answer in answer(TEXT_FIELDS, envelope()),
    ) {
        let client = client();
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        exercise::<WireSession>(&client, Endpoint::Login, &answer, |_| {});
        exercise::<WireProfile>(&client, Endpoint::Profile, &answer, |wire| {
                let _ = mapping::profile(wire);
            });
        exercise::<WireFunds>(&client, Endpoint::Funds, &answer, |wire| {
                let _ = mapping::funds(wire);
            });
        for endpoint in [Endpoint::PlaceOrder, Endpoint::ModifyOrder, Endpoint::CancelOrder] {
            exercise::<WireOrderAck>(&client, endpoint, &answer, |_| {});
        }
        exercise::<Vec<WireOrder>>(&client, Endpoint::OrderBook, &answer, |rows| {
            for row in rows {
                check_mapped(mapping::order(row));
                check_mapped(OrderIdentity::from_wire(row));
            }
        });
        exercise::<WireOrder>(&client, Endpoint::OrderDetails, &answer, |row| check_mapped(mapping::order(row)));
        exercise::<Vec<WireTrade>>(&client, Endpoint::TradeBook, &answer, |rows| {
            rows.iter().for_each(|row| check_mapped(mapping::trade(row, today)));
        });
        exercise::<Vec<WirePosition>>(&client, Endpoint::Positions, &answer, |rows| {
            rows.iter().for_each(|row| check_mapped(mapping::position(row)));
        });
        exercise::<Vec<WireHolding>>(&client, Endpoint::Holdings, &answer, |rows| {
            rows.iter().for_each(|row| check_mapped(mapping::holding(row)));
        });
        exercise::<WireAllHoldings>(&client, Endpoint::AllHoldings, &answer, |all| {
            all.holdings.iter().for_each(|row| check_mapped(mapping::holding(row)));
        });
        exercise::<WireQuotes>(&client, Endpoint::Quote, &answer, |quotes| {
            for row in &quotes.fetched {
                check_mapped(mapping::quote(row));
                check_mapped(mapping::last_price(row));
            }
        });
        exercise::<WireLtp>(&client, Endpoint::Ltp, &answer, |_| {});
        exercise::<Vec<WireCandle>>(&client, Endpoint::CandleData, &answer, |_| {});
        exercise::<Vec<WireScrip>>(&client, Endpoint::SearchScrip, &answer, |_| {});
    }
}
