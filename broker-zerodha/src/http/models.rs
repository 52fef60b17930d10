//! Wire types of Kite Connect v3, lenient on input: missing fields default, nullable fields
//! are `Option`, numbers decode into `Decimal` whether sent as numbers or strings.
//!
//! Response shapes follow <https://kite.trade/docs/connect/v3/> and the samples in
//! `zerodha/kiteconnect-mocks`. Enumerations stay `String` here; [`super::parse`] turns them
//! into domain types. The simulator serialises the same structs.

use std::collections::HashMap;
use std::fmt;

use rust_decimal::Decimal;
use secrecy::SecretString;
use serde::{Deserialize, Serialize, Serializer};

use broker_core::credentials::REDACTED;

/// Writes a decimal as a JSON number with its exact digits, as Kite does: SDKs do arithmetic
/// on these fields, so a string would break them. Only the simulator serialises these types.
fn json_number<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    let raw = serde_json::value::RawValue::from_string(value.normalize().to_string())
        .map_err(serde::ser::Error::custom)?;
    raw.serialize(serializer)
}

/// The envelope of every JSON answer: `{"status":"success","data":…}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Envelope<T> {
    /// `success` or `error`.
    pub status: String,
    /// The payload.
    pub data: T,
}

/// The envelope of an error: `{"status":"error","message":…,"error_type":…}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ErrorEnvelope {
    /// `error`.
    #[serde(default)]
    pub status: String,
    /// Kite's explanation.
    #[serde(default)]
    pub message: String,
    /// The exception class, such as `TokenException`.
    #[serde(default)]
    pub error_type: Option<String>,
}

/// The session returned by `POST /session/token` and `POST /session/refresh_token`: the
/// user's profile plus the tokens.
#[derive(Clone, Deserialize)]
#[non_exhaustive]
pub struct KiteSession {
    /// Who logged in.
    #[serde(flatten)]
    pub profile: UserProfile,
    /// The access token for `Authorization: token api_key:access_token`.
    pub access_token: SecretString,
    /// The public token (for the websocket of some apps).
    #[serde(default)]
    pub public_token: Option<SecretString>,
    /// The refresh token: empty unless the app is an approved platform.
    #[serde(default)]
    pub refresh_token: Option<SecretString>,
    /// When the user logged in (`YYYY-MM-DD HH:MM:SS`, IST).
    #[serde(default)]
    pub login_time: Option<String>,
}

impl fmt::Debug for KiteSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KiteSession")
            .field("user_id", &self.profile.user_id)
            .field("access_token", &REDACTED)
            .field(
                "public_token",
                &self.public_token.as_ref().map(|_| REDACTED),
            )
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| REDACTED),
            )
            .field("login_time", &self.login_time)
            .finish_non_exhaustive()
    }
}

/// `GET /user/profile`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct UserProfile {
    /// The Kite user id.
    #[serde(default)]
    pub user_id: String,
    /// `individual`, ...
    #[serde(default)]
    pub user_type: Option<String>,
    /// The account's e-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// The account holder's name.
    #[serde(default)]
    pub user_name: String,
    /// The account holder's short name.
    #[serde(default)]
    pub user_shortname: String,
    /// `ZERODHA`.
    #[serde(default)]
    pub broker: Option<String>,
    /// Exchanges enabled (may include segments such as `MF`).
    #[serde(default)]
    pub exchanges: Vec<String>,
    /// Products enabled.
    #[serde(default)]
    pub products: Vec<String>,
    /// Order types enabled.
    #[serde(default)]
    pub order_types: Vec<String>,
}

/// Margins of one segment (`GET /user/margins/{segment}`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct SegmentMargins {
    /// Whether the segment is enabled.
    #[serde(default)]
    pub enabled: bool,
    /// Net cash balance available for trading.
    #[serde(default, serialize_with = "json_number")]
    pub net: Decimal,
    /// What is available.
    #[serde(default)]
    pub available: AvailableMargins,
    /// What is used.
    #[serde(default)]
    pub utilised: UtilisedMargins,
}

