//! Market data: last prices, quotes and instrument search.

use std::collections::BTreeMap;

use broker_core::Exchange;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{
    as_number, as_number_opt, decimal, decimal_opt, i64, i64_opt, lenient_string, string_opt,
};

wire_enum! {
    /// `mode` of a quote request.
    QuoteMode {
        /// Last price only.
        Ltp => "LTP",
        /// Open, high, low, close and last price.
        Ohlc => "OHLC",
        /// Everything, including depth and volume.
        Full => "FULL",
    }
}

/// `getLtpData` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LtpBody {
    /// The exchange segment.
    pub exchange: Exchange,
    /// The trading symbol.
    #[serde(deserialize_with = "lenient_string")]
    pub tradingsymbol: String,
    /// The instrument's symbol token.
    #[serde(deserialize_with = "lenient_string")]
    pub symboltoken: String,
}

/// `data` of `getLtpData`; prices are JSON numbers in live answers (the docs' sample has
/// strings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireLtp {
    /// The exchange segment.
    #[serde(deserialize_with = "lenient_string")]
    pub exchange: String,
    /// The trading symbol.
    #[serde(deserialize_with = "lenient_string")]
    pub tradingsymbol: String,
    /// The instrument's symbol token.
    #[serde(deserialize_with = "lenient_string")]
    pub symboltoken: String,
    /// Last traded price.
    #[serde(deserialize_with = "decimal", serialize_with = "as_number")]
    pub ltp: Decimal,
    /// Day's open.
    #[serde(
        default,
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub open: Option<Decimal>,
    /// Day's high.
    #[serde(
        default,
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub high: Option<Decimal>,
    /// Day's low.
    #[serde(
        default,
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub low: Option<Decimal>,
    /// Previous close.
    #[serde(
        default,
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub close: Option<Decimal>,
}

/// `market/v1/quote` body: symbol tokens grouped by exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteBody {
    /// How much to return.
    pub mode: QuoteMode,
    /// Symbol tokens by exchange code (`{"NSE": ["3045"]}`).
    #[serde(rename = "exchangeTokens")]
    pub exchange_tokens: BTreeMap<Exchange, Vec<String>>,
}

/// `data` of `market/v1/quote`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireQuotes {
    /// Quotes found.
    #[serde(default)]
    pub fetched: Vec<WireQuote>,
    /// Symbol tokens the broker did not know.
    #[serde(default)]
    pub unfetched: Vec<serde_json::Value>,
}

/// One quote of `data.fetched[]`: LTP mode has the last price, OHLC mode adds open, high,
/// low and close, FULL mode everything below (with five levels of depth). Prices are JSON
/// numbers; what a mode leaves out is absent, not `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireQuote {
    /// The exchange segment.
    #[serde(deserialize_with = "lenient_string")]
    pub exchange: String,
    /// The trading symbol.
    #[serde(rename = "tradingSymbol", deserialize_with = "lenient_string")]
    pub trading_symbol: String,
    /// The instrument's symbol token.
    #[serde(rename = "symbolToken", deserialize_with = "lenient_string")]
    pub symbol_token: String,
    /// Last traded price.
    #[serde(deserialize_with = "decimal", serialize_with = "as_number")]
    pub ltp: Decimal,
    /// Day's open (OHLC and FULL modes).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub open: Option<Decimal>,
    /// Day's high.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub high: Option<Decimal>,
    /// Day's low.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub low: Option<Decimal>,
    /// Previous close.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub close: Option<Decimal>,
    /// Quantity of the last trade (FULL mode, as the rest).
    #[serde(
        rename = "lastTradeQty",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "i64_opt"
    )]
    pub last_trade_qty: Option<i64>,
    /// When the exchange sent the quote (`28-Nov-2026 09:15:02`).
    #[serde(
        rename = "exchFeedTime",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_opt"
    )]
    pub exch_feed_time: Option<String>,
    /// Last trade time (`28-Nov-2026 09:15:02`).
    #[serde(
        rename = "exchTradeTime",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_opt"
    )]
    pub exch_trade_time: Option<String>,
    /// Change from the previous close.
    #[serde(
        rename = "netChange",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub net_change: Option<Decimal>,
    /// Change from the previous close, in percent.
    #[serde(
        rename = "percentChange",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub percent_change: Option<Decimal>,
    /// Average traded price.
    #[serde(
        rename = "avgPrice",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub avg_price: Option<Decimal>,
    /// Day's volume.
    #[serde(
        rename = "tradeVolume",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "i64_opt"
    )]
    pub trade_volume: Option<i64>,
    /// Open interest (derivatives).
    #[serde(
        rename = "opnInterest",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "i64_opt"
    )]
    pub opn_interest: Option<i64>,
    /// Lower circuit limit.
    #[serde(
        rename = "lowerCircuit",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub lower_circuit: Option<Decimal>,
    /// Upper circuit limit.
    #[serde(
        rename = "upperCircuit",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub upper_circuit: Option<Decimal>,
    /// Total quantity bid.
    #[serde(
        rename = "totBuyQuan",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "i64_opt"
    )]
    pub tot_buy_quan: Option<i64>,
    /// Total quantity offered.
    #[serde(
        rename = "totSellQuan",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "i64_opt"
    )]
    pub tot_sell_quan: Option<i64>,
    /// 52-week low.
    #[serde(
        rename = "52WeekLow",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub week_52_low: Option<Decimal>,
    /// 52-week high.
    #[serde(
        rename = "52WeekHigh",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub week_52_high: Option<Decimal>,
    /// Best five bids and offers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<WireDepth>,
}

