//! SmartAPI wire types: strict for what we send, lenient for what we read.
//!
//! Request bodies hold typed values and serialize every value as a string, as SmartAPI
//! documents them. Response types accept numbers as numbers or strings, booleans as `true` or
//! `"false"`, and `null`, `"null"` or `""` for nothing. The simulator (feature `sim`) reads
//! and writes the same types.
//!
//! Reference: <https://smartapi.angelbroking.com/docs> (Orders, User, Portfolio, Market Data).

use std::fmt;
use std::str::FromStr;

use broker_core::Exchange;
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::lenient;

/// Defines a SmartAPI enum: its wire spelling, `as_str`, `FromStr` and serde as that text.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The value as SmartAPI spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownWireValue;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                let text = text.trim();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str().eq_ignore_ascii_case(text))
                    .ok_or_else(|| UnknownWireValue {
                        field: stringify!($name),
                        value: text.to_owned(),
                    })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = lenient::string(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A SmartAPI value this crate does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {field} value {value:?}")]
pub struct UnknownWireValue {
    /// Which kind of value.
    pub field: &'static str,
    /// The text received.
    pub value: String,
}

wire_enum! {
    /// `variety`: the order's session and form.
    WireVariety {
        /// An ordinary order.
        Normal => "NORMAL",
        /// A stop-loss order.
        Stoploss => "STOPLOSS",
        /// An after-market order.
        Amo => "AMO",
        /// A bracket order.
        Robo => "ROBO",
    }
}

wire_enum! {
    /// `ordertype`.
    WireOrderType {
        /// At market.
        Market => "MARKET",
        /// At a limit price.
        Limit => "LIMIT",
        /// A stop-loss limit order.
        StoplossLimit => "STOPLOSS_LIMIT",
        /// A stop-loss market order.
        StoplossMarket => "STOPLOSS_MARKET",
    }
}

wire_enum! {
    /// `producttype`.
    WireProduct {
        /// Delivery (cash and carry).
        Delivery => "DELIVERY",
        /// Derivatives carried forward.
        Carryforward => "CARRYFORWARD",
        /// Margin trading facility.
        Margin => "MARGIN",
        /// Intraday.
        Intraday => "INTRADAY",
        /// Bracket order product.
        Bo => "BO",
    }
}

wire_enum! {
    /// `duration`.
    WireDuration {
        /// For the day.
        Day => "DAY",
        /// Immediate or cancel.
        Ioc => "IOC",
    }
}

wire_enum! {
    /// `transactiontype`.
    WireSide {
        /// Buy.
        Buy => "BUY",
        /// Sell.
        Sell => "SELL",
    }
}

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

/// Serializes any displayable value as a JSON string.
fn as_text<T: fmt::Display, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// Serializes an optional displayable value as a JSON string.
fn as_text_opt<T: fmt::Display, S: Serializer>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.collect_str(value),
        None => serializer.serialize_none(),
    }
}

/// Serializes a secret as a plain JSON string: only request bodies sent to the broker do this.
fn expose<S: Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

/// A whole quantity from `5` or `"5"`.
fn quantity<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let value = lenient::i64(deserializer)?;
    u32::try_from(value)
        .map_err(|_| serde::de::Error::custom(format!("quantity {value} out of range")))
}

/// An optional whole quantity from `5` or `"5"`.
fn quantity_opt<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    lenient::i64_opt(deserializer)?
        .map(|value| {
            u32::try_from(value)
                .map_err(|_| serde::de::Error::custom(format!("quantity {value} out of range")))
        })
        .transpose()
}

/// A decimal where absent means zero, written as a string.
fn decimal_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    lenient::decimal(deserializer)
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// `loginByPassword` body. `password` is the account's MPIN.
#[derive(Serialize)]
pub struct LoginBody<'a> {
    /// The client code.
    pub clientcode: &'a str,
    /// The MPIN.
    #[serde(serialize_with = "expose")]
    pub password: &'a SecretString,
    /// The current TOTP code.
    #[serde(serialize_with = "expose")]
    pub totp: &'a SecretString,
}