/// The `available` block of [`SegmentMargins`].
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct AvailableMargins {
    /// Additional margin given by the broker.
    #[serde(default, serialize_with = "json_number")]
    pub adhoc_margin: Decimal,
    /// Raw cash balance.
    #[serde(default, serialize_with = "json_number")]
    pub cash: Decimal,
    /// Opening balance of the day.
    #[serde(default, serialize_with = "json_number")]
    pub opening_balance: Decimal,
    /// Current balance.
    #[serde(default, serialize_with = "json_number")]
    pub live_balance: Decimal,
    /// Margin from pledged collateral.
    #[serde(default, serialize_with = "json_number")]
    pub collateral: Decimal,
    /// Cash paid in during the day.
    #[serde(default, serialize_with = "json_number")]
    pub intraday_payin: Decimal,
}

/// The `utilised` block of [`SegmentMargins`].
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct UtilisedMargins {
    /// Total margin used.
    #[serde(default, serialize_with = "json_number")]
    pub debits: Decimal,
    /// Exposure margin blocked.
    #[serde(default, serialize_with = "json_number")]
    pub exposure: Decimal,
    /// Booked intraday profit and loss.
    #[serde(default, serialize_with = "json_number")]
    pub m2m_realised: Decimal,
    /// Unbooked intraday profit and loss.
    #[serde(default, serialize_with = "json_number")]
    pub m2m_unrealised: Decimal,
    /// Option premium paid.
    #[serde(default, serialize_with = "json_number")]
    pub option_premium: Decimal,
    /// Funds paid out or withdrawn.
    #[serde(default, serialize_with = "json_number")]
    pub payout: Decimal,
    /// SPAN margin blocked.
    #[serde(default, serialize_with = "json_number")]
    pub span: Decimal,
    /// Value of holdings sold during the day.
    #[serde(default, serialize_with = "json_number")]
    pub holding_sales: Decimal,
    /// Utilised portion of the maximum turnover.
    #[serde(default, serialize_with = "json_number")]
    pub turnover: Decimal,
}

/// `GET /user/margins`: both segments.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct AllMargins {
    /// The equity segment.
    #[serde(default)]
    pub equity: Option<SegmentMargins>,
    /// The commodity segment.
    #[serde(default)]
    pub commodity: Option<SegmentMargins>,
}

/// The answer to place, modify and cancel: `{"order_id": …}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[non_exhaustive]
pub struct OrderIdResponse {
    /// The order's id.
    pub order_id: String,
}