/// `depth` of a FULL quote.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireDepth {
    /// Bids, best first.
    #[serde(default)]
    pub buy: Vec<WireDepthLevel>,
    /// Offers, best first.
    #[serde(default)]
    pub sell: Vec<WireDepthLevel>,
}

/// One level of depth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireDepthLevel {
    /// The price.
    #[serde(deserialize_with = "decimal", serialize_with = "as_number")]
    pub price: Decimal,
    /// The quantity at that price.
    #[serde(default, deserialize_with = "i64")]
    pub quantity: i64,
    /// How many orders.
    #[serde(default, deserialize_with = "i64")]
    pub orders: i64,
}

/// `searchScrip` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchScripBody {
    /// The exchange segment.
    pub exchange: Exchange,
    /// Text to look for in trading symbols.
    #[serde(deserialize_with = "lenient_string")]
    pub searchscrip: String,
}

/// One match of `searchScrip`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireScrip {
    /// The exchange segment.
    #[serde(deserialize_with = "lenient_string")]
    pub exchange: String,
    /// The trading symbol.
    #[serde(deserialize_with = "lenient_string")]
    pub tradingsymbol: String,
    /// The instrument's symbol token.
    #[serde(deserialize_with = "lenient_string")]
    pub symboltoken: String,
}

/// `getCandleData` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandleDataBody {
    /// The exchange segment (`NSE`).
    #[serde(deserialize_with = "lenient_string")]
    pub exchange: String,
    /// The instrument's symbol token.
    #[serde(deserialize_with = "lenient_string")]
    pub symboltoken: String,
    /// `ONE_MINUTE`, `THREE_MINUTE`, `FIVE_MINUTE`, `TEN_MINUTE`, `FIFTEEN_MINUTE`,
    /// `THIRTY_MINUTE`, `ONE_HOUR` or `ONE_DAY`.
    #[serde(deserialize_with = "lenient_string")]
    pub interval: String,
    /// From (`2026-11-27 09:15`, IST).
    #[serde(deserialize_with = "lenient_string")]
    pub fromdate: String,
    /// To, exclusive (same format).
    #[serde(deserialize_with = "lenient_string")]
    pub todate: String,
}

/// One candle of `getCandleData`: `[time, open, high, low, close, volume]`, prices as JSON
/// numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireCandle(
    /// The candle's start (`2026-11-27T09:15:00+05:30`).
    #[serde(deserialize_with = "lenient_string")]
    pub String,
    /// Open.
    #[serde(deserialize_with = "decimal", serialize_with = "as_number")]
    pub Decimal,
    /// High.
    #[serde(deserialize_with = "decimal", serialize_with = "as_number")]
    pub Decimal,
    /// Low.
    #[serde(deserialize_with = "decimal", serialize_with = "as_number")]
    pub Decimal,
    /// Close.
    #[serde(deserialize_with = "decimal", serialize_with = "as_number")]
    pub Decimal,
    /// Volume.
    #[serde(deserialize_with = "i64")]
    pub i64,
);

#[cfg(feature = "sim")]
impl WireCandle {
    /// A candle that opened, stayed and closed at `price`, with no volume.
    pub(crate) fn flat(time: String, price: Decimal) -> Self {
        Self(time, price, price, price, price, 0)
    }
}