impl fmt::Debug for LoginBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginBody")
            .field("clientcode", &self.clientcode)
            .field("password", &broker_core::credentials::REDACTED)
            .field("totp", &broker_core::credentials::REDACTED)
            .finish()
    }
}

/// `generateTokens` body.
#[derive(Serialize)]
pub struct RefreshBody<'a> {
    /// The refresh token from login.
    #[serde(rename = "refreshToken", serialize_with = "expose")]
    pub refresh_token: &'a SecretString,
}

impl fmt::Debug for RefreshBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshBody")
            .field("refresh_token", &broker_core::credentials::REDACTED)
            .finish()
    }
}

/// `logout` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutBody {
    /// The client code.
    pub clientcode: String,
}

/// `placeOrder` body. Every value goes out as a JSON string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceOrderBody {
    /// NORMAL, STOPLOSS, AMO or ROBO.
    pub variety: WireVariety,
    /// The trading symbol (`SBIN-EQ`).
    #[serde(deserialize_with = "lenient::string")]
    pub tradingsymbol: String,
    /// The instrument's token (`3045`).
    #[serde(deserialize_with = "lenient::string")]
    pub symboltoken: String,
    /// BUY or SELL.
    pub transactiontype: WireSide,
    /// The exchange segment.
    pub exchange: Exchange,
    /// The order type.
    pub ordertype: WireOrderType,
    /// The product.
    pub producttype: WireProduct,
    /// DAY or IOC.
    pub duration: WireDuration,
    /// The limit price, `"0"` for market orders.
    #[serde(serialize_with = "as_text", deserialize_with = "decimal_text")]
    pub price: Decimal,
    /// Bracket orders' target distance, `"0"` otherwise.
    #[serde(serialize_with = "as_text", deserialize_with = "decimal_text", default)]
    pub squareoff: Decimal,
    /// Bracket orders' stop-loss distance, `"0"` otherwise.
    #[serde(serialize_with = "as_text", deserialize_with = "decimal_text", default)]
    pub stoploss: Decimal,
    /// The quantity.
    #[serde(serialize_with = "as_text", deserialize_with = "quantity")]
    pub quantity: u32,
    /// The trigger price of stop-loss orders.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "as_text_opt",
        deserialize_with = "lenient::decimal_opt"
    )]
    pub triggerprice: Option<Decimal>,
    /// The quantity shown to the market.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "as_text_opt",
        deserialize_with = "quantity_opt"
    )]
    pub disclosedquantity: Option<u32>,
    /// A tag of at most 20 characters.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::string_opt"
    )]
    pub ordertag: Option<String>,
}

/// `modifyOrder` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifyOrderBody {
    /// The order's variety.
    pub variety: WireVariety,
    /// The broker's order id.
    #[serde(deserialize_with = "lenient::string")]
    pub orderid: String,
    /// The new order type.
    pub ordertype: WireOrderType,
    /// The product.
    pub producttype: WireProduct,
    /// DAY or IOC.
    pub duration: WireDuration,
    /// The new limit price, `"0"` for market orders.
    #[serde(serialize_with = "as_text", deserialize_with = "decimal_text")]
    pub price: Decimal,
    /// The new quantity.
    #[serde(serialize_with = "as_text", deserialize_with = "quantity")]
    pub quantity: u32,
    /// The trading symbol.
    #[serde(deserialize_with = "lenient::string")]
    pub tradingsymbol: String,
    /// The instrument's token.
    #[serde(deserialize_with = "lenient::string")]
    pub symboltoken: String,
    /// The exchange segment.
    pub exchange: Exchange,
    /// The new trigger price of stop-loss orders.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "as_text_opt",
        deserialize_with = "lenient::decimal_opt"
    )]
    pub triggerprice: Option<Decimal>,
}