/// One order, as in `GET /orders`, `GET /orders/{id}` (one per state) and postbacks.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct KiteOrder {
    /// The broker's order id.
    pub order_id: String,
    /// The exchange's order id, once it has one.
    #[serde(default)]
    pub exchange_order_id: Option<String>,
    /// The parent order (cover and iceberg legs).
    #[serde(default)]
    pub parent_order_id: Option<String>,
    /// Who placed it.
    #[serde(default)]
    pub placed_by: Option<String>,
    /// `OPEN`, `COMPLETE`, `CANCELLED`, `REJECTED`, `TRIGGER PENDING` or a transitional state.
    #[serde(default)]
    pub status: String,
    /// Why it was rejected or cancelled.
    #[serde(default)]
    pub status_message: Option<String>,
    /// The exchange's raw message.
    #[serde(default)]
    pub status_message_raw: Option<String>,
    /// When the broker received it (`YYYY-MM-DD HH:MM:SS`, IST).
    #[serde(default)]
    pub order_timestamp: Option<String>,
    /// When the exchange last updated it.
    #[serde(default)]
    pub exchange_update_timestamp: Option<String>,
    /// When the exchange received it.
    #[serde(default)]
    pub exchange_timestamp: Option<String>,
    /// `regular`, `amo`, `co`, `iceberg`, `auction`.
    #[serde(default)]
    pub variety: String,
    /// Whether it was modified.
    #[serde(default)]
    pub modified: Option<bool>,
    /// The exchange.
    #[serde(default)]
    pub exchange: String,
    /// The trading symbol.
    #[serde(default)]
    pub tradingsymbol: String,
    /// Kite's numeric instrument id.
    #[serde(default)]
    pub instrument_token: u64,
    /// `MARKET`, `LIMIT`, `SL`, `SL-M`.
    #[serde(default)]
    pub order_type: String,
    /// `BUY` or `SELL`.
    #[serde(default)]
    pub transaction_type: String,
    /// `DAY`, `IOC`, `TTL`.
    #[serde(default)]
    pub validity: String,
    /// Minutes of a `TTL` order.
    #[serde(default)]
    pub validity_ttl: Option<u32>,
    /// `CNC`, `MIS`, `NRML`, `MTF` (older orders: `CO`, `BO`).
    #[serde(default)]
    pub product: String,
    /// Ordered quantity.
    #[serde(default)]
    pub quantity: u32,
    /// Disclosed quantity.
    #[serde(default)]
    pub disclosed_quantity: u32,
    /// Limit price (0 for market orders).
    #[serde(default, serialize_with = "json_number")]
    pub price: Decimal,
    /// Trigger price (0 without a trigger).
    #[serde(default, serialize_with = "json_number")]
    pub trigger_price: Decimal,
    /// Average fill price (0 before any fill).
    #[serde(default, serialize_with = "json_number")]
    pub average_price: Decimal,
    /// Filled quantity.
    #[serde(default)]
    pub filled_quantity: u32,
    /// Quantity still open.
    #[serde(default)]
    pub pending_quantity: u32,
    /// Quantity cancelled.
    #[serde(default)]
    pub cancelled_quantity: u32,
    /// Market protection: 0 none, 1–100 percent, -1 automatic.
    #[serde(default, serialize_with = "json_number")]
    pub market_protection: Decimal,
    /// The tag it was placed with.
    #[serde(default)]
    pub tag: Option<String>,
    /// Tags Kite itself adds (such as `autoslice`).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// A request id.
    #[serde(default)]
    pub guid: Option<String>,
}

/// One fill (`GET /trades`, `GET /orders/{id}/trades`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct KiteTrade {
    /// The exchange's trade id.
    pub trade_id: String,
    /// The order that filled.
    pub order_id: String,
    /// The exchange's order id.
    #[serde(default)]
    pub exchange_order_id: Option<String>,
    /// The exchange.
    #[serde(default)]
    pub exchange: String,
    /// The trading symbol.
    #[serde(default)]
    pub tradingsymbol: String,
    /// Kite's numeric instrument id.
    #[serde(default)]
    pub instrument_token: u64,
    /// The order's product.
    #[serde(default)]
    pub product: String,
    /// Fill price.
    #[serde(default, serialize_with = "json_number")]
    pub average_price: Decimal,
    /// Filled quantity.
    #[serde(default)]
    pub quantity: u32,
    /// `BUY` or `SELL`.
    #[serde(default)]
    pub transaction_type: String,
    /// When it filled (`YYYY-MM-DD HH:MM:SS`, IST).
    #[serde(default)]
    pub fill_timestamp: Option<String>,
    /// When the order was placed (time of day only).
    #[serde(default)]
    pub order_timestamp: Option<String>,
    /// When the exchange recorded it.
    #[serde(default)]
    pub exchange_timestamp: Option<String>,
}

/// `GET /portfolio/positions`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct KitePositions {
    /// Net positions (overnight and the day together).
    #[serde(default)]
    pub net: Vec<KitePosition>,
    /// The day's positions only.
    #[serde(default)]
    pub day: Vec<KitePosition>,
}