/// `cancelOrder` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelOrderBody {
    /// The order's variety.
    pub variety: WireVariety,
    /// The broker's order id.
    #[serde(deserialize_with = "lenient::string")]
    pub orderid: String,
}

/// `getLtpData` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LtpBody {
    /// The exchange segment.
    pub exchange: Exchange,
    /// The trading symbol.
    #[serde(deserialize_with = "lenient::string")]
    pub tradingsymbol: String,
    /// The instrument's token.
    #[serde(deserialize_with = "lenient::string")]
    pub symboltoken: String,
}

/// `market/v1/quote` body: tokens grouped by exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteBody {
    /// How much to return.
    pub mode: QuoteMode,
    /// Tokens by exchange code (`{"NSE": ["3045"]}`).
    #[serde(rename = "exchangeTokens")]
    pub exchange_tokens: std::collections::BTreeMap<Exchange, Vec<String>>,
}

/// `convertPosition` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvertPositionBody {
    /// The exchange segment.
    pub exchange: Exchange,
    /// The product the position has now.
    pub oldproducttype: WireProduct,
    /// The product to convert it to.
    pub newproducttype: WireProduct,
    /// The trading symbol.
    #[serde(deserialize_with = "lenient::string")]
    pub tradingsymbol: String,
    /// BUY or SELL side of the position.
    pub transactiontype: WireSide,
    /// The quantity to convert.
    #[serde(serialize_with = "as_text", deserialize_with = "quantity")]
    pub quantity: u32,
    /// `DAY` (today's position) or `DELIVERY` (carried).
    #[serde(rename = "type", deserialize_with = "lenient::string")]
    pub conversion_type: String,
}

/// `searchScrip` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchScripBody {
    /// The exchange segment.
    pub exchange: Exchange,
    /// Text to look for in trading symbols.
    #[serde(deserialize_with = "lenient::string")]
    pub searchscrip: String,
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// `data` of login and `generateTokens`.
#[derive(Deserialize)]
pub struct TokenData {
    /// The session's bearer token.
    #[serde(rename = "jwtToken")]
    pub jwt_token: SecretString,
    /// The token that renews the session.
    #[serde(rename = "refreshToken")]
    pub refresh_token: SecretString,
    /// The market-data feed token.
    #[serde(rename = "feedToken", default = "empty_secret")]
    pub feed_token: SecretString,
}

fn empty_secret() -> SecretString {
    SecretString::from(String::new())
}

impl fmt::Debug for TokenData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = broker_core::credentials::REDACTED;
        f.debug_struct("TokenData")
            .field("jwt_token", &redacted)
            .field("refresh_token", &redacted)
            .field("feed_token", &redacted)
            .finish()
    }
}

/// `data` of `getProfile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileData {
    /// The client code.
    #[serde(deserialize_with = "lenient::string")]
    pub clientcode: String,
    /// The account holder's name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: String,
    /// The e-mail address.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub email: Option<String>,
    /// Exchanges enabled for the account (`["NSE", "BSE"]`).
    #[serde(default, deserialize_with = "string_list")]
    pub exchanges: Vec<String>,
    /// Products enabled for the account.
    #[serde(default, deserialize_with = "string_list")]
    pub products: Vec<String>,
}

/// A list of strings, also accepting `null` and SmartAPI's occasional `"[NSE, BSE]"` text.
fn string_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrText {
        List(Vec<String>),
        Text(String),
        Nothing(()),
    }
    Ok(match ListOrText::deserialize(deserializer)? {
        ListOrText::List(list) => list,
        ListOrText::Text(text) => text
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .map(|item| item.trim().trim_matches('"').to_owned())
            .filter(|item| !item.is_empty())
            .collect(),
        ListOrText::Nothing(()) => Vec::new(),
    })
}

/// `data` of `getRMS`: funds and margins, all amounts as strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RmsData {
    /// Margin available for new orders.
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub net: Decimal,
    /// Cash available.
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub availablecash: Decimal,
    /// Funds added today.
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub availableintradaypayin: Decimal,
    /// Limit margin available.
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub availablelimitmargin: Decimal,
    /// Collateral value.
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub collateral: Decimal,
    /// Margin used.
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub utiliseddebits: Decimal,
}

/// `data` of place, modify and cancel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAck {
    /// The script traded (place only).
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub script: Option<String>,
    /// The broker's order id.
    #[serde(deserialize_with = "lenient::string")]
    pub orderid: String,
    /// The order's unique id (used by the order-details call).
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub uniqueorderid: Option<String>,
}

/// One order of the order book (also the `data` of order details).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireOrder {
    /// The broker's order id.
    #[serde(deserialize_with = "lenient::string")]
    pub orderid: String,
    /// The order's unique id.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub uniqueorderid: Option<String>,
    /// The exchange's order id, once known.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub exchangeorderid: Option<String>,
    /// The variety.
    #[serde(deserialize_with = "lenient::string")]
    pub variety: String,
    /// The order type.
    #[serde(deserialize_with = "lenient::string")]
    pub ordertype: String,
    /// The product.
    #[serde(deserialize_with = "lenient::string")]
    pub producttype: String,
    /// DAY or IOC.
    #[serde(default, deserialize_with = "lenient::string")]
    pub duration: String,
    /// The limit price.
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub price: Decimal,
    /// The trigger price.
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub triggerprice: Decimal,
    /// The ordered quantity.
    #[serde(deserialize_with = "quantity")]
    pub quantity: u32,
    /// The disclosed quantity.
    #[serde(default, deserialize_with = "quantity")]
    pub disclosedquantity: u32,
    /// The trading symbol.
    #[serde(deserialize_with = "lenient::string")]
    pub tradingsymbol: String,
    /// BUY or SELL.
    #[serde(deserialize_with = "lenient::string")]
    pub transactiontype: String,
    /// The exchange segment.
    #[serde(deserialize_with = "lenient::string")]
    pub exchange: String,
    /// The instrument's token.
    #[serde(default, deserialize_with = "lenient::string")]
    pub symboltoken: String,
    /// The tag it was placed with.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub ordertag: Option<String>,
    /// Average fill price.
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub averageprice: Decimal,
    /// Quantity filled.
    #[serde(default, deserialize_with = "quantity")]
    pub filledshares: u32,
    /// Quantity not filled.
    #[serde(default, deserialize_with = "quantity")]
    pub unfilledshares: u32,
    /// Status text (`open`, `complete`, `rejected`, `trigger pending`, ...).
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: String,
    /// Same as `status` in most responses.
    #[serde(default, deserialize_with = "lenient::string")]
    pub orderstatus: String,
    /// Why the order was rejected or cancelled.
    #[serde(default, deserialize_with = "lenient::string")]
    pub text: String,
    /// Last update time (`28-Nov-2026 09:15:02`, IST).
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub updatetime: Option<String>,
}

/// One fill of the trade book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireTrade {
    /// The exchange segment.
    #[serde(deserialize_with = "lenient::string")]
    pub exchange: String,
    /// The product.
    #[serde(deserialize_with = "lenient::string")]
    pub producttype: String,
    /// The trading symbol.
    #[serde(deserialize_with = "lenient::string")]
    pub tradingsymbol: String,
    /// BUY or SELL.
    #[serde(deserialize_with = "lenient::string")]
    pub transactiontype: String,
    /// Fill price.
    #[serde(deserialize_with = "lenient::decimal")]
    pub fillprice: Decimal,
    /// Fill quantity.
    #[serde(deserialize_with = "quantity")]
    pub fillsize: u32,
    /// The order that filled.
    #[serde(deserialize_with = "lenient::string")]
    pub orderid: String,
    /// The fill's id.
    #[serde(deserialize_with = "lenient::string")]
    pub fillid: String,
    /// Fill time of day (`09:15:02`, IST).
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub filltime: Option<String>,
}