/// One position.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct KitePosition {
    /// The trading symbol.
    #[serde(default)]
    pub tradingsymbol: String,
    /// The exchange.
    #[serde(default)]
    pub exchange: String,
    /// Kite's numeric instrument id.
    #[serde(default)]
    pub instrument_token: u64,
    /// The product.
    #[serde(default)]
    pub product: String,
    /// Net quantity (negative when short).
    #[serde(default)]
    pub quantity: i64,
    /// Quantity carried from earlier days.
    #[serde(default)]
    pub overnight_quantity: i64,
    /// Contract multiplier.
    #[serde(default, serialize_with = "json_number")]
    pub multiplier: Decimal,
    /// Average price of the open quantity.
    #[serde(default, serialize_with = "json_number")]
    pub average_price: Decimal,
    /// Previous close.
    #[serde(default, serialize_with = "json_number")]
    pub close_price: Decimal,
    /// Last traded price.
    #[serde(default, serialize_with = "json_number")]
    pub last_price: Decimal,
    /// Net value.
    #[serde(default, serialize_with = "json_number")]
    pub value: Decimal,
    /// Profit and loss.
    #[serde(default, serialize_with = "json_number")]
    pub pnl: Decimal,
    /// Mark-to-market profit and loss.
    #[serde(default, serialize_with = "json_number")]
    pub m2m: Decimal,
    /// Unrealised profit and loss.
    #[serde(default, serialize_with = "json_number")]
    pub unrealised: Decimal,
    /// Realised profit and loss.
    #[serde(default, serialize_with = "json_number")]
    pub realised: Decimal,
    /// Quantity bought.
    #[serde(default)]
    pub buy_quantity: u64,
    /// Average buy price.
    #[serde(default, serialize_with = "json_number")]
    pub buy_price: Decimal,
    /// Value bought.
    #[serde(default, serialize_with = "json_number")]
    pub buy_value: Decimal,
    /// Quantity sold.
    #[serde(default)]
    pub sell_quantity: u64,
    /// Average sell price.
    #[serde(default, serialize_with = "json_number")]
    pub sell_price: Decimal,
    /// Value sold.
    #[serde(default, serialize_with = "json_number")]
    pub sell_value: Decimal,
}

/// One holding (`GET /portfolio/holdings`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct KiteHolding {
    /// The trading symbol.
    #[serde(default)]
    pub tradingsymbol: String,
    /// The exchange.
    #[serde(default)]
    pub exchange: String,
    /// Kite's numeric instrument id.
    #[serde(default)]
    pub instrument_token: u64,
    /// The ISIN.
    #[serde(default)]
    pub isin: Option<String>,
    /// `CNC`.
    #[serde(default)]
    pub product: String,
    /// Settled quantity.
    #[serde(default)]
    pub quantity: u64,
    /// Bought, not yet settled (T+1).
    #[serde(default)]
    pub t1_quantity: u64,
    /// Quantity used (sold or pledged) today.
    #[serde(default)]
    pub used_quantity: u64,
    /// Average buy price.
    #[serde(default, serialize_with = "json_number")]
    pub average_price: Decimal,
    /// Last traded price.
    #[serde(default, serialize_with = "json_number")]
    pub last_price: Decimal,
    /// Previous close.
    #[serde(default, serialize_with = "json_number")]
    pub close_price: Decimal,
    /// Unrealised profit and loss.
    #[serde(default, serialize_with = "json_number")]
    pub pnl: Decimal,
}

/// Open, high, low and previous close.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct KiteOhlc {
    /// Opening price.
    #[serde(default, serialize_with = "json_number")]
    pub open: Decimal,
    /// Day's high.
    #[serde(default, serialize_with = "json_number")]
    pub high: Decimal,
    /// Day's low.
    #[serde(default, serialize_with = "json_number")]
    pub low: Decimal,
    /// Previous close.
    #[serde(default, serialize_with = "json_number")]
    pub close: Decimal,
}

/// One instrument of `GET /quote` (market depth is left out).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct KiteQuote {
    /// Kite's numeric instrument id.
    #[serde(default)]
    pub instrument_token: u64,
    /// When the quote was taken.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// When the last trade happened.
    #[serde(default)]
    pub last_trade_time: Option<String>,
    /// Last traded price.
    #[serde(default, serialize_with = "json_number")]
    pub last_price: Decimal,
    /// Last traded quantity.
    #[serde(default)]
    pub last_quantity: u64,
    /// The day's volume.
    #[serde(default)]
    pub volume: u64,
    /// Volume-weighted average price.
    #[serde(default, serialize_with = "json_number")]
    pub average_price: Decimal,
    /// Change from the previous close.
    #[serde(default, serialize_with = "json_number")]
    pub net_change: Decimal,
    /// Lower circuit limit.
    #[serde(default, serialize_with = "json_number")]
    pub lower_circuit_limit: Decimal,
    /// Upper circuit limit.
    #[serde(default, serialize_with = "json_number")]
    pub upper_circuit_limit: Decimal,
    /// The day's prices.
    #[serde(default)]
    pub ohlc: KiteOhlc,
}