/// One net position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WirePosition {
    /// The exchange segment.
    #[serde(deserialize_with = "lenient::string")]
    pub exchange: String,
    /// The instrument's token.
    #[serde(default, deserialize_with = "lenient::string")]
    pub symboltoken: String,
    /// The product.
    #[serde(deserialize_with = "lenient::string")]
    pub producttype: String,
    /// The trading symbol.
    #[serde(deserialize_with = "lenient::string")]
    pub tradingsymbol: String,
    /// Quantity bought.
    #[serde(default, deserialize_with = "lenient::i64")]
    pub buyqty: i64,
    /// Quantity sold.
    #[serde(default, deserialize_with = "lenient::i64")]
    pub sellqty: i64,
    /// Value bought.
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub buyamount: Decimal,
    /// Value sold.
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub sellamount: Decimal,
    /// Net quantity.
    #[serde(default, deserialize_with = "lenient::i64")]
    pub netqty: i64,
    /// Average price of the net quantity.
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub avgnetprice: Decimal,
    /// Last traded price.
    #[serde(default, deserialize_with = "lenient::decimal_opt")]
    pub ltp: Option<Decimal>,
    /// Profit and loss.
    #[serde(default, deserialize_with = "lenient::decimal_opt")]
    pub pnl: Option<Decimal>,
}

/// One holding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireHolding {
    /// The trading symbol.
    #[serde(deserialize_with = "lenient::string")]
    pub tradingsymbol: String,
    /// The exchange segment.
    #[serde(deserialize_with = "lenient::string")]
    pub exchange: String,
    /// The ISIN.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub isin: Option<String>,
    /// The instrument's token.
    #[serde(default, deserialize_with = "lenient::string")]
    pub symboltoken: String,
    /// Quantity held.
    #[serde(default, deserialize_with = "lenient::i64")]
    pub quantity: i64,
    /// Average buy price.
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub averageprice: Decimal,
    /// Last traded price.
    #[serde(default, deserialize_with = "lenient::decimal_opt")]
    pub ltp: Option<Decimal>,
    /// Unrealised profit and loss.
    #[serde(default, deserialize_with = "lenient::decimal_opt")]
    pub profitandloss: Option<Decimal>,
}

/// `data` of `getLtpData`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LtpData {
    /// The exchange segment.
    #[serde(deserialize_with = "lenient::string")]
    pub exchange: String,
    /// The trading symbol.
    #[serde(deserialize_with = "lenient::string")]
    pub tradingsymbol: String,
    /// The instrument's token.
    #[serde(deserialize_with = "lenient::string")]
    pub symboltoken: String,
    /// Last traded price.
    #[serde(deserialize_with = "lenient::decimal")]
    pub ltp: Decimal,
    /// Day's open.
    #[serde(default, deserialize_with = "lenient::decimal_opt")]
    pub open: Option<Decimal>,
    /// Day's high.
    #[serde(default, deserialize_with = "lenient::decimal_opt")]
    pub high: Option<Decimal>,
    /// Day's low.
    #[serde(default, deserialize_with = "lenient::decimal_opt")]
    pub low: Option<Decimal>,
    /// Previous close.
    #[serde(default, deserialize_with = "lenient::decimal_opt")]
    pub close: Option<Decimal>,
}

/// `data` of `market/v1/quote`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QuoteData {
    /// Quotes found.
    #[serde(default)]
    pub fetched: Vec<WireQuote>,
    /// Tokens the broker did not know.
    #[serde(default)]
    pub unfetched: Vec<serde_json::Value>,
}

/// One quote of `data.fetched[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireQuote {
    /// The exchange segment.
    #[serde(deserialize_with = "lenient::string")]
    pub exchange: String,
    /// The trading symbol.
    #[serde(rename = "tradingSymbol", deserialize_with = "lenient::string")]
    pub trading_symbol: String,
    /// The instrument's token.
    #[serde(rename = "symbolToken", deserialize_with = "lenient::string")]
    pub symbol_token: String,
    /// Last traded price.
    #[serde(deserialize_with = "lenient::decimal")]
    pub ltp: Decimal,
    /// Day's open (OHLC and FULL modes).
    #[serde(default, deserialize_with = "lenient::decimal_opt")]
    pub open: Option<Decimal>,
    /// Day's high.
    #[serde(default, deserialize_with = "lenient::decimal_opt")]
    pub high: Option<Decimal>,
    /// Day's low.
    #[serde(default, deserialize_with = "lenient::decimal_opt")]
    pub low: Option<Decimal>,
    /// Previous close.
    #[serde(default, deserialize_with = "lenient::decimal_opt")]
    pub close: Option<Decimal>,
    /// Day's volume (FULL mode).
    #[serde(rename = "tradeVolume", default, deserialize_with = "lenient::i64_opt")]
    pub trade_volume: Option<i64>,
    /// Last trade time (`28-Nov-2026 09:15:02`, FULL mode).
    #[serde(
        rename = "exchTradeTime",
        default,
        deserialize_with = "lenient::string_opt"
    )]
    pub exch_trade_time: Option<String>,
}

/// One match of `searchScrip`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScripMatch {
    /// The exchange segment.
    #[serde(deserialize_with = "lenient::string")]
    pub exchange: String,
    /// The trading symbol.
    #[serde(deserialize_with = "lenient::string")]
    pub tradingsymbol: String,
    /// The instrument's token.
    #[serde(deserialize_with = "lenient::string")]
    pub symboltoken: String,
}

// ---------------------------------------------------------------------------------------------
// Envelope
// ---------------------------------------------------------------------------------------------

/// The envelope around every JSON answer, in either of its two shapes:
/// backend `{"status", "message", "errorcode", "data"}` or gateway
/// `{"success", "message", "errorCode", "data"}`.
#[derive(Debug, Deserialize)]
pub(crate) struct RawEnvelope {
    #[serde(default, deserialize_with = "lenient::bool_opt")]
    status: Option<bool>,
    #[serde(default, deserialize_with = "lenient::bool_opt")]
    success: Option<bool>,
    #[serde(default, deserialize_with = "lenient::string")]
    message: String,
    #[serde(default, deserialize_with = "lenient::string_opt")]
    errorcode: Option<String>,
    #[serde(
        rename = "errorCode",
        default,
        deserialize_with = "lenient::string_opt"
    )]
    error_code: Option<String>,
    #[serde(default)]
    data: serde_json::Value,
}

/// What an envelope said.
#[derive(Debug, PartialEq)]
pub(crate) enum Envelope {
    /// Success, with `data` unless it was `null`, `"null"` or `""`.
    Success(Option<serde_json::Value>),
    /// Failure, with the broker's code (when it gave one) and message.
    Failure {
        code: Option<String>,
        message: String,
    },
}