/// One instrument of `GET /quote/ohlc`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct KiteOhlcQuote {
    /// Kite's numeric instrument id.
    #[serde(default)]
    pub instrument_token: u64,
    /// Last traded price.
    #[serde(default, serialize_with = "json_number")]
    pub last_price: Decimal,
    /// The day's prices.
    #[serde(default)]
    pub ohlc: KiteOhlc,
}

/// One instrument of `GET /quote/ltp`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct KiteLtp {
    /// Kite's numeric instrument id.
    #[serde(default)]
    pub instrument_token: u64,
    /// Last traded price.
    #[serde(default, serialize_with = "json_number")]
    pub last_price: Decimal,
}

/// Quotes keyed by `EXCHANGE:TRADINGSYMBOL`.
pub type QuoteMap<T> = HashMap<String, T>;

/// The form of `POST /orders/{variety}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct PlaceOrderParams {
    /// The exchange.
    pub exchange: String,
    /// The trading symbol.
    pub tradingsymbol: String,
    /// `BUY` or `SELL`.
    pub transaction_type: String,
    /// `MARKET`, `LIMIT`, `SL`, `SL-M`.
    pub order_type: String,
    /// Quantity.
    pub quantity: u32,
    /// `CNC`, `MIS`, `NRML`, `MTF`.
    pub product: String,
    /// `DAY`, `IOC`, `TTL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<String>,
    /// Minutes of a `TTL` order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_ttl: Option<u32>,
    /// Limit price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Decimal>,
    /// Trigger price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_price: Option<Decimal>,
    /// Disclosed quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosed_quantity: Option<u32>,
    /// Market protection: 1–100 percent, -1 automatic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_protection: Option<i32>,
    /// The caller's tag (at most 20 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The exchange-registered algorithm id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algo_id: Option<String>,
}

/// The form of `PUT /orders/{variety}/{order_id}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ModifyOrderParams {
    /// New order type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_type: Option<String>,
    /// New quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    /// New limit price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Decimal>,
    /// New trigger price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_price: Option<Decimal>,
    /// New validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<String>,
    /// New disclosed quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosed_quantity: Option<u32>,
}

/// The form of `PUT /portfolio/positions` (convert a position's product).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ConvertPositionParams {
    /// The exchange.
    pub exchange: String,
    /// The trading symbol.
    pub tradingsymbol: String,
    /// `BUY` or `SELL`.
    pub transaction_type: String,
    /// `day` or `overnight`.
    pub position_type: String,
    /// Quantity to convert.
    pub quantity: u32,
    /// The current product.
    pub old_product: String,
    /// The product to convert to.
    pub new_product: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_as_exact_json_numbers_and_read_from_numbers_or_strings() {
        let ltp = KiteLtp {
            instrument_token: 408_065,
            last_price: Decimal::new(141_295_000, 5),
        };
        let json = serde_json::to_string(&ltp).unwrap();
        assert_eq!(json, r#"{"instrument_token":408065,"last_price":1412.95}"#);
        let from_string: KiteLtp =
            serde_json::from_str(r#"{"instrument_token":1,"last_price":"1412.95"}"#).unwrap();
        assert_eq!(from_string.last_price, Decimal::new(141_295, 2));
    }

    #[test]
    fn session_debug_redacts_tokens() {
        let session: KiteSession = serde_json::from_str(
            r#"{"user_id":"AB1","access_token":"acc3ss","public_token":"pub1ic","refresh_token":"r3fresh"}"#,
        )
        .unwrap();
        let printed = format!("{session:?}");
        for secret in ["acc3ss", "pub1ic", "r3fresh"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}