impl From<RawEnvelope> for Envelope {
    fn from(raw: RawEnvelope) -> Self {
        let succeeded = raw.status.or(raw.success).unwrap_or(false);
        let code = raw.errorcode.or(raw.error_code);
        if succeeded && code.is_none() {
            let data = match raw.data {
                serde_json::Value::Null => None,
                serde_json::Value::String(text) if lenient::is_absent(&text) => None,
                data => Some(data),
            };
            Envelope::Success(data)
        } else {
            Envelope::Failure {
                code,
                message: raw.message,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn envelope(json: &str) -> Envelope {
        serde_json::from_str::<RawEnvelope>(json).unwrap().into()
    }

    #[test]
    fn backend_and_gateway_failures_both_yield_their_code() {
        assert_eq!(
            envelope(
                r#"{"status":false,"message":"Invalid totp","errorcode":"AB1050","data":null}"#
            ),
            Envelope::Failure {
                code: Some("AB1050".into()),
                message: "Invalid totp".into()
            }
        );
        assert_eq!(
            envelope(
                r#"{"success":false,"message":"Invalid Token","errorCode":"AG8001","data":""}"#
            ),
            Envelope::Failure {
                code: Some("AG8001".into()),
                message: "Invalid Token".into()
            }
        );
        assert_eq!(
            envelope(r#"{"status":"false","message":"x","errorcode":"AB2001","data":"null"}"#),
            Envelope::Failure {
                code: Some("AB2001".into()),
                message: "x".into()
            }
        );
    }

    #[test]
    fn success_data_spelled_as_nothing_is_none() {
        for data in ["null", r#""null""#, r#""""#] {
            let json =
                format!(r#"{{"status":true,"message":"SUCCESS","errorcode":"","data":{data}}}"#);
            assert_eq!(envelope(&json), Envelope::Success(None), "{json}");
        }
        assert_eq!(
            envelope(r#"{"status":"true","message":"SUCCESS","errorcode":"","data":{"a":1}}"#),
            Envelope::Success(Some(serde_json::json!({"a": 1})))
        );
    }

    #[test]
    fn place_order_body_sends_every_value_as_a_string() {
        let body = PlaceOrderBody {
            variety: WireVariety::Stoploss,
            tradingsymbol: "SBIN-EQ".into(),
            symboltoken: "3045".into(),
            transactiontype: WireSide::Buy,
            exchange: Exchange::Nse,
            ordertype: WireOrderType::StoplossLimit,
            producttype: WireProduct::Intraday,
            duration: WireDuration::Day,
            price: dec!(801.05),
            squareoff: Decimal::ZERO,
            stoploss: Decimal::ZERO,
            quantity: 10,
            triggerprice: Some(dec!(800)),
            disclosedquantity: None,
            ordertag: Some("run42".into()),
        };
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "variety": "STOPLOSS", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045",
                "transactiontype": "BUY", "exchange": "NSE", "ordertype": "STOPLOSS_LIMIT",
                "producttype": "INTRADAY", "duration": "DAY", "price": "801.05",
                "squareoff": "0", "stoploss": "0", "quantity": "10", "triggerprice": "800",
                "ordertag": "run42"
            })
        );
        let back: PlaceOrderBody = serde_json::from_value(json).unwrap();
        assert_eq!(back, body);
    }

    #[test]
    fn order_book_rows_accept_numbers_or_strings() {
        let text = include_str!("../../test_data/order_book.json");
        let raw: RawEnvelope = serde_json::from_str(text).unwrap();
        let Envelope::Success(Some(data)) = Envelope::from(raw) else {
            panic!("fixture should be a success");
        };
        let orders: Vec<WireOrder> = serde_json::from_value(data).unwrap();
        assert_eq!(orders.len(), 2);
        assert_eq!(orders[0].price, dec!(194));
        assert_eq!(orders[0].quantity, 1);
        assert_eq!(orders[1].text, "Adapter is Logged Off");
    }

    #[test]
    fn wire_enums_parse_case_insensitively_and_name_unknown_values() {
        assert_eq!("stoploss_limit".parse(), Ok(WireOrderType::StoplossLimit));
        let error = "ICEBERG".parse::<WireVariety>().unwrap_err();
        assert!(error.to_string().contains("ICEBERG"));
    }

    #[test]
    fn secret_holding_bodies_and_tokens_debug_redacted() {
        let mpin = SecretString::from("4321");
        let totp = SecretString::from("123456");
        let body = LoginBody {
            clientcode: "A123",
            password: &mpin,
            totp: &totp,
        };
        let printed = format!("{body:?}");
        assert!(
            !printed.contains("4321") && !printed.contains("123456"),
            "{printed}"
        );
        let tokens: TokenData = serde_json::from_str(
            r#"{"jwtToken":"eyJsecret","refreshToken":"refSECRET","feedToken":"feedSECRET"}"#,
        )
        .unwrap();
        let printed = format!("{tokens:?}");
        assert!(
            !printed.contains("SECRET") && !printed.contains("eyJ"),
            "{printed}"
        );
    }
}
